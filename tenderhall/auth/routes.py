"""Password sign-in and sign-out (pages and API), the current user, the users API and the admin
page of the CA trust store; certificate sign-in is in ``cert_routes``, the admin's user pages in
``admin_routes``.

Refused sign-ins are *returned* (problem details or the login page with its message), not raised,
so that the request's transaction commits the record and audit event of the attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from tenderhall.auth import admin_routes, cert_routes
from tenderhall.auth.guards import requires
from tenderhall.auth.middleware import SESSION_COOKIE
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.auth.responses import (
    after_sign_in,
    client_ip,
    problem_response,
    safe_next,
    session_cookie,
    token_response,
)
from tenderhall.auth.schemas import (
    MeResponse,
    PemUpload,
    TokenRequest,
    TrustedCAOut,
    UserOut,
)
from tenderhall.auth.service import password_login, sessions, users
from tenderhall.auth.service.attempts import LoginOutcome
from tenderhall.db import RequestSession, run, utcnow
from tenderhall.errors import AppError
from tenderhall.pki import truststore
from tenderhall.settings import Settings
from tenderhall.web.forms import form_again, on_field
from tenderhall.web.i18n import pick
from tenderhall.web.render import add_nav, redirect, render

add_nav("/admin/users", "用户管理", "Users", {Role.admin})
add_nav("/admin/trust-store", "CA 信任列表", "CA trust store", {Role.admin})


# --- API --------------------------------------------------------------------------------------------


async def _password_sign_in(
    session: RequestSession,
    settings: Settings,
    username: str,
    password: str,
    totp: str | None,
    request: Request[Any, Any, Any],
    *,
    kind: str = "api",
) -> LoginOutcome:
    """A password sign-in in two calls: the read-only check (rate limit and argon2), then the
    short write that records the attempt and issues the session."""
    ip, now = client_ip(request, settings), utcnow()
    check = await session.read(password_login.check_password, settings, username, password, ip, now=now)
    return await run(
        session, password_login.finish_password_login, settings, check, password, totp, ip, kind=kind, now=now
    )


@post("/api/auth/token", tags=["auth"], summary="Password (+TOTP) sign-in: a bearer token", status_code=200)
async def api_token(
    request: Request[Any, Any, Any], data: TokenRequest, session: RequestSession, settings: Settings
) -> Response[Any]:
    outcome = await _password_sign_in(session, settings, data.username, data.password, data.totp, request)
    if outcome.error is not None:
        return problem_response(request, outcome.error)
    return Response(token_response(outcome), status_code=200)


def _bearer(request: Request[Any, Any, Any]) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


@post(
    "/api/auth/logout",
    tags=["auth"],
    summary="Revoke this bearer token",
    guards=[requires()],
    status_code=204,
)
async def api_logout(request: Request[Any, Any, Any], session: RequestSession, principal: Principal) -> None:
    await run(session, sessions.revoke_session, principal, _bearer(request))


@get("/api/auth/me", tags=["auth"], summary="Who am I", guards=[requires()])
async def api_me(principal: Principal) -> MeResponse:
    assert principal.user_id is not None
    assert principal.role is not None
    return MeResponse(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role.value,
        organisation_id=principal.organisation_id,
        credit_code=principal.credit_code,
        certificate_fingerprint=principal.certificate_fingerprint,
    )


def _users(s: Session) -> list[UserOut]:
    return [
        UserOut(
            id=u.id,  # type: ignore[arg-type]
            username=u.username,
            display_name=u.display_name,
            role=str(u.role),
            organisation_id=u.organisation_id,
            organisation_name=o.name if o else None,
            credit_code=o.credit_code if o else None,
            is_active=u.is_active,
            totp_enabled=bool(u.totp_secret_enc),
            last_login_at=u.last_login_at,
        )
        for u, o in users.list_users(s)
    ]


def _cas(s: Session) -> list[TrustedCAOut]:
    return [
        TrustedCAOut(
            id=ca.id,  # type: ignore[arg-type]
            name=ca.name,
            subject=ca.subject,
            fingerprint=ca.fingerprint,
            not_after=ca.not_after,
            active=ca.active,
            revoked_count=n,
            last_crl_at=last.this_update if last else None,
        )
        for ca, n, last in truststore.overview(s)
    ]


@get("/api/auth/users", tags=["auth"], summary="Users (admin)", guards=[requires(Role.admin)])
async def api_users(session: RequestSession) -> list[UserOut]:
    return await run(session, _users)


@get("/api/pki/cas", tags=["pki"], summary="The CA trust store (admin)", guards=[requires(Role.admin)])
async def api_cas(session: RequestSession) -> list[TrustedCAOut]:
    return await run(session, _cas)


@post("/api/pki/cas", tags=["pki"], summary="Trust a CA certificate (admin)", guards=[requires(Role.admin)])
async def api_import_ca(data: PemUpload, session: RequestSession, principal: Principal) -> TrustedCAOut:
    def go(s: Session) -> TrustedCAOut:
        row = truststore.import_ca(s, principal, data.pem, data.name)
        return next(c for c in _cas(s) if c.id == row.id)

    return await run(session, go)


@post("/api/pki/crls", tags=["pki"], summary="Import a CRL (admin)", guards=[requires(Role.admin)])
async def api_import_crl(data: PemUpload, session: RequestSession, principal: Principal) -> TrustedCAOut:
    def go(s: Session) -> TrustedCAOut:
        imp = truststore.import_crl(s, principal, data.pem)
        return next(c for c in _cas(s) if c.id == imp.ca_id)

    return await run(session, go)


# --- pages ------------------------------------------------------------------------------------------


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    totp: str = ""
    next: str = "/"


@get("/login", tags=["pages"], include_in_schema=False)
async def login_page(request: Request[Any, Any, Any]) -> Template:
    return render(request, "auth/login.html", next=safe_next(request.query_params.get("next")), error=None)


@post("/login", tags=["pages"], include_in_schema=False, status_code=303)
async def login_submit(
    request: Request[Any, Any, Any],
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    session: RequestSession,
    settings: Settings,
) -> Any:
    outcome = await _password_sign_in(
        session, settings, data.username, data.password, data.totp or None, request, kind="cookie"
    )
    if outcome.error is not None:
        headers = (
            {"Retry-After": str(outcome.error.extra["retry_after"])}
            if "retry_after" in outcome.error.extra
            else {}
        )
        tpl = render(
            request,
            "auth/login.html",
            status_code=outcome.error.status,
            next=safe_next(data.next),
            error=outcome.error,
            username=data.username,
        )
        tpl.headers.update(headers)
        return tpl
    assert outcome.token is not None
    return Redirect(
        path=after_sign_in(data.next),
        status_code=303,
        cookies=[session_cookie(settings, outcome.token.token)],
    )


@post("/logout", tags=["pages"], include_in_schema=False, status_code=303)
async def logout_submit(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run(session, sessions.revoke_session, principal, token)
    resp = redirect("/")
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@get("/admin/trust-store", tags=["pages"], include_in_schema=False, guards=[requires(Role.admin)])
async def admin_trust_store(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    return render(request, "auth/admin_trust_store.html", cas=await run(session, _cas))


@dataclass
class PemForm:
    pem: str = ""
    what: str = "ca"  # "ca" | "crl"


@post(
    "/admin/trust-store",
    tags=["pages"],
    include_in_schema=False,
    guards=[requires(Role.admin)],
    status_code=303,
)
async def admin_trust_store_import(
    request: Request[Any, Any, Any],
    data: Annotated[PemForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    session: RequestSession,
    principal: Principal,
) -> Redirect | Template:
    importer = truststore.import_crl if data.what == "crl" else truststore.import_ca
    try:
        await run(session, importer, principal, data.pem)
    except AppError as exc:
        values = {"what": data.what, "pem": data.pem}
        cas = await run(session, _cas)
        return form_again(request, on_field(exc, "pem"), "auth/admin_trust_store.html", values, cas=cas)
    done = pick("已导入 CRL", "CRL imported") if data.what == "crl" else pick("已导入 CA", "CA imported")
    return redirect("/admin/trust-store", flash=done)


ROUTES = [
    api_token,
    api_logout,
    api_me,
    api_users,
    api_cas,
    api_import_ca,
    api_import_crl,
    login_page,
    login_submit,
    logout_submit,
    admin_trust_store,
    admin_trust_store_import,
    *cert_routes.ROUTES,
    *admin_routes.ROUTES,
]
