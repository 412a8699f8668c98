"""Admin view of the outbox: jobs by state (a job retrying after a failure is *failing*), searched
by name or id, sorted; re-run a dead (or failing) job."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall import labels
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow
from tenderhall.errors import Conflict, NotFound
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import job_changed


class JobFilter(enum.StrEnum):
    """A job's state as the admin reads it, and the list's filters. ``failed`` is a job that
    failed and is being retried (waiting for its back-off, queued or running again): it shows as
    failing, whatever step of its retry it is at, until it is done or dead. ``open`` is every job
    not done; ``all`` every job."""

    open = "open"
    pending = "pending"
    sent = "sent"
    running = "running"
    failed = "failed"
    dead = "dead"
    done = "done"
    all = "all"


labels.define(
    JobFilter,
    {
        JobFilter.open: ("未完成", "Open"),
        JobFilter.pending: ("等待发送", "Waiting"),
        JobFilter.sent: ("已排队", "Queued"),
        JobFilter.running: ("执行中", "Running"),
        JobFilter.failed: ("失败重试中", "Failing, retrying"),
        JobFilter.dead: ("已放弃", "Given up"),
        JobFilter.done: ("已完成", "Done"),
        JobFilter.all: ("全部", "All"),
    },
)

#: The states a row can be in (the filters but ``open`` and ``all``), in the list's order.
JOB_STATES = (
    JobFilter.failed,
    JobFilter.dead,
    JobFilter.pending,
    JobFilter.sent,
    JobFilter.running,
    JobFilter.done,
)
_RETRYING = (JobStatus.pending, JobStatus.sent, JobStatus.running)

#: The row's state in SQL: a pending, sent or running job that has failed before is ``failed``.
STATE = sa.case(
    (
        sa.and_(
            col(OutboxJob.status).in_([s.value for s in _RETRYING]),
            sa.or_(col(OutboxJob.attempts) > 0, col(OutboxJob.last_error).is_not(None)),
        ),
        JobFilter.failed.value,
    ),
    else_=col(OutboxJob.status),
)

#: Sort keys of the admin list (query ``sort=``).
JOB_SORTS: dict[str, Any] = {
    "id": col(OutboxJob.id),
    "name": col(OutboxJob.actor_name),
    "state": STATE,
    "attempts": col(OutboxJob.attempts),
    "next_run": col(OutboxJob.available_at),
    "created": col(OutboxJob.created_at),
}


def job_state(row: OutboxJob) -> JobFilter:
    """What :data:`STATE` says in SQL, for a loaded row."""
    if JobStatus(row.status) in _RETRYING and (row.attempts > 0 or row.last_error is not None):
        return JobFilter.failed
    return JobFilter(JobStatus(row.status).value)


def jobs_statement(status: JobFilter = JobFilter.open, q: str = "") -> sa.Select[Any]:
    """Jobs in ``status`` (a row's state, or open/all) whose name contains ``q`` (case-blind) or
    whose id is ``q`` (``12`` or ``#12``)."""
    stmt = sa.select(OutboxJob)
    if status == JobFilter.open:
        stmt = stmt.where(col(OutboxJob.status) != JobStatus.done)
    elif status != JobFilter.all:
        stmt = stmt.where(STATE.in_([status.value]))
    q = (q or "").strip()
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        by_name = sa.func.lower(col(OutboxJob.actor_name)).like(pattern, escape="\\")
        digits = q.removeprefix("#")
        stmt = stmt.where(
            sa.or_(by_name, col(OutboxJob.id) == int(digits))
            if digits.isdigit() and len(digits) < 19
            else by_name
        )
    return stmt


def list_jobs(
    session: Session, status: JobFilter = JobFilter.open, *, limit: int = 200
) -> Sequence[OutboxJob]:
    stmt = jobs_statement(status).order_by(col(OutboxJob.id).desc()).limit(limit)
    return session.execute(stmt).scalars().all()


def count_by_status(session: Session) -> dict[str, int]:
    """How many jobs are in each state (see :class:`JobFilter`), and ``open`` and ``all``."""
    rows = session.execute(sa.select(STATE, sa.func.count()).group_by(STATE)).all()
    counts = {s.value: 0 for s in JOB_STATES}
    counts.update({str(state): n for state, n in rows})
    counts[JobFilter.all.value] = sum(counts.values())
    counts[JobFilter.open.value] = counts[JobFilter.all.value] - counts[JobFilter.done.value]
    return counts


def retry_job(
    session: Session, actor: Principal, job_id: int, *, now: dt.datetime | None = None
) -> OutboxJob:
    """Re-run a dead job, or a pending job waiting for its back-off, now: attempts start again."""
    row = session.execute(
        lock_for_update(sa.select(OutboxJob).where(col(OutboxJob.id) == job_id), session)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"后台任务 {job_id} 不存在", f"Background job {job_id} does not exist")
    if row.status == JobStatus.done:
        raise Conflict(f"后台任务 {job_id} 已完成，无需重新运行", f"Background job {job_id} is already done")
    if row.status in (JobStatus.sent, JobStatus.running):
        raise Conflict(
            f"后台任务 {job_id} 正在运行或已交给队列，租约到期前不能重新运行",
            f"Background job {job_id} is running or queued; it cannot be re-run before its lease ends",
        )
    previous = {"status": str(row.status), "attempts": row.attempts, "last_error": row.last_error}
    row.status = JobStatus.pending
    row.attempts = 0
    row.available_at = now or utcnow()
    row.lease_until = None
    row.claim_token = None
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "jobs.retry",
        "job",
        row.id,
        f"re-run of background job {row.actor_name} #{row.id}",
        {"job": row.actor_name, "previous": previous},
    )
    job_changed(session, job_id, row.actor_name, JobStatus.pending)
    return row
