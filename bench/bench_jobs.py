"""Jobs per second through outbox -> Redis -> worker -> completion, against dramatiq's raw
send-and-process rate on the same Redis, in the same run.

Environment: ``TENDERHALL_BENCH_REDIS_URL`` (default: ``TENDERHALL_TEST_REDIS_URL`` or
redis://127.0.0.1:6379/0); ``TENDERHALL_BENCH_DATABASE_URL`` (a PostgreSQL server URL: a temporary
database is created on it and dropped afterwards; default: a temporary SQLite file);
``TENDERHALL_BENCH_JOBS`` (jobs per measurement, default 3000), ``TENDERHALL_BENCH_THREADS``
(worker threads, both sides, default 4 = settings.jobs.worker_threads), ``TENDERHALL_BENCH_ROUNDS``
(default 3, best of).

Both sides use the same broker, queue kind, worker class and thread count, and the same clock:
from the first message sent (raw) or the enqueueing transaction (outbox) until the last job is
complete (raw: its actor returned; outbox: its row is committed ``done``).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

import dramatiq
import redis
import sqlalchemy as sa
from dramatiq.brokers.redis import RedisBroker

from bench import Result
from bench.http_load import temporary_database

NAMESPACE = f"thbench_{uuid.uuid4().hex[:8]}"
OUTBOX_QUEUE = f"{NAMESPACE}_outbox"
RAW_QUEUE = f"{NAMESPACE}_raw"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def database() -> AbstractContextManager[str]:
    """A fresh migrated database URL: temporary PostgreSQL database or SQLite file."""
    return temporary_database(NAMESPACE)


def _cleanup_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{NAMESPACE}*"):
        client.delete(key)
    client.close()


def raw_rate(redis_url: str, n: int, threads: int) -> float:
    """dramatiq alone: send n messages to a no-op actor and wait until all were processed."""
    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    done = threading.Event()
    count = 0
    lock = threading.Lock()

    def noop(i: int) -> None:
        nonlocal count
        with lock:
            count += 1
            if count == n:
                done.set()

    actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
        noop,
        broker=broker,
        actor_name="bench.raw",
        queue_name=RAW_QUEUE,
        priority=0,
        options={"max_retries": 0},
    )
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    try:
        started = time.perf_counter()
        for i in range(n):
            actor.send(i)
        if not done.wait(300):
            raise RuntimeError(f"raw dramatiq processed only {count} of {n} messages")
        return n / (time.perf_counter() - started)
    finally:
        worker.stop()
        broker.close()


def outbox_rate(db_url: str, redis_url: str, n: int, threads: int) -> float:
    """The platform's path: n jobs enqueued in one transaction, relayed, run, completed."""
    from tenderhall.db import Database
    from tenderhall.jobs.execution import JobContext
    from tenderhall.jobs.models import OUTBOX_TABLE, JobStatus
    from tenderhall.jobs.outbox import REGISTRY, enqueue, job
    from tenderhall.jobs.runtime import JobRuntime
    from tenderhall.settings import Settings

    if "bench.noop" not in REGISTRY:

        @job("bench.noop", queue=OUTBOX_QUEUE)
        def noop(ctx: JobContext, i: int) -> None:
            """Does nothing: the figure is the machinery's own cost (its claim and completion)."""

    settings = Settings(database_url=db_url, broker_url=redis_url)
    db = Database(db_url)
    runtime = JobRuntime(
        settings,
        db,
        RedisBroker(url=redis_url, namespace=NAMESPACE),
        threads=threads,
        queues={OUTBOX_QUEUE},
        scheduler=False,
    )
    runtime.start()
    try:
        with db.unit_of_work() as s:
            s.execute(sa.delete(OUTBOX_TABLE))
        t = OUTBOX_TABLE
        done_count = sa.select(sa.func.count()).select_from(t).where(t.c.status == JobStatus.done.value)
        started = time.perf_counter()
        with db.unit_of_work() as s:
            for i in range(n):
                enqueue(s, "bench.noop", i=i)
        deadline = started + 300
        while True:
            with db.sync_sessions() as s:
                finished = s.execute(done_count).scalar_one()
            if finished >= n:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"outbox completed only {finished} of {n} jobs")
            time.sleep(0.02)
        return n / (time.perf_counter() - started)
    finally:
        runtime.stop()
        db.dispose()


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def run() -> list[Result]:
    import logging

    import structlog

    from tenderhall import registry

    logging.getLogger("dramatiq").setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    registry.import_all_models()
    redis_url = _env(
        "TENDERHALL_BENCH_REDIS_URL", _env("TENDERHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    n = int(_env("TENDERHALL_BENCH_JOBS", "3000"))
    threads = int(_env("TENDERHALL_BENCH_THREADS", "4"))
    rounds = int(_env("TENDERHALL_BENCH_ROUNDS", "3"))
    engine = "PostgreSQL" if os.environ.get("TENDERHALL_BENCH_DATABASE_URL") else "SQLite"
    raw: list[float] = []
    ours: list[float] = []
    try:
        with database() as db_url:
            for _ in range(rounds):  # interleaved, so that machine load hits both sides alike
                raw.append(raw_rate(redis_url, n, threads))
                ours.append(outbox_rate(db_url, redis_url, n, threads))
    finally:
        _cleanup_redis(redis_url)
    return [
        Result(
            name=f"jobs/s outbox->Redis->worker->done ({engine})",
            value=max(ours),
            unit="jobs/s",
            baseline_name="dramatiq raw send+process, same Redis",
            baseline_value=max(raw),
            target_ratio=0.5,
            note=(
                f"{n} jobs x {rounds} rounds, {threads} worker threads; best of rounds. "
                f"outbox rounds: {_list(ours)}; raw rounds: {_list(raw)}"
            ),
        )
    ]
