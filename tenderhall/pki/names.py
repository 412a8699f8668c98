"""Reading certificates: parsing, fingerprints, subject text, and the company's unified social
credit code (organizationIdentifier 2.5.4.97, serialNumber 2.5.4.5 or x500UniqueIdentifier
2.5.4.45, in the forms Chinese CAs use, checked against GB 32100-2015)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from tenderhall.errors import AppError
from tenderhall.identifiers import CREDIT_ALPHABET, InvalidCreditCode, validate_credit_code

#: 2.5.4.45 x500UniqueIdentifier (not in cryptography's NameOID list)
X500_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")
CREDIT_CODE_OIDS = (NameOID.ORGANIZATION_IDENTIFIER, NameOID.SERIAL_NUMBER, X500_UNIQUE_IDENTIFIER)
_CODE_RE = re.compile(f"[{CREDIT_ALPHABET}]{{18}}")
_ATTR_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
    X500_UNIQUE_IDENTIFIER: "x500UniqueIdentifier",
}


class CertificateRejected(AppError):
    """A certificate failed the platform's policy. ``reason_code`` is stable for programs."""

    status = 403
    code = "certificate_rejected"

    def __init__(self, reason_code: str, zh: str, en: str) -> None:
        super().__init__(zh, en, extra={"reason": reason_code})
        self.reason_code = reason_code


@dataclass(frozen=True)
class ValidatedCert:
    credit_code: str
    subject: str
    fingerprint: str  # SHA-256 of the DER, hex
    serial: str  # hex, lower case
    not_after: dt.datetime
    ca_id: int  # the trust-store CA the path ends at


def load_certificate(data: bytes | str | x509.Certificate) -> x509.Certificate:
    """Parse PEM or DER; a certificate that does not parse is rejected as malformed."""
    if isinstance(data, x509.Certificate):
        return data
    raw = data.encode() if isinstance(data, str) else data
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateRejected(
            "malformed",
            "证书无法解析：请上传 PEM 或 DER 格式的 X.509 证书（证书文件可能已损坏）",
            "The certificate cannot be parsed: send an X.509 certificate in PEM or DER form "
            "(the file may be damaged)",
        ) from None


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(der(cert)).hexdigest()


def serial_hex(cert_or_serial: x509.Certificate | int) -> str:
    n = cert_or_serial.serial_number if isinstance(cert_or_serial, x509.Certificate) else cert_or_serial
    return format(n, "x")


def subject_text(name: x509.Name) -> str:
    try:
        return name.rfc4514_string(_ATTR_NAMES)
    except ValueError:  # pragma: no cover - exotic attribute types
        return str(name)


def label(cert: x509.Certificate) -> str:
    """The common name, else the whole subject: how a person recognises the certificate."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else subject_text(cert.subject)


def _attr_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    out = []
    for a in name.get_attributes_for_oid(oid):
        v = a.value
        out.append(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
    return out


def credit_code_candidates(name: x509.Name) -> list[str]:
    """Codes found in the subject, in order of preference. Accepts the forms Chinese CAs use:
    ``91350100M000100Y43``, ``NTRCN-91350100M000100Y43`` (ETSI EN 319 412-1), ``USCC:…``,
    ``统一社会信用代码:…``, ``1@…@91350100M000100Y43`` and similar prefixed or delimited forms."""
    found: list[str] = []
    for oid in CREDIT_CODE_OIDS:
        for value in _attr_values(name, oid):
            v = value.strip().upper()
            for m in _CODE_RE.finditer(v):
                if m.group(0) not in found:
                    found.append(m.group(0))
            # a code with a wrong check character still counts as "present" so we can say so
            if not _CODE_RE.search(v):
                tail = re.sub(r"^.*[:：@\-_ ]", "", v)
                if len(tail) == 18 and tail not in found:
                    found.append(tail)
    return found


def credit_code_of(cert: x509.Certificate) -> str:
    """The company's validated unified social credit code, or :class:`CertificateRejected`."""
    candidates = credit_code_candidates(cert.subject)
    if not candidates:
        raise CertificateRejected(
            "no_credit_code",
            "证书主题中没有统一社会信用代码（organizationIdentifier 或 serialNumber）："
            "请使用签发给单位的数字证书",
            "The certificate's subject carries no unified social credit code (organizationIdentifier "
            "or serialNumber): use a certificate issued to your company",
        )
    first_error: InvalidCreditCode | None = None
    for c in candidates:
        try:
            return validate_credit_code(c)
        except InvalidCreditCode as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise CertificateRejected(
        "bad_credit_code",
        f"证书中的统一社会信用代码无效（{first_error.zh}）：请联系签发证书的 CA 更正",
        f"The credit code in the certificate is invalid ({first_error.en}): ask the issuing CA to correct it",
    )
