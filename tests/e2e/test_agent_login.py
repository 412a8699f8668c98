"""A bidder signs in in a real browser through the real signing agent, its key in SoftHSM2: the
page says when the agent is not running and when the signature was refused at its terminal, then
signs in after a "y" and lands on the bidder's page as the company of the certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenderhall.identifiers import make_credit_code
from tenderhall.pki.devca import DevCA
from tests.agent.process import AgentProcess, free_port, token_args
from tests.agent.softhsm import SoftToken, make_token, softhsm_dir, softhsm_module
from tests.e2e.conftest import LiveServer, _serve, _server_env, cli

pytestmark = pytest.mark.e2e

CODE = make_credit_code("91350100M00060001")
COMPANY = "泉州浏览器登录测试建设有限公司"


@pytest.fixture
def agent_port() -> int:
    return free_port()


@pytest.fixture
def token(tmp_path: Path) -> tuple[SoftToken, DevCA]:
    """The dev CA's bidder certificate, its key imported into a SoftHSM2 token."""
    module = softhsm_module()
    ca = DevCA(tmp_path / "ca")
    ca.init()
    issued = ca.issue("bidder-sign", name=COMPANY, credit_code=CODE)
    return make_token(softhsm_dir(tmp_path / "hsm"), module, issued, label="company-ukey", pin="314159"), ca


@pytest.fixture
def server(tmp_path: Path, agent_port: int, token: tuple[SoftToken, DevCA]) -> Iterator[LiveServer]:
    """The platform, trusting the dev CA, with the company registered as a bidder (no password)."""
    port = free_port()
    env = {**_server_env(tmp_path, port), "TENDERHALL_AUTH__AGENT_URL": f"http://127.0.0.1:{agent_port}"}
    cli(env, "migrate", timeout=120)
    cli(env, "pki", "import-ca", str(token[1].cert_path))
    cli(env, "user", "org", CODE, COMPANY, "--kind", "bidder")
    cli(
        env,
        "user",
        "create",
        "qzbidder",
        "--name",
        COMPANY,
        "--role",
        "bidder",
        "--org",
        CODE,
        "--no-password",
    )
    yield from _serve(tmp_path, port, env)


def test_a_bidder_signs_in_through_the_agent_with_a_key_in_softhsm(
    server: LiveServer,
    token: tuple[SoftToken, DevCA],
    agent_port: int,
    page,  # type: ignore[no-untyped-def]
) -> None:
    page.goto(server.url + "/login/certificate?next=/my/notifications")
    status = page.locator("#agent-login-status")

    # no agent yet: the page says so and what to do
    page.click("#agent-login-button")
    status.locator("[role=alert]").wait_for()
    assert "无法连接签名助手" in status.inner_text()
    assert "tenderhall bid agent" in status.inner_text()
    assert page.get_attribute("#agent-login-status", "data-reason") == "agent_unreachable"

    args, env = token_args(token[0], server.url)
    agent = AgentProcess(args, env, port=agent_port)
    try:
        agent.wait_for("listening on")

        # refused at the terminal: the page says where it was refused
        page.click("#agent-login-button")
        agent.wait_for("[y/N]")
        agent.answer("n")
        page.locator("#agent-login-status[data-reason=refused_at_terminal]").wait_for()
        assert "签名在签名助手窗口中被拒绝" in status.inner_text()

        # confirmed: signed in as the certificate's company
        page.click("#agent-login-button")
        agent.wait_for("签名请求 / Signature request")
        agent.wait_for("[y/N]")
        shown = "".join(agent.output)
        for part in (server.url, "登录平台", COMPANY, CODE, "TenderHall certificate login v1"):
            assert part in shown
        agent.answer("y")
        page.wait_for_url(server.url + "/my/notifications")
        assert COMPANY in page.locator(".user-box .who").inner_text()
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["th_session"]["httpOnly"] is True
    finally:
        agent.stop()
