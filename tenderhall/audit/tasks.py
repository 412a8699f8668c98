"""Audit jobs: sign a Merkle tree head every ``settings.jobs.tree_head_interval_seconds``."""

from __future__ import annotations

import datetime as dt

from tenderhall.audit import service
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.settings import get_settings
from tenderhall.signing import platform_signer

SIGN_TREE_HEAD = "audit.sign_tree_head"


@job(SIGN_TREE_HEAD)
def sign_tree_head(ctx: JobContext) -> None:
    """Sign a head when the log grew since the last one (idempotent: no growth, no new head)."""
    signer = platform_signer(ctx.settings)
    with ctx.transaction(final=True) as session:
        service.sign_tree_head(session, signer)


periodic(SIGN_TREE_HEAD, every=dt.timedelta(seconds=get_settings().jobs.tree_head_interval_seconds))
