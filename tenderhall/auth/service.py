"""Identity and access: organisations, users, argon2 passwords, TOTP, sessions and tokens,
password sign-in with rate limiting. Certificate sign-in is in :mod:`tenderhall.auth.certlogin`.

Sign-in functions never raise for a refused attempt: they record the attempt (``core_login_attempt``)
and its audit event, and return a :class:`LoginOutcome` carrying the error, so that the handler
returns the refusal *and* the transaction commits the record of it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import argon2
import pyotp
import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.middleware import hash_token
from tenderhall.auth.models import LoginAttempt, Organisation, OrgKind, Role, User, UserSession
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import AppError, Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from tenderhall.identifiers import validate_credit_code
from tenderhall.keys import secret_box
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time

MIN_PASSWORD_LENGTH = 8
TOTP_ISSUER = "TenderHall"
TOTP_STEP = 30
_hasher = argon2.PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


# --- passwords ------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (an absent hash is checked against a dummy)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _check_password_rules(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters",
        )
    if password.strip().lower() == username.strip().lower():
        raise InvalidInput("密码不能与用户名相同", "The password must not be the username")


# --- organisations and users ----------------------------------------------------------------------


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
        _check_password_rules(uname, password)
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
    _check_password_rules(user.username, password)
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


# --- TOTP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32; shown once to the user (QR code / otpauth URI), stored only encrypted
    uri: str


def _totp_purpose(user_id: int) -> str:
    return f"totp:{user_id}"


def enable_totp(session: Session, actor: Principal, settings: Settings, user_id: int) -> TotpEnrolment:
    """Give the user a new TOTP secret (replacing any earlier one); stored AES-GCM encrypted."""
    user = get_user(session, user_id)
    secret = pyotp.random_base32()
    user.totp_secret_enc = secret_box(settings).seal(secret, _totp_purpose(user_id))
    user.totp_last_step = None
    session.flush()
    record(session, actor, "auth.user.enable_totp", "user", user.id, f"为用户 {user.username} 绑定动态口令")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret, uri)


def totp_secret(settings: Settings, user: User) -> str | None:
    """The user's TOTP secret in clear (for enrolment display and the demo), or None."""
    if not user.totp_secret_enc or user.id is None:
        return None
    return secret_box(settings).open(user.totp_secret_enc, _totp_purpose(user.id)).decode()


def verify_totp(
    session: Session, settings: Settings, user: User, code: str, *, now: dt.datetime | None = None
) -> bool:
    """Accept the code of the current step or one step either side (clock drift), never a step
    already used (a code observed once cannot be replayed)."""
    secret = totp_secret(settings, user)
    code = (code or "").strip().replace(" ", "")
    if secret is None or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    t = int((now or utcnow()).timestamp()) // TOTP_STEP
    for step in (t - 1, t, t + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            user.totp_last_step = step
            session.flush()
            return True
    return False


def totp_required(settings: Settings, user: User) -> bool:
    return Role(user.role).value in settings.auth.totp_roles


# --- sessions and tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret: returned once, only its SHA-256 is stored
    kind: str  # "cookie" | "api"
    expires_at: dt.datetime
    session_id: int


def issue_session(
    session: Session,
    settings: Settings,
    user: User,
    kind: str,
    *,
    organisation_id: int | None = None,
    certificate_fingerprint: str | None = None,
    hours: int | None = None,
    now: dt.datetime | None = None,
) -> IssuedToken:
    if kind not in ("cookie", "api"):
        raise ValueError(f"session kind is 'cookie' or 'api', got {kind!r}")
    now = now or utcnow()
    hours = hours or (settings.auth.session_hours if kind == "cookie" else settings.auth.api_token_hours)
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=hash_token(token),
        kind=kind,
        user_id=user.id,  # type: ignore[arg-type]
        organisation_id=organisation_id if organisation_id is not None else user.organisation_id,
        certificate_fingerprint=certificate_fingerprint,
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return IssuedToken(token, kind, row.expires_at, row.id)  # type: ignore[arg-type]


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


def revoke_session(session: Session, actor: Principal, token: str, *, now: dt.datetime | None = None) -> bool:
    """Sign out: revoke the session or token whose secret is ``token``. True when one was live."""
    row = session.execute(
        sa.select(UserSession).where(col(UserSession.token_hash) == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    session.flush()
    record(
        session, actor, "auth.logout", "user", row.user_id, f"退出登录（{row.kind}）", {"session_id": row.id}
    )
    return True


def revoke_all_sessions(session: Session, actor: Principal, user_id: int) -> int:
    now = utcnow()
    rows = (
        session.execute(
            sa.select(UserSession).where(
                col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)
            )
        )
        .scalars()
        .all()
    )
    for r in rows:
        r.revoked_at = now
    if rows:
        record(
            session, actor, "auth.session.revoke_all", "user", user_id, f"吊销该用户全部 {len(rows)} 个会话"
        )
    return len(rows)


def principal_for(
    user: User, org: Organisation | None, certificate_fingerprint: str | None = None
) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        organisation_id=org.id if org else user.organisation_id,
        credit_code=org.credit_code if org else None,
        certificate_fingerprint=certificate_fingerprint,
    )


# --- sign-in attempts, rate limiting --------------------------------------------------------------


@dataclass
class LoginOutcome:
    token: IssuedToken | None = None
    principal: Principal | None = None
    error: AppError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.token is not None

    def unwrap(self) -> IssuedToken:
        if self.error is not None:
            raise self.error
        assert self.token is not None
        return self.token


RATE_LIMITED = "rate_limited"


def _fail_times(session: Session, column: sa.ColumnElement[bool], since: dt.datetime) -> list[dt.datetime]:
    return list(
        session.execute(
            sa.select(col(LoginAttempt.at))
            .where(
                column,
                col(LoginAttempt.success).is_(False),
                col(LoginAttempt.at) > since,
                sa.or_(col(LoginAttempt.reason).is_(None), col(LoginAttempt.reason) != RATE_LIMITED),
            )
            .order_by(col(LoginAttempt.at).desc())
        ).scalars()
    )


def rate_limit_error(
    session: Session,
    settings: Settings,
    account: str | None,
    client_ip: str,
    *,
    lock_account: bool = True,
    now: dt.datetime | None = None,
) -> TooManyRequests | None:
    """429 for an attempt on ``account`` (the key of an *existing* account, or None when the name
    is empty or unknown) from ``client_ip``, or None to let it through. With ``limit`` =
    ``auth.login_max_failures`` and ``window`` = ``auth.login_window_seconds``
    (docs/decisions/0161-sign-in-rate-limits.md):

    - *account*: ``limit`` failures on the account since its last success within the window lock
      that account, from every address (unless ``lock_account`` is false: certificate sign-ins
      cannot be guessed, and a stranger must not lock a company out with made-up certificates);
    - *address*: ``limit`` failures from the address within the window refuse attempts from it
      for unknown or empty names and for accounts that have failures of their own; an account
      with no failure since its last success still gets through, so one person's typos, or a
      stranger's guesses, never lock a colleague out behind the same address.

    The message says when to retry. Attempts that were already refused here do not extend a lock.
    """
    now = now or utcnow()
    window = dt.timedelta(seconds=settings.auth.login_window_seconds)
    limit = settings.auth.login_max_failures
    retry_at: dt.datetime | None = None
    account_failures = 0
    if account:
        since = now - window
        last_ok = session.execute(
            sa.select(sa.func.max(col(LoginAttempt.at))).where(
                col(LoginAttempt.username) == account, col(LoginAttempt.success).is_(True)
            )
        ).scalar_one_or_none()
        if last_ok is not None and last_ok > since:
            since = last_ok
        times = _fail_times(session, col(LoginAttempt.username) == account, since)
        account_failures = len(times)
        if lock_account and len(times) >= limit:
            retry_at = times[limit - 1] + window
    if not account or account_failures > 0:
        ip_times = _fail_times(session, col(LoginAttempt.client_ip) == client_ip, now - window)
        if len(ip_times) >= limit:
            t = ip_times[limit - 1] + window
            retry_at = max(retry_at, t) if retry_at else t
    if retry_at is None:
        return None
    seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
    return TooManyRequests(
        f"登录失败次数过多，已暂时锁定：请于 {local_time(retry_at, '%H:%M:%S')}"
        f"（北京时间，约 {seconds} 秒后）再试",
        f"Too many failed sign-ins: try again at {local_time(retry_at, '%H:%M:%S')} Beijing time "
        f"(in about {seconds} seconds)",
        extra={"retry_after": seconds},
    )


def record_attempt(
    session: Session,
    *,
    username: str,
    client_ip: str,
    method: str,
    success: bool,
    reason: str | None,
    user: User | None = None,
    data: dict[str, object] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Every sign-in attempt is stored (for rate limiting) and audited."""
    session.add(
        LoginAttempt(
            username=username[:120],
            client_ip=client_ip[:64],
            method=method,
            success=success,
            reason=reason,
            at=now or utcnow(),
        )
    )
    actor = f"user:{user.id} {user.username}" if user is not None else f"anonymous ({client_ip[:64]})"
    verb = "成功" if success else f"被拒绝（{reason}）"
    record(
        session,
        actor,
        "auth.login.succeeded" if success else "auth.login.refused",
        "user" if user is not None else "login",
        user.id if user is not None else username[:80],
        f"{method} 登录{verb}：{username[:80]}",
        {
            "method": method,
            "username": username[:120],
            "client_ip": client_ip[:64],
            "reason": reason,
            **(data or {}),
        },
    )
    session.flush()


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
    if _hasher.check_needs_rehash(user.password_hash or ""):
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


def purge_expired(session: Session, *, now: dt.datetime | None = None, keep_days: int = 90) -> int:
    """Delete expired nonces and sessions and sign-in attempts older than ``keep_days`` (the audit
    log keeps the record of every attempt)."""
    from tenderhall.auth.models import LoginNonce

    now = now or utcnow()
    old = now - dt.timedelta(days=keep_days)
    n = 0
    for stmt in (
        sa.delete(LoginNonce).where(col(LoginNonce.expires_at) < now),
        sa.delete(UserSession).where(col(UserSession.expires_at) < old),
        sa.delete(LoginAttempt).where(col(LoginAttempt.at) < old),
    ):
        result = cast("sa.CursorResult[Any]", session.execute(stmt))
        n += result.rowcount or 0
    return n
