"""``tenderhall worker``: worker processes for redis:// or amqp://.

Each process runs a :class:`~tenderhall.jobs.runtime.JobRuntime`: a dramatiq Worker on the
configured broker, the outbox relay and the scheduler (several relays and schedulers are safe).
SIGTERM or SIGINT stops a process gracefully: the relay and scheduler finish their pass, running
jobs finish (dramatiq), and what is left in the outbox stays there for the next start.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing
import os
import signal
import sys
import threading
from types import FrameType

import structlog

from tenderhall import events
from tenderhall.db import Database
from tenderhall.jobs.broker import make_broker
from tenderhall.jobs.runtime import JobRuntime
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.jobs")


def serve_one(settings: Settings, threads: int | None = None, queues: list[str] | None = None) -> None:
    """One worker process, until SIGTERM/SIGINT."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)  # log lines reach a pipe as they happen
    # The worker is an entry point like tenderhall.cli: it loads every domain's tasks through the
    # registry, by name, so that the kernel keeps no import of the assembly layer.
    registry = importlib.import_module("tenderhall.registry")
    registry.import_all_models()
    registry.import_all_tasks()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping worker", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # a connection per worker thread, two relay loops, the scheduler, and one spare
    db = Database(settings.database_url, pool_size=(threads or settings.jobs.worker_threads) + 4)
    events.install(db, settings)  # jobs' live events reach the web processes' pages
    runtime = JobRuntime(
        settings,
        db,
        make_broker(settings.broker_url),
        threads=threads,
        queues=set(queues) if queues else None,
        worker_timeout_ms=1000,
    )
    runtime.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runtime.stop()
        events.uninstall(db)
        db.dispose()


def _child(settings: Settings, threads: int | None, queues: list[str] | None) -> None:
    importlib.import_module("tenderhall.app").configure_logging(settings)
    serve_one(settings, threads, queues)


def run_worker(
    settings: Settings, *, processes: int = 1, threads: int | None = None, queues: list[str] | None = None
) -> None:
    """Run ``processes`` worker processes (spawned) or, for one, run in this process."""
    if processes <= 1:
        serve_one(settings, threads, queues)
        return
    ctx = multiprocessing.get_context("spawn")
    children = [
        ctx.Process(target=_child, args=(settings, threads, queues), name=f"tenderhall-worker-{i}")
        for i in range(processes)
    ]
    for p in children:
        p.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for p in children:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for p in children:
        p.join()
