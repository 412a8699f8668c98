"""Periodic jobs: once per period however many schedulers race, and one catch-up after downtime."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.db import UTC, Database
from tenderhall.jobs.models import OutboxJob, SchedulerLease
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler import Scheduler, dedup_key, slot_start
from tenderhall.jobs.scheduler_registry import PERIODIC, periodic
from tenderhall.settings import Settings
from tests.kernel.test_jobs import _dispose_job_engines  # noqa: F401

HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 11, 25, 8, 20, tzinfo=UTC)  # inside the slot 08:00–09:00 UTC


@job("testsched.tick")
def tick_job(session: Session) -> None:
    """Does nothing: these tests count what the scheduler enqueues."""


@pytest.fixture
def hourly() -> Iterator[None]:
    """Only this test's periodic job is declared while it runs (domains may have declared theirs)."""
    saved = dict(PERIODIC)
    PERIODIC.clear()
    periodic("testsched.tick", every=lambda _settings: HOUR)
    yield
    PERIODIC.clear()
    PERIODIC.update(saved)


def keys(db: Database) -> list[str | None]:
    with db.unit_of_work() as s:
        return list(
            s.execute(
                sa.select(col(OutboxJob.dedup_key))
                .where(col(OutboxJob.actor_name) == "testsched.tick")
                .order_by(col(OutboxJob.id))
            ).scalars()
        )


def race(db: Database, now: dt.datetime, n: int = 2) -> list[str]:
    """``n`` schedulers (as in ``n`` processes) tick at the same moment."""
    schedulers = [Scheduler(db, Settings(), holder=f"proc-{i}") for i in range(n)]
    barrier = threading.Barrier(n)
    fired: list[str] = []
    errors: list[Exception] = []

    def run(s: Scheduler) -> None:
        try:
            barrier.wait()
            fired.extend(s.tick(now))
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return fired


def test_slots_align_to_the_period() -> None:
    assert slot_start(T0, HOUR) == dt.datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert slot_start(T0, dt.timedelta(days=1)) == dt.datetime(2026, 11, 25, tzinfo=UTC)
    assert dedup_key("a.b", slot_start(T0, HOUR)) == "a.b@2026-11-25T08:00:00+00:00"


@pytest.mark.usefixtures("hourly")
def test_racing_schedulers_fire_once_per_period(db: Database) -> None:
    assert race(db, T0) == ["testsched.tick@2026-11-25T08:00:00+00:00"]
    assert race(db, T0 + dt.timedelta(minutes=30)) == []  # same period: nothing more
    assert race(db, T0 + HOUR) == ["testsched.tick@2026-11-25T09:00:00+00:00"]
    assert keys(db) == [
        "testsched.tick@2026-11-25T08:00:00+00:00",
        "testsched.tick@2026-11-25T09:00:00+00:00",
    ]
    with db.unit_of_work() as s:
        lease = s.get(SchedulerLease, "testsched.tick")
        assert lease is not None
        assert lease.holder in ("proc-0", "proc-1")
        assert lease.next_run_at == dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.usefixtures("hourly")
def test_scheduler_catches_up_once_after_downtime(db: Database) -> None:
    race(db, T0)
    later = T0 + dt.timedelta(hours=10, minutes=5)  # ten periods missed
    assert race(db, later, n=3) == ["testsched.tick@2026-11-25T18:00:00+00:00"]
    assert race(db, later + dt.timedelta(minutes=1), n=3) == []
    assert len(keys(db)) == 2


@pytest.mark.usefixtures("hourly")
def test_stale_lease_of_a_dead_scheduler_does_not_block_the_next_period(db: Database) -> None:
    Scheduler(db, Settings(), holder="crashed").tick(T0)
    assert Scheduler(db, Settings(), holder="survivor").tick(T0 + HOUR) == [
        "testsched.tick@2026-11-25T09:00:00+00:00"
    ]


@pytest.fixture
def tree_head_period() -> Iterator[None]:
    """Only a job whose period is a setting is declared while the test runs."""
    saved = dict(PERIODIC)
    PERIODIC.clear()
    periodic("testsched.tick", every=lambda s: dt.timedelta(seconds=s.jobs.tree_head_interval_seconds))
    yield
    PERIODIC.clear()
    PERIODIC.update(saved)


@pytest.mark.usefixtures("tree_head_period")
def test_the_period_is_read_from_the_settings_the_scheduler_was_given(db: Database) -> None:
    half_hourly = Settings(jobs={"tree_head_interval_seconds": 1800})  # type: ignore[arg-type]
    scheduler = Scheduler(db, half_hourly, holder="one")
    assert scheduler.tick(T0) == ["testsched.tick@2026-11-25T08:00:00+00:00"]
    # 08:35 is a new 30-minute slot; under an hourly period it would still be the 08:00 slot
    assert scheduler.tick(T0 + dt.timedelta(minutes=15)) == ["testsched.tick@2026-11-25T08:30:00+00:00"]


def test_a_period_that_is_not_positive_is_refused_with_the_job_named() -> None:
    from tenderhall.jobs.scheduler_registry import PeriodicSpec
    from tenderhall.settings import SettingError

    spec = PeriodicSpec("testsched.tick", lambda _s: dt.timedelta(0))
    with pytest.raises(SettingError, match=r"testsched\.tick"):
        spec.period(Settings())
