"""The staff lists of credit: records (search, filter by state, severity and type, sort, page)
and deliveries (filter by state, page), read through the kernel's :class:`Listing`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.models import (
    Change,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    Receiver,
    Severity,
    Status,
    Violation,
)
from credit.service.deliveries import DeliveryRow, row_of
from tenderhall.db import contains_pattern
from tenderhall.web.listing import Listing

RECORD_SORTS = ("id", "updated", "subject", "defence_due", "decided")
RECORD_FILTERS = ("status", "severity", "type")
DELIVERY_SORTS = ("id", "next_attempt", "attempts")
DELIVERY_FILTERS = ("state", "receiver")


def record_listing(query: Mapping[str, str]) -> Listing:
    return Listing.from_query(query, sorts=RECORD_SORTS, default="id", desc=True, filters=RECORD_FILTERS)


def records(session: Session, listing: Listing) -> tuple[list[Violation], Listing]:
    """One page of records: ``q`` finds a subject's name, credit code or decision number; an
    unknown filter value filters nothing out (a hand-edited URL never errors)."""
    stmt = sa.select(Violation)
    status = listing.filter("status")
    if status in Status.__members__:
        stmt = stmt.where(col(Violation.status) == status)
    severity = listing.filter("severity")
    if severity in Severity.__members__:
        stmt = stmt.where(col(Violation.severity) == severity)
    if listing.filter("type"):
        stmt = stmt.where(col(Violation.type_code) == listing.filter("type"))
    if listing.q:
        pattern = contains_pattern(listing.q)
        stmt = stmt.where(
            sa.or_(
                col(Violation.subject_name).like(pattern, escape="\\"),
                col(Violation.subject_credit_code) == listing.q.upper(),
                col(Violation.decision_number).like(pattern, escape="\\"),
            )
        )
    columns: dict[str, Any] = {
        "id": col(Violation.id),
        "updated": col(Violation.updated_at),
        "subject": col(Violation.subject_name),
        "defence_due": col(Violation.defence_due_at),
        "decided": col(Violation.decided_at),
    }
    return listing.fetch(session, stmt, columns)


def delivery_listing(query: Mapping[str, str]) -> Listing:
    return Listing.from_query(query, sorts=DELIVERY_SORTS, default="id", desc=True, filters=DELIVERY_FILTERS)


def deliveries(session: Session, listing: Listing) -> tuple[list[DeliveryRow], Listing]:
    """One page of the delivery log, by state as a person reads it (failing: pending after a
    failed attempt) and by receiver; ``q`` finds a record number or a receiver's name."""
    stmt = (
        sa.select(Delivery, col(Receiver.name), col(Change.kind), col(Change.violation_id))
        .join(Receiver, col(Receiver.id) == col(Delivery.receiver_id))
        .join(Change, col(Change.id) == col(Delivery.change_id))
    )
    state = listing.filter("state")
    if state == DeliveryState.failing:
        stmt = stmt.where(
            col(Delivery.status) == DeliveryStatus.pending, col(Delivery.last_error).is_not(None)
        )
    elif state == DeliveryState.waiting:
        stmt = stmt.where(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.last_error).is_(None))
    elif state in (DeliveryState.delivered, DeliveryState.dead):
        stmt = stmt.where(col(Delivery.status) == state)
    if listing.filter("receiver").isdigit():
        stmt = stmt.where(col(Delivery.receiver_id) == int(listing.filter("receiver")))
    if listing.q:
        q = listing.q.lstrip("#")
        cond = col(Receiver.name).like(contains_pattern(listing.q), escape="\\")
        stmt = stmt.where(sa.or_(cond, col(Change.violation_id) == int(q)) if q.isdigit() else cond)
    columns: dict[str, Any] = {
        "id": col(Delivery.id),
        "next_attempt": col(Delivery.next_attempt_at),
        "attempts": col(Delivery.attempts),
    }
    rows, done = listing.fetch(session, cast("sa.Select[Any]", stmt), columns, scalars=False)
    return [row_of(d, name, kind, vid) for d, name, kind, vid in rows], done


def delivery_counts(session: Session) -> dict[str, int]:
    """How many deliveries are in each state as a person reads it."""
    failing = sa.case((col(Delivery.last_error).is_not(None), "failing"), else_="waiting")
    state = sa.case((col(Delivery.status) == DeliveryStatus.pending, failing), else_=col(Delivery.status))
    rows = session.execute(sa.select(state, sa.func.count()).group_by(state)).all()
    return {str(k): int(n) for k, n in rows}
