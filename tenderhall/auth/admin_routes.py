"""The administrator's user pages: the directory (search, filters, sorting, pages), a new account
(every field's error beside its field), and an account's page with its acts — disable, enable,
change role, reset TOTP — each confirmed before it is done and audited by the service.

A generated password and a TOTP secret are shown once, on the answer to the POST that made them
(never stored in clear, never in a URL, never cached)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from tenderhall import labels
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.auth.schemas import NewUserForm, RoleForm
from tenderhall.auth.service import accounts, totp, users
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError
from tenderhall.settings import Settings
from tenderhall.web.forms import form_again
from tenderhall.web.i18n import pick
from tenderhall.web.listing import Listing
from tenderhall.web.render import redirect, render

ADMIN = [requires(Role.admin)]
PER_PAGE = 20
NO_STORE = {"Cache-Control": "no-store"}
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)

#: The filters of the directory: query value -> meaning (anything else: no filter).
STATE_FILTER = {"enabled": True, "disabled": False}
TOTP_FILTER = {"on": True, "off": False}


def _role(value: str | None) -> Role | None:
    try:
        return Role(value) if value else None
    except ValueError:
        return None


@get("/admin/users", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_users(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    listing = Listing.from_query(
        request.query_params,
        sorts=list(accounts.USER_SORTS),
        default="username",
        filters=("role", "state", "totp"),
        per_page=PER_PAGE,
    )

    def load(s: Session) -> tuple[list[Any], Listing]:
        stmt = accounts.users_statement(
            listing.q,
            role=_role(listing.filter("role")),
            active=STATE_FILTER.get(listing.filter("state")),
            totp=TOTP_FILTER.get(listing.filter("totp")),
        )
        return listing.fetch(s, stmt, accounts.USER_SORTS, scalars=False)

    rows, done = await run(session, load)
    return render(
        request,
        "auth/admin_users.html",
        rows=rows,
        listing=done,
        roles=labels.options(Role),
        states=[("enabled", pick("已启用", "Enabled")), ("disabled", pick("已停用", "Disabled"))],
        totps=[("on", pick("已绑定", "Enrolled")), ("off", pick("未绑定", "Not enrolled"))],
    )


@get("/admin/users/new", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_user_new(request: Request[Any, Any, Any]) -> Template:
    return render(request, "auth/admin_user_new.html", roles=labels.options(Role))


@post("/admin/users", tags=["pages"], include_in_schema=False, guards=ADMIN, status_code=200)
async def admin_user_create(
    request: Request[Any, Any, Any],
    data: Annotated[NewUserForm, FORM],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
) -> Template:
    try:
        made = await run(session, accounts.create_from_form, principal, settings, data)
    except AppError as exc:  # every field's error beside it; form_again never sends a password back
        return form_again(request, exc, "auth/admin_user_new.html", asdict(data), roles=labels.options(Role))
    page = render(request, "auth/admin_user_created.html", made=made, status_code=201)
    page.headers.update(NO_STORE)
    return page


@get("/admin/users/{user_id:int}", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_user(request: Request[Any, Any, Any], session: RequestSession, user_id: int) -> Template:
    user, org = await run(session, accounts.user_detail, user_id)
    return render(request, "auth/admin_user.html", user=user, org=org, roles=labels.options(Role))


async def _act(session: RequestSession, user_id: int, fn: Any, *args: Any, done: tuple[str, str]) -> Redirect:
    """Do an act on the account and go back to its page, with what was done or why it was refused
    (a missing account stays a 404)."""
    back = f"/admin/users/{user_id}"
    try:
        user = await run(session, fn, *args)
    except AppError as exc:
        if exc.status == 404:
            raise
        return redirect(back, flash=pick(exc.zh, exc.en), kind="error")
    return redirect(back, flash=pick(done[0].format(u=user.username), done[1].format(u=user.username)))


@post("/admin/users/{user_id:int}/disable", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_user_disable(session: RequestSession, principal: Principal, user_id: int) -> Redirect:
    return await _act(
        session,
        user_id,
        users.set_active,
        principal,
        user_id,
        False,
        done=(
            "已停用 {u}：其全部会话和 API 令牌已失效",
            "{u} is disabled: all their sessions and API tokens have ended",
        ),
    )


@post("/admin/users/{user_id:int}/enable", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_user_enable(session: RequestSession, principal: Principal, user_id: int) -> Redirect:
    return await _act(
        session,
        user_id,
        users.set_active,
        principal,
        user_id,
        True,
        done=("已启用 {u}：可以重新登录", "{u} is enabled and can sign in again"),
    )


@post("/admin/users/{user_id:int}/role", tags=["pages"], include_in_schema=False, guards=ADMIN)
async def admin_user_role(
    data: Annotated[RoleForm, FORM], session: RequestSession, principal: Principal, user_id: int
) -> Redirect:
    role = _role(data.role)
    if role is None:
        return redirect(f"/admin/users/{user_id}", flash=pick("请选择角色", "Choose a role"), kind="error")
    zh, en = labels.label(role, lang="zh"), labels.label(role, lang="en")
    return await _act(
        session,
        user_id,
        users.change_role,
        principal,
        user_id,
        role,
        done=(f"{{u}} 的角色已改为{zh}：请其重新登录", f"{{u}} is now {en}: they sign in again"),
    )


@post(
    "/admin/users/{user_id:int}/reset-totp",
    tags=["pages"],
    include_in_schema=False,
    guards=ADMIN,
    status_code=200,
)
async def admin_user_reset_totp(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    user_id: int,
) -> Template:
    def go(s: Session) -> Any:
        user = accounts.user_detail(s, user_id)[0]
        had = bool(user.totp_secret_enc)
        return totp.reset_totp(s, principal, settings, user_id), user, had

    enrolment, user, had = await run(session, go)
    page = render(request, "auth/admin_user_totp.html", user=user, enrolment=enrolment, had=had)
    page.headers.update(NO_STORE)
    return page


ROUTES = [
    admin_users,
    admin_user_new,
    admin_user_create,
    admin_user,
    admin_user_disable,
    admin_user_enable,
    admin_user_role,
    admin_user_reset_totp,
]
