"""Keys and PKCS#12 files of the development CA (:mod:`tenderhall.pki.devca`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

KeyType = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class DevCAError(Exception):
    """The development CA cannot do what was asked (missing folder, unknown serial…)."""


def new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def key_usage_of(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    data_encipherment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=data_encipherment,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def write_p12(
    out: Path,
    key: PrivateKey,
    cert: x509.Certificate,
    cas: list[x509.Certificate],
    password: str,
    *,
    friendly_name: str = "tenderhall",
) -> None:
    data = pkcs12.serialize_key_and_certificates(
        friendly_name.encode(),
        key,
        cert,
        cas,
        serialization.BestAvailableEncryption(password.encode()),
    )
    write_private(Path(out), data)


def load_p12(path: Path, password: str) -> tuple[PrivateKey, x509.Certificate, list[x509.Certificate]]:
    """Key, certificate and the CA certificates of a PKCS#12 file."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(Path(path).read_bytes(), password.encode())
    except ValueError:
        raise DevCAError(f"{path}: wrong password or not a PKCS#12 file") from None
    if key is None or cert is None:
        raise DevCAError(f"{path}: the PKCS#12 file holds no private key and certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise DevCAError(f"{path}: only RSA and ECDSA P-256 keys are supported")
    return key, cert, list(extra or [])


def random_password() -> str:
    return secrets.token_urlsafe(12)
