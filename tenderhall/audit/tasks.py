"""Audit jobs: sign a Merkle tree head every ``settings.jobs.tree_head_interval_seconds``, and
timestamp heads at the RFC 3161 TSA when ``settings.tsa_url`` is set."""

from __future__ import annotations

import datetime as dt

import structlog

from tenderhall.audit import service
from tenderhall.audit.timestamping import TimestampError, load_roots, request_token
from tenderhall.jobs.execution import JobContext
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.signing import platform_signer

log = structlog.get_logger("tenderhall.audit")

SIGN_TREE_HEAD = "audit.sign_tree_head"


class TimestampsMissing(Exception):
    """Some heads could not be timestamped this run (the heads themselves are signed and
    committed); the job fails so that its retry, or the next scheduled run, timestamps them."""


@job(SIGN_TREE_HEAD)
def sign_tree_head(ctx: JobContext) -> None:
    """Sign a head when the log grew since the last one (idempotent: no growth, no new head).

    With a TSA: the head is committed first (a TSA that is down never stops signing); then, with
    no transaction open, each head without a token (newest first, a few per run) is timestamped,
    and each token stored in its own short transaction. If any request failed, the job raises
    after storing what it got, so the failure is on the job's row and the retry fills the gap."""
    signer = platform_signer(ctx.settings)
    url = ctx.settings.tsa_url
    if not url:
        with ctx.transaction(final=True) as session:
            service.sign_tree_head(session, signer)
        return
    with ctx.transaction() as session:
        service.sign_tree_head(session, signer)
        pending = service.heads_to_timestamp(session)
    if not pending:
        return
    ca = ctx.settings.tsa_ca_file
    try:  # after the head is committed: a bad CA file must not stop signing either
        roots = load_roots(ca.read_bytes()) if ca else None
    except (OSError, ValueError) as exc:
        raise TimestampsMissing(
            f"the TSA certificate file {ca} cannot be read ({type(exc).__name__}) / "
            f"无法读取 TSA 证书文件 {ca}（{type(exc).__name__}）"
        ) from exc
    for done, (tree_size, payload) in enumerate(pending):
        try:
            token = request_token(url, payload, roots=roots)
        except TimestampError as exc:  # the TSA is likely down for the rest too: stop here
            left = len(pending) - done
            log.warning("tree heads not timestamped", tree_size=tree_size, left=left, error=exc.en)
            raise TimestampsMissing(
                f"{left} tree head(s) not timestamped, from size {tree_size}: {exc.en} / "
                f"{left} 个树头未取得时间戳（自规模 {tree_size} 起）：{exc.zh}"
            ) from exc
        with ctx.transaction() as session:
            service.attach_timestamp(session, tree_size, token.der, token.gen_time)


periodic(SIGN_TREE_HEAD, every=lambda s: dt.timedelta(seconds=s.jobs.tree_head_interval_seconds))
