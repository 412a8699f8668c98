"""Shared HTTP load harness for the search benchmarks, so that every benchmark measures the same way.

One uvicorn process per app factory on a free local port, a bare Litestar JSON endpoint as the
same-run baseline, a sequential-latency loop (p50 / p95, after a warm-up) and a concurrent-throughput
loop (httpx clients on one asyncio loop), plus a temporary PostgreSQL database that is created,
migrated and dropped around a run.

Throughput beside the baseline is measured in alternating windows (:func:`paired_throughput`):
both servers run side by side and take turns, baseline-platform then platform-baseline, so that
the machine's drift (a shared VM's speed moves by 10-15 % over minutes) falls on both alike
instead of on whichever was measured in the slower minute.

Environment read here: ``TENDERHALL_BENCH_PROCESSES`` (comma-separated numbers of web processes to
measure, each for the platform and its baseline alike; default ``1,<cores>``),
``TENDERHALL_BENCH_REQUESTS`` (sequential requests per figure, default 400),
``TENDERHALL_BENCH_SECONDS`` (throughput time per endpoint, default 8),
``TENDERHALL_BENCH_ROUNDS`` (alternating windows it is split into, default 4),
``TENDERHALL_BENCH_CONCURRENCY`` (concurrent clients, default 8) and
``TENDERHALL_BENCH_DATABASE_URL`` (PostgreSQL server URL; default ``TENDERHALL_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_REQUESTS = 20
"""Requests sent (untimed) before each sequential-latency loop."""
SERVER_START_TIMEOUT_S = 60.0

Params = dict[str, Any]


def env_setting(name: str, default: str) -> str:
    """The environment variable ``name``, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


@dataclass(frozen=True)
class LoadSettings:
    """How hard to drive a server: sequential requests, throughput window and concurrent clients,
    and the server set-ups measured (numbers of web processes, the same for platform and baseline)."""

    requests: int
    seconds: float
    concurrency: int
    processes: tuple[int, ...] = (1,)
    rounds: int = 4

    @classmethod
    def from_env(cls) -> LoadSettings:
        cores = os.cpu_count() or 1
        default_processes = "1" if cores == 1 else f"1,{cores}"
        return cls(
            requests=int(env_setting("TENDERHALL_BENCH_REQUESTS", "400")),
            seconds=float(env_setting("TENDERHALL_BENCH_SECONDS", "8")),
            concurrency=int(env_setting("TENDERHALL_BENCH_CONCURRENCY", "8")),
            processes=tuple(
                int(n) for n in env_setting("TENDERHALL_BENCH_PROCESSES", default_processes).split(",")
            ),
            rounds=max(1, int(env_setting("TENDERHALL_BENCH_ROUNDS", "4"))),
        )


# --- databases ---------------------------------------------------------------------------------


def postgres_server_url() -> str | None:
    """The PostgreSQL server to benchmark against, if one is configured."""
    return os.environ.get("TENDERHALL_BENCH_DATABASE_URL") or os.environ.get("TENDERHALL_TEST_DATABASE_URL")


@contextmanager
def temporary_postgres_database(prefix: str, server_url: str) -> Iterator[str]:
    """Create a uniquely named database on ``server_url``, migrate it to head and yield its URL
    (psycopg driver); the database is dropped (connections forced off) afterwards."""
    from tests.conftest import migrate

    base = sa.engine.make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def temporary_sqlite_database() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder, removed afterwards."""
    import tempfile

    from tests.conftest import migrate

    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{Path(d) / 'bench.db'}"
        migrate(url)
        yield url


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """A temporary PostgreSQL database on ``TENDERHALL_BENCH_DATABASE_URL`` when it is set, else a
    temporary SQLite file (both migrated, both removed afterwards)."""
    server = os.environ.get("TENDERHALL_BENCH_DATABASE_URL")
    if server:
        with temporary_postgres_database(prefix, server) as url:
            yield url
    else:
        with temporary_sqlite_database() as url:
            yield url


def checkpoint(dbapi_conn: Any) -> None:
    """Write the freshly loaded data out now (PostgreSQL ``CHECKPOINT``, on an autocommit psycopg
    connection), so that the server does not do it in the middle of a measurement; skipped where
    the role may not (it needs superuser or pg_checkpoint)."""
    import psycopg

    try:
        dbapi_conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        print("CHECKPOINT not permitted: the server may write the loaded data during the run", flush=True)


# --- servers -----------------------------------------------------------------------------------


def app_environment(database_url: str) -> dict[str, str]:
    """Environment for a benchmarked server process: the database, an in-memory broker, quiet logs."""
    return {
        "TENDERHALL_DATABASE_URL": database_url,
        "TENDERHALL_BROKER_URL": "memory://",
        "TENDERHALL_LOG_LEVEL": "WARNING",
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(app_factory: str, env: dict[str, str], processes: int = 1) -> Iterator[str]:
    """Run ``app_factory`` (``"module:function"``, called with no arguments) the way
    ``tenderhall serve`` runs the platform (uvicorn; ``processes`` web processes, each with its own
    ``SO_REUSEPORT`` socket) on a free port, with ``env`` added to this process's environment, and
    yield its base URL once it answers HTTP. The processes are stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenderhall.serving",
            app_factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--processes",
            str(processes),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(proc, base)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_serving(proc: subprocess.Popen[bytes], base: str) -> None:
    """Poll until the server gives any HTTP answer (uvicorn only accepts once start-up is done)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/bench-probe", timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server exited: {stderr[-2000:]}") from None
            time.sleep(0.2)
    raise RuntimeError(f"server at {base} did not answer within {SERVER_START_TIMEOUT_S:g} s")


BARE_PATH = "/bare"


def bare_json_app(body: dict[str, Any]) -> Any:
    """The baseline: a bare Litestar app whose one endpoint, ``GET /bare``, returns ``body`` as JSON
    (give it the shape of the benchmarked endpoint's empty answer)."""
    from litestar import Litestar, get

    @get(BARE_PATH, sync_to_thread=False)
    def bare() -> dict[str, Any]:
        return body

    return Litestar([bare])


def platform_app() -> Any:
    """The platform app without the in-process job runtime, so that only request handling is measured."""
    from tenderhall.app import create_app
    from tenderhall.settings import Settings

    return create_app(Settings(), run_jobs_inprocess=False)


PLATFORM_APP = "bench.http_load:platform_app"
"""uvicorn factory reference for :func:`platform_app`."""


# --- load --------------------------------------------------------------------------------------


def sequential_latencies(
    base: str,
    path: str,
    params: list[Params],
    on_response: Callable[[httpx.Response], None] | None = None,
) -> list[float]:
    """GET ``path`` once per entry of ``params``, one request at a time on one client, after an
    untimed warm-up with the first :data:`WARM_UP_REQUESTS`; return each request's latency in
    seconds. ``on_response`` sees every timed response (after the clock stops)."""
    return asyncio.run(_sequential(base, path, params, on_response))


async def _sequential(
    base: str,
    path: str,
    params: list[Params],
    on_response: Callable[[httpx.Response], None] | None,
) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for p in params[:WARM_UP_REQUESTS]:
            (await c.get(path, params=p)).raise_for_status()
        for p in params:
            t = time.perf_counter()
            r = await c.get(path, params=p)
            times.append(time.perf_counter() - t)
            r.raise_for_status()
            if on_response is not None:
                on_response(r)
    return times


def throughput(base: str, path: str, params: list[Params], seconds: float, concurrency: int) -> float:
    """Requests per second over a ``seconds`` window with ``concurrency`` clients, each sending
    GET ``path`` back to back; client ``i`` cycles through ``params[i], params[i + concurrency], …``.
    The clients connect (one untimed request each) before the window opens."""

    async def measure() -> float:
        async with _Clients(Endpoint(base, path, params), concurrency) as clients:
            done, elapsed = await clients.window(seconds)
            return done / elapsed

    return asyncio.run(measure())


class _Clients:
    """``concurrency`` HTTP clients for one endpoint, connected once (an ``httpx.AsyncClient`` is
    costly to make, and a load generator that makes them inside a window measures itself), each
    going on through its share of the parameters from window to window."""

    def __init__(self, endpoint: Endpoint, concurrency: int) -> None:
        self.endpoint = endpoint
        self.clients = [httpx.AsyncClient(base_url=endpoint.base, timeout=30) for _ in range(concurrency)]
        self.next = list(range(concurrency))

    async def __aenter__(self) -> _Clients:
        e = self.endpoint
        for c, j in zip(self.clients, self.next, strict=True):
            (await c.get(e.path, params=e.params[j % len(e.params)])).raise_for_status()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for c in self.clients:
            await c.aclose()

    async def window(self, seconds: float) -> tuple[int, float]:
        """(requests answered, seconds taken) of one window of ``seconds``, all clients busy."""
        e, step = self.endpoint, len(self.clients)
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            nonlocal done
            c = self.clients[i]
            while time.perf_counter() < stop:
                (await c.get(e.path, params=e.params[self.next[i] % len(e.params)])).raise_for_status()
                done += 1
                self.next[i] += step

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(step)))
        return done, time.perf_counter() - started


@dataclass(frozen=True)
class Endpoint:
    """What one side of a paired measurement sends: ``GET base + path`` cycling through ``params``."""

    base: str
    path: str
    params: list[Params]


@dataclass(frozen=True)
class PairedThroughput:
    """Throughput of a baseline and a platform endpoint measured in alternating windows."""

    baseline_rps: float
    platform_rps: float
    window_ratios: tuple[float, ...]
    """platform / baseline of each round (the rate of its platform window over its baseline's)"""

    def spread(self) -> str:
        """The rounds' ratios, lowest and highest: how much the machine moved during the run."""
        return f"rounds {min(self.window_ratios):.2f}-{max(self.window_ratios):.2f}"


def paired_throughput(baseline: Endpoint, platform: Endpoint, load: LoadSettings) -> PairedThroughput:
    """Throughput of both endpoints over ``load.seconds`` each, split into ``load.rounds`` rounds of
    one window per endpoint, in the order baseline-platform, then platform-baseline, and so on (a
    drift that is linear over a pair of rounds cancels out). Each endpoint has its own clients,
    connected before the first window. Each figure is all its requests over all its windows' time."""
    return asyncio.run(_paired(baseline, platform, load))


async def _paired(baseline: Endpoint, platform: Endpoint, load: LoadSettings) -> PairedThroughput:
    window = load.seconds / load.rounds
    totals = {"baseline": [0, 0.0], "platform": [0, 0.0]}
    ratios = []
    async with _Clients(baseline, load.concurrency) as b, _Clients(platform, load.concurrency) as p:
        clients = {"baseline": b, "platform": p}
        for r in range(load.rounds):
            order = ("baseline", "platform") if r % 2 == 0 else ("platform", "baseline")
            rates = {}
            for side in order:
                done, elapsed = await clients[side].window(window)
                totals[side][0] += done
                totals[side][1] += elapsed
                rates[side] = done / elapsed
            ratios.append(rates["platform"] / rates["baseline"])
    return PairedThroughput(
        baseline_rps=totals["baseline"][0] / totals["baseline"][1],
        platform_rps=totals["platform"][0] / totals["platform"][1],
        window_ratios=tuple(ratios),
    )


def p50_ms(times: list[float]) -> float:
    """Median of latencies given in seconds, in milliseconds."""
    return statistics.median(times) * 1000


def p95_ms(times: list[float]) -> float:
    """95th percentile of latencies given in seconds, in milliseconds."""
    return statistics.quantiles(times, n=100)[94] * 1000


@dataclass(frozen=True)
class EndpointFigures:
    """Sequential p95 latency (ms) and concurrent throughput (requests/s) of one endpoint."""

    p95_ms: float
    requests_per_s: float


def measure_endpoint(base: str, path: str, params: list[Params], load: LoadSettings) -> EndpointFigures:
    """p95 of ``load.requests`` sequential GETs of ``path`` cycling through ``params``, and
    throughput over ``load.seconds`` with ``load.concurrency`` clients."""
    sequence = [params[i % len(params)] for i in range(load.requests)]
    return EndpointFigures(
        p95_ms=p95_ms(sequential_latencies(base, path, sequence)),
        requests_per_s=throughput(base, path, params, load.seconds, load.concurrency),
    )


@contextmanager
def beside_bare(bare_app_factory: str, env: dict[str, str], processes: int = 1) -> Iterator[tuple[str, str]]:
    """The platform (:data:`PLATFORM_APP`) and its same-run baseline, ``bare_app_factory`` (see
    :func:`bare_json_app`), served side by side the same way (``processes`` web processes each):
    yields their base URLs, baseline first."""
    with (
        uvicorn_server(bare_app_factory, env, processes) as bare,
        uvicorn_server(PLATFORM_APP, env, processes) as base,
    ):
        yield bare, base


def bare_p95_ms(bare_base: str, load: LoadSettings) -> float:
    """p95 of ``load.requests`` sequential ``GET /bare``, measured as the platform's p95 is."""
    return p95_ms(sequential_latencies(bare_base, BARE_PATH, [{}] * load.requests))


def bare_endpoint(bare_base: str) -> Endpoint:
    return Endpoint(bare_base, BARE_PATH, [{}])
