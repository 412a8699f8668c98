"""What the credit domain puts on the desks (tenderhall/web/desk.py): for a subject (bidder,
agency, expert) its own records in their defence period, on disclosure and its repair
applications; for supervisors the records to notify, the defence periods running, the decisions
due, the repair applications to review and the pushes to other platforms that fail."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.models import Delivery, DeliveryStatus, RepairApplication, RepairStatus, Status, Violation
from credit.service.subjects import subject_keys_of
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.web.desk import DeskItem, add_desk_section, waiting

SUBJECTS = {Role.bidder, Role.agency, Role.expert}
SUPERVISION = {Role.supervisor, Role.admin}


def _count(session: Session, stmt: sa.Select[Any]) -> int:
    return int(session.execute(stmt).scalar_one())


def _records(*where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(Violation).where(*where)


def subject_items(session: Session, principal: Principal) -> list[DeskItem]:
    """The principal's own records: those it may still answer, those the public sees, and its
    repair applications waiting for a decision."""
    keys = subject_keys_of(principal)
    mine = col(Violation.subject_key).in_(keys)
    now = utcnow()
    defence = _count(session, _records(mine, col(Violation.status) == Status.notified,
                                       col(Violation.defence_due_at) > now))  # fmt: skip
    public = _count(session, _records(mine, col(Violation.status) == Status.published))
    repairs = _count(
        session,
        sa.select(sa.func.count())
        .select_from(RepairApplication)
        .join(Violation, col(Violation.id) == col(RepairApplication.violation_id))
        .where(mine, col(RepairApplication.status) == RepairStatus.pending),
    )
    return [
        DeskItem("陈述申辩期内的记录", "Records open for your defence", defence, "/credit/mine",
                 waiting(defence, "danger"), "请在申辩期限内提交陈述申辩",
                 "State your defence before the period ends"),
        DeskItem("正在公示的记录", "Records on public disclosure", public, "/credit/mine", waiting(public)),
        DeskItem("审核中的信用修复申请", "Repair applications under review", repairs, "/credit/mine",
                 waiting(repairs, "info")),
    ]  # fmt: skip


def supervision_items(session: Session, _principal: Principal) -> list[DeskItem]:
    now = utcnow()
    notified = col(Violation.status) == Status.notified
    drafts = _count(session, _records(col(Violation.status) == Status.draft))
    defence = _count(session, _records(notified, col(Violation.defence_due_at) > now))
    due = _count(session, _records(notified, sa.or_(col(Violation.defence_due_at).is_(None),
                                                   col(Violation.defence_due_at) <= now)))  # fmt: skip
    repairs = _count(
        session,
        sa.select(sa.func.count())
        .select_from(RepairApplication)
        .where(col(RepairApplication.status) == RepairStatus.pending),
    )
    return [
        DeskItem("待告知的草稿", "Drafts to notify", drafts, "/credit/manage?status=draft",
                 waiting(drafts, "info")),
        DeskItem("陈述申辩期内的记录", "Records in their defence period", defence,
                 "/credit/manage?status=notified", waiting(defence, "info")),
        DeskItem("申辩期满待决定", "Decisions due (defence period over)", due,
                 "/credit/manage?status=notified", waiting(due)),
        DeskItem("待审核的信用修复申请", "Repair applications to review", repairs, "/credit/manage",
                 waiting(repairs)),
    ]  # fmt: skip


def delivery_items(session: Session, _principal: Principal) -> list[DeskItem]:
    """Pushes to other credit platforms that fail: retrying after a failed attempt, or given up."""
    deliveries = sa.select(sa.func.count()).select_from(Delivery)
    failing = _count(
        session,
        deliveries.where(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.attempts) > 0),
    )
    dead = _count(session, deliveries.where(col(Delivery.status) == DeliveryStatus.dead))
    return [
        DeskItem("推送失败、正在重试", "Pushes failing (retrying)", failing, "/credit/manage/deliveries",
                 waiting(failing)),
        DeskItem("已放弃的推送", "Pushes given up", dead, "/credit/manage/deliveries",
                 waiting(dead, "danger")),
    ]  # fmt: skip


add_desk_section(SUBJECTS, subject_items, key="credit.mine", zh="我的信用", en="My credit", order=50)
add_desk_section(
    {Role.supervisor},
    supervision_items,
    key="credit.supervision",
    zh="信用监管",
    en="Credit records",
    order=20,
)
add_desk_section(
    SUPERVISION, delivery_items, key="credit.deliveries", zh="信用信息推送", en="Credit pushes", order=40
)
