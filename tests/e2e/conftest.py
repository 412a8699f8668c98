"""Browser tests: a real `tenderhall serve` process on a free port, driven by Playwright with
Debian's Chromium (never a browser downloaded by the test tool)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import need_command
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    database_url: str
    workdir: Path
    demo_output: str = ""

    def totp(self, username: str) -> str:
        return cli(self.env, "user", "totp-code", username).strip().split()[-1]

    def sign_in(self, page, username: str, password: str = "demo-password") -> None:  # type: ignore[no-untyped-def]
        page.goto(self.url + "/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.fill("#totp", self.totp(username))
        page.click("button[type=submit]")
        page.wait_for_load_state()


def _server_env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TENDERHALL_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
        "TENDERHALL_BROKER_URL": "memory://",
        "TENDERHALL_BLOB_DIR": str(tmp_path / "blobs"),
        "TENDERHALL_KEY_DIR": str(tmp_path / "keys"),
        "TENDERHALL_BASE_URL": f"http://127.0.0.1:{port}",
        "TENDERHALL_LOG_LEVEL": "WARNING",
    }


def cli(env: dict[str, str], *args: str, cwd: Path = ROOT, timeout: float = 600) -> str:
    """Run `tenderhall …` as a user would; return its standard output."""
    r = subprocess.run(
        [sys.executable, "-m", "tenderhall.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if r.returncode != 0:
        raise RuntimeError(f"tenderhall {' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def _serve(tmp_path: Path, port: int, env: dict[str, str]) -> Iterator[LiveServer]:
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenderhall.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def server_log() -> str:
        log.flush()
        return "server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:]

    try:
        wait_until(lambda: proc.poll() is not None or healthy(), timeout=90, interval=0.2, message=server_log)
        if proc.poll() is not None:
            raise AssertionError(server_log())
        yield LiveServer(url=url, env=env, database_url=env["TENDERHALL_DATABASE_URL"], workdir=tmp_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A migrated, empty SQLite database and a `tenderhall serve` subprocess (jobs in-process)."""
    port = _free_port()
    env = _server_env(tmp_path, port)
    cli(env, "migrate", timeout=120)
    yield from _serve(tmp_path, port, env)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`tenderhall demo` on a fresh SQLite database, then `tenderhall serve` on it (one per module)."""
    tmp_path = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = _server_env(tmp_path, port)
    out = cli(env, "demo", cwd=tmp_path)
    (tmp_path / "demo.out").write_text(out)
    for server in _serve(tmp_path, port, env):
        server.demo_output = out
        yield server


@pytest.fixture
def browser() -> Iterator[object]:
    exe = need_command("chromium", "the browser tests cannot run", package="chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path: Path):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = ctx.new_page()
    yield pg
    ctx.close()
