"""Bidder registration is bound to the company's certificate: only the holder of a valid signing
certificate whose subject carries the credit code can register that code, and a refused second
registration does not name the first registrant."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tenderhall.auth import certclient, certlogin
from tenderhall.auth.certclient import CertLoginFailed, register_with_certificate, sign_nonce
from tenderhall.auth.models import Organisation, User
from tenderhall.auth.principal import SYSTEM, Principal
from tenderhall.auth.service import users
from tenderhall.db import Database
from tenderhall.errors import AppError, Conflict
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA, Issued
from tenderhall.settings import Settings
from trading.schemas import RegisterBidderIn
from trading.service import organisations

CODE = make_credit_code("91350100M00077001")
OTHER = make_credit_code("91350100M00077002")
ANON = Principal.anonymous()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    c = DevCA(tmp_path_factory.mktemp("registration-ca"))
    c.init()
    return c


@pytest.fixture(scope="module")
def company_cert(ca: DevCA) -> Issued:
    return ca.issue("bidder-sign", name="福建省真实建设有限公司", credit_code=CODE)


@pytest.fixture
def trusted(db: Database, ca: DevCA) -> None:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())


def _nonce(db: Database, settings: Settings) -> str:
    with db.unit_of_work() as s:
        return certlogin.issue_nonce(s, settings).nonce


def _form(code: str, **extra: Any) -> RegisterBidderIn:
    return RegisterBidderIn(
        credit_code=code, name="福建省真实建设有限公司", username="real.co", display_name="陈真", **extra
    )


def _proof(issued: Issued, nonce: str, *, registration: bool = True) -> dict[str, Any]:
    sig = sign_nonce(issued.key, nonce, registration=registration)  # type: ignore[arg-type]
    return {"certificate_pem": issued.pem, "signature": base64.b64encode(sig).decode(), "nonce": nonce}


def _count(db: Database) -> tuple[int, int]:
    with db.unit_of_work() as s:
        return (
            s.execute(sa.select(sa.func.count()).select_from(Organisation)).scalar_one(),
            s.execute(sa.select(sa.func.count()).select_from(User)).scalar_one(),
        )


def test_nobody_registers_a_credit_code_without_the_companys_certificate(
    db: Database, settings: Settings, trusted: None
) -> None:
    with db.unit_of_work() as s, pytest.raises(AppError) as err:
        organisations.register_bidder(s, ANON, _form(CODE))
    assert err.value.status == 403
    assert err.value.extra["reason"] == "certificate_proof_required"
    assert "nonce" in err.value.en
    assert _count(db) == (0, 0)


def test_a_certificate_of_another_company_cannot_register_this_code(
    db: Database, settings: Settings, ca: DevCA, trusted: None
) -> None:
    squatter = ca.issue("bidder-sign", name="抢注公司", credit_code=OTHER)
    with db.unit_of_work() as s, pytest.raises(AppError) as err:
        organisations.register_bidder(s, ANON, _form(CODE, **_proof(squatter, _nonce(db, settings))))
    assert err.value.status == 403
    assert err.value.code == "certificate_not_for_company"
    assert OTHER in err.value.en
    assert _count(db) == (0, 0)


def test_a_sign_in_signature_is_not_a_registration(
    db: Database, settings: Settings, company_cert: Issued, trusted: None
) -> None:
    proof = _proof(company_cert, _nonce(db, settings), registration=False)
    with db.unit_of_work() as s, pytest.raises(AppError) as err:
        organisations.register_bidder(s, ANON, _form(CODE, **proof))
    assert err.value.extra["reason"] == "bad_signature"


def test_a_certificate_from_an_unrecognised_ca_cannot_register(
    db: Database, settings: Settings, tmp_path: Path, trusted: None
) -> None:
    stranger = DevCA(tmp_path / "stranger")
    stranger.init("Unrecognised CA")
    forged = stranger.issue("bidder-sign", name="福建省真实建设有限公司", credit_code=CODE)
    with db.unit_of_work() as s, pytest.raises(AppError) as err:
        organisations.register_bidder(s, ANON, _form(CODE, **_proof(forged, _nonce(db, settings))))
    assert err.value.status == 403
    assert _count(db) == (0, 0)


def test_the_certificate_holder_registers_and_a_second_registration_does_not_name_it(
    db: Database, settings: Settings, company_cert: Issued, trusted: None
) -> None:
    with db.unit_of_work() as s:
        org, user = organisations.register_bidder(
            s, ANON, _form(CODE, **_proof(company_cert, _nonce(db, settings)))
        )
        assert (org.credit_code, org.kind, user.role) == (CODE, "bidder", "bidder")
    again = RegisterBidderIn(
        credit_code=CODE,
        name="另一家",
        username="second",
        display_name="李四",
        **_proof(company_cert, _nonce(db, settings)),
    )
    with db.unit_of_work() as s, pytest.raises(Conflict) as err:
        organisations.register_bidder(s, ANON, again)
    assert err.value.status == 409
    for text in (err.value.zh, err.value.en):
        assert "真实建设" not in text
        assert "real.co" not in text
    # nor does the kernel's own refusal (administrators registering organisations)
    with db.unit_of_work() as s, pytest.raises(Conflict) as err:
        users.create_organisation(s, SYSTEM, CODE, "别的名字", "bidder")
    assert "真实建设" not in err.value.zh
    assert "真实建设" not in err.value.en


def test_register_over_http_with_the_certificate_then_sign_in_with_it(
    client: Any, db: Database, ca: DevCA, trusted: None, tmp_path: Path
) -> None:
    p12 = tmp_path / "company.p12"
    ca.issue("bidder-sign", name="福建省真实建设有限公司", credit_code=CODE, out=p12, password="pw-12345")
    bare = client.post(
        "/api/trading/organisations/register",
        json={"credit_code": CODE, "name": "抢注", "username": "squat", "display_name": "某"},
    )
    assert bare.status_code == 403
    assert bare.json()["reason"] == "certificate_proof_required"
    page = client.get("/register")  # the page says how: there is no form a squatter could fill in
    assert page.status_code == 200
    assert "tenderhall user cert-register" in page.text
    assert 'action="/register"' not in page.text
    done = register_with_certificate(
        p12, "pw-12345", "http://testserver.local", name="福建省真实建设有限公司", username="real.co",
        display_name="陈真", client=client,
    )  # fmt: skip
    assert done.credit_code == CODE
    signed_in = certclient.certificate_login(p12, "pw-12345", "http://testserver.local", client=client)
    assert signed_in.username == "real.co"
    with pytest.raises(CertLoginFailed) as err:
        register_with_certificate(
            p12, "pw-12345", "http://testserver.local", name="x", username="again", display_name="y",
            client=client,
        )  # fmt: skip
    assert err.value.status == 409
    assert "真实建设" not in str(err.value)
