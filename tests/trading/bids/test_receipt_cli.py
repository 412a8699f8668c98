"""``tenderhall bid receipt verify``: exit 0 with the facts, exit 1 with the bilingual problem."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tenderhall.audit.timestamping import load_roots
from tenderhall.db import utcnow
from tenderhall.signing import PlatformSigner, load_or_create
from tests.conftest import need_command
from tests.tsa import TSA, serve_tsa
from trading.bids.receipts import ReceiptFacts, issue_receipt
from trading.sealing.cli import group as bid_group


@pytest.fixture
def signer(tmp_path: Path) -> PlatformSigner:
    return load_or_create(tmp_path / "keys")


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[TSA]:
    need_command("openssl", "the test TSA cannot run", package="openssl")
    with serve_tsa(tmp_path / "tsa") as t:
        yield t


def _files(tmp_path: Path, signer: PlatformSigner, *, tsa: TSA | None = None) -> dict[str, Path]:
    sealed = tmp_path / "bid.thbid"
    sealed.write_bytes(b"THBID\x00\x01\n" + b"sealed bytes" * 1000)
    data = sealed.read_bytes()
    facts = ReceiptFacts(
        kind="replaced",
        bid_id=41,
        attempt_id=97,
        tender_id=7,
        tender_reference="TH-2026-000777",
        lot_id=12,
        lot_number=2,
        bidder_credit_code="91429005M00060001X",
        bidder_name="潜江示例建设有限公司",
        sealed_sha256=hashlib.sha256(data).hexdigest(),
        sealed_size=len(data),
        received_at=utcnow().replace(microsecond=654321),
        replaces_sha256="ab" * 32,
    )
    roots = load_roots(tsa.ca_pem.read_bytes()) if tsa else None
    receipt = issue_receipt(signer, facts, tsa_url=tsa.url if tsa else None, tsa_roots=roots)
    files = {
        "receipt": tmp_path / "receipt.json",
        "signature": tmp_path / "receipt.p7s",
        "cert": tmp_path / "platform.pem",
        "sealed": sealed,
    }
    files["receipt"].write_bytes(receipt.json)
    files["signature"].write_bytes(receipt.signature)
    files["cert"].write_text(signer.certificate_pem)
    if receipt.timestamp_token is not None:
        files["timestamp"] = tmp_path / "receipt.tsr"
        files["timestamp"].write_bytes(receipt.timestamp_token)
    return files


def _verify(files: dict[str, Path], *extra: str) -> Result:
    args = ["receipt", "verify", str(files["receipt"]), "--signature", str(files["signature"])]
    args += ["--platform-cert", str(files["cert"]), *extra]
    return CliRunner().invoke(bid_group, args)


def test_verify_prints_the_facts_in_both_languages_and_exits_0(
    signer: PlatformSigner, tmp_path: Path
) -> None:
    files = _files(tmp_path, signer)
    result = _verify(files, "--sealed", str(files["sealed"]))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "回执有效" in out and "Receipt OK" in out
    assert "潜江示例建设有限公司 (91429005M00060001X)" in out
    assert "TH-2026-000777" in out and "投标编号 Bid id: 41 (attempt 97)" in out
    assert hashlib.sha256(files["sealed"].read_bytes()).hexdigest() in out
    assert "ab" * 32 in out  # the file it replaced
    assert ".654321Z" in out  # the receipt time to the microsecond
    assert hashlib.sha256(files["receipt"].read_bytes()).hexdigest() in out
    assert "投标文件一致" in out


def test_verify_of_a_modified_receipt_exits_1_with_the_problem_in_both_languages(
    signer: PlatformSigner, tmp_path: Path
) -> None:
    files = _files(tmp_path, signer)
    files["receipt"].write_bytes(files["receipt"].read_bytes().replace(b'"lot_number":2', b'"lot_number":1'))
    result = _verify(files)
    assert result.exit_code == 1
    assert "回执无效 [bad_signature]" in result.output
    assert "Receipt INVALID [bad_signature]: The receipt's signature does not verify" in result.output
    assert "Receipt OK" not in result.output


def test_verify_with_another_sealed_file_exits_1(signer: PlatformSigner, tmp_path: Path) -> None:
    files = _files(tmp_path, signer)
    other = tmp_path / "other.thbid"
    other.write_bytes(b"another sealed file")
    result = _verify(files, "--sealed", str(other))
    assert result.exit_code == 1
    assert "[sealed_mismatch]" in result.output and "投标文件与回执不符" in result.output


def test_verify_with_another_platform_certificate_exits_1(signer: PlatformSigner, tmp_path: Path) -> None:
    files = _files(tmp_path, signer)
    files["cert"].write_text(load_or_create(tmp_path / "other-keys").certificate_pem)
    result = _verify(files)
    assert result.exit_code == 1
    assert "[wrong_signer]" in result.output


def test_verify_checks_the_timestamp_with_the_tsa_certificate(
    signer: PlatformSigner, tsa: TSA, tmp_path: Path
) -> None:
    files = _files(tmp_path, signer, tsa=tsa)
    result = _verify(files, "--timestamp", str(files["timestamp"]), "--tsa-cert", str(tsa.ca_pem))
    assert result.exit_code == 0, result.output
    assert "时间戳有效 / timestamp OK (RFC 3161)" in result.output
    (tmp_path / "elsewhere").mkdir()
    with serve_tsa(tmp_path / "elsewhere" / "rogue") as rogue:  # a CA the token was not made under
        result = _verify(files, "--timestamp", str(files["timestamp"]), "--tsa-cert", str(rogue.ca_pem))
    assert result.exit_code == 1
    assert "[timestamp_signature]" in result.output


def test_a_timestamp_without_the_tsa_certificate_is_a_usage_error(
    signer: PlatformSigner, tsa: TSA, tmp_path: Path
) -> None:
    files = _files(tmp_path, signer, tsa=tsa)
    result = _verify(files, "--timestamp", str(files["timestamp"]))
    assert result.exit_code == 2
    assert "--tsa-cert" in result.output


def test_the_command_is_part_of_the_tenderhall_bid_group(signer: PlatformSigner, tmp_path: Path) -> None:
    from tenderhall.cli import main

    files = _files(tmp_path, signer)
    args = ["bid", "receipt", "verify", str(files["receipt"]), "--signature", str(files["signature"])]
    result = CliRunner().invoke(main, [*args, "--platform-cert", str(files["cert"])])
    assert result.exit_code == 0, result.output
    assert "Receipt OK" in result.output
