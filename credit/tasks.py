"""Credit jobs: push due deliveries to external credit platforms, expire publications on time,
render disclosure notices (queue ``cpu``: a worker process of its own)."""

from __future__ import annotations

import datetime as dt

from credit.service.publication import expire_due
from credit.service.push import failing_count, push_due
from tenderhall.auth.principal import SYSTEM
from tenderhall.blobs import BlobStore
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic


class DeliveriesFailing(Exception):
    """Pushes did not get through: the job fails, so the admin's jobs page shows it failing
    (retrying, then dead) instead of done (decision 0146)."""


@job("credit.push", max_attempts=3)
def push(ctx: JobContext) -> None:
    """Send every due delivery (idempotent: deliveries carry their own state). Each claim and
    each result is a short transaction of its own; none is open during an HTTP call.

    The job fails when a delivery it sent failed, and, on a retry, while a delivery it failed on
    is still failing (its own back-off may not have come round yet): a job is never "done" with
    its pushes undelivered."""
    report = push_due(ctx.transaction, ctx.settings)
    failing = report.failed
    if not failing and ctx.attempt > 0:
        with ctx.transaction() as session:
            failing = failing_count(session)
    if failing:
        first = next((e for e in report.errors if e), "")
        raise DeliveriesFailing(
            f"{failing} 条推送未送达，等待重试 / {failing} deliveries failing"
            + (f": {first}" if first else "")
        )


@job("credit.notice", queue="cpu")
def notice(ctx: JobContext, violation_id: int) -> None:
    """Build and store the disclosure notice PDF of a published record (idempotent): inputs in
    one transaction, rendering with none open, the result recorded in a second that re-checks."""
    from credit.pdf import notice_inputs, record_notice, render_notice_pdf

    with ctx.transaction() as session:
        inputs = notice_inputs(session, ctx.settings, violation_id)
    if inputs is None:
        return  # not published, or stored already
    ref = BlobStore(ctx.settings.blob_dir).write_bytes(render_notice_pdf(ctx.settings, inputs))
    with ctx.transaction(final=True) as session:
        record_notice(session, ctx.settings, violation_id, ref.sha256)


@job("credit.expire")
def expire(ctx: JobContext) -> None:
    """Take records whose publication period has ended out of public view."""
    with ctx.transaction(final=True) as session:
        expire_due(session, SYSTEM)


periodic("credit.push", every=lambda s: dt.timedelta(seconds=s.credit.push_interval_seconds))
periodic("credit.expire", every=lambda s: dt.timedelta(seconds=s.credit.expire_interval_seconds))
