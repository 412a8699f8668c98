"""The demo's custodians register their dev-CA custodian certificates, so the demo can publish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from tenderhall.auth.demo_support import DEMO_PASSWORD
from tenderhall.auth.principal import Principal
from tenderhall.pki.devca import load_p12
from trading.opening.certificates import register_certificate
from trading.opening.models import CustodianCertificate


def register_demo_custodians(session: Session, ctx: dict[str, Any], principal_of: Any) -> None:
    """``principal_of(user_id) -> Principal``; idempotent (a certificate already registered is kept)."""
    users, certificates = ctx.get("users", {}), ctx.get("certificates", {})
    for key in ("supervisor", "tenderee", "agency"):
        if key not in users:
            continue
        actor: Principal = principal_of(session, users[key])
        path = certificates.get(actor.username, {}).get("custodian")
        if not path:
            continue
        _, cert, _ = load_p12(Path(path), DEMO_PASSWORD)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        known = session.scalars(
            sa.select(CustodianCertificate).where(
                CustodianCertificate.user_id == actor.user_id,  # type: ignore[arg-type]
                CustodianCertificate.certificate_pem == pem,  # type: ignore[arg-type]
                CustodianCertificate.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
        if known is None:
            register_certificate(session, actor, pem)
