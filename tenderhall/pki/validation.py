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
   the trust-store CA that issued it (:mod:`tenderhall.pki.revocation`, decisions 0201, 0202);
5. the company's unified social credit code is read from the subject and validated.

Any failure raises :class:`CertificateRejected` (403) whose ``reason_code`` names the rule and
whose messages tell the holder what to do (:mod:`tenderhall.pki.refusals`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import InvalidCertificateError, PathBuildingError, ValidationError
from sqlalchemy.orm import Session

from tenderhall.pki.context import TrustContext, TrustedAuthority
from tenderhall.pki.names import (
    CREDIT_CODE_OIDS,
    X500_UNIQUE_IDENTIFIER,
    CertificateRejected,
    ValidatedCert,
    credit_code_candidates,
    credit_code_of,
    der,
    fingerprint,
    load_certificate,
    serial_hex,
    subject_text,
)
from tenderhall.pki.policy import PlatformSignatureValidator, Purpose, purpose_allowed, verify_signature
from tenderhall.pki.refusals import check_usage, path_refusal, untrusted
from tenderhall.pki.revocation import check_revocation

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


async def _validate(
    trust: TrustContext, leaf: x509.Certificate, inter: list[x509.Certificate], purpose: Purpose
) -> TrustedAuthority:
    others = [asn1_x509.Certificate.load(der(c)) for c in inter]
    vc = trust.validation_context(others)
    validator = CertificateValidator(asn1_x509.Certificate.load(der(leaf)), others, validation_context=vc)
    try:
        path = await validator.async_validate_path()
    except (PathBuildingError, InvalidCertificateError):
        raise untrusted(leaf, inter + [a.certificate for a in trust.pool]) from None
    except ValidationError as e:
        raise path_refusal(e) from None
    check_usage(leaf, purpose)
    await check_revocation(trust, path, others)
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
    ``context`` reuses a :class:`TrustContext` already loaded (it carries its own moment and
    signature validator); ``signature_validator`` replaces the platform's for this call."""
    if context is not None and (signature_validator is not None or (at is not None and at != context.moment)):
        raise ValueError("a TrustContext carries its own moment and signature validator")
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
