"""Publishing a tender (招标公告): the deadline rule, the public release, the close and the PDF scheduled."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import RuleViolation
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from trading import ocds
from trading.models import Tender, TenderState
from trading.opening.publication import schedule_opening_keys
from trading.service import search_index
from trading.service.deadlines import min_deadline_rule, schedule_close
from trading.service.tender_access import get_tender, lots_of, require_manager
from trading.service.tender_states import check_version, flush_versioned, transition


def schedule_announcement(session: Session, tender: Tender) -> None:
    """Render the 招标公告 PDF after commit (CPU work stays out of the request)."""
    enqueue(
        session,
        "trading.render_announcement",
        dedup_key=f"trading.announce:{tender.id}:{tender.amendment_count}",
        tender_id=tender.id,
    )


def publish_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    check_version(tender, expected_version)
    if tender.state != TenderState.draft:
        transition(tender, TenderState.published, now)  # raises the state rule
    min_deadline_rule(session, settings, tender, tender.bid_deadline_at, now)
    lots = lots_of(session, tender_id)
    if not lots:
        raise RuleViolation("规则：招标项目至少需要一个标段", "Rule: a tender needs at least one lot")
    schedule_opening_keys(session, settings, tender, lots)  # 409 custodians_missing, nothing stored
    transition(tender, TenderState.published, now)
    tender.published_at = now
    flush_versioned(session, tender)
    search_index.index_tender(session, tender)
    record(
        session,
        actor,
        "trading.tender.publish",
        "tender",
        tender.id,
        f"发布招标公告：{tender.title}",
        {"deadline": tender.bid_deadline_at.isoformat()},
    )
    ocds.emit_release(
        session,
        settings,
        tender,
        ["tender"],
        f"发布招标公告：{tender.title}",
        f"Tender notice published: {tender.title}",
        now,
    )
    schedule_close(session, tender)
    schedule_announcement(session, tender)
    return tender
