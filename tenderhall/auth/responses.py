"""What the sign-in routes answer with: problem details returned (not raised, so the attempt's
record commits), bearer tokens, session cookies, and the caller's address."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from tenderhall.auth import addresses
from tenderhall.auth.middleware import SESSION_COOKIE
from tenderhall.auth.schemas import TokenResponse
from tenderhall.auth.service.attempts import LoginOutcome
from tenderhall.errors import AppError, problem_language
from tenderhall.settings import Settings


def client_ip(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The caller's address (``X-Forwarded-For`` only from ``auth.trusted_proxies``)."""
    return addresses.client_ip(request, settings.auth)


def problem_response(request: Request[Any, Any, Any], err: AppError) -> Response[Any]:
    """The refusal as problem details, returned (not raised) so the attempt's record commits."""
    headers = {}
    if "retry_after" in err.extra:
        headers["Retry-After"] = str(err.extra["retry_after"])
    if err.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(
        content=err.problem(
            instance=request.url.path, lang=problem_language(request.headers.get("accept-language"))
        ),
        status_code=err.status,
        media_type="application/problem+json",
        headers=headers,
    )


def token_response(outcome: LoginOutcome) -> TokenResponse:
    tok, p = outcome.token, outcome.principal
    assert tok is not None
    assert p is not None
    assert p.role is not None
    return TokenResponse(
        token=tok.token,
        token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_at=tok.expires_at,
        username=p.username,
        role=p.role.value,
        organisation_id=p.organisation_id,
        credit_code=p.credit_code,
    )


def safe_next(nxt: str | None) -> str:
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/"
    return nxt


DESK = "/desk"


def after_sign_in(nxt: str | None) -> str:
    """Where a sign-in leads: the page the user was sent from, or, when none was asked for (or
    only the home page), the user's desk of what waits for it."""
    target = safe_next(nxt)
    return DESK if target == "/" else target


def session_cookie(settings: Settings, token: str) -> Cookie:
    """The browser session cookie: HttpOnly, SameSite=Lax, Secure under an https base URL."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.auth.session_hours * 3600,
    )
