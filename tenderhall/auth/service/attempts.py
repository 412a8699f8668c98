"""Sign-in attempts: every one recorded and audited, the rate limit they feed, and the outcome a
sign-in returns.

Sign-in functions never raise for a refused attempt: they record the attempt (``core_login_attempt``)
and its audit event, and return a :class:`LoginOutcome` carrying the error, so that the handler
returns the refusal *and* the transaction commits the record of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import LoginAttempt, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service.sessions import IssuedToken
from tenderhall.db import utcnow
from tenderhall.errors import AppError, TooManyRequests
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time


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
