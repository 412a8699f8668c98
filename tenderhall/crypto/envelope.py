"""CMS EnvelopedData (RFC 5652) for 32-byte secrets: a bid's key halves and the opening key's
shares. Never for bulk data (that is :mod:`tenderhall.crypto.stream`).

Wrapping uses ``cryptography``'s ``PKCS7EnvelopeBuilder`` (RSA PKCS#1 v1.5 key transport, AES-256-CBC
content), so ``openssl cms -decrypt`` opens an envelope. Unwrapping has one path for keys in files
and keys on tokens (decision 0261): the envelope is parsed here, the recipient's key only decrypts
the content-encryption key (:class:`KeyTransportKey`), and the content is decrypted here. Every
failure raises the same :class:`EnvelopeError`, whatever its cause."""

from __future__ import annotations

from typing import Protocol

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

from tenderhall.crypto.errors import EnvelopeError

MAX_SECRET = 4096
_CBC = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _refused() -> EnvelopeError:
    return EnvelopeError("无法解开数字信封", "The envelope cannot be opened with this key")


def wrap(secret: bytes, recipient: x509.Certificate) -> bytes:
    """A DER ContentInfo(EnvelopedData) holding ``secret`` for the RSA key of ``recipient``."""
    if not 0 < len(secret) <= MAX_SECRET:
        raise EnvelopeError("数字信封只用于短密钥", "Envelopes hold short secrets only")
    if not isinstance(recipient.public_key(), rsa.RSAPublicKey):
        raise EnvelopeError(
            "接收方证书必须是 RSA 加密证书", "The recipient certificate must be an RSA certificate"
        )
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(secret)
        .set_content_encryption_algorithm(algorithms.AES256)
        .add_recipient(recipient)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


class KeyTransportKey(Protocol):
    """A private key that can decrypt a CMS key-transport content-encryption key (a file's key or
    a token's key by handle)."""

    certificate: x509.Certificate

    def decrypt_key_transport(self, encrypted_key: bytes) -> bytes: ...


class PrivateKeyDecryptor:
    """A :class:`KeyTransportKey` over an RSA private key held in memory."""

    def __init__(self, private_key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        self._key = private_key
        self.certificate = certificate

    def decrypt_key_transport(self, encrypted_key: bytes) -> bytes:
        return self._key.decrypt(encrypted_key, padding.PKCS1v15())


def _enveloped(envelope_der: bytes) -> cms.EnvelopedData:
    try:
        info = cms.ContentInfo.load(envelope_der)
        if info["content_type"].native != "enveloped_data":
            raise _refused()
        data = info["content"]
        data.native  # noqa: B018 - parse everything now, so a malformed envelope fails here
        return data
    except EnvelopeError:
        raise
    except (ValueError, TypeError, KeyError):
        raise _refused() from None


def recipients_of(envelope_der: bytes) -> list[tuple[str, int]]:
    """(issuer name, serial number) of each key-transport recipient of the envelope."""
    out = []
    for ri in _enveloped(envelope_der)["recipient_infos"]:
        if ri.name == "ktri" and ri.chosen["rid"].name == "issuer_and_serial_number":
            ias = ri.chosen["rid"].chosen
            out.append((ias["issuer"].human_friendly, ias["serial_number"].native))
    return out


def unwrap(envelope_der: bytes, key: KeyTransportKey) -> bytes:
    """The secret in ``envelope_der``, for the recipient ``key``."""
    data = _enveloped(envelope_der)
    issuer = key.certificate.issuer.public_bytes()
    serial = key.certificate.serial_number
    encrypted_key = None
    for ri in data["recipient_infos"]:
        if ri.name != "ktri" or ri.chosen["rid"].name != "issuer_and_serial_number":
            continue
        ias = ri.chosen["rid"].chosen
        if ias["serial_number"].native == serial and ias["issuer"].dump() == issuer:
            if ri.chosen["key_encryption_algorithm"]["algorithm"].native != "rsaes_pkcs1v15":
                raise _refused()
            encrypted_key = ri.chosen["encrypted_key"].native
    if encrypted_key is None:
        raise _refused()
    eci = data["encrypted_content_info"]
    algo = eci["content_encryption_algorithm"]
    size = _CBC.get(algo["algorithm"].native)
    content = eci["encrypted_content"].native
    if size is None or content is None:
        raise _refused()
    try:
        cek = key.decrypt_key_transport(encrypted_key)
        if len(cek) != size:
            raise ValueError
        iv = algo["parameters"].native
        decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
        padded = decryptor.update(content) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, TypeError, KeyError):
        raise _refused() from None
