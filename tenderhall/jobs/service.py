"""Admin view of the outbox: list jobs by state, re-run a dead (or failing) job."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow
from tenderhall.errors import Conflict, NotFound
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import job_changed


class JobFilter(enum.StrEnum):
    """What the admin list shows: ``open`` = pending, sent, running and dead; ``failed`` = pending
    after a failure."""

    open = "open"
    pending = "pending"
    sent = "sent"
    running = "running"
    failed = "failed"
    dead = "dead"
    done = "done"


def list_jobs(
    session: Session, status: JobFilter = JobFilter.open, *, limit: int = 200
) -> Sequence[OutboxJob]:
    stmt = sa.select(OutboxJob)
    if status == JobFilter.open:
        stmt = stmt.where(
            col(OutboxJob.status).in_([JobStatus.pending, JobStatus.sent, JobStatus.running, JobStatus.dead])
        )
    elif status == JobFilter.failed:
        stmt = stmt.where(col(OutboxJob.status) == JobStatus.pending, col(OutboxJob.attempts) > 0)
    else:
        stmt = stmt.where(col(OutboxJob.status) == JobStatus(status.value))
    stmt = stmt.order_by(col(OutboxJob.id).desc()).limit(limit)
    return session.execute(stmt).scalars().all()


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.select(col(OutboxJob.status), sa.func.count()).group_by(col(OutboxJob.status))
    ).all()
    counts = {s.value: 0 for s in JobStatus}
    counts.update({str(status): n for status, n in rows})
    counts["failed"] = session.execute(
        sa.select(sa.func.count()).where(
            col(OutboxJob.status) == JobStatus.pending, col(OutboxJob.attempts) > 0
        )
    ).scalar_one()
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
