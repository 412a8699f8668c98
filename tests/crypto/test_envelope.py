"""CMS envelopes for key halves: standard (OpenSSL opens them), one failure for every cause."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from tenderhall.crypto.envelope import PrivateKeyDecryptor, recipients_of, unwrap, wrap
from tenderhall.crypto.errors import EnvelopeError
from tenderhall.pki.devca import Issued
from tests.conftest import need_command
from tests.crypto.conftest import FileSigner, write_pem


def _key(issued: Issued) -> PrivateKeyDecryptor:
    assert isinstance(issued.key, rsa.RSAPrivateKey)
    return PrivateKeyDecryptor(issued.key, issued.certificate)


def test_a_wrapped_half_unwraps_with_the_recipients_key(enc: Issued) -> None:
    half = os.urandom(32)
    env = wrap(half, enc.certificate)
    assert half not in env
    assert unwrap(env, _key(enc)) == half
    [(issuer, serial)] = recipients_of(env)
    assert serial == enc.certificate.serial_number
    assert "TenderHall" in issuer


def test_cryptography_decrypts_our_envelope_too(enc: Issued) -> None:
    half = os.urandom(32)
    assert isinstance(enc.key, rsa.RSAPrivateKey)
    assert pkcs7.pkcs7_decrypt_der(wrap(half, enc.certificate), enc.certificate, enc.key, []) == half


def test_openssl_cms_decrypt_unwraps_a_half(enc: Issued, tmp_path: Path) -> None:
    need_command("openssl", "the interoperability test needs the openssl command", "openssl")
    half = os.urandom(32)
    (tmp_path / "half.der").write_bytes(wrap(half, enc.certificate))
    cert, key = write_pem(tmp_path, "enc", enc)
    out = subprocess.run(
        [
            "openssl",
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "half.der"),
            "-recip",
            str(cert),
            "-inkey",
            str(key),
            "-binary",
        ],
        capture_output=True,
        check=True,
    )
    assert out.stdout == half


def test_another_companys_key_cannot_unwrap(enc: Issued, other_enc: Issued) -> None:
    with pytest.raises(EnvelopeError):
        unwrap(wrap(os.urandom(32), enc.certificate), _key(other_enc))


def test_a_wrong_key_under_the_right_certificate_gives_the_same_refusal(
    enc: Issued, other_enc: Issued
) -> None:
    assert isinstance(other_enc.key, rsa.RSAPrivateKey)
    impostor = PrivateKeyDecryptor(other_enc.key, enc.certificate)
    with pytest.raises(EnvelopeError) as e:
        unwrap(wrap(os.urandom(32), enc.certificate), impostor)
    assert str(e.value) == str(
        EnvelopeError("无法解开数字信封", "The envelope cannot be opened with this key")
    )


@pytest.mark.parametrize("cut", [1, 40, -1])
def test_a_damaged_envelope_is_refused(enc: Issued, cut: int) -> None:
    env = bytearray(wrap(os.urandom(32), enc.certificate))
    env[cut] ^= 0xFF
    with pytest.raises(EnvelopeError):
        unwrap(bytes(env), _key(enc))


def test_garbage_is_not_an_envelope(enc: Issued) -> None:
    with pytest.raises(EnvelopeError):
        unwrap(b"not an envelope", _key(enc))


def test_envelopes_are_only_for_rsa_recipients(ec_signer: FileSigner) -> None:
    with pytest.raises(EnvelopeError, match="RSA"):
        wrap(os.urandom(32), ec_signer.certificate)


def test_the_envelope_names_its_content_cipher(enc: Issued) -> None:
    from asn1crypto import cms

    info = cms.ContentInfo.load(wrap(os.urandom(32), enc.certificate))
    algo = info["content"]["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native
    assert algo == "aes256_cbc"
