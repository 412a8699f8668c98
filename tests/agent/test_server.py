"""The agent's HTTP protocol: allow-listed origins only (preflight included), loopback only, and
nothing signed that the person at the terminal did not approve, seeing what is signed."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tenderhall.agent.confirm import Decision, SignRequest, describe_request
from tenderhall.agent.keys import P12Key
from tenderhall.agent.server import Agent, AgentConfigError, AgentHTTPServer, normalise_origin
from tenderhall.auth.certlogin import login_message, registration_message
from tenderhall.pki.devca import Issued
from tenderhall.pki.validation import verify_signature
from tests.agent.conftest import RSA_CODE, RSA_COMPANY

PLATFORM = "http://ggzy.example.test:8000"
NONCE = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


class Scripted:
    """A confirmer with a scripted answer that keeps what it was shown."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.seen: list[SignRequest] = []

    def __call__(self, request: SignRequest) -> Decision:
        self.seen.append(request)
        return self.decision


@pytest.fixture
def confirmer() -> Scripted:
    return Scripted("yes")


@pytest.fixture
def agent_url(p12_path: Path, confirmer: Scripted) -> Iterator[str]:
    agent = Agent(P12Key(p12_path, "p12-pass"), [PLATFORM], confirmer)
    server = AgentHTTPServer(agent, "127.0.0.1", 0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=10)


def sign(url: str, body: object, origin: str | None = PLATFORM) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return httpx.post(url + "/v1/sign", json=body, headers=headers, timeout=10)


def test_an_approved_request_signs_the_platforms_login_message(
    agent_url: str, confirmer: Scripted, rsa_cert: Issued
) -> None:
    r = sign(agent_url, {"purpose": "login", "nonce": NONCE, "platform": "某市公共资源交易平台"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == PLATFORM
    body = r.json()
    assert base64.b64decode(body["message_b64"]) == login_message(NONCE)
    assert verify_signature(rsa_cert.certificate, login_message(NONCE), base64.b64decode(body["signature"]))
    assert body["certificate_pem"] == rsa_cert.pem
    assert body["algorithm"] == "rsa-pkcs1v15-sha256"
    (seen,) = confirmer.seen
    assert (seen.origin, seen.platform, seen.purpose, seen.nonce) == (
        PLATFORM,
        "某市公共资源交易平台",
        "login",
        NONCE,
    )
    assert seen.text == login_message(NONCE).decode()
    shown = describe_request(seen)
    for part in (
        PLATFORM,
        "某市公共资源交易平台",
        NONCE,
        RSA_COMPANY,
        RSA_CODE,
        "TenderHall certificate login v1",
    ):
        assert part in shown


def test_a_registration_is_signed_over_its_own_message(agent_url: str, rsa_cert: Issued) -> None:
    r = sign(agent_url, {"purpose": "registration", "nonce": NONCE})
    assert r.status_code == 200, r.text
    sig = base64.b64decode(r.json()["signature"])
    assert verify_signature(rsa_cert.certificate, registration_message(NONCE), sig)
    assert not verify_signature(rsa_cert.certificate, login_message(NONCE), sig)


@pytest.mark.parametrize(
    ("decision", "status", "code"),
    [("no", 403, "refused_at_terminal"), ("timeout", 408, "confirmation_timeout")],
)
def test_a_request_not_approved_at_the_terminal_gets_no_signature(
    agent_url: str, confirmer: Scripted, decision: Decision, status: int, code: str
) -> None:
    confirmer.decision = decision
    r = sign(agent_url, {"purpose": "login", "nonce": NONCE})
    assert r.status_code == status
    assert r.json()["error"] == code
    assert "signature" not in r.json()
    assert r.json()["zh"]  # both languages, for the page to show
    assert len(confirmer.seen) == 1


@pytest.mark.parametrize("origin", ["http://evil.example", "http://ggzy.example.test:8001", "null", None])
def test_other_origins_are_refused_without_cors_headers(
    agent_url: str, confirmer: Scripted, origin: str | None
) -> None:
    r = sign(agent_url, {"purpose": "login", "nonce": NONCE}, origin=origin)
    assert r.status_code == 403
    assert r.json()["error"] == "origin_refused"
    assert "access-control-allow-origin" not in r.headers
    assert confirmer.seen == []  # never reached the terminal
    status = httpx.get(agent_url + "/v1/status", headers={"Origin": origin} if origin else {}, timeout=10)
    assert status.status_code == 403
    assert "certificate" not in status.json()


def test_a_preflight_is_answered_only_for_an_allowed_origin(agent_url: str) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = httpx.options(
        agent_url + "/v1/sign",
        headers={"Origin": PLATFORM, **ask, "Access-Control-Request-Private-Network": "true"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == PLATFORM
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert ok.headers["access-control-allow-headers"].lower() == "content-type"
    assert ok.headers["access-control-allow-private-network"] == "true"
    bad = httpx.options(agent_url + "/v1/sign", headers={"Origin": "http://evil.example", **ask})
    assert bad.status_code == 403
    assert not any(h.startswith("access-control-") for h in bad.headers)


def test_status_tells_an_allowed_page_whose_certificate_it_holds(agent_url: str, rsa_cert: Issued) -> None:
    r = httpx.get(agent_url + "/v1/status", headers={"Origin": PLATFORM}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["protocol"] == 1
    assert body["certificate"]["credit_code"] == RSA_CODE
    assert body["certificate"]["pem"] == rsa_cert.pem
    assert set(body["purposes"]) == {"login", "registration"}


def test_a_request_for_another_host_name_is_refused(agent_url: str, confirmer: Scripted) -> None:
    """DNS rebinding: a name of the attacker's that resolves to 127.0.0.1 arrives with its own Host."""
    r = httpx.post(
        agent_url + "/v1/sign",
        json={"purpose": "login", "nonce": NONCE},
        headers={"Origin": PLATFORM, "Host": "rebind.evil.example"},
    )
    assert r.status_code == 403
    assert r.json()["error"] == "host_refused"
    assert confirmer.seen == []


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "anything", "nonce": NONCE},
        {"purpose": "login", "nonce": "short"},
        {"purpose": "login", "nonce": NONCE + "\nTenderHall bidder registration v1"},
        {"purpose": "login", "nonce": NONCE, "platform": "x" * 101},
        ["login", NONCE],
    ],
)
def test_malformed_requests_never_reach_the_terminal(
    agent_url: str, confirmer: Scripted, body: object
) -> None:
    r = sign(agent_url, body)
    assert r.status_code == 400
    assert r.json()["error"] == "bad_request"
    assert confirmer.seen == []


def test_the_agent_will_not_listen_beyond_loopback(p12_path: Path, confirmer: Scripted) -> None:
    agent = Agent(P12Key(p12_path, "p12-pass"), [PLATFORM], confirmer)
    for host in ("0.0.0.0", "::", "192.168.1.10", "localhost"):
        with pytest.raises(AgentConfigError, match=r"127\.0\.0\.1 only"):
            AgentHTTPServer(agent, host, 0)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://GGZY.example.gov.cn:443", "https://ggzy.example.gov.cn"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ],
)
def test_origins_are_compared_as_browsers_send_them(given: str, expected: str) -> None:
    assert normalise_origin(given) == expected


@pytest.mark.parametrize(
    "bad", ["*", "null", "https://ggzy.example.gov.cn/login", "ftp://x.example", "ggzy.example.gov.cn"]
)
def test_the_allow_list_takes_only_origins(bad: str) -> None:
    with pytest.raises(AgentConfigError):
        normalise_origin(bad)


def test_a_second_request_while_one_waits_for_its_answer_is_busy(p12_path: Path) -> None:
    release = threading.Event()
    asked = threading.Event()

    def slow(_request: SignRequest) -> Decision:
        asked.set()
        release.wait(10)
        return "no"

    agent = Agent(P12Key(p12_path, "p12-pass"), [PLATFORM], slow)
    server = AgentHTTPServer(agent, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        first: list[httpx.Response] = []
        t = threading.Thread(
            target=lambda: first.append(sign(server.url, {"purpose": "login", "nonce": NONCE}))
        )
        t.start()
        assert asked.wait(10)
        second = sign(server.url, {"purpose": "login", "nonce": NONCE})
        assert second.status_code == 409
        assert second.json()["error"] == "busy"
        release.set()
        t.join(10)
        assert first[0].status_code == 403
    finally:
        release.set()
        server.shutdown()
        server.server_close()
