"""Blob-store housekeeping job: thin; the rules are in ``tenderhall.storage.service``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tenderhall.blobs import BlobStore
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.settings import get_settings
from tenderhall.storage.service import collect_unreferenced_blobs


@job("storage.collect_blobs")
def collect_blobs(session: Session) -> None:
    """Delete blobs no table references once their grace period is over (and stale temp files)."""
    collect_unreferenced_blobs(session, BlobStore(get_settings().blob_dir))


periodic("storage.collect_blobs", every=dt.timedelta(hours=6))
