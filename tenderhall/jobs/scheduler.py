"""The scheduler: periodic jobs fire once per period across every process, and catch up once.

Periods are slots aligned to the Unix epoch (``every`` = 1 day: slots start at 00:00 UTC). Each
declared periodic job has a row in ``core_scheduler_lease``. A tick claims a due job with a
compare-and-set ``UPDATE … SET lease_until = <end of the current slot> WHERE name = … AND
(lease_until IS NULL OR lease_until <= now)``: exactly one process sees one updated row; the winner
enqueues the job through the outbox with ``dedup_key = "<name>@<slot start>"`` (a second guard) in
the same transaction. After downtime the current slot fires once: the missed slots are not replayed
(catch-up, not a burst). One-off timed jobs need no scheduler: ``enqueue(…, run_at=…)``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

import sqlalchemy as sa
import structlog
from sqlmodel import col

from tenderhall.db import UTC, Database, utcnow
from tenderhall.jobs.execution import writer
from tenderhall.jobs.models import SchedulerLease
from tenderhall.jobs.outbox import enqueue
from tenderhall.jobs.scheduler_registry import PERIODIC, PeriodicSpec
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.jobs")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def slot_start(now: dt.datetime, every: dt.timedelta) -> dt.datetime:
    return EPOCH + ((now - EPOCH) // every) * every


def dedup_key(name: str, slot: dt.datetime) -> str:
    return f"{name}@{slot.isoformat()}"


class Scheduler:
    def __init__(self, db: Database, settings: Settings, *, holder: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._known: set[str] = set()

    def _ensure_rows(self, specs: dict[str, PeriodicSpec]) -> None:
        missing = set(specs) - self._known
        if not missing:
            return
        with writer(self.db), self.db.unit_of_work() as session:
            existing = set(
                session.execute(
                    sa.select(col(SchedulerLease.name)).where(col(SchedulerLease.name).in_(missing))
                ).scalars()
            )
            for name in sorted(missing - existing):
                try:
                    with session.begin_nested():
                        session.add(SchedulerLease(name=name))
                except sa.exc.IntegrityError:
                    pass  # another process created it first
        self._known |= missing

    def tick(self, now: dt.datetime | None = None) -> list[str]:
        """Enqueue every periodic job whose slot has come; returns the dedup keys this process fired."""
        now = now or utcnow()
        specs = dict(PERIODIC)
        self._ensure_rows(specs)
        fired: list[str] = []
        for name, spec in sorted(specs.items()):
            every = spec.period(self.settings)
            slot = slot_start(now, every)
            lease = col(SchedulerLease.lease_until)
            with writer(self.db), self.db.unit_of_work() as session:
                claimed = session.execute(
                    sa.update(SchedulerLease)
                    .where(
                        col(SchedulerLease.name) == name,
                        sa.or_(lease.is_(None), lease <= now),
                    )
                    .values(
                        holder=self.holder,
                        lease_until=slot + every,
                        last_run_at=now,
                        next_run_at=slot + every,
                    )
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                key = dedup_key(name, slot)
                enqueue(session, spec.job_name, dedup_key=key)
                fired.append(key)
            log.debug("periodic job enqueued", job=spec.job_name, slot=slot.isoformat())
        return fired
