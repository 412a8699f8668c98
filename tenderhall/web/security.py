"""Browser-facing hardening: CSRF tokens bound to the session, and security headers on every
response (docs/decisions/0163-csrf-bound-to-the-session.md, 0164-security-headers.md).

CSRF: the ``th_csrf`` cookie holds a random per-browser value; the token a form carries is
``HMAC(secret, cookie value | SHA-256 of the session cookie)``. A token is good only together with
the cookie *and* the session it was made for: a pair an attacker obtained for itself (signed out, or
signed in as itself) and planted in a victim's browser does not verify against the victim's
session. Signing in changes the session cookie, so a page loaded before must be reloaded. Paths
under ``/api/`` are exempt because they accept only Bearer tokens (``auth.middleware``); the
exemptions are path *prefixes* (Litestar's ``exclude`` patterns are searched anywhere in a path).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from tenderhall.auth.middleware import SESSION_COOKIE, hash_token

CSRF_EXEMPT_PREFIXES = ("/api/",)
"""Bearer-token only (the auth middleware never reads the session cookie there)."""
CSRF_EXEMPT_PATHS = frozenset({"/schema", "/metrics", "/health"})


def content_security_policy(connect_src: tuple[str, ...] = ()) -> str:
    """The pages' policy; ``connect_src`` adds origins scripts may fetch from (the bidder's
    signing agent, ``auth.agent_url``)."""
    return "; ".join(" ".join([d, *connect_src]) if d.startswith("connect-src ") else d for d in _POLICY)


_POLICY = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # style="…" attributes on a few pages (they cannot run script); no <style> elements
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
CONTENT_SECURITY_POLICY = content_security_policy()


def csrf_exempt(path: str) -> bool:
    return path in CSRF_EXEMPT_PATHS or path.startswith(CSRF_EXEMPT_PREFIXES)


class SessionCSRFMiddleware:
    """Double-submit CSRF whose token is also bound to the session cookie. Takes Litestar's
    ``CSRFConfig`` for the cookie's name and attributes and the header name; templates call
    ``csrf_token()`` / ``csrf_input`` as with Litestar's own middleware."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.config = config
        self._secret = config.secret.encode()

    def token(self, browser: str, session_cookie: str | None) -> str:
        bound = hash_token(session_cookie) if session_cookie else "-"
        return hmac.new(self._secret, f"{browser}|{bound}".encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or csrf_exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        request: Any = scope["litestar_app"].request_class(scope=scope, receive=receive)
        browser = request.cookies.get(self.config.cookie_name)
        session_cookie = request.cookies.get(SESSION_COOKIE)
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            fresh = not browser or len(browser) != 64
            if fresh:
                browser = secrets.token_hex(32)
            state.csrf_token = self.token(browser, session_cookie)
            await self.app(scope, receive, self._setting_cookie(send, browser) if fresh else send)
            return
        submitted = request.headers.get(self.config.header_name)
        if not submitted and request.content_type[0] in (
            RequestEncodingType.URL_ENCODED,
            RequestEncodingType.MULTI_PART,
        ):
            submitted = (await request.form()).get("_csrf_token")
        if (
            not browser
            or not isinstance(submitted, str)
            or not hmac.compare_digest(submitted.encode(), self.token(browser, session_cookie).encode())
        ):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = submitted
        await self.app(scope, receive, send)

    def _setting_cookie(self, send: Send, browser: str) -> Send:
        cookie = Cookie(
            key=self.config.cookie_name,
            value=browser,
            path=self.config.cookie_path,
            secure=self.config.cookie_secure,
            httponly=self.config.cookie_httponly,
            samesite=self.config.cookie_samesite,
            domain=self.config.cookie_domain,
        ).to_header(header="")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message).add("set-cookie", cookie)
            await send(message)

        return wrapped


def security_headers_hook(*, https: bool, connect_src: tuple[str, ...] = ()) -> Any:
    """A Litestar ``before_send`` hook (app level, so 404s and errors get the headers too)."""
    headers = {
        "content-security-policy": content_security_policy(connect_src),
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
    }
    if https:
        headers["strict-transport-security"] = "max-age=31536000"

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        present = MutableScopeHeaders.from_message(message)
        for name, value in headers.items():
            if name not in present:
                present.add(name, value)

    return hook
