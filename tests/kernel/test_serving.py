"""Several web processes: connections are spread across them, and a dead one is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.http_load import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_processes() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenderhall.serving",
            "tests.kernel.serving_app:create",
            "--port",
            str(port),
            "--processes",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
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
