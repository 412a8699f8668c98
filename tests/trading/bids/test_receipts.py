"""Bid receipts: issued and signed by the platform, verified offline (also by OpenSSL), with an
RFC 3161 token from a real TSA (``openssl ts -reply`` on loopback), and rendered as a PDF."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tenderhall.audit.timestamping import TimestampError, load_roots, read_token
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from tenderhall.signing import PlatformSigner, load_or_create
from tests.conftest import need_command
from tests.tsa import TSA, dead_url, serve_tsa
from trading.bids.receipts import (
    RECEIPT_VERSION,
    ReceiptError,
    ReceiptFacts,
    issue_receipt,
    receipt_json,
    timestamp_receipt,
    verify_receipt,
)
from trading.sealing.format import canonical

CODE = "91429005M00060001X"


@pytest.fixture
def signer(tmp_path: Path) -> PlatformSigner:
    return load_or_create(tmp_path / "keys")


@pytest.fixture
def other_signer(tmp_path: Path) -> PlatformSigner:
    """Another platform key and certificate (what a forger would sign with)."""
    return load_or_create(tmp_path / "other-keys")


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    path = tmp_path / "bid.thbid"
    path.write_bytes(b"THBID\x00\x01\n" + bytes(range(256)) * 4096)
    return path


def facts_for(sealed: Path | None = None, **over: Any) -> ReceiptFacts:
    data = sealed.read_bytes() if sealed else b"sealed bid"
    base: dict[str, Any] = {
        "kind": "submitted",
        "bid_id": 41,
        "attempt_id": 97,
        "tender_id": 7,
        "tender_reference": "TH-2026-000777",
        "lot_id": 12,
        "lot_number": 2,
        "bidder_credit_code": CODE,
        "bidder_name": "潜江示例建设有限公司",
        "sealed_sha256": hashlib.sha256(data).hexdigest(),
        "sealed_size": len(data),
        "received_at": utcnow().replace(microsecond=123456),
        "replaces_sha256": None,
    }
    base.update(over)
    return ReceiptFacts(**base)


def pem(signer: PlatformSigner) -> bytes:
    return signer.certificate_pem.encode()


def code_of(excinfo: pytest.ExceptionInfo[ReceiptError]) -> str:
    assert excinfo.value.zh and excinfo.value.en  # both languages, always
    return excinfo.value.code


# --- issue and verify ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over",
    [{}, {"kind": "replaced", "replaces_sha256": "ab" * 32}, {"kind": "withdrawn"}],
    ids=["submitted", "replaced", "withdrawn"],
)
def test_an_issued_receipt_verifies_and_gives_back_its_facts(
    signer: PlatformSigner, sealed: Path, over: dict[str, Any]
) -> None:
    facts = facts_for(sealed, **over)
    receipt = issue_receipt(signer, facts)
    assert receipt.timestamp_token is None
    assert receipt.sha256 == hashlib.sha256(receipt.json).hexdigest()
    assert verify_receipt(receipt.json, receipt.signature, pem(signer), sealed_file=sealed) == facts


def test_the_receipt_is_canonical_json_with_its_version_platform_key_and_microsecond_utc_time(
    signer: PlatformSigner,
) -> None:
    facts = facts_for(
        received_at=dt.datetime(2026, 12, 4, 18, 0, 5, 7, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    )
    data = receipt_json(facts, signer)
    body = json.loads(data)
    assert canonical(body) == data  # sorted keys, no spaces, UTF-8 as written
    assert "潜江示例建设有限公司".encode() in data
    assert body["version"] == RECEIPT_VERSION == "TenderHall bid receipt v1"
    assert body["received_at"] == "2026-12-04T10:00:05.000007Z"
    assert body["platform_key_id"] == signer.key_id
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    assert body["platform_certificate_sha256"] == hashlib.sha256(der).hexdigest()
    assert body["replaces_sha256"] is None
    assert body["bid_id"] == 41 and body["sealed_sha256"] == facts.sealed_sha256


def test_openssl_cms_verify_accepts_the_signature_and_rejects_a_modified_receipt_or_another_certificate(
    signer: PlatformSigner, other_signer: PlatformSigner, tmp_path: Path
) -> None:
    openssl = need_command("openssl", "the detached signature cannot be checked with it", package="openssl")
    receipt = issue_receipt(signer, facts_for())
    (tmp_path / "receipt.json").write_bytes(receipt.json)
    (tmp_path / "receipt.p7s").write_bytes(receipt.signature)
    (tmp_path / "platform.pem").write_bytes(pem(signer))
    (tmp_path / "other.pem").write_bytes(pem(other_signer))
    (tmp_path / "modified.json").write_bytes(receipt.json.replace(b'"lot_number":2', b'"lot_number":3'))

    def cms_verify(content: str, ca: str) -> subprocess.CompletedProcess[str]:
        args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", "receipt.p7s", "-content", content]
        return subprocess.run(
            [openssl, *args, "-CAfile", ca, "-out", "/dev/null"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = cms_verify("receipt.json", "platform.pem")
    assert ok.returncode == 0, ok.stderr
    assert "Verification successful" in ok.stderr
    assert cms_verify("modified.json", "platform.pem").returncode != 0  # the content is checked
    assert cms_verify("receipt.json", "other.pem").returncode != 0  # and the signer's certificate


def test_a_modified_receipt_does_not_verify(signer: PlatformSigner) -> None:
    receipt = issue_receipt(signer, facts_for())
    modified = receipt.json.replace(b'"bid_id":41', b'"bid_id":42')
    assert modified != receipt.json
    with pytest.raises(ReceiptError) as e:
        verify_receipt(modified, receipt.signature, pem(signer))
    assert code_of(e) == "bad_signature"
    assert "altered" in e.value.en


@pytest.mark.parametrize("damage", ["garbage", "other_receipt", "flipped_signature"])
def test_a_signature_that_is_not_the_receipts_does_not_verify(signer: PlatformSigner, damage: str) -> None:
    receipt = issue_receipt(signer, facts_for())
    signature = {
        "garbage": b"\x30\x03\x02\x01\x00",
        "other_receipt": issue_receipt(signer, facts_for(bid_id=43)).signature,
        "flipped_signature": receipt.signature[:-1] + bytes([receipt.signature[-1] ^ 1]),
    }[damage]
    with pytest.raises(ReceiptError) as e:
        verify_receipt(receipt.json, signature, pem(signer))
    assert code_of(e) == "bad_signature"


def test_a_receipt_signed_with_another_certificate_is_refused(
    signer: PlatformSigner, other_signer: PlatformSigner
) -> None:
    genuine = issue_receipt(signer, facts_for())
    forged = other_signer.sign_detached_cms(genuine.json)  # same bytes, another key
    with pytest.raises(ReceiptError) as e:
        verify_receipt(genuine.json, forged, pem(signer))
    assert code_of(e) == "wrong_signer"
    with pytest.raises(ReceiptError) as e:  # and a genuine receipt is not another platform's
        verify_receipt(genuine.json, genuine.signature, pem(other_signer))
    assert code_of(e) == "wrong_signer"


def test_a_receipt_naming_another_platform_certificate_than_its_signer_is_refused(
    signer: PlatformSigner, other_signer: PlatformSigner
) -> None:
    data = receipt_json(facts_for(), other_signer)  # names the other certificate ...
    with pytest.raises(ReceiptError) as e:
        verify_receipt(data, signer.sign_detached_cms(data), pem(signer))  # ... signed by this one
    assert code_of(e) == "wrong_signer"
    assert "named in the receipt" in e.value.en


def _signed(signer: PlatformSigner, data: bytes) -> tuple[bytes, bytes]:
    return data, signer.sign_detached_cms(data)


def test_signed_bytes_that_are_not_json_are_not_a_receipt(signer: PlatformSigner) -> None:
    for data in (b"%PDF-1.7 not a receipt", b"\xff\xfe", b"[1, 2]"):
        with pytest.raises(ReceiptError) as e:
            verify_receipt(*_signed(signer, data), pem(signer))
        assert code_of(e) == "not_json"


def test_a_receipt_of_another_version_is_refused(signer: PlatformSigner) -> None:
    body = json.loads(receipt_json(facts_for(), signer))
    for version in ("TenderHall bid receipt v2", None):
        data = canonical({**body, "version": version})
        with pytest.raises(ReceiptError) as e:
            verify_receipt(*_signed(signer, data), pem(signer))
        assert code_of(e) == "bad_version"
        assert str(version) in e.value.en


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"bid_id": "41"},
        {"sealed_sha256": "AB" * 32},
        {"received_at": "2026-12-04T10:00:05Z"},
        {"kind": "opened"},
        {"kind": "replaced"},  # without the replaced file's hash
    ],
)
def test_a_signed_receipt_with_malformed_fields_is_refused(
    signer: PlatformSigner, change: dict[str, Any]
) -> None:
    body = json.loads(receipt_json(facts_for(), signer))
    with pytest.raises(ReceiptError) as e:
        verify_receipt(*_signed(signer, canonical({**body, **change})), pem(signer))
    assert code_of(e) == "bad_receipt"


def test_a_receipt_that_is_not_canonical_json_is_refused(signer: PlatformSigner) -> None:
    body = json.loads(receipt_json(facts_for(), signer))
    data = json.dumps(body, indent=1, ensure_ascii=False).encode()
    with pytest.raises(ReceiptError) as e:
        verify_receipt(*_signed(signer, data), pem(signer))
    assert code_of(e) == "bad_receipt"


def test_a_receipt_dated_outside_the_platform_certificate_is_refused(signer: PlatformSigner) -> None:
    before = signer.certificate.not_valid_before_utc - dt.timedelta(days=1)
    receipt = issue_receipt(signer, facts_for(received_at=before))
    with pytest.raises(ReceiptError) as e:
        verify_receipt(receipt.json, receipt.signature, pem(signer))
    assert code_of(e) == "certificate_not_valid"


def test_a_platform_certificate_that_is_not_one_is_named(signer: PlatformSigner) -> None:
    receipt = issue_receipt(signer, facts_for())
    with pytest.raises(ReceiptError) as e:
        verify_receipt(receipt.json, receipt.signature, signer.public_key_pem.encode())
    assert code_of(e) == "bad_certificate"


def test_another_sealed_file_than_the_receipts_is_refused(
    signer: PlatformSigner, sealed: Path, tmp_path: Path
) -> None:
    receipt = issue_receipt(signer, facts_for(sealed))
    other = tmp_path / "other.thbid"
    other.write_bytes(sealed.read_bytes()[:-1] + b"\x00")  # same size, one byte changed
    with pytest.raises(ReceiptError) as e:
        verify_receipt(receipt.json, receipt.signature, pem(signer), sealed_file=other)
    assert code_of(e) == "sealed_mismatch"
    assert hashlib.sha256(other.read_bytes()).hexdigest() in e.value.en
    assert receipt.facts.sealed_sha256 in e.value.zh


def test_receipt_facts_refuse_what_a_receipt_cannot_state() -> None:
    with pytest.raises(ValueError, match="aware"):
        facts_for(received_at=dt.datetime(2026, 12, 4, 10, 0))  # naive: the point of the test
    with pytest.raises(ValueError, match="replacement"):
        facts_for(kind="replaced")
    with pytest.raises(ValueError, match="replacement"):
        facts_for(kind="withdrawn", replaces_sha256="ab" * 32)
    with pytest.raises(ValueError, match="sealed_sha256"):
        facts_for(sealed_sha256="xyz")


def test_an_inclusion_proof_is_asked_with_the_receipts_facts(signer: PlatformSigner) -> None:
    receipt = issue_receipt(signer, facts_for())
    seen: list[ReceiptFacts] = []

    @dataclasses.dataclass
    class Proof:
        included: bool

        def problem(self, facts: ReceiptFacts) -> tuple[str, str] | None:
            seen.append(facts)
            return None if self.included else ("不在截止承诺中", "not in the deadline commitment")

    assert verify_receipt(receipt.json, receipt.signature, pem(signer), inclusion_proof=Proof(True))
    with pytest.raises(ReceiptError) as e:
        verify_receipt(receipt.json, receipt.signature, pem(signer), inclusion_proof=Proof(False))
    assert code_of(e) == "not_included"
    assert seen == [receipt.facts, receipt.facts]


# --- RFC 3161 timestamps ---------------------------------------------------------------------------


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[TSA]:
    need_command("openssl", "the test TSA cannot run", package="openssl")
    with serve_tsa(tmp_path / "tsa") as t:
        yield t


@pytest.fixture
def rogue_tsa(tmp_path: Path) -> Iterator[TSA]:
    """Another TSA with a CA of its own (what an operator could run to make tokens himself)."""
    need_command("openssl", "the test TSA cannot run", package="openssl")
    with serve_tsa(tmp_path / "rogue") as t:
        yield t


def roots(t: TSA) -> list[x509.Certificate]:
    return load_roots(t.ca_pem.read_bytes())


def test_with_a_tsa_the_receipt_carries_a_token_that_openssl_and_verify_accept(
    signer: PlatformSigner, tsa: TSA, sealed: Path, tmp_path: Path
) -> None:
    facts = facts_for(sealed)
    receipt = issue_receipt(signer, facts, tsa_url=tsa.url, tsa_roots=roots(tsa))
    assert receipt.timestamp_token is not None and tsa.requests == 1
    token = read_token(receipt.timestamp_token)
    assert token.imprint == hashlib.sha256(receipt.json).digest()
    assert receipt.timestamp_time == token.gen_time
    assert facts.received_at - dt.timedelta(seconds=5) <= token.gen_time <= utcnow() + dt.timedelta(seconds=5)
    (tmp_path / "receipt.json").write_bytes(receipt.json)
    (tmp_path / "other.json").write_bytes(receipt.json.replace(b'"bid_id":41', b'"bid_id":42'))
    (tmp_path / "token.tsr").write_bytes(receipt.timestamp_token)

    def ts_verify(data: str) -> subprocess.CompletedProcess[str]:
        args = ["ts", "-verify", "-data", data, "-in", "token.tsr", "-token_in"]
        args += ["-CAfile", str(tsa.ca_pem), "-untrusted", str(tsa.tsa_pem)]
        return subprocess.run(["openssl", *args], cwd=tmp_path, capture_output=True, text=True, check=False)

    ok = ts_verify("receipt.json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification: OK" in ok.stdout
    assert ts_verify("other.json").returncode != 0
    checked = verify_receipt(
        receipt.json,
        receipt.signature,
        pem(signer),
        sealed_file=sealed,
        timestamp_token=receipt.timestamp_token,
        tsa_roots=roots(tsa),
    )
    assert checked == facts


def test_a_timestamp_over_another_receipt_is_refused(signer: PlatformSigner, tsa: TSA) -> None:
    receipt = issue_receipt(signer, facts_for())
    other = issue_receipt(signer, facts_for(bid_id=43), tsa_url=tsa.url)
    assert other.timestamp_token is not None
    with pytest.raises(ReceiptError) as e:
        verify_receipt(
            receipt.json,
            receipt.signature,
            pem(signer),
            timestamp_token=other.timestamp_token,
            tsa_roots=roots(tsa),
        )
    assert code_of(e) == "timestamp_mismatch"


def test_a_timestamp_from_another_tsa_or_with_an_altered_signature_is_refused(
    signer: PlatformSigner, tsa: TSA, rogue_tsa: TSA
) -> None:
    rogue = issue_receipt(signer, facts_for(), tsa_url=rogue_tsa.url)  # no roots: accepted when issued
    assert rogue.timestamp_token is not None
    genuine = issue_receipt(signer, facts_for(), tsa_url=tsa.url)
    assert genuine.timestamp_token is not None
    token = genuine.timestamp_token
    flipped = token[:-1] + bytes([token[-1] ^ 1])  # the last byte of the TSA's ECDSA signature
    assert read_token(flipped).imprint == read_token(token).imprint  # still a token over the receipt
    for receipt, bad in ((rogue, rogue.timestamp_token), (genuine, flipped)):
        with pytest.raises(ReceiptError) as e:
            verify_receipt(
                receipt.json, receipt.signature, pem(signer), timestamp_token=bad, tsa_roots=roots(tsa)
            )
        assert code_of(e) == "timestamp_signature"


def test_a_timestamp_that_is_not_a_token_is_named(signer: PlatformSigner, tsa: TSA) -> None:
    receipt = issue_receipt(signer, facts_for())
    with pytest.raises(ReceiptError) as e:
        verify_receipt(
            receipt.json, receipt.signature, pem(signer), timestamp_token=b"junk", tsa_roots=roots(tsa)
        )
    assert code_of(e) == "bad_timestamp"


def test_a_receipt_dated_after_its_timestamp_is_refused(signer: PlatformSigner, tsa: TSA) -> None:
    later = utcnow() + dt.timedelta(hours=1)  # a receipt time the TSA had not reached yet
    receipt = issue_receipt(signer, facts_for(received_at=later), tsa_url=tsa.url)
    with pytest.raises(ReceiptError) as e:
        verify_receipt(
            receipt.json,
            receipt.signature,
            pem(signer),
            timestamp_token=receipt.timestamp_token,
            tsa_roots=roots(tsa),
        )
    assert code_of(e) == "timestamp_early"


def test_a_token_cannot_be_checked_without_the_tsa_certificate(signer: PlatformSigner, tsa: TSA) -> None:
    receipt = issue_receipt(signer, facts_for(), tsa_url=tsa.url)
    with pytest.raises(ValueError, match="tsa_roots"):
        verify_receipt(receipt.json, receipt.signature, pem(signer), timestamp_token=receipt.timestamp_token)


def test_a_tsa_that_is_down_raises_timestamp_error_and_the_token_can_be_added_later(
    signer: PlatformSigner, tsa: TSA
) -> None:
    facts = facts_for()
    with pytest.raises(TimestampError) as e:
        issue_receipt(signer, facts, tsa_url=dead_url(), tsa_timeout=2)
    assert "could not be reached" in e.value.en and e.value.zh
    receipt = issue_receipt(signer, facts)  # what the caller gives the bidder meanwhile
    later = receipt.with_timestamp(timestamp_receipt(receipt.json, tsa.url, tsa_roots=roots(tsa)))
    assert later.json == receipt.json and later.signature == receipt.signature
    assert (
        verify_receipt(
            later.json,
            later.signature,
            pem(signer),
            timestamp_token=later.timestamp_token,
            tsa_roots=roots(tsa),
        )
        == facts
    )


def test_issuing_refuses_a_token_that_does_not_chain_to_the_configured_tsa(
    signer: PlatformSigner, tsa: TSA, rogue_tsa: TSA
) -> None:
    with pytest.raises(TimestampError) as e:
        issue_receipt(signer, facts_for(), tsa_url=rogue_tsa.url, tsa_roots=roots(tsa))
    assert "does not verify with the configured TSA certificate" in e.value.en


# --- PDF ---------------------------------------------------------------------------------------------


@pytest.fixture
def pdf_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        broker_url="memory://",
        blob_dir=tmp_path / "blobs",
        key_dir=tmp_path / "keys",
    )


@pytest.mark.parametrize(
    ("over", "title"),
    [
        ({"kind": "replaced", "replaces_sha256": "fe" * 32}, "投标文件递交回执"),
        ({"kind": "withdrawn"}, "投标文件撤回回执"),
    ],
)
def test_the_receipt_pdf_shows_the_facts_is_signed_and_renders(
    pdf_settings: Settings, tmp_path: Path, over: dict[str, Any], title: str
) -> None:
    from tenderhall.pdf import verify_pdf
    from tenderhall.signing import platform_signer
    from tenderhall.web.i18n import SHANGHAI
    from trading.bids.receipt_pdf import render_receipt_pdf

    for tool in ("pdftotext", "pdftoppm", "pdfinfo"):
        need_command(tool, "the receipt PDF cannot be read back", package="poppler-utils")
    facts = facts_for(bid_id=90817, **over)
    receipt = issue_receipt(platform_signer(pdf_settings), facts)
    pdf = render_receipt_pdf(pdf_settings, facts, receipt.sha256)
    assert verify_pdf(pdf, pdf_settings)
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    compact = "".join(text.split())
    local = facts.received_at.astimezone(SHANGHAI).strftime("%H:%M:%S.%f")
    for expected in (
        title,
        "90817",
        facts.sealed_sha256,
        receipt.sha256,
        "潜江示例建设有限公司",
        "TH-2026-000777",
        local,  # Beijing time, to the microsecond
        facts.received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "opensslcms-verify",
    ):
        assert expected in compact, expected
    if facts.replaces_sha256:
        assert facts.replaces_sha256 in compact
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert [line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")] == ["1"]
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "p")], check=True
    )
    from PIL import Image

    page = next(tmp_path.glob("p*.png"))
    with Image.open(page) as im:
        lo, hi = cast(tuple[int, int], im.convert("L").getextrema())
    assert lo < 100 < hi  # ink on paper, not a blank page
