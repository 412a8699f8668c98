"""The end of the bidding window: closing at the deadline, and cancelling (终止招标)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings
from trading import ocds
from trading.models import OPEN_STATES, LotState, Tender, TenderState
from trading.service.tender_access import get_tender, lots_of, require_manager
from trading.service.tender_states import check_version, flush_versioned, transition


def close_tender(
    session: Session, actor: Principal, settings: Settings, tender_id: int, *, now: dt.datetime | None = None
) -> bool:
    """Close at the deadline (the timed job). Idempotent: False when there is nothing to do
    (already closed, cancelled, or the deadline was moved later)."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    if tender.state not in OPEN_STATES or tender.bid_deadline_at > now:
        return False
    transition(tender, TenderState.closed, now)
    tender.closed_at = now
    flush_versioned(session, tender)
    record(
        session,
        actor,
        "trading.tender.close",
        "tender",
        tender.id,
        f"投标截止：{tender.title}",
        {"deadline": tender.bid_deadline_at.isoformat()},
    )
    ocds.emit_release(session, settings, tender, ["tenderUpdate"], "投标截止", "Bid deadline passed", now)
    return True


def close_due(
    session: Session, actor: Principal, settings: Settings, *, now: dt.datetime | None = None
) -> list[int]:
    """Safety net for the timed close: every open tender whose deadline has passed."""
    now = now or utcnow()
    ids = (
        session.execute(
            sa.select(col(Tender.id)).where(
                col(Tender.state).in_([s.value for s in OPEN_STATES]), col(Tender.bid_deadline_at) <= now
            )  # type: ignore[attr-defined]
        )
        .scalars()
        .all()
    )
    return [i for i in ids if close_tender(session, actor, settings, i, now=now)]  # type: ignore[misc,arg-type]


def cancel_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    reason: str,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    check_version(tender, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "终止招标须说明理由", "Cancelling a tender needs a reason", extra={"field": "reason"}
        )
    was = transition(tender, TenderState.cancelled, now)
    tender.cancelled_at = now
    tender.cancel_reason = reason
    for lot in lots_of(session, tender_id):
        if lot.state == LotState.active:
            lot.state = LotState.cancelled
    flush_versioned(session, tender)
    record(
        session,
        actor,
        "trading.tender.cancel",
        "tender",
        tender.id,
        f"终止招标：{reason}",
        {"from": was.value},
    )
    if was != TenderState.draft:
        ocds.emit_release(
            session,
            settings,
            tender,
            ["tenderCancellation"],
            f"终止招标：{reason}",
            f"Tender cancelled: {reason}",
            now,
        )
    return tender
