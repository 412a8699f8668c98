"""Password sign-in (with TOTP for ``auth.totp_roles``), in two steps: a read-only check of the
rate limit and the password, then a short write that records the attempt and issues the session.
Bidders never sign in by password (certificate sign-in is in :mod:`tenderhall.auth.certlogin`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation, Role, User
from tenderhall.auth.service.attempts import RATE_LIMITED, LoginOutcome, rate_limit_error, record_attempt
from tenderhall.auth.service.passwords import hash_password, needs_rehash, verify_password
from tenderhall.auth.service.sessions import issue_session, principal_for
from tenderhall.auth.service.totp import totp_required, verify_totp
from tenderhall.auth.service.users import normalise_username
from tenderhall.db import utcnow
from tenderhall.errors import AppError, Unauthorized
from tenderhall.settings import Settings

CERTIFICATE_REQUIRED = "certificate_required"


def certificate_required() -> AppError:
    return AppError(
        "投标人须使用单位的 CA 数字证书登录，不能使用密码登录：请按 /login/certificate 页面的说明，"
        "用签名证书登录（tenderhall user cert-login）",
        "Bidders sign in with their company's CA certificate, not with a password: see "
        "/login/certificate and sign in with your signing certificate (tenderhall user cert-login)",
        status=403,
        code=CERTIFICATE_REQUIRED,
    )


def _bad_credentials() -> Unauthorized:
    return Unauthorized("用户名或密码错误", "Wrong username or password", code="bad_credentials")


@dataclass(frozen=True)
class PasswordCheck:
    """What the read-only first step of a password sign-in found (:func:`check_password`)."""

    username: str  # normalised
    user_id: int | None
    verified_hash: str | None  # the password hash the password matched, None if it did not
    limited: AppError | None  # the rate limit refused the attempt before the password was checked


def check_password(
    session: Session, settings: Settings, username: str, password: str, client_ip: str, *, now: dt.datetime
) -> PasswordCheck:
    """The first step of a password sign-in, which writes nothing: the rate limit, then the
    password (argon2, slow by design, so it runs outside any write transaction: on SQLite a
    writing transaction holds the database's one write lock)."""
    uname = normalise_username(username)
    user = (
        session.execute(sa.select(User).where(col(User.username) == uname)).scalar_one_or_none()
        if uname
        else None
    )
    limited = rate_limit_error(session, settings, uname if user else None, client_ip, now=now)
    if limited is not None:
        return PasswordCheck(uname, None, None, limited)
    ok = verify_password(user.password_hash if user else None, password or "") and user is not None
    return PasswordCheck(uname, user.id if user else None, user.password_hash if ok and user else None, None)


def login_with_password(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    totp_code: str | None,
    client_ip: str,
    *,
    kind: str = "api",
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Password (and, for ``auth.totp_roles``, TOTP) sign-in in one session: both steps."""
    now = now or utcnow()
    check = check_password(session, settings, username, password, client_ip, now=now)
    return finish_password_login(session, settings, check, password, totp_code, client_ip, kind=kind, now=now)


def finish_password_login(
    session: Session,
    settings: Settings,
    check: PasswordCheck,
    password: str,
    totp_code: str | None,
    client_ip: str,
    *,
    kind: str = "api",
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """The second step of a password sign-in (a short write): record the attempt, and for a
    right password check the account and the second factor and issue a cookie session or API
    token. A password changed since the first step counts as wrong."""
    now = now or utcnow()
    uname = check.username

    def refused(
        reason: str, error: AppError, user: User | None = None, method: str = "password"
    ) -> LoginOutcome:
        """Record the refused attempt (and its audit event) and return the refusal."""
        record_attempt(
            session,
            username=uname,
            client_ip=client_ip,
            method=method,
            success=False,
            reason=reason,
            user=user,
            now=now,
        )
        return LoginOutcome(error=error)

    if check.limited is not None:
        return refused(RATE_LIMITED, check.limited)
    user = session.get(User, check.user_id) if check.user_id is not None else None
    if user is None or check.verified_hash is None or user.password_hash != check.verified_hash:
        return refused("bad_password", _bad_credentials(), user)
    if not user.is_active:
        return refused(
            "inactive",
            AppError(
                "该账户已停用，请联系管理员",
                "This account is deactivated: contact the administrator",
                status=403,
                code="inactive",
            ),
            user,
        )
    if Role(user.role) == Role.bidder:
        # Bidders sign in with their company's CA certificate only (DOMAIN.md section 1): a
        # password someone set on a bidder account is never a way in. Checked after the password,
        # so that this answer does not tell a stranger which usernames are bidders.
        return refused(CERTIFICATE_REQUIRED, certificate_required(), user)
    method = "password"
    if totp_required(settings, user):
        method = "totp"
        if not user.totp_secret_enc:
            return refused(
                "totp_not_enrolled",
                AppError(
                    "该账户尚未绑定动态口令（TOTP），请联系管理员运行 tenderhall user totp 绑定后再登录",
                    "This account has no TOTP second factor yet: ask the administrator to enrol one "
                    "(tenderhall user totp) before signing in",
                    status=403,
                    code="totp_not_enrolled",
                ),
                user,
                method,
            )
        if not totp_code or not verify_totp(session, settings, user, totp_code, now=now):
            return refused(
                "bad_totp",
                Unauthorized(
                    "动态口令错误或已被使用：请输入验证器应用中当前显示的 6 位数字",
                    "The one-time code is wrong or was already used: "
                    "enter the 6 digits your authenticator shows now",
                    code="bad_totp",
                ),
                user,
                method,
            )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    token = issue_session(session, settings, user, kind, now=now)
    record_attempt(
        session,
        username=uname,
        client_ip=client_ip,
        method=method,
        success=True,
        reason=None,
        user=user,
        data={"session_id": token.session_id, "kind": kind},
        now=now,
    )
    return LoginOutcome(token=token, principal=principal_for(user, org))
