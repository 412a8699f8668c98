"""Certificate validation for document signing and encryption (not web-PKI rules).

The policy, in order:

1. the certificate parses (DER or PEM);
2. a path leads from it, through the intermediates given, to an *active* CA of the trust store
   (``core_trusted_ca``; several roots, CA mutual recognition): every link matches issuer and
   subject names and carries a valid signature from its issuer's key;
3. every certificate in the path is within its validity period at ``at``;
4. every issuer in the path is a CA (basicConstraints cA=TRUE, path length respected) and, when
   it has a keyUsage extension, may sign certificates (keyCertSign);
5. the end certificate's keyUsage fits the purpose: ``signing`` needs digitalSignature or
   nonRepudiation (contentCommitment); ``encryption`` needs keyEncipherment or keyAgreement.
   No extendedKeyUsage and no subjectAltName are required (document-signing certificates have
   neither);
6. neither the end certificate nor an intermediate is revoked at ``at`` by a CRL imported for the
   CA that issued it (``core_revoked_certificate``, see :mod:`tenderhall.pki.truststore`);
7. the company's unified social credit code is read from the subject (organizationIdentifier
   2.5.4.97, serialNumber 2.5.4.5 or x500UniqueIdentifier 2.5.4.45, in the forms Chinese CAs use)
   and validated (GB 32100-2015 check character).

Any failure raises :class:`CertificateRejected` (403) whose ``reason_code`` names the rule and
whose messages tell the holder what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.db import UTC, utcnow
from tenderhall.errors import AppError
from tenderhall.identifiers import CREDIT_ALPHABET, InvalidCreditCode, validate_credit_code
from tenderhall.pki.models import RevokedCertificate, TrustedCA

Purpose = Literal["signing", "encryption"]

#: 2.5.4.45 x500UniqueIdentifier (not in cryptography's NameOID list)
X500_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")
CREDIT_CODE_OIDS = (NameOID.ORGANIZATION_IDENTIFIER, NameOID.SERIAL_NUMBER, X500_UNIQUE_IDENTIFIER)
_CODE_RE = re.compile(f"[{CREDIT_ALPHABET}]{{18}}")
MAX_CHAIN = 6
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


# --- small helpers --------------------------------------------------------------------------------


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


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert_or_serial: x509.Certificate | int) -> str:
    n = cert_or_serial.serial_number if isinstance(cert_or_serial, x509.Certificate) else cert_or_serial
    return format(n, "x")


def subject_text(name: x509.Name) -> str:
    try:
        return name.rfc4514_string(_ATTR_NAMES)
    except ValueError:  # pragma: no cover - exotic attribute types
        return str(name)


def _label(cert: x509.Certificate) -> str:
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


def key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def purpose_allowed(cert: x509.Certificate, purpose: Purpose) -> bool:
    ku = key_usage(cert)
    if ku is None:
        return False
    if purpose == "signing":
        return bool(ku.digital_signature or ku.content_commitment)
    return bool(ku.key_encipherment or ku.key_agreement)


def verify_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
    """Does ``signature`` over ``data`` verify with the certificate's public key? Accepts RSA
    PKCS#1 v1.5 and RSA-PSS with SHA-256, and ECDSA on P-256 with SHA-256."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            pass
        try:
            key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
            return True
        except InvalidSignature:
            return False
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False
    return False


# --- path building -------------------------------------------------------------------------------


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _check_period(cert: x509.Certificate, at: dt.datetime, *, is_leaf: bool) -> None:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    who = "证书" if is_leaf else f"颁发机构证书“{_label(cert)}”"
    who_en = "The certificate" if is_leaf else f"The issuing CA certificate '{_label(cert)}'"
    if at < nb:
        raise CertificateRejected(
            "not_yet_valid",
            f"{who}尚未生效（生效时间 {nb:%Y-%m-%d %H:%M} UTC）：请在生效后再使用，或检查本机时间",
            f"{who_en} is not valid yet (valid from {nb:%Y-%m-%d %H:%M} UTC): use it once it is valid, "
            "or check your computer's clock",
        )
    if at > na:
        raise CertificateRejected(
            "expired",
            f"{who}已于 {na:%Y-%m-%d %H:%M} UTC 过期：请向 CA 申请更新证书后重试",
            f"{who_en} expired on {na:%Y-%m-%d %H:%M} UTC: renew it with your CA and try again",
        )


def _check_ca(cert: x509.Certificate, below: int) -> None:
    """``cert`` issues ``below`` further CA certificates in the path (0 = it issued the leaf)."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise CertificateRejected(
            "issuer_not_ca",
            f"签发者“{_label(cert)}”不是 CA 证书（缺少 basicConstraints cA=TRUE）：请使用正规 CA 签发的证书",
            f"The issuer '{_label(cert)}' is not a CA certificate (no basicConstraints cA=TRUE): "
            "use a certificate issued by a real CA",
        )
    if bc.path_length is not None and below > bc.path_length:
        raise CertificateRejected(
            "path_too_long",
            f"证书链长度超出 CA“{_label(cert)}”允许的层级",
            f"The chain is longer than CA '{_label(cert)}' allows (pathLenConstraint)",
        )
    ku = key_usage(cert)
    if ku is not None and not ku.key_cert_sign:
        raise CertificateRejected(
            "issuer_cannot_sign_certs",
            f"签发者“{_label(cert)}”的密钥用法不允许签发证书",
            f"The issuer '{_label(cert)}' has a key usage that does not allow signing certificates",
        )


def _unknown_critical(cert: x509.Certificate) -> list[str]:
    known = {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    }
    return [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in known]


def _trusted(session: Session) -> list[tuple[TrustedCA, x509.Certificate]]:
    rows = session.execute(sa.select(TrustedCA).where(col(TrustedCA.active).is_(True))).scalars().all()
    out = []
    for row in rows:
        try:
            out.append((row, x509.load_pem_x509_certificate(row.certificate_pem.encode())))
        except ValueError:  # pragma: no cover - rows are validated on import
            continue
    return out


def build_path(
    session: Session, leaf: x509.Certificate, intermediates: Iterable[x509.Certificate] = ()
) -> tuple[list[x509.Certificate], TrustedCA]:
    """``[leaf, intermediate…, root]`` ending at an active trust-store CA, or CertificateRejected
    (``untrusted`` when no issuer is known, ``tampered`` when a known issuer's signature fails)."""
    anchors = _trusted(session)
    pool = list(intermediates)
    path = [leaf]
    current = leaf
    name_matched_but_bad_signature = False
    for _ in range(MAX_CHAIN):
        for row, ca in anchors:
            if ca.subject == current.issuer:
                if _issued_by(current, ca):
                    if fingerprint(ca) != fingerprint(current):
                        path.append(ca)
                    return path, row
                name_matched_but_bad_signature = True
        nxt = None
        for cand in pool:
            if cand.subject == current.issuer and cand not in path:
                if _issued_by(current, cand):
                    nxt = cand
                    break
                name_matched_but_bad_signature = True
        if nxt is None:
            break
        path.append(nxt)
        current = nxt
    if name_matched_but_bad_signature:
        raise CertificateRejected(
            "tampered",
            "证书签名校验失败：证书内容已被篡改或并非由其声称的 CA 签发，请重新从 CA 获取原始证书",
            "The certificate's signature does not verify: it has been altered or was not issued by "
            "the CA it names. Obtain the original certificate from your CA",
        )
    raise CertificateRejected(
        "untrusted",
        f"证书的签发机构“{subject_text(current.issuer)}”不在本平台信任的 CA 列表中："
        "请使用互认 CA 签发的证书，或请管理员导入该 CA 根证书（及中级证书）",
        f"The certificate's issuer '{subject_text(current.issuer)}' is not among the CAs this platform "
        "trusts: use a certificate from a recognised CA, or ask the administrator to import that CA's "
        "root (and any intermediate) certificate",
    )


def _revoked(
    session: Session, ca_id: int, cert: x509.Certificate, at: dt.datetime
) -> RevokedCertificate | None:
    row = session.execute(
        sa.select(RevokedCertificate).where(
            col(RevokedCertificate.ca_id) == ca_id, col(RevokedCertificate.serial) == serial_hex(cert)
        )
    ).scalar_one_or_none()
    if row is not None and row.revoked_at <= at:
        return row
    return None


def validate_certificate(
    session: Session,
    cert: x509.Certificate | bytes | str,
    purpose: Purpose = "signing",
    at: dt.datetime | None = None,
    intermediates: Sequence[x509.Certificate | bytes | str] = (),
) -> ValidatedCert:
    """Validate ``cert`` for ``purpose`` at time ``at`` (now by default). See the module doc."""
    when = (at or utcnow()).astimezone(UTC)
    leaf = load_certificate(cert)
    inter = [load_certificate(c) for c in intermediates]
    path, anchor = build_path(session, leaf, inter)
    for i, c in enumerate(path):
        _check_period(c, when, is_leaf=i == 0)
        if i > 0:
            _check_ca(c, below=i - 1)
        crit = _unknown_critical(c)
        if crit:
            raise CertificateRejected(
                "unknown_critical_extension",
                f"证书含有本平台无法处理的关键扩展（{', '.join(crit)}）",
                f"The certificate has critical extensions this platform cannot process ({', '.join(crit)})",
            )
    if not purpose_allowed(leaf, purpose):
        if purpose == "signing":
            raise CertificateRejected(
                "wrong_key_usage",
                "该证书的密钥用法不是数字签名（digitalSignature/nonRepudiation），不能用于签名或登录："
                "请使用单位的签名证书，而不是加密证书",
                "This certificate's key usage is not digital signature (digitalSignature/nonRepudiation), "
                "so it cannot sign or sign in: use your company's signing certificate, not its "
                "encryption certificate",
            )
        raise CertificateRejected(
            "wrong_key_usage",
            "该证书的密钥用法不是加密（keyEncipherment/keyAgreement），不能用于加密：请使用单位的加密证书",
            "This certificate's key usage is not encryption (keyEncipherment/keyAgreement): use your "
            "company's encryption certificate",
        )
    # revocation: the end certificate and every intermediate, against the CRLs of their issuer
    anchor_id = anchor.id
    assert anchor_id is not None
    issuer_ids = _issuer_ids(session, path, anchor_id)
    for c, issuer_id in zip(path[:-1] if len(path) > 1 else path, issuer_ids, strict=False):
        if issuer_id is None:
            continue
        row = _revoked(session, issuer_id, c, when)
        if row is not None:
            who = "证书" if c is leaf else f"中级 CA 证书“{_label(c)}”"
            who_en = "The certificate" if c is leaf else f"The intermediate CA certificate '{_label(c)}'"
            raise CertificateRejected(
                "revoked",
                f"{who}已于 {row.revoked_at:%Y-%m-%d %H:%M} UTC 被 CA 吊销（序列号 {row.serial}）："
                "请向 CA 申请新证书",
                f"{who_en} was revoked by its CA on {row.revoked_at:%Y-%m-%d %H:%M} UTC "
                f"(serial {row.serial}): obtain a new certificate from your CA",
            )
    return ValidatedCert(
        credit_code=credit_code_of(leaf),
        subject=subject_text(leaf.subject),
        fingerprint=fingerprint(leaf),
        serial=serial_hex(leaf),
        not_after=leaf.not_valid_after_utc,
        ca_id=anchor_id,
    )


def _issuer_ids(session: Session, path: list[x509.Certificate], anchor_id: int) -> list[int | None]:
    """For each certificate of the path but the root, the trust-store id of its issuer when that
    issuer is itself in the trust store (CRLs are imported per trust-store CA)."""
    by_fp = {r.fingerprint: r.id for r, _ in _trusted(session)}
    out: list[int | None] = []
    for i in range(len(path) - 1 if len(path) > 1 else 1):
        issuer = path[i + 1] if i + 1 < len(path) else None
        out.append(by_fp.get(fingerprint(issuer)) if issuer is not None else anchor_id)
    return out
