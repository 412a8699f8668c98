"""Writes while a CPU-heavy job runs: 100 concurrent audited writes during a ~10 s CPU job, beside
the same 100 writes with no job running, on the embedded default (SQLite, memory broker,
in-process jobs; the job's work phase in the runtime's worker process).

The platform is served as ``tenderhall serve`` serves it (``tenderhall.serving``, one web process)
with bench-only jobs declared through the normal job API: ``bench.burn`` on queue ``cpu`` burns
``TENDERHALL_BENCH_CPU_SECONDS`` (default 10) of CPU time. It is enqueued through the outbox from
this process; once it reports that it is burning, 100 refused sign-ins are sent at once
(``POST /api/auth/token``; after a warm-up that reaches the per-address limit, each one is a
login-attempt row and an audit event written in the request's transaction, without the argon2
hash, so that the figure is the wait for the database and not for password hashing). Each
request's wait is from send to response (a fresh loopback connection each). The baseline is the
same 100 requests, same server, no job running, measured just before. Target: no request waits
more than 1 s during the job. A contrast figure runs the same burn the way jobs ran before
(inside the job's transaction, in a job thread of the web process): ``bench.burn_held``.

Environment: ``TENDERHALL_BENCH_CPU_SECONDS`` (default 10), ``TENDERHALL_BENCH_WRITES`` (default
100), ``TENDERHALL_BENCH_ROUNDS`` (default 1: baseline then job, per round; the worst is reported),
``TENDERHALL_BENCH_REQUEST_THREADS`` (the server's request threads; default 4, the platform's own),
``TENDERHALL_BENCH_CONTRAST`` (default 1; 0 skips the contrast run).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import Result
from bench.http_load import env_setting, p95_ms, uvicorn_server
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job

BURN = "bench.burn"
WAIT_TARGET_S = 1.0


BURN_HELD = "bench.burn_held"


def _burn(seconds: float, started_file: str, finished_file: str) -> None:
    """Burn ``seconds`` of CPU time (a stand-in for a very large PDF), in pure Python (holding
    the GIL, as a PDF layout does)."""
    Path(started_file).write_text(str(os.getpid()))
    start = time.thread_time()
    n = 0
    while time.thread_time() - start < seconds:
        for i in range(20_000):
            n = (n * 31 + i) % 1_000_003
    Path(finished_file).write_text(str(n))


@job(BURN, queue="cpu")
def burn(ctx: JobContext, seconds: float, started_file: str, finished_file: str) -> None:
    """The platform's way: inputs in one short transaction, the work with none open (in the
    runtime's worker process: queue cpu), the result in a second."""
    with ctx.transaction():
        pass  # reads its inputs, as a render does
    _burn(seconds, started_file, finished_file)
    with ctx.transaction(final=True):
        pass  # records its result


@job(BURN_HELD)
def burn_held(ctx: JobContext, seconds: float, started_file: str, finished_file: str) -> None:
    """The contrast, as jobs ran before two-phase execution: the work inside the job's transaction
    (SQLite's write lock held from its first statement), in a job thread of the web process."""
    with ctx.transaction(final=True) as session:
        session.execute(sa.text("SELECT 1"))
        _burn(seconds, started_file, finished_file)


def app() -> Any:
    """The platform with the bench job declared (the factory the served process calls)."""
    from tenderhall.app import create_app
    from tenderhall.settings import Settings

    return create_app(Settings())  # this served process's entry point: its settings are built here


async def _writes(base: str, n: int, errors: list[int] | None = None) -> list[float]:
    """``n`` refused sign-ins at once; each one's wait in seconds. Server errors are counted in
    ``errors`` if given (the contrast run), else they stop the benchmark."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(i: int) -> float:
            t = time.perf_counter()
            r = await client.post("/api/auth/token", json={"username": f"nobody{i}", "password": "wrong"})
            if r.status_code >= 500 and errors is not None:
                errors.append(r.status_code)
            elif r.status_code not in (401, 429):
                raise RuntimeError(f"unexpected answer {r.status_code}: {r.text[:200]}")
            return time.perf_counter() - t

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def _wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


def _job_status(db: Any, job_id: int) -> str:
    from tenderhall.jobs.models import OutboxJob

    with db.read_sessions() as s:  # a reader: it does not wait for the write lock
        row = s.get(OutboxJob, job_id)
        return str(row.status) if row is not None else "missing"


def run() -> list[Result]:
    from tenderhall import registry
    from tenderhall.db import Database
    from tenderhall.jobs.outbox import enqueue
    from tests.conftest import migrate

    seconds = float(env_setting("TENDERHALL_BENCH_CPU_SECONDS", "10"))
    n = int(env_setting("TENDERHALL_BENCH_WRITES", "100"))
    rounds = int(env_setting("TENDERHALL_BENCH_ROUNDS", "1"))
    request_threads = env_setting("TENDERHALL_BENCH_REQUEST_THREADS", "4")
    registry.import_all_models()
    contrast = env_setting("TENDERHALL_BENCH_CONTRAST", "1") == "1"
    baseline: list[float] = []
    during: list[float] = []
    held: list[float] = []
    held_errors: list[int] = []
    overlapped: list[bool] = []
    job_runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        url = f"sqlite:///{d / 'bench.db'}"
        migrate(url)
        env = {
            "TENDERHALL_DATABASE_URL": url,
            "TENDERHALL_BROKER_URL": "memory://",
            "TENDERHALL_LOG_LEVEL": "ERROR",
            "TENDERHALL_BLOB_DIR": str(d / "blobs"),
            "TENDERHALL_KEY_DIR": str(d / "keys"),
            "TENDERHALL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "TENDERHALL_JOBS__RELAY_INTERVAL_SECONDS": "0.1",
            # Until each request commits in the thread that did its work, a writing request holds
            # SQLite's write lock across a thread hop: with fewer request threads than concurrent
            # writers, every thread can be waiting for the lock while the holder waits for a thread
            # to commit in (until busy_timeout). Enough threads keep that out of this figure.
            "TENDERHALL_REQUEST_THREADS": request_threads,
        }
        db = Database(url)

        def while_running(name: str, tag: str, errors: list[int] | None = None) -> list[float]:
            """Start job ``name``, send the writes once it burns, wait until it is done."""
            started, finished = d / f"started-{tag}", d / f"finished-{tag}"
            with db.unit_of_work() as s:
                job_id = enqueue(
                    s, name, seconds=seconds, started_file=str(started), finished_file=str(finished)
                ).id
            t0 = time.perf_counter()
            _wait_for(started.exists, 120, f"the job {name} starting")
            waits = asyncio.run(_writes(base, n, errors))
            if name == BURN:
                overlapped.append(not finished.exists())  # the writes ran while it burned
            _wait_for(lambda: _job_status(db, job_id) == "done", 300, f"the job {name} completing")
            job_runs.append(time.perf_counter() - t0)
            return waits

        try:
            with uvicorn_server("bench.bench_cpu_job:app", env) as base:
                asyncio.run(_writes(base, 10))  # warm-up: reaches the per-address sign-in limit
                for r in range(rounds):
                    baseline.extend(asyncio.run(_writes(base, n)))
                    during.extend(while_running(BURN, f"cpu{r}"))
                if contrast:
                    held.extend(while_running(BURN_HELD, "held", held_errors))
        finally:
            db.dispose()
    ok = max(during) <= WAIT_TARGET_S and all(overlapped)
    note = (
        f"{n} concurrent refused sign-ins (login-attempt row + audit event each) x {rounds} round(s), "
        f"{request_threads} request threads; job: {seconds:g} s of CPU in the runtime's worker "
        f"process; enqueue to done {', '.join(f'{t:.1f}' for t in job_runs)} s; writes overlapped "
        f"the burn: {all(overlapped)}; target no wait > {WAIT_TARGET_S:g} s during the job: "
        f"{'ok' if ok else 'NOT MET'}"
    )
    results = [
        Result(
            name="worst wait, writes during a CPU job",
            value=max(during) * 1000,
            unit="ms",
            baseline_name="worst wait, same writes, no job",
            baseline_value=max(baseline) * 1000,
            higher_is_better=False,
            note=note,
        ),
        Result(
            name="p95 wait, writes during a CPU job",
            value=p95_ms(during),
            unit="ms",
            baseline_name="p95 wait, same writes, no job",
            baseline_value=p95_ms(baseline),
            higher_is_better=False,
        ),
    ]
    if held:
        results.append(
            Result(
                name="contrast: worst wait, job in its transaction",
                value=max(held) * 1000,
                unit="ms",
                baseline_name="worst wait, same writes, no job",
                baseline_value=max(baseline) * 1000,
                higher_is_better=False,
                note=(
                    "the same burn inside the job's transaction, in a job thread of the web process "
                    f"(how jobs ran before): p95 {p95_ms(held):,.0f} ms, {len(held_errors)} of {n} "
                    "writes failed (database is locked after busy_timeout); the writes end only "
                    f"once the job commits (enqueue to done {job_runs[-1]:.1f} s)"
                ),
            )
        )
    return results
