"""Helpers for the live-events tests: a real server (uvicorn) in a thread or in a process of its
own, and a reader of its server-sent-event streams that waits with deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 30.0


@contextmanager
def served_in_thread(app: Litestar) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


START_DEADLINE_S = 180.0  # a web process imports every domain; slow on a loaded machine


@contextmanager
def web_processes(env: dict[str, str], n: int = 2) -> Iterator[list[str]]:
    """``n`` processes each serving ``create_app(Settings())`` with uvicorn, with ``env``; their
    base URLs once every one answers ``/health``."""
    ports = [free_port() for _ in range(n)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tests.kernel.live_app:create",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--timeout-graceful-shutdown",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    deadline = time.monotonic() + START_DEADLINE_S
    try:
        for proc, base in zip(procs, bases, strict=True):
            while True:
                assert proc.poll() is None, "a web process stopped while starting"
                try:
                    if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "a web process did not start"
                time.sleep(0.1)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@dataclass
class Received:
    """What an SSE stream sent: events (id, event type, data) and comments."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def _read(response: httpx.Response, got: Received) -> None:
    block: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in block or "event" in block:
                got.events.append(block)
            block = {}
            got.changed.set()
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "":
            got.comments.append(value)
            got.changed.set()
        elif name == "data":
            block["data"] = json.loads(value)
        else:
            block[name] = value


@asynccontextmanager
async def watching(
    client: httpx.AsyncClient, topic: str, *, headers: dict[str, str] | None = None, after: int | None = None
) -> AsyncIterator[Received]:
    """Open ``GET /events/{topic}`` and collect what it sends in the background."""
    got = Received()
    params = {"after": str(after)} if after is not None else None
    async with client.stream(
        "GET", f"/events/{topic}", headers={"Accept": "text/event-stream", **(headers or {})}, params=params
    ) as response:
        assert response.status_code == 200, (response.status_code, await response.aread())
        reader = asyncio.create_task(_read(response, got))
        try:
            await wait_for(got, lambda g: "live" in g.comments)  # subscribed
            yield got
        finally:
            reader.cancel()
            with __import__("contextlib").suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader


async def wait_for(got: Received, done: Any, timeout: float = DEADLINE_S) -> None:
    """Wait until ``done(got)``, woken by each message, failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done(got):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; received {got.events} and comments {got.comments}"
        got.changed.clear()
        if done(got):
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(got.changed.wait(), remaining)
