"""The outbox against the real brokers: Redis and RabbitMQ (publisher confirms), on SQLite and
PostgreSQL, including CPU-queue jobs in worker processes. Each test run uses its own queues so that
concurrent test runs never share messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.audit.service import record
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database
from tenderhall.jobs.broker import check_broker, declare_actors, make_broker
from tenderhall.jobs.execution import JobContext, handler_for
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import enqueue, job
from tenderhall.jobs.relay import Relay
from tenderhall.jobs.runtime import JobRuntime
from tenderhall.settings import Settings
from tests.conftest import AMQP_URL, REDIS_URL, need_service
from tests.kernel.test_jobs import _dispose_job_engines, closed_port  # noqa: F401
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
QUEUE_ENV = "TENDERHALL_TEST_JOB_QUEUE"
QUEUE = os.environ.get(QUEUE_ENV) or f"thtest_{uuid.uuid4().hex[:10]}"
CPU_QUEUE = f"{QUEUE}_cpu"


@job("testbroker.effect", queue=QUEUE)
def broker_effect(ctx: JobContext, key: str) -> None:
    with ctx.transaction(final=True) as session:
        record(session, SYSTEM, "testbroker.effect", "test", key, f"effect {key}", {"pid": os.getpid()})


@job("testbroker.cpu", queue=CPU_QUEUE)
def broker_cpu(ctx: JobContext, key: str) -> None:
    broker_effect(ctx, key)


@job("testbroker.cpu_hold", queue=CPU_QUEUE)
def broker_cpu_hold(ctx: JobContext, key: str, pid_file: str, release_file: str) -> None:
    """Writes its process id, waits (polling, with a deadline) to be released, then its effect."""
    Path(pid_file).write_text(str(os.getpid()))
    wait_until(lambda: Path(release_file).exists(), timeout=120, message="the test never released the job")
    broker_effect(ctx, key)


def effects(db: Database, key: str) -> int:
    with db.unit_of_work() as s:
        return s.execute(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.action) == "testbroker.effect", col(AuditEvent.object_id) == key)
        ).scalar_one()


def status_of(db: Database, job_id: int) -> JobStatus:
    with db.unit_of_work() as s:
        row = s.get(OutboxJob, job_id)
        assert row is not None
        return JobStatus(row.status)


def _cleanup(url: str) -> None:
    if url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"dramatiq:{QUEUE}*"):
            client.delete(key)
        client.close()
    else:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        for q in (QUEUE, f"{QUEUE}.DQ", f"{QUEUE}.XQ", CPU_QUEUE, f"{CPU_QUEUE}.DQ", f"{CPU_QUEUE}.XQ"):
            ch.queue_delete(q)
        conn.close()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = need_service("redis", REDIS_URL) if request.param == "redis" else need_service("amqp", AMQP_URL)
    check_broker(url)
    yield url
    _cleanup(url)


def test_job_committed_runs_once_through_real_broker(
    db: Database, settings: Settings, broker_url: str
) -> None:
    runtime = JobRuntime(settings, db, make_broker(broker_url), threads=2, queues={QUEUE}, scheduler=False)
    runtime.start()
    try:
        with db.unit_of_work() as s:
            row = enqueue(s, "testbroker.effect", key="real")
            assert row is not None
            assert row.id is not None
            job_id = row.id
        wait_until(
            lambda: status_of(db, job_id) == JobStatus.done,
            message=lambda: f"job {job_id} is {status_of(db, job_id)}, not done",
        )
    finally:
        runtime.stop()
    assert effects(db, "real") == 1


def test_cpu_job_through_real_broker_runs_once_in_a_worker_process(
    db: Database, settings: Settings, broker_url: str
) -> None:
    cpu = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"cpu_queues": [CPU_QUEUE]})})
    runtime = JobRuntime(cpu, db, make_broker(broker_url), threads=2, queues={CPU_QUEUE}, scheduler=False)
    runtime.start()
    try:
        with db.unit_of_work() as s:
            job_id = enqueue(s, "testbroker.cpu", key="cpu").id
        wait_until(
            lambda: status_of(db, job_id) == JobStatus.done,
            timeout=60,
            message=lambda: f"job {job_id} is {status_of(db, job_id)}, not done",
        )
    finally:
        runtime.stop()
    assert effects(db, "cpu") == 1
    with db.unit_of_work() as s:
        event = s.execute(
            sa.select(AuditEvent).where(
                col(AuditEvent.action) == "testbroker.effect", col(AuditEvent.object_id) == "cpu"
            )
        ).scalar_one()
    assert event.data["pid"] != os.getpid()


def test_killed_cpu_worker_process_through_real_broker_fails_one_attempt_then_the_job_completes(
    db: Database, settings: Settings, broker_url: str, tmp_path: Path
) -> None:
    cpu = settings.model_copy(
        update={
            "jobs": settings.jobs.model_copy(
                update={"cpu_queues": [CPU_QUEUE], "backoff_base_seconds": 0.2, "relay_interval_seconds": 0.1}
            )
        }
    )
    pid_file, release = tmp_path / "pid", tmp_path / "release"
    runtime = JobRuntime(cpu, db, make_broker(broker_url), threads=2, queues={CPU_QUEUE}, scheduler=False)
    runtime.start()
    try:
        with db.unit_of_work() as s:
            job_id = enqueue(
                s, "testbroker.cpu_hold", key="killed-cpu", pid_file=str(pid_file), release_file=str(release)
            ).id
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text() != "",
            timeout=60,
            message="the job never started",
        )
        first_pid = int(pid_file.read_text())
        pid_file.unlink()
        os.kill(first_pid, signal.SIGKILL)
        # the retry runs in a new worker process once its back-off has passed
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text() != "",
            timeout=60,
            message="the job never started",
        )
        assert int(pid_file.read_text()) != first_pid
        with db.unit_of_work() as s:
            retried = s.get(OutboxJob, job_id)
            assert retried is not None
            assert retried.attempts == 1
            assert "BrokenProcessPool" in (retried.last_error or "")
        release.touch()
        wait_until(
            lambda: status_of(db, job_id) == JobStatus.done,
            timeout=60,
            message=lambda: f"job {job_id} is {status_of(db, job_id)}, not done",
        )
    finally:
        release.touch()
        runtime.stop()
    assert effects(db, "killed-cpu") == 1


def test_broker_down_at_commit_then_back_job_runs_once(
    db: Database, settings: Settings, broker_url: str
) -> None:
    with db.unit_of_work() as s:
        record(s, SYSTEM, "testbroker.change", "test", "outage", "the change")
        row = enqueue(s, "testbroker.effect", key="outage")
        assert row is not None
        assert row.id is not None
        job_id = row.id
    scheme = broker_url.split(":", 1)[0]
    userinfo = "guest:guest@" if scheme.startswith("amqp") else ""
    down = make_broker(f"{scheme}://{userinfo}127.0.0.1:{closed_port()}/")
    declare_actors(down, handler_for(db, settings.jobs))
    try:
        assert Relay(db, settings.jobs, down).run_once() == 0
    finally:
        down.close()
    assert status_of(db, job_id) == JobStatus.pending
    runtime = JobRuntime(settings, db, make_broker(broker_url), threads=2, queues={QUEUE}, scheduler=False)
    runtime.start()
    try:
        wait_until(
            lambda: status_of(db, job_id) == JobStatus.done,
            message=lambda: f"job {job_id} is {status_of(db, job_id)}, not done",
        )
    finally:
        runtime.stop()
    assert effects(db, "outage") == 1


def test_worker_process_runs_jobs_and_stops_gracefully_on_sigterm(db: Database, settings: Settings) -> None:
    url = need_service("redis", REDIS_URL)
    env = {
        **os.environ,
        QUEUE_ENV: QUEUE,
        "TENDERHALL_DATABASE_URL": settings.database_url,
        "TENDERHALL_BROKER_URL": url,
        "TENDERHALL_JOBS__RELAY_INTERVAL_SECONDS": "0.1",
    }
    code = (
        "import tests.kernel.test_jobs_brokers\n"
        "from tenderhall.jobs.worker import run_worker\n"
        "from tenderhall.settings import Settings\n"
        f"run_worker(Settings(), processes=1, threads=2, queues=[{QUEUE!r}])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        with db.unit_of_work() as s:
            row = enqueue(s, "testbroker.effect", key="process")
            assert row is not None
            assert row.id is not None
            job_id = row.id
        wait_until(
            lambda: status_of(db, job_id) == JobStatus.done,
            timeout=60,
            message=lambda: f"job {job_id} is {status_of(db, job_id)}, not done",
        )
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()[-2000:]
        assert b"stopping worker" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _cleanup(url)
    assert effects(db, "process") == 1
