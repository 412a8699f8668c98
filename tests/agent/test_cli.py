"""``tenderhall bid agent`` as a bidder runs it: a real process, its terminal driven through stdin."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tenderhall.auth.certlogin import login_message
from tenderhall.pki.devca import Issued
from tenderhall.pki.validation import verify_signature
from tests.agent.conftest import RSA_CODE, RSA_COMPANY
from tests.agent.process import ROOT, AgentProcess, token_args
from tests.agent.softhsm import SoftToken

PLATFORM = "http://127.0.0.1:8000"
NONCE = "cliNonce_0123456789abcdefghijklmn"


@pytest.fixture
def agent(rsa_token: SoftToken) -> Iterator[AgentProcess]:
    args, env = token_args(rsa_token, PLATFORM)
    proc = AgentProcess(args, env)
    try:
        proc.wait_for("listening on")
        yield proc
    finally:
        proc.stop()


def test_the_terminal_sees_what_is_signed_and_its_answer_decides(
    agent: AgentProcess, rsa_cert: Issued
) -> None:
    assert any(RSA_COMPANY in line for line in agent.output)  # the certificate, at start-up
    with httpx.Client(headers={"Origin": PLATFORM}, timeout=30) as http:
        import threading

        results: list[httpx.Response] = []
        t = threading.Thread(
            target=lambda: results.append(
                http.post(
                    agent.url + "/v1/sign", json={"purpose": "login", "nonce": NONCE, "platform": "测试平台"}
                )
            )
        )
        t.start()
        shown = [agent.wait_for("签名请求 / Signature request")]
        shown.append(agent.wait_for("[y/N]"))
        agent.answer("y")
        t.join(timeout=30)
        text = "".join(agent.output)
        for part in (PLATFORM, "测试平台", "登录平台", NONCE, RSA_COMPANY, RSA_CODE):
            assert part in text
        (r,) = results
        assert r.status_code == 200, r.text
        assert verify_signature(
            rsa_cert.certificate, login_message(NONCE), base64.b64decode(r.json()["signature"])
        )

        t = threading.Thread(
            target=lambda: results.append(
                http.post(agent.url + "/v1/sign", json={"purpose": "login", "nonce": NONCE})
            )
        )
        t.start()
        agent.wait_for("[y/N]")
        agent.answer("n")
        t.join(timeout=30)
        assert results[1].status_code == 403
        assert results[1].json()["error"] == "refused_at_terminal"


def test_without_input_at_the_terminal_nothing_is_signed(rsa_token: SoftToken) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    proc = AgentProcess(args, env)
    try:
        proc.wait_for("listening on")
        assert proc.proc.stdin is not None
        proc.proc.stdin.close()
        r = httpx.post(
            proc.url + "/v1/sign",
            json={"purpose": "login", "nonce": NONCE},
            headers={"Origin": PLATFORM},
            timeout=30,
        )
        assert r.status_code == 403
        assert r.json()["error"] == "refused_at_terminal"
    finally:
        proc.stop()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "tenderhall.cli", "bid", "agent", "--port", "0", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_a_wrong_pin_stops_the_agent_with_a_clear_error(rsa_token: SoftToken) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    r = _run(args, {**env, "TENDERHALL_AGENT_PIN": "000999"})
    assert r.returncode == 2
    assert "PIN is wrong" in r.stderr
    assert "000999" not in r.stderr + r.stdout


def test_a_missing_token_stops_the_agent_with_a_clear_error(rsa_token: SoftToken) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    args[args.index("--token-label") + 1] = "unplugged-ukey"
    r = _run(args, env)
    assert r.returncode == 2
    assert "No token labelled 'unplugged-ukey'" in r.stderr


def test_a_missing_module_stops_the_agent_with_a_clear_error(rsa_token: SoftToken) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    args[args.index("--pkcs11-module") + 1] = "/nonexistent/libukey.so"
    r = _run(args, env)
    assert r.returncode == 2
    assert "PKCS#11 module /nonexistent/libukey.so does not exist" in r.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.2"])
def test_the_agent_refuses_to_listen_beyond_loopback(rsa_token: SoftToken, host: str) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    r = _run([*args, "--host", host], env)
    assert r.returncode == 2
    assert f"--host {host}: the signing agent listens on 127.0.0.1 only" in r.stderr


def test_the_agent_needs_an_origin_to_sign_for(rsa_token: SoftToken) -> None:
    args, env = token_args(rsa_token, PLATFORM)
    r = _run(args[: args.index("--allow-origin")], env)
    assert r.returncode == 2
    assert "--allow-origin" in r.stderr


def test_an_agent_on_a_pkcs12_file_serves_its_certificate(p12_path: Path, rsa_cert: Issued) -> None:
    proc = AgentProcess(
        ["--p12", str(p12_path), "--allow-origin", PLATFORM], {"TENDERHALL_AGENT_P12_PASSWORD": "p12-pass"}
    )
    try:
        proc.wait_for("listening on")
        r = httpx.get(proc.url + "/v1/status", headers={"Origin": PLATFORM}, timeout=30)
        assert r.status_code == 200
        assert r.json()["certificate"]["pem"] == rsa_cert.pem
    finally:
        proc.stop()


def test_a_wrong_pkcs12_password_stops_the_agent(p12_path: Path) -> None:
    r = _run(
        ["--p12", str(p12_path), "--allow-origin", PLATFORM], {"TENDERHALL_AGENT_P12_PASSWORD": "nope-nope"}
    )
    assert r.returncode == 2
    assert "wrong password" in r.stderr
    assert "nope-nope" not in r.stderr + r.stdout
