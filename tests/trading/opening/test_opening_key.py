"""The lot's opening key: certificate signed by the platform key, private key sealed under the secret."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tenderhall.signing import load_or_create
from trading.opening.keys import make_opening_key, open_private_key

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
DEADLINE = NOW + dt.timedelta(days=20)


def test_opening_certificate_chains_to_the_platform_certificate_and_names_the_lot(tmp_path: Path) -> None:
    signer = load_or_create(tmp_path / "keys", now=NOW)
    made = make_opening_key(signer, "TH-2026-0001", 2, DEADLINE, NOW)
    cert = made.certificate
    assert cert.issuer == signer.certificate.subject
    cert.verify_directly_issued_by(signer.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "开标证书 TH-2026-0001 标段2"
    assert cert.not_valid_after_utc == DEADLINE + dt.timedelta(days=30)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and not usage.digital_signature
    assert cert.public_key().key_size == 3072  # type: ignore[union-attr]
    assert not isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_sealed_private_key_opens_only_with_the_secret_and_matches_the_certificate(tmp_path: Path) -> None:
    signer = load_or_create(tmp_path / "keys", now=NOW)
    made = make_opening_key(signer, "TH-2026-0001", 1, DEADLINE, NOW)
    key = open_private_key(made.encrypted_private_key, made.secret)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*spki) == made.certificate.public_key().public_bytes(*spki)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der not in made.encrypted_private_key and made.secret not in made.encrypted_private_key
    with pytest.raises(InvalidTag):
        open_private_key(made.encrypted_private_key, bytes(32))
