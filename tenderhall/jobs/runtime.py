"""Job runtimes: a dramatiq Worker plus the relay and scheduler loops, in threads of one process,
and a pool of worker processes for the CPU queues (``tenderhall.jobs.processes``).

:class:`InProcessRuntime` is what ``tenderhall serve`` runs on ``memory://`` (an in-process
StubBroker); :class:`JobRuntime` with a Redis or RabbitMQ broker is what each ``tenderhall worker``
process runs (``tenderhall.jobs.worker``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker

from tenderhall.db import Database
from tenderhall.jobs.broker import declare_actors, make_broker
from tenderhall.jobs.execution import describe_error, dispose_job_engine, handler_for
from tenderhall.jobs.outbox import REGISTRY
from tenderhall.jobs.processes import CpuPool
from tenderhall.jobs.relay import Relay, Waker, stop_waking, wake_on_commit
from tenderhall.jobs.scheduler import Scheduler
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.jobs")


class JobRuntime:
    """Worker threads consuming ``broker``, relay loops (woken when a commit on ``db`` wrote a job)
    and a scheduler loop. ``queues`` limits the queues consumed (default: every declared job's queue).
    Jobs on ``settings.jobs.cpu_queues`` run their work phase in ``self.cpu``'s worker processes."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        broker: dramatiq.Broker,
        *,
        threads: int | None = None,
        queues: set[str] | None = None,
        relay: bool = True,
        relay_threads: int = 2,
        scheduler: bool = True,
        worker_timeout_ms: int = 200,
    ) -> None:
        self.settings = settings
        self.db = db
        self.broker = broker
        self.threads = threads or settings.jobs.worker_threads
        self.queues = queues
        self.with_relay = relay
        self.relay_threads = max(1, relay_threads)
        self.with_scheduler = scheduler
        self.worker_timeout_ms = worker_timeout_ms
        self.cpu = CpuPool(settings)
        self.actors = declare_actors(broker, handler_for(db, settings, runner=self.cpu))
        self.relay = Relay(db, settings.jobs, broker)
        self.scheduler = Scheduler(db, settings)
        # Several relay loops overlap their broker round trips; each has its own wake-up.
        self.wakers = [Waker() for _ in range(self.relay_threads)]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.worker: dramatiq.Worker | None = None

    def _loop(
        self, name: str, interval: float, step: Callable[[], Any], wait: Callable[[float], Any]
    ) -> None:
        while not self._stop.is_set():
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - a loop survives a failed pass (database restart…)
                log.warning(f"{name} pass failed", error=describe_error(exc))
            wait(interval)

    def start(self) -> None:
        for spec in REGISTRY.values():
            if self.queues is None or spec.queue in self.queues:
                self.broker.declare_queue(spec.queue)
        self.worker = dramatiq.Worker(
            self.broker,
            queues=self.queues,
            worker_threads=self.threads,
            worker_timeout=self.worker_timeout_ms,
        )
        self.worker.start()
        if self.with_relay:
            for i, waker in enumerate(self.wakers):
                wake_on_commit(self.db, waker)
                self._spawn(
                    f"relay-{i}", self.settings.jobs.relay_interval_seconds, self.relay.pump, waker.wait
                )
        if self.with_scheduler:
            self._spawn(
                "scheduler",
                self.settings.jobs.scheduler_interval_seconds,
                self.scheduler.tick,
                self._stop.wait,
            )
        log.info("job runtime started", broker=type(self.broker).__name__, threads=self.threads)

    def _spawn(
        self, name: str, interval: float, step: Callable[[], Any], wait: Callable[[float], Any]
    ) -> None:
        t = threading.Thread(
            target=self._loop, args=(name, interval, step, wait), name=f"tenderhall-{name}", daemon=True
        )
        t.start()
        self._threads.append(t)

    def wake(self) -> None:
        for waker in self.wakers:
            waker()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for waker in self.wakers:
            waker()
            stop_waking(self.db, waker)
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        # before the worker: a thread waiting on a CPU job is released (its row is re-sent later)
        self.cpu.shutdown(timeout)
        if self.worker is not None:
            self.worker.stop(timeout=int(timeout * 1000))
            self.worker = None
        self.broker.close()
        dispose_job_engine(self.db)
        log.info("job runtime stopped")


class InProcessRuntime(JobRuntime):
    """``memory://``: an in-process StubBroker, worker threads, relay and scheduler loops."""

    def __init__(self, settings: Settings, db: Database, **kw: Any) -> None:
        broker = make_broker("memory://")
        assert isinstance(broker, StubBroker)
        super().__init__(settings, db, broker, **kw)
