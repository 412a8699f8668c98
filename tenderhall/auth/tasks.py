"""Housekeeping: expired certificate-login nonces, long-expired sessions and old sign-in attempts
(the audit log keeps the record of every attempt)."""

from __future__ import annotations

import datetime as dt

from tenderhall.auth.service.sessions import purge_expired
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic


@job("auth.purge_expired")
def purge_expired_job(ctx: JobContext) -> None:
    with ctx.transaction(final=True) as session:
        purge_expired(session)


periodic("auth.purge_expired", every=lambda s: dt.timedelta(seconds=s.auth.purge_interval_seconds))
