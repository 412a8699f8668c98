"""Blob-store housekeeping job: thin; the rules are in ``tenderhall.storage.service``."""

from __future__ import annotations

import datetime as dt

from tenderhall.blobs import BlobStore
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.storage.service import collect_unreferenced_blobs


@job("storage.collect_blobs")
def collect_blobs(ctx: JobContext) -> None:
    """Delete blobs no table references once their grace period is over (and stale temp files)."""
    with ctx.transaction(final=True) as session:
        collect_unreferenced_blobs(session, BlobStore(ctx.settings.blob_dir))


periodic("storage.collect_blobs", every=lambda s: dt.timedelta(seconds=s.jobs.blob_collect_interval_seconds))
