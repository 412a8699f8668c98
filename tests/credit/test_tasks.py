"""The credit jobs run through the kernel's execution wrapper (claim, work, complete), with the
settings passed in, never read from the environment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import credit.tasks  # noqa: F401 - declares the credit jobs
from credit.models import Delivery, DeliveryStatus, Status, Violation
from credit.receiver import ReceiverServer
from credit.service.receivers import save_receiver
from tenderhall.db import Database, utcnow
from tenderhall.jobs.execution import execute
from tenderhall.jobs.models import OutboxJob
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from tests import factories
from tests.credit.conftest import SUPERVISOR, upheld


def _run_jobs(db: Database, settings: Settings, name: str) -> list[str]:
    with db.unit_of_work() as s:
        ids = (
            s.execute(sa.select(OutboxJob.id).where(OutboxJob.actor_name == name).order_by(OutboxJob.id))
            .scalars()
            .all()
        )
    return [execute(db, settings, i) for i in ids]


def test_publishing_enqueues_a_push_that_the_job_delivers_and_a_notice_pdf(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    rx = ReceiverServer(tmp_path / "rx.db", public_key_pem=platform_signer(settings).public_key_pem).start()
    try:
        with db.unit_of_work() as s:
            save_receiver(s, SUPERVISOR, name="省平台", url=f"{rx.url}/events")
            v = upheld(
                s,
                settings,
                code=factories.credit_code(),
                publish_it=True,
                decided_at=utcnow() - dt.timedelta(days=1),
            )
            vid = v.id
        assert _run_jobs(db, settings, "credit.push") == ["done"]
        assert _run_jobs(db, settings, "credit.notice") == ["done"]
        assert [e["event_id"] for e in rx.store.all()] == [1]
    finally:
        rx.stop()
    with db.unit_of_work() as s:
        assert s.execute(sa.select(Delivery.status)).scalar_one() == DeliveryStatus.delivered
        v = s.get(Violation, vid)
        assert v is not None
        assert v.notice_pdf_sha256 is not None
    import hashlib

    from tenderhall.blobs import BlobStore

    notice = BlobStore(settings.blob_dir).read_bytes(v.notice_pdf_sha256)
    assert notice.startswith(b"%PDF")
    assert hashlib.sha256(notice).hexdigest() == v.notice_pdf_sha256  # the record names the stored PDF


def test_the_expire_job_takes_ended_publications_out_of_view(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        v = upheld(
            s,
            settings,
            code=factories.credit_code(),
            publish_it=True,
            publication_days=90,
            decided_at=utcnow() - dt.timedelta(days=91),
        )
        vid = v.id
        from tenderhall.jobs.outbox import enqueue

        enqueue(s, "credit.expire")
    assert _run_jobs(db, settings, "credit.expire") == ["done"]
    with db.unit_of_work() as s:
        v = s.get(Violation, vid)
        assert v is not None
        assert v.status == Status.expired


def open_transactions_elsewhere(settings: Settings) -> str | None:
    """What a transaction held open by the job would show from another connection: on SQLite the
    write lock (``BEGIN IMMEDIATE`` without waiting fails), on PostgreSQL a session idle in a
    transaction. None when there is none."""
    url = sa.engine.make_url(settings.database_url)
    if settings.is_sqlite:
        engine = sa.create_engine(
            url.set(drivername="sqlite+pysqlite"), connect_args={"timeout": 0, "isolation_level": None}
        )
    else:
        engine = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            if settings.is_sqlite:
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                except sa.exc.OperationalError as exc:
                    return f"write lock held: {exc.orig}"
                conn.exec_driver_sql("ROLLBACK")
                return None
            idle = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
            ).scalar_one()
            return f"{idle} sessions idle in a transaction" if idle else None
    finally:
        engine.dispose()


class WatchingReceiver(ReceiverServer):
    """The real receiver, noting while each event arrives whether the platform holds a transaction."""

    def __init__(self, *args: Any, settings: Settings, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.settings = settings
        self.seen: list[str | None] = []

    def accept(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.seen.append(open_transactions_elsewhere(self.settings))
        return super().accept(body, headers)


def test_the_push_job_holds_no_transaction_during_its_http_calls(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    rx = WatchingReceiver(
        tmp_path / "rx.db", public_key_pem=platform_signer(settings).public_key_pem, settings=settings
    ).start()
    try:
        with db.unit_of_work() as s:
            save_receiver(s, SUPERVISOR, name="省平台", url=f"{rx.url}/events")
            for _ in range(2):
                upheld(
                    s,
                    settings,
                    code=factories.credit_code(),
                    publish_it=True,
                    decided_at=utcnow() - dt.timedelta(days=1),
                )
        assert _run_jobs(db, settings, "credit.push") == ["done", "done"]
    finally:
        rx.stop()
    assert len(rx.seen) == 2
    assert rx.seen == [None, None]


def test_the_push_and_expiry_periods_are_read_from_the_settings_the_scheduler_is_given() -> None:
    from tenderhall.jobs.scheduler_registry import PERIODIC
    from tenderhall.settings import CreditSettings

    changed = Settings(credit=CreditSettings(push_interval_seconds=7, expire_interval_seconds=11))
    assert PERIODIC["credit.push"].period(changed) == dt.timedelta(seconds=7)
    assert PERIODIC["credit.expire"].period(changed) == dt.timedelta(seconds=11)
    assert PERIODIC["credit.push"].period(Settings()) == dt.timedelta(seconds=30)
    assert PERIODIC["credit.expire"].period(Settings()) == dt.timedelta(minutes=5)


def _push_job(db: Database) -> OutboxJob:
    with db.unit_of_work() as s:
        row = s.execute(sa.select(OutboxJob).where(OutboxJob.actor_name == "credit.push")).scalar_one()
        s.expunge(row)
        return row


def _make_deliveries_due(db: Database) -> None:
    with db.unit_of_work() as s:
        s.execute(sa.update(Delivery).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))


def test_a_push_that_fails_leaves_its_job_failing_and_a_working_receiver_then_gets_it_delivered(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    from tenderhall.jobs.service import JobFilter, job_state

    rx = ReceiverServer(
        tmp_path / "rx.db", public_key_pem=platform_signer(settings).public_key_pem, mode="500"
    ).start()
    try:
        with db.unit_of_work() as s:
            save_receiver(s, SUPERVISOR, name="省平台", url=f"{rx.url}/events")
            upheld(
                s,
                settings,
                code=factories.credit_code(),
                publish_it=True,
                decided_at=utcnow() - dt.timedelta(days=1),
            )
        assert _run_jobs(db, settings, "credit.push") == ["retry"]
        row = _push_job(db)
        assert job_state(row) == JobFilter.failed  # the admin's jobs page: failing, not done
        assert row.last_error and "deliveries failing" in row.last_error
        # the job's retry comes before the delivery's own back-off: still failing, not done
        later = utcnow() + dt.timedelta(hours=1)
        assert execute(db, settings, row.id, now=later) == "retry"
        assert job_state(_push_job(db)) == JobFilter.failed
        with db.unit_of_work() as s:
            assert s.execute(sa.select(Delivery.status)).scalar_one() == DeliveryStatus.pending
        # the receiver works again: the next attempt delivers and the job is done
        rx.set_mode("ok")
        _make_deliveries_due(db)
        assert execute(db, settings, row.id, now=later + dt.timedelta(hours=2)) == "done"
        assert [e["event_id"] for e in rx.store.all()] == [1]
    finally:
        rx.stop()
    with db.unit_of_work() as s:
        assert s.execute(sa.select(Delivery.status)).scalar_one() == DeliveryStatus.delivered


def test_a_push_job_with_nothing_failing_is_done(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        from tenderhall.jobs.outbox import enqueue

        enqueue(s, "credit.push")
    assert _run_jobs(db, settings, "credit.push") == ["done"]


def test_the_demo_runs_its_own_receiver_so_that_its_pushes_are_delivered(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    from credit.demo import RECEIVER_NAME, RECEIVER_URL, serve_alongside
    from credit.models import Receiver

    with db.unit_of_work() as s:
        save_receiver(s, SUPERVISOR, name=RECEIVER_NAME, url=RECEIVER_URL)
    rx = serve_alongside(settings, path=tmp_path / "rx.db")
    try:
        with db.unit_of_work() as s:
            assert s.execute(sa.select(Receiver.url)).scalar_one() == f"{rx.url}/events"
            upheld(
                s,
                settings,
                code=factories.credit_code(),
                publish_it=True,
                decided_at=utcnow() - dt.timedelta(days=1),
            )
        assert _run_jobs(db, settings, "credit.push") == ["done"]
        assert len(rx.store.all()) == 1
    finally:
        rx.stop()
    with db.unit_of_work() as s:
        assert s.execute(sa.select(Delivery.status)).scalar_one() == DeliveryStatus.delivered
