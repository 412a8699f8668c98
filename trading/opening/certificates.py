"""Custodians' encryption certificates: registered by the user who will hold a key share."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden, InvalidInput, NotFound
from tenderhall.pki.validation import validate_certificate
from trading.opening.models import CustodianCertificate

CUSTODIAN_ROLES = frozenset({Role.supervisor, Role.tenderee, Role.agency})


def _load(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise InvalidInput(
            "证书格式有误：请粘贴 PEM 格式的加密证书",
            "The certificate is malformed: paste an encryption certificate in PEM form",
            extra={"field": "pem"},
        ) from exc


def register_certificate(session: Session, actor: Principal, pem: str) -> CustodianCertificate:
    if actor.user_id is None or not ({actor.role, *actor.roles} & CUSTODIAN_ROLES):
        raise Forbidden(
            "只有监督人员、招标人或招标代理人员可以登记开标密钥保管证书",
            "Only supervisors and tenderee or agency staff may register a custodian certificate",
        )
    cert = _load(pem)
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise InvalidInput(
            "证书须为 RSA 加密证书",
            "The certificate must be an RSA encryption certificate",
            extra={"field": "pem"},
        )
    validated = validate_certificate(session, cert, "encryption")
    der = cert.public_bytes(serialization.Encoding.DER)
    row = CustodianCertificate(
        user_id=actor.user_id,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha256=hashlib.sha256(der).hexdigest(),
        credit_code=validated.credit_code,
        subject=validated.subject[:500],
        not_after=validated.not_after,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "trading.custodian_certificate.register",
        "custodian_certificate",
        row.id,
        f"登记开标密钥保管证书：{row.sha256[:16]}",
        {"sha256": row.sha256},
    )
    return row


def my_certificates(session: Session, actor: Principal) -> list[CustodianCertificate]:
    stmt = (
        sa.select(CustodianCertificate)
        .where(CustodianCertificate.user_id == actor.user_id)  # type: ignore[arg-type]
        .order_by(CustodianCertificate.id)  # type: ignore[arg-type]
    )
    return list(session.scalars(stmt))


def live_certificate(session: Session, user_id: int) -> CustodianCertificate | None:
    """The user's newest unrevoked, unexpired certificate."""
    stmt = (
        sa.select(CustodianCertificate)
        .where(
            CustodianCertificate.user_id == user_id,  # type: ignore[arg-type]
            CustodianCertificate.revoked_at.is_(None),  # type: ignore[union-attr]
            CustodianCertificate.not_after > utcnow(),  # type: ignore[arg-type]
        )
        .order_by(CustodianCertificate.id.desc())  # type: ignore[union-attr]
    )
    return session.scalars(stmt).first()


def revoke_certificate(session: Session, actor: Principal, certificate_id: int) -> CustodianCertificate:
    row = session.get(CustodianCertificate, certificate_id)
    if row is None or row.user_id != actor.user_id or row.revoked_at is not None:
        raise NotFound("未找到该证书", "No such certificate")
    row.revoked_at = utcnow()
    record(
        session,
        actor,
        "trading.custodian_certificate.revoke",
        "custodian_certificate",
        row.id,
        f"撤销开标密钥保管证书：{row.sha256[:16]}",
        {"sha256": row.sha256},
    )
    return row
