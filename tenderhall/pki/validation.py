"""Certificate validation for document signing and encryption (not web-PKI rules), on one
validation context built on pyhanko-certvalidator (:class:`~tenderhall.pki.context.TrustContext`,
decision 0200).

The policy, in order:

1. the certificate parses (DER or PEM);
2. pyhanko builds and validates (RFC 5280) a path from it, through the intermediates given and the
   trusted intermediates, to an *active* CA of the trust store (several roots, CA mutual
   recognition): signatures, validity periods at the time of validation, basicConstraints,
   path length, keyCertSign, name constraints, unknown critical extensions;
3. the end certificate's key usage and extended key usage fit the purpose
   (:data:`~tenderhall.pki.policy.USAGE_POLICIES`);
4. every certificate of the path but the anchor is checked for revocation against the sources of
   the trust-store CA that issued it (decision 0201): its OCSP responder when one is configured
   (decision 0202), and the latest CRL imported for it, which must cover the time of validation;
   a certificate whose issuer has neither is not checked;
5. the company's unified social credit code is read from the subject and validated.

Any failure raises :class:`CertificateRejected` (403) whose ``reason_code`` names the rule and
whose messages tell the holder what to do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import re
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import (
    CRLValidationError,
    DisallowedAlgorithmError,
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    OCSPValidationError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response
from sqlalchemy.orm import Session

from tenderhall.pki.context import OCSPFailure, TrustContext, TrustedAuthority, ocsp_cert_status
from tenderhall.pki.names import (
    CREDIT_CODE_OIDS,
    X500_UNIQUE_IDENTIFIER,
    CertificateRejected,
    ValidatedCert,
    credit_code_candidates,
    credit_code_of,
    der,
    fingerprint,
    label,
    load_certificate,
    serial_hex,
    subject_text,
)
from tenderhall.pki.policy import (
    EKU_TEXT,
    USAGE_POLICIES,
    PlatformSignatureValidator,
    Purpose,
    extended_key_usages,
    purpose_allowed,
    verify_signature,
)

__all__ = [
    "CREDIT_CODE_OIDS",
    "X500_UNIQUE_IDENTIFIER",
    "CertificateRejected",
    "PlatformSignatureValidator",
    "Purpose",
    "TrustContext",
    "ValidatedCert",
    "credit_code_candidates",
    "credit_code_of",
    "fingerprint",
    "load_certificate",
    "purpose_allowed",
    "serial_hex",
    "subject_text",
    "validate_certificate",
    "verify_signature",
]

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run pyhanko's coroutines from synchronous code (request threads, CLI, jobs); from inside
    an event loop, on a thread of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _when(t: dt.datetime) -> str:
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _who(cert: x509.Certificate | None, is_leaf: bool) -> tuple[str, str]:
    if is_leaf or cert is None:
        return "证书", "The certificate"
    return f"颁发机构证书“{label(cert)}”", f"The issuing CA certificate '{label(cert)}'"


# --- refusals -----------------------------------------------------------------------------------


def _untrusted(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> CertificateRejected:
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


def _failing_cert(e: PathValidationError) -> x509.Certificate | None:
    try:
        if e.is_ee_cert:
            c = e.current_path.leaf
        else:
            m = re.search(r"intermediate certificate (\d+)", str(e))
            c = e.current_path[int(m.group(1))] if m else None
    except (LookupError, ValueError):
        return None
    return x509.load_der_x509_certificate(c.dump()) if isinstance(c, asn1_x509.Certificate) else None


def _path_refusal(e: ValidationError) -> CertificateRejected:
    """The refusal for a path pyhanko would not validate."""
    if not isinstance(e, PathValidationError):
        return CertificateRejected(
            "invalid_certificate", f"证书无效：{e}", f"The certificate is not valid: {e}"
        )
    cert = _failing_cert(e)
    who, who_en = _who(cert, e.is_ee_cert)
    if isinstance(e, NotYetValidError):
        return CertificateRejected(
            "not_yet_valid",
            f"{who}尚未生效（生效时间 {_when(e.valid_from)}）：请在生效后再使用，或检查本机时间",
            f"{who_en} is not valid yet (valid from {_when(e.valid_from)}): use it once it is valid, "
            "or check your computer's clock",
        )
    if isinstance(e, ExpiredError):
        return CertificateRejected(
            "expired",
            f"{who}已于 {_when(e.expired_dt)} 过期：请向 CA 申请更新证书后重试",
            f"{who_en} expired on {_when(e.expired_dt)}: renew it with your CA and try again",
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


def _check_usage(leaf: x509.Certificate, purpose: Purpose) -> None:
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


def _revoked(
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
        f"{who}已于 {_when(at)} 被 CA 吊销（序列号 {serial}，依据{by_zh}）：请向 CA 申请新证书",
        f"{who_en} was revoked by its CA on {_when(at)} (serial {serial}, according to {by_en}): "
        "obtain a new certificate from your CA",
    )


# --- revocation ---------------------------------------------------------------------------------


async def _check_revocation(trust: TrustContext, path: ValidationPath, others: list[Any]) -> None:
    """Each certificate of the path but the anchor, top down, against its issuer's sources."""
    leaf = path.leaf
    checks: list[tuple[asn1_x509.Certificate, asn1_x509.Certificate, TrustedAuthority]] = []
    for c in path.iter_certs(include_root=False):
        issuer = path.find_issuing_authority(c)
        if isinstance(issuer, AuthorityWithCert):
            ta = trust.authority_of(issuer.certificate)
            if ta is not None:
                checks.append((c, issuer.certificate, ta))
    ocsps, asked = [], {}
    for c, issuer_cert, ta in checks:
        url = trust.ocsp_url_for(ta, c)
        if url is None:
            continue
        try:
            response = trust.fetch_ocsp(url, c, issuer_cert)
        except OCSPFailure as f:
            if f.unreachable:
                raise CertificateRejected(
                    "ocsp_unreachable",
                    f"无法连接 CA“{ta.name}”的 OCSP 服务 {url}（{f.detail}），暂时无法确认证书未被吊销："
                    "请稍后重试；如持续失败请联系平台管理员",
                    f"The OCSP responder of CA '{ta.name}' at {url} cannot be reached ({f.detail}), so "
                    "the certificate cannot be confirmed as not revoked: try again later, and tell the "
                    "platform administrator if it keeps failing",
                ) from None
            raise CertificateRejected(
                "ocsp_error",
                f"CA“{ta.name}”的 OCSP 服务 {url} 的应答不可用（{f.detail}）：请联系平台管理员",
                f"The OCSP responder of CA '{ta.name}' at {url} gave no usable answer ({f.detail}): "
                "tell the platform administrator",
            ) from None
        if ocsp_cert_status(response) == "unknown":
            raise CertificateRejected(
                "ocsp_unknown",
                f"CA“{ta.name}”的 OCSP 服务 {url} 表示不认识该证书（序列号 {c.serial_number:x}）："
                "证书可能并非该 CA 签发，请向 CA 确认",
                f"The OCSP responder of CA '{ta.name}' at {url} does not know this certificate "
                f"(serial {c.serial_number:x}): it may not have been issued by that CA; check with the CA",
            )
        ocsps.append(response)
        asked[c.sha256] = url
    vc = trust.validation_context(others, ocsps)
    for c, _issuer, ta in checks:
        cert = x509.load_der_x509_certificate(c.dump())
        is_leaf = c is leaf
        url = asked.get(c.sha256)
        if url is not None:
            try:
                await verify_ocsp_response(c, path, vc)
            except RevokedError as e:
                raise _revoked(
                    cert, is_leaf, f" OCSP 服务 {url} 的应答", f"the OCSP responder {url}", e.revocation_dt
                ) from None
            except OCSPValidationError as e:
                raise CertificateRejected(
                    "ocsp_error",
                    f"CA“{ta.name}”的 OCSP 服务 {url} 的应答无法验证（{e}）：请联系平台管理员",
                    f"The answer of the OCSP responder of CA '{ta.name}' at {url} cannot be verified "
                    f"({e}): tell the platform administrator",
                ) from None
        if not ta.crl_imported:
            continue
        crl_zh = (
            f" CA“{ta.name}”的 CRL（编号 {ta.crl_number}，{_when(ta.crl_this_update)} 发布）"
            if ta.crl_this_update
            else ""
        )
        crl_en = (
            f"the CRL of CA '{ta.name}' (number {ta.crl_number}, issued {_when(ta.crl_this_update)})"
            if ta.crl_this_update
            else ""
        )
        if ta.crl is None:
            if url is not None:
                continue
            raise CertificateRejected(
                "crl_unavailable",
                f"CA“{ta.name}”的 CRL 须重新导入后才能校验吊销状态：请联系平台管理员导入该 CA 的最新 CRL",
                f"The CRL of CA '{ta.name}' must be imported again before revocation can be checked: "
                "ask the platform administrator to import that CA's current CRL",
            )
        try:
            await verify_crl(c, path, vc)
        except RevokedError as e:
            raise _revoked(cert, is_leaf, crl_zh, crl_en, e.revocation_dt) from None
        except CRLValidationError:
            if url is not None:  # the OCSP responder answered for it
                continue
            nu = ta.crl_next_update
            when_zh = f"已于 {_when(nu)} 过期" if nu is not None and nu < trust.moment else "不适用于该时间"
            when_en = (
                f"expired on {_when(nu)}"
                if nu is not None and nu < trust.moment
                else "does not cover that time"
            )
            raise CertificateRejected(
                "crl_not_current",
                f"无法确认证书未被吊销：{crl_zh.strip()}{when_zh}。请联系平台管理员导入该 CA 的最新 CRL",
                f"The certificate cannot be confirmed as not revoked: {crl_en} {when_en}. Ask the "
                "platform administrator to import that CA's current CRL",
            ) from None


# --- the public entry point ---------------------------------------------------------------------


async def _validate(
    trust: TrustContext, leaf: x509.Certificate, inter: list[x509.Certificate], purpose: Purpose
) -> TrustedAuthority:
    others = [asn1_x509.Certificate.load(der(c)) for c in inter]
    vc = trust.validation_context(others)
    validator = CertificateValidator(asn1_x509.Certificate.load(der(leaf)), others, validation_context=vc)
    try:
        path = await validator.async_validate_path()
    except (PathBuildingError, InvalidCertificateError):
        raise _untrusted(leaf, inter + [a.certificate for a in trust.pool]) from None
    except ValidationError as e:
        raise _path_refusal(e) from None
    _check_usage(leaf, purpose)
    await _check_revocation(trust, path, others)
    anchor = path.trust_anchor.authority
    assert isinstance(anchor, AuthorityWithCert)
    ta = trust.authority_of(anchor.certificate)
    assert ta is not None
    return ta


def validate_certificate(
    session: Session,
    cert: x509.Certificate | bytes | str,
    purpose: Purpose = "signing",
    at: dt.datetime | None = None,
    intermediates: Sequence[x509.Certificate | bytes | str] = (),
    *,
    context: TrustContext | None = None,
    signature_validator: PlatformSignatureValidator | None = None,
) -> ValidatedCert:
    """Validate ``cert`` for ``purpose`` at time ``at`` (now by default). See the module doc.
    ``context`` reuses a :class:`TrustContext` already loaded (its moment wins over ``at``)."""
    leaf = load_certificate(cert)
    inter = [load_certificate(c) for c in intermediates]
    trust = context or TrustContext.load(session, at=at, signature_validator=signature_validator)
    ta = _run(_validate(trust, leaf, inter, purpose))
    return ValidatedCert(
        credit_code=credit_code_of(leaf),
        subject=subject_text(leaf.subject),
        fingerprint=fingerprint(leaf),
        serial=serial_hex(leaf),
        not_after=leaf.not_valid_after_utc,
        ca_id=ta.id,
    )


def key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
