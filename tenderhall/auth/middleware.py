"""Resolve the caller for every request: the session cookie (pages) or a Bearer token (API).

API paths (``/api/…``) accept only Bearer tokens, so cookie-based CSRF cannot reach them; pages
accept only the cookie, and their forms carry a CSRF token.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation, Role, User, UserSession
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, utcnow

SESSION_COOKIE = "th_session"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lookup(s: Session, token: str, kind: str) -> Any:
    return s.execute(
        sa.select(UserSession, User, Organisation)
        .join(User, col(User.id) == col(UserSession.user_id))
        .outerjoin(Organisation, col(Organisation.id) == col(UserSession.organisation_id))
        .where(col(UserSession.token_hash) == hash_token(token), col(UserSession.kind) == kind)
    ).first()


async def resolve(db: Database, token: str, kind: str) -> Principal | None:
    row = await db.run(_lookup, token, kind, writes=False)
    if row is None:
        return None
    sess, user, org = row
    if sess.revoked_at is not None or sess.expires_at <= utcnow() or not user.is_active:
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        organisation_id=sess.organisation_id,
        credit_code=org.credit_code if org else None,
        certificate_fingerprint=sess.certificate_fingerprint,
    )


def auth_middleware_factory(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            principal: Principal | None = None
            db: Database = scope["app"].state.db  # type: ignore[index]
            path: str = scope.get("path", "")
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if path.startswith("/api/"):
                auth = headers.get("authorization", "")
                if auth.lower().startswith("bearer "):
                    principal = await resolve(db, auth[7:].strip(), "api")
            else:
                cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
                if cookie:
                    principal = await resolve(db, cookie, "cookie")
            scope["principal"] = principal or Principal.anonymous()  # type: ignore[typeddict-unknown-key]
        await app(scope, receive, send)

    return middleware


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


__all__: list[Any] = ["SESSION_COOKIE", "auth_middleware_factory", "hash_token", "resolve"]
