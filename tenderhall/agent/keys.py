"""The agent's keys: a company's signing key from a PKCS#12 file or a PKCS#11 token (UKey).

Every key is a :class:`SigningKey`: a certificate, the intermediates to send with it, and
``sign(data) -> bytes`` (RSA PKCS#1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256 in DER form,
the two :func:`tenderhall.pki.validation.verify_signature` accepts), and
``decrypt_key_transport(encrypted_key) -> bytes`` (RSA PKCS#1 v1.5), which unwraps a CMS envelope
(a bid's key half, a custodian's share) through :func:`tenderhall.crypto.envelope.unwrap`. A token's key
is used through its handle: its value never leaves the token, and the PIN is kept only by the
PKCS#11 session it opened.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tenderhall.pki.devca import DevCAError, load_p12

Algorithm = Literal["rsa-pkcs1v15-sha256", "ecdsa-p256-sha256"]
SELF_TEST = b"TenderHall signing agent self-test v1\n"
"""Signed once at start-up to prove the key belongs to the certificate (never a login message)."""


class AgentKeyError(Exception):
    """The key cannot be opened or used; ``code`` names the case, the text says what to do."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh}\n{en}")
        self.code = code
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class CertificateInfo:
    """What the agent shows about its certificate (terminal, ``GET /v1/status``)."""

    company: str
    credit_code: str
    subject: str
    fingerprint: str
    not_after: str


def describe(cert: x509.Certificate) -> CertificateInfo:
    from tenderhall.pki import validation

    orgs = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    company = str((orgs or cns)[0].value) if (orgs or cns) else cert.subject.rfc4514_string()
    try:
        code = validation.credit_code_of(cert)
    except validation.CertificateRejected:
        code = ""
    return CertificateInfo(
        company=company,
        credit_code=code,
        subject=cert.subject.rfc4514_string(),
        fingerprint=validation.fingerprint(cert),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


class SigningKey(ABC):
    """A private key the agent signs with, and its certificate."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]

    @property
    @abstractmethod
    def algorithm(self) -> Algorithm: ...

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (hashed with SHA-256 here or on the token)."""

    @abstractmethod
    def decrypt_key_transport(self, encrypted_key: bytes) -> bytes:
        """Decrypt a CMS key-transport content-encryption key (RSA PKCS#1 v1.5) with the key."""

    def close(self) -> None:  # noqa: B027 - a file has nothing to release
        """Release the token session (nothing for a file)."""

    @property
    def info(self) -> CertificateInfo:
        return describe(self.certificate)

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def chain_pem(self) -> list[str]:
        return [c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain]

    def self_test(self) -> None:
        """Sign :data:`SELF_TEST` and verify it with the certificate's public key: a key that is
        not the certificate's is refused at start-up, not at the first sign-in."""
        from tenderhall.pki.validation import verify_signature

        if not verify_signature(self.certificate, SELF_TEST, self.sign(SELF_TEST)):
            raise AgentKeyError(
                "key_certificate_mismatch",
                "私钥与证书不匹配：请选择与该证书对应的私钥（检查密钥标签或 ID）",
                "The private key does not belong to the certificate: choose the key that matches it "
                "(check the key label or id)",
            )


def _intermediates(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """CA certificates worth sending: never a root (the platform takes roots only from its store)."""
    return [c for c in certs if c.subject != c.issuer]


def _algorithm_of(cert: x509.Certificate) -> Algorithm:
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return "rsa-pkcs1v15-sha256"
    if isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1):
        return "ecdsa-p256-sha256"
    raise AgentKeyError(
        "unsupported_key",
        "证书的密钥类型不受支持：仅支持 RSA 和 ECDSA P-256",
        "The certificate's key type is not supported: only RSA and ECDSA P-256 are",
    )


class P12Key(SigningKey):
    """Key and certificate from a password-protected PKCS#12 file."""

    def __init__(self, path: Path, password: str) -> None:
        if not Path(path).is_file():
            raise AgentKeyError(
                "p12_missing",
                f"找不到 PKCS#12 证书文件 {path}",
                f"The PKCS#12 file {path} does not exist",
            )
        try:
            key, cert, cas = load_p12(Path(path), password)
        except DevCAError:
            raise AgentKeyError(
                "p12_unreadable",
                f"无法打开 {path}：证书密码错误，或文件不是 PKCS#12 格式",
                f"Cannot open {path}: wrong password, or not a PKCS#12 file",
            ) from None
        self._key = key
        self.certificate = cert
        self.chain = _intermediates(cas)
        self._algorithm = _algorithm_of(cert)

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def decrypt_key_transport(self, encrypted_key: bytes) -> bytes:
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise _not_rsa()
        return self._key.decrypt(encrypted_key, padding.PKCS1v15())


def _not_rsa() -> AgentKeyError:
    return AgentKeyError(
        "unsupported_key",
        "该密钥不能解密数字信封：加密证书必须是 RSA 证书",
        "This key cannot open envelopes: the encryption certificate must be an RSA certificate",
    )


def _pkcs11_error(code: str, zh: str, en: str) -> AgentKeyError:
    return AgentKeyError(code, zh, en)


class Pkcs11Key(SigningKey):
    """A private key on a PKCS#11 token, used through its handle (the value never leaves the
    token). The certificate is the token's certificate object with the key's id (or label), or
    the one given. One logged-in session is kept for the agent's life; calls are serialised."""

    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        *,
        key_label: str | None = None,
        key_id: bytes | None = None,
        certificate: x509.Certificate | None = None,
        chain: list[x509.Certificate] | None = None,
    ) -> None:
        import pkcs11
        from pkcs11 import Attribute, ObjectClass

        self._lock = threading.Lock()
        if not Path(module).is_file():
            raise _pkcs11_error(
                "pkcs11_module_missing",
                f"找不到 PKCS#11 模块 {module}：请安装 UKey 驱动，或用 --pkcs11-module 指定驱动库文件的路径",
                f"The PKCS#11 module {module} does not exist: install the UKey's driver or give the "
                "path of its library with --pkcs11-module",
            )
        try:
            lib = pkcs11.lib(module)
        except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
            raise _pkcs11_error(
                "pkcs11_module_unloadable",
                f"无法加载 PKCS#11 模块 {module}（{type(exc).__name__}）："
                "它不是 PKCS#11 驱动库，或与本机不兼容",
                f"Cannot load the PKCS#11 module {module} ({type(exc).__name__}): it is not a PKCS#11 "
                "library or does not fit this computer",
            ) from None
        try:
            token = lib.get_token(token_label=token_label)
        except pkcs11.NoSuchToken:
            present = sorted(str(t.label) for t in lib.get_tokens())
            listed = "、".join(present) if present else "无"
            raise _pkcs11_error(
                "token_missing",
                f"没有找到标签为“{token_label}”的 UKey：请插入 UKey 后重试（当前可见：{listed}）",
                f"No token labelled '{token_label}' is present: insert the UKey and try again "
                f"(tokens present: {', '.join(present) or 'none'})",
            ) from None
        except pkcs11.MultipleTokensReturned:
            raise _pkcs11_error(
                "token_ambiguous",
                f"有多个标签为“{token_label}”的 UKey：请只插入一个",
                f"Several tokens are labelled '{token_label}': insert only one",
            ) from None
        try:
            self._session = token.open(user_pin=pin)
        except pkcs11.PinIncorrect:
            raise _pkcs11_error(
                "wrong_pin",
                "UKey 的 PIN 码错误：请重新输入（多次输错会锁定 UKey）",
                "The token's PIN is wrong: enter it again (too many wrong PINs lock the token)",
            ) from None
        except pkcs11.PinLocked:
            raise _pkcs11_error(
                "pin_locked",
                "UKey 的 PIN 已被锁定：请联系签发证书的 CA 解锁",
                "The token's PIN is locked: ask the certificate's CA to unlock it",
            ) from None
        except pkcs11.PinLenRange:
            raise _pkcs11_error(
                "wrong_pin",
                "UKey 的 PIN 码长度不对：请重新输入",
                "The token's PIN has the wrong length: enter it again",
            ) from None
        try:
            try:
                self._key: Any = self._session.get_key(ObjectClass.PRIVATE_KEY, label=key_label, id=key_id)
            except pkcs11.NoSuchKey:
                raise _pkcs11_error(
                    "key_missing",
                    "UKey 中没有找到指定的私钥：请检查 --key-label 或 --key-id",
                    "The token holds no such private key: check --key-label or --key-id",
                ) from None
            except pkcs11.MultipleObjectsReturned:
                raise _pkcs11_error(
                    "key_ambiguous",
                    "UKey 中有多个私钥：请用 --key-label 或 --key-id 指定签名私钥",
                    "The token holds several private keys: choose the signing key with --key-label or "
                    "--key-id",
                ) from None
            if certificate is None:
                certificate = self._token_certificate(
                    ObjectClass, Attribute, self._key[Attribute.ID], self._key[Attribute.LABEL]
                )
            self.certificate = certificate
            self.chain = _intermediates(chain or [])
            self._algorithm = _algorithm_of(certificate)
        except BaseException:
            self._session.close()
            raise

    def _token_certificate(
        self, object_class: Any, attribute: Any, key_id: bytes, label: str
    ) -> x509.Certificate:
        for attrs in ({attribute.ID: key_id}, {attribute.LABEL: label}):
            for obj in self._session.get_objects({attribute.CLASS: object_class.CERTIFICATE, **attrs}):
                return x509.load_der_x509_certificate(bytes(obj[attribute.VALUE]))
        raise _pkcs11_error(
            "certificate_missing",
            "UKey 中没有与私钥对应的证书：请用 --cert 指定证书文件",
            "The token holds no certificate for the key: give the certificate file with --cert",
        )

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    def sign(self, data: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism

        with self._lock:
            try:
                if self._algorithm == "rsa-pkcs1v15-sha256":
                    return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
                raw = bytes(self._key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
            except pkcs11.PKCS11Error as exc:
                raise _pkcs11_error(
                    "token_error",
                    f"UKey 签名失败（{type(exc).__name__}）：请确认 UKey 仍已插入，然后重启签名助手",
                    f"The token could not sign ({type(exc).__name__}): check that the UKey is still "
                    "inserted, then restart the agent",
                ) from None
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def decrypt_key_transport(self, encrypted_key: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism

        if self._algorithm != "rsa-pkcs1v15-sha256":
            raise _not_rsa()
        with self._lock:
            try:
                return bytes(self._key.decrypt(encrypted_key, mechanism=Mechanism.RSA_PKCS))
            except pkcs11.PKCS11Error as exc:
                raise _pkcs11_error(
                    "token_error",
                    f"UKey 解密失败（{type(exc).__name__}）："
                    "请确认 UKey 仍已插入，且所选私钥是加密证书的私钥",
                    f"The token could not decrypt ({type(exc).__name__}): check that the UKey is still "
                    "inserted and that the key chosen is the encryption certificate's",
                ) from None

    def close(self) -> None:
        with self._lock:
            self._session.close()
