"""``audit verify``: recompute the whole chain, the stored tree heads and tree nodes, the signing
schedule and event times, and check the log against heads obtained elsewhere (anchors)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit import merkle
from tenderhall.audit.anchors import Anchor
from tenderhall.audit.head_timestamps import timestamp_problem
from tenderhall.audit.models import AuditEvent, TreeHead
from tenderhall.audit.report import Problem, VerifyReport
from tenderhall.audit.service import (
    GENESIS_HASH,
    _timestamp,
    canonical,
    compute_hash,
    event_payload,
    verify_tree_head,
)
from tenderhall.audit.tree import NODE
from tenderhall.db import utcnow


def _iter_events(session: Session, batch: int = 5000) -> Iterator[Any]:
    """Plain rows with the event's attribute names (not ORM objects: decision 0004)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table).order_by(table.c.seq).execution_options(yield_per=batch)
    yield from session.execute(stmt)


def _hash_at_seq(e: Any, seq: int) -> str:
    payload = event_payload(e)
    payload["seq"] = seq
    return hashlib.sha256(e.prev_hash.encode() + canonical(payload)).hexdigest()


def _describe(e: Any) -> str:
    return f"seq {e.seq} (id {e.id}, {e.action} {e.object_type}:{e.object_id})"


def verify_log(
    session: Session,
    public_keys: dict[str, str],
    *,
    progress: Callable[[int], None] | None = None,
    grace: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    anchors: list[Anchor] | None = None,
    tsa_roots: list[x509.Certificate] | None = None,
) -> VerifyReport:
    """Recompute the whole chain and every stored tree head; report problems, earliest first.

    ``public_keys`` maps key ids to PEM public keys that may have signed heads. The chain walk
    names the first event that was altered, removed or inserted; the heads catch rewrites that
    recomputed every later hash (a rewrite before a signed head's size changes its root).

    Heads are signed on a schedule, so their absence is evidence too: with ``grace`` (a few head
    intervals) every event must be covered by a head signed within ``grace`` of its time (or, if
    none covers it yet, be younger than ``grace`` at ``now``), which catches heads deleted to hide
    a rewrite. An event sequenced after a head cannot be older than that head (the signer times
    heads under the chain lock): one that is was appended later and backdated.

    ``anchors``: heads obtained elsewhere (:func:`anchor_from_json`); the first ``tree_size``
    events must reproduce each one's root.

    A head with an RFC 3161 token (:func:`timestamp_problem`) must be the head the TSA saw: the
    token's imprint is SHA-256 of its signed payload and its time is not before the head's.
    With ``tsa_roots`` (the TSA's certificates) the token's signature is checked too.
    """
    report = VerifyReport()
    now = now or utcnow()
    pending_anchors = sorted(anchors or [], key=lambda a: a.tree_size)
    report.anchors = len(pending_anchors)
    for a in pending_anchors:
        if not a.signature_ok:
            report.problems.append(
                Problem(
                    "anchor_signature",
                    None,
                    None,
                    f"{a.source} 的树头（规模 {a.tree_size}）签名不能用平台公钥验证：它不是平台签发的",
                    f"The tree head of size {a.tree_size} from {a.source} does not verify with the "
                    "platform public key: the platform did not sign it",
                )
            )
    pending_anchors = [a for a in pending_anchors if a.signature_ok]
    heads = list(
        session.execute(sa.select(TreeHead).order_by(col(TreeHead.tree_size), col(TreeHead.id))).scalars()
    )
    report.heads = len(heads)
    for head in heads:
        if (tp := timestamp_problem(head, tsa_roots)) is not None:
            report.problems.append(tp)
        elif head.tsa_token is not None:
            report.heads_timestamped += 1
    pending_heads = list(heads)
    acc = merkle.RootAccumulator()
    chain_broken = False

    def check_heads_at(size: int) -> None:
        while pending_heads and pending_heads[0].tree_size == size:
            head = pending_heads.pop(0)
            report.heads_checked += 1
            key = public_keys.get(head.key_id)
            if key is None or not verify_tree_head(head, key):
                report.problems.append(
                    Problem(
                        "head_signature",
                        None,
                        None,
                        f"树头（规模 {head.tree_size}，id {head.id}）的平台签名无效或签名密钥未知",
                        f"Tree head of size {head.tree_size} (id {head.id}) has an invalid platform "
                        "signature or an unknown signing key",
                    )
                )
            if not chain_broken and acc.root().hex() != head.root_hash:
                report.problems.append(
                    Problem(
                        "head_mismatch",
                        None,
                        None,
                        f"前 {head.tree_size} 条事件与 {_timestamp(head.signed_at)} 签名的树头不一致："
                        f"该规模之前的历史被改写（包括重算后续哈希的改写）",
                        f"The first {head.tree_size} events no longer match the tree head signed at "
                        f"{_timestamp(head.signed_at)}: history before that size was rewritten "
                        "(with every later hash recomputed)",
                    )
                )

    def check_anchors_at(size: int) -> None:
        while pending_anchors and pending_anchors[0].tree_size == size:
            a = pending_anchors.pop(0)
            report.anchors_checked += 1
            if acc.root().hex() != a.root_hash:
                report.problems.append(
                    Problem(
                        "anchor_mismatch",
                        None,
                        None,
                        f"前 {a.tree_size} 条事件算不出 {a.source} 的树头（签于 {a.timestamp}）的根："
                        "该规模之前的历史被改写",
                        f"The first {a.tree_size} events do not reproduce the root of the tree head "
                        f"from {a.source} (signed at {a.timestamp}): history before that size was "
                        "rewritten",
                    )
                )

    covering = 0  # heads[covering] is the first head that includes the current event
    backdated_seen = False

    def check_times(e: Any) -> None:
        nonlocal covering, backdated_seen
        while covering < len(heads) and heads[covering].tree_size <= e.seq:
            covering += 1
        prior = heads[covering - 1] if covering else None
        if prior is not None and e.occurred_at < prior.signed_at and not backdated_seen:
            backdated_seen = True
            report.problems.append(
                Problem(
                    "backdated",
                    e.seq,
                    e.id,
                    f"审计事件 {_describe(e)} 的时间 {_timestamp(e.occurred_at)} 早于不包含它的树头"
                    f"（规模 {prior.tree_size}，签于 {_timestamp(prior.signed_at)}）："
                    "它是事后追加并倒填时间的",
                    f"Audit event {_describe(e)} claims {_timestamp(e.occurred_at)}, before the tree head "
                    f"of size {prior.tree_size} signed at {_timestamp(prior.signed_at)} that does not "
                    "include it: it was appended later and backdated",
                )
            )
        if grace is None or e.seq != (prior.tree_size if prior is not None else 0):
            return  # only the first event after each head can open a gap
        cover = heads[covering] if covering < len(heads) else None
        minutes = int(grace.total_seconds() // 60)
        if cover is None and now - e.occurred_at > grace:
            report.problems.append(
                Problem(
                    "head_missing",
                    e.seq,
                    e.id,
                    f"审计事件 {_describe(e)} 记录于 {_timestamp(e.occurred_at)}，超过 {minutes} 分钟仍没有"
                    "树头覆盖它：树头按计划定期签发，缺失说明树头被删除（或签发任务没有运行）",
                    f"Audit event {_describe(e)} was recorded at {_timestamp(e.occurred_at)} and no tree "
                    f"head covers it after more than {minutes} minutes: heads are signed on a schedule, "
                    "so heads were deleted (or the signing job is not running)",
                )
            )
        elif cover is not None and cover.signed_at - e.occurred_at > grace:
            report.problems.append(
                Problem(
                    "head_missing",
                    e.seq,
                    e.id,
                    f"树头缺失：审计事件 {_describe(e)} 记录于 {_timestamp(e.occurred_at)}，直到 "
                    f"{_timestamp(cover.signed_at)} 签发的规模 {cover.tree_size} 的树头才覆盖它，"
                    f"间隔超过 {minutes} 分钟（其间的树头被删除，或签发任务没有运行）",
                    f"Tree heads are missing: audit event {_describe(e)} was recorded at "
                    f"{_timestamp(e.occurred_at)} but first covered by the tree head of size "
                    f"{cover.tree_size} signed at {_timestamp(cover.signed_at)}, more than {minutes} "
                    "minutes later (heads in between were deleted, or the signing job was not running)",
                )
            )

    computed_nodes: dict[tuple[int, int], bytes] = {}
    node_problem = False

    def check_nodes() -> None:
        """Compare the subtrees the walk completed with the stored ones (one range per level)."""
        nonlocal node_problem
        by_level: dict[int, list[int]] = {}
        for lv, i in computed_nodes:
            by_level.setdefault(lv, []).append(i)
        for lv, idxs in sorted(by_level.items()):
            rows = session.execute(
                sa.select(NODE.c.idx, NODE.c.hash)
                .where(NODE.c.level == lv, NODE.c.idx >= min(idxs), NODE.c.idx <= max(idxs))
                .order_by(NODE.c.idx)
            ).all()
            for i, stored in rows:
                if not node_problem and computed_nodes[(lv, i)].hex() != stored:
                    node_problem = True
                    report.problems.append(
                        Problem(
                            "node_mismatch",
                            None,
                            None,
                            f"存储的树节点（level {lv}，index {i}）与审计事件不符：由它给出的证明是错误的"
                            f"（事件 seq {i << lv}–{((i + 1) << lv) - 1}）",
                            f"The stored tree node (level {lv}, index {i}) does not match the audit events "
                            f"(seq {i << lv}–{((i + 1) << lv) - 1}): proofs served from it are wrong",
                        )
                    )
        computed_nodes.clear()

    expected_seq = 0
    prev_hash = GENESIS_HASH
    prev_event: Any = None
    prevprev_hash: str | None = None
    check_heads_at(0)
    check_anchors_at(0)
    for e in _iter_events(session):
        report.events += 1
        if progress is not None:
            progress(1)
        if chain_broken:
            continue
        problem: Problem | None = None
        content_ok = compute_hash(e.prev_hash, e) == e.hash
        if e.prev_hash != prev_hash:
            if prev_event is not None and e.prev_hash == prevprev_hash:
                problem = Problem(
                    "inserted",
                    prev_event.seq,
                    prev_event.id,
                    f"审计事件 {_describe(prev_event)} 是插入的：下一条事件的前序哈希跳过了它",
                    f"Audit event {_describe(prev_event)} was inserted: the next event's prev_hash skips it",
                )
            elif e.seq != expected_seq:
                problem = Problem(
                    "removed",
                    expected_seq,
                    None,
                    f"审计事件 seq {expected_seq}–{e.seq - 1} 被删除（位于 {_describe(e)} 之前）",
                    f"Audit event(s) seq {expected_seq}–{e.seq - 1} were removed (just before "
                    f"{_describe(e)})",
                )
            elif not content_ok and any(_hash_at_seq(e, s) == e.hash for s in range(e.seq + 1, e.seq + 65)):
                original = next(s for s in range(e.seq + 1, e.seq + 65) if _hash_at_seq(e, s) == e.hash)
                problem = Problem(
                    "removed",
                    expected_seq,
                    None,
                    f"{original - e.seq} 条审计事件在 seq {expected_seq} 处被删除，其后事件被重新编号"
                    f"（{_describe(e)} 原为 seq {original}）",
                    f"{original - e.seq} audit event(s) were removed at seq {expected_seq} and later "
                    f"events renumbered ({_describe(e)} was seq {original})",
                )
            elif prev_event is not None and content_ok:
                problem = Problem(
                    "altered",
                    prev_event.seq,
                    prev_event.id,
                    f"审计事件 {_describe(prev_event)} 被改写并重算了哈希：下一条事件仍指向其原哈希",
                    f"Audit event {_describe(prev_event)} was altered and its hash recomputed: the "
                    "next event still points at its original hash",
                )
            else:
                problem = Problem(
                    "inserted" if content_ok else "altered",
                    e.seq,
                    e.id,
                    f"审计事件 {_describe(e)} 与前一条事件不相连（被插入或被改写）",
                    f"Audit event {_describe(e)} does not link to the previous event (inserted or altered)",
                )
        elif not content_ok:
            problem = Problem(
                "altered",
                e.seq,
                e.id,
                f"审计事件 {_describe(e)} 的内容被修改：重新计算的哈希与记录不符",
                f"Audit event {_describe(e)} was altered: its recomputed hash does not match the stored one",
            )
        elif e.seq != expected_seq:
            problem = Problem(
                "removed",
                expected_seq,
                None,
                f"审计事件 seq {expected_seq}–{e.seq - 1} 被删除（位于 {_describe(e)} 之前）",
                f"Audit event(s) seq {expected_seq}–{e.seq - 1} were removed (just before {_describe(e)})",
            )
        if problem is not None:
            report.problems.append(problem)
            chain_broken = True
            continue
        check_times(e)
        for lv, h in acc.add(merkle.leaf_hash(e.hash)):
            computed_nodes[(lv, (acc.size >> lv) - 1)] = h
        if len(computed_nodes) >= 20_000:
            check_nodes()
        prevprev_hash, prev_hash, prev_event = prev_hash, e.hash, e
        expected_seq += 1
        check_heads_at(acc.size)
        check_anchors_at(acc.size)

    check_nodes()
    for head in pending_heads:  # heads larger than the (intact part of the) log
        if chain_broken:
            break
        report.problems.append(
            Problem(
                "removed",
                expected_seq,
                None,
                f"树头（规模 {head.tree_size}）签名时已有 {head.tree_size} 条事件，现在只剩 "
                f"{expected_seq} 条：从 seq {expected_seq} 起的事件被删除",
                f"The tree head of size {head.tree_size} was signed over {head.tree_size} events but "
                f"only {expected_seq} remain: events from seq {expected_seq} on were removed",
            )
        )
        break
    for a in pending_anchors:  # anchors larger than the (intact part of the) log
        if chain_broken:
            report.problems.append(
                Problem(
                    "anchor_unchecked",
                    None,
                    None,
                    f"无法用 {a.source} 的树头（规模 {a.tree_size}）核对日志：日志在该规模之前已断链",
                    f"The log could not be checked against the tree head of size {a.tree_size} from "
                    f"{a.source}: the chain is broken before that size",
                )
            )
            continue
        report.problems.append(
            Problem(
                "anchor_beyond_log",
                expected_seq,
                None,
                f"{a.source} 的树头（规模 {a.tree_size}）签发时已有 {a.tree_size} 条事件，本地日志只有 "
                f"{expected_seq} 条：从 seq {expected_seq} 起的事件被删除",
                f"The tree head from {a.source} was signed over {a.tree_size} events but the local "
                f"log holds only {expected_seq}: events from seq {expected_seq} on were removed",
            )
        )
    return report
