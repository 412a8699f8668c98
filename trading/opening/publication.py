"""Each lot's opening key, made after the tender is published (decision 0276).

The publish request resolves the custodians (refusing before anything is stored when too few have
a certificate) and enqueues one ``cpu`` job per lot naming the chosen certificates; the job makes
the key in memory, splits the opening secret among those certificates and stores only the sealed
private key and the wrapped shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import SYSTEM
from tenderhall.crypto import envelope, sharing
from tenderhall.crypto.profiles import DEFAULT_PROFILE
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from tenderhall.signing import PlatformSigner
from trading.models import Lot, Tender
from trading.opening.custodians import resolve_custodians
from trading.opening.keys import make_opening_key
from trading.opening.models import CustodianCertificate, KeyShare, OpeningKey
from trading.service.procedures import procedure_settings

JOB = "trading.make_opening_key"


def schedule_opening_keys(session: Session, settings: Settings, tender: Tender, lots: list[Lot]) -> list[int]:
    """In the publish transaction: resolve the custodians (409 ``custodians_missing`` when too
    few) and enqueue one key job per lot naming each chosen certificate and its role, in share
    order. Returns the certificate ids."""
    threshold = procedure_settings(session, settings, tender.method).opening_threshold
    custodians = resolve_custodians(session, tender, threshold)
    chosen = [[c.certificate.id, str(c.role)] for c in custodians]
    for lot in lots:
        enqueue(
            session,
            JOB,
            dedup_key=f"{JOB}:{lot.id}",
            queue="cpu",
            lot_id=lot.id,
            threshold=threshold,
            custodians=chosen,
        )
    return [c.certificate.id or 0 for c in custodians]


@dataclass(frozen=True)
class KeyInputs:
    lot_id: int
    reference: str
    lot_number: int
    deadline: dt.datetime
    threshold: int
    custodians: list[tuple[int, str, str, str]]  # (user id, role, certificate PEM, its SHA-256)


@dataclass(frozen=True)
class SealedKey:
    """What is stored of a lot's opening key: nothing here opens it without k shares."""

    certificate_pem: str
    certificate_sha256: str
    encrypted_private_key: bytes
    setup: sharing.SharingSetup
    envelopes: list[bytes]


def _has_key(session: Session, lot_id: int) -> bool:
    stmt = sa.select(OpeningKey.id).where(OpeningKey.lot_id == lot_id)  # type: ignore[call-overload,arg-type]
    return session.scalars(stmt).first() is not None


def key_inputs(
    session: Session, lot_id: int, threshold: int, custodians: list[list[Any]]
) -> KeyInputs | None:
    """What the key job needs; None when the lot already has its key (the job ran before)."""
    lot = session.get(Lot, lot_id)
    if lot is None or _has_key(session, lot_id):
        return None
    tender = session.get(Tender, lot.tender_id)
    assert tender is not None
    chosen = []
    for cid, role in custodians:
        cert = session.get(CustodianCertificate, cid)
        assert cert is not None, f"custodian certificate {cid} is gone"
        chosen.append((cert.user_id, role, cert.certificate_pem, cert.sha256))
    return KeyInputs(lot_id, tender.reference, lot.number, tender.bid_deadline_at, threshold, chosen)


def seal_opening_key(signer: PlatformSigner, inputs: KeyInputs, now: dt.datetime) -> SealedKey:
    """Make the key, seal its private key under a fresh secret, split the secret and wrap each
    share to its custodian. The secret and the private key exist only in this call's memory."""
    made = make_opening_key(signer, inputs.reference, inputs.lot_number, inputs.deadline, now)
    setup, shares = sharing.split(made.secret, inputs.threshold, len(inputs.custodians))
    envelopes = [
        envelope.wrap(s.encode(), x509.load_pem_x509_certificate(pem.encode()))
        for s, (_, _, pem, _) in zip(shares, inputs.custodians, strict=True)
    ]
    return SealedKey(
        made.certificate_pem, made.certificate_sha256, made.encrypted_private_key, setup, envelopes
    )


def record_opening_key(session: Session, inputs: KeyInputs, sealed: SealedKey) -> OpeningKey | None:
    """Store the sealed key and its wrapped shares; None when another run stored them first."""
    if _has_key(session, inputs.lot_id):
        return None
    key = OpeningKey(
        lot_id=inputs.lot_id,
        certificate_pem=sealed.certificate_pem,
        certificate_sha256=sealed.certificate_sha256,
        encrypted_private_key=sealed.encrypted_private_key,
        profile=DEFAULT_PROFILE.id,
        threshold=sealed.setup.threshold,
        count=sealed.setup.count,
        share_salt=sealed.setup.salt,
        share_commitments=list(sealed.setup.commitments),
    )
    session.add(key)
    session.flush()
    for i, ((user_id, role, _, cert_sha256), env) in enumerate(
        zip(inputs.custodians, sealed.envelopes, strict=True), start=1
    ):
        session.add(
            KeyShare(
                opening_key_id=key.id,  # type: ignore[arg-type]
                index=i,
                custodian_user_id=user_id,
                custodian_role=role,
                certificate_sha256=cert_sha256,
                envelope=env,
            )
        )
    record(
        session,
        SYSTEM,
        "trading.opening_key.create",
        "lot",
        inputs.lot_id,
        f"生成开标证书：{inputs.reference} 标段{inputs.lot_number}"
        f"（{sealed.setup.threshold}/{sealed.setup.count} 份额）",
        {
            "certificate_sha256": sealed.certificate_sha256,
            "threshold": sealed.setup.threshold,
            "custodians": [
                {"user_id": u, "role": r, "certificate_sha256": c} for u, r, _, c in inputs.custodians
            ],
        },
    )
    return key
