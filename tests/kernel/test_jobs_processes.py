"""CPU-queue jobs run in supervised worker processes of their own: never in the caller's thread,
a killed worker process fails only its job's attempt (retried) and the next job gets a new
process, and the runtime shuts its processes down when it stops. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.audit.service import record
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database
from tenderhall.jobs.execution import JobContext, execute
from tenderhall.jobs.models import JobStatus
from tenderhall.jobs.outbox import job
from tenderhall.jobs.processes import CpuPool
from tenderhall.jobs.runtime import InProcessRuntime
from tenderhall.settings import JobSettings, Settings
from tests.kernel.test_jobs import _dispose_job_engines, enqueue_committed, row_of  # noqa: F401
from tests.waiting import wait_until

CPU = "cpu"


@job("testcpu.where", queue=CPU)
def where(ctx: JobContext, key: str) -> None:
    """Records which process ran it."""
    with ctx.transaction(final=True) as session:
        record(session, SYSTEM, "testcpu.where", "test", key, f"ran in {os.getpid()}", {"pid": os.getpid()})


@job("testcpu.hold", queue=CPU)
def hold(ctx: JobContext, pid_file: str, release_file: str) -> None:
    """Writes its process id, then waits (polling, with a deadline) until the test releases it."""
    Path(pid_file).write_text(str(os.getpid()))
    wait_until(lambda: Path(release_file).exists(), timeout=120, message="the test never released the job")


def pid_of(db: Database, key: str) -> int:
    with db.unit_of_work() as s:
        event = s.execute(
            sa.select(AuditEvent).where(
                col(AuditEvent.action) == "testcpu.where", col(AuditEvent.object_id) == key
            )
        ).scalar_one()
    return int(event.data["pid"])


@pytest.fixture
def jset(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"jobs": JobSettings(max_attempts=3, lease_seconds=60, cpu_queues=[CPU], cpu_processes=1)}
    )


@pytest.fixture
def pool(jset: Settings) -> Iterator[CpuPool]:
    p = CpuPool(jset)
    yield p
    p.shutdown(timeout=10)


def test_a_cpu_job_runs_in_a_worker_process_not_in_the_callers(
    db: Database, jset: Settings, pool: CpuPool
) -> None:
    job_id = enqueue_committed(db, "testcpu.where", key="elsewhere")
    assert execute(db, jset, job_id, runner=pool) == "done"
    assert pid_of(db, "elsewhere") != os.getpid()
    assert pid_of(db, "elsewhere") in pool.pids()
    assert row_of(db, job_id).status == JobStatus.done


def test_a_killed_worker_process_fails_the_attempt_which_is_retried_and_the_next_job_runs(
    db: Database, jset: Settings, pool: CpuPool, tmp_path: Path
) -> None:
    pid_file, release = tmp_path / "pid", tmp_path / "release"
    held = enqueue_committed(db, "testcpu.hold", pid_file=str(pid_file), release_file=str(release))
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(execute(db, jset, held, runner=pool)))
    runner.start()
    try:
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text() != "",
            timeout=60,
            message="the job never started",
        )
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        runner.join(60)
    finally:
        release.touch()
        runner.join(60)
    assert outcome == ["retry"]
    row = row_of(db, held)
    assert row.status == JobStatus.pending
    assert row.attempts == 1
    assert "BrokenProcessPool" in (row.last_error or "")
    nxt = enqueue_committed(db, "testcpu.where", key="after-kill")
    assert execute(db, jset, nxt, runner=pool) == "done"  # a new worker process runs it
    assert pid_of(db, "after-kill") != os.getpid()
    retry_at = row.available_at + dt.timedelta(seconds=1)
    assert execute(db, jset, held, runner=pool, now=retry_at) == "done"  # the retried attempt (released)


def test_the_inprocess_runtime_runs_cpu_jobs_in_its_worker_process_and_stops_it(
    db: Database, jset: Settings
) -> None:
    runtime = InProcessRuntime(jset, db, threads=2, scheduler=False)
    runtime.start()
    try:
        ids = [enqueue_committed(db, "testcpu.where", key=f"rt{i}") for i in range(3)]
        wait_until(
            lambda: all(row_of(db, i).status == JobStatus.done for i in ids),
            timeout=60,
            message=lambda: f"jobs not done: {[(i, row_of(db, i).status) for i in ids]}",
        )
        pids = {pid_of(db, f"rt{i}") for i in range(3)}
        assert os.getpid() not in pids
        assert len(pids) == 1  # cpu_processes=1: one worker process, reused
    finally:
        runtime.stop()
    assert not multiprocessing.active_children()


def test_stopping_the_runtime_mid_job_interrupts_it_without_recording_a_failure(
    db: Database, jset: Settings, tmp_path: Path
) -> None:
    pid_file, release = tmp_path / "pid", tmp_path / "release"
    runtime = InProcessRuntime(jset, db, threads=2, scheduler=False)
    runtime.start()
    try:
        held = enqueue_committed(db, "testcpu.hold", pid_file=str(pid_file), release_file=str(release))
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text() != "",
            timeout=60,
            message="the job never started",
        )
    finally:
        runtime.stop(timeout=1.0)  # the job does not finish within the grace time: terminated
        release.touch()
    assert not multiprocessing.active_children()
    row = row_of(db, held)
    assert row.status == JobStatus.running  # nothing recorded: re-sent after its lease
    assert row.attempts == 0


def _settings_pickle(settings: Settings) -> Any:
    import pickle

    return pickle.loads(pickle.dumps(settings))


def test_settings_cross_the_process_boundary_intact(jset: Settings) -> None:
    assert _settings_pickle(jset) == jset


def test_a_long_cpu_job_extends_its_lease_while_it_runs(db: Database, jset: Settings, tmp_path: Path) -> None:
    short = jset.model_copy(update={"jobs": jset.jobs.model_copy(update={"lease_seconds": 3})})
    pool = CpuPool(short)
    pid_file, release = tmp_path / "pid", tmp_path / "release"
    held = enqueue_committed(db, "testcpu.hold", pid_file=str(pid_file), release_file=str(release))
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(execute(db, short, held, runner=pool)))
    runner.start()
    try:
        wait_until(lambda: pid_file.exists(), timeout=60, message="the job never started")
        first = row_of(db, held).lease_until
        assert first is not None
        # the heartbeat (every third of the lease) pushes it forward while the job runs
        wait_until(
            lambda: (row_of(db, held).lease_until or first) > first,
            timeout=30,
            message="the lease of the held job was never renewed",
        )
    finally:
        release.touch()
        runner.join(60)
        pool.shutdown(timeout=10)
    assert outcome == ["done"]
    assert row_of(db, held).attempts == 0
