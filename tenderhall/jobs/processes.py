"""CPU-heavy jobs in supervised worker processes: the work phase of a job on one of
``settings.jobs.cpu_queues`` runs in a process pool, never in the threads of the web process.

The actor's thread claims the row (``tenderhall.jobs.execution.execute``), hands the job function
to :class:`CpuPool` and completes the row when it comes back; meanwhile it extends the lease (a
heartbeat every third of it), so a long render is not re-sent while it runs. Each worker process
is spawned (no inherited threads or connections), imports every model and task through
``tenderhall.registry`` and builds its own :class:`~tenderhall.db.Database` from the settings; the
job's short transactions (``ctx.transaction()``) run there. A worker process that dies (killed,
out of memory) breaks the pool: the jobs it held fail their attempt (``BrokenProcessPool``, retried
with back-off like any failure) and the next job gets a new pool. This is the same for the
in-process runtime on ``memory://`` (``tenderhall serve``) and for ``tenderhall worker``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import structlog

from tenderhall import events
from tenderhall.db import Database
from tenderhall.jobs.execution import JobContext, JobInterrupted, lease_for
from tenderhall.jobs.outbox import REGISTRY, JobSpec
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.jobs")

#: The worker process's own state, set by :func:`_init_process`.
_PROCESS: dict[str, Any] = {}


def _init_process(settings: Settings) -> None:
    """Runs once in each new worker process: ignore Ctrl-C (the parent stops the pool), load
    every model and task, and open this process's own database engines."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    registry = importlib.import_module("tenderhall.registry")  # by name: the kernel imports no domain
    registry.import_all_models()
    registry.import_all_tasks()
    _PROCESS["settings"] = settings
    _PROCESS["db"] = Database(settings.database_url, pool_size=2)  # one job at a time
    events.install(_PROCESS["db"], settings)  # the job's live events (a PDF rendered) reach the pages


def _run_in_process(
    name: str, module: str, job_id: int, token: str, attempt: int, args: dict[str, Any]
) -> bool:
    """The work phase of one job, in a worker process; returns whether it completed itself."""
    if name not in REGISTRY:
        importlib.import_module(module)  # a job declared outside the domains' tasks (tests, bench)
    spec = REGISTRY[name]
    ctx = JobContext(_PROCESS["db"], _PROCESS["settings"], job_id, name, token, attempt=attempt)
    spec.fn(ctx, **args)
    return ctx.finished


class CpuPool:
    """A process pool for the CPU queues, re-created when a worker process dies; also the
    ``runner`` that :func:`~tenderhall.jobs.execution.execute` calls for every job (jobs on other
    queues run in the caller's thread)."""

    def __init__(self, settings: Settings, *, processes: int | None = None) -> None:
        self.settings = settings
        self.queues = frozenset(settings.jobs.cpu_queues)
        self.processes = processes or settings.jobs.cpu_processes
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._closing = False

    def _current(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._closing:
                raise JobInterrupted("the job runtime is stopping")
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_process,
                    initargs=(self.settings,),
                )
            return self._pool

    def _discard(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Drop a broken pool (if it is still the current one): the next job starts a new one."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        log.warning("a CPU worker process died; a new pool starts with the next job")

    def pids(self) -> list[int]:
        """The worker processes' ids (tests, monitoring)."""
        with self._lock:
            pool = self._pool
        procs = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.pid is not None]

    def __call__(self, spec: JobSpec, ctx: JobContext, args: dict[str, Any]) -> bool:
        if spec.queue not in self.queues:
            spec.fn(ctx, **args)
            return ctx.finished
        pool = self._current()
        try:
            future = pool.submit(
                _run_in_process, spec.name, spec.fn.__module__, ctx.job_id, ctx.token, ctx.attempt, args
            )
        except BrokenProcessPool:
            self._discard(pool)
            raise
        except RuntimeError as exc:  # submitted after shutdown
            raise JobInterrupted(str(exc)) from None
        beat = max(1.0, lease_for(spec.name, self.settings.jobs).total_seconds() / 3)
        while True:
            try:
                return bool(future.result(timeout=beat))
            except concurrent.futures.TimeoutError:
                with contextlib.suppress(Exception):  # a missed heartbeat only shortens the lease
                    if not ctx.extend_lease():
                        log.warning("job claim lost while it runs", job=spec.name, outbox_id=ctx.job_id)
            except concurrent.futures.CancelledError:
                raise JobInterrupted("the job runtime stopped before the job started") from None
            except BrokenProcessPool:
                if self._closing:
                    raise JobInterrupted("the job runtime stopped while the job ran") from None
                self._discard(pool)
                raise

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the worker processes: queued work is cancelled, running work gets ``timeout``
        seconds to finish and is then terminated (its row is re-sent after its lease)."""
        with self._lock:
            self._closing = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
