"""The platform's signature over a PDF: an embedded PAdES signature (CMS, ETSI.CAdES.detached)
made with pyhanko and the platform key and certificate (``tenderhall.signing``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization

from tenderhall.settings import Settings
from tenderhall.signing import PlatformSigner, platform_signer

SIGNATURE_FIELD = "TenderHallPlatformSignature"
T = TypeVar("T")


def _outside_event_loop(fn: Callable[[], T]) -> T:
    """pyhanko's synchronous API calls ``asyncio.run``, which refuses to run inside a running loop
    (e.g. a service called through ``AsyncSession.run_sync``): run it in a helper thread then."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _pyhanko_signer(signer: PlatformSigner) -> Any:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(signer.certificate.public_bytes(serialization.Encoding.DER))
    key = asn1_keys.PrivateKeyInfo.load(
        signer.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return signers.SimpleSigner(
        signing_cert=cert, signing_key=key, cert_registry=SimpleCertificateStore.from_certs([cert])
    )


def sign_pdf(
    pdf: bytes,
    settings: Settings,
    *,
    reason: str = "TenderHall platform document / 公共资源交易平台文件",
    location: str | None = None,
) -> bytes:
    """Return ``pdf`` with the platform's PAdES signature embedded (an incremental update)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = _pyhanko_signer(platform_signer(settings))
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or settings.base_url,
        name="TenderHall platform signing",
    )

    def run() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = signers.sign_pdf(writer, meta, signer=signer)
        return bytes(out.getvalue())

    return _outside_event_loop(run)


def verify_pdf(pdf: bytes, settings: Settings) -> bool:
    """True when ``pdf`` carries an intact platform signature, trusted through the platform
    certificate, covering the whole file."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    cert = asn1_x509.Certificate.load(
        platform_signer(settings).certificate.public_bytes(serialization.Encoding.DER)
    )

    def run() -> bool:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = [s for s in reader.embedded_signatures if s.field_name == SIGNATURE_FIELD]
        if len(sigs) != 1:
            return False
        status = validate_pdf_signature(sigs[0], ValidationContext(trust_roots=[cert]))
        return bool(
            status.intact
            and status.valid
            and status.trusted
            and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        )

    return _outside_event_loop(run)
