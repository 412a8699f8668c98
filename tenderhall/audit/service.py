"""The audit log: every state change is an event; events are hash-chained.

``record()`` is the one function every domain calls, inside the transaction that makes the change,
so the event and the change commit (or roll back) together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_310_001  # serialises appends to the chain on PostgreSQL


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def event_payload(e: AuditEvent) -> dict[str, Any]:
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


def compute_hash(prev_hash: str, e: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event_payload(e))).hexdigest()


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    object_type: str,
    object_id: Any,
    summary: str,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    last = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (0, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        actor=actor.audit_name if isinstance(actor, Principal) else actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:1000],
        data=json.loads(canonical(data or {})),
        prev_hash=prev,
        hash="",
    )
    event.hash = compute_hash(prev, event)
    session.add(event)
    session.flush()
    return event
