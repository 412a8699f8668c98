"""The kernel's own desk sections: for admins, the background jobs that fail, the users and the
CA trust store. Domains register theirs in their own ``desk`` modules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Role, User
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.jobs import service as jobs
from tenderhall.pki.models import TrustedCA
from tenderhall.web.desk import DeskItem, add_desk_section, waiting

CA_EXPIRY_WARNING = dt.timedelta(days=30)


def _count(session: Session, stmt: sa.Select[Any]) -> int:
    return int(session.execute(stmt).scalar_one())


def jobs_items(session: Session, _principal: Principal) -> list[DeskItem]:
    counts = jobs.count_by_status(session)
    return [
        DeskItem("失败待重试的任务", "Jobs failing (retrying)", counts["failed"], "/admin/jobs?status=failed",
                 waiting(counts["failed"])),
        DeskItem("已放弃的任务", "Jobs given up", counts["dead"], "/admin/jobs?status=dead",
                 waiting(counts["dead"], "danger")),
    ]  # fmt: skip


def users_items(session: Session, _principal: Principal) -> list[DeskItem]:
    total = sa.select(sa.func.count()).select_from(User)
    active = _count(session, total.where(col(User.is_active).is_(True)))
    disabled = _count(session, total.where(col(User.is_active).is_(False)))
    return [
        DeskItem("在用账号", "Active accounts", active, "/admin/users", "info"),
        DeskItem("已停用账号", "Disabled accounts", disabled, "/admin/users"),
    ]


def trust_store_items(session: Session, _principal: Principal) -> list[DeskItem]:
    now = utcnow()
    cas = sa.select(sa.func.count()).select_from(TrustedCA).where(col(TrustedCA.active).is_(True))
    active = _count(session, cas.where(col(TrustedCA.not_after) > now))
    expiring = _count(
        session,
        cas.where(col(TrustedCA.not_after) > now, col(TrustedCA.not_after) <= now + CA_EXPIRY_WARNING),
    )
    expired = _count(session, cas.where(col(TrustedCA.not_after) <= now))
    return [
        DeskItem("受信任的 CA", "Trusted CAs", active, "/admin/trust-store", "info"),
        DeskItem("30 天内到期的 CA", "CAs expiring within 30 days", expiring, "/admin/trust-store",
                 waiting(expiring)),
        DeskItem("已过期仍启用的 CA", "Expired CAs still enabled", expired, "/admin/trust-store",
                 waiting(expired, "danger")),
    ]  # fmt: skip


add_desk_section({Role.admin}, jobs_items, key="kernel.jobs", zh="后台任务", en="Background jobs", order=10)
add_desk_section({Role.admin}, users_items, key="kernel.users", zh="用户", en="Users", order=20)
add_desk_section(
    {Role.admin}, trust_store_items, key="kernel.trust_store", zh="CA 信任列表", en="CA trust store", order=30
)


def evaluation_placeholder(_session: Session, _principal: Principal) -> list[DeskItem]:
    """No evaluation module yet: the expert's tasks say when they will show, never a made-up count.
    The evaluation module replaces this section by registering its own under the same key."""
    return [
        DeskItem("评标任务", "Evaluation tasks", None,
                 note_zh="评标任务将在评标模块上线后显示",
                 note_en="Evaluation tasks will show once the evaluation module is live"),
    ]  # fmt: skip


add_desk_section(
    {Role.expert}, evaluation_placeholder, key="evaluation.tasks", zh="评标", en="Evaluation", order=10
)
