"""Live events: 500 SSE watchers over 2 web processes, delay from commit to delivery.

Each set-up serves the platform in ``TENDERHALL_BENCH_LIVE_PROCESSES`` web processes (default 2,
one port, ``SO_REUSEPORT``) and opens ``TENDERHALL_BENCH_WATCHERS`` (default 500) watchers of the
admin jobs topic (``GET /events/jobs``) spread over them. This process then publishes
``TENDERHALL_BENCH_EVENTS`` (default 20) events through ``tenderhall.events`` (one transaction each,
``TENDERHALL_BENCH_EVENT_GAP_MS`` apart, default 100), each carrying the time just before its
commit; every watcher records when each event reaches it. Figures per set-up: p50 and p95 delay,
delivered/expected, errors. The issue's target is p95 < 1 s with no error: it is the "baseline"
column (a target, not a same-run measurement: there is no lighter way to deliver the same events
across processes to compare with).

Set-ups: PostgreSQL + Redis (pub/sub), PostgreSQL alone (LISTEN/NOTIFY; the broker is RabbitMQ,
``TENDERHALL_TEST_AMQP_URL``), and the embedded SQLite + memory backend, where events committed in
another process reach a web process by its tail of the events table (every ``poll_seconds``).
PostgreSQL set-ups need ``TENDERHALL_BENCH_DATABASE_URL`` or ``TENDERHALL_TEST_DATABASE_URL``;
Redis ``TENDERHALL_TEST_REDIS_URL``. ``TENDERHALL_BENCH_LIVE_ONLY`` (a word of a set-up's name,
``redis``, ``notify``, ``embedded``) runs only the set-ups it names.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench import Result
from bench.http_load import (
    PLATFORM_APP,
    env_setting,
    postgres_server_url,
    temporary_postgres_database,
    temporary_sqlite_database,
    uvicorn_server,
)

TARGET_P95_MS = 1000.0
CONNECT_TIMEOUT_S = 120.0
DELIVERY_TIMEOUT_S = 60.0


@dataclass
class Watcher:
    delays: list[float] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None


async def _watch(host: str, port: int, cookie: str, w: Watcher, stop: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            (
                "GET /events/jobs HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAccept: text/event-stream\r\nCookie: th_session={cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            w.error = status.decode(errors="replace").strip()
            return
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                if not stop.is_set():
                    w.error = "connection closed"
                return
            now = time.time()
            if line.startswith(b": live"):
                w.subscribed.set()
            elif line.startswith(b"data: "):
                body = json.loads(line[6:])
                if "sent_at" in body.get("data", {}):
                    w.delays.append(now - body["data"]["sent_at"])
        writer.close()
    except Exception as exc:  # noqa: BLE001 - counted as an error of the run
        w.error = f"{type(exc).__name__}: {exc}"
        w.subscribed.set()


def _publisher(database_url: str, env: dict[str, str]) -> Any:
    from tenderhall import events
    from tenderhall.db import Database
    from tenderhall.settings import EventSettings, Settings

    settings = Settings(
        database_url=database_url,
        broker_url=env["TENDERHALL_BROKER_URL"],
        events=EventSettings(channel_prefix=env["TENDERHALL_EVENTS__CHANNEL_PREFIX"]),
    )
    db = Database(database_url)
    events.install(db, settings)

    def publish(i: int) -> None:
        with db.transaction() as s:
            events.publish(s, "jobs", "job", {"n": i, "sent_at": time.time()})

    return db, publish


async def _measure(
    base: str, cookie: str, publish: Any, watchers: int, n_events: int, gap: float
) -> dict[str, Any]:
    u = urlsplit(base)
    host, port = u.hostname or "127.0.0.1", int(u.port or 80)
    stop = asyncio.Event()
    ws = [Watcher() for _ in range(watchers)]
    tasks = [asyncio.create_task(_watch(host, port, cookie, w, stop)) for w in ws]
    await asyncio.wait_for(asyncio.gather(*(w.subscribed.wait() for w in ws)), CONNECT_TIMEOUT_S)
    for i in range(n_events):
        await asyncio.to_thread(publish, i)
        await asyncio.sleep(gap)
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    expected = watchers * n_events
    while sum(len(w.delays) for w in ws) < expected and time.monotonic() < deadline:
        if all(w.error for w in ws):
            break
        await asyncio.sleep(0.05)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    delays = sorted(d for w in ws for d in w.delays)
    errors = [w.error for w in ws if w.error]
    return {
        "p50_ms": statistics.median(delays) * 1000 if delays else float("inf"),
        "p95_ms": delays[int(0.95 * (len(delays) - 1))] * 1000 if delays else float("inf"),
        "delivered": len(delays),
        "expected": expected,
        "errors": errors,
    }


def _setups() -> list[tuple[str, str | None, str | None]]:
    """(name, broker URL or None for memory, database kind)"""
    found: list[tuple[str, str | None, str | None]] = []
    pg = postgres_server_url()
    redis_url = os.environ.get("TENDERHALL_TEST_REDIS_URL")
    amqp_url = os.environ.get("TENDERHALL_TEST_AMQP_URL")
    if pg and redis_url:
        found.append(("PostgreSQL + Redis pub/sub", redis_url, "postgresql"))
    if pg and amqp_url:
        found.append(("PostgreSQL LISTEN/NOTIFY", amqp_url, "postgresql"))
    found.append(("embedded SQLite + memory (tail)", None, "sqlite"))
    only = os.environ.get("TENDERHALL_BENCH_LIVE_ONLY", "").lower()
    return [f for f in found if only in f[0].lower()]


def run() -> list[Result]:
    from tenderhall.auth.models import Role
    from tests import factories

    watchers = int(env_setting("TENDERHALL_BENCH_WATCHERS", "500"))
    n_events = int(env_setting("TENDERHALL_BENCH_EVENTS", "20"))
    gap = float(env_setting("TENDERHALL_BENCH_EVENT_GAP_MS", "100")) / 1000
    processes = int(env_setting("TENDERHALL_BENCH_LIVE_PROCESSES", "2"))
    results: list[Result] = []
    for name, broker, kind in _setups():
        with ExitStack() as stack:
            if kind == "postgresql":
                url = stack.enter_context(
                    temporary_postgres_database("bench_live", postgres_server_url() or "")
                )
            else:
                url = stack.enter_context(temporary_sqlite_database())
            env = {
                "TENDERHALL_DATABASE_URL": url,
                "TENDERHALL_BROKER_URL": broker or "memory://",
                "TENDERHALL_LOG_LEVEL": "WARNING",
                "TENDERHALL_EVENTS__CHANNEL_PREFIX": f"b{uuid.uuid4().hex[:8]}",
                "TENDERHALL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            }
            db, publish = _publisher(url, env)
            cookie = factories.signed_in(db, Role.admin)[2]["th_session"]
            base = stack.enter_context(uvicorn_server(PLATFORM_APP, env, processes=processes))
            print(
                f"{name}: {watchers} watchers over {processes} web processes, {n_events} events", flush=True
            )
            m = asyncio.run(_measure(base, cookie, publish, watchers, n_events, gap))
            db.dispose()
        note = f"delivered {m['delivered']}/{m['expected']}, errors {len(m['errors'])}"
        if m["errors"]:
            note += f" (first: {m['errors'][0]})"
        print(f"  p50 {m['p50_ms']:.0f} ms, p95 {m['p95_ms']:.0f} ms, {note}", flush=True)
        for figure, value in (("p50", m["p50_ms"]), ("p95", m["p95_ms"])):
            results.append(
                Result(
                    f"{name}: {figure} delay",
                    value,
                    "ms",
                    "issue 11 target for p95",
                    TARGET_P95_MS,
                    higher_is_better=False,
                    target_ratio=1.0 if figure == "p95" else None,
                    note=note,
                )
            )
        results.append(
            Result(
                f"{name}: delivered",
                m["delivered"],
                "events",
                "expected",
                m["expected"],
                target_ratio=1.0,
                note=f"errors {len(m['errors'])}",
            )
        )
    return results
