"""PKI on pyhanko-certvalidator: intermediates and their revocation, CRLs per CA, validity at a
given time, key usage and extended key usage per purpose, untrusted roots, and the signature
validator that SM2 will extend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import algos, keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.context import TrustContext
from tenderhall.pki.devca import DevCA
from tenderhall.pki.policy import PlatformSignatureValidator, verify_signature
from tenderhall.pki.validation import CertificateRejected, validate_certificate

CODE = make_credit_code("91350100M00040001")


@pytest.fixture
def root(tmp_path: Path) -> DevCA:
    ca = DevCA(tmp_path / "root")
    ca.init("Paths Test Root CA")
    return ca


@pytest.fixture
def inter(root: DevCA, tmp_path: Path) -> DevCA:
    ca = DevCA(tmp_path / "inter")
    ca.init_intermediate(root, "Paths Test Issuing CA", key_type="ec")
    return ca


@pytest.fixture
def root_id(db: Database, root: DevCA) -> int:
    with db.unit_of_work() as s:
        ca_id = truststore.import_ca(s, SYSTEM, root.cert_path.read_bytes()).id
    assert ca_id is not None
    return ca_id


def _import(db: Database, ca: DevCA) -> int:
    with db.unit_of_work() as s:
        ca_id = truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes()).id
    assert ca_id is not None
    return ca_id


def _crl(db: Database, data: bytes) -> None:
    with db.unit_of_work() as s:
        truststore.import_crl(s, SYSTEM, data)


def refused(db: Database, cert: x509.Certificate, **kw: object) -> CertificateRejected:
    with db.unit_of_work() as s, pytest.raises(CertificateRejected) as ei:
        validate_certificate(s, cert, **kw)  # type: ignore[arg-type]
    assert ei.value.zh and ei.value.en
    return ei.value


def test_a_certificate_under_an_intermediate_validates_to_the_root(
    db: Database, root: DevCA, inter: DevCA, root_id: int
) -> None:
    leaf = inter.issue("bidder-sign", name="示例公司", credit_code=CODE)
    assert refused(db, leaf.certificate).reason_code == "untrusted"
    with db.unit_of_work() as s:
        v = validate_certificate(s, leaf.certificate, intermediates=[inter.certificate])
    assert (v.credit_code, v.ca_id) == (CODE, root_id)


def test_a_revoked_intermediate_is_refused_by_the_roots_crl(
    db: Database, root: DevCA, inter: DevCA, root_id: int
) -> None:
    leaf = inter.issue("bidder-sign", name="示例公司", credit_code=CODE)
    _crl(db, root.crl())  # a current CRL that revokes nothing
    with db.unit_of_work() as s:
        validate_certificate(s, leaf.certificate, intermediates=[inter.certificate])
    revoked_at = utcnow() - dt.timedelta(minutes=2)
    root.revoke(format(inter.certificate.serial_number, "x"), at=revoked_at)
    _crl(db, root.crl())
    err = refused(db, leaf.certificate, intermediates=[inter.certificate])
    assert err.reason_code == "revoked"
    assert "intermediate CA certificate 'Paths Test Issuing CA'" in err.en
    assert "the CRL of CA 'Paths Test Root CA' (number 2" in err.en
    assert f"{revoked_at:%Y-%m-%d %H:%M} UTC" in err.en
    # a trusted intermediate is path material, not an anchor that would skip its own revocation
    _import(db, inter)
    assert refused(db, leaf.certificate).reason_code == "revoked"
    # before its revocation it was a valid issuer
    with db.unit_of_work() as s:
        validate_certificate(s, leaf.certificate, at=revoked_at - dt.timedelta(minutes=1))


def test_a_leaf_is_checked_against_the_crl_of_its_trusted_intermediate(
    db: Database, root: DevCA, inter: DevCA, root_id: int
) -> None:
    inter_id = _import(db, inter)
    good = inter.issue("bidder-sign", name="甲公司", credit_code=CODE)
    bad = inter.issue("bidder-sign", name="乙公司", credit_code=CODE)
    inter.revoke(bad.serial)
    _crl(db, inter.crl())
    with db.unit_of_work() as s:
        v = validate_certificate(s, good.certificate)
        assert v.ca_id == root_id != inter_id
    err = refused(db, bad.certificate)
    assert err.reason_code == "revoked"
    assert "the CRL of CA 'Paths Test Issuing CA'" in err.en


def test_a_crl_of_another_ca_does_not_count(db: Database, root: DevCA, root_id: int, tmp_path: Path) -> None:
    other = DevCA(tmp_path / "other")
    other.init("Some Other Root CA", key_type="ec")
    _import(db, other)
    leaf = root.issue("bidder-sign", name="示例公司", credit_code=CODE)
    now = utcnow()
    # the other CA lists the very serial of our leaf
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.certificate.serial_number)
        .revocation_date(now - dt.timedelta(hours=1))
        .build()
    )
    other_crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(other.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
        .add_revoked_certificate(entry)
        .sign(other._key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives import serialization

    _crl(db, other_crl.public_bytes(serialization.Encoding.PEM))
    _crl(db, root.crl())
    with db.unit_of_work() as s:
        assert validate_certificate(s, leaf.certificate).ca_id == root_id


def test_a_crl_past_its_next_update_is_refused_naming_the_ca_and_when(
    db: Database, root: DevCA, root_id: int
) -> None:
    leaf = root.issue("bidder-sign", name="示例公司", credit_code=CODE)
    issued = utcnow() - dt.timedelta(days=3)
    _crl(db, root.crl(now=issued, days=1))
    err = refused(db, leaf.certificate)
    assert err.reason_code == "crl_not_current"
    assert "Paths Test Root CA" in err.en
    assert f"expired on {issued + dt.timedelta(days=1):%Y-%m-%d %H:%M} UTC" in err.en
    assert "current CRL" in err.en
    # at a time the CRL covers, it answers
    root_leaf_at = issued + dt.timedelta(hours=1)
    with db.unit_of_work() as s:
        validate_certificate(
            s,
            root.issue(
                "bidder-sign", name="示例公司", credit_code=CODE, not_before=issued - dt.timedelta(days=1)
            ).certificate,
            at=root_leaf_at,
        )


def test_an_expired_or_not_yet_valid_intermediate_is_named(
    db: Database, root: DevCA, root_id: int, tmp_path: Path
) -> None:
    now = utcnow()
    old = DevCA(tmp_path / "old")
    old.init_intermediate(
        root,
        "Retired Issuing CA",
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    leaf = old.issue("bidder-sign", name="示例公司", credit_code=CODE, not_before=now - dt.timedelta(days=20))
    err = refused(db, leaf.certificate, intermediates=[old.certificate])
    assert err.reason_code == "expired"
    assert (
        f"The issuing CA certificate 'Retired Issuing CA' expired on {now - dt.timedelta(days=1):%Y-%m-%d}"
        in err.en
    )
    # judged at a time both were valid, the chain holds
    with db.unit_of_work() as s:
        validate_certificate(
            s, leaf.certificate, intermediates=[old.certificate], at=now - dt.timedelta(days=10)
        )
    early = DevCA(tmp_path / "early")
    early.init_intermediate(root, "Future Issuing CA", not_before=now + dt.timedelta(days=1))
    leaf2 = early.issue("bidder-sign", name="示例公司", credit_code=CODE)
    err = refused(db, leaf2.certificate, intermediates=[early.certificate])
    assert err.reason_code == "not_yet_valid"
    assert "'Future Issuing CA' is not valid yet" in err.en


def test_extended_key_usage_must_allow_the_purpose_when_present(
    db: Database, root: DevCA, root_id: int
) -> None:
    tls = root.issue(
        "bidder-sign", name="示例公司", credit_code=CODE, extended_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH]
    )
    err = refused(db, tls.certificate)
    assert err.reason_code == "wrong_extended_key_usage"
    assert "(serverAuth)" in err.en.replace("1.3.6.1.5.5.7.3.1", "serverAuth")
    assert "documentSigning" in err.en
    client = root.issue(
        "bidder-sign",
        name="示例公司",
        credit_code=CODE,
        extended_key_usage=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    with db.unit_of_work() as s:
        validate_certificate(s, client.certificate)
    only_sign_ku = root.issue(
        "bidder-sign",
        name="示例公司",
        credit_code=CODE,
        key_usage=x509.KeyUsage(False, True, False, False, False, False, False, False, False),
    )
    with db.unit_of_work() as s:  # nonRepudiation alone is a signing certificate
        validate_certificate(s, only_sign_ku.certificate)
    err = refused(db, only_sign_ku.certificate, purpose="encryption")
    assert err.reason_code == "wrong_key_usage"
    assert "keyEncipherment/keyAgreement" in err.en


def test_a_chain_to_an_unknown_root_names_that_root(db: Database, root_id: int, tmp_path: Path) -> None:
    foreign = DevCA(tmp_path / "foreign")
    foreign.init("Unknown Foreign Root")
    sub = DevCA(tmp_path / "foreign-sub")
    sub.init_intermediate(foreign, "Foreign Issuing CA")
    leaf = sub.issue("bidder-sign", name="示例公司", credit_code=CODE)
    err = refused(db, leaf.certificate, intermediates=[sub.certificate])
    assert err.reason_code == "untrusted"
    assert "'CN=Unknown Foreign Root" in err.en
    assert "Foreign Issuing CA" not in err.en


class NoECDSA(PlatformSignatureValidator):
    """A validator that knows no ECDSA: stands in for one that adds an algorithm (SM2)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def validate_signature(self, signature, signed_data, public_key_info, signature_algorithm, context=None):  # type: ignore[no-untyped-def,override]
        self.calls.append(signature_algorithm.signature_algo)
        if signature_algorithm.signature_algo == "ecdsa":
            raise InvalidSignature()
        if context is None:
            return super().validate_signature(signature, signed_data, public_key_info, signature_algorithm)
        return super().validate_signature(
            signature, signed_data, public_key_info, signature_algorithm, context
        )

    def algorithms_for(self, public_key_info: keys.PublicKeyInfo) -> list[algos.SignedDigestAlgorithm]:
        return [a for a in super().algorithms_for(public_key_info) if a.signature_algo != "ecdsa"]


def test_the_signature_validator_is_the_one_extension_point_for_paths_and_signed_data(
    db: Database, root: DevCA, inter: DevCA, root_id: int
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    rsa_leaf = root.issue("bidder-sign", name="示例公司", credit_code=CODE, key_type="rsa")
    ec_leaf = root.issue("bidder-sign", name="示例公司", credit_code=CODE, key_type="ec")
    data = b"TenderHall certificate login v1\nnonce"
    rsa_sig = rsa_leaf.key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg,union-attr]
    ec_sig = ec_leaf.key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
    assert verify_signature(rsa_leaf.certificate, data, rsa_sig)
    assert verify_signature(ec_leaf.certificate, data, ec_sig)
    assert not verify_signature(ec_leaf.certificate, data + b"x", ec_sig)
    pss = rsa_leaf.key.sign(  # type: ignore[call-arg,union-attr]
        data,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    assert verify_signature(rsa_leaf.certificate, data, pss)
    pss32 = rsa_leaf.key.sign(  # type: ignore[call-arg,union-attr]
        data,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    assert verify_signature(rsa_leaf.certificate, data, pss32)
    sub = NoECDSA()
    assert verify_signature(rsa_leaf.certificate, data, rsa_sig, validator=sub)
    assert not verify_signature(ec_leaf.certificate, data, ec_sig, validator=sub)
    # the same validator checks certificate paths: the EC intermediate's signature on the leaf fails
    leaf = inter.issue("bidder-sign", name="示例公司", credit_code=CODE)
    with db.unit_of_work() as s:
        validate_certificate(s, rsa_leaf.certificate, signature_validator=sub)
        assert "rsassa_pkcs1v15" in sub.calls
        err = None
        try:
            validate_certificate(
                s, leaf.certificate, intermediates=[inter.certificate], signature_validator=sub
            )
        except CertificateRejected as exc:
            err = exc
        assert err is not None and err.reason_code == "tampered"
        ctx = TrustContext.load(s)
        assert ctx.signature_validator is not sub
        validate_certificate(s, leaf.certificate, intermediates=[inter.certificate], context=ctx)


def test_a_certificate_signed_with_sha1_is_refused_as_weak(db: Database, root: DevCA, root_id: int) -> None:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    # this OpenSSL no longer signs with SHA-1: relabel a certificate's algorithm as sha1WithRSA,
    # which the algorithm policy refuses before any signature is computed
    leaf = root.issue("bidder-sign", name="示例公司", credit_code=CODE)
    cert = asn1_x509.Certificate.load(leaf.certificate.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"].copy()
    tbs["signature"] = {"algorithm": "sha1_rsa"}
    weak = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": "sha1_rsa"},
            "signature_value": cert["signature_value"],
        }
    )
    err = refused(db, x509.load_der_x509_certificate(weak.dump()))
    assert err.reason_code == "weak_algorithm"
    assert "SHA-256" in err.en
