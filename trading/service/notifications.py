"""Notifying bidders of clarifications and amendments.

Recipients: the bidder organisations that downloaded the tender's documents — the 招标文件收受人
to whom 《招标投标法》Art. 23 requires clarifications and changes be sent. Only they can bid (a bid
is prepared from the documents), so notifying every registered company would add noise without
reaching anyone who needs it; others see the change on the public page.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden
from trading.models import Amendment, Clarification, Notification, NotificationKind, Tender
from trading.schemas import NotificationOut
from trading.service.documents import downloader_org_ids


def notify_bidders(session: Session, kind: str, ref_id: int) -> int:
    """Write one notification per recipient; idempotent (returns how many were new)."""
    if kind == "amendment":
        a = session.get(Amendment, ref_id)
        if a is None:
            return 0
        tender_id = a.tender_id
        zh, en = f"第{a.number}号变更公告：{a.reason}", f"Amendment no. {a.number}: {a.reason}"
    elif kind == "clarification":
        c = session.get(Clarification, ref_id)
        if c is None or c.answered_at is None:
            return 0
        tender_id = c.tender_id
        zh, en = "发布了澄清/答疑", "A clarification was published"
    else:
        raise ValueError(f"unknown notification kind {kind!r}")
    tender = session.get(Tender, tender_id)
    assert tender is not None
    already = set(
        session.execute(
            sa.select(col(Notification.organisation_id)).where(
                col(Notification.kind) == kind, col(Notification.ref_id) == ref_id
            )
        ).scalars()
    )
    new = 0
    for org_id in downloader_org_ids(session, tender_id):
        if org_id in already:
            continue
        session.add(
            Notification(
                organisation_id=org_id,
                tender_id=tender_id,
                kind=kind,
                ref_id=ref_id,
                title_zh=f"【{tender.title}】{zh}"[:400],
                title_en=f"[{tender.title}] {en}"[:400],
            )
        )
        new += 1
    session.flush()
    return new


def notifications_for(session: Session, actor: Principal, *, limit: int = 100) -> list[NotificationOut]:
    if actor.organisation_id is None:
        raise Forbidden("此页面仅供投标单位使用", "This page is for bidder organisations")
    from tenderhall.web.i18n import pick

    rows = session.execute(
        sa.select(Notification)
        .where(col(Notification.organisation_id) == actor.organisation_id)
        .order_by(col(Notification.id).desc())
        .limit(limit)  # type: ignore[union-attr]
    ).scalars()
    return [
        NotificationOut(
            id=n.id,  # type: ignore[arg-type]
            tender_id=n.tender_id,
            kind=NotificationKind(n.kind),  # a member, so pages show its label
            title=pick(n.title_zh, n.title_en),  # type: ignore[arg-type]
            created_at=n.created_at,
            read=n.read_at is not None,
        )
        for n in rows
    ]


def mark_all_read(session: Session, actor: Principal) -> int:
    if actor.organisation_id is None:
        return 0
    res = session.execute(
        sa.update(Notification)
        .where(
            col(Notification.organisation_id) == actor.organisation_id, col(Notification.read_at).is_(None)
        )  # type: ignore[union-attr]
        .values(read_at=utcnow())
    )
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
