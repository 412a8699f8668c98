"""Several web processes: connections are spread across them, and a dead one is replaced."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.http_load import free_port
from tests.waiting import wait_until

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


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/pid", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(base: str, timeout: float = 30) -> None:
    wait_until(lambda: _answers(base), timeout=timeout, message="the server did not start", interval=0.1)


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
    seen: list[set[int]] = []

    def replaced() -> bool:
        try:
            seen.append(_pids_over_fresh_connections(two_processes, 20))
        except httpx.HTTPError:  # reset on the killed process's socket, or the replacement still starting
            seen.append(set())
            return False
        return len(seen[-1]) == 2 and victim not in seen[-1]

    wait_until(
        replaced,
        timeout=90,  # a spawned process imports the app again: slow on a loaded machine
        interval=0.3,
        message=lambda: f"no replacement for web process {victim}: serving from {seen[-1:]}",
    )


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
        wait_until(marker.exists, timeout=30, message="the request never reached the server")
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)  # raises TimeoutExpired if it ignores SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ignore_errors(fn: object, *args: object) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fn(*args)  # type: ignore[operator]
