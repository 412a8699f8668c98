"""The platform signing key: signs audit tree heads, receipts and every formal PDF.

An ECDSA P-256 key (PKCS#8 PEM, mode 0600) and a self-signed X.509 certificate
"TenderHall platform signing" live under ``settings.key_dir``. Both are created on first use; when
several processes start at once each writes a private temp file and ``os.link``s it into place, so
the first writer wins and everyone loads the same key.

The public key and certificate are published at ``/.well-known/tenderhall-signing-key.pem`` and
``/.well-known/tenderhall-signing-cert.pem``. Anyone can check a signature with them:

- raw signatures (:meth:`PlatformSigner.sign`): DER ECDSA-SHA256, ``openssl dgst -sha256 -verify
  key.pem -signature sig data``;
- detached CMS signatures (:meth:`PlatformSigner.sign_detached_cms`): ``openssl cms -verify -binary
  -inform DER -in data.p7s -content data -CAfile cert.pem``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tenderhall.settings import Settings

KEY_FILE = "platform-signing.key"
CERT_FILE = "platform-signing.crt"
CERT_COMMON_NAME = "TenderHall platform signing"
CERT_VALID_DAYS = 3650


def _write_once(path: Path, data: bytes, mode: int) -> bool:
    """Create ``path`` with ``data`` unless it exists. True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace: the first writer wins
        except FileExistsError:
            return False
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def _new_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CERT_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TenderHall 公共资源交易平台"),
        ]
    )
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class PlatformSigner:
    """The platform's signing key and certificate (loaded once per key folder)."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    @property
    def public_key_der(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_id(self) -> str:
        """SHA-256 (hex) of the public key's DER SubjectPublicKeyInfo."""
        return hashlib.sha256(self.public_key_der).hexdigest()

    def sign(self, data: bytes) -> bytes:
        """DER-encoded ECDSA-SHA256 signature over ``data``."""
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def verify(self, data: bytes, signature: bytes) -> bool:
        return verify_signature(self.public_key, data, signature)

    def sign_detached_cms(self, data: bytes) -> bytes:
        """A detached CMS/PKCS#7 SignedData (DER) over ``data`` carrying the platform certificate,
        accepted by ``openssl cms -verify`` and ``openssl smime -verify``."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(data)
            .add_signer(self.certificate, self.private_key, hashes.SHA256())
            .sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )


def verify_signature(
    public_key: ec.EllipticCurvePublicKey | str | bytes, data: bytes, signature: bytes
) -> bool:
    """Check a DER ECDSA-SHA256 signature with a public key (object or PEM)."""
    if isinstance(public_key, str | bytes):
        loaded = serialization.load_pem_public_key(
            public_key.encode() if isinstance(public_key, str) else public_key
        )
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            return False
        public_key = loaded
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create(key_dir: Path, *, now: dt.datetime | None = None) -> PlatformSigner:
    """Load the platform key and certificate from ``key_dir``, creating them on first use."""
    key_path = key_dir / KEY_FILE
    cert_path = key_dir / CERT_FILE
    if not key_path.exists():
        fresh = ec.generate_private_key(ec.SECP256R1())
        _write_once(
            key_path,
            fresh.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            0o600,
        )
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise RuntimeError(f"{key_path} is not an ECDSA private key")
    if not cert_path.exists():
        cert = _new_certificate(loaded, now or dt.datetime.now(dt.UTC))
        _write_once(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if certificate.public_key() != loaded.public_key():
        raise RuntimeError(f"{cert_path} does not belong to the platform key in {key_path}")
    return PlatformSigner(loaded, certificate)


_cache: dict[Path, PlatformSigner] = {}
_cache_lock = threading.Lock()


def platform_signer(settings: Settings) -> PlatformSigner:
    """The platform signer for ``settings.key_dir`` (created on first use, then cached)."""
    key_dir = Path(settings.key_dir).resolve()
    with _cache_lock:
        signer = _cache.get(key_dir)
        if signer is None:
            signer = load_or_create(key_dir)
            _cache[key_dir] = signer
        return signer
