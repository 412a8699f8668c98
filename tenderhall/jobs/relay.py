"""The outbox relay: hands due outbox rows to the broker.

A pass (:meth:`Relay.run_once`) claims, in one transaction, pending rows whose ``available_at`` has
come and ``sent`` rows whose lease has expired (their worker died or lost the message), sends one
message per row carrying only the outbox id, and marks the rows it sent ``sent`` with a fresh
lease. Rows the broker did not accept keep their state: nothing is lost when the broker is down;
they are tried again on the next pass. Several relays may run at once: PostgreSQL claims rows with
``FOR UPDATE SKIP LOCKED``; SQLite serialises writers (``BEGIN IMMEDIATE``).

The relay's own transactions bypass ``Database.after_commit_hooks`` (which wake the relay).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import dramatiq
import sqlalchemy as sa
import structlog
from sqlmodel import col

from tenderhall.db import Database, skip_locked, utcnow
from tenderhall.jobs.execution import lease_for, max_attempts_for
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import REGISTRY
from tenderhall.settings import JobSettings

log = structlog.get_logger("tenderhall.jobs")


class Relay:
    def __init__(self, db: Database, jobs: JobSettings, broker: dramatiq.Broker) -> None:
        self.db = db
        self.jobs = jobs
        self.broker = broker
        self.broker_down_since: dt.datetime | None = None

    def _due(self, now: dt.datetime) -> sa.Select[Any]:
        return (
            sa.select(OutboxJob)
            .where(
                sa.or_(
                    sa.and_(col(OutboxJob.status) == JobStatus.pending, col(OutboxJob.available_at) <= now),
                    sa.and_(col(OutboxJob.status) == JobStatus.sent, col(OutboxJob.lease_until) < now),
                )
            )
            .order_by(col(OutboxJob.available_at), col(OutboxJob.id))
            .limit(self.jobs.relay_batch)
        )

    def run_once(self, now: dt.datetime | None = None) -> int:
        """One pass; returns how many messages the broker accepted."""
        now = now or utcnow()
        sent = 0
        with self.db.sync_sessions() as session:
            try:
                rows = list(session.execute(skip_locked(self._due(now), session)).scalars())
                for row in rows:
                    # An expired lease means the worker holding it died. It counts as an attempt, so a
                    # job that kills its worker every time ends dead instead of looping forever.
                    if row.status == JobStatus.sent and row.attempts + 1 >= max_attempts_for(
                        row.actor_name, self.jobs
                    ):
                        row.attempts += 1
                        row.status = JobStatus.dead
                        row.lease_until = None
                        row.last_error = "LeaseExpired: the worker did not finish within its lease"
                        log.error("job is dead", job=row.actor_name, outbox_id=row.id, attempts=row.attempts)
                        continue
                    spec = REGISTRY.get(row.actor_name)
                    queue = spec.queue if spec else row.queue
                    message: dramatiq.Message[Any] = dramatiq.Message(
                        queue_name=queue, actor_name=row.actor_name, args=(row.id,), kwargs={}, options={}
                    )
                    try:
                        self.broker.enqueue(message)
                    except Exception as exc:  # noqa: BLE001 - the broker is down: leave the rest as they are
                        if self.broker_down_since is None:
                            self.broker_down_since = now
                            log.warning("broker unreachable; outbox rows wait", error_type=type(exc).__name__)
                        break
                    if row.status == JobStatus.sent:
                        row.attempts += 1
                        row.last_error = "LeaseExpired: re-sent after its lease"
                    row.status = JobStatus.sent
                    row.lease_until = now + lease_for(row.actor_name, self.jobs)
                    sent += 1
                else:
                    if self.broker_down_since is not None and rows:
                        log.info("broker reachable again")
                        self.broker_down_since = None
                session.commit()
            except BaseException:
                session.rollback()
                raise
        return sent

    def drain(self, now: dt.datetime | None = None) -> int:
        """Pass until nothing more is due (tests, CLI)."""
        total = 0
        while (n := self.run_once(now)) > 0:
            total += n
        return total


class Waker:
    """A cheap wake-up for a polling loop: set by after-commit hooks, waited on with a timeout."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self) -> None:
        self.event.set()

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke
