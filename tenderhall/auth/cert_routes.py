"""Certificate sign-in routes: the nonce and sign-in API, and the /login/certificate page (the
signing agent's sign-in, and the pasted token of ``tenderhall user cert-login`` as the fallback)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from tenderhall.auth import certlogin
from tenderhall.auth.responses import (
    after_sign_in,
    client_ip,
    problem_response,
    safe_next,
    session_cookie,
    token_response,
)
from tenderhall.auth.schemas import (
    AgentLoginRequest,
    AgentLoginResponse,
    CertificateLoginRequest,
    NonceResponse,
)
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from tenderhall.web.render import render


@post(
    "/api/auth/certificate/nonce",
    tags=["auth"],
    summary="A single-use nonce for certificate sign-in",
    status_code=200,
)
async def api_nonce(session: RequestSession, settings: Settings) -> NonceResponse:
    row = await run(session, certlogin.issue_nonce, settings)
    return NonceResponse(
        nonce=row.nonce,
        expires_at=row.expires_at,
        message_b64=base64.b64encode(certlogin.login_message(row.nonce)).decode(),
    )


@post(
    "/api/auth/certificate/login",
    tags=["auth"],
    summary="Certificate sign-in: signed nonce + signing certificate -> bearer token bound to the company",
    status_code=200,
)
async def api_certificate_login(
    request: Request[Any, Any, Any],
    data: CertificateLoginRequest,
    session: RequestSession,
    settings: Settings,
) -> Response[Any]:
    outcome = await run(
        session,
        certlogin.login_with_certificate,
        settings,
        data.certificate_pem,
        data.signature,
        data.nonce,
        client_ip(request, settings),
        intermediates=data.intermediates,
    )
    if outcome.error is not None:
        return problem_response(request, outcome.error)
    return Response(token_response(outcome), status_code=200)


@get("/login/certificate", tags=["pages"], include_in_schema=False)
async def certificate_page(request: Request[Any, Any, Any], settings: Settings) -> Template:
    return render(
        request,
        "auth/certificate.html",
        base_url=settings.base_url,
        agent_url=settings.auth.agent_url,
        next=safe_next(request.query_params.get("next")),
        error=None,
    )


@dataclass
class CertificateTokenForm:
    token: str = ""
    next: str = "/"


@post("/login/certificate", tags=["pages"], include_in_schema=False, status_code=303)
async def certificate_token_submit(
    request: Request[Any, Any, Any],
    data: Annotated[CertificateTokenForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    session: RequestSession,
    settings: Settings,
) -> Any:
    """A browser session from the token a certificate sign-in printed (tenderhall user cert-login)."""
    outcome = await run(
        session, certlogin.browser_session_from_token, settings, data.token, client_ip(request, settings)
    )
    if outcome.error is not None:
        tpl = render(
            request,
            "auth/certificate.html",
            status_code=outcome.error.status,
            base_url=settings.base_url,
            agent_url=settings.auth.agent_url,
            next=safe_next(data.next),
            error=outcome.error,
        )
        if "retry_after" in outcome.error.extra:
            tpl.headers["Retry-After"] = str(outcome.error.extra["retry_after"])
        return tpl
    assert outcome.token is not None
    return Redirect(
        path=after_sign_in(data.next),
        status_code=303,
        cookies=[session_cookie(settings, outcome.token.token)],
    )


@post("/login/certificate/agent", tags=["pages"], include_in_schema=False, status_code=200)
async def certificate_agent_submit(
    request: Request[Any, Any, Any], data: AgentLoginRequest, session: RequestSession, settings: Settings
) -> Response[Any]:
    """The sign-in page's script posts what the bidder's signing agent signed (a nonce from
    ``/api/auth/certificate/nonce``): a cookie session bound to the company in the certificate,
    or the refusal as problem details for the page to show (CSRF token in ``X-CSRFToken``)."""
    outcome = await run(
        session,
        certlogin.login_with_certificate,
        settings,
        data.certificate_pem,
        data.signature,
        data.nonce,
        client_ip(request, settings),
        intermediates=data.intermediates,
        kind="cookie",
    )
    if outcome.error is not None:
        return problem_response(request, outcome.error)
    assert outcome.token is not None
    assert outcome.principal is not None
    body = AgentLoginResponse(
        location=after_sign_in(data.next),
        username=outcome.principal.username,
        credit_code=outcome.principal.credit_code,
    )
    return Response(body, status_code=200, cookies=[session_cookie(settings, outcome.token.token)])


ROUTES = [
    api_nonce,
    api_certificate_login,
    certificate_page,
    certificate_token_submit,
    certificate_agent_submit,
]
