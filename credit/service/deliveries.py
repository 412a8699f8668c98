"""The delivery log as supervisors and admins read it, and re-sending a dead letter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound, WrongState
from credit.models import Change, Delivery, DeliveryStatus, Receiver, pk
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.jobs.outbox import enqueue


def resend(
    session: Session, actor: Principal, delivery_id: int, *, now: dt.datetime | None = None
) -> Delivery:
    """Re-send a dead letter (admins): it becomes pending again with a fresh retry budget."""
    now = now or utcnow()
    d = session.get(Delivery, delivery_id)
    if d is None:
        raise RecordNotFound(f"推送 #{delivery_id} 不存在", f"Delivery #{delivery_id} does not exist")
    if d.status != DeliveryStatus.dead:
        raise WrongState(
            f"推送 #{delivery_id} 不是失败件，无需重发",
            f"Delivery #{delivery_id} is not a dead letter; nothing to re-send",
        )
    d.status = DeliveryStatus.pending
    d.attempts = 0
    d.first_attempt_at = None
    d.lease_until = None
    d.next_attempt_at = now
    session.add(d)
    session.flush()
    record(
        session,
        actor,
        "credit.delivery.resend",
        "credit_delivery",
        d.id,
        "重发推送",
        {"change_id": d.change_id},
    )
    enqueue(session, "credit.push", dedup_key=f"credit.push:resend:{d.id}:{now.isoformat()}")
    return d


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    receiver: str
    change_id: int
    kind: str
    violation_id: int
    subject_key: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None


def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    receiver_id: int | None = None,
    violation_id: int | None = None,
    limit: int = 200,
) -> list[DeliveryRow]:
    """Deliveries newest first, optionally of one status, receiver or record."""
    stmt = (
        sa.select(Delivery, col(Receiver.name), col(Change.kind), col(Change.violation_id))
        .join(Receiver, col(Receiver.id) == col(Delivery.receiver_id))
        .join(Change, col(Change.id) == col(Delivery.change_id))
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(col(Delivery.status) == status)
    if receiver_id:
        stmt = stmt.where(col(Delivery.receiver_id) == receiver_id)
    if violation_id is not None:
        stmt = stmt.where(col(Change.violation_id) == violation_id)
    return [row_of(d, name, kind, vid) for d, name, kind, vid in session.execute(stmt).all()]


def row_of(d: Delivery, receiver: str, kind: Any, violation_id: int) -> DeliveryRow:
    return DeliveryRow(
        pk(d),
        receiver,
        d.change_id,
        kind.value if hasattr(kind, "value") else str(kind),
        violation_id,
        d.subject_key,
        d.status.value if hasattr(d.status, "value") else str(d.status),
        d.attempts,
        d.next_attempt_at,
        d.delivered_at,
        d.last_status_code,
        d.last_error,
    )


def count_by_status(session: Session) -> dict[str, int]:
    """How many deliveries are pending, delivered and dead."""
    rows = session.execute(
        sa.select(col(Delivery.status), sa.func.count(col(Delivery.id))).group_by(col(Delivery.status))
    ).all()
    return {str(status): int(n) for status, n in rows}
