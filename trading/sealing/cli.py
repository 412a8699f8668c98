"""``tenderhall bid seal``: seal a bid folder on the bidder's computer (merged into the kernel's
``bid`` group, beside ``bid agent``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tenderhall.agent.cli import P12_PASSWORD_ENV, PIN_ENV, read_secret
from trading.bids.receipt_cli import receipt_group

group = click.Group(name="bid", help="The bidder's tools (run on the bidder's own computer).")
group.add_command(receipt_group)


def open_key(p12: Path | None, module: str | None, token_label: str | None, key_label: str | None, what: str):  # type: ignore[no-untyped-def]
    """A key from a PKCS#12 file or a token (UKey); ``what`` names it in prompts."""
    from tenderhall.agent.keys import P12Key, Pkcs11Key

    if bool(p12) == bool(module):
        raise click.UsageError(
            f"{what}: give a PKCS#12 file or a PKCS#11 module (请指定证书文件或 UKey，二选一)"
        )
    if p12:
        return P12Key(p12, read_secret(P12_PASSWORD_ENV, f"{what} PKCS#12 password / 证书密码"))
    if not token_label:
        raise click.UsageError("--token-label: name the token (UKey) holding the key (请指定 UKey 标签)")
    assert module is not None
    return Pkcs11Key(module, token_label, read_secret(PIN_ENV, "UKey PIN"), key_label=key_label)


@group.command("seal")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tender", required=True, help="the tender's reference (招标编号)")
@click.option("--lot", required=True, type=int, help="the lot's number (标段号)")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the sealed file")
@click.option(
    "--p12", type=click.Path(exists=True, path_type=Path), help="signing key and certificate (PKCS#12)"
)
@click.option("--pkcs11-module", envvar="TENDERHALL_AGENT_PKCS11_MODULE", help="the UKey's PKCS#11 library")
@click.option("--token-label", help="label of the token (UKey)")
@click.option("--key-label", help="label of the signing key on the token")
@click.option(
    "--enc-cert",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="the company's encryption certificate (PEM)",
)
@click.option(
    "--opening-cert",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="the lot's opening certificate (PEM)",
)
@click.option("--deposit/--no-deposit", default=False, help="also deposit the bidder half for the custodians")
def seal_command(
    folder: Path,
    tender: str,
    lot: int,
    out: Path,
    p12: Path | None,
    pkcs11_module: str | None,
    token_label: str | None,
    key_label: str | None,
    enc_cert: Path,
    opening_cert: Path,
    deposit: bool,
) -> None:
    """Seal FOLDER (bid.json and its documents) into one encrypted, signed file."""
    from cryptography import x509
    from rich.progress import Progress

    from tenderhall.agent.keys import AgentKeyError
    from tenderhall.crypto.errors import CryptoError
    from trading.sealing import seal
    from trading.sealing.bidjson import BidFileError

    try:
        key = open_key(p12, pkcs11_module, token_label, key_label, "signing key")
    except AgentKeyError as exc:
        click.echo(f"{exc.zh}\n{exc.en}", err=True)
        sys.exit(2)
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("sealing / 加密中", total=total)
            info = seal(
                folder,
                out,
                tender=tender,
                lot=lot,
                signing_key=key,
                bidder_encryption_certificate=x509.load_pem_x509_certificate(enc_cert.read_bytes()),
                opening_certificate=x509.load_pem_x509_certificate(opening_cert.read_bytes()),
                deposit=deposit,
                progress=lambda n: progress.advance(task, n),
            )
    except BidFileError as exc:
        for field, zh, en in exc.problems:
            click.echo(f"{field}: {zh} / {en}", err=True)
        sys.exit(1)
    except (CryptoError, ValueError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        key.close()
    click.echo(f"sealed / 已密封: {out} ({info.size} bytes)\nSHA-256 {info.sha256}")
