"""Publication (公示) of upheld general and serious records until ``public_until``, corrections of
a published record, and expiry when the period has ended (the record stays archived). Each of
these writes a change-feed entry (:mod:`credit.service.feed`)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import NotPublishable
from credit.models import ChangeKind, Outcome, Severity, Status, Violation
from credit.service.checks import Checks
from credit.service.feed import record_change
from credit.service.search_index import refresh_public_names
from credit.service.violations import beijing, beijing_en, get_violation, require_state
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow


def publish(
    session: Session, actor: Principal, violation_id: int, *, now: dt.datetime | None = None
) -> Violation:
    """Publish an upheld general or serious record until ``public_until``. Minor records never are."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    require_state(v, Status.decided, doing_zh="公示", doing_en="published")
    if v.outcome != Outcome.upheld:
        raise NotPublishable("不成立的记录不予公示", "A dismissed record is never published")
    if v.severity == Severity.minor:
        raise NotPublishable("轻微违规记录不予公示", "Minor violation records are never published")
    assert v.public_until is not None
    if v.public_until <= now:
        raise NotPublishable(
            f"公示期已于 {beijing(v.public_until)} 届满，不再公示",
            f"The publication period ended at {beijing_en(v.public_until)}; the record is not published",
        )
    v.status = Status.published
    v.published_at = now
    v.updated_at = now
    session.add(v)
    refresh_public_names(session, [v])
    record_change(session, v, ChangeKind.published, now)
    record(
        session,
        actor,
        "credit.violation.publish",
        "credit_violation",
        v.id,
        "公示失信记录",
        {"public_until": v.public_until.isoformat()},
    )
    return v


def amend(
    session: Session,
    actor: Principal,
    violation_id: int,
    *,
    reason: str,
    facts: str | None = None,
    decision_number: str | None = None,
    now: dt.datetime | None = None,
) -> Violation:
    """Correct a published record (the feed gets a 'changed' entry)."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    require_state(v, Status.published, doing_zh="更正", doing_en="corrected")
    check = Checks()
    if not (reason or "").strip():
        check.add("reason", "请说明更正理由", "A correction needs its reason")
    if not (facts or "").strip() and not (decision_number or "").strip():
        check.add(
            "facts",
            "请填写更正后的事实或文号（至少一项）",
            "Give the corrected facts or decision number (at least one)",
        )
    check.done()
    before = {"facts": v.facts, "decision_number": v.decision_number}
    if facts and facts.strip():
        v.facts = facts.strip()
    if decision_number and decision_number.strip():
        v.decision_number = decision_number.strip()
    v.updated_at = now
    session.add(v)
    record_change(session, v, ChangeKind.changed, now)
    record(
        session,
        actor,
        "credit.violation.amend",
        "credit_violation",
        v.id,
        f"更正：{reason.strip()}",
        {"before": before, "reason": reason.strip()},
    )
    return v


def expire_due(
    session: Session, actor: Principal, *, now: dt.datetime | None = None, limit: int = 500
) -> int:
    """Take published records whose period has ended (``public_until <= now``) out of public view;
    they stay archived. Run periodically (job ``credit.expire``)."""
    now = now or utcnow()
    stmt = (
        sa.select(Violation)
        .where(col(Violation.status) == Status.published, col(Violation.public_until) <= now)
        .order_by(col(Violation.public_until), col(Violation.id))
        .limit(limit)
    )
    rows = list(session.execute(lock_for_update(stmt, session)).scalars())
    for v in rows:
        v.status = Status.expired
        v.expired_at = now
        v.updated_at = now
        session.add(v)
        record_change(session, v, ChangeKind.expired, now)
        record(
            session, actor, "credit.violation.expire", "credit_violation", v.id, "公示期届满，撤下公示", {}
        )
    refresh_public_names(session, rows)
    return len(rows)
