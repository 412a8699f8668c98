"""The sign-in page with the bidder's signing agent: the page fetches a nonce, the agent signs the
platform's login message, and ``POST /login/certificate/agent`` turns that into a cookie session
bound to the company in the certificate; refusals come back as problem details the page shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from litestar.testing import TestClient

from tenderhall.agent.confirm import Decision, SignRequest
from tenderhall.agent.keys import P12Key
from tenderhall.agent.server import Agent
from tenderhall.auth.models import OrgKind, Role, UserSession
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service import users
from tenderhall.db import Database
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tenderhall.settings import Settings

CODE = make_credit_code("91350100M00050001")
COMPANY = "福州签名助手登录测试有限公司"
ORIGIN = "http://testserver.local"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    c = DevCA(tmp_path_factory.mktemp("agent-login-ca"))
    c.init()
    return c


@pytest.fixture(scope="module")
def p12(ca: DevCA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agent-login") / "sign.p12"
    ca.issue("bidder-sign", name=COMPANY, credit_code=CODE, out=out, password="pw")
    return out


@dataclass
class Bidder:
    org_id: int
    user_id: int


@pytest.fixture
def bidder(db: Database, ca: DevCA) -> Bidder:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())
        org = users.create_organisation(s, SYSTEM, CODE, COMPANY, OrgKind.bidder)
        u = users.create_user(s, SYSTEM, "fzagent", "福州签名", Role.bidder, organisation_id=org.id)
        return Bidder(org.id, u.id)  # type: ignore[arg-type]


def approve(_request: SignRequest) -> Decision:
    return "yes"


def agent_signs(p12: Path, nonce: str) -> dict[str, object]:
    """What the agent answers for the page (its own code, in-process; tests/agent run the process)."""
    return Agent(P12Key(p12, "pw"), [ORIGIN], approve).sign(ORIGIN, {"purpose": "login", "nonce": nonce})


def page_csrf(client: TestClient) -> str:  # type: ignore[type-arg]
    page = client.get("/login/certificate")
    m = re.search(r'id="agent-login"[\s\S]*?name="_csrf_token" value="([^"]+)"', page.text)
    assert m, "the agent sign-in form carries no CSRF token"
    return m.group(1)


def nonce(client: TestClient) -> str:  # type: ignore[type-arg]
    r = client.post("/api/auth/certificate/nonce")
    assert r.status_code == 200
    return str(r.json()["nonce"])


def post_signed(
    client: TestClient, body: dict[str, object], *, csrf: str | None, next_: str = "/my/notifications"
):  # type: ignore[no-untyped-def,type-arg]
    headers = {"X-CSRFToken": csrf} if csrf else {}
    payload = {k: body[k] for k in ("certificate_pem", "signature", "intermediates")}
    return client.post(
        "/login/certificate/agent", json={**payload, "nonce": body["nonce"], "next": next_}, headers=headers
    )


def test_the_page_offers_the_agent_and_may_reach_it(client: TestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = client.get("/login/certificate")
    assert r.status_code == 200
    assert f'data-agent-url="{settings.auth.agent_url}"' in r.text
    assert '<script src="/static/agent-login.js" defer></script>' in r.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None  # no inline script
    assert 'id="certificate-token-form"' in r.text  # the pasted token stays as the fallback
    csp = r.headers["content-security-policy"]
    assert f"connect-src 'self' {settings.auth.agent_url};" in csp
    assert "script-src 'self';" in csp
    js = client.get("/static/agent-login.js")
    assert js.status_code == 200
    assert "/v1/sign" in js.text


def test_the_agents_signature_opens_a_cookie_session_bound_to_the_company(
    client: TestClient,
    db: Database,
    p12: Path,
    bidder: Bidder,  # type: ignore[type-arg]
) -> None:
    signed = agent_signs(p12, nonce(client))
    r = post_signed(client, signed, csrf=page_csrf(client))
    assert r.status_code == 200, r.text
    assert r.json() == {"location": "/my/notifications", "username": "fzagent", "credit_code": CODE}
    cookie = r.cookies.get("th_session")
    assert cookie
    page = client.get("/my/notifications")  # the client keeps the cookie it was given
    assert page.status_code == 200
    assert "福州签名" in page.text
    with db.unit_of_work() as s:
        row = s.execute(sa.select(UserSession).where(UserSession.user_id == bidder.user_id)).scalar_one()
        fp = P12Key(p12, "pw").certificate.fingerprint(hashes.SHA256()).hex()
        assert (row.kind, row.organisation_id, row.certificate_fingerprint) == ("cookie", bidder.org_id, fp)


def test_without_the_pages_csrf_token_nothing_signs_in(client: TestClient, p12: Path, bidder: Bidder) -> None:  # type: ignore[type-arg]
    client.get("/login/certificate")
    r = post_signed(client, agent_signs(p12, nonce(client)), csrf=None)
    assert r.status_code == 403
    assert "th_session" not in r.cookies


def test_a_signature_over_another_nonce_is_refused_with_its_reason(
    client: TestClient, p12: Path, bidder: Bidder
) -> None:  # type: ignore[type-arg]
    signed = agent_signs(p12, nonce(client))
    signed["nonce"] = nonce(client)
    r = post_signed(client, signed, csrf=page_csrf(client))
    assert r.status_code == 403
    body = r.json()
    assert body["reason"] == "bad_signature"
    assert "签名校验失败" in body["detail_zh"]
    assert "does not verify" in body["detail_en"]
    assert "th_session" not in r.cookies


def test_a_certificate_from_an_unrecognised_ca_is_refused_with_its_reason(
    client: TestClient,
    bidder: Bidder,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    stranger = DevCA(tmp_path / "stranger")
    stranger.init("Unrecognised CA")
    out = tmp_path / "stranger.p12"
    stranger.issue("bidder-sign", name=COMPANY, credit_code=CODE, out=out, password="pw")
    r = post_signed(client, agent_signs(out, nonce(client)), csrf=page_csrf(client))
    assert r.status_code == 403
    assert r.json()["reason"] == "untrusted"
    assert "th_session" not in r.cookies


def test_the_next_page_stays_on_this_platform(client: TestClient, p12: Path, bidder: Bidder) -> None:  # type: ignore[type-arg]
    r = post_signed(client, agent_signs(p12, nonce(client)), csrf=page_csrf(client), next_="//evil.example/x")
    assert r.status_code == 200
    assert r.json()["location"] == "/desk"  # off-site: the desk, never elsewhere


def test_an_agent_signature_is_single_use(client: TestClient, p12: Path, bidder: Bidder) -> None:  # type: ignore[type-arg]
    signed = agent_signs(p12, nonce(client))
    assert post_signed(client, signed, csrf=page_csrf(client)).status_code == 200
    client.cookies.clear()
    again = post_signed(client, signed, csrf=page_csrf(client))
    assert again.status_code == 403
    assert again.json()["reason"] == "nonce_reused"


def test_the_agent_url_setting_must_be_an_origin() -> None:
    from pydantic import ValidationError

    assert Settings(auth={"agent_url": "http://127.0.0.1:18000/"}).auth.agent_url == "http://127.0.0.1:18000"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="AGENT_URL"):
        Settings(auth={"agent_url": "http://127.0.0.1:18000/v1/sign"})  # type: ignore[arg-type]
