"""What a certificate may be used for (key usage and extended key usage per purpose) and how a
signature is checked: :class:`PlatformSignatureValidator`, a pyhanko-certvalidator
``SignatureValidator`` used for certificate paths, CRLs, OCSP responses and the data bidders sign.

Extension point (SM2 will plug in here, decision 0203): subclass
:class:`PlatformSignatureValidator`, return the extra algorithms from :meth:`algorithms_for` for
the key types it knows, and verify them in :meth:`validate_signature` (calling ``super()`` for the
rest); pass an instance as ``signature_validator=`` to :func:`validate_certificate`,
:class:`~tenderhall.pki.context.TrustContext` or :func:`verify_signature`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asn1crypto import algos, keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from tenderhall.pki.names import der

Purpose = Literal["signing", "encryption"]

KU_TEXT = {
    "digital_signature": "digitalSignature",
    "non_repudiation": "nonRepudiation",
    "key_encipherment": "keyEncipherment",
    "key_agreement": "keyAgreement",
}
EKU_TEXT = {
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "1.3.6.1.4.1.311.10.3.12": "MS documentSigning",
    "1.2.840.113583.1.1.5": "Adobe PDF signing",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


@dataclass(frozen=True)
class UsagePolicy:
    """The end certificate needs one of ``key_usage`` (asn1crypto names); when it carries an
    extendedKeyUsage extension, it must list one of ``extended_key_usage`` (dotted OIDs).
    Document-signing certificates of Chinese CAs often carry no EKU, so none is required."""

    purpose: Purpose
    key_usage: frozenset[str]
    extended_key_usage: frozenset[str]


USAGE_POLICIES: dict[Purpose, UsagePolicy] = {
    # sign-in, bid signatures and signed PDFs
    "signing": UsagePolicy(
        "signing",
        frozenset({"digital_signature", "non_repudiation"}),
        frozenset(
            {
                "1.3.6.1.5.5.7.3.2",
                "1.3.6.1.5.5.7.3.4",
                "1.3.6.1.5.5.7.3.36",
                "1.3.6.1.4.1.311.10.3.12",
                "1.2.840.113583.1.1.5",
                "2.5.29.37.0",
            }
        ),
    ),
    # sealing bids to a company's encryption certificate
    "encryption": UsagePolicy(
        "encryption",
        frozenset({"key_encipherment", "key_agreement"}),
        frozenset({"1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.2", "2.5.29.37.0"}),
    ),
}


def key_usage_names(cert: x509.Certificate) -> set[str] | None:
    """The key usages of ``cert`` (asn1crypto names), or None without the extension."""
    value = asn1_x509.Certificate.load(der(cert)).key_usage_value
    return None if value is None else set(value.native)


def extended_key_usages(cert: x509.Certificate) -> list[str] | None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return [oid.dotted_string for oid in eku]


def purpose_allowed(cert: x509.Certificate, purpose: Purpose) -> bool:
    ku = key_usage_names(cert)
    return bool(ku and ku & USAGE_POLICIES[purpose].key_usage)


def _rsa_pss(salt_length: int) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams(
                {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                    "salt_length": salt_length,
                }
            ),
        }
    )


class PlatformSignatureValidator(DefaultSignatureValidator):
    """pyhanko's validator (RSA, RSA-PSS, ECDSA… for certificates, CRLs and OCSP responses) plus
    the algorithms the platform accepts for data a holder signs (:meth:`verify`)."""

    def algorithms_for(self, public_key_info: keys.PublicKeyInfo) -> list[algos.SignedDigestAlgorithm]:
        """Signature algorithms tried, in order, for data signed with this key: RSA PKCS#1 v1.5
        and RSA-PSS (salt of 32 bytes or the maximum) with SHA-256; ECDSA on P-256 with SHA-256."""
        algo = public_key_info.algorithm
        if algo == "rsa":
            max_salt = (public_key_info.bit_size + 7) // 8 - 32 - 2
            return [
                algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
                _rsa_pss(32),
                _rsa_pss(max_salt),
            ]
        if algo == "ec" and public_key_info.curve == ("named", "secp256r1"):
            return [algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})]
        return []

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)

    def verify(self, cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
        """Does ``signature`` over ``data`` verify with the certificate's key under one of
        :meth:`algorithms_for`?"""
        spki = asn1_x509.Certificate.load(der(cert))["tbs_certificate"]["subject_public_key_info"]
        for algorithm in self.algorithms_for(spki):
            try:
                self.validate_signature(signature, data, spki, algorithm)
                return True
            except (InvalidSignature, AlgorithmNotSupported, ValueError):
                continue
        return False


DEFAULT_SIGNATURE_VALIDATOR = PlatformSignatureValidator()


def verify_signature(
    cert: x509.Certificate,
    data: bytes,
    signature: bytes,
    *,
    validator: PlatformSignatureValidator | None = None,
) -> bool:
    """Does ``signature`` over ``data`` verify with the certificate's public key? Accepts RSA
    PKCS#1 v1.5 and RSA-PSS with SHA-256, and ECDSA on P-256 with SHA-256 (and what a subclass
    of :class:`PlatformSignatureValidator` adds)."""
    return (validator or DEFAULT_SIGNATURE_VALIDATOR).verify(cert, data, signature)
