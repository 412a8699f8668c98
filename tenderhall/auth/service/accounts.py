"""The administrator's user directory: the list of users searched, filtered and sorted, and a new
account from the browser's form, every field's error found at once.

The acts on an account (disable, enable, change role, reset TOTP) are in ``users`` and ``totp``:
every path (page, command line) goes through the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.schemas import NewUserForm
from tenderhall.auth.service.passwords import check_password_rules, generate_password
from tenderhall.auth.service.totp import TotpEnrolment, enable_totp, totp_required
from tenderhall.auth.service.users import ORG_ROLES, check_username, create_user, org_required_error
from tenderhall.errors import AppError, NotFound
from tenderhall.identifiers import validate_credit_code
from tenderhall.settings import Settings
from tenderhall.web.forms import FieldCheck

#: Sort keys of the list (query ``sort=``) and the column each orders by; roles sort in the
#: enum's order (bidder … admin), not alphabetically by code.
USER_SORTS: dict[str, Any] = {
    "username": col(User.username),
    "name": col(User.display_name),
    "role": sa.case({r.value: i for i, r in enumerate(Role)}, value=col(User.role), else_=len(Role)),
    "organisation": col(Organisation.name),
    "created": col(User.created_at),
    "last_login": col(User.last_login_at),
}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def users_statement(
    q: str = "", *, role: Role | None = None, active: bool | None = None, totp: bool | None = None
) -> sa.Select[Any]:
    """Users with their organisation: ``q`` matches (case-blind) the username, the display name,
    the organisation's name or its credit code; the filters narrow by role, enabled or disabled,
    TOTP enrolled or not."""
    stmt = cast(
        "sa.Select[Any]",
        sa.select(User, Organisation).outerjoin(
            Organisation, col(Organisation.id) == col(User.organisation_id)
        ),
    )
    q = (q or "").strip()
    if q:
        pattern = _like(q.lower())
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(col(User.username)).like(pattern, escape="\\"),
                sa.func.lower(col(User.display_name)).like(pattern, escape="\\"),
                sa.func.lower(col(Organisation.name)).like(pattern, escape="\\"),
                col(Organisation.credit_code).like(_like(q.upper()), escape="\\"),
            )
        )
    if role is not None:
        stmt = stmt.where(col(User.role) == role)
    if active is not None:
        stmt = stmt.where(col(User.is_active).is_(active))
    if totp is not None:
        stmt = stmt.where(
            col(User.totp_secret_enc).is_not(None) if totp else col(User.totp_secret_enc).is_(None)
        )
    return stmt


def user_detail(session: Session, user_id: int) -> tuple[User, Organisation | None]:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", f"No user {user_id}")
    org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    return user, org


@dataclass(frozen=True)
class CreatedUser:
    """A new account and what is shown once to the administrator who made it."""

    user: User
    organisation: Organisation | None
    password: str | None  # the generated password (never stored in clear), else None
    totp: TotpEnrolment | None  # the TOTP enrolment, for roles that sign in with a second factor


def _organisation(session: Session, credit_code: str) -> Organisation:
    code = validate_credit_code(credit_code)
    org = session.execute(
        sa.select(Organisation).where(col(Organisation.credit_code) == code)
    ).scalar_one_or_none()
    if org is None:
        raise NotFound(
            f"平台上没有统一社会信用代码为 {code} 的单位：请先登记该单位",
            f"No organisation with credit code {code} is registered: register it first",
        )
    return org


def _password(form: NewUserForm, role: Role | None, username: str, check: FieldCheck) -> str | None:
    """The password to set (typed or generated), or None for a bidder; errors go beside fields."""
    if role == Role.bidder:
        if form.password or form.password2:
            check.add(
                "password",
                "投标人使用单位的 CA 数字证书登录，不设密码：请清空密码栏",
                "Bidders sign in with their company's CA certificate and have no password: "
                "leave the password empty",
            )
        return None
    if form.pw_mode != "typed":
        return generate_password()
    if not form.password:
        check.add("password", "请输入密码，或选择由系统生成", "Type a password, or have one generated")
        return None
    try:
        check_password_rules(username, form.password)
    except AppError as exc:
        check.add("password", exc.zh, exc.en)
        return None
    if form.password != form.password2:
        check.add("password2", "两次输入的密码不一致", "The two passwords differ")
    return form.password


def create_from_form(
    session: Session, actor: Principal, settings: Settings, form: NewUserForm
) -> CreatedUser:
    """Create an account from the admin form. Every field is checked before anything is written,
    and all errors are raised together (``FieldErrors``), each for its field. Roles that sign in
    with a second factor are enrolled at once; a generated password and the TOTP secret are
    returned to be shown once."""
    check = FieldCheck()
    username = ""
    try:
        username = check_username(session, form.username)
    except AppError as exc:
        check.add("username", exc.zh, exc.en)
    if not (form.display_name or "").strip():
        check.add("display_name", "请填写姓名", "The name is required")
    role: Role | None = None
    try:
        role = Role(form.role)
    except ValueError:
        check.add("role", "请选择角色", "Choose a role")
    org: Organisation | None = None
    if (form.credit_code or "").strip():
        try:
            org = _organisation(session, form.credit_code)
        except AppError as exc:
            check.add("credit_code", exc.zh, exc.en)
    elif role in ORG_ROLES:
        missing = org_required_error()
        check.add("credit_code", missing.zh, missing.en)
    password = _password(form, role, username or form.username, check)
    check.done()
    assert role is not None
    user = create_user(
        session,
        actor,
        username,
        form.display_name,
        role,
        password=password,
        organisation_id=org.id if org else None,
    )
    enrolment = enable_totp(session, actor, settings, user.id) if totp_required(settings, user) else None  # type: ignore[arg-type]
    generated = password if password is not None and form.pw_mode != "typed" else None
    return CreatedUser(user, org, generated, enrolment)
