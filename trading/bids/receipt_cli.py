"""``tenderhall bid receipt verify``: the bidder's offline check of a receipt, with the platform's
certificate only (no network, no database). Exit 0 with the facts, or 1 with what is wrong."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)

receipt_group = click.Group(name="receipt", help="Bid receipts: check them offline (投标回执核验).")


@receipt_group.command("verify")
@click.argument("receipt", type=_FILE)
@click.option("--signature", required=True, type=_FILE, help="the detached CMS signature (receipt.p7s)")
@click.option(
    "--platform-cert",
    required=True,
    type=_FILE,
    help="the platform's signing certificate (PEM, /.well-known/tenderhall-signing-cert.pem)",
)
@click.option("--sealed", type=_FILE, help="the sealed bid file (.thbid): its SHA-256 must be the receipt's")
@click.option("--timestamp", type=_FILE, help="the receipt's RFC 3161 timestamp token (receipt.tsr)")
@click.option(
    "--tsa-cert",
    type=_FILE,
    help="PEM certificate(s) of the timestamping authority (its root and intermediates); "
    "needed with --timestamp",
)
def verify_command(
    receipt: Path,
    signature: Path,
    platform_cert: Path,
    sealed: Path | None,
    timestamp: Path | None,
    tsa_cert: Path | None,
) -> None:
    """Check RECEIPT (receipt.json): the platform's signature, and optionally the sealed file and
    the RFC 3161 timestamp. Prints the receipt's facts."""
    from tenderhall.audit.timestamping import load_roots, read_token
    from tenderhall.web.i18n import SHANGHAI
    from trading.bids.receipt_pdf import KIND_LABELS
    from trading.bids.receipts import ReceiptError, rfc3339, verify_receipt

    if (timestamp is None) != (tsa_cert is None):
        raise click.UsageError("--timestamp and --tsa-cert go together (时间戳与 TSA 证书须同时给出)")
    tsa_roots = None
    if tsa_cert is not None:
        try:
            tsa_roots = load_roots(tsa_cert.read_bytes())
        except ValueError:
            raise click.ClickException(
                f"无法读取 TSA 证书文件 {tsa_cert}（应为 PEM 证书）\n"
                f"Cannot read the TSA certificate file {tsa_cert} (expected PEM certificates)"
            ) from None
    data = receipt.read_bytes()
    token = timestamp.read_bytes() if timestamp is not None else None
    try:
        facts = verify_receipt(
            data,
            signature.read_bytes(),
            platform_cert.read_bytes(),
            sealed_file=sealed,
            timestamp_token=token,
            tsa_roots=tsa_roots,
        )
    except ReceiptError as exc:
        click.echo(f"回执无效 [{exc.code}]：{exc.zh}", err=True)
        click.echo(f"Receipt INVALID [{exc.code}]: {exc.en}", err=True)
        sys.exit(1)
    file_label = "撤回的文件 Withdrawn file" if facts.kind == "withdrawn" else "投标文件 Sealed file"
    lines = [
        "回执有效：平台签名核验通过 / Receipt OK: the platform's signature verifies",
        f"事项 Kind: {KIND_LABELS[facts.kind]}",
        f"投标人 Bidder: {facts.bidder_name} ({facts.bidder_credit_code})",
        f"招标编号 Tender: {facts.tender_reference} (id {facts.tender_id})",
        f"标段 Lot: {facts.lot_number} (id {facts.lot_id})",
        f"投标编号 Bid id: {facts.bid_id} (attempt {facts.attempt_id})",
        f"{file_label}: SHA-256 {facts.sealed_sha256} ({facts.sealed_size} bytes)",
    ]
    if facts.replaces_sha256:
        lines.append(f"被替换文件 Replaces: SHA-256 {facts.replaces_sha256}")
    local = facts.received_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S.%f")
    lines += [
        f"接收时间 Received: {rfc3339(facts.received_at)} (北京时间 {local})",
        f"回执 SHA-256 Receipt: {hashlib.sha256(data).hexdigest()}",
    ]
    if sealed is not None:
        lines.append(f"投标文件一致 / the sealed file {sealed.name} is the one received")
    if token is not None:
        lines.append(f"时间戳有效 / timestamp OK (RFC 3161): {rfc3339(read_token(token).gen_time)}")
    for line in lines:
        click.echo(line)


__all__ = ["receipt_group"]
