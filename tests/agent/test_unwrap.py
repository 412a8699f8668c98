"""The bidder's keys open envelopes and sign CMS through one code path, on a file or on a token
(the key never leaves the token)."""

from __future__ import annotations

import os

import pytest

from tenderhall.agent.keys import AgentKeyError, P12Key, Pkcs11Key
from tenderhall.crypto.cms import sign_data, verify_signed_data
from tenderhall.crypto.envelope import unwrap, wrap
from tenderhall.crypto.errors import EnvelopeError
from tenderhall.pki.devca import Issued
from tests.agent.softhsm import SoftToken


def test_a_half_wrapped_to_the_encryption_certificate_unwraps_on_the_token(
    enc_token: SoftToken, enc_cert: Issued
) -> None:
    half = os.urandom(32)
    key = Pkcs11Key(enc_token.module, enc_token.label, enc_token.pin, key_label=enc_token.key_label)
    try:
        assert key.certificate == enc_cert.certificate
        assert unwrap(wrap(half, enc_cert.certificate), key) == half
    finally:
        key.close()


def test_the_token_refuses_an_envelope_for_another_key(enc_token: SoftToken, rsa_cert: Issued) -> None:
    key = Pkcs11Key(enc_token.module, enc_token.label, enc_token.pin, key_label=enc_token.key_label)
    try:
        with pytest.raises(EnvelopeError):
            unwrap(wrap(os.urandom(32), rsa_cert.certificate), key)
    finally:
        key.close()


def test_a_wrong_pin_stops_before_any_unwrapping(enc_token: SoftToken) -> None:
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(enc_token.module, enc_token.label, "000000", key_label=enc_token.key_label)
    assert exc.value.code == "wrong_pin"


def test_a_pkcs12_encryption_key_unwraps_the_same_envelope(enc_cert: Issued) -> None:
    assert enc_cert.path is not None
    half = os.urandom(32)
    assert unwrap(wrap(half, enc_cert.certificate), P12Key(enc_cert.path, "enc-pass")) == half


def test_a_manifest_signed_on_the_token_verifies(rsa_token: SoftToken, rsa_cert: Issued) -> None:
    key = Pkcs11Key(rsa_token.module, rsa_token.label, rsa_token.pin, key_label=rsa_token.key_label)
    try:
        signed = verify_signed_data(sign_data(b'{"manifest": 1}', key))
    finally:
        key.close()
    assert signed.signer == rsa_cert.certificate
    assert signed.content == b'{"manifest": 1}'


def test_an_ecdsa_key_cannot_open_envelopes(ec_token: SoftToken) -> None:
    key = Pkcs11Key(ec_token.module, ec_token.label, ec_token.pin, key_label=ec_token.key_label)
    try:
        with pytest.raises(AgentKeyError) as exc:
            key.decrypt_key_transport(b"\x00" * 256)
        assert exc.value.code == "unsupported_key"
    finally:
        key.close()
