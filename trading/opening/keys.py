"""The lot's opening key: an RSA-3072 key made in memory, its certificate signed by the platform
key, its private key (PKCS#8 DER) sealed with AES-256-GCM under a random 32-byte opening secret.
The caller splits the secret among the custodians and drops it; nothing else of the key is kept."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tenderhall.pki.devca_keys import key_usage_of
from tenderhall.pki.names import fingerprint
from tenderhall.signing import PlatformSigner

KEY_BITS = 3072
NONCE_SIZE = 12
SECRET_SIZE = 32
VALID_AFTER_DEADLINE = dt.timedelta(days=30)
#: The AES-GCM additional data binds the sealed key to its purpose.
AAD = b"TenderHall lot opening key v1"


@dataclass(frozen=True)
class NewOpeningKey:
    certificate: x509.Certificate
    certificate_pem: str
    certificate_sha256: str
    encrypted_private_key: bytes  # nonce(12) || AES-256-GCM ciphertext+tag
    secret: bytes  # the opening secret: split it, then drop it


def opening_subject(reference: str, lot_number: int) -> str:
    return f"开标证书 {reference} 标段{lot_number}"


def make_opening_key(
    signer: PlatformSigner, reference: str, lot_number: int, deadline: dt.datetime, now: dt.datetime
) -> NewOpeningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, opening_subject(reference, lot_number))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(deadline + VALID_AFTER_DEADLINE)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage_of(key_encipherment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(signer.private_key, hashes.SHA256())
    )
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secret = os.urandom(SECRET_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    sealed = nonce + AESGCM(secret).encrypt(nonce, der, AAD)
    del key, der
    return NewOpeningKey(
        certificate=cert,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        certificate_sha256=fingerprint(cert),
        encrypted_private_key=sealed,
        secret=secret,
    )


def open_private_key(encrypted_private_key: bytes, secret: bytes) -> rsa.RSAPrivateKey:
    """The private key back from the sealed bytes and the recombined secret (for the opening hall)."""
    nonce, body = encrypted_private_key[:NONCE_SIZE], encrypted_private_key[NONCE_SIZE:]
    key = serialization.load_der_private_key(AESGCM(secret).decrypt(nonce, body, AAD), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the opening key is not an RSA key")
    return key
