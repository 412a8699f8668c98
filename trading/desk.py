"""What the trading domain puts on the desks (tenderhall/web/desk.py): for a tenderee or agency
the tenders it manages (drafts, questions to answer, deadlines today and this week, amendments
lately published); for a bidder the tenders whose documents it downloaded that close today or
soon and its unread notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.web.desk import DeskItem, add_desk_section, waiting
from tenderhall.web.i18n import SHANGHAI
from trading.models import (
    OPEN_STATES,
    Amendment,
    Clarification,
    DocumentDownload,
    Notification,
    Tender,
    TenderState,
)
from trading.service.mandates import managed_tenders_select

SOON = dt.timedelta(days=7)
RECENT = dt.timedelta(days=30)
OPEN = [s.value for s in OPEN_STATES]


def _count(session: Session, stmt: sa.Select[Any]) -> int:
    return int(session.execute(stmt).scalar_one())


def end_of_day(at: dt.datetime) -> dt.datetime:
    """Midnight after ``at`` in Beijing time, as UTC: "today" is the Beijing day."""
    local = at.astimezone(SHANGHAI)
    return (
        dt.datetime(local.year, local.month, local.day, tzinfo=SHANGHAI) + dt.timedelta(days=1)
    ).astimezone(dt.UTC)


def manager_items(session: Session, principal: Principal) -> list[DeskItem]:
    managed = managed_tenders_select(principal)
    if managed is None or managed.whereclause is None:
        return []
    where = managed.whereclause  # the same rows as the staff list the items link to
    now = utcnow()
    tenders = sa.select(sa.func.count()).select_from(Tender).where(where)
    drafts = _count(session, tenders.where(col(Tender.state) == TenderState.draft))
    questions = _count(
        session,
        sa.select(sa.func.count())
        .select_from(Clarification)
        .join(Tender, col(Tender.id) == col(Clarification.tender_id))
        .where(
            where,
            col(Tender.state).in_(OPEN),
            col(Clarification.asked_at).is_not(None),
            col(Clarification.answer).is_(None),
        ),
    )
    closing = tenders.where(col(Tender.state).in_(OPEN), col(Tender.bid_deadline_at) > now)
    today = _count(session, closing.where(col(Tender.bid_deadline_at) < end_of_day(now)))
    week = _count(session, closing.where(col(Tender.bid_deadline_at) < now + SOON))
    amendments = _count(
        session,
        sa.select(sa.func.count())
        .select_from(Amendment)
        .join(Tender, col(Tender.id) == col(Amendment.tender_id))
        .where(where, col(Amendment.created_at) >= now - RECENT),
    )
    return [
        DeskItem("草稿", "Drafts", drafts, "/manage/tenders", waiting(drafts, "info"),
                 "发布前请检查", "To check and publish"),
        DeskItem("待答复的问题", "Questions to answer", questions, "/manage/tenders", waiting(questions)),
        DeskItem("今天截止投标", "Bid deadlines today", today, "/manage/tenders", waiting(today, "danger")),
        DeskItem("7 天内截止投标", "Bid deadlines within 7 days", week, "/manage/tenders", waiting(week)),
        DeskItem("近 30 天发布的变更", "Amendments in the last 30 days", amendments,
                 "/tenders?kind=amendment", waiting(amendments, "info")),
    ]  # fmt: skip


def bidder_items(session: Session, principal: Principal) -> list[DeskItem]:
    org = principal.organisation_id
    if org is None:
        return []
    now = utcnow()
    downloaded = (
        sa.select(col(DocumentDownload.tender_id))
        .where(col(DocumentDownload.organisation_id) == org)
        .distinct()
    )
    closing = (
        sa.select(sa.func.count())
        .select_from(Tender)
        .where(col(Tender.id).in_(downloaded), col(Tender.state).in_(OPEN), col(Tender.bid_deadline_at) > now)
    )
    today = _count(session, closing.where(col(Tender.bid_deadline_at) < end_of_day(now)))
    soon = _count(session, closing.where(col(Tender.bid_deadline_at) < now + SOON))
    unread = _count(
        session,
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(col(Notification.organisation_id) == org, col(Notification.read_at).is_(None)),
    )
    return [
        DeskItem("已下载文件、今天截止投标的项目", "Downloaded tenders closing today", today,
                 "/tenders?status=open&sort=deadline&dir=asc", waiting(today, "danger")),
        DeskItem("已下载文件、7 天内截止的项目", "Downloaded tenders closing within 7 days", soon,
                 "/tenders?status=open&sort=deadline&dir=asc", waiting(soon)),
        DeskItem("未读通知", "Unread notifications", unread, "/my/notifications", waiting(unread, "info")),
    ]  # fmt: skip


add_desk_section(
    {Role.tenderee, Role.agency},
    manager_items,
    key="trading.manage",
    zh="招标项目",
    en="My tenders",
    order=10,
)
add_desk_section({Role.bidder}, bidder_items, key="trading.bidder", zh="投标事务", en="My bids", order=10)
