"""Bursts of concurrent audited writes mixed with reads, and the cost of auditing a write.

1. Bursts: the platform served as in production (uvicorn; the embedded default with one web
   process on SQLite, and two web processes on PostgreSQL when a server is configured) receives
   bursts of 8, 32, 64 and 256 concurrent audited writes (failed ``POST /api/auth/token``, each
   an audited write: the attempt and its audit event) mixed with half as many public searches,
   while ``/health`` is polled throughout. Each figure: the burst's slowest answer beside the
   slowest answer of the same requests sent one at a time (the baseline); the note gives the
   5xx count, time-outs and the slowest health answer, which must be 0, 0 and well under the
   time-out.
2. Audited writes per second with 8 concurrent writers (threads, one transaction each: a row
   and its audit event) beside the same writes without the audit event, in alternating rounds.
   Target >= 0.5.

Environment: ``TENDERHALL_BENCH_DATABASE_URL`` (PostgreSQL server; default
``TENDERHALL_TEST_DATABASE_URL``), ``TENDERHALL_BENCH_BURSTS`` (default ``8,32,64,256``),
``TENDERHALL_BENCH_SECONDS`` (time per writes-per-second side, default 6).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from bench import Result
from bench.http_load import (
    PLATFORM_APP,
    app_environment,
    env_setting,
    postgres_server_url,
    temporary_postgres_database,
    temporary_sqlite_database,
    uvicorn_server,
)

REQUEST_TIMEOUT_S = 30.0


async def _burst(base: str, writers: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    timeouts = 0
    dropped = 0  # the server closed the connection without an answer
    slowest = 0.0
    health: list[float] = []
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=writers * 2 + 4, max_keepalive_connections=writers * 2 + 4)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:

        async def send(method: str, path: str, **kw: Any) -> None:
            nonlocal timeouts, slowest, dropped
            started = time.monotonic()
            try:
                r = await client.request(method, path, **kw)
                statuses[r.status_code] += 1
            except httpx.TimeoutException:
                timeouts += 1
            except httpx.RemoteProtocolError:
                dropped += 1
            slowest = max(slowest, time.monotonic() - started)

        async def watch_health() -> None:
            nonlocal dropped
            while not done.is_set():
                started = time.monotonic()
                try:
                    r = await client.get("/health")
                    statuses[r.status_code] += 1
                except httpx.TimeoutException:
                    statuses[0] += 1
                except httpx.RemoteProtocolError:
                    dropped += 1
                health.append(time.monotonic() - started)
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch_health())
        writes = [
            send(
                "POST", "/api/auth/token", json={"username": f"bench-{i % 32}", "password": "wrong-password"}
            )
            for i in range(writers)
        ]
        reads = [
            send("GET", "/api/trading/tenders", params={"q": "道路工程"} if i % 2 else {"region": "武汉"})
            for i in range(writers // 2)
        ]
        await asyncio.gather(*writes, *reads)
        done.set()
        await watcher
    return {
        "statuses": dict(statuses),
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
        "timeouts": timeouts,
        "dropped": dropped,
        "slowest": slowest,
        "health_max": max(health) if health else float("inf"),
        "health_n": len(health),
    }


def _sequential_slowest(base: str, n: int) -> float:
    slowest = 0.0
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        for i in range(n):
            started = time.monotonic()
            if i % 3 == 2:
                client.get("/api/trading/tenders", params={"q": "道路工程"})
            else:
                client.post("/api/auth/token", json={"username": f"solo-{i}", "password": "wrong-password"})
            slowest = max(slowest, time.monotonic() - started)
    return slowest


def bursts(label: str, url: str, processes: int) -> list[Result]:
    sizes = [int(n) for n in env_setting("TENDERHALL_BENCH_BURSTS", "8,32,64,256").split(",")]
    results = []
    with uvicorn_server(PLATFORM_APP, app_environment(url), processes) as base:
        baseline = _sequential_slowest(base, 12)
        for n in sizes:
            got = asyncio.run(_burst(base, n))
            results.append(
                Result(
                    name=f"burst {n} writes + {n // 2} reads, {label}",
                    value=got["slowest"] * 1000,
                    unit="ms slowest",
                    baseline_name="the same requests one at a time",
                    baseline_value=baseline * 1000,
                    higher_is_better=False,
                    note=(
                        f"5xx {got['5xx']}, time-outs {got['timeouts']}, dropped {got['dropped']}, "
                        f"health answered {got['health_n']} "
                        f"times, slowest {got['health_max'] * 1000:.0f} ms; statuses {got['statuses']}"
                    ),
                )
            )
    return results


def _writes_per_second(db: Any, audited: bool, seconds: float, writers: int = 8) -> float:
    from tenderhall.audit.service import record
    from tenderhall.auth.models import LoginAttempt
    from tenderhall.db import utcnow

    stop = threading.Event()
    counts = [0] * writers

    def work(k: int) -> None:
        while not stop.is_set():
            with db.transaction() as s:
                s.add(
                    LoginAttempt(
                        username=f"w{k}", client_ip="127.0.0.1", method="password", success=False, at=utcnow()
                    )
                )
                if audited:
                    record(s, "bench", "bench.write", "login", k, "an audited write")
            counts[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def audit_cost(label: str, url: str) -> Result:
    from tenderhall import registry
    from tenderhall.db import Database

    registry.import_all_models()
    seconds = float(env_setting("TENDERHALL_BENCH_SECONDS", "6"))
    db = Database(url, pool_size=10)
    try:
        plain = audited = 0.0
        for _ in range(2):  # alternating rounds: plain, audited, plain, audited
            plain += _writes_per_second(db, False, seconds / 2)
            audited += _writes_per_second(db, True, seconds / 2)
    finally:
        db.dispose()
    return Result(
        name=f"audited writes/s, 8 writers, {label}",
        value=audited / 2,
        unit="writes/s",
        baseline_name="the same writes without audit",
        baseline_value=plain / 2,
        target_ratio=0.5,
    )


def _each_database(fn: Callable[[str, str], list[Result]]) -> list[Result]:
    results = []
    with temporary_sqlite_database() as url:
        results += fn("SQLite", url)
    server = postgres_server_url()
    if server:
        with temporary_postgres_database("thbench_bursts", server) as url:
            results += fn("PostgreSQL", url)
    else:
        print("no PostgreSQL server configured: SQLite only", flush=True)
    return results


def run() -> list[Result]:
    return _each_database(
        lambda label, url: [
            *bursts(
                f"{label}, {1 if label == 'SQLite' else 2} web process(es)",
                url,
                1 if label == "SQLite" else 2,
            ),
            audit_cost(label, url),
        ]
    )
