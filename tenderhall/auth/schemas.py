"""API inputs and outputs of identity, access and the trust store (never table models)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class TokenRequest:
    username: str
    password: str
    totp: str | None = None  # required for roles in TENDERHALL_AUTH__TOTP_ROLES


@dataclass
class TokenResponse:
    token: str
    token_type: str
    expires_at: dt.datetime
    username: str
    role: str
    organisation_id: int | None = None
    credit_code: str | None = None


@dataclass
class NonceResponse:
    nonce: str
    expires_at: dt.datetime
    #: base64 of the exact bytes to sign: b"TenderHall certificate login v1\n" + nonce
    message_b64: str
    algorithms: list[str] = field(
        default_factory=lambda: ["RSA PKCS#1 v1.5 SHA-256", "RSA-PSS SHA-256", "ECDSA P-256 SHA-256"]
    )


@dataclass
class CertificateLoginRequest:
    certificate_pem: str  # the signing certificate (PEM)
    signature: str  # base64 signature over NonceResponse.message_b64's bytes
    nonce: str
    intermediates: list[str] = field(default_factory=list)  # PEM of intermediate CAs, if any


@dataclass
class AgentLoginRequest(CertificateLoginRequest):
    """What the sign-in page posts after the signing agent signed the nonce."""

    next: str = "/"


@dataclass
class AgentLoginResponse:
    location: str  # where the page goes next (a path on this platform)
    username: str
    credit_code: str | None


@dataclass
class MeResponse:
    user_id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    credit_code: str | None
    certificate_fingerprint: str | None


@dataclass
class UserOut:
    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    organisation_name: str | None
    credit_code: str | None
    is_active: bool
    totp_enabled: bool
    last_login_at: dt.datetime | None


@dataclass
class TrustedCAOut:
    id: int
    name: str
    subject: str
    fingerprint: str
    not_after: dt.datetime
    active: bool
    revoked_count: int
    last_crl_at: dt.datetime | None


@dataclass
class PemUpload:
    pem: str
    name: str | None = None


@dataclass
class NewUserForm:
    """The admin page's form for a new account (``POST /admin/users``)."""

    username: str = ""
    display_name: str = ""
    role: str = ""
    credit_code: str = ""  # the organisation's unified social credit code
    pw_mode: str = "generate"  # "generate" (shown once) | "typed"; not named *password*: kept on errors
    password: str = ""
    password2: str = ""


@dataclass
class RoleForm:
    role: str = ""
