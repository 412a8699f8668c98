"""Several web processes: connections are spread across them, and a dead one is replaced."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.http_load import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(port: int, processes: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenderhall.serving",
            "tests.kernel.serving_app:create",
            "--port",
            str(port),
            "--processes",
            str(processes),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def two_processes() -> Iterator[str]:
    port = free_port()
    proc = _serve(port, 2)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def _wait(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/pid", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _pids_over_fresh_connections(base: str, n: int = 40) -> set[int]:
    pids = set()
    for _ in range(n):
        with httpx.Client(base_url=base, timeout=5) as c:  # a new connection each time
            pids.add(c.get("/pid").json()["pid"])
    return pids


def test_connections_are_spread_over_every_web_process(two_processes: str) -> None:
    # 40 connections hashed over two sockets all landing on one has a chance of 2 in 2^40.
    assert len(_pids_over_fresh_connections(two_processes)) == 2


def test_a_web_process_that_dies_is_replaced(two_processes: str) -> None:
    before = _pids_over_fresh_connections(two_processes)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _pids_over_fresh_connections(two_processes, 20)
        if len(now) == 2 and victim not in now:
            return
        time.sleep(0.3)
    raise AssertionError(f"no replacement for web process {victim}: serving from {now}")


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_stops_the_server_even_with_a_request_that_never_finishes(
    processes: int, tmp_path: Path
) -> None:
    """A probe saw a hung web process ignore SIGTERM for 11 minutes: uvicorn waited for its
    in-flight requests without limit. It now waits a bounded time, then stops."""
    port = free_port()
    marker = tmp_path / "in-flight"
    proc = _serve(port, processes, {"TENDERHALL_TEST_STUCK_MARKER": str(marker)})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        client = httpx.Client(base_url=base, timeout=120)
        threading.Thread(target=lambda: _ignore_errors(client.get, "/stuck"), daemon=True).start()
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, "the request never reached the server"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)  # raises TimeoutExpired if it ignores SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ignore_errors(fn: object, *args: object) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fn(*args)  # type: ignore[operator]
