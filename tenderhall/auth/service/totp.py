"""TOTP second factor: a secret per user, stored encrypted; a code is good for one use."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

import pyotp
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.models import Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service.sessions import revoke_all_sessions
from tenderhall.auth.service.users import get_user
from tenderhall.db import utcnow
from tenderhall.errors import RuleViolation
from tenderhall.keys import secret_box
from tenderhall.settings import Settings

TOTP_ISSUER = "TenderHall"


TOTP_STEP = 30


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


def reset_totp(session: Session, actor: Principal, settings: Settings, user_id: int) -> TotpEnrolment:
    """Replace a user's second factor (a lost or exposed authenticator): the old secret stops
    working at once, every session and API token of the user ends, and the new secret is returned
    to be shown once, for the user to enrol in their authenticator before signing in again."""
    user = get_user(session, user_id)
    if Role(user.role) == Role.bidder:
        raise RuleViolation(
            "投标人使用单位的 CA 数字证书登录，没有动态口令",
            "Bidders sign in with their company's CA certificate and have no TOTP",
            code="bidder_no_totp",
        )
    had = bool(user.totp_secret_enc)
    ended = revoke_all_sessions(session, actor, user_id)
    record(
        session,
        actor,
        "auth.user.reset_totp",
        "user",
        user.id,
        f"重置用户 {user.username} 的动态口令",
        {"username": user.username, "had_totp": had, "sessions_ended": ended},
    )
    return enable_totp(session, actor, settings, user_id)


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
