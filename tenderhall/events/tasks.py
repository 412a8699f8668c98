"""Forget live events older than ``events.retention_hours`` (a client away longer reloads)."""

from __future__ import annotations

import datetime as dt

from tenderhall.db import utcnow
from tenderhall.events.publishing import prune
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic


@job("events.prune")
def prune_events(ctx: JobContext) -> int:
    cutoff = utcnow() - dt.timedelta(hours=ctx.settings.events.retention_hours)
    with ctx.transaction(final=True) as session:
        return prune(session, before=cutoff)


periodic("events.prune", every=lambda s: dt.timedelta(seconds=s.events.prune_interval_seconds))
