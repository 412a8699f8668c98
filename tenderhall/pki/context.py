"""The one validation context: what the platform trusts at a moment, built on
pyhanko-certvalidator (decision 0200).

A :class:`TrustContext` is loaded from the trust store for one time of validation: the active
CAs of ``core_trusted_ca`` (roots, and intermediates whose issuer is not itself trusted, are
trust anchors; the other trusted intermediates are path material), the latest CRL imported for
each CA (``core_crl_import.der``), the OCSP responder configured per CA, and the
:class:`~tenderhall.pki.policy.PlatformSignatureValidator`. It hands out pyhanko
``ValidationContext`` objects (always with explicit trust roots, never the OS list, no fetching
of URLs named by certificates) and asks OCSP responders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx
import sqlalchemy as sa
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import OCSPFetchError, OCSPValidationError
from pyhanko_certvalidator.fetchers.common_utils import format_ocsp_request, process_ocsp_response_data
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.util import get_ocsp_urls
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.db import UTC, utcnow
from tenderhall.pki.models import CRLImport, TrustedCA
from tenderhall.pki.names import der, fingerprint
from tenderhall.pki.policy import DEFAULT_SIGNATURE_VALIDATOR, PlatformSignatureValidator

OCSP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class TrustedAuthority:
    """An active CA of the trust store, with its revocation sources."""

    id: int
    name: str
    certificate: x509.Certificate
    fingerprint: str
    ocsp_url: str | None
    ocsp_use_aia: bool
    crl: bytes | None  # DER of the latest CRL imported, when its bytes are kept
    crl_number: int | None
    crl_this_update: dt.datetime | None
    crl_next_update: dt.datetime | None
    crl_imported: bool  # a CRL was ever imported for this CA (its certificates need a CRL)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(der(self.certificate))


class OCSPFailure(Exception):
    """An OCSP responder could not be asked or gave no usable answer."""

    def __init__(self, url: str, detail: str, *, unreachable: bool) -> None:
        super().__init__(f"{url}: {detail}")
        self.url = url
        self.detail = detail
        self.unreachable = unreachable


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


class TrustContext:
    """What the platform trusts at ``moment``. Build with :meth:`load`; reusable for several
    validations at the same moment (one per request is the usual)."""

    def __init__(
        self,
        authorities: Sequence[TrustedAuthority],
        *,
        moment: dt.datetime | None = None,
        signature_validator: PlatformSignatureValidator | None = None,
        ocsp_timeout: float = OCSP_TIMEOUT_SECONDS,
    ) -> None:
        self.authorities = list(authorities)
        self.moment = (moment or utcnow()).astimezone(UTC)
        self.signature_validator = signature_validator or DEFAULT_SIGNATURE_VALIDATOR
        self.ocsp_timeout = ocsp_timeout
        self._by_fp = {a.fingerprint: a for a in self.authorities}
        self.anchors: list[TrustedAuthority] = []
        self.pool: list[TrustedAuthority] = []
        for a in self.authorities:
            parents = [p for p in self.authorities if p is not a and _issued_by(a.certificate, p.certificate)]
            (self.pool if parents and not _issued_by(a.certificate, a.certificate) else self.anchors).append(
                a
            )

    @classmethod
    def load(
        cls,
        session: Session,
        *,
        at: dt.datetime | None = None,
        signature_validator: PlatformSignatureValidator | None = None,
        ocsp_timeout: float = OCSP_TIMEOUT_SECONDS,
    ) -> TrustContext:
        rows = session.execute(
            sa.select(TrustedCA).where(col(TrustedCA.active).is_(True)).order_by(col(TrustedCA.id))
        ).scalars()
        out = []
        for row in rows:
            assert row.id is not None
            try:
                cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
            except ValueError:  # pragma: no cover - rows are validated on import
                continue
            last = session.execute(
                sa.select(CRLImport)
                .where(col(CRLImport.ca_id) == row.id)
                .order_by(col(CRLImport.this_update).desc(), col(CRLImport.id).desc())
                .limit(1)
            ).scalar_one_or_none()
            out.append(
                TrustedAuthority(
                    id=row.id,
                    name=row.name,
                    certificate=cert,
                    fingerprint=row.fingerprint,
                    ocsp_url=row.ocsp_url,
                    ocsp_use_aia=row.ocsp_use_aia,
                    crl=last.der if last else None,
                    crl_number=last.crl_number if last else None,
                    crl_this_update=last.this_update if last else None,
                    crl_next_update=last.next_update if last else None,
                    crl_imported=last is not None,
                )
            )
        return cls(out, moment=at, signature_validator=signature_validator, ocsp_timeout=ocsp_timeout)

    def authority_of(self, cert: asn1_x509.Certificate) -> TrustedAuthority | None:
        """The trust-store CA whose certificate is ``cert``, if any."""
        return self._by_fp.get(cert.sha256.hex())

    def authority_for(self, cert: x509.Certificate) -> TrustedAuthority | None:
        return self._by_fp.get(fingerprint(cert))

    def validation_context(
        self,
        other_certs: Iterable[asn1_x509.Certificate] = (),
        ocsps: Iterable[asn1_ocsp.OCSPResponse] = (),
    ) -> ValidationContext:
        """A pyhanko context at this moment. Revocation is not checked during path validation:
        :func:`tenderhall.pki.validation.validate_certificate` checks each certificate of the
        validated path against the sources of the CA that issued it (decision 0201)."""
        crls = [asn1_crl.CertificateList.load(a.crl) for a in self.authorities if a.crl]
        return ValidationContext(
            trust_roots=[a.asn1 for a in self.anchors],
            other_certs=[a.asn1 for a in self.pool] + list(other_certs),
            crls=crls,
            ocsps=list(ocsps),
            moment=self.moment,
            allow_fetching=False,
            # a revocation dated after the moment does not count, and a CRL issued later than the
            # moment still tells about it (signatures are judged at the time they were made)
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION, retroactive_revinfo=True),
            signature_validator=self.signature_validator,
        )

    def ocsp_url_for(self, issuer: TrustedAuthority, cert: asn1_x509.Certificate) -> str | None:
        """The responder to ask about ``cert``: the one configured for its CA, else the
        certificate's own AIA responder when the CA allows it (decision 0202)."""
        if issuer.ocsp_url:
            return issuer.ocsp_url
        if issuer.ocsp_use_aia:
            urls = [u for u in get_ocsp_urls(cert) if u.lower().startswith(("http://", "https://"))]
            return urls[0] if urls else None
        return None

    def fetch_ocsp(
        self, url: str, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate
    ) -> asn1_ocsp.OCSPResponse:
        """Ask ``url`` about ``cert`` (RFC 6960 over HTTP POST, with a nonce)."""
        request = format_ocsp_request(
            cert, AuthorityWithCert(issuer), certid_hash_algo="sha1", request_nonces=True
        )
        try:
            r = httpx.post(
                url,
                content=request.dump(),
                headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
                timeout=self.ocsp_timeout,
            )
        except httpx.HTTPError as exc:
            raise OCSPFailure(url, type(exc).__name__, unreachable=True) from None
        if r.status_code != 200:
            raise OCSPFailure(url, f"HTTP {r.status_code}", unreachable=True)
        try:
            return process_ocsp_response_data(r.content, ocsp_request=request, ocsp_url=url)
        except (OCSPFetchError, OCSPValidationError, ValueError) as exc:
            raise OCSPFailure(url, str(exc), unreachable=False) from None


def ocsp_cert_status(response: asn1_ocsp.OCSPResponse) -> tuple[str | None, dt.datetime | None]:
    """``good``, ``revoked`` or ``unknown`` from the first single response (and the revocation
    time when revoked); ``(None, None)`` when there is none."""
    try:
        basic = response["response_bytes"]["response"].parsed
        status = basic["tbs_response_data"]["responses"][0]["cert_status"]
    except (KeyError, IndexError, TypeError, ValueError):
        return None, None
    if status.name == "revoked":
        return "revoked", status.chosen["revocation_time"].native
    return str(status.name), None
