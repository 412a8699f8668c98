"""The audit log: every state change is an event; events are hash-chained; signed Merkle tree heads
summarise the log so that anyone holding an earlier head can detect a rewrite.

``record()`` is the one function every domain calls, inside the transaction that makes the change,
so the event and the change commit (or roll back) together.

Hashing (version 1):

- ``event.hash = SHA-256(prev_hash_hex_ascii || canonical_json(payload))`` where the payload holds
  seq, occurred_at (ISO 8601), actor, action, object_type, object_id, summary and data; the first
  event's ``prev_hash`` is 64 zeros;
- Merkle leaf ``SHA-256(0x00 || bytes.fromhex(event.hash))`` (RFC 6962), the events in seq order;
- a tree head signs the canonical JSON of :func:`tree_head_payload` with the platform key
  (ECDSA P-256, SHA-256, DER, base64 in the API).

Signing a tree head is not itself an audit event (the head is the public record, and auditing it
would make the log grow every period).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit import merkle
from tenderhall.audit.models import AuditEvent, TreeHead
from tenderhall.audit.tree import TreeReader, extend_nodes
from tenderhall.auth.principal import Principal
from tenderhall.db import forget_rolled_back, utcnow
from tenderhall.errors import InvalidInput, NotFound
from tenderhall.signing import PlatformSigner, verify_signature

GENESIS_HASH = "0" * 64
LOG_ID = "tenderhall-audit-log"
HEAD_VERSION = 1
_ADVISORY_LOCK_KEY = 7_310_001  # serialises appends to the chain on PostgreSQL
_TREE_LOCK_KEY = 7_310_002  # serialises builders of the stored tree (signers of heads)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def event_payload(e: Any) -> dict[str, Any]:
    """The hashed fields of an event (an AuditEvent or a row with the same attribute names)."""
    return {
        "seq": e.seq,
        "occurred_at": e.occurred_at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "summary": e.summary,
        "data": e.data,
    }


def compute_hash(prev_hash: str, e: Any) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event_payload(e))).hexdigest()


_STAGED = "tenderhall.audit.staged"  # session.info key: events recorded, not yet sequenced


def _lock_chain(session: Session) -> None:
    """Serialise writers of the chain. PostgreSQL: a transaction-scoped advisory lock (released by
    the COMMIT that follows); SQLite: writers already hold the database write lock from BEGIN
    IMMEDIATE (tenderhall.db)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    object_type: str,
    object_id: Any,
    summary: str,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one event in the caller's transaction.

    The event is staged, not yet in the chain: its position (seq), prev_hash, time (occurred_at)
    and hash are given when the transaction commits (:func:`sequence_staged`), in the short step
    that holds the chain lock, so that audited transactions do not queue behind one another while
    they work. Until then ``seq``, ``hash`` and ``id`` are None; after the commit the returned
    object carries them. A rolled-back transaction (or savepoint) leaves nothing."""
    session.connection()  # the transaction is open (and will be committed) even if nothing else is written
    event = AuditEvent(
        seq=None,  # type: ignore[arg-type]  # given at commit
        occurred_at=None,  # type: ignore[arg-type]
        actor=(actor.audit_name if isinstance(actor, Principal) else actor)[:200],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:1000],
        data=json.loads(canonical(data or {})),
        prev_hash="",
        hash=None,  # type: ignore[arg-type]
    )
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_STAGED, []).append((event, txn))
    return event


def sequence_staged(session: Session) -> list[AuditEvent]:
    """Give the events staged in ``session`` their chain positions and insert them: take the chain
    lock, read the chain's head, assign seq, prev_hash, occurred_at (now: chain order and time
    agree) and hash in the order they were recorded. Runs at commit (before_commit); the lock is
    held from here to the end of the COMMIT. Returns the events sequenced."""
    staged = session.info.pop(_STAGED, None)
    if not staged:
        return []
    session.flush()  # the transaction's own changes first, outside the chain lock
    _lock_chain(session)
    last = session.execute(
        sa.select(col(AuditEvent.seq), col(AuditEvent.hash)).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (0, GENESIS_HASH)
    now = utcnow()
    events = [e for e, _ in staged]
    for event in events:
        event.seq, event.occurred_at, event.prev_hash = seq, now, prev
        event.hash = prev = compute_hash(prev, event)
        seq += 1
    session.add_all(events)
    session.flush()
    return events


@sa.event.listens_for(Session, "before_commit")
def _sequence_at_commit(session: Session) -> None:
    if session.info.get(_STAGED) and not session.in_nested_transaction():
        sequence_staged(session)


@sa.event.listens_for(Session, "after_transaction_end")
def _drop_at_end(session: Session, transaction: Any) -> None:
    """A session's outermost transaction ended (committed: already sequenced; rolled back or
    closed): nothing staged in it may reach the session's next transaction."""
    if transaction.parent is None:
        session.info.pop(_STAGED, None)


@sa.event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """Forget the events staged in a transaction (or savepoint) that was rolled back."""
    forget_rolled_back(session, _STAGED, previous_transaction)


# --- tree heads ----------------------------------------------------------------------------------


def log_size(session: Session) -> int:
    """Number of events in the log (seq is 0-based and contiguous)."""
    top = session.execute(sa.select(sa.func.max(col(AuditEvent.seq)))).scalar_one_or_none()
    return 0 if top is None else int(top) + 1


def leaf_hashes(session: Session, tree_size: int) -> list[bytes]:
    """Leaf hashes of the first ``tree_size`` events, in seq order."""
    rows = session.execute(
        sa.select(col(AuditEvent.seq), col(AuditEvent.hash))
        .where(col(AuditEvent.seq) < tree_size)
        .order_by(col(AuditEvent.seq))
    ).all()
    if len(rows) != tree_size or (rows and rows[-1][0] != tree_size - 1):
        raise RuntimeError(f"the audit log has gaps below seq {tree_size}: run `tenderhall audit verify`")
    return [merkle.leaf_hash(h) for _, h in rows]


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tree_head_payload(tree_size: int, root_hash: str, signed_at: dt.datetime, key_id: str) -> dict[str, Any]:
    """What a tree head signature covers: the canonical JSON (sorted keys, no spaces) of this."""
    return {
        "log": LOG_ID,
        "v": HEAD_VERSION,
        "tree_size": tree_size,
        "root_hash": root_hash,
        "timestamp": _timestamp(signed_at),
        "key_id": key_id,
    }


def signed_bytes(head: TreeHead) -> bytes:
    return canonical(tree_head_payload(head.tree_size, head.root_hash, head.signed_at, head.key_id))


def latest_tree_head(session: Session) -> TreeHead | None:
    return session.execute(
        sa.select(TreeHead).order_by(col(TreeHead.tree_size).desc()).limit(1)
    ).scalar_one_or_none()


def tree_head_of_size(session: Session, tree_size: int) -> TreeHead | None:
    return session.execute(
        sa.select(TreeHead).where(col(TreeHead.tree_size) == tree_size)
    ).scalar_one_or_none()


def sign_tree_head(
    session: Session, signer: PlatformSigner, *, now: dt.datetime | None = None, force: bool = False
) -> TreeHead | None:
    """Sign a head over the whole log if it grew since the latest head (or ``force`` with an empty
    log and no head yet). Returns the new head, or None when there was nothing new to sign.

    The stored nodes are extended first (outside the chain lock: committed events never change);
    then, holding the chain lock (PostgreSQL; SQLite's writer lock), the size is read, the last few
    nodes built, and the head timed and signed, so that every event sequenced after this head
    has ``occurred_at`` ≥ its ``signed_at`` (``signed_at`` is truncated to the second, downwards,
    so the truncation keeps that true). ``now`` (tests) replaces the clock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TREE_LOCK_KEY})
    extend_nodes(session, log_size(session))
    _lock_chain(session)
    size = log_size(session)
    latest = latest_tree_head(session)
    if latest is not None and latest.tree_size >= size:
        return None
    if size == 0 and not force:
        return None
    extend_nodes(session, size)
    at = (now or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    root_hex = TreeReader(session, size).root().hex()
    head = TreeHead(tree_size=size, root_hash=root_hex, signed_at=at, signature="", key_id=signer.key_id)
    head.signature = base64.b64encode(signer.sign(signed_bytes(head))).decode()
    session.add(head)
    session.flush()
    return head


#: heads timestamped per run of the tree-head job at most (newest first), so that a long TSA outage
#: drains over a few runs instead of one burst of requests
TIMESTAMPS_PER_RUN = 10


def heads_to_timestamp(session: Session, limit: int = TIMESTAMPS_PER_RUN) -> list[tuple[int, bytes]]:
    """(tree_size, signed payload) of the heads that have no timestamp token yet, newest first."""
    heads = session.execute(
        sa.select(TreeHead)
        .where(col(TreeHead.tsa_token).is_(None))
        .order_by(col(TreeHead.tree_size).desc())
        .limit(limit)
    ).scalars()
    return [(h.tree_size, signed_bytes(h)) for h in heads]


def attach_timestamp(session: Session, tree_size: int, token_der: bytes, gen_time: dt.datetime) -> bool:
    """Store a timestamp token on the head of ``tree_size`` if it has none yet (set once: a
    concurrent run that got there first keeps its token). Returns whether it was stored."""
    done = session.execute(
        sa.update(TreeHead)
        .where(col(TreeHead.tree_size) == tree_size, col(TreeHead.tsa_token).is_(None))
        .values(tsa_token=base64.b64encode(token_der).decode(), tsa_time=gen_time)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def verify_tree_head(head: TreeHead, public_key_pem: str) -> bool:
    return verify_signature(public_key_pem, signed_bytes(head), base64.b64decode(head.signature))


# --- proofs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    event_hash: str
    leaf_hash: str
    root_hash: str
    path: list[str]
    head: TreeHead | None  # the signed head of that size, when one exists


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: str
    second_root: str
    path: list[str]
    first_head: TreeHead | None
    second_head: TreeHead | None


def _resolve_size(session: Session, tree_size: int | None) -> int:
    size = log_size(session)
    if tree_size is None:
        head = latest_tree_head(session)
        if head is None:
            raise NotFound(
                "审计日志尚无已签名的树头，请稍后再试",
                "The audit log has no signed tree head yet; try again later",
            )
        return head.tree_size
    if not 1 <= tree_size <= size:
        raise NotFound(
            f"审计日志当前共有 {size} 条事件，无法给出规模为 {tree_size} 的树",
            f"The audit log holds {size} events; there is no tree of size {tree_size}",
        )
    return tree_size


def inclusion_proof(session: Session, seq: int, tree_size: int | None = None) -> InclusionProof:
    """RFC 6962 audit path for the event ``seq`` in the tree of the first ``tree_size`` events
    (default: the latest signed head)."""
    n = _resolve_size(session, tree_size)
    if not 0 <= seq < n:
        raise NotFound(
            f"树（规模 {n}）中没有序号为 {seq} 的审计事件",
            f"There is no audit event with seq {seq} in the tree of size {n}",
        )
    event_hash = session.execute(
        sa.select(col(AuditEvent.hash)).where(col(AuditEvent.seq) == seq)
    ).scalar_one()
    ranges = merkle.inclusion_ranges(seq, n)
    root_hash, *path = TreeReader(session, n).roots([(0, n), *ranges])
    return InclusionProof(
        seq=seq,
        tree_size=n,
        event_hash=event_hash,
        leaf_hash=merkle.leaf_hash(event_hash).hex(),
        root_hash=root_hash.hex(),
        path=[p.hex() for p in path],
        head=tree_head_of_size(session, n),
    )


def consistency_proof(session: Session, first: int, second: int | None = None) -> ConsistencyProof:
    """RFC 6962 proof that the tree of size ``first`` is a prefix of the tree of size ``second``
    (default: the latest signed head)."""
    m = int(first)
    n = _resolve_size(session, second)
    if not 1 <= m <= n:
        raise InvalidInput(
            f"一致性证明要求 1 ≤ first ≤ second，实际 first={m}，second={n}",
            f"A consistency proof needs 1 ≤ first ≤ second; got first={m}, second={n}",
        )
    first_root, second_root, *path = TreeReader(session, n).roots(
        [(0, m), (0, n), *merkle.consistency_ranges(m, n)]
    )
    return ConsistencyProof(
        first=m,
        second=n,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        path=[p.hex() for p in path],
        first_head=tree_head_of_size(session, m),
        second_head=tree_head_of_size(session, n),
    )
