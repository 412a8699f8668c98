"""Organisations and users: registration under a credit code, accounts, passwords set by an
administrator, activation, and API tokens issued to a user."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service.passwords import check_password_rules, hash_password
from tenderhall.auth.service.sessions import IssuedToken, issue_session, revoke_all_sessions
from tenderhall.errors import Conflict, InvalidInput, NotFound
from tenderhall.identifiers import validate_credit_code
from tenderhall.settings import Settings


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


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
    uname = normalise_username(username)
    if not uname or len(uname) > 80 or any(c.isspace() for c in uname):
        raise InvalidInput("用户名须为 1–80 个字符且不含空格", "A username has 1–80 characters and no spaces")
    r = Role(role)
    if session.execute(sa.select(col(User.id)).where(col(User.username) == uname)).first() is not None:
        raise Conflict(f"用户名 {uname} 已被使用", f"The username {uname} is taken")
    if r in (Role.bidder, Role.tenderee, Role.agency) and organisation_id is None:
        raise InvalidInput(
            "投标人、招标人和代理机构用户必须属于一个单位",
            "Bidder, tenderee and agency users belong to an organisation",
        )
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


def set_active(session: Session, actor: Principal, user_id: int, active: bool) -> User:
    user = get_user(session, user_id)
    if user.is_active != active:
        user.is_active = active
        if not active:
            revoke_all_sessions(session, actor, user.id)  # type: ignore[arg-type]
        record(
            session,
            actor,
            "auth.user.activate" if active else "auth.user.deactivate",
            "user",
            user.id,
            f"{'启用' if active else '停用'}用户 {user.username}",
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
