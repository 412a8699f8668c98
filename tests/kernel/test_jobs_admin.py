"""The admin's job list: a job retrying after a failure shows as failing at every step of its retry
(waiting, queued, running again), never as plain waiting or done; search by name or id; counts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from tenderhall.db import Database
from tenderhall.jobs import service
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.service import JobFilter


def make_job(
    db: Database, name: str, status: JobStatus, *, attempts: int = 0, error: str | None = None
) -> int:
    with db.unit_of_work() as s:
        row = OutboxJob(actor_name=name, args={}, status=status, attempts=attempts, last_error=error)
        s.add(row)
        s.flush()
        return int(row.id)  # type: ignore[arg-type]


def ids(db: Database, stmt: Any) -> list[int]:
    with db.unit_of_work() as s:
        return sorted(r.id for r in s.execute(stmt.order_by(col(OutboxJob.id))).scalars())


def state_of(db: Database, job_id: int) -> JobFilter:
    with db.unit_of_work() as s:
        row = s.get(OutboxJob, job_id)
        assert row is not None
        sql_state = s.execute(sa.select(service.STATE).where(col(OutboxJob.id) == job_id)).scalar_one()
        assert service.job_state(row).value == sql_state  # the page's label and the filter agree
        return service.job_state(row)


def test_a_job_retrying_after_a_failure_is_failing_at_every_step_of_its_retry(db: Database) -> None:
    err = "RuntimeError: the registry did not answer"
    backing_off = make_job(db, "credit.push", JobStatus.pending, attempts=1, error=err)
    queued_again = make_job(db, "credit.push", JobStatus.sent, attempts=2, error=err)
    running_again = make_job(db, "credit.push", JobStatus.running, attempts=2, error=err)
    rerun_by_admin = make_job(db, "credit.push", JobStatus.pending, attempts=0, error=err)
    fresh = make_job(db, "credit.push", JobStatus.pending)
    done = make_job(db, "credit.push", JobStatus.done, attempts=1)
    dead = make_job(db, "credit.push", JobStatus.dead, attempts=8, error=err)
    for job_id in (backing_off, queued_again, running_again, rerun_by_admin):
        assert state_of(db, job_id) == JobFilter.failed
    assert state_of(db, fresh) == JobFilter.pending
    assert state_of(db, done) == JobFilter.done
    assert state_of(db, dead) == JobFilter.dead
    assert ids(db, service.jobs_statement(JobFilter.failed)) == [
        backing_off,
        queued_again,
        running_again,
        rerun_by_admin,
    ]
    assert ids(db, service.jobs_statement(JobFilter.pending)) == [fresh]
    assert ids(db, service.jobs_statement(JobFilter.running)) == []
    assert done not in ids(db, service.jobs_statement(JobFilter.open))
    with db.unit_of_work() as s:
        counts = service.count_by_status(s)
    assert counts["failed"] == 4 and counts["pending"] == 1 and counts["done"] == 1 and counts["dead"] == 1
    assert counts["open"] == 6 and counts["all"] == 7


def test_jobs_are_found_by_name_case_blind_or_by_id(db: Database) -> None:
    a = make_job(db, "credit.push", JobStatus.pending)
    b = make_job(db, "trading.render_pdf", JobStatus.done)
    assert ids(db, service.jobs_statement(JobFilter.all, "PDF")) == [b]
    assert ids(db, service.jobs_statement(JobFilter.all, f"#{a}")) == [a]
    assert ids(db, service.jobs_statement(JobFilter.all, str(b))) == [b]
    assert ids(db, service.jobs_statement(JobFilter.all, "render_")) == [b]
    assert ids(db, service.jobs_statement(JobFilter.all, "_%")) == []
    assert ids(db, service.jobs_statement(JobFilter.open, "pdf")) == []  # the filter still applies
