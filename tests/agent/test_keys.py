"""The agent's keys: a PKCS#11 token's key signs without leaving the token, a PKCS#12 file's key
signs; every way of failing to open a key says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from pkcs11 import Attribute
from pkcs11.exceptions import AttributeSensitive, AttributeTypeInvalid

from tenderhall.agent.keys import AgentKeyError, P12Key, Pkcs11Key
from tenderhall.auth.certlogin import login_message
from tenderhall.pki.devca import DevCA, Issued
from tenderhall.pki.validation import verify_signature
from tests.agent.conftest import EC_CODE, EC_COMPANY, RSA_CODE, RSA_COMPANY
from tests.agent.softhsm import SoftToken

NONCE = "n0nce-for-the-key-tests-0123456789"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_token_key_signs_a_login_message_that_verifies_with_its_certificate(
    tokens: dict[str, SoftToken], rsa_cert: Issued, ec_cert: Issued, kind: str
) -> None:
    tok = tokens[kind]
    key = Pkcs11Key(tok.module, tok.label, tok.pin, key_label=tok.key_label)
    try:
        cert = rsa_cert if kind == "rsa" else ec_cert
        assert key.certificate == cert.certificate  # read from the token's certificate object
        assert key.algorithm == ("rsa-pkcs1v15-sha256" if kind == "rsa" else "ecdsa-p256-sha256")
        signature = key.sign(login_message(NONCE))
        assert verify_signature(cert.certificate, login_message(NONCE), signature)
        assert not verify_signature(cert.certificate, login_message(NONCE + "x"), signature)
        assert (key.info.company, key.info.credit_code) == (
            (RSA_COMPANY, RSA_CODE) if kind == "rsa" else (EC_COMPANY, EC_CODE)
        )
    finally:
        key.close()


def test_the_token_key_is_sensitive_and_cannot_be_extracted(rsa_token: SoftToken) -> None:
    key = Pkcs11Key(rsa_token.module, rsa_token.label, rsa_token.pin, key_id=bytes.fromhex(rsa_token.key_id))
    try:
        handle = key._key  # the token's object: a handle, never the key's value
        assert handle[Attribute.SENSITIVE] is True
        assert handle[Attribute.EXTRACTABLE] is False
        with pytest.raises((AttributeSensitive, AttributeTypeInvalid)):
            handle[Attribute.PRIVATE_EXPONENT]
    finally:
        key.close()


def test_a_wrong_pin_is_refused_with_a_clear_error_that_does_not_repeat_the_pin(rsa_token: SoftToken) -> None:
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(rsa_token.module, rsa_token.label, "999999", key_label=rsa_token.key_label)
    assert exc.value.code == "wrong_pin"
    assert "PIN 码错误" in exc.value.zh
    assert "PIN is wrong" in exc.value.en
    assert "999999" not in str(exc.value)


def test_a_missing_token_names_the_tokens_present(rsa_token: SoftToken) -> None:
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(rsa_token.module, "no-such-ukey", rsa_token.pin)
    assert exc.value.code == "token_missing"
    assert "no-such-ukey" in exc.value.en
    assert "ukey-rsa" in exc.value.en
    assert "ukey-ec" in exc.value.en


def test_a_missing_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(str(tmp_path / "libnone.so"), "ukey", "1234")
    assert exc.value.code == "pkcs11_module_missing"
    assert "libnone.so" in exc.value.en


def test_a_file_that_is_not_a_pkcs11_library_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "libfake.so"
    fake.write_bytes(b"not a shared library")
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(str(fake), "ukey", "1234")
    assert exc.value.code == "pkcs11_module_unloadable"


def test_an_unknown_key_label_is_refused(rsa_token: SoftToken) -> None:
    with pytest.raises(AgentKeyError) as exc:
        Pkcs11Key(rsa_token.module, rsa_token.label, rsa_token.pin, key_label="no-such-key")
    assert exc.value.code == "key_missing"


def test_a_key_that_is_not_the_certificates_fails_the_self_test(
    rsa_token: SoftToken, agent_ca: DevCA
) -> None:
    other = agent_ca.issue("bidder-sign", name=RSA_COMPANY, credit_code=RSA_CODE)
    key = Pkcs11Key(
        rsa_token.module,
        rsa_token.label,
        rsa_token.pin,
        key_label=rsa_token.key_label,
        certificate=other.certificate,
    )
    try:
        with pytest.raises(AgentKeyError) as exc:
            key.self_test()
        assert exc.value.code == "key_certificate_mismatch"
    finally:
        key.close()


def test_a_pkcs12_key_signs_and_a_wrong_password_is_refused(p12_path: Path, rsa_cert: Issued) -> None:
    key = P12Key(p12_path, "p12-pass")
    assert verify_signature(rsa_cert.certificate, login_message(NONCE), key.sign(login_message(NONCE)))
    assert key.chain == []  # the dev CA's root stays out: the platform takes roots only from its store
    with pytest.raises(AgentKeyError) as exc:
        P12Key(p12_path, "wrong")
    assert exc.value.code == "p12_unreadable"
