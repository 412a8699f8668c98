"""Client side of certificate sign-in and bidder registration (runs on the bidder's computer): load
the PKCS#12 file, ask for a nonce, sign it with the certificate's key, and exchange it for a bearer
token, or send it with the registration."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tenderhall.auth.certlogin import login_message, registration_message
from tenderhall.pki.devca import load_p12


class CertLoginFailed(Exception):
    """The platform refused the sign-in; ``reason`` and the message say why."""

    def __init__(self, status: int, reason: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CertLoginResult:
    token: str
    expires_at: str
    username: str
    credit_code: str | None


def sign_nonce(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, nonce: str, *, registration: bool = False
) -> bytes:
    data = registration_message(nonce) if registration else login_message(nonce)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _fail(resp: httpx.Response) -> CertLoginFailed:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    return CertLoginFailed(resp.status_code, body.get("reason"), body.get("detail") or resp.text[:500])


def certificate_login(
    p12: Path, password: str, base_url: str, *, client: httpx.Client | None = None, timeout: float = 30.0
) -> CertLoginResult:
    """Sign in with the certificate in ``p12``; returns the token or raises CertLoginFailed."""
    key, cert, cas = load_p12(Path(p12), password)
    own = client is None
    http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
    try:
        r = http.post("/api/auth/certificate/nonce")
        if not r.is_success:
            raise _fail(r)
        nonce = r.json()["nonce"]
        body = {
            "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "signature": base64.b64encode(sign_nonce(key, nonce)).decode(),
            "nonce": nonce,
            # intermediates only: a root is never taken from the client
            "intermediates": [
                c.public_bytes(serialization.Encoding.PEM).decode() for c in cas if c.subject != c.issuer
            ],
        }
        r = http.post("/api/auth/certificate/login", json=body)
        if not r.is_success:
            raise _fail(r)
        data = r.json()
        return CertLoginResult(data["token"], data["expires_at"], data["username"], data.get("credit_code"))
    finally:
        if own:
            http.close()


@dataclass(frozen=True)
class RegistrationResult:
    organisation_id: int
    credit_code: str
    user_id: int
    username: str


def register_with_certificate(
    p12: Path,
    password: str,
    base_url: str,
    *,
    name: str,
    username: str,
    display_name: str,
    region: str = "",
    address: str = "",
    contact_phone: str = "",
    client: httpx.Client | None = None,
    timeout: float = 30.0,
) -> RegistrationResult:
    """Register the company named in the certificate of ``p12`` as a bidder (the credit code is
    read from the certificate); raises CertLoginFailed with the platform's reason when refused."""
    from tenderhall.pki import validation

    key, cert, cas = load_p12(Path(p12), password)
    codes = validation.credit_code_candidates(cert.subject)
    own = client is None
    http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
    try:
        r = http.post("/api/auth/certificate/nonce")
        if not r.is_success:
            raise _fail(r)
        nonce = r.json()["nonce"]
        body = {
            "credit_code": codes[0] if codes else "",
            "name": name,
            "username": username,
            "display_name": display_name,
            "region": region,
            "address": address,
            "contact_phone": contact_phone,
            "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "signature": base64.b64encode(sign_nonce(key, nonce, registration=True)).decode(),
            "nonce": nonce,
            "intermediates": [
                c.public_bytes(serialization.Encoding.PEM).decode() for c in cas if c.subject != c.issuer
            ],
        }
        r = http.post("/api/trading/organisations/register", json=body)
        if not r.is_success:
            raise _fail(r)
        data = r.json()
        return RegistrationResult(
            data["organisation"]["id"], data["organisation"]["credit_code"], data["user_id"], data["username"]
        )
    finally:
        if own:
            http.close()
