"""Jobs as outbox rows, written in the same transaction as the change that caused them.

Domains declare actors with :func:`job` (in their ``tasks.py``) and enqueue them with
:func:`enqueue` from service code. The relay (``tenderhall.jobs.relay``) hands pending rows to the
broker; the actor wrapper (``tenderhall.jobs.execution``) claims the row, runs the function with a
``JobContext`` (short transactions of its own, none open while it computes) and completes the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.db import utcnow
from tenderhall.events import publish
from tenderhall.jobs.models import OUTBOX_TABLE, JobStatus


@dataclass(frozen=True)
class JobSpec:
    name: str  # "<domain>.<verb>"
    fn: Callable[..., Any]  # fn(ctx: JobContext, **args)
    queue: str
    max_attempts: int | None
    lease_seconds: int | None


#: Every declared job, by name. A test checks that every job written to the outbox is here.
REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str, *, queue: str = "default", max_attempts: int | None = None, lease_seconds: int | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a job: ``fn(ctx, **args)`` with ``ctx`` a :class:`~tenderhall.jobs.execution.JobContext`
    (``with ctx.transaction() as session:`` for each short transaction, ``ctx.settings``). It must
    be idempotent: it may run again after a lost worker, so it re-checks the state it changes.
    Jobs on a queue of ``settings.jobs.cpu_queues`` run in a worker process of their own."""
    if "." not in name:
        raise ValueError(f"job names are '<domain>.<verb>', got {name!r}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"job {name!r} declared twice")
        REGISTRY[name] = JobSpec(name, fn, queue, max_attempts, lease_seconds)
        return fn

    return deco


#: Set in ``session.info`` by :func:`enqueue`; after that session commits, relays of the same
#: database in this process wake up at once (``tenderhall.jobs.relay``).
OUTBOX_WRITTEN = "tenderhall.outbox_written"

_INSERT = sa.insert(OUTBOX_TABLE).returning(OUTBOX_TABLE.c.id)


@dataclass(frozen=True)
class EnqueuedJob:
    """What :func:`enqueue` wrote (or found, for a repeated ``dedup_key``: ``created`` is False)."""

    id: int
    name: str
    dedup_key: str | None
    available_at: dt.datetime
    created: bool = True


_BY_KEY = sa.select(OUTBOX_TABLE.c.id, OUTBOX_TABLE.c.actor_name, OUTBOX_TABLE.c.available_at).where(
    OUTBOX_TABLE.c.dedup_key == sa.bindparam("key")
)


def _existing(session: Session, dedup_key: str) -> EnqueuedJob | None:
    row = session.execute(_BY_KEY, {"key": dedup_key}).first()
    if row is None:
        return None
    return EnqueuedJob(row.id, row.actor_name, dedup_key, row.available_at, created=False)


def enqueue(
    session: Session,
    name: str,
    *,
    dedup_key: str | None = None,
    delay: dt.timedelta | None = None,
    run_at: dt.datetime | None = None,
    queue: str | None = None,
    **args: Any,
) -> EnqueuedJob:
    """Write a job row in the caller's transaction: it runs after the commit, never if the
    transaction rolls back. With ``dedup_key``, a second enqueue of the same key is a no-op that
    returns the existing job (``created=False``), also when two transactions race for the key.
    ``args`` must be JSON values (ids and plain values, never secrets: they are stored)."""
    if dedup_key is not None and (found := _existing(session, dedup_key)) is not None:
        return found
    session.info[OUTBOX_WRITTEN] = True
    spec = REGISTRY.get(name)
    now = utcnow()
    when = run_at or (now + delay if delay else now)
    values: dict[str, Any] = {
        "actor_name": name,
        "queue": queue or (spec.queue if spec else "default"),
        "args": args,
        "dedup_key": dedup_key,
        "status": JobStatus.pending.value,
        "attempts": 0,
        "available_at": when,
        "created_at": now,
    }
    # One INSERT, no ORM flush: building a table model costs more than the insert itself.
    if dedup_key is None:
        new_id = session.execute(_INSERT, values).scalar_one()
    else:
        try:
            with session.begin_nested():
                new_id = session.execute(_INSERT, values).scalar_one()
        except sa.exc.IntegrityError:
            found = _existing(session, dedup_key)  # another transaction committed the same key first
            if found is None:
                raise
            return found
    job_changed(session, new_id, name, JobStatus.pending)
    return EnqueuedJob(new_id, name, dedup_key, when)


JOBS_TOPIC = "jobs"


def job_changed(session: Session, job_id: int, name: str, status: JobStatus) -> None:
    """Tell the admin jobs page, after the commit, that a job changed state (``tenderhall.events``)."""
    publish(session, JOBS_TOPIC, "job", {"id": job_id, "name": name, "status": status.value})
