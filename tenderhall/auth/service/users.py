"""Organisations and users: registration under a credit code, accounts, passwords set by an
administrator, activation and roles (never leaving the platform without an active administrator),
and API tokens issued to a user."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service.passwords import check_password_rules, hash_password
from tenderhall.auth.service.sessions import IssuedToken, issue_session, revoke_all_sessions
from tenderhall.errors import Conflict, InvalidInput, NotFound, RuleViolation
from tenderhall.identifiers import validate_credit_code
from tenderhall.settings import Settings

#: Roles whose users belong to an organisation (their company or agency).
ORG_ROLES = frozenset({Role.bidder, Role.tenderee, Role.agency})


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(session: Session, username: str) -> str:
    """The normalised username, if it is well formed and free; else the error to show beside it."""
    uname = normalise_username(username)
    if not uname or len(uname) > 80 or any(c.isspace() for c in uname):
        raise InvalidInput("用户名须为 1–80 个字符且不含空格", "A username has 1–80 characters and no spaces")
    if session.execute(sa.select(col(User.id)).where(col(User.username) == uname)).first() is not None:
        raise Conflict(f"用户名 {uname} 已被使用", f"The username {uname} is taken", code="username_taken")
    return uname


def org_required_error() -> InvalidInput:
    return InvalidInput(
        "投标人、招标人和代理机构用户必须属于一个单位",
        "Bidder, tenderee and agency users belong to an organisation",
        code="organisation_required",
    )


def create_organisation(
    session: Session,
    actor: Principal,
    credit_code: str,
    name: str,
    kind: OrgKind | str,
    *,
    name_en: str | None = None,
    region: str | None = None,
    address: str | None = None,
    contact_phone: str | None = None,
) -> Organisation:
    """Register an organisation under its validated unified social credit code (unique)."""
    code = validate_credit_code(credit_code)
    if not name.strip():
        raise InvalidInput("单位名称不能为空", "The organisation's name is required")
    existing = session.execute(
        sa.select(Organisation).where(col(Organisation.credit_code) == code)
    ).scalar_one_or_none()
    if existing is not None:
        # never names the existing registrant: the answer goes to whoever asks
        raise Conflict(
            f"统一社会信用代码 {code} 已在本平台登记：如为本单位的代码而非本单位所登记，请联系平台管理员",
            f"Credit code {code} is already registered on this platform: if it is your company's and "
            "you did not register it, contact the platform administrator",
            code="credit_code_registered",
        )
    org = Organisation(
        credit_code=code,
        name=name.strip(),
        name_en=name_en,
        kind=OrgKind(kind),
        region=region,
        address=address,
        contact_phone=contact_phone,
    )
    session.add(org)
    session.flush()
    record(
        session,
        actor,
        "auth.organisation.create",
        "organisation",
        org.id,
        f"登记单位 {org.name}（{code}）",
        {"credit_code": code, "kind": org.kind.value},
    )
    return org


def create_user(
    session: Session,
    actor: Principal,
    username: str,
    display_name: str,
    role: Role | str,
    *,
    password: str | None = None,
    organisation_id: int | None = None,
) -> User:
    """Create a user; bidders, tenderees and agencies belong to an organisation."""
    uname = check_username(session, username)
    r = Role(role)
    if r in ORG_ROLES and organisation_id is None:
        raise org_required_error()
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise NotFound(f"没有编号为 {organisation_id} 的单位", f"No organisation with id {organisation_id}")
    if password is not None:
        check_password_rules(uname, password)
    user = User(
        username=uname,
        display_name=display_name.strip() or uname,
        role=r,
        organisation_id=organisation_id,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "auth.user.create",
        "user",
        user.id,
        f"创建用户 {uname}（{r.value}）",
        {"username": uname, "role": r.value, "organisation_id": organisation_id},
    )
    return user


def get_user(session: Session, username_or_id: str | int) -> User:
    if isinstance(username_or_id, int):
        user = session.get(User, username_or_id)
    else:
        user = session.execute(
            sa.select(User).where(col(User.username) == normalise_username(username_or_id))
        ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username_or_id} 不存在", f"No user {username_or_id}")
    return user


def set_password(session: Session, actor: Principal, user_id: int, password: str) -> User:
    user = get_user(session, user_id)
    check_password_rules(user.username, password)
    user.password_hash = hash_password(password)
    session.flush()
    record(session, actor, "auth.user.set_password", "user", user.id, f"设置用户 {user.username} 的密码")
    return user


def _active_admins(session: Session) -> int:
    return session.execute(
        sa.select(sa.func.count())
        .select_from(User)
        .where(col(User.role) == Role.admin, col(User.is_active).is_(True))
    ).scalar_one()


def _keep_an_admin(session: Session, actor: Principal, user: User, what_zh: str, what_en: str) -> None:
    """Refuse an act that would lock the actor out or leave no active administrator: nobody
    disables or demotes themselves, and the last active administrator stays one."""
    if actor.user_id is not None and actor.user_id == user.id:
        raise RuleViolation(
            f"不能{what_zh}自己的账户：请由另一位系统管理员操作",
            f"You cannot {what_en} your own account: another administrator has to do it",
            code="own_account",
        )
    if Role(user.role) == Role.admin and user.is_active and _active_admins(session) <= 1:
        raise RuleViolation(
            f"{user.username} 是平台唯一启用的系统管理员，不能{what_zh}：请先为另一位用户设置系统管理员角色",
            f"{user.username} is the platform's only active administrator and cannot be "
            f"{'disabled' if what_en == 'disable' else 'given another role'}: "
            "make another user an administrator first",
            code="last_admin",
        )


def set_active(session: Session, actor: Principal, user_id: int, active: bool) -> User:
    """Enable or disable a user. Disabling ends every session and API token of the user (and the
    middleware refuses a disabled user's credentials in any case); nobody disables themselves or
    the last active administrator."""
    user = get_user(session, user_id)
    if user.is_active != active:
        if not active:
            _keep_an_admin(session, actor, user, "停用", "disable")
        user.is_active = active
        ended = 0
        if not active:
            ended = revoke_all_sessions(session, actor, user.id)  # type: ignore[arg-type]
        session.flush()
        record(
            session,
            actor,
            "auth.user.activate" if active else "auth.user.deactivate",
            "user",
            user.id,
            f"{'启用' if active else '停用'}用户 {user.username}",
            {"username": user.username, "sessions_ended": ended},
        )
    return user


def change_role(session: Session, actor: Principal, user_id: int, role: Role | str) -> User:
    """Give a user another role. A bidder, tenderee or agency user needs an organisation; nobody
    changes their own role, and the last active administrator keeps theirs. The user's sessions
    and API tokens end: they sign in again under the new role (whose second-factor rule may
    differ)."""
    user = get_user(session, user_id)
    new = Role(role)
    old = Role(user.role)
    if new == old:
        return user
    _keep_an_admin(session, actor, user, "更改角色", "change the role of")
    if new in ORG_ROLES and user.organisation_id is None:
        raise org_required_error()
    user.role = new
    ended = revoke_all_sessions(session, actor, user.id)  # type: ignore[arg-type]
    session.flush()
    record(
        session,
        actor,
        "auth.user.change_role",
        "user",
        user.id,
        f"将用户 {user.username} 的角色由 {old.value} 改为 {new.value}",
        {"username": user.username, "from": old.value, "to": new.value, "sessions_ended": ended},
    )
    return user


def list_users(session: Session) -> list[tuple[User, Organisation | None]]:
    rows = session.execute(
        sa.select(User, Organisation)
        .outerjoin(Organisation, col(Organisation.id) == col(User.organisation_id))
        .order_by(col(User.id))
    ).all()
    return [(u, o) for u, o in rows]


def issue_api_token(
    session: Session, actor: Principal, settings: Settings, username: str, *, hours: int | None = None
) -> IssuedToken:
    """An API token for a user, issued by an administrator (CLI ``tenderhall user token``)."""
    user = get_user(session, username)
    if not user.is_active:
        raise Conflict(f"用户 {user.username} 已停用", f"User {user.username} is deactivated")
    tok = issue_session(session, settings, user, "api", hours=hours)
    record(
        session,
        actor,
        "auth.token.issue",
        "user",
        user.id,
        f"为用户 {user.username} 签发 API 令牌",
        {"session_id": tok.session_id, "expires_at": tok.expires_at.isoformat()},
    )
    return tok
