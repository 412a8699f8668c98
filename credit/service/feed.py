"""The public change feed: one entry each time a record's public view changes (published,
changed, repaired, expired, revoked), carrying that view; each entry fans out to the push
receivers and, on publication or correction, has the disclosure notice rebuilt after commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.models import Change, ChangeKind, Violation, pk
from credit.service.catalog import get_type
from credit.service.push import fan_out
from tenderhall.jobs.outbox import enqueue


def public_view(v: Violation, type_names: tuple[str, str] | None = None) -> dict[str, Any]:
    """What the public (feed, API, receivers) may see of a record: no ID numbers, no evidence files."""
    return {
        "id": v.id,
        "status": str(v.status),
        "subject": {
            "kind": str(v.subject_kind),
            "name": v.subject_name,
            "credit_code": v.subject_credit_code,
            "id_number_masked": v.subject_id_masked,
        },
        "type": {
            "code": v.type_code,
            "name_zh": type_names[0] if type_names else None,
            "name_en": type_names[1] if type_names else None,
        },
        "severity": str(v.severity),
        "points": v.points,
        "facts": v.facts,
        "decision_number": v.decision_number,
        "decision_reasons": v.decision_reasons,
        "decided_at": v.decided_at.isoformat() if v.decided_at else None,
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "public_until": v.public_until.isoformat() if v.public_until else None,
        "repaired_at": v.repaired_at.isoformat() if v.repaired_at else None,
        "expired_at": v.expired_at.isoformat() if v.expired_at else None,
        "revoked_at": v.revoked_at.isoformat() if v.revoked_at else None,
    }


def record_change(session: Session, v: Violation, kind: ChangeKind, now: dt.datetime) -> Change:
    """Write the feed entry of ``v``'s new public view (same transaction) and its deliveries."""

    vt = get_type(session, v.type_code)
    c = Change(
        violation_id=pk(v),
        kind=kind,
        subject_key=v.subject_key,
        occurred_at=now,  # type: ignore[arg-type]
        payload=public_view(v, (vt.name_zh, vt.name_en)),
    )
    session.add(c)
    session.flush()
    fan_out(session, c, now=now)
    if kind in (ChangeKind.published, ChangeKind.changed):
        v.notice_pdf_sha256 = None  # the disclosure notice is (re)built after commit
        session.add(v)
        enqueue(session, "credit.notice", dedup_key=f"credit.notice:{c.id}", violation_id=v.id)
    return c


def changes(session: Session, *, after: int = 0, limit: int = 100) -> tuple[list[Change], int]:
    """Feed entries with id > ``after`` (oldest first) and the cursor to continue from."""
    limit = max(1, min(limit, 500))
    rows = list(
        session.execute(
            sa.select(Change).where(col(Change.id) > after).order_by(col(Change.id)).limit(limit)
        ).scalars()
    )
    return rows, (rows[-1].id if rows else after)  # type: ignore[return-value]


def latest_changes(session: Session, limit: int = 50) -> list[Change]:
    return list(session.execute(sa.select(Change).order_by(col(Change.id).desc()).limit(limit)).scalars())


def changes_of(session: Session, violation_id: int) -> list[Change]:
    """The feed entries of one record, oldest first."""
    return list(
        session.execute(
            sa.select(Change).where(col(Change.violation_id) == violation_id).order_by(col(Change.id))
        ).scalars()
    )
