"""Certificate sign-in for bidders: a good sign-in binds the session to the company in the
certificate; every refusal says why, in Chinese and English, and is audited."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from litestar.testing import TestClient

from tenderhall.audit.models import AuditEvent
from tenderhall.auth import certclient, certlogin
from tenderhall.auth.models import OrgKind, Role, UserSession
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service import sessions, users
from tenderhall.db import Database, utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA, Issued
from tenderhall.settings import Settings

CODE = make_credit_code("91350100M00030001")


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    c = DevCA(tmp_path_factory.mktemp("certlogin-ca"))
    c.init()
    return c


@pytest.fixture(scope="session")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    c = DevCA(tmp_path_factory.mktemp("stranger-ca"))
    c.init("Unrecognised CA", key_type="ec")
    return c


@pytest.fixture(scope="session")
def sign_cert(ca: DevCA) -> Issued:
    return ca.issue("bidder-sign", name="福建省示例建设工程有限公司", credit_code=CODE)


@dataclass
class Bidder:
    org_id: int
    user_id: int


@pytest.fixture
def bidder(db: Database, ca: DevCA) -> Bidder:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())
        org = users.create_organisation(s, SYSTEM, CODE, "福建省示例建设工程有限公司", OrgKind.bidder)
        u = users.create_user(s, SYSTEM, "fjsl", "福建示例", Role.bidder, organisation_id=org.id)
        ids = Bidder(org.id, u.id)  # type: ignore[arg-type]
    return ids


def sign(issued: Issued, nonce: str, *, pss: bool = False) -> str:
    msg = certlogin.login_message(nonce)
    key = issued.key
    if isinstance(key, rsa.RSAPrivateKey):
        pad = (
            padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH) if pss else padding.PKCS1v15()
        )
        sig = key.sign(msg, pad, hashes.SHA256())
    else:
        from cryptography.hazmat.primitives.asymmetric import ec

        sig = key.sign(msg, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(sig).decode()


def new_nonce(client: TestClient) -> str:  # type: ignore[type-arg]
    r = client.post("/api/auth/certificate/nonce")
    assert r.status_code == 200, r.text
    body = r.json()
    assert base64.b64decode(body["message_b64"]) == certlogin.login_message(body["nonce"])
    return str(body["nonce"])


def login(
    client: TestClient,
    issued: Issued,
    nonce: str | None = None,
    *,
    signed_nonce: str | None = None,  # type: ignore[type-arg]
    pem: str | None = None,
    pss: bool = False,
):  # type: ignore[no-untyped-def]
    nonce = nonce or new_nonce(client)
    return client.post(
        "/api/auth/certificate/login",
        json={
            "certificate_pem": pem or issued.pem,
            "signature": sign(issued, signed_nonce or nonce, pss=pss),
            "nonce": nonce,
        },
    )


def refusal_events(db: Database) -> list[dict[str, object]]:
    with db.unit_of_work() as s:
        return [
            e.data
            for e in s.execute(
                sa.select(AuditEvent)
                .where(AuditEvent.action == "auth.login.refused")
                .order_by(AuditEvent.seq)
            ).scalars()
        ]


def assert_refused(db: Database, r, reason: str, status: int = 403) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import re

    assert r.status_code == status, r.text
    body = r.json()
    assert body["reason"] == reason
    # a message a person can act on, in each language (not an empty or generic HTTP phrase)
    assert re.search(r"[\u4e00-\u9fff]", body["detail_zh"]), body
    assert len(re.findall(r"\b[A-Za-z]{2,}\b", body["detail_en"])) >= 3, body  # English words
    assert body["detail_en"] not in ("Forbidden", "Unauthorized", "Bad Request"), body
    assert body["detail_en"] != body["detail_zh"], body
    events = refusal_events(db)
    assert [e["reason"] for e in events][-1:] == [reason], "the refusal was not audited"
    assert events[-1]["method"] == "certificate"
    return dict(body)


def test_good_certificate_login_binds_the_session_to_the_company(
    client: TestClient,
    db: Database,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    r = login(client, sign_cert)
    assert r.status_code == 200, r.text
    assert r.json()["credit_code"] == CODE
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me["user_id"] == bidder.user_id
    assert me["organisation_id"] == bidder.org_id
    assert me["credit_code"] == CODE
    assert me["certificate_fingerprint"] == sign_cert.certificate.fingerprint(hashes.SHA256()).hex()
    with db.unit_of_work() as s:
        ev = s.execute(sa.select(AuditEvent).where(AuditEvent.action == "auth.login.succeeded")).scalar_one()
    assert ev.data["credit_code"] == CODE


def test_rsa_pss_and_ecdsa_p256_signatures_are_accepted(
    client: TestClient,
    ca: DevCA,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    assert login(client, sign_cert, pss=True).status_code == 200
    ec_cert = ca.issue("bidder-sign", name="福建省示例建设工程有限公司", credit_code=CODE, key_type="ec")
    assert login(client, ec_cert).status_code == 200


def test_untrusted_certificate_is_refused(
    client: TestClient,
    db: Database,
    stranger_ca: DevCA,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    cert = stranger_ca.issue(
        "bidder-sign", name="福建省示例建设工程有限公司", credit_code=CODE, key_type="ec"
    )
    body = assert_refused(db, login(client, cert), "untrusted")
    assert "Unrecognised CA" in str(body["detail_en"])


def test_expired_certificate_is_refused(client: TestClient, db: Database, ca: DevCA, bidder: Bidder) -> None:  # type: ignore[type-arg]
    now = utcnow()
    cert = ca.issue(
        "bidder-sign",
        name="示例",
        credit_code=CODE,
        key_type="ec",
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(seconds=5),
    )
    body = assert_refused(db, login(client, cert), "expired")
    assert "renew" in str(body["detail_en"])


def test_revoked_certificate_is_refused_once_the_crl_is_imported(
    client: TestClient,
    db: Database,
    ca: DevCA,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    cert = ca.issue("bidder-sign", name="示例", credit_code=CODE, key_type="ec")
    assert login(client, cert).status_code == 200
    ca.revoke(cert.serial)
    with db.unit_of_work() as s:
        truststore.import_crl(s, SYSTEM, ca.crl())
    body = assert_refused(db, login(client, cert), "revoked")
    assert cert.serial in str(body["detail_en"])


def test_encryption_certificate_is_refused_for_sign_in(
    client: TestClient,
    db: Database,
    ca: DevCA,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    enc = ca.issue("bidder-enc", name="示例", credit_code=CODE, key_type="ec")
    # an EC encryption key is for key agreement; it can still produce a signature, which must not help
    body = assert_refused(db, login(client, enc), "wrong_key_usage")
    assert "signing certificate" in str(body["detail_en"])


def test_tampered_certificate_is_refused(
    client: TestClient,
    db: Database,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    der = bytearray(sign_cert.certificate.public_bytes(serialization.Encoding.DER))
    i = der.find("福建省示例".encode())
    der[i : i + 3] = "浙".encode()  # rename the holder
    pem = x509.load_der_x509_certificate(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    assert_refused(db, login(client, sign_cert, pem=pem), "tampered")


def test_signature_over_another_nonce_is_refused(
    client: TestClient,
    db: Database,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    old = new_nonce(client)
    body = assert_refused(db, login(client, sign_cert, signed_nonce=old), "bad_signature")
    assert "nonce" in str(body["detail_en"])


def test_reused_nonce_is_refused(
    client: TestClient,
    db: Database,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    nonce = new_nonce(client)
    assert login(client, sign_cert, nonce).status_code == 200
    assert_refused(db, login(client, sign_cert, nonce), "nonce_reused")


def test_expired_and_unknown_nonces_are_refused(
    db: Database, settings: Settings, sign_cert: Issued, bidder: Bidder
) -> None:
    t0 = utcnow()
    with db.unit_of_work() as s:
        nonce = certlogin.issue_nonce(s, settings, now=t0).nonce
    late = t0 + dt.timedelta(seconds=settings.auth.nonce_seconds + 1)
    with db.unit_of_work() as s:
        out = certlogin.login_with_certificate(
            s, settings, sign_cert.pem, sign(sign_cert, nonce), nonce, "10.1.1.1", now=late
        )
        unknown = certlogin.login_with_certificate(
            s, settings, sign_cert.pem, sign(sign_cert, "x"), "x", "10.1.1.1", now=late
        )
    assert out.error is not None
    assert out.error.extra["reason"] == "nonce_expired"
    assert unknown.error is not None
    assert unknown.error.extra["reason"] == "unknown_nonce"
    assert [e["reason"] for e in refusal_events(db)] == ["nonce_expired", "unknown_nonce"]


def test_certificate_of_an_unregistered_company_is_refused(
    client: TestClient,
    db: Database,
    ca: DevCA,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    other = ca.issue(
        "bidder-sign", name="未注册公司", credit_code=make_credit_code("91350100M00030002"), key_type="ec"
    )
    assert_refused(db, login(client, other), "unknown_company")


def test_cli_client_helper_signs_in_with_a_pkcs12_file(
    client: TestClient,
    ca: DevCA,
    bidder: Bidder,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    p12 = tmp_path / "bidder-sign.p12"
    ca.issue(
        "bidder-sign",
        name="福建省示例建设工程有限公司",
        credit_code=CODE,
        out=p12,
        password="p12-password",
        key_type="ec",
    )
    result = certclient.certificate_login(p12, "p12-password", "http://testserver.local", client=client)
    assert result.credit_code == CODE
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {result.token}"}).status_code == 200
    wrong = tmp_path / "enc.p12"
    ca.issue(
        "bidder-enc", name="福建省示例建设工程有限公司", credit_code=CODE, out=wrong, password="p12-password"
    )
    with pytest.raises(certclient.CertLoginFailed) as ei:
        certclient.certificate_login(wrong, "p12-password", "http://testserver.local", client=client)
    assert ei.value.reason == "wrong_key_usage"


def _page_csrf(client: TestClient, path: str) -> str:  # type: ignore[type-arg]
    import re

    page = client.get(path)
    assert page.status_code == 200, page.text
    m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert m, "the page has no form with a CSRF token"
    return m.group(1)


def test_a_certificate_sign_in_token_opens_a_browser_session_bound_to_the_company(
    client: TestClient,
    db: Database,
    sign_cert: Issued,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    token = login(client, sign_cert).json()["token"]
    r = client.post(
        "/login/certificate",
        data={
            "token": token,
            "next": "/my/notifications",
            "_csrf_token": _page_csrf(client, "/login/certificate"),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/my/notifications"
    cookie = r.cookies.get("th_session")
    assert cookie
    assert cookie != token
    assert client.get("/my/notifications", cookies={"th_session": cookie}).status_code == 200
    with db.unit_of_work() as s:
        row = s.execute(
            sa.select(UserSession).where(UserSession.kind == "cookie", UserSession.user_id == bidder.user_id)
        ).scalar_one()
    assert row.certificate_fingerprint == sign_cert.certificate.fingerprint(hashes.SHA256()).hex()
    assert row.organisation_id == bidder.org_id


def test_only_a_certificate_sign_in_token_opens_a_browser_session(
    client: TestClient,
    db: Database,
    settings: Settings,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    with db.unit_of_work() as s:  # an administrator-issued token (no certificate behind it)
        staff = users.create_user(s, SYSTEM, "ops", "运维", Role.admin)
        api_token = sessions.issue_session(s, settings, staff, "api").token
    for token in (api_token, "not-a-token"):
        r = client.post(
            "/login/certificate",
            data={"token": token, "_csrf_token": _page_csrf(client, "/login/certificate")},
            follow_redirects=False,
        )
        assert r.status_code == 401, r.text
        assert "th_session" not in r.cookies
        assert "tenderhall user cert-login" in r.text
