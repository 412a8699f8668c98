"""The outbox relay: hands due outbox rows to the broker.

A pass (:meth:`Relay.run_once`) claims, in one transaction, pending rows whose ``available_at`` has
come and ``sent`` or ``running`` rows whose lease has expired (their worker died or lost the
message; re-sending ends the old claim, whose holder can then neither record nor complete), sends one
message per row carrying only the outbox id, and marks the rows it sent ``sent`` with a fresh
lease. Rows the broker did not accept keep their state: nothing is lost when the broker is down;
they are tried again on the next pass. Several relays may run at once: PostgreSQL claims rows with
``FOR UPDATE SKIP LOCKED``; SQLite serialises writers (``BEGIN IMMEDIATE``).

Latency: besides polling every ``relay_interval_seconds``, a relay in the same process is woken
as soon as a transaction that enqueued a job commits (an ORM ``after_commit`` event filtered on a
flag :func:`~tenderhall.jobs.outbox.enqueue` sets), so commits that wrote no job cost nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from typing import Any

import dramatiq
import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tenderhall.db import Database, skip_locked, utcnow
from tenderhall.jobs.execution import job_transaction, lease_for, max_attempts_for
from tenderhall.jobs.models import OUTBOX_TABLE, JobStatus
from tenderhall.jobs.outbox import OUTBOX_WRITTEN, REGISTRY
from tenderhall.settings import JobSettings

log = structlog.get_logger("tenderhall.jobs")


_T = OUTBOX_TABLE
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
_MARK_SENT = (
    sa.update(_T)
    .where(_T.c.id.in_(_IDS))
    .values(status=JobStatus.sent.value, lease_until=sa.bindparam("lease"))
)
_MARK_RESENT = (
    sa.update(_T)
    .where(_T.c.id.in_(_IDS))
    .values(
        status=JobStatus.sent.value,
        lease_until=sa.bindparam("lease"),
        attempts=_T.c.attempts + 1,
        last_error="LeaseExpired: re-sent after its lease",
    )
)
_MARK_DEAD = (
    sa.update(_T)
    .where(_T.c.id.in_(_IDS))
    .values(
        status=JobStatus.dead.value,
        lease_until=None,
        attempts=_T.c.attempts + 1,
        last_error="LeaseExpired: the worker did not finish within its lease",
    )
)


_RESTORE = (
    sa.update(_T)
    .where(
        _T.c.id == sa.bindparam("b_id"),
        _T.c.status == JobStatus.sent.value,
        _T.c.lease_until == sa.bindparam("b_our_lease"),
    )
    .values(
        status=sa.bindparam("b_status"),
        lease_until=sa.bindparam("b_lease"),
        attempts=sa.bindparam("b_attempts"),
        last_error=sa.bindparam("b_error"),
    )
)


class Relay:
    """Claim due rows (mark them sent, commit), then send; give back what the broker refused."""

    def __init__(self, db: Database, jobs: JobSettings, broker: dramatiq.Broker) -> None:
        self.db = db
        self.jobs = jobs
        self.broker = broker
        self.broker_down_since: dt.datetime | None = None
        now: sa.BindParameter[Any] = sa.bindparam("now")
        self._due = (
            sa.select(
                _T.c.id,
                _T.c.actor_name,
                _T.c.queue,
                _T.c.status,
                _T.c.attempts,
                _T.c.lease_until,
                _T.c.last_error,
            )
            .where(
                sa.or_(
                    sa.and_(_T.c.status == JobStatus.pending.value, _T.c.available_at <= now),
                    sa.and_(
                        _T.c.status.in_([JobStatus.sent.value, JobStatus.running.value]),
                        _T.c.lease_until < now,
                    ),
                )
            )
            .order_by(_T.c.available_at, _T.c.id)
            .limit(jobs.relay_batch)
        )

    def _claim(self, now: dt.datetime) -> list[tuple[Any, dt.datetime]]:
        """Mark due rows sent (with a fresh lease) and commit; return them with their lease. The
        claim commits before sending so that no row lock is held while the broker is talked to: a
        relay that dies before sending leaves rows that are re-sent when their lease expires."""
        fresh: dict[dt.datetime, list[int]] = defaultdict(list)
        resent: dict[dt.datetime, list[int]] = defaultdict(list)
        dead: list[int] = []
        claimed: list[tuple[Any, dt.datetime]] = []
        with job_transaction(self.db) as session:
            for row in session.execute(skip_locked(self._due, session), {"now": now}).all():
                expired = row.status != JobStatus.pending.value  # sent or running, lease run out
                # An expired lease means the worker holding it died. It counts as an attempt, so a
                # job that kills its worker every time ends dead instead of looping forever.
                if expired and row.attempts + 1 >= max_attempts_for(row.actor_name, self.jobs):
                    dead.append(row.id)
                    log.error("job is dead", job=row.actor_name, outbox_id=row.id, reason="lease expired")
                    continue
                lease = now + lease_for(row.actor_name, self.jobs)
                (resent if expired else fresh)[lease].append(row.id)
                claimed.append((row, lease))
            for stmt, groups in ((_MARK_SENT, fresh), (_MARK_RESENT, resent)):
                for lease, ids in groups.items():
                    session.execute(stmt, {"ids": ids, "lease": lease})
            if dead:
                session.execute(_MARK_DEAD, {"ids": dead})
        return claimed

    def _give_back(self, unsent: list[tuple[Any, dt.datetime]]) -> None:
        """The broker refused these: restore each row exactly as it was (pending rows stay pending)."""
        with job_transaction(self.db) as session:
            session.execute(
                _RESTORE,
                [
                    {
                        "b_id": row.id,
                        "b_our_lease": lease,
                        "b_status": row.status,
                        "b_lease": row.lease_until,
                        "b_attempts": row.attempts,
                        "b_error": row.last_error,
                    }
                    for row, lease in unsent
                ],
            )

    def run_once(self, now: dt.datetime | None = None) -> int:
        """One pass; returns how many messages the broker accepted."""
        now = now or utcnow()
        claimed = self._claim(now)
        sent = 0
        for row, _lease in claimed:
            spec = REGISTRY.get(row.actor_name)
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=spec.queue if spec else row.queue,
                actor_name=row.actor_name,
                args=(row.id,),
                kwargs={},
                options={},
            )
            try:
                self.broker.enqueue(message)
            except Exception as exc:  # noqa: BLE001 - the broker is down: the rest waits in the outbox
                if self.broker_down_since is None:
                    self.broker_down_since = now
                    log.warning("broker unreachable; outbox rows wait", error_type=type(exc).__name__)
                self._give_back(claimed[sent:])
                return sent
            sent += 1
        if sent and self.broker_down_since is not None:
            log.info("broker reachable again")
            self.broker_down_since = None
        return sent

    def pump(self, now: dt.datetime | None = None) -> int:
        """Passes while they come back full (a backlog), then return: the loop's step."""
        total = 0
        while True:
            n = self.run_once(now)
            total += n
            if n < self.jobs.relay_batch:
                return total

    def drain(self, now: dt.datetime | None = None) -> int:
        """Pass until nothing more is due (tests, CLI)."""
        total = 0
        while (n := self.run_once(now)) > 0:
            total += n
        return total


class Waker:
    """A cheap wake-up for a polling loop, waited on with a timeout. :func:`wake_on_commit` sets it
    when a transaction that enqueued a job commits on the given database (in this process)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self) -> None:
        self.event.set()

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke


_WAKERS: dict[Engine, list[Waker]] = {}
_WAKERS_LOCK = threading.Lock()


def _engines(db: Database) -> list[Engine]:
    # requests, jobs and the CLI all write through the sync engine (the async one only pings /health)
    return [db.sync_engine]


def wake_on_commit(db: Database, waker: Waker) -> None:
    with _WAKERS_LOCK:
        for engine in _engines(db):
            _WAKERS.setdefault(engine, []).append(waker)


def stop_waking(db: Database, waker: Waker) -> None:
    with _WAKERS_LOCK:
        for engine in _engines(db):
            wakers = _WAKERS.get(engine, [])
            if waker in wakers:
                wakers.remove(waker)
            if not wakers:
                _WAKERS.pop(engine, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """Only commits that wrote outbox rows wake relays: a relay pass is a transaction, not free."""
    if not session.info.pop(OUTBOX_WRITTEN, False) or not _WAKERS:
        return
    bind = session.bind
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    for waker in list(_WAKERS.get(engine, ())) if engine is not None else ():
        waker()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_WRITTEN, None)
