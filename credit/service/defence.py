"""Telling the subject (告知) and its statement of defence (陈述申辩): once notified, the subject
may state its defence until ``defence_due_at`` (settings: ``credit.defence_days``); no decision is
possible before then."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import DefencePeriodOver, NotYourRecord
from credit.models import Defence, Status, Violation, pk
from credit.service.checks import field_error
from credit.service.subjects import owns
from credit.service.violations import beijing, beijing_en, get_violation, require_state
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import InvalidInput
from tenderhall.filenames import safe_filename
from tenderhall.settings import Settings


def notify(
    session: Session,
    actor: Principal,
    violation_id: int,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
) -> Violation:
    """Tell the subject: it may state its defence until ``defence_due_at`` (settings: 3 days)."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    require_state(v, Status.draft, doing_zh="告知当事人", doing_en="notified")
    v.status = Status.notified
    v.notified_at = now
    v.defence_due_at = now + dt.timedelta(days=settings.credit.defence_days)
    v.updated_at = now
    session.add(v)
    record(
        session,
        actor,
        "credit.violation.notify",
        "credit_violation",
        v.id,
        f"告知当事人，申辩期至 {beijing(v.defence_due_at)}",
        {"defence_due_at": v.defence_due_at.isoformat()},
    )
    return v


def submit_defence(
    session: Session,
    actor: Principal,
    violation_id: int,
    text: str,
    *,
    file_sha256: str | None = None,
    file_name: str | None = None,
    now: dt.datetime | None = None,
) -> Defence:
    """The subject states its defence while the record is notified and the period is open."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以提交申辩", "Only the subject of the record may state a defence"
        )
    require_state(v, Status.notified, doing_zh="提交申辩", doing_en="answered with a defence")
    assert v.defence_due_at is not None
    if now >= v.defence_due_at:
        raise DefencePeriodOver(
            f"申辩期已于 {beijing(v.defence_due_at)} 结束",
            f"The defence period ended at {beijing_en(v.defence_due_at)}",
            extra={"defence_due_at": v.defence_due_at.isoformat()},
        )
    text = (text or "").strip()
    if not text:
        raise field_error(InvalidInput("请填写申辩意见", "Write what your defence is"), "text")
    if file_name:
        file_name = safe_filename(file_name, max_length=200)
    d = Defence(
        violation_id=pk(v),
        submitted_by=actor.audit_name,
        text=text,
        file_sha256=file_sha256,  # type: ignore[arg-type]
        file_name=file_name,
        submitted_at=now,
    )
    session.add(d)
    session.flush()
    record(
        session,
        actor,
        "credit.violation.defence",
        "credit_violation",
        v.id,
        "当事人提交申辩",
        {"defence_id": d.id, "file": file_sha256},
    )
    return d


def list_defences(session: Session, violation_id: int) -> list[Defence]:
    """The defences stated for one record, oldest first."""
    return list(
        session.execute(
            sa.select(Defence).where(col(Defence.violation_id) == violation_id).order_by(col(Defence.id))
        ).scalars()
    )
