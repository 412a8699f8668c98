"""Trading jobs: thin wrappers over the service, idempotent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tenderhall.auth.principal import SYSTEM
from tenderhall.blobs import BlobStore
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from trading.service import closing, notifications


@job("trading.close_tender")
def close_tender(ctx: JobContext, tender_id: int) -> bool:
    """At the deadline: close the tender (no-op if the deadline moved later or it is closed)."""
    with ctx.transaction(final=True) as session:
        return closing.close_tender(session, SYSTEM, ctx.settings, tender_id)


@job("trading.close_due")
def close_due(ctx: JobContext) -> list[int]:
    """Safety net: close every open tender whose deadline has passed."""
    with ctx.transaction(final=True) as session:
        return closing.close_due(session, SYSTEM, ctx.settings)


@job("trading.notify_bidders")
def notify_bidders(ctx: JobContext, kind: str, ref_id: int) -> int:
    with ctx.transaction(final=True) as session:
        return notifications.notify_bidders(session, kind, ref_id)


@job("trading.render_announcement", queue="cpu")
def render_announcement(ctx: JobContext, tender_id: int) -> str | None:
    """The 招标公告 PDF: inputs in one transaction, rendering with none open (a worker process),
    the result recorded in a second that re-checks the tender is still at the same amendment."""
    from trading.pdf import announcement_inputs, record_announcement, render_announcement_pdf

    with ctx.transaction() as session:
        inputs = announcement_inputs(session, tender_id)
    if inputs is None:
        return None
    ref = BlobStore(ctx.settings.blob_dir).write_bytes(render_announcement_pdf(ctx.settings, inputs))
    with ctx.transaction(final=True) as session:
        recorded = record_announcement(session, inputs, ref.sha256)
    return ref.sha256 if recorded else None


periodic("trading.close_due", every=lambda s: dt.timedelta(seconds=s.trading.close_interval_seconds))


@job("trading.make_opening_key", queue="cpu")
def make_opening_key(ctx: JobContext, lot_id: int, threshold: int, custodians: list[list[Any]]) -> str | None:
    """The lot's opening key (decision 0276): inputs in one transaction, the key made, split and
    wrapped with none open (a worker process), stored in a second that re-checks none exists."""
    from tenderhall.db import utcnow
    from tenderhall.signing import platform_signer
    from trading.opening.publication import key_inputs, record_opening_key, seal_opening_key

    with ctx.transaction() as session:
        inputs = key_inputs(session, lot_id, threshold, custodians)
    if inputs is None:
        return None
    sealed = seal_opening_key(platform_signer(ctx.settings), inputs, utcnow())
    with ctx.transaction(final=True) as session:
        stored = record_opening_key(session, inputs, sealed)
    return sealed.certificate_sha256 if stored else None
