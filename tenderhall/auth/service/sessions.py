"""Sessions and tokens: a cookie session or API token is a random secret of which only the SHA-256
is stored; signing out revokes it; expired rows are purged."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.middleware import hash_token
from tenderhall.auth.models import LoginAttempt, LoginNonce, Organisation, Role, User, UserSession
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.settings import Settings


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret: returned once, only its SHA-256 is stored
    kind: str  # "cookie" | "api"
    expires_at: dt.datetime
    session_id: int


def issue_session(
    session: Session,
    settings: Settings,
    user: User,
    kind: str,
    *,
    organisation_id: int | None = None,
    certificate_fingerprint: str | None = None,
    hours: int | None = None,
    now: dt.datetime | None = None,
) -> IssuedToken:
    if kind not in ("cookie", "api"):
        raise ValueError(f"session kind is 'cookie' or 'api', got {kind!r}")
    now = now or utcnow()
    hours = hours or (settings.auth.session_hours if kind == "cookie" else settings.auth.api_token_hours)
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=hash_token(token),
        kind=kind,
        user_id=user.id,  # type: ignore[arg-type]
        organisation_id=organisation_id if organisation_id is not None else user.organisation_id,
        certificate_fingerprint=certificate_fingerprint,
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return IssuedToken(token, kind, row.expires_at, row.id)  # type: ignore[arg-type]


def revoke_session(session: Session, actor: Principal, token: str, *, now: dt.datetime | None = None) -> bool:
    """Sign out: revoke the session or token whose secret is ``token``. True when one was live."""
    row = session.execute(
        sa.select(UserSession).where(col(UserSession.token_hash) == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    session.flush()
    record(
        session, actor, "auth.logout", "user", row.user_id, f"退出登录（{row.kind}）", {"session_id": row.id}
    )
    return True


def revoke_all_sessions(session: Session, actor: Principal, user_id: int) -> int:
    now = utcnow()
    rows = (
        session.execute(
            sa.select(UserSession).where(
                col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)
            )
        )
        .scalars()
        .all()
    )
    for r in rows:
        r.revoked_at = now
    if rows:
        record(
            session, actor, "auth.session.revoke_all", "user", user_id, f"吊销该用户全部 {len(rows)} 个会话"
        )
    return len(rows)


def principal_for(
    user: User, org: Organisation | None, certificate_fingerprint: str | None = None
) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        organisation_id=org.id if org else user.organisation_id,
        credit_code=org.credit_code if org else None,
        certificate_fingerprint=certificate_fingerprint,
    )


def purge_expired(session: Session, *, now: dt.datetime | None = None, keep_days: int = 90) -> int:
    """Delete expired nonces and sessions and sign-in attempts older than ``keep_days`` (the audit
    log keeps the record of every attempt)."""
    now = now or utcnow()
    old = now - dt.timedelta(days=keep_days)
    n = 0
    for stmt in (
        sa.delete(LoginNonce).where(col(LoginNonce.expires_at) < now),
        sa.delete(UserSession).where(col(UserSession.expires_at) < old),
        sa.delete(LoginAttempt).where(col(LoginAttempt.at) < old),
    ):
        result = cast("sa.CursorResult[Any]", session.execute(stmt))
        n += result.rowcount or 0
    return n
