"""The stored Merkle tree of the audit log: every complete RFC 6962 subtree (level ≥ 1) of its
built part, in ``core_audit_node``, extended incrementally, and the roots of proof ranges read from
it with O(log n) lookups (see docs/decisions/0101)."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.audit import merkle
from tenderhall.audit.models import AuditEvent, AuditNode

NODE = AuditNode.__table__  # type: ignore[attr-defined]
EVENT = AuditEvent.__table__  # type: ignore[attr-defined]


def built_size(session: Session) -> int:
    """How many leaves the stored nodes cover: every complete subtree of level ≥ 1 that ends at or
    before this size is stored (the builder always builds every level; an odd last leaf has none)."""
    top = session.execute(sa.select(sa.func.max(NODE.c.idx)).where(NODE.c.level == 1)).scalar()
    return 0 if top is None else 2 * (int(top) + 1)


@functools.lru_cache(maxsize=128)
def _nodes_statement(k: int) -> sa.TextClause:
    """``k`` stored nodes by primary key, one statement (each term an index lookup; built once per
    ``k``: building the expression per proof cost more than running it)."""
    terms = " OR ".join(f"(level = :l{j} AND idx = :i{j})" for j in range(k))
    return sa.text(f"SELECT level, idx, hash FROM core_audit_node WHERE {terms}")


def _stored(session: Session, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    if not wanted:
        return {}
    params: dict[str, int] = {}
    for k, (lv, i) in enumerate(sorted(wanted)):
        params[f"l{k}"], params[f"i{k}"] = lv, i
    rows = session.execute(_nodes_statement(len(wanted)), params).all()
    found = {(lv, i): bytes.fromhex(h) for lv, i, h in rows}
    if len(found) != len(wanted):
        missing = sorted(wanted - found.keys())[0]
        raise RuntimeError(f"stored audit tree node {missing} is missing: run `tenderhall audit verify`")
    return found


def extend_nodes(session: Session, size: int, *, batch: int = 10_000) -> int:
    """Store every complete subtree of the first ``size`` events not stored yet, reading only the
    events from the last built leaf on (and O(log n) stored nodes). Returns the nodes added.
    Callers serialise builders (:func:`sign_tree_head` holds the tree lock)."""
    built = built_size(session)
    if size - built < 2:
        return 0
    # the builder's stack at ``built``: the complete subtrees of its binary decomposition
    parts = merkle.perfect_subtrees(0, built) if built else []
    hashes = _stored(session, set(parts))
    stack = [(lv, hashes[(lv, i)]) for lv, i in parts]
    count, added, rows = built, 0, []
    stmt = (
        sa.select(EVENT.c.seq, EVENT.c.hash)
        .where(EVENT.c.seq >= built, EVENT.c.seq < size)
        .order_by(EVENT.c.seq)
        .execution_options(yield_per=batch)
    )
    for seq, event_hash in session.execute(stmt):
        if seq != count:
            raise RuntimeError(f"the audit log has a gap at seq {count}: run `tenderhall audit verify`")
        level, node = 0, merkle.leaf_hash(event_hash)
        count += 1
        while stack and stack[-1][0] == level:
            node = merkle.node_hash(stack.pop()[1], node)
            level += 1
            rows.append({"level": level, "idx": (count >> level) - 1, "hash": node.hex()})
        stack.append((level, node))
        if len(rows) >= batch:
            session.execute(sa.insert(NODE), rows)
            added, rows = added + len(rows), []
    if count != size:
        raise RuntimeError(f"the audit log has gaps below seq {size}: run `tenderhall audit verify`")
    if rows:
        session.execute(sa.insert(NODE), rows)
        added += len(rows)
    return added


class TreeReader:
    """Roots of proof ranges of the tree of the first ``size`` events, from stored nodes (and the
    leaves of the tail not built yet): O(log n) lookups per proof, in two or three statements."""

    def __init__(self, session: Session, size: int) -> None:
        self.session = session
        self.size = size
        self.built = min(built_size(session), size)

    def roots(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        built = self.built
        plans = [merkle.perfect_subtrees(lo, hi) for lo, hi in ranges]
        nodes: set[tuple[int, int]] = set()
        leaves: set[int] = set()
        tail_end = built

        def need(level: int, idx: int) -> None:
            nonlocal tail_end
            start, end = idx << level, (idx + 1) << level
            if level == 0 and start < built:
                leaves.add(start)
            elif end <= built:
                nodes.add((level, idx))
            elif start >= built:
                tail_end = max(tail_end, end)
            else:  # straddles the last built leaf
                need(level - 1, 2 * idx)
                need(level - 1, 2 * idx + 1)

        for plan in plans:
            for level, idx in plan:
                need(level, idx)
        stored = _stored(self.session, nodes)
        leaf_of = self._leaves(leaves, built, tail_end)
        tail = [leaf_of[i] for i in range(built, tail_end)]

        def hash_of(level: int, idx: int) -> bytes:
            start, end = idx << level, (idx + 1) << level
            if level == 0 and start < built:
                return leaf_of[start]
            if end <= built:
                return stored[(level, idx)]
            if start >= built:
                return merkle.root(tail[start - built : end - built])
            return merkle.node_hash(hash_of(level - 1, 2 * idx), hash_of(level - 1, 2 * idx + 1))

        return [merkle.fold([hash_of(lv, i) for lv, i in plan]) for plan in plans]

    def _leaves(self, seqs: set[int], tail_start: int, tail_end: int) -> dict[int, bytes]:
        conds = []
        if seqs:
            conds.append(EVENT.c.seq.in_(sorted(seqs)))
        if tail_end > tail_start:
            conds.append(sa.and_(EVENT.c.seq >= tail_start, EVENT.c.seq < tail_end))
        if not conds:
            return {}
        rows = self.session.execute(sa.select(EVENT.c.seq, EVENT.c.hash).where(sa.or_(*conds))).all()
        out = {int(seq): merkle.leaf_hash(h) for seq, h in rows}
        if len(out) != len(seqs) + max(0, tail_end - tail_start):
            raise RuntimeError("the audit log has gaps: run `tenderhall audit verify`")
        return out

    def root(self) -> bytes:
        return merkle.EMPTY_ROOT if self.size == 0 else self.roots([(0, self.size)])[0]
