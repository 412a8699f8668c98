"""Jobs as outbox rows, written in the same transaction as the change that caused them.

Domains declare actors with :func:`job` (in their ``tasks.py``) and enqueue them with
:func:`enqueue` from service code. The relay (``tenderhall.jobs.relay``) hands pending rows to the
broker; the actor wrapper runs the function in its own unit of work and completes the row in that
same transaction, so an effect in the database and the completion commit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.db import utcnow
from tenderhall.jobs.models import JobStatus, OutboxJob


@dataclass(frozen=True)
class JobSpec:
    name: str  # "<domain>.<verb>"
    fn: Callable[..., Any]  # fn(session, **args)
    queue: str
    max_attempts: int | None
    lease_seconds: int | None


#: Every declared job, by name. A test checks that every job written to the outbox is here.
REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str, *, queue: str = "default", max_attempts: int | None = None, lease_seconds: int | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a job: ``fn(session, **args)`` runs inside one transaction; it must be idempotent."""
    if "." not in name:
        raise ValueError(f"job names are '<domain>.<verb>', got {name!r}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"job {name!r} declared twice")
        REGISTRY[name] = JobSpec(name, fn, queue, max_attempts, lease_seconds)
        return fn

    return deco


def enqueue(
    session: Session,
    name: str,
    *,
    dedup_key: str | None = None,
    delay: dt.timedelta | None = None,
    run_at: dt.datetime | None = None,
    queue: str | None = None,
    **args: Any,
) -> OutboxJob | None:
    """Write a job row in the caller's transaction. With ``dedup_key``, a second enqueue of the same
    key is a no-op (returns the existing row), also when two transactions race for it."""
    if dedup_key is not None:
        existing = session.execute(
            sa.select(OutboxJob).where(col(OutboxJob.dedup_key) == dedup_key)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    spec = REGISTRY.get(name)
    when = run_at or (utcnow() + delay if delay else utcnow())
    row = OutboxJob(
        actor_name=name,
        queue=queue or (spec.queue if spec else "default"),
        args=args,
        dedup_key=dedup_key,
        status=JobStatus.pending,
        available_at=when,
    )
    if dedup_key is None:
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except sa.exc.IntegrityError:
        # another transaction committed the same key first
        return session.execute(sa.select(OutboxJob).where(col(OutboxJob.dedup_key) == dedup_key)).scalar_one()
    return row
