"""The execution wrapper every actor runs: one unit of work per job, completion in the same commit.

``execute(db, jobs, outbox_id)`` claims the outbox row and marks it done with one
``UPDATE … RETURNING`` (nothing comes back when it is already done or dead, or not yet due, so a
duplicate message is harmless), then runs the job function in the SAME transaction: the job's
effect and its completion commit together. On PostgreSQL the claim holds the row lock for the
whole job, so a relay never re-sends a job that is still running.

On failure that transaction is rolled back and a new one records the attempt: ``attempts + 1``,
``last_error`` (type and first line of the message, never parameters), and ``available_at`` = now
+ exponential back-off with jitter, or status ``dead`` after the job's maximum attempts. A worker
killed mid-job commits nothing: the row stays ``sent`` and the relay re-sends it when its lease
expires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from tenderhall.db import Database, lock_for_update, make_sync_engine, utcnow
from tenderhall.jobs.models import OUTBOX_TABLE, JobStatus, OutboxJob
from tenderhall.jobs.outbox import REGISTRY
from tenderhall.redaction import redact_text
from tenderhall.settings import JobSettings

log = structlog.get_logger("tenderhall.jobs")

MAX_ERROR_CHARS = 500


_WRITE_LOCKS: weakref.WeakKeyDictionary[Database, threading.RLock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def writer(db: Database) -> contextlib.AbstractContextManager[Any]:
    """On SQLite, the job threads of one process (workers, relay, scheduler) take turns for the
    database's single write lock in Python, instead of polling for it in SQLite's busy handler,
    which sleeps for milliseconds at a time. PostgreSQL needs no such turn-taking."""
    if db.dialect != "sqlite":
        return contextlib.nullcontext()
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(db)
        if lock is None:
            lock = _WRITE_LOCKS[db] = threading.RLock()
    return lock


_JOB_SESSIONS: weakref.WeakKeyDictionary[Database, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def _job_sessions(db: Database) -> sessionmaker[Session]:
    """Sessions for job execution and relay claims. On PostgreSQL their connections commit
    without waiting for the WAL flush (``synchronous_commit=off``, set once per connection).

    If the database crashes within the next few hundred milliseconds, such a transaction is lost
    as a whole (a job's effect together with its completion), which is exactly the case of a
    worker killed before commit: the row is still pending or sent and runs again after its lease,
    so the effect still happens once. Nothing a job guarantees depends on the flush; a job simply
    no longer waits for a disk sync. Every other transaction (requests, enqueue, failures,
    scheduler) stays on the kernel's engine with full durability."""
    if db.dialect != "postgresql":
        return db.sync_sessions
    with _WRITE_LOCKS_GUARD:
        maker = _JOB_SESSIONS.get(db)
        if maker is None:
            engine = make_sync_engine(db.url, connect_args={"options": "-c synchronous_commit=off"})
            maker = _JOB_SESSIONS[db] = sessionmaker(engine, expire_on_commit=False)
    return maker


def dispose_job_engine(db: Database) -> None:
    """Close the job connections of ``db`` (runtimes call this when they stop)."""
    with _WRITE_LOCKS_GUARD:
        maker = _JOB_SESSIONS.pop(db, None)
    if maker is not None and maker.kw.get("bind") is not None:
        maker.kw["bind"].dispose()


@contextlib.contextmanager
def job_transaction(db: Database) -> Iterator[Session]:
    """One job transaction, committed here, then the database's after-commit hooks, like
    ``Database.unit_of_work`` (whose engine it shares except on PostgreSQL, see above)."""
    with writer(db), _job_sessions(db)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
    for hook in list(db.after_commit_hooks):
        with contextlib.suppress(Exception):
            hook()


class UnknownJob(Exception):
    """The outbox names a job that no loaded ``tasks.py`` declares."""


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message``, secrets redacted (it is logged and kept on the row).
    SQL errors lose their statement and parameters, which may hold personal data."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        inner: BaseException = exc.orig
        text = str(inner).splitlines()[0] if str(inner) else ""
        return redact_text(f"{type(exc).__name__} ({type(inner).__name__}): {text}")[:MAX_ERROR_CHARS]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact_text(f"{type(exc).__name__}: {text}")[:MAX_ERROR_CHARS]


def max_attempts_for(name: str, jobs: JobSettings) -> int:
    spec = REGISTRY.get(name)
    return (spec.max_attempts if spec and spec.max_attempts else None) or jobs.max_attempts


def lease_for(name: str, jobs: JobSettings) -> dt.timedelta:
    spec = REGISTRY.get(name)
    return dt.timedelta(
        seconds=(spec.lease_seconds if spec and spec.lease_seconds else None) or jobs.lease_seconds
    )


def backoff(attempts: int, jobs: JobSettings, rng: random.Random | None = None) -> dt.timedelta:
    """Delay before attempt ``attempts + 1``: base·2^(attempts−1), capped, times a jitter in [0.5, 1]."""
    r = rng or random
    ceiling = min(jobs.backoff_max_seconds, jobs.backoff_base_seconds * 2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=ceiling * (0.5 + 0.5 * r.random()))


def _claim_statement() -> sa.Update:
    t = OUTBOX_TABLE
    return (
        sa.update(t)
        .where(
            t.c.id == sa.bindparam("job_id"),
            sa.or_(
                t.c.status == JobStatus.sent.value,
                # pending: relayed but not yet marked sent, or re-run; never before it is due
                sa.and_(t.c.status == JobStatus.pending.value, t.c.available_at <= sa.bindparam("now")),
            ),
        )
        .values(
            status=JobStatus.done.value,
            completed_at=sa.bindparam("completed_at"),
            lease_until=None,
            last_error=None,
        )
        .returning(t.c.actor_name, t.c.args)
    )


#: Built once: a job's hot path should not pay for building SQL expressions.
_CLAIM = _claim_statement()


def execute(db: Database, jobs: JobSettings, outbox_id: int, *, now: dt.datetime | None = None) -> str:
    """Run one outbox job. Returns ``done``, ``skipped``, ``retry`` or ``dead``; never raises for a
    job's own failure (the outbox records it), but lets interrupts (shutdown) through.

    The row is claimed and marked done by one ``UPDATE … RETURNING`` at the start of the job's
    transaction (a row lock on PostgreSQL, the write lock on SQLite): if the job fails, the
    rollback undoes it with the job's own writes; a duplicate delivery finds the row done."""
    when = now or utcnow()
    try:
        with job_transaction(db) as session:
            claimed = session.execute(
                _CLAIM, {"job_id": outbox_id, "now": when, "completed_at": utcnow()}
            ).first()
            if claimed is None:
                return "skipped"  # done, dead, unknown, or a stale early duplicate
            spec = REGISTRY.get(claimed.actor_name)
            if spec is None:
                raise UnknownJob(f"job {claimed.actor_name!r} is not declared by any loaded tasks module")
            spec.fn(session, **dict(claimed.args or {}))
        return "done"
    except Exception as exc:  # noqa: BLE001 - every failure of a job is recorded on its row
        return record_failure(db, jobs, outbox_id, exc, now=now)


def record_failure(
    db: Database, jobs: JobSettings, outbox_id: int, exc: BaseException, *, now: dt.datetime | None = None
) -> str:
    error = describe_error(exc)
    try:
        with writer(db), db.unit_of_work() as session:
            return _note_failure(session, jobs, outbox_id, error, now or utcnow())
    except Exception as exc2:  # noqa: BLE001 - the row stays sent; the relay re-sends it after its lease
        log.error("job failure could not be recorded", outbox_id=outbox_id, error=describe_error(exc2))
        return "retry"


def _note_failure(session: Session, jobs: JobSettings, outbox_id: int, error: str, now: dt.datetime) -> str:
    row = session.execute(
        lock_for_update(sa.select(OutboxJob).where(col(OutboxJob.id) == outbox_id), session)
    ).scalar_one_or_none()
    if row is None or row.status in (JobStatus.done, JobStatus.dead):
        return "skipped"
    row.attempts += 1
    row.last_error = error
    row.lease_until = None
    if row.attempts >= max_attempts_for(row.actor_name, jobs):
        row.status = JobStatus.dead
        outcome = "dead"
        log.error("job is dead", job=row.actor_name, outbox_id=row.id, attempts=row.attempts, error=error)
    else:
        row.status = JobStatus.pending
        row.available_at = now + backoff(row.attempts, jobs)
        outcome = "retry"
        log.warning(
            "job failed, will retry",
            job=row.actor_name,
            outbox_id=row.id,
            attempts=row.attempts,
            error=error,
            retry_at=row.available_at.isoformat(),
        )
    session.add(row)
    return outcome


def handler_for(db: Database, jobs: JobSettings) -> Any:
    """The function every dramatiq actor calls: ``handler(job_name, outbox_id)``."""

    def handle(_name: str, outbox_id: int) -> str:
        return execute(db, jobs, outbox_id)

    return handle
