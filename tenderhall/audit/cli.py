"""``tenderhall audit``: verify the whole log, sign a tree head now."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True)


def _settings():  # type: ignore[no-untyped-def]
    from tenderhall.cli import load_settings

    return load_settings()


def _key_id(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@click.group(name="audit")
def group() -> None:
    """Audit log: verify the hash chain and tree heads, sign tree heads."""


@group.command()
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an extra PEM public key that may have signed older heads (repeatable)",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    metavar="HEAD_FILE_OR_URL",
    help="a tree head obtained elsewhere (a JSON file, or an http(s) URL answering with the public "
    "tree-head JSON): the log's first tree_size events must reproduce its root (repeatable)",
)
@click.option(
    "--key",
    "anchor_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the platform public key or certificate (PEM) that --against heads must verify with "
    "(default: the platform key in KEY_DIR)",
)
@click.option(
    "--tsa-ca",
    "tsa_ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate(s) of the timestamping authority: every head's RFC 3161 token must be "
    "signed by it (default: TSA_CA_FILE; without either, tokens are checked against their heads only)",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def verify(
    public_keys: tuple[Path, ...],
    against: tuple[str, ...],
    anchor_key: Path | None,
    tsa_ca: Path | None,
    quiet: bool,
) -> None:
    """Recompute every event hash and every stored tree head; name the first event that was
    altered, removed or inserted; check that heads were signed on schedule, that no event is
    backdated before a head, and that the log matches heads obtained elsewhere (--against).
    Exit code 1 on any problem."""
    import datetime as dt

    from tenderhall.audit.anchors import AnchorError, anchor_from_json
    from tenderhall.audit.models import AuditEvent
    from tenderhall.audit.verification import verify_log
    from tenderhall.db import Database
    from tenderhall.signing import platform_signer

    settings = _settings()
    signer = platform_signer(settings)
    keys = {signer.key_id: signer.public_key_pem}
    for path in public_keys:
        pem = path.read_text()
        keys[_key_id(pem)] = pem
    anchor_pem = _public_key_pem(anchor_key.read_text()) if anchor_key else signer.public_key_pem
    try:
        anchors = [anchor_from_json(_fetch(source), anchor_pem, source) for source in against]
    except AnchorError as exc:
        raise click.ClickException(f"{exc.en}\n{exc.zh}") from exc
    from tenderhall.audit.timestamping import load_roots

    tsa_ca = tsa_ca or settings.tsa_ca_file
    try:
        tsa_roots = load_roots(tsa_ca.read_bytes()) if tsa_ca else None
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"Cannot read the TSA certificate file {tsa_ca}: {type(exc).__name__}\n"
            f"无法读取 TSA 证书文件 {tsa_ca}：{type(exc).__name__}"
        ) from exc
    grace = dt.timedelta(
        seconds=settings.jobs.tree_head_interval_seconds * settings.jobs.tree_head_grace_intervals
    )
    db = Database(settings.database_url)
    try:
        with db.sync_sessions() as session:
            total = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
            with Progress(
                TextColumn("verifying audit log"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                disable=quiet,
                transient=True,
            ) as progress:
                task = progress.add_task("events", total=total)
                report = verify_log(
                    session,
                    keys,
                    progress=lambda n: progress.advance(task, n),
                    grace=grace,
                    anchors=anchors,
                    tsa_roots=tsa_roots,
                )
            session.rollback()
    finally:
        db.dispose()
    if report.ok:
        anchored = ""
        if report.anchors:
            n = report.anchors_checked
            anchored = f"; matches {n} head{'' if n == 1 else 's'} obtained elsewhere / 与外部树头一致"
        stamped = f", {report.heads_timestamped} timestamped (RFC 3161)" if report.heads_timestamped else ""
        click.echo(
            f"audit log OK: {report.events} events, {report.heads_checked} of {report.heads} tree heads "
            f"verified{stamped}{anchored} / 审计日志完好"
        )
        return
    first = report.first
    assert first is not None
    click.echo(f"FIRST PROBLEM [{first.kind}]: {first.en}", err=True)
    click.echo(f"首个问题：{first.zh}", err=True)
    for p in report.problems[1:]:
        click.echo(f"also [{p.kind}]: {p.en}", err=True)
    sys.exit(1)


def _public_key_pem(pem: str) -> str:
    """The public key of a PEM public key or certificate."""
    from cryptography import x509

    if "BEGIN CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    serialization.load_pem_public_key(pem.encode())  # refuses what is not a public key
    return pem


def _fetch(source: str) -> str:
    """A head's JSON from a file or an http(s) URL."""
    from tenderhall.audit.anchors import AnchorError

    if source.startswith(("http://", "https://")):
        import httpx

        try:
            r = httpx.get(source, timeout=30, follow_redirects=True)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise AnchorError(
                f"无法获取树头 {source}：{exc}", f"Could not fetch the tree head {source}: {exc}"
            ) from exc
        return r.text
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(
            f"无法读取树头文件 {source}：{exc}", f"Could not read the tree head file {source}: {exc}"
        ) from exc


@group.command()
def head() -> None:
    """Sign a tree head now (if the log grew since the latest one)."""
    from tenderhall.audit.service import latest_tree_head, sign_tree_head
    from tenderhall.db import Database
    from tenderhall.signing import platform_signer

    settings = _settings()
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as session:
            new = sign_tree_head(session, platform_signer(settings))
            current = new or latest_tree_head(session)
            if current is None:
                click.echo("the audit log is empty: no tree head to sign / 审计日志为空")
                return
            state = "signed" if new else "unchanged (no new events)"
            click.echo(f"tree head {state}: size {current.tree_size}, root {current.root_hash}")
    finally:
        db.dispose()
