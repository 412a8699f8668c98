"""Jobs through the outbox: transactional enqueue, exactly-once effects, two-phase execution (no
transaction open while a job works, a lost claim neither completes nor records), broker outages,
killed workers, back-off and dead letters, and the admin re-run. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.audit.service import record
from tenderhall.auth.models import Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.jobs.broker import declare_actors, make_broker
from tenderhall.jobs.execution import (
    JobContext,
    backoff,
    describe_error,
    dispose_job_engine,
    execute,
    handler_for,
)
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import REGISTRY, enqueue, job
from tenderhall.jobs.relay import Relay
from tenderhall.jobs.runtime import InProcessRuntime
from tenderhall.settings import JobSettings, Settings
from tests.factories import signed_in
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CRASH_ENV = "TENDERHALL_TEST_CRASH_MID_JOB"


# --- test jobs: their effect is an audit event, so "effect once" is a count of events -------------


@job("testjobs.effect")
def effect(ctx: JobContext, key: str) -> None:
    with ctx.transaction(final=True) as session:
        record(session, SYSTEM, "testjobs.effect", "test", key, f"effect {key}")


@job("testjobs.fail")
def always_fails(ctx: JobContext, key: str) -> None:
    raise RuntimeError(f"simulated failure for {key}")


@job("testjobs.crash")
def crash_after_effect(ctx: JobContext, key: str) -> None:
    with ctx.transaction(final=True) as session:
        record(session, SYSTEM, "testjobs.effect", "test", key, f"effect {key}")
        session.flush()  # the effect is written, not committed
        if os.environ.get(CRASH_ENV) == "1":
            os.kill(os.getpid(), signal.SIGKILL)


class Gate:
    """Holds a job in its work phase until the test opens it: ``entered`` is set when the job is
    waiting, ``release`` lets it go on (both with a deadline, never a fixed sleep)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


GATES: dict[str, Gate] = {}


@job("testjobs.slow")
def slow(ctx: JobContext, key: str) -> None:
    """Reads in one transaction, works (waits on its gate) with none open, records in a second."""
    with ctx.transaction() as session:
        session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    gate = GATES[key]
    gate.entered.set()
    assert gate.release.wait(60), "the test never released the job"
    with ctx.transaction(final=True) as session:
        record(session, SYSTEM, "testjobs.effect", "test", key, f"effect {key}")


def effects(db: Database, key: str) -> int:
    with db.unit_of_work() as s:
        return s.execute(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.action) == "testjobs.effect", col(AuditEvent.object_id) == key)
        ).scalar_one()


def row_of(db: Database, job_id: int) -> OutboxJob:
    with db.unit_of_work() as s:
        row = s.get(OutboxJob, job_id)
        assert row is not None
        s.expunge(row)
        return row


def enqueue_committed(db: Database, name: str, **kw: Any) -> int:
    with db.unit_of_work() as s:
        row = enqueue(s, name, **kw)
        assert row is not None
        assert row.id is not None
        return row.id


class StubRig:
    """The in-process path without background threads: relay passes on demand, a dramatiq Worker on
    a StubBroker, and ``drain()`` waits until every sent message has been processed."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.jobs = settings.jobs
        broker = make_broker("memory://")
        assert isinstance(broker, StubBroker)
        self.broker = broker
        declare_actors(self.broker, handler_for(db, settings))
        for spec in REGISTRY.values():
            self.broker.declare_queue(spec.queue)
        self.relay = Relay(db, settings.jobs, self.broker)
        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=50)
        self.worker.start()

    def process(self) -> None:
        for q in list(self.broker.queues):
            self.broker.join(q, fail_fast=True)
        self.worker.join()

    def drain(self, now: dt.datetime | None = None) -> int:
        # One relay pass, then wait for the workers, until nothing more is due. Passing again
        # while a worker still runs would race it: with a ``now`` in the future its real-time
        # lease looks expired, and the job would be sent a second time.
        sent = 0
        while (n := self.relay.run_once(now)) > 0:
            sent += n
            self.process()
        return sent

    def close(self) -> None:
        self.worker.stop()
        self.broker.close()


@pytest.fixture(autouse=True)
def _dispose_job_engines(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the job connections (PostgreSQL) a test opened, before its database is dropped."""
    database = request.getfixturevalue("db") if "db" in request.fixturenames else None
    yield
    if database is not None:
        dispose_job_engine(database)


@pytest.fixture
def jobs() -> JobSettings:
    return JobSettings(max_attempts=3, backoff_base_seconds=5.0, backoff_max_seconds=3600.0, lease_seconds=60)


@pytest.fixture
def jset(settings: Settings, jobs: JobSettings) -> Settings:
    """The test's settings with the short job settings above."""
    return settings.model_copy(update={"jobs": jobs})


@pytest.fixture
def rig(db: Database, jset: Settings) -> Iterator[StubRig]:
    r = StubRig(db, jset)
    yield r
    r.close()


def silent_relay(db: Database, jset: Settings) -> tuple[Relay, StubBroker]:
    """A relay whose broker has no worker: what it sends is never consumed (a lost worker)."""
    broker = make_broker("memory://")
    assert isinstance(broker, StubBroker)
    declare_actors(broker, handler_for(db, jset))
    for spec in REGISTRY.values():
        broker.declare_queue(spec.queue)
    return Relay(db, jset.jobs, broker), broker


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- transactional enqueue ----------------------------------------------------------------------


def test_job_enqueued_in_rolled_back_transaction_never_runs(db: Database, rig: StubRig) -> None:
    def change_that_fails() -> None:
        with db.unit_of_work() as s:
            enqueue(s, "testjobs.effect", key="rolled-back")
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert rig.drain() == 0
    assert effects(db, "rolled-back") == 0
    with db.unit_of_work() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(OutboxJob)).scalar_one() == 0


def test_committed_job_runs_exactly_once_even_when_delivered_twice(db: Database, rig: StubRig) -> None:
    job_id = enqueue_committed(db, "testjobs.effect", key="once")
    assert rig.drain() == 1
    # a duplicate delivery (the broker redelivers, or a relay re-sends) finds the row done
    rig.broker.enqueue(
        dramatiq.Message(
            queue_name="default", actor_name="testjobs.effect", args=(job_id,), kwargs={}, options={}
        )
    )
    rig.process()
    assert rig.drain() == 0
    assert effects(db, "once") == 1
    row = row_of(db, job_id)
    assert row.status == JobStatus.done
    assert row.completed_at is not None
    assert row.attempts == 0


def test_enqueue_with_same_dedup_key_writes_one_job(db: Database, rig: StubRig) -> None:
    first = enqueue_committed(db, "testjobs.effect", key="dedup", dedup_key="dedup-1")
    second = enqueue_committed(db, "testjobs.effect", key="dedup", dedup_key="dedup-1")
    assert first == second
    rig.drain()
    assert effects(db, "dedup") == 1


def test_timed_job_is_not_sent_before_its_time(db: Database, rig: StubRig) -> None:
    now = utcnow()
    job_id = enqueue_committed(db, "testjobs.effect", key="timed", run_at=now + dt.timedelta(hours=1))
    assert rig.drain(now) == 0
    assert row_of(db, job_id).status == JobStatus.pending
    assert rig.drain(now + dt.timedelta(hours=1, seconds=1)) == 1
    assert effects(db, "timed") == 1


# --- broker outage ------------------------------------------------------------------------------


def test_broker_unreachable_at_commit_keeps_change_and_job_runs_when_broker_is_back(
    db: Database, jobs: JobSettings, jset: Settings, rig: StubRig
) -> None:
    with db.unit_of_work() as s:
        record(s, SYSTEM, "testjobs.change", "test", "outage", "the change that causes the job")
        row = enqueue(s, "testjobs.effect", key="outage")
        assert row is not None
        assert row.id is not None
        job_id = row.id
    down = make_broker(f"redis://127.0.0.1:{closed_port()}/0")
    declare_actors(down, handler_for(db, jset))
    try:
        assert Relay(db, jobs, down).run_once() == 0
        assert Relay(db, jobs, down).run_once() == 0  # tried again later: still waiting, nothing lost
    finally:
        down.close()
    row = row_of(db, job_id)
    assert row.status == JobStatus.pending
    assert row.attempts == 0
    with db.unit_of_work() as s:
        kept = s.execute(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.action) == "testjobs.change")
        ).scalar_one()
    assert kept == 1
    assert effects(db, "outage") == 0
    assert rig.drain() == 1  # the broker is back
    assert effects(db, "outage") == 1
    assert row_of(db, job_id).status == JobStatus.done


class FlakyBroker(StubBroker):
    """Accepts ``accept`` messages, then fails as if the connection dropped."""

    def __init__(self, accept: int) -> None:
        super().__init__()
        self.accept = accept

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        if self.accept <= 0:
            raise ConnectionError("connection reset by peer")
        self.accept -= 1
        return super().enqueue(message, delay=delay)


def test_broker_failing_mid_batch_leaves_unsent_rows_pending_as_they_were(
    db: Database, jobs: JobSettings, jset: Settings
) -> None:
    ids = [enqueue_committed(db, "testjobs.effect", key=f"batch{i}") for i in range(5)]
    flaky = FlakyBroker(accept=2)
    declare_actors(flaky, handler_for(db, jset))
    flaky.declare_queue("default")
    assert Relay(db, jobs, flaky).run_once() == 2
    states = [row_of(db, i) for i in ids]
    assert [r.status for r in states] == [JobStatus.sent] * 2 + [JobStatus.pending] * 3
    assert all(r.lease_until is None and r.attempts == 0 for r in states[2:])
    assert flaky.queues["default"].qsize() == 2


# --- killed worker ------------------------------------------------------------------------------


def _run_in_child(database_url: str, job_id: int) -> None:
    """Entry point of the child process: one job execution, as a worker thread would run it."""
    from tenderhall import registry

    registry.import_all_models()
    child_db = Database(database_url)
    print(
        execute(child_db, Settings(database_url=database_url), job_id)
    )  # only reached if the job did not kill us
    dispose_job_engine(child_db)


def test_worker_killed_mid_job_is_resent_after_its_lease_and_its_effect_happens_once(
    db: Database, settings: Settings, jobs: JobSettings, jset: Settings, rig: StubRig
) -> None:
    job_id = enqueue_committed(db, "testjobs.crash", key="killed")
    sent_at = utcnow()
    lost, _ = silent_relay(db, jset)
    assert lost.run_once(sent_at) == 1  # relayed: 'sent' with a lease
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.kernel.test_jobs import _run_in_child; "
            "_run_in_child(sys.argv[1], int(sys.argv[2]))",
            settings.database_url,
            str(job_id),
        ],
        cwd=ROOT,
        env={**os.environ, CRASH_ENV: "1"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, (child.stdout + child.stderr).decode()[-2000:]
    row = row_of(db, job_id)
    assert row.status == JobStatus.running  # claimed; nothing of its work committed
    assert row.lease_until is not None
    assert effects(db, "killed") == 0
    assert rig.drain(row.lease_until - dt.timedelta(seconds=1)) == 0  # lease still running
    assert rig.drain(row.lease_until + dt.timedelta(seconds=1)) == 1  # re-sent
    assert effects(db, "killed") == 1
    row = row_of(db, job_id)
    assert row.status == JobStatus.done
    assert row.attempts == 1


def test_job_that_kills_its_worker_every_time_ends_dead(
    db: Database, jobs: JobSettings, jset: Settings
) -> None:
    job_id = enqueue_committed(db, "testjobs.effect", key="lost")
    t = utcnow()
    lost, broker = silent_relay(db, jset)
    for _ in range(jobs.max_attempts + 1):  # the first send, then one re-send per lost attempt
        lost.run_once(t)  # sent, and the message is lost with its worker each time
        broker.flush_all()
        t += dt.timedelta(seconds=jobs.lease_seconds + 1)
    row = row_of(db, job_id)
    assert row.status == JobStatus.dead
    assert row.attempts == jobs.max_attempts
    assert "LeaseExpired" in (row.last_error or "")


# --- two phases: claim, work with no transaction open, complete ---------------------------------


def _database_is_writable_elsewhere(settings: Settings, job_id: int) -> None:
    """From a connection of its own, take what a transaction held over the job would hold: the
    write lock on SQLite (``BEGIN IMMEDIATE`` without waiting), the outbox row's lock on
    PostgreSQL (``FOR UPDATE NOWAIT``). Raises if the job holds it."""
    engine = sa.create_engine(
        sa.engine.make_url(settings.database_url).set(
            drivername="sqlite+pysqlite" if settings.is_sqlite else "postgresql+psycopg"
        ),
        **({"connect_args": {"timeout": 0, "isolation_level": None}} if settings.is_sqlite else {}),
    )
    try:
        with engine.connect() as conn:
            if settings.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql("ROLLBACK")
            else:
                with conn.begin():
                    conn.exec_driver_sql(
                        "SELECT id FROM core_outbox WHERE id = %(id)s FOR UPDATE NOWAIT", {"id": job_id}
                    )
    finally:
        engine.dispose()


def _run_in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def test_a_working_job_holds_no_transaction_and_a_second_delivery_is_skipped(
    db: Database, jset: Settings
) -> None:
    gate = GATES["working"] = Gate()
    job_id = enqueue_committed(db, "testjobs.slow", key="working")
    worker, outcome = _run_in_thread(lambda: execute(db, jset, job_id))
    try:
        assert gate.entered.wait(30)
        row = row_of(db, job_id)
        assert row.status == JobStatus.running
        assert row.claim_token
        _database_is_writable_elsewhere(jset, job_id)  # no write lock, no row lock while it works
        with db.unit_of_work() as s:  # a request's write goes through meanwhile
            record(s, SYSTEM, "testjobs.change", "test", "meanwhile", "a write while the job works")
        assert execute(db, jset, job_id) == "skipped"  # a duplicate delivery does not run it twice
    finally:
        gate.release.set()
        worker.join(30)
    assert outcome == ["done"]
    assert effects(db, "working") == 1
    row = row_of(db, job_id)
    assert row.status == JobStatus.done
    assert row.claim_token is None


def test_a_job_whose_claim_ran_out_and_was_resent_neither_completes_nor_records_its_effect(
    db: Database, jset: Settings, jobs: JobSettings
) -> None:
    gate = GATES["stale"] = Gate()
    job_id = enqueue_committed(db, "testjobs.slow", key="stale")
    stale, outcome = _run_in_thread(lambda: execute(db, jset, job_id))
    try:
        assert gate.entered.wait(30)
        lease_until = row_of(db, job_id).lease_until
        assert lease_until is not None
        relay, broker = silent_relay(db, jset)
        assert relay.run_once(lease_until + dt.timedelta(seconds=1)) == 1  # the lease ran out: re-sent
        broker.flush_all()
        resent = row_of(db, job_id)
        assert resent.status == JobStatus.sent
        assert resent.attempts == 1
        GATES["stale"] = fresh = Gate()
        fresh.release.set()
        assert execute(db, jset, job_id) == "done"  # the new claim runs it
    finally:
        gate.release.set()
        stale.join(30)
    assert outcome == ["lost"]  # the stale worker's final transaction was refused and rolled back
    assert effects(db, "stale") == 1
    row = row_of(db, job_id)
    assert row.status == JobStatus.done
    assert row.attempts == 1


def test_a_failure_after_the_claim_was_lost_is_not_recorded_on_the_new_claim(
    db: Database, jset: Settings
) -> None:
    from tenderhall.jobs.execution import record_failure

    job_id = enqueue_committed(db, "testjobs.effect", key="late-failure")
    relay, broker = silent_relay(db, jset)
    assert relay.run_once() == 1
    broker.flush_all()
    assert record_failure(db, jset.jobs, job_id, RuntimeError("late"), token="not-the-claim") == "skipped"
    row = row_of(db, job_id)
    assert row.status == JobStatus.sent
    assert row.attempts == 0
    assert row.last_error is None


# --- failures, back-off, dead letters -----------------------------------------------------------


def test_failing_job_backs_off_exponentially_and_ends_dead(
    db: Database, jobs: JobSettings, jset: Settings
) -> None:
    job_id = enqueue_committed(db, "testjobs.fail", key="f")
    now = utcnow()
    expected_ceilings = [5.0, 10.0]
    for attempt, ceiling in enumerate(expected_ceilings, start=1):
        assert execute(db, jset, job_id, now=now) == "retry"
        row = row_of(db, job_id)
        assert row.status == JobStatus.pending
        assert row.attempts == attempt
        wait = (row.available_at - now).total_seconds()
        assert ceiling / 2 <= wait <= ceiling + 0.001
        assert row.last_error == "RuntimeError: simulated failure for f"
        assert execute(db, jset, job_id, now=now) == "skipped"  # not due yet: an early message is ignored
        now = row.available_at
    assert execute(db, jset, job_id, now=now) == "dead"
    row = row_of(db, job_id)
    assert row.status == JobStatus.dead
    assert row.attempts == jobs.max_attempts
    assert execute(db, jset, job_id, now=now) == "skipped"


def test_backoff_is_capped_and_jittered() -> None:
    jobs = JobSettings(backoff_base_seconds=5.0, backoff_max_seconds=60.0)
    waits = {backoff(20, jobs).total_seconds() for _ in range(50)}
    assert all(30.0 <= w <= 60.0 for w in waits)
    assert len(waits) > 1


def test_job_error_text_keeps_no_sql_parameters(db: Database) -> None:
    secret = "4290011990010112345"
    with pytest.raises(sa.exc.DBAPIError) as caught, db.unit_of_work() as s:
        s.execute(sa.text("INSERT INTO core_no_such_table (x) VALUES (:x)"), {"x": secret})
    assert secret in str(caught.value)  # SQLAlchemy's own message carries the parameters
    text = describe_error(caught.value)
    assert secret not in text
    assert "core_no_such_table" in text
    assert text.startswith(("OperationalError", "ProgrammingError"))


def test_undeclared_job_in_outbox_fails_and_is_recorded(db: Database, jset: Settings) -> None:
    with db.unit_of_work() as s:
        row = OutboxJob(actor_name="nobody.declared", args={})
        s.add(row)
        s.flush()
        job_id = row.id
    assert job_id is not None
    assert execute(db, jset, job_id) == "retry"
    assert "UnknownJob" in (row_of(db, job_id).last_error or "")


def make_dead(db: Database, key: str) -> int:
    with db.unit_of_work() as s:
        row = OutboxJob(
            actor_name="testjobs.effect",
            args={"key": key},
            status=JobStatus.dead,
            attempts=8,
            last_error="RuntimeError: it failed eight times",
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def test_admin_reruns_dead_job_through_api_and_it_runs(db: Database, client: Any, rig: StubRig) -> None:
    _, headers, _ = signed_in(db, Role.admin)
    job_id = make_dead(db, "rerun")
    listed = client.get("/api/jobs", params={"status": "dead"}, headers=headers)
    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()] == [job_id]
    assert listed.json()[0]["last_error"] == "RuntimeError: it failed eight times"
    r = client.post(f"/api/jobs/{job_id}/retry", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert r.json()["attempts"] == 0
    assert client.get("/api/jobs", params={"status": "dead"}, headers=headers).json() == []
    with db.unit_of_work() as s:
        audit = s.execute(sa.select(AuditEvent).where(col(AuditEvent.action) == "jobs.retry")).scalar_one()
    assert audit.object_id == str(job_id)
    assert audit.data["previous"]["status"] == "dead"
    rig.drain()
    assert effects(db, "rerun") == 1
    assert row_of(db, job_id).status == JobStatus.done


def test_rerun_of_done_job_is_refused_409(db: Database, client: Any, rig: StubRig) -> None:
    _, headers, _ = signed_in(db, Role.admin)
    job_id = enqueue_committed(db, "testjobs.effect", key="done")
    rig.drain()
    r = client.post(f"/api/jobs/{job_id}/retry", headers=headers)
    assert r.status_code == 409
    assert "already done" in r.json()["detail_en"]
    assert r.json()["detail_zh"]


def test_rerun_of_missing_job_is_404(db: Database, client: Any) -> None:
    _, headers, _ = signed_in(db, Role.admin)
    assert client.post("/api/jobs/999999/retry", headers=headers).status_code == 404


def test_job_admin_is_for_admins_only(db: Database, client: Any) -> None:
    job_id = make_dead(db, "guarded")
    _, sup_headers, sup_cookies = signed_in(db, Role.supervisor)
    assert client.get("/api/jobs", headers=sup_headers).status_code == 403
    assert client.post(f"/api/jobs/{job_id}/retry", headers=sup_headers).status_code == 403
    assert client.get("/api/jobs").status_code == 401
    client.cookies.update(sup_cookies)
    assert client.get("/admin/jobs").status_code == 403
    assert row_of(db, job_id).status == JobStatus.dead


def test_admin_page_lists_dead_job_and_reruns_it_with_csrf_token(db: Database, client: Any) -> None:
    job_id = make_dead(db, "page")
    _, _, cookies = signed_in(db, Role.admin)
    client.cookies.update(cookies)
    page = client.get("/admin/jobs", params={"status": "dead"})
    assert page.status_code == 200
    assert "testjobs.effect" in page.text
    assert f"/admin/jobs/{job_id}/retry" in page.text
    m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert m
    no_token = client.post(f"/admin/jobs/{job_id}/retry", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    assert row_of(db, job_id).status == JobStatus.dead
    r = client.post(f"/admin/jobs/{job_id}/retry", data={"_csrf_token": m.group(1)}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/admin/jobs")
    assert row_of(db, job_id).status == JobStatus.pending


# --- the in-process runtime (what `tenderhall serve` runs on memory://) --------------------------


def test_inprocess_runtime_runs_committed_jobs_soon_after_commit(db: Database, settings: Settings) -> None:
    # a long poll interval: only the after-commit wake-up can make the job run promptly
    slow = settings.model_copy(
        update={"jobs": settings.jobs.model_copy(update={"relay_interval_seconds": 60.0})}
    )
    runtime = InProcessRuntime(slow, db, threads=2)
    runtime.start()
    try:
        started = time.monotonic()
        ids = [enqueue_committed(db, "testjobs.effect", key=f"rt{i}") for i in range(5)]
        wait_until(
            lambda: all(row_of(db, i).status == JobStatus.done for i in ids),
            message=lambda: f"jobs not done: {[(i, row_of(db, i).status) for i in ids]}",
        )
        assert time.monotonic() - started < 10
    finally:
        stopping = time.monotonic()
        runtime.stop()
        assert time.monotonic() - stopping < 5
    assert [effects(db, f"rt{i}") for i in range(5)] == [1] * 5
    assert not [t for t in threading.enumerate() if t.name.startswith("tenderhall-")]


# --- every job name written to the outbox is declared -------------------------------------------

ENQUEUE_LITERAL = re.compile(r"""\benqueue\(\s*\w+\s*,\s*(?:name\s*=\s*)?["']([^"']+)["']""")
PERIODIC_LITERAL = re.compile(r"""\bperiodic\(\s*(?:job_name\s*=\s*)?["']([^"']+)["']""")


def test_enqueue_scan_finds_literal_job_names() -> None:
    sample = 'enqueue(session, "credit.push", dedup_key=k)\n    enqueue(\n  s,\n  "trading.close_lot")'
    assert ENQUEUE_LITERAL.findall(sample) == ["credit.push", "trading.close_lot"]
    assert PERIODIC_LITERAL.findall('periodic("audit.sign_tree_head", every=x)') == ["audit.sign_tree_head"]


def test_every_enqueued_job_name_in_the_source_is_a_declared_job() -> None:
    from tenderhall import registry

    registry.import_all_tasks()
    undeclared: list[str] = []
    scanned = 0
    for pkg in ("tenderhall", "credit", "trading", "evaluation", "supervision"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            scanned += 1
            for name in ENQUEUE_LITERAL.findall(text) + PERIODIC_LITERAL.findall(text):
                if name not in REGISTRY:
                    undeclared.append(f"{path.relative_to(ROOT)}: {name}")
    assert scanned > 10
    assert undeclared == [], "jobs enqueued but never declared with @job: " + ", ".join(undeclared)
