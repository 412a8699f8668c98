"""Publishing makes each lot's opening key: split k-of-n among the tender's custodians, each share
wrapped to its custodian's certificate, and nothing that opens the key stored anywhere."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role, User
from tenderhall.crypto import envelope, sharing
from tenderhall.crypto.errors import EnvelopeError
from tenderhall.db import Database
from tenderhall.errors import RuleViolation
from tenderhall.jobs.execution import execute
from tenderhall.jobs.models import OutboxJob
from tenderhall.settings import Settings
from tests import factories
from tests.trading.conftest import World, tender_fields
from trading.models import Lot, Tender, TenderState
from trading.opening.keys import open_private_key
from trading.opening.models import KeyShare, OpeningKey
from trading.opening.publication import JOB
from trading.service import drafting, mandates, publication
from trading.tasks import make_opening_key  # noqa: F401 - declares the key job


def run_key_jobs(db: Database, settings: Settings) -> list[str]:
    with db.unit_of_work() as s:
        ids = list(s.scalars(sa.select(OutboxJob.id).where(OutboxJob.actor_name == JOB)))  # type: ignore[call-overload,arg-type]
    return [execute(db, settings, i) for i in ids]


def _lots(db: Database, tender_id: int) -> list[int]:
    with db.unit_of_work() as s:
        return list(s.scalars(sa.select(Lot.id).where(Lot.tender_id == tender_id).order_by(Lot.number)))  # type: ignore[call-overload,arg-type]


def _recombine(db: Database, lot_id: int, keys: list[Any]) -> tuple[OpeningKey, bytes]:
    """The opening secret from the shares the given custodian keys unwrap."""
    with db.unit_of_work() as s:
        key = s.scalars(sa.select(OpeningKey).where(OpeningKey.lot_id == lot_id)).one()  # type: ignore[arg-type]
        rows = list(s.scalars(sa.select(KeyShare).where(KeyShare.opening_key_id == key.id)))  # type: ignore[arg-type]
        s.expunge(key)
    shares = []
    for row in rows:
        for k in keys:
            try:
                shares.append(sharing.Share.decode(envelope.unwrap(row.envelope, k)))
                break
            except EnvelopeError:  # not this custodian's share
                continue
    setup = sharing.SharingSetup(key.threshold, key.count, key.share_salt, key.share_commitments)
    return key, sharing.combine(setup, shares)


def test_publishing_makes_one_opening_key_per_lot_split_two_of_three_among_the_custodians(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tender_id = make_tender()
    lots = _lots(db, tender_id)
    assert run_key_jobs(db, settings) == ["done", "done"]
    for lot_id in lots:
        with db.unit_of_work() as s:
            key = s.scalars(sa.select(OpeningKey).where(OpeningKey.lot_id == lot_id)).one()  # type: ignore[arg-type]
            shares = list(s.scalars(sa.select(KeyShare).where(KeyShare.opening_key_id == key.id)))  # type: ignore[arg-type]
            assert (key.threshold, key.count) == (2, 3)
            assert sorted((sh.custodian_role, sh.custodian_user_id) for sh in shares) == sorted(
                [
                    ("supervisor", world.supervisor.user_id),
                    ("tenderee", world.tenderee.user_id),
                    ("agency", world.agency.user_id),
                ]
            )
            cert_pem = key.certificate_pem
        # any two custodians open the private key, and it belongs to the published certificate
        two = [factories.custodian_key("supervisor"), factories.custodian_key("agency")]
        sealed, secret = _recombine(db, lot_id, two)
        private = open_private_key(sealed.encrypted_private_key, secret)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        assert private.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
        # one custodian alone cannot
        with pytest.raises(sharing.NotEnoughShares):
            _recombine(db, lot_id, [factories.custodian_key("tenderee")])


def test_the_key_job_run_twice_keeps_the_first_key(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tender_id = make_tender()
    assert run_key_jobs(db, settings) == ["done", "done"]
    with db.unit_of_work() as s:
        first = {k.lot_id: k.certificate_sha256 for k in s.scalars(sa.select(OpeningKey))}
        s.execute(
            sa.update(OutboxJob).where(col(OutboxJob.actor_name) == JOB).values(status="pending", attempts=0)
        )  # type: ignore[arg-type]
    run_key_jobs(db, settings)
    with db.unit_of_work() as s:
        again = {k.lot_id: k.certificate_sha256 for k in s.scalars(sa.select(OpeningKey))}
        assert s.scalar(sa.select(sa.func.count()).select_from(KeyShare)) == 6
    assert again == first and set(first) == set(_lots(db, tender_id))


def test_publishing_without_enough_custodian_certificates_is_refused_and_stores_nothing(
    db: Database, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        tenderee = factories.principal(s, Role.tenderee, OrgKind.tenderee)
        agency = factories.principal(s, Role.agency, OrgKind.agency)
        mandates.grant_mandate(s, tenderee, agency.organisation_id)  # type: ignore[arg-type]
        factories.custodian(s, agency)  # one custodian of the two needed
        world = World(tenderee, agency, agency, [], agency, tenderee.organisation_id, agency.organisation_id)  # type: ignore[arg-type]
        tender_id = drafting.create_tender(s, agency, settings, tender_fields(world)).id
    with db.unit_of_work() as s:
        before = s.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with pytest.raises(RuleViolation) as refused, db.unit_of_work() as s:
        publication.publish_tender(s, agency, settings, tender_id)  # type: ignore[arg-type]
    assert refused.value.code == "custodians_missing"
    assert "supervisor" in refused.value.extra["missing_roles"]
    assert "监督人员" in refused.value.zh and "a supervisor" in refused.value.en
    with db.unit_of_work() as s:
        assert s.get(Tender, tender_id).state == TenderState.draft  # type: ignore[union-attr]
        key_jobs = sa.select(sa.func.count()).select_from(OutboxJob).where(col(OutboxJob.actor_name) == JOB)
        assert s.scalar(key_jobs) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def _files_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _database_bytes(db: Database) -> bytes:
    """Every value of every table, as bytes (text UTF-8 encoded, binary as it is)."""
    out = []
    with db.sync_engine.connect() as c:
        for table in _tables(db):
            for row in c.execute(sa.select(table)):
                for v in row:
                    if isinstance(v, bytes | memoryview):
                        out.append(bytes(v))
                    elif v is not None:
                        out.append(str(v).encode())
    return b"\x00".join(out)


def _tables(db: Database) -> list[sa.Table]:
    md = sa.MetaData()
    md.reflect(db.sync_engine)
    return list(md.tables.values())


def test_neither_the_opening_secret_nor_the_private_key_is_stored_in_the_database_blobs_or_keys(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tender_id = make_tender()
    run_key_jobs(db, settings)
    stored = _database_bytes(db) + _files_bytes(settings.blob_dir) + _files_bytes(settings.key_dir)
    for lot_id in _lots(db, tender_id):
        sealed, secret = _recombine(
            db, lot_id, [factories.custodian_key("supervisor"), factories.custodian_key("tenderee")]
        )
        der = open_private_key(sealed.encrypted_private_key, secret).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for needle in (
            secret,
            secret.hex().encode(),
            base64.b64encode(secret),
            der[:64],
            base64.b64encode(der)[:64],
        ):
            assert needle not in stored


def test_a_custodian_fetches_only_its_own_wrapped_share(
    db: Database, settings: Settings, client: Any, world: World, make_tender: Callable[..., int]
) -> None:
    tender_id = make_tender()
    run_key_jobs(db, settings)
    lot_id = _lots(db, tender_id)[0]
    with db.unit_of_work() as s:
        sup = factories.token_for(s, s.get(User, world.supervisor.user_id))  # type: ignore[arg-type]
        other = factories.token_for(s, factories.user(s, Role.supervisor))
        bidder = factories.token_for(s, s.get(User, world.bidders[0].user_id))  # type: ignore[arg-type]
    r = client.get(f"/api/lots/{lot_id}/my-share", headers={"Authorization": f"Bearer {sup}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "supervisor" and (body["threshold"], body["count"]) == (2, 3)
    share = envelope.unwrap(base64.b64decode(body["envelope"]), factories.custodian_key("supervisor"))
    assert sharing.Share.decode(share).index == body["index"]
    assert (
        client.get(f"/api/lots/{lot_id}/my-share", headers={"Authorization": f"Bearer {other}"}).status_code
        == 404
    )
    assert (
        client.get(f"/api/lots/{lot_id}/my-share", headers={"Authorization": f"Bearer {bidder}"}).status_code
        == 403
    )
