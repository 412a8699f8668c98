"""PKI: trust store of several CA roots, document-signing chain validation, CRLs, credit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.errors import Conflict, RuleViolation
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA, load_p12
from tenderhall.pki.validation import (
    CertificateRejected,
    credit_code_of,
    validate_certificate,
)

CODE = make_credit_code("91350100M00020001")
CODE2 = make_credit_code("91350100M00020002")


@pytest.fixture(scope="session")
def devca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("devca"))
    ca.init()
    return ca


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("otherca"))
    ca.init("Other Province CA Root", organisation="某省数字证书认证中心", key_type="ec")
    return ca


@pytest.fixture
def trusted(db: Database, devca: DevCA) -> int:
    with db.unit_of_work() as s:
        ca_id = truststore.import_ca(s, SYSTEM, devca.cert_path.read_bytes()).id
    assert ca_id is not None
    return ca_id


def rejected(
    db: Database, cert: x509.Certificate, purpose: str = "signing", **kw: object
) -> CertificateRejected:
    with db.unit_of_work() as s, pytest.raises(CertificateRejected) as ei:
        validate_certificate(s, cert, purpose, **kw)  # type: ignore[arg-type]
    assert ei.value.status == 403
    assert ei.value.zh
    assert ei.value.en
    return ei.value


def test_signing_certificate_from_a_trusted_ca_is_valid_and_names_the_company(
    db: Database, devca: DevCA, trusted: int
) -> None:
    issued = devca.issue("bidder-sign", name="福建示例建设工程有限公司", credit_code=CODE)
    with db.unit_of_work() as s:
        v = validate_certificate(s, issued.pem, "signing")
    assert v.credit_code == CODE
    assert v.ca_id == trusted
    assert v.serial == issued.serial
    assert "organizationIdentifier=NTRCN-" + CODE in v.subject
    assert v.not_after == issued.certificate.not_valid_after_utc


def test_company_may_hold_a_signing_and_an_encryption_certificate_for_the_same_code(
    db: Database, devca: DevCA, trusted: int
) -> None:
    sign = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    enc = devca.issue("bidder-enc", name="示例公司", credit_code=CODE)
    with db.unit_of_work() as s:
        a = validate_certificate(s, sign.certificate, "signing")
        b = validate_certificate(s, enc.certificate, "encryption")
    assert a.credit_code == b.credit_code == CODE
    assert a.fingerprint != b.fingerprint


def test_certificate_of_an_unknown_ca_is_untrusted(db: Database, other_ca: DevCA, trusted: int) -> None:
    issued = other_ca.issue("bidder-sign", name="外省公司", credit_code=CODE)
    err = rejected(db, issued.certificate)
    assert err.reason_code == "untrusted"
    assert "Other Province CA Root" in err.en


def test_several_roots_are_trusted_at_once(db: Database, devca: DevCA, other_ca: DevCA, trusted: int) -> None:
    with db.unit_of_work() as s:
        other_id = truststore.import_ca(s, SYSTEM, other_ca.cert_path.read_text()).id
    a = devca.issue("bidder-sign", name="甲公司", credit_code=CODE)
    b = other_ca.issue("bidder-sign", name="乙公司", credit_code=CODE2, key_type="ec")
    with db.unit_of_work() as s:
        assert validate_certificate(s, a.certificate).ca_id == trusted
        assert validate_certificate(s, b.certificate).ca_id == other_id


def test_deactivated_ca_is_no_longer_trusted(db: Database, devca: DevCA, trusted: int) -> None:
    issued = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    with db.unit_of_work() as s:
        truststore.set_ca_active(s, SYSTEM, trusted, False)
    assert rejected(db, issued.certificate).reason_code == "untrusted"


def test_expired_and_not_yet_valid_certificates_are_refused(db: Database, devca: DevCA, trusted: int) -> None:
    now = utcnow()
    old = devca.issue(
        "bidder-sign",
        name="示例公司",
        credit_code=CODE,
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(seconds=30),
    )
    err = rejected(db, old.certificate)
    assert err.reason_code == "expired"
    assert "renew" in err.en
    future = devca.issue(
        "bidder-sign", name="示例公司", credit_code=CODE, not_before=now + dt.timedelta(days=2)
    )
    assert rejected(db, future.certificate).reason_code == "not_yet_valid"
    # validity is judged at the time asked for
    with db.unit_of_work() as s:
        validate_certificate(s, old.certificate, at=now - dt.timedelta(seconds=60))


def test_encryption_certificate_cannot_sign_and_signing_certificate_cannot_encrypt(
    db: Database, devca: DevCA, trusted: int
) -> None:
    enc = devca.issue("bidder-enc", name="示例公司", credit_code=CODE)
    err = rejected(db, enc.certificate, "signing")
    assert err.reason_code == "wrong_key_usage"
    assert "encryption certificate" in err.en
    sign = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    assert rejected(db, sign.certificate, "encryption").reason_code == "wrong_key_usage"


def test_tampered_certificate_is_refused(db: Database, devca: DevCA, trusted: int) -> None:
    issued = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    der = bytearray(issued.certificate.public_bytes(serialization.Encoding.DER))
    i = der.find(CODE.encode())
    der[i : i + 18] = CODE2.encode()  # swap in another company's credit code
    err = rejected(db, x509.load_der_x509_certificate(bytes(der)))
    assert err.reason_code == "tampered"
    assert "altered" in err.en


def test_revocation_comes_from_an_imported_crl_and_counts_from_its_date(
    db: Database, devca: DevCA, trusted: int
) -> None:
    issued = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    with db.unit_of_work() as s:
        validate_certificate(s, issued.certificate)
    revoked_at = utcnow() - dt.timedelta(minutes=1)
    devca.revoke(issued.serial, at=revoked_at)
    crl = devca.crl()
    with db.unit_of_work() as s:
        truststore.import_crl(s, SYSTEM, crl)
    err = rejected(db, issued.certificate)
    assert err.reason_code == "revoked"
    assert issued.serial in err.en
    with db.unit_of_work() as s:  # a signature made before the revocation was by a valid certificate
        validate_certificate(s, issued.certificate, at=revoked_at - dt.timedelta(seconds=60))
        ev = s.execute(sa.select(AuditEvent).where(AuditEvent.action == "pki.crl.import")).scalar_one()
        listed = {f"{r.serial_number:x}" for r in x509.load_pem_x509_crl(crl)}
        assert issued.serial.lower() in listed
        assert ev.data["added"] == len(listed)  # every serial of the CRL is new to this platform


def test_crl_with_a_bad_signature_or_unknown_issuer_is_refused(
    db: Database, devca: DevCA, other_ca: DevCA, trusted: int, tmp_path: Path
) -> None:
    with db.unit_of_work() as s, pytest.raises(RuleViolation, match="not in the trust store"):
        truststore.import_crl(s, SYSTEM, other_ca.crl())
    # a CRL naming the dev CA but signed with another key
    forger = DevCA(tmp_path / "forger")
    forger.init("TenderHall Development Root CA", organisation="TenderHall 开发测试 CA")
    with db.unit_of_work() as s, pytest.raises(RuleViolation, match="does not verify"):
        truststore.import_crl(s, SYSTEM, forger.crl())


def test_older_crl_than_the_last_imported_is_refused(db: Database, devca: DevCA, trusted: int) -> None:
    now = utcnow()
    older = devca.crl(now=now - dt.timedelta(days=1))
    newer = devca.crl(now=now)
    with db.unit_of_work() as s:
        truststore.import_crl(s, SYSTEM, newer)
    with db.unit_of_work() as s, pytest.raises(Conflict):
        truststore.import_crl(s, SYSTEM, older)


def test_certificate_issued_by_an_intermediate_validates_with_the_intermediate(
    db: Database, devca: DevCA, trusted: int
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key = serialization.load_pem_private_key(devca.key_path.read_bytes(), None)
    ikey = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    iname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate Signing CA")])
    inter = (
        x509.CertificateBuilder()
        .subject_name(iname)
        .issuer_name(devca.certificate.subject)
        .public_key(ikey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    lkey = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"USCC:{CODE}"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "示例公司"),
                ]
            )
        )
        .issuer_name(iname)
        .public_key(lkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=10))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .sign(ikey, hashes.SHA256())
    )
    assert rejected(db, leaf).reason_code == "untrusted"  # without the intermediate
    with db.unit_of_work() as s:
        v = validate_certificate(s, leaf, intermediates=[inter.public_bytes(serialization.Encoding.PEM)])
    assert v.credit_code == CODE
    assert v.ca_id == trusted
    # an intermediate that is not a CA cannot issue
    not_ca = (
        x509.CertificateBuilder()
        .subject_name(iname)
        .issuer_name(devca.certificate.subject)
        .public_key(ikey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    assert rejected(db, leaf, intermediates=[not_ca]).reason_code == "issuer_not_ca"


def _cert_with_subject(attrs: list[x509.NameAttribute]) -> x509.Certificate:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(attrs)
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        (NameOID.ORGANIZATION_IDENTIFIER, CODE),
        (NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{CODE}"),
        (NameOID.SERIAL_NUMBER, CODE),
        (NameOID.SERIAL_NUMBER, f"统一社会信用代码:{CODE}"),
        (NameOID.SERIAL_NUMBER, f"1@2001@{CODE}"),
        (x509.ObjectIdentifier("2.5.4.45"), CODE),
    ],
)
def test_credit_code_is_read_from_the_forms_chinese_cas_use(oid: x509.ObjectIdentifier, value: str) -> None:
    from cryptography.x509.name import _ASN1Type

    attr = x509.NameAttribute(oid, value, _type=_ASN1Type.UTF8String)  # some CAs encode serialNumber as UTF8
    cert = _cert_with_subject([attr, x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    assert credit_code_of(cert) == CODE


def test_credit_code_with_a_wrong_check_character_is_refused_with_the_reason() -> None:
    bad = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    cert = _cert_with_subject([x509.NameAttribute(NameOID.SERIAL_NUMBER, bad)])
    with pytest.raises(CertificateRejected) as ei:
        credit_code_of(cert)
    assert ei.value.reason_code == "bad_credit_code"
    assert "check character" in ei.value.en
    with pytest.raises(CertificateRejected) as ei:
        credit_code_of(_cert_with_subject([x509.NameAttribute(NameOID.COMMON_NAME, "个人")]))
    assert ei.value.reason_code == "no_credit_code"


def test_dev_ca_writes_password_protected_pkcs12_for_every_kind(devca: DevCA, tmp_path: Path) -> None:
    for kind in ("bidder-sign", "bidder-enc", "staff", "custodian"):
        out = tmp_path / f"{kind}.p12"
        devca.issue(kind, name=f"{kind} 持有人", credit_code=CODE, out=out, password="s3cret-pass")  # type: ignore[arg-type]
        key, cert, cas = load_p12(out, "s3cret-pass")
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        assert cas[0].subject == devca.certificate.subject
        assert out.stat().st_mode & 0o077 == 0
    from tenderhall.pki.devca import DevCAError

    with pytest.raises(DevCAError, match="wrong password"):
        load_p12(tmp_path / "staff.p12", "not-the-password")
