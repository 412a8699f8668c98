"""Certificate sign-in for bidders.

1. The client asks for a nonce (:func:`issue_nonce`): random, single use, valid
   ``auth.nonce_seconds``.
2. It signs :func:`login_message` (``b"TenderHall certificate login v1\\n" + nonce``) with the
   private key of its *signing* certificate: RSA PKCS#1 v1.5 or RSA-PSS with SHA-256, or ECDSA
   P-256 with SHA-256. The fixed prefix keeps a login signature from being mistaken for a signature
   over anything else.
3. :func:`login_with_certificate` consumes the nonce, checks the signature with the certificate's
   public key, validates the certificate for signing (:func:`tenderhall.pki.validation.validate_certificate`),
   reads the company's credit code from it, finds the bidder organisation and its bidder user, and
   issues a session bound to that company and certificate.

Every refusal carries a ``reason`` a person can act on and is recorded and audited.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.middleware import hash_token
from tenderhall.auth.models import LoginNonce, Organisation, OrgKind, Role, User, UserSession
from tenderhall.auth.service.attempts import RATE_LIMITED, LoginOutcome, rate_limit_error, record_attempt
from tenderhall.auth.service.sessions import issue_session, principal_for
from tenderhall.db import utcnow
from tenderhall.errors import AppError
from tenderhall.pki.validation import (
    CertificateRejected,
    ValidatedCert,
    credit_code_candidates,
    fingerprint,
    load_certificate,
    validate_certificate,
    verify_signature,
)
from tenderhall.settings import Settings

LOGIN_PREFIX = b"TenderHall certificate login v1\n"
REGISTRATION_PREFIX = b"TenderHall bidder registration v1\n"


def login_message(nonce: str) -> bytes:
    """The bytes a client signs to sign in with ``nonce``."""
    return LOGIN_PREFIX + nonce.encode("ascii")


def registration_message(nonce: str) -> bytes:
    """The bytes a company signs to register as a bidder with ``nonce`` (its own prefix, so that a
    sign-in signature is never a registration and the other way round)."""
    return REGISTRATION_PREFIX + nonce.encode("ascii")


def issue_nonce(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> LoginNonce:
    now = now or utcnow()
    row = LoginNonce(
        nonce=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.auth.nonce_seconds),
    )
    session.add(row)
    session.flush()
    return row


class CertificateLoginRefused(AppError):
    """A refusal that is not about the certificate itself (nonce, signature, account)."""

    status = 403
    code = "certificate_login_refused"

    def __init__(self, reason_code: str, zh: str, en: str, *, status: int | None = None) -> None:
        super().__init__(zh, en, status=status, extra={"reason": reason_code})
        self.reason_code = reason_code


def _consume_nonce(session: Session, nonce: str, now: dt.datetime) -> CertificateLoginRefused | None:
    """Mark the nonce used (whatever happens next); an error when unknown, used or expired."""
    row = session.get(LoginNonce, nonce) if nonce and len(nonce) <= 64 else None
    if row is None:
        return CertificateLoginRefused(
            "unknown_nonce",
            "登录随机数无效：请重新获取随机数（POST /api/auth/certificate/nonce）后签名登录",
            "The sign-in nonce is unknown: request a new nonce (POST /api/auth/certificate/nonce) "
            "and sign it",
        )
    if row.used_at is not None:
        return CertificateLoginRefused(
            "nonce_reused",
            "该登录随机数已使用过，每个随机数只能用于一次登录：请重新获取随机数",
            "This sign-in nonce has already been used; each nonce works once: request a new one",
        )
    row.used_at = now
    session.flush()
    if row.expires_at <= now:
        return CertificateLoginRefused(
            "nonce_expired",
            "登录随机数已过期：请重新获取随机数并在有效期内完成签名登录",
            "The sign-in nonce has expired: request a new one and sign in before it expires",
        )
    return None


def login_with_certificate(
    session: Session,
    settings: Settings,
    certificate_pem: str,
    signature_b64: str,
    nonce: str,
    client_ip: str,
    *,
    intermediates: Sequence[str] = (),
    kind: str = "api",
    now: dt.datetime | None = None,
) -> LoginOutcome:
    now = now or utcnow()
    label = "certificate"
    fp: str | None = None
    user: User | None = None
    data: dict[str, object] = {}

    def refuse(err: AppError) -> LoginOutcome:
        reason = str(err.extra.get("reason", err.code))
        record_attempt(
            session,
            username=label,
            client_ip=client_ip,
            method="certificate",
            success=False,
            reason=reason,
            user=user,
            data=data,
            now=now,
        )
        return LoginOutcome(error=err)

    try:
        cert = load_certificate(certificate_pem)
        fp = fingerprint(cert)
        data["fingerprint"] = fp
        data["serial"] = format(cert.serial_number, "x")
        codes = credit_code_candidates(cert.subject)
        label = f"cert:{codes[0]}" if codes else f"cert:{fp[:16]}"
    except CertificateRejected as exc:
        return refuse(exc)

    known = bool(codes) and (
        session.execute(
            sa.select(col(Organisation.id)).where(col(Organisation.credit_code) == codes[0])
        ).first()
        is not None
    )
    # the company's failures exempt nothing and lock nothing across addresses: a signature
    # cannot be guessed, and anyone can make a certificate that names any company
    limited = rate_limit_error(
        session, settings, label if known else None, client_ip, lock_account=False, now=now
    )
    if limited is not None:
        record_attempt(
            session,
            username=label,
            client_ip=client_ip,
            method="certificate",
            success=False,
            reason=RATE_LIMITED,
            data=data,
            now=now,
        )
        return LoginOutcome(error=limited)

    nonce_error = _consume_nonce(session, nonce, now)
    if nonce_error is not None:
        return refuse(nonce_error)

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not signature or not verify_signature(cert, login_message(nonce), signature):
        return refuse(
            CertificateLoginRefused(
                "bad_signature",
                "签名校验失败：签名不是用该证书的私钥对本次登录随机数所做（可能签错了随机数或用错了证书），"
                "请重新获取随机数并用签名证书的私钥签名",
                "The signature does not verify: it was not made with this certificate's key over this "
                "sign-in nonce (wrong nonce or wrong certificate). Request a new nonce and sign it with "
                "your signing certificate's key",
            )
        )

    try:
        validated = validate_certificate(session, cert, "signing", at=now, intermediates=list(intermediates))
    except CertificateRejected as exc:
        return refuse(exc)
    data["credit_code"] = validated.credit_code
    data["ca_id"] = validated.ca_id
    label = f"cert:{validated.credit_code}"

    org = session.execute(
        sa.select(Organisation).where(col(Organisation.credit_code) == validated.credit_code)
    ).scalar_one_or_none()
    if org is None or org.kind != OrgKind.bidder:
        return refuse(
            CertificateLoginRefused(
                "unknown_company",
                f"统一社会信用代码为 {validated.credit_code} 的单位尚未在本平台登记为投标人："
                "请先办理投标人注册",
                f"No bidder with credit code {validated.credit_code} is registered on this platform: "
                "register your company as a bidder first",
            )
        )
    user = session.execute(
        sa.select(User)
        .where(
            col(User.organisation_id) == org.id,
            col(User.role) == Role.bidder.value,
            col(User.is_active).is_(True),
        )
        .order_by(col(User.id))
        .limit(1)
    ).scalar_one_or_none()
    if user is None:
        return refuse(
            CertificateLoginRefused(
                "no_bidder_account",
                f"“{org.name}”没有可用的投标人账户：请联系平台管理员开通或启用",
                f"'{org.name}' has no active bidder account: ask the platform administrator "
                "to open or enable one",
            )
        )
    user.last_login_at = now
    token = issue_session(
        session,
        settings,
        user,
        kind,
        organisation_id=org.id,
        certificate_fingerprint=validated.fingerprint,
        now=now,
    )
    data.update({"session_id": token.session_id, "kind": kind, "organisation_id": org.id})
    record_attempt(
        session,
        username=label,
        client_ip=client_ip,
        method="certificate",
        success=True,
        reason=None,
        user=user,
        data=data,
        now=now,
    )
    return LoginOutcome(token=token, principal=principal_for(user, org, validated.fingerprint))


def prove_registration(
    session: Session,
    certificate_pem: str,
    signature_b64: str,
    nonce: str,
    *,
    intermediates: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> ValidatedCert:
    """Proof that the caller holds the key of a valid signing certificate: it signed
    :func:`registration_message` over a fresh nonce (``POST /api/auth/certificate/nonce``), and
    the certificate validates for signing. Returns the validated certificate (its credit code is
    the company's); raises :class:`CertificateRejected` or :class:`CertificateLoginRefused`."""
    now = now or utcnow()
    if not (certificate_pem or "").strip() or not (signature_b64 or "").strip() or not nonce:
        raise CertificateLoginRefused(
            "certificate_proof_required",
            "投标人注册须用单位的签名证书证明身份：请获取随机数（POST /api/auth/certificate/nonce），"
            "用证书私钥对“TenderHall bidder registration v1”加换行和随机数签名，"
            "连同证书一起提交（tenderhall user cert-register 可代为完成）",
            "Registering a bidder needs proof of the company's signing certificate: request a nonce "
            '(POST /api/auth/certificate/nonce), sign "TenderHall bidder registration v1", a newline '
            "and the nonce with the certificate's key, and send it with the certificate "
            "(tenderhall user cert-register does this for you)",
        )
    cert = load_certificate(certificate_pem)
    nonce_error = _consume_nonce(session, nonce, now)
    if nonce_error is not None:
        raise nonce_error
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not signature or not verify_signature(cert, registration_message(nonce), signature):
        raise CertificateLoginRefused(
            "bad_signature",
            "签名校验失败：签名不是用该证书的私钥对本次注册随机数所做，请重新获取随机数并用签名证书的私钥签名",
            "The signature does not verify: it was not made with this certificate's key over this "
            "registration nonce. Request a new nonce and sign it with your signing certificate's key",
        )
    return validate_certificate(session, cert, "signing", at=now, intermediates=list(intermediates))


def browser_session_from_token(
    session: Session,
    settings: Settings,
    token: str,
    client_ip: str,
    *,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """A browser (cookie) session for the holder of a live API token that a *certificate*
    sign-in issued: a browser cannot sign with the certificate's key, so the bidder signs in with
    ``tenderhall user cert-login`` and pastes the token on /login/certificate. The new session is
    bound to the same company and certificate, and ends no later than the token."""
    now = now or utcnow()
    limited = rate_limit_error(session, settings, None, client_ip, now=now)
    if limited is not None:
        record_attempt(
            session,
            username="certificate-token",
            client_ip=client_ip,
            method="cert-token",
            success=False,
            reason=RATE_LIMITED,
            now=now,
        )
        return LoginOutcome(error=limited)
    row = (
        session.execute(
            sa.select(UserSession).where(
                col(UserSession.token_hash) == hash_token(token.strip()), col(UserSession.kind) == "api"
            )
        ).scalar_one_or_none()
        if token and token.strip()
        else None
    )
    user = session.get(User, row.user_id) if row is not None else None
    if (
        row is None
        or user is None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.certificate_fingerprint is None
        or not user.is_active
    ):
        record_attempt(
            session,
            username="certificate-token",
            client_ip=client_ip,
            method="cert-token",
            success=False,
            reason="bad_token",
            now=now,
        )
        return LoginOutcome(
            error=CertificateLoginRefused(
                "bad_token",
                "令牌无效、已过期或不是由证书登录取得：请在本机运行 tenderhall user cert-login，"
                "把它输出的令牌粘贴到这里",
                "The token is not valid, has expired, or did not come from a certificate sign-in: run "
                "tenderhall user cert-login on your computer and paste the token it prints here",
                status=401,
            )
        )
    issued = issue_session(
        session,
        settings,
        user,
        "cookie",
        organisation_id=row.organisation_id,
        certificate_fingerprint=row.certificate_fingerprint,
        now=now,
    )
    cookie_row = session.get(UserSession, issued.session_id)
    assert cookie_row is not None
    if cookie_row.expires_at > row.expires_at:  # never outlives the certificate sign-in
        cookie_row.expires_at = row.expires_at
        session.flush()
    org = session.get(Organisation, row.organisation_id) if row.organisation_id else None
    record_attempt(
        session,
        username=user.username,
        client_ip=client_ip,
        method="cert-token",
        success=True,
        reason=None,
        user=user,
        data={"session_id": issued.session_id, "from_session_id": row.id, "kind": "cookie"},
        now=now,
    )
    return LoginOutcome(token=issued, principal=principal_for(user, org, row.certificate_fingerprint))
