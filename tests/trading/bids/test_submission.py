"""Submitting sealed bids: a resumable streamed upload judged on its last byte, checked like the
receipt check and more, answered at once with a signed receipt; every attempt on the record."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import Organisation, User
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tenderhall.settings import Settings
from tests import factories
from tests.crypto.conftest import FileSigner
from tests.trading.conftest import World
from tests.trading.opening.test_publication_keys import run_key_jobs
from tests.trading.sealing.conftest import bid_json, make_folder
from trading.bids.models import Bid, BidAttempt, BidState
from trading.bids.receipts import verify_receipt
from trading.models import Lot, Tender, TenderState
from trading.opening.models import OpeningKey
from trading.sealing.seal import seal


@dataclass
class Lot1:
    lot_id: int
    reference: str
    opening: x509.Certificate


@dataclass
class Bidder:
    headers: dict[str, str]
    code: str
    sign: FileSigner
    enc: Any


@pytest.fixture(scope="module")
def bidder_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("bidder-ca"))
    ca.init()
    return ca


@pytest.fixture
def lot1(db: Database, settings: Settings, world: World, make_tender: Callable[..., int]) -> Lot1:
    tender_id = make_tender()
    run_key_jobs(db, settings)
    with db.unit_of_work() as s:
        lot = s.scalars(sa.select(Lot).where(col(Lot.tender_id) == tender_id, col(Lot.number) == 1)).one()
        key = s.scalars(sa.select(OpeningKey).where(col(OpeningKey.lot_id) == lot.id)).one()
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return Lot1(
            lot.id or 0, tender.reference, x509.load_pem_x509_certificate(key.certificate_pem.encode())
        )


def _bidder(db: Database, world: World, ca: DevCA, n: int) -> Bidder:
    p = world.bidders[n]
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())
        org = s.get(Organisation, p.organisation_id)
        user = s.get(User, p.user_id)
        assert org is not None and user is not None
        token = factories.token_for(s, user)
        code, name = org.credit_code, org.name
    sign = FileSigner(ca.issue("bidder-sign", name=name, credit_code=code), [])
    enc = ca.issue("bidder-enc", name=name, credit_code=code)
    return Bidder({"Authorization": f"Bearer {token}"}, code, sign, enc)


@pytest.fixture
def bidder(db: Database, world: World, bidder_ca: DevCA) -> Bidder:
    return _bidder(db, world, bidder_ca, 0)


def sealed(tmp_path: Path, lot: Lot1, b: Bidder, *, name: str = "bid", price: int = 3_150_000_000) -> Path:
    folder = make_folder(
        tmp_path / name,
        bid_json(tender=lot.reference, lot=1, bidder_credit_code=b.code, price_fen=price),
    )
    out = tmp_path / f"{name}.thbid"
    seal(
        folder,
        out,
        tender=lot.reference,
        lot=1,
        signing_key=b.sign,
        bidder_encryption_certificate=b.enc.certificate,
        opening_certificate=lot.opening,
    )
    return out


def submit(client: Any, b: Bidder, lot_id: int, data: bytes, *, split: int | None = None) -> Any:
    r = client.post(f"/api/lots/{lot_id}/uploads", json={"size": len(data)}, headers=b.headers)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    if split is not None:
        part = client.patch(url, content=data[:split], headers={**b.headers, "Upload-Offset": "0"})
        assert part.status_code == 200 and part.json()["offset"] == split, part.text
        data, offset = data[split:], split
    else:
        offset = 0
    return client.patch(url, content=data, headers={**b.headers, "Upload-Offset": str(offset)})


def _blobs(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.blob_dir).rglob("*") if p.is_file() and ".uploads" not in p.parts]


def _attempts(db: Database) -> list[tuple[str, str, str | None]]:
    with db.unit_of_work() as s:
        return [
            (a.action, a.outcome, a.code)
            for a in s.scalars(sa.select(BidAttempt).order_by(col(BidAttempt.id)))
        ]


def test_a_sealed_bid_is_accepted_stored_and_answered_with_a_receipt_anyone_can_verify(
    db: Database, settings: Settings, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    path = sealed(tmp_path, lot1, bidder)
    r = submit(client, bidder, lot1.lot_id, path.read_bytes())
    assert r.status_code == 201, r.text
    body = r.json()
    receipt = body["receipt"]
    platform = client.get("/api/platform-certificate").json()["certificate_pem"].encode()
    facts = verify_receipt(
        receipt["receipt_json"].encode(), base64.b64decode(receipt["signature"]), platform, sealed_file=path
    )
    assert facts.kind == "submitted" and facts.bid_id == body["bid"]["id"]
    assert facts.bidder_credit_code == bidder.code and facts.lot_id == lot1.lot_id
    with db.unit_of_work() as s:
        bid = s.get(Bid, body["bid"]["id"])
        assert bid is not None and bid.state == BidState.current
        assert (
            bid.received_at == facts.received_at
            and bid.received_at.microsecond == facts.received_at.microsecond
        )
        events = [e.action for e in s.scalars(sa.select(AuditEvent))]
    assert "trading.bid.submit" in events
    assert [p.name for p in _blobs(settings) if p.name == bid.sealed_sha256] == [bid.sealed_sha256]
    assert _attempts(db) == [("submit", "accepted", None)]
    pdf = client.get(f"/api/bids/{bid.id}/receipt.pdf", headers=bidder.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_same_file_sent_twice_is_one_bid_with_one_receipt(
    db: Database, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    data = sealed(tmp_path, lot1, bidder).read_bytes()
    first = submit(client, bidder, lot1.lot_id, data)
    again = submit(client, bidder, lot1.lot_id, data)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["repeat"] is True
    assert again.json()["receipt"] == first.json()["receipt"]
    with db.unit_of_work() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Bid)) == 1
    assert _attempts(db) == [("submit", "accepted", None), ("submit", "duplicate", None)]


def test_a_later_complete_submission_replaces_the_earlier_and_a_withdrawal_ends_it(
    db: Database, settings: Settings, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    first = submit(client, bidder, lot1.lot_id, sealed(tmp_path, lot1, bidder, name="a").read_bytes()).json()
    second = submit(
        client, bidder, lot1.lot_id, sealed(tmp_path, lot1, bidder, name="b", price=1).read_bytes()
    )
    assert second.status_code == 201, second.text
    platform = client.get("/api/platform-certificate").json()["certificate_pem"].encode()
    rec = second.json()["receipt"]
    facts = verify_receipt(rec["receipt_json"].encode(), base64.b64decode(rec["signature"]), platform)
    assert facts.kind == "replaced" and facts.replaces_sha256 == first["bid"]["sealed_sha256"]
    mine = client.get("/api/bids", headers=bidder.headers).json()
    assert [b["state"] for b in mine] == ["current", "replaced"]
    w = client.post(f"/api/bids/{second.json()['bid']['id']}/withdraw", json={}, headers=bidder.headers)
    assert w.status_code == 201, w.text
    assert (
        w.json()["bid"]["state"] == "withdrawn"
        and '"kind":"withdrawn"' in w.json()["receipt"]["receipt_json"]
    )
    again = client.post(f"/api/bids/{second.json()['bid']['id']}/withdraw", json={}, headers=bidder.headers)
    assert again.status_code == 409
    assert _attempts(db)[-1] == ("withdraw", "refused", "rule")


def test_an_upload_cut_off_midway_records_no_bid_and_no_blob_and_a_resume_continues_it(
    db: Database, settings: Settings, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    data = sealed(tmp_path, lot1, bidder).read_bytes()
    r = client.post(f"/api/lots/{lot1.lot_id}/uploads", json={"size": len(data)}, headers=bidder.headers)
    url = r.json()["url"]
    half = len(data) // 2
    assert (
        client.patch(url, content=data[:half], headers={**bidder.headers, "Upload-Offset": "0"}).status_code
        == 200
    )
    with db.unit_of_work() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Bid)) == 0
    assert _blobs(settings) == []
    assert client.head(url, headers=bidder.headers).headers["Upload-Offset"] == str(half)
    wrong = client.patch(url, content=data[half:], headers={**bidder.headers, "Upload-Offset": "0"})
    assert wrong.status_code == 409 and wrong.json()["offset"] == half
    done = client.patch(url, content=data[half:], headers={**bidder.headers, "Upload-Offset": str(half)})
    assert done.status_code == 201, done.text
    too_much = client.post(f"/api/lots/{lot1.lot_id}/uploads", json={"size": 10}, headers=bidder.headers)
    over = client.patch(
        too_much.json()["url"], content=data[:20], headers={**bidder.headers, "Upload-Offset": "0"}
    )
    assert over.status_code == 413


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda d: b"PK\x03\x04 a plain zip, not sealed" + d[:100], "sealed_not_sealed"),
        (lambda d: d[: len(d) // 2], "sealed_truncated"),
        (lambda d: d[:-40], "sealed_no_manifest"),  # the signed trailer cut: unsigned
        (lambda d: d[:7] + b"\x09" + d[8:], "sealed_bad_version"),
    ],
)
def test_a_file_that_is_not_a_whole_signed_sealed_bid_is_refused_and_keeps_nothing(
    db: Database,
    settings: Settings,
    client: Any,
    lot1: Lot1,
    bidder: Bidder,
    tmp_path: Path,
    mangle: Callable[[bytes], bytes],
    code: str,
) -> None:
    r = submit(client, bidder, lot1.lot_id, mangle(sealed(tmp_path, lot1, bidder).read_bytes()))
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert _blobs(settings) == [] and not list((Path(settings.blob_dir) / ".uploads").glob("*.part"))
    assert _attempts(db) == [("submit", "refused", code)]


def test_a_bid_signed_by_another_company_is_refused(
    db: Database, world: World, bidder_ca: DevCA, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    other = _bidder(db, world, bidder_ca, 1)
    theirs = sealed(tmp_path, lot1, other)  # sealed and signed by the other company
    r = submit(client, bidder, lot1.lot_id, theirs.read_bytes())
    assert r.status_code == 403 and r.json()["code"] == "certificate_other_company", r.text
    with db.unit_of_work() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Bid)) == 0


def test_a_bid_whose_last_byte_arrives_after_the_deadline_is_refused_and_recorded(
    db: Database, settings: Settings, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    data = sealed(tmp_path, lot1, bidder).read_bytes()
    r = client.post(f"/api/lots/{lot1.lot_id}/uploads", json={"size": len(data)}, headers=bidder.headers)
    url = r.json()["url"]
    assert (
        client.patch(url, content=data[:100], headers={**bidder.headers, "Upload-Offset": "0"}).status_code
        == 200
    )
    with db.unit_of_work() as s:  # the deadline passes one second before the last byte
        lot = s.get(Lot, lot1.lot_id)
        tender = s.get(Tender, lot.tender_id)  # type: ignore[union-attr]
        tender.bid_deadline_at = utcnow() - dt.timedelta(seconds=1)  # type: ignore[union-attr]
    late = client.patch(url, content=data[100:], headers={**bidder.headers, "Upload-Offset": "100"})
    assert late.status_code == 409 and late.json()["code"] == "deadline_passed", late.text
    assert _blobs(settings) == []
    assert _attempts(db) == [("submit", "refused", "deadline_passed")]
    with db.unit_of_work() as s:
        assert "trading.bid.submit_refused" in [e.action for e in s.scalars(sa.select(AuditEvent))]


def test_a_lot_not_open_for_bids_refuses_the_upload_before_any_byte(
    db: Database, client: Any, lot1: Lot1, bidder: Bidder
) -> None:
    with db.unit_of_work() as s:
        lot = s.get(Lot, lot1.lot_id)
        s.get(Tender, lot.tender_id).state = TenderState.cancelled  # type: ignore[union-attr]
    r = client.post(f"/api/lots/{lot1.lot_id}/uploads", json={"size": 1000}, headers=bidder.headers)
    assert r.status_code == 409 and r.json()["code"] == "lot_not_open", r.text
    assert _attempts(db) == [("submit", "refused", "lot_not_open")]


def test_another_bidder_cannot_see_resume_or_withdraw_my_bid(
    db: Database, world: World, bidder_ca: DevCA, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    data = sealed(tmp_path, lot1, bidder).read_bytes()
    up = client.post(
        f"/api/lots/{lot1.lot_id}/uploads", json={"size": len(data)}, headers=bidder.headers
    ).json()
    other = _bidder(db, world, bidder_ca, 1)
    assert client.head(up["url"], headers=other.headers).status_code == 404
    assert (
        client.patch(up["url"], content=data, headers={**other.headers, "Upload-Offset": "0"}).status_code
        == 404
    )
    bid = client.patch(up["url"], content=data, headers={**bidder.headers, "Upload-Offset": "0"}).json()[
        "bid"
    ]
    assert client.get(f"/api/bids/{bid['id']}", headers=other.headers).status_code == 404
    assert client.post(f"/api/bids/{bid['id']}/withdraw", json={}, headers=other.headers).status_code == 404
    assert client.get("/api/bids", headers=other.headers).json() == []


def _private_keys_in(data: bytes) -> list[Any]:
    """Every PEM private key found in ``data``, loaded (an attacker's harvest)."""
    from cryptography.hazmat.primitives import serialization

    found = []
    for m in re.finditer(
        rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", data, re.S
    ):
        with contextlib.suppress(ValueError, TypeError):
            found.append(serialization.load_pem_private_key(m.group(0), password=None))
    return found


def test_a_copy_of_the_database_blobs_and_keys_without_shares_cannot_open_a_bid_before_the_deadline(
    db: Database, settings: Settings, client: Any, lot1: Lot1, bidder: Bidder, tmp_path: Path
) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tenderhall.crypto.envelope import PrivateKeyDecryptor
    from tests.trading.opening.test_publication_keys import _database_bytes, _files_bytes, _recombine
    from trading.opening.keys import open_private_key
    from trading.sealing.reader import inspect_file
    from trading.sealing.unseal import OpenFailed, open_sealed, unwrap_half

    r = submit(client, bidder, lot1.lot_id, sealed(tmp_path, lot1, bidder).read_bytes())
    assert r.status_code == 201, r.text
    stolen_file = next(p for p in Path(settings.blob_dir).rglob(r.json()["bid"]["sealed_sha256"]))
    header = inspect_file(stolen_file).header
    copy = _database_bytes(db) + b"\x00" + _files_bytes(settings.blob_dir) + _files_bytes(settings.key_dir)
    with db.unit_of_work() as s:
        sealed_key = s.scalars(sa.select(OpeningKey).where(col(OpeningKey.lot_id) == lot1.lot_id)).one()
        encrypted = sealed_key.encrypted_private_key
    # 1. every private key in the copy (the platform's, any other) fails on both halves
    harvested = _private_keys_in(copy)
    assert harvested, "the copy holds the platform key: the harvest must find it"
    for key in harvested:
        if not isinstance(key, rsa.RSAPrivateKey):
            continue  # key transport needs RSA: an EC key cannot unwrap
        for which in ("opening", "bidder"):
            with pytest.raises(OpenFailed):
                unwrap_half(header, which, PrivateKeyDecryptor(key, lot1.opening))  # type: ignore[arg-type]
    # 2. no 32 bytes anywhere in the copy open the sealed opening key
    opened = 0
    for i in range(len(copy) - 31):
        with contextlib.suppress(InvalidTag):
            open_private_key(encrypted, copy[i : i + 32])
            opened += 1
    assert opened == 0
    # control: with two custodians' shares and the bidder's key the same file opens
    two = [factories.custodian_key("supervisor"), factories.custodian_key("tenderee")]
    _, secret = _recombine(db, lot1.lot_id, two)
    opening_key = PrivateKeyDecryptor(open_private_key(encrypted, secret), lot1.opening)
    opening_half = unwrap_half(header, "opening", opening_key)
    bidder_half = unwrap_half(header, "bidder", PrivateKeyDecryptor(bidder.enc.key, bidder.enc.certificate))
    assert (
        open_sealed(stolen_file, bidder_half, opening_half, tmp_path / "opened").bid["price_fen"]
        == 3_150_000_000
    )
