"""Revocation: each certificate of a validated path but its anchor is checked against the sources
of the trust-store CA that issued it (decisions 0201, 0202) — the OCSP responder configured for
that CA (or the certificate's AIA one when the CA allows it), and the latest CRL imported for it,
which must cover the time of validation. pyhanko-certvalidator verifies the CRLs and OCSP
responses (signatures, issuer and responder authorisation, freshness); a certificate whose
issuer is not in the trust store, or has neither source, is not checked."""

from __future__ import annotations

from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import (
    CRLValidationError,
    OCSPValidationError,
    OCSPValidationIndeterminateError,
    RevokedError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response

from tenderhall.pki.context import OCSPFailure, TrustContext, TrustedAuthority, ocsp_cert_status
from tenderhall.pki.names import CertificateRejected
from tenderhall.pki.refusals import ocsp_unverified, revoked, when


async def check_revocation(trust: TrustContext, path: ValidationPath, others: list[Any]) -> None:
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
        status, revoked_at = ocsp_cert_status(response)
        if status == "unknown":
            raise CertificateRejected(
                "ocsp_unknown",
                f"CA“{ta.name}”的 OCSP 服务 {url} 表示不认识该证书（序列号 {c.serial_number:x}）："
                "证书可能并非该 CA 签发，请向 CA 确认",
                f"The OCSP responder of CA '{ta.name}' at {url} does not know this certificate "
                f"(serial {c.serial_number:x}): it may not have been issued by that CA; check with the CA",
            )
        ocsps.append(response)
        asked[c.sha256] = (url, revoked_at)
    vc = trust.validation_context(others, ocsps)
    for c, _issuer, ta in checks:
        cert = x509.load_der_x509_certificate(c.dump())
        is_leaf = c is leaf
        url, revoked_at = asked.get(c.sha256, (None, None))
        if url is not None:
            try:
                await verify_ocsp_response(c, path, vc)
            except OCSPValidationIndeterminateError as e:
                # verified, but not "good": revoked only after the time of validation
                if e.failures or revoked_at is None or revoked_at <= trust.moment:
                    raise ocsp_unverified(ta, url, e) from None
            except RevokedError as e:
                by = (f" OCSP 服务 {url} 的应答", f"the OCSP responder {url}")
                raise revoked(cert, is_leaf, *by, e.revocation_dt) from None
            except OCSPValidationError as e:
                raise ocsp_unverified(ta, url, e) from None
        if not ta.crl_imported:
            continue
        crl_zh = (
            f" CA“{ta.name}”的 CRL（编号 {ta.crl_number}，{when(ta.crl_this_update)} 发布）"
            if ta.crl_this_update
            else ""
        )
        crl_en = (
            f"the CRL of CA '{ta.name}' (number {ta.crl_number}, issued {when(ta.crl_this_update)})"
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
            raise revoked(cert, is_leaf, crl_zh, crl_en, e.revocation_dt) from None
        except CRLValidationError:
            if url is not None:  # the OCSP responder answered for it
                continue
            nu = ta.crl_next_update
            when_zh = f"已于 {when(nu)} 过期" if nu is not None and nu < trust.moment else "不适用于该时间"
            when_en = (
                f"expired on {when(nu)}"
                if nu is not None and nu < trust.moment
                else "does not cover that time"
            )
            raise CertificateRejected(
                "crl_not_current",
                f"无法确认证书未被吊销：{crl_zh.strip()}{when_zh}。请联系平台管理员导入该 CA 的最新 CRL",
                f"The certificate cannot be confirmed as not revoked: {crl_en} {when_en}. Ask the "
                "platform administrator to import that CA's current CRL",
            ) from None
