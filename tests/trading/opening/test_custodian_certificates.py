"""Custodians register encryption certificates; signing-only and non-RSA certificates are refused."""

from __future__ import annotations

import pytest

from tenderhall.auth.models import Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database
from tenderhall.errors import Forbidden, InvalidInput, NotFound
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tenderhall.pki.validation import CertificateRejected
from tests.factories import principal
from trading.opening.certificates import (
    live_certificate,
    my_certificates,
    register_certificate,
    revoke_certificate,
)

CODE = make_credit_code("91350100M00030001")


@pytest.fixture(scope="module")
def devca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("devca"))
    ca.init()
    return ca


@pytest.fixture
def trusted(db: Database, devca: DevCA) -> None:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, devca.cert_path.read_bytes())


def test_supervisor_registers_lists_and_revokes_an_encryption_certificate(
    db: Database, devca: DevCA, trusted: None
) -> None:
    enc = devca.issue("custodian", name="监督员", credit_code=CODE)
    with db.unit_of_work() as s:
        who = principal(s, Role.supervisor, None)
        row = register_certificate(s, who, enc.pem)
        assert [c.id for c in my_certificates(s, who)] == [row.id]
        assert live_certificate(s, who.user_id or 0) is not None
        other = principal(s, Role.supervisor, None)
        with pytest.raises(NotFound):
            revoke_certificate(s, other, row.id or 0)
        revoke_certificate(s, who, row.id or 0)
        assert live_certificate(s, who.user_id or 0) is None


def test_signing_only_certificate_is_refused(db: Database, devca: DevCA, trusted: None) -> None:
    sign = devca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    with db.unit_of_work() as s:
        who = principal(s, Role.supervisor, None)
        with pytest.raises(CertificateRejected) as err:
            register_certificate(s, who, sign.pem)
        assert err.value.reason_code == "wrong_key_usage"


def test_non_rsa_certificate_is_refused_beside_the_field(db: Database, devca: DevCA, trusted: None) -> None:
    enc = devca.issue("custodian", name="监督员", credit_code=CODE, key_type="ec")
    with db.unit_of_work() as s:
        who = principal(s, Role.supervisor, None)
        with pytest.raises(InvalidInput) as err:
            register_certificate(s, who, enc.pem)
        assert err.value.extra["field"] == "pem"
        assert "RSA" in err.value.zh and "RSA" in err.value.en


def test_a_bidder_may_not_register_a_custodian_certificate(db: Database, devca: DevCA, trusted: None) -> None:
    enc = devca.issue("custodian", name="投标人", credit_code=CODE)
    with db.unit_of_work() as s:
        who = principal(s, Role.bidder, None)
        with pytest.raises(Forbidden):
            register_certificate(s, who, enc.pem)
