"""``tenderhall pki``: the development CA, certificates as PKCS#12, the trust store and CRLs."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import click
from sqlalchemy.orm import Session

from tenderhall.auth.principal import Principal
from tenderhall.errors import AppError
from tenderhall.pki.devca import KINDS, DevCA, DevCAError, KeyType, Kind


def _settings() -> Any:
    from tenderhall.cli import load_settings

    return load_settings()


def cli_actor() -> Principal:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        who = "unknown"
    return Principal.system(f"cli:{who}")


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One CLI command = one transaction on the configured database; errors print one line."""
    from tenderhall.db import Database

    db = Database(_settings().database_url)
    try:
        with db.unit_of_work() as s:
            yield s
    except AppError as exc:
        click.echo(f"refused: {exc.zh} / {exc.en}", err=True)
        sys.exit(1)
    finally:
        db.dispose()


def _devca(folder: Path | None) -> DevCA:
    return DevCA(folder or _settings().key_dir / "devca")


@click.group(name="pki")
def group() -> None:
    """Development CA, certificates (PKCS#12), CA trust store and CRLs."""


@group.command("init-ca")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=None,
    help="folder of the development CA (default: TENDERHALL_KEY_DIR/devca)",
)
@click.option("--name", default="TenderHall Development Root CA", show_default=True)
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa", show_default=True)
@click.option("--trust/--no-trust", default=True, show_default=True, help="add it to the trust store")
def init_ca(folder: Path | None, name: str, key_type: str, trust: bool) -> None:
    """Create a development root CA (kept as it is when it exists) and trust it."""
    ca = _devca(folder)
    existed = ca.exists()
    cert = ca.init(name, key_type=key_type)  # type: ignore[arg-type]
    click.echo(f"{'existing' if existed else 'new'} development CA: {cert.subject.rfc4514_string()}")
    click.echo(f"  certificate: {ca.cert_path}")
    if trust:
        from tenderhall.pki.truststore import import_ca

        with unit_of_work() as s:
            row = import_ca(s, cli_actor(), ca.cert_path.read_bytes(), name)
            click.echo(f"  trusted as CA #{row.id} (SHA-256 {row.fingerprint})")


@group.command("issue")
@click.option("--kind", type=click.Choice(list(KINDS)), required=True)
@click.option("--name", required=True, help="company name (bidders) or person's name")
@click.option(
    "--credit-code", default=None, help="company's unified social credit code (required for bidders)"
)
@click.option("--organisation", default=None, help="organisation name for staff and custodian certificates")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PKCS#12 file to write")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="PKCS#12 password")
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa", show_default=True)
@click.option("--days", default=365, show_default=True)
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None)
def issue(
    kind: str,
    name: str,
    credit_code: str | None,
    organisation: str | None,
    out: Path,
    password: str,
    key_type: str,
    days: int,
    folder: Path | None,
) -> None:
    """Issue a certificate from the development CA as a password-protected PKCS#12 file."""
    try:
        issued = _devca(folder).issue(
            cast(Kind, kind),
            name=name,
            credit_code=credit_code,
            organisation=organisation,
            out=out,
            password=password,
            key_type=cast(KeyType, key_type),
            days=days,
        )
    except (DevCAError, AppError) as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{kind} certificate serial {issued.serial} -> {out}")


@group.command("import-ca")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="display name (default: the certificate's CN)")
def import_ca_cmd(file: Path, name: str | None) -> None:
    """Trust a CA certificate (PEM or DER): CA mutual recognition."""
    from tenderhall.pki.truststore import import_ca

    with unit_of_work() as s:
        row = import_ca(s, cli_actor(), file.read_bytes(), name)
        click.echo(f"trusted CA #{row.id}: {row.name} (SHA-256 {row.fingerprint})")


@group.command("set-ocsp")
@click.argument("ca_id", type=int)
@click.option("--url", default=None, help="OCSP responder the platform asks for this CA (omit: none)")
@click.option(
    "--aia/--no-aia",
    default=False,
    show_default=True,
    help="without --url, ask the responder named in each certificate's AIA extension",
)
def set_ocsp_cmd(ca_id: int, url: str | None, aia: bool) -> None:
    """Configure OCSP for the certificates trusted CA #CA_ID issues."""
    from tenderhall.pki.truststore import set_ocsp

    with unit_of_work() as s:
        row = set_ocsp(s, cli_actor(), ca_id, url, use_aia=aia)
        aia_note = " (AIA allowed)" if row.ocsp_use_aia else ""
        click.echo(f"CA #{row.id} {row.name}: OCSP {row.ocsp_url or 'none'}{aia_note}")


@group.command("import-crl")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_crl_cmd(file: Path) -> None:
    """Import a CRL (PEM or DER) signed by a trusted CA."""
    from tenderhall.pki.truststore import import_crl

    with unit_of_work() as s:
        imp = import_crl(s, cli_actor(), file.read_bytes())
        click.echo(
            f"CRL imported for CA #{imp.ca_id} (number {imp.crl_number}, "
            f"this update {imp.this_update:%Y-%m-%d %H:%M} UTC)"
        )


@group.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    default="key_compromise",
    show_default=True,
    type=click.Choice(
        ["unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation"]
    ),
)
@click.option(
    "--publish/--no-publish",
    default=True,
    show_default=True,
    help="sign a new CRL and import it into the trust store at once",
)
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None)
def revoke(serial: str, reason: str, publish: bool, folder: Path | None) -> None:
    """Revoke a certificate issued by the development CA (SERIAL in hex)."""
    ca = _devca(folder)
    try:
        ca.revoke(serial, reason=reason)
    except DevCAError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {serial.lower()}")
    if publish:
        from tenderhall.pki.truststore import import_crl

        with unit_of_work() as s:
            imp = import_crl(s, cli_actor(), ca.crl())
            click.echo(f"new CRL number {imp.crl_number} imported")


@group.command("crl")
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--days", default=7, show_default=True, help="days until the next update")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None)
def crl(out: Path, days: int, folder: Path | None) -> None:
    """Write a signed CRL of the development CA."""
    try:
        data = _devca(folder).crl(days=days)
    except DevCAError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    out.write_bytes(data)
    click.echo(f"CRL written to {out}")


@group.command("list")
def list_cas() -> None:
    """The trust store: every CA, its revoked count and latest CRL."""
    from tenderhall.pki.truststore import overview

    with unit_of_work() as s:
        for ca, revoked, last in overview(s):
            state = "trusted" if ca.active else "disabled"
            crl_at = f"{last.this_update:%Y-%m-%d %H:%M} UTC" if last else "none"
            ocsp = ca.ocsp_url or ("AIA" if ca.ocsp_use_aia else "none")
            click.echo(
                f"#{ca.id} [{state}] {ca.name} · until {ca.not_after:%Y-%m-%d} · "
                f"revoked {revoked} · CRL {crl_at} · OCSP {ocsp}"
            )
            click.echo(f"    {ca.subject}")
            click.echo(f"    SHA-256 {ca.fingerprint}")
