"""The execution wrapper every actor runs: claim, work with no transaction open, complete.

A job never holds a transaction open while it computes (on SQLite that would be the database's
single write lock, blocking every request's write for as long as a PDF renders). ``execute`` claims
the outbox row in a short transaction (``running``, a claim token, a lease), runs the job function
with a :class:`JobContext` that gives it short transactions of its own, and completes the row in a
short transaction that re-checks the claim. A worker killed mid-job leaves the row ``running``
until its lease ends; the relay then re-sends it (counting a lost attempt), and the job's own
re-checks of state make the re-run harmless. A failure is recorded on the row (attempts, back-off,
``dead``) only by the claim's holder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from tenderhall.db import Database, lock_for_update, make_sync_engine, utcnow
from tenderhall.jobs.models import OUTBOX_TABLE, JobStatus, OutboxJob
from tenderhall.jobs.outbox import REGISTRY, JobSpec, job_changed
from tenderhall.redaction import redact_text
from tenderhall.settings import JobSettings, Settings

log = structlog.get_logger("tenderhall.jobs")
JOBS = Counter("tenderhall_jobs_total", "Outbox job attempts claimed, by outcome", ("job", "outcome"))
JOB_DURATION = Histogram(
    "tenderhall_job_duration_seconds", "Time from claiming a job to its outcome", ("job",)
)

MAX_ERROR_CHARS = 500


def writer(db: Database) -> contextlib.AbstractContextManager[Any]:
    """On SQLite, the job threads of one process (workers, relay, scheduler) take their turn to
    write with the request threads (:attr:`Database.write_turn`), instead of polling for the
    database's single write lock in SQLite's busy handler. PostgreSQL needs no such turn-taking."""
    return db.write_turn if db.dialect == "sqlite" else contextlib.nullcontext()


_JOB_SESSIONS: weakref.WeakKeyDictionary[Database, sessionmaker[Session]] = weakref.WeakKeyDictionary()
_JOB_SESSIONS_GUARD = threading.Lock()


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
    with _JOB_SESSIONS_GUARD:
        maker = _JOB_SESSIONS.get(db)
        if maker is None:
            engine = make_sync_engine(
                db.url,
                connect_args={"options": "-c synchronous_commit=off"},
                pool_size=db.pool_size,  # as many as the process's job threads, never more
                max_overflow=0,
                pool_timeout=60,
            )
            maker = _JOB_SESSIONS[db] = sessionmaker(engine, expire_on_commit=False)
    return maker


def dispose_job_engine(db: Database) -> None:
    """Close the job connections of ``db`` (runtimes call this when they stop)."""
    with _JOB_SESSIONS_GUARD:
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


class ClaimLost(Exception):
    """The job's claim is no longer ours: its lease ran out and the relay re-sent it (another
    worker may be running it), or someone else completed it. The transaction that found this is
    rolled back; the job's attempt ends without a record (the row belongs to the new claim)."""


class JobInterrupted(Exception):
    """The runtime stopped while the job ran (its worker process was shut down): nothing is
    recorded, the row stays ``running`` and the relay re-sends it after its lease."""


_T = OUTBOX_TABLE
_CLAIM = (
    sa.update(_T)
    .where(
        _T.c.id == sa.bindparam("job_id"),
        sa.or_(
            _T.c.status == JobStatus.sent.value,
            # pending: relayed but not yet marked sent, or re-run; never before it is due
            sa.and_(_T.c.status == JobStatus.pending.value, _T.c.available_at <= sa.bindparam("now")),
        ),
    )
    .values(
        status=JobStatus.running.value,
        claim_token=sa.bindparam("token"),
        lease_until=sa.bindparam("lease"),
    )
    .returning(_T.c.actor_name, _T.c.args, _T.c.attempts)
)
_OURS = sa.and_(
    _T.c.id == sa.bindparam("job_id"),
    _T.c.status == JobStatus.running.value,
    _T.c.claim_token == sa.bindparam("token"),
)
_FENCE = sa.select(_T.c.id).where(_OURS)
_FENCE_LOCKED = _FENCE.with_for_update()
_COMPLETE = (
    sa.update(_T)
    .where(_OURS)
    .values(
        status=JobStatus.done.value,
        completed_at=sa.bindparam("completed_at"),
        lease_until=None,
        claim_token=None,
        last_error=None,
    )
)
_EXTEND = sa.update(_T).where(_OURS).values(lease_until=sa.bindparam("lease"))


def fence(session: Session, job_id: int, token: str) -> None:
    """Raise :class:`ClaimLost` unless the row is still ``running`` under ``token``. On PostgreSQL
    the row stays locked until the transaction ends, so no relay re-sends it meanwhile; on SQLite
    the transaction already holds the database's write lock."""
    stmt = _FENCE_LOCKED if session.get_bind().dialect.name == "postgresql" else _FENCE
    if session.execute(stmt, {"job_id": job_id, "token": token}).first() is None:
        raise ClaimLost(f"outbox job {job_id} is no longer claimed by this worker")


def _complete(session: Session, job_id: int, token: str, name: str) -> bool:
    done = session.execute(_COMPLETE, {"job_id": job_id, "token": token, "completed_at": utcnow()})
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job_changed(session, job_id, name, JobStatus.done)
    return True


@dataclass
class JobContext:
    """What a job function receives: ``fn(ctx, **args)``.

    ``ctx.transaction()`` is one short transaction (committed on exit, rolled back on error) that
    first checks the job is still ours (:func:`fence`); open one to read the job's inputs, do the
    slow part (HTTP, rendering) with none open, and open another to record the result after
    re-checking the object's state. ``ctx.transaction(final=True)`` also marks the job done in the
    same commit, so that a DB-only job's effect and its completion commit together; it must be the
    job's last transaction. Without one, the runner completes the job after the function returns.
    ``ctx.settings`` are the settings the runtime was built with."""

    db: Database
    settings: Settings
    job_id: int
    name: str
    token: str
    attempt: int = 0  # failed or lost attempts before this one
    finished: bool = field(default=False, init=False)

    @contextlib.contextmanager
    def transaction(self, *, final: bool = False) -> Iterator[Session]:
        if self.finished:
            raise RuntimeError(f"job {self.name}: no transaction after the final one")
        with job_transaction(self.db) as session:
            fence(session, self.job_id, self.token)
            yield session
            if final and not _complete(session, self.job_id, self.token, self.name):
                raise ClaimLost(f"outbox job {self.job_id} could not be completed")
        if final:
            self.finished = True

    def extend_lease(self) -> bool:
        """Push the lease forward (a heartbeat while a long step runs); False if no longer ours."""
        with job_transaction(self.db) as session:
            lease = utcnow() + lease_for(self.name, self.settings.jobs)
            res = session.execute(_EXTEND, {"job_id": self.job_id, "token": self.token, "lease": lease})
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]


#: How a claimed job's work phase is run: ``runner(spec, ctx, args)``; the default calls the
#: function in this thread, :class:`tenderhall.jobs.processes.CpuPool` in a worker process.
Runner = Callable[[JobSpec, JobContext, dict[str, Any]], bool]


def run_here(spec: JobSpec, ctx: JobContext, args: dict[str, Any]) -> bool:
    """Run the work phase in this thread; returns whether the job completed itself (final)."""
    spec.fn(ctx, **args)
    return ctx.finished


def execute(
    db: Database,
    settings: Settings,
    outbox_id: int,
    *,
    now: dt.datetime | None = None,
    runner: Runner | None = None,
) -> str:
    """Run one outbox job in two phases. Returns ``done``, ``skipped``, ``retry``, ``dead``,
    ``lost`` or ``interrupted``; never raises for a job's own failure (the outbox records it).

    1. Claim, in a short transaction: one ``UPDATE … RETURNING`` turns a ``sent`` (or due
       ``pending``) row into ``running`` with a fresh claim token and lease, and commits. A
       duplicate delivery finds the row running or done and is skipped.
    2. Work, with no transaction open: the job function gets a :class:`JobContext` and opens the
       short transactions it needs itself (each checks the claim is still ours).
    3. Complete, in a short transaction that re-checks the claim (same token, still running),
       unless the job's final transaction did it already. A claim lost meanwhile (the lease ran
       out, the relay re-sent the job) ends the attempt without a record: ``lost``.

    On failure a new transaction records the attempt on the row, if the claim is still ours:
    ``attempts + 1``, ``last_error`` and back-off, or ``dead`` after the job's maximum attempts.
    A worker killed mid-job leaves the row ``running``: the relay re-sends it after its lease.

    Each claimed attempt counts in ``tenderhall_jobs_total`` (by job and outcome) and
    ``tenderhall_job_duration_seconds``."""
    started = time.perf_counter()
    outcome, name = _execute(db, settings, outbox_id, now=now, runner=runner)
    if name is not None:
        JOBS.labels(name, outcome).inc()
        JOB_DURATION.labels(name).observe(time.perf_counter() - started)
    return outcome


def _execute(
    db: Database,
    settings: Settings,
    outbox_id: int,
    *,
    now: dt.datetime | None,
    runner: Runner | None,
) -> tuple[str, str | None]:
    """:func:`execute`, returning the outcome and the job's name once it is claimed."""
    jobs = settings.jobs
    name: str | None = None
    when = now or utcnow()
    token = uuid.uuid4().hex
    try:
        with job_transaction(db) as session:
            claimed = session.execute(
                _CLAIM,
                {
                    "job_id": outbox_id,
                    "now": when,
                    "token": token,
                    "lease": when + dt.timedelta(seconds=jobs.lease_seconds),
                },
            ).first()
            if claimed is None:
                return "skipped", None  # running, done, dead, unknown, or a stale early duplicate
            name = claimed.actor_name
            lease = lease_for(claimed.actor_name, jobs)
            if lease != dt.timedelta(seconds=jobs.lease_seconds):
                session.execute(_EXTEND, {"job_id": outbox_id, "token": token, "lease": when + lease})
            job_changed(session, outbox_id, claimed.actor_name, JobStatus.running)
        spec = REGISTRY.get(claimed.actor_name)
        if spec is None:
            raise UnknownJob(f"job {claimed.actor_name!r} is not declared by any loaded tasks module")
        ctx = JobContext(db, settings, outbox_id, spec.name, token, attempt=claimed.attempts)
        finished = (runner or run_here)(spec, ctx, dict(claimed.args or {}))
        if not finished:
            with job_transaction(db) as session:
                if not _complete(session, outbox_id, token, claimed.actor_name):
                    raise ClaimLost(f"outbox job {outbox_id} could not be completed")
        return "done", name
    except ClaimLost as exc:
        log.warning("job claim lost; its new claim decides", outbox_id=outbox_id, error=describe_error(exc))
        return "lost", name
    except JobInterrupted:
        return "interrupted", name
    except Exception as exc:  # noqa: BLE001 - every failure of a job is recorded on its row
        return record_failure(db, jobs, outbox_id, exc, token=token, now=now), name


def record_failure(
    db: Database,
    jobs: JobSettings,
    outbox_id: int,
    exc: BaseException,
    *,
    token: str,
    now: dt.datetime | None = None,
) -> str:
    error = describe_error(exc)
    try:
        with writer(db), db.unit_of_work() as session:
            return _note_failure(session, jobs, outbox_id, token, error, now or utcnow())
    except Exception as exc2:  # noqa: BLE001 - the row stays running; the relay re-sends it after its lease
        log.error("job failure could not be recorded", outbox_id=outbox_id, error=describe_error(exc2))
        return "retry"


def _note_failure(
    session: Session, jobs: JobSettings, outbox_id: int, token: str, error: str, now: dt.datetime
) -> str:
    row = session.execute(
        lock_for_update(sa.select(OutboxJob).where(col(OutboxJob.id) == outbox_id), session)
    ).scalar_one_or_none()
    if row is None or row.status != JobStatus.running or row.claim_token != token:
        return "skipped"  # not ours (any more): done, dead, or re-sent to another worker
    row.attempts += 1
    row.last_error = error
    row.lease_until = None
    row.claim_token = None
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
    job_changed(session, outbox_id, row.actor_name, row.status)
    return outcome


def handler_for(db: Database, settings: Settings, runner: Runner | None = None) -> Any:
    """The function every dramatiq actor calls: ``handler(job_name, outbox_id)``. ``runner`` runs
    the work phase (default: in the actor's thread; see :mod:`tenderhall.jobs.processes`)."""

    def handle(_name: str, outbox_id: int) -> str:
        return execute(db, settings, outbox_id, runner=runner)

    return handle
