"""The refusals of certificate validation: each names what failed and what the holder (or the
platform administrator) can do, in Chinese and English; ``reason_code`` is stable for programs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    NotYetValidError,
    OCSPValidationError,
    PathValidationError,
    ValidationError,
)

from tenderhall.pki.context import TrustedAuthority
from tenderhall.pki.names import CertificateRejected, fingerprint, label, serial_hex, subject_text
from tenderhall.pki.policy import EKU_TEXT, USAGE_POLICIES, Purpose, extended_key_usages, purpose_allowed


def when(t: dt.datetime) -> str:
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def holder(cert: x509.Certificate | None, is_leaf: bool) -> tuple[str, str]:
    if is_leaf or cert is None:
        return "证书", "The certificate"
    return f"颁发机构证书“{label(cert)}”", f"The issuing CA certificate '{label(cert)}'"


def untrusted(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> CertificateRejected:
    """Name the issuer the chain stops at: the first one neither given nor trusted."""
    current, seen = leaf, {fingerprint(leaf)}
    for _ in range(8):
        nxt = next((c for c in pool if c.subject == current.issuer and fingerprint(c) not in seen), None)
        if nxt is None:
            break
        seen.add(fingerprint(nxt))
        current = nxt
    issuer = subject_text(current.issuer)
    return CertificateRejected(
        "untrusted",
        f"证书的签发机构“{issuer}”不在本平台信任的 CA 列表中："
        "请使用互认 CA 签发的证书，或请管理员导入该 CA 根证书（及中级证书）",
        f"The certificate's issuer '{issuer}' is not among the CAs this platform "
        "trusts: use a certificate from a recognised CA, or ask the administrator to import that CA's "
        "root (and any intermediate) certificate",
    )


def failing_cert(e: PathValidationError) -> x509.Certificate | None:
    try:
        if e.is_ee_cert:
            c = e.current_path.leaf
        else:
            m = re.search(r"intermediate certificate (\d+)", str(e))
            c = e.current_path[int(m.group(1))] if m else None
    except (LookupError, ValueError):
        return None
    return x509.load_der_x509_certificate(c.dump()) if isinstance(c, asn1_x509.Certificate) else None


def path_refusal(e: ValidationError) -> CertificateRejected:
    """The refusal for a path pyhanko would not validate."""
    if not isinstance(e, PathValidationError):
        return CertificateRejected(
            "invalid_certificate", f"证书无效：{e}", f"The certificate is not valid: {e}"
        )
    cert = failing_cert(e)
    who, who_en = holder(cert, e.is_ee_cert)
    if isinstance(e, NotYetValidError):
        return CertificateRejected(
            "not_yet_valid",
            f"{who}尚未生效（生效时间 {when(e.valid_from)}）：请在生效后再使用，或检查本机时间",
            f"{who_en} is not valid yet (valid from {when(e.valid_from)}): use it once it is valid, "
            "or check your computer's clock",
        )
    if isinstance(e, ExpiredError):
        return CertificateRejected(
            "expired",
            f"{who}已于 {when(e.expired_dt)} 过期：请向 CA 申请更新证书后重试",
            f"{who_en} expired on {when(e.expired_dt)}: renew it with your CA and try again",
        )
    if isinstance(e, DisallowedAlgorithmError):
        return CertificateRejected(
            "weak_algorithm",
            f"{who}使用了不再安全的签名算法，本平台不接受：请向 CA 申请使用 SHA-256 或更强算法的证书",
            f"{who_en} is signed with an algorithm that is no longer safe: ask your CA for a "
            "certificate signed with SHA-256 or stronger",
        )
    msg = str(e)
    issuer = label(cert) if cert is not None else "?"
    if "signature" in msg:
        return CertificateRejected(
            "tampered",
            "证书签名校验失败：证书内容已被篡改或并非由其声称的 CA 签发，请重新从 CA 获取原始证书",
            "The certificate's signature does not verify: it has been altered or was not issued by "
            "the CA it names. Obtain the original certificate from your CA",
        )
    if "is not a CA" in msg:
        return CertificateRejected(
            "issuer_not_ca",
            f"签发者“{issuer}”不是 CA 证书（缺少 basicConstraints cA=TRUE）：请使用正规 CA 签发的证书",
            f"The issuer '{issuer}' is not a CA certificate (no basicConstraints cA=TRUE): "
            "use a certificate issued by a real CA",
        )
    if "maximum path length" in msg:
        return CertificateRejected(
            "path_too_long",
            "证书链长度超出 CA 允许的层级（pathLenConstraint）",
            "The chain is longer than its CA allows (pathLenConstraint)",
        )
    if "not allowed to sign certificates" in msg:
        return CertificateRejected(
            "issuer_cannot_sign_certs",
            f"签发者“{issuer}”的密钥用法不允许签发证书",
            f"The issuer '{issuer}' has a key usage that does not allow signing certificates",
        )
    if "critical extension" in msg:
        found = msg.rsplit(": ", 1)[-1]
        return CertificateRejected(
            "unknown_critical_extension",
            f"证书含有本平台无法处理的关键扩展（{found}）",
            f"The certificate has critical extensions this platform cannot process ({found})",
        )
    return CertificateRejected(
        "invalid_path",
        f"证书链校验失败（{msg}）：请向 CA 确认证书及其中级证书",
        f"The certificate chain does not validate ({msg}): check the certificate and its "
        "intermediates with your CA",
    )


def check_usage(leaf: x509.Certificate, purpose: Purpose) -> None:
    policy = USAGE_POLICIES[purpose]
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
    ekus = extended_key_usages(leaf)
    if ekus is not None and not set(ekus) & policy.extended_key_usage:
        need = ", ".join(sorted(EKU_TEXT.get(o, o) for o in policy.extended_key_usage))
        has = ", ".join(EKU_TEXT.get(o, o) for o in ekus) or "-"
        use = "签名" if purpose == "signing" else "加密"
        raise CertificateRejected(
            "wrong_extended_key_usage",
            f"该证书的扩展密钥用法（{has}）不允许用于{use}：需要以下之一：{need}。请向 CA 申请{use}证书",
            f"This certificate's extended key usage ({has}) does not allow "
            f"{'signing' if purpose == 'signing' else 'encryption'}: one of {need} is needed. "
            "Ask your CA for a certificate for that use",
        )


def revoked(
    cert: x509.Certificate, is_leaf: bool, by_zh: str, by_en: str, at: dt.datetime
) -> CertificateRejected:
    who, who_en = (
        ("证书", "The certificate")
        if is_leaf
        else (
            f"中级 CA 证书“{label(cert)}”",
            f"The intermediate CA certificate '{label(cert)}'",
        )
    )
    serial = serial_hex(cert)
    return CertificateRejected(
        "revoked",
        f"{who}已于 {when(at)} 被 CA 吊销（序列号 {serial}，依据{by_zh}）：请向 CA 申请新证书",
        f"{who_en} was revoked by its CA on {when(at)} (serial {serial}, according to {by_en}): "
        "obtain a new certificate from your CA",
    )


def ocsp_unverified(ta: TrustedAuthority, url: str, e: OCSPValidationError) -> CertificateRejected:
    failures = getattr(e, "failures", None) or []
    texts = [str(f[0]) for f in failures if isinstance(f, tuple) and f] or [str(e.args[0]) if e.args else ""]
    why = "; ".join(texts)[:300]
    return CertificateRejected(
        "ocsp_error",
        f"CA“{ta.name}”的 OCSP 服务 {url} 的应答无法验证（{why}）：请联系平台管理员",
        f"The answer of the OCSP responder of CA '{ta.name}' at {url} cannot be verified "
        f"({why}): tell the platform administrator",
    )
