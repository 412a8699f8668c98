"""Custodian certificates (/api/custodian-certificates) and the lot's public opening certificate."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Controller, delete, get, post
from sqlalchemy.orm import Session

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import NotFound
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from trading.opening import certificates
from trading.opening.models import CustodianCertificate, KeyShare, OpeningKey

CUSTODIANS = [requires(Role.supervisor, Role.tenderee, Role.agency)]


class CertificateIn(msgspec.Struct):
    pem: str


def _out(c: CustodianCertificate) -> dict[str, Any]:
    return {
        "id": c.id,
        "sha256": c.sha256,
        "subject": c.subject,
        "not_after": c.not_after.isoformat(),
        "registered_at": c.registered_at.isoformat(),
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
    }


def _register(session: Session, actor: Principal, pem: str) -> dict[str, Any]:
    return _out(certificates.register_certificate(session, actor, pem))


def _mine(session: Session, actor: Principal) -> list[dict[str, Any]]:
    return [_out(c) for c in certificates.my_certificates(session, actor)]


def _revoke(session: Session, actor: Principal, certificate_id: int) -> None:
    certificates.revoke_certificate(session, actor, certificate_id)


def _opening_certificate(session: Session, settings: Settings, lot_id: int) -> dict[str, Any]:
    row = session.scalars(sa.select(OpeningKey).where(OpeningKey.lot_id == lot_id)).first()  # type: ignore[arg-type]
    if row is None:
        raise NotFound("该标段尚无开标证书", "This lot has no opening certificate")
    return {
        "lot_id": lot_id,
        "certificate_pem": row.certificate_pem,
        "certificate_sha256": row.certificate_sha256,
        "platform_certificate_pem": platform_signer(settings).certificate_pem,
    }


def _my_share(session: Session, actor: Principal, lot_id: int) -> dict[str, Any]:
    row = session.execute(
        sa.select(KeyShare, OpeningKey)
        .join(OpeningKey, KeyShare.opening_key_id == OpeningKey.id)  # type: ignore[arg-type]
        .where(OpeningKey.lot_id == lot_id, KeyShare.custodian_user_id == actor.user_id)  # type: ignore[arg-type]
    ).first()
    if row is None:
        raise NotFound("您未持有该标段的开标密钥份额", "You hold no opening key share for this lot")
    share, key = row
    return {
        "lot_id": lot_id,
        "index": share.index,
        "threshold": key.threshold,
        "count": key.count,
        "role": share.custodian_role,
        "certificate_sha256": share.certificate_sha256,
        "envelope": base64.b64encode(share.envelope).decode(),
        "submitted_at": share.submitted_at.isoformat() if share.submitted_at else None,
    }


class OpeningApi(Controller):
    path = "/api"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @post("/custodian-certificates", guards=CUSTODIANS, summary="Register a custodian encryption certificate")
    async def register(
        self, session: RequestSession, principal: Principal, data: CertificateIn
    ) -> dict[str, Any]:
        return await run(session, _register, principal, data.pem)

    @get("/custodian-certificates", guards=CUSTODIANS, summary="My custodian certificates")
    async def mine(self, session: RequestSession, principal: Principal) -> list[dict[str, Any]]:
        return await run(session, _mine, principal)

    @delete(
        "/custodian-certificates/{certificate_id:int}", guards=CUSTODIANS, summary="Revoke my certificate"
    )
    async def revoke(self, session: RequestSession, principal: Principal, certificate_id: int) -> None:
        await run(session, _revoke, principal, certificate_id)

    @get("/lots/{lot_id:int}/my-share", guards=CUSTODIANS, summary="My wrapped opening key share")
    async def my_share(self, session: RequestSession, principal: Principal, lot_id: int) -> dict[str, Any]:
        return await run(session, _my_share, principal, lot_id)

    @get("/lots/{lot_id:int}/opening-certificate", summary="The lot's opening certificate (public)")
    async def opening_certificate(
        self, session: RequestSession, settings: Settings, lot_id: int
    ) -> dict[str, Any]:
        return await run(session, _opening_certificate, settings, lot_id)
