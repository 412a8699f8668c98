"""The external credit platforms that receive signed pushes of change-feed events (admins add and
edit them; every edit audited)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound
from credit.models import ChangeKind, Receiver
from credit.service.checks import Checks
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal


def save_receiver(
    session: Session,
    actor: Principal,
    *,
    name: str,
    url: str,
    events: list[str] | None = None,
    active: bool = True,
    key_id: str | None = None,
    receiver_id: int | None = None,
) -> Receiver:
    check = Checks()
    name = (name or "").strip()
    url = (url or "").strip()
    if not name:
        check.add("name", "请填写接收方名称", "A receiver needs a name")
    if not (url.startswith("https://") or url.startswith("http://")):
        check.add("url", "接收地址须为 http(s):// 网址", "The receiver URL must be an http(s):// URL")
    kinds = [e.strip() for e in (events or []) if e and e.strip()]
    bad = [e for e in kinds if e not in ChangeKind.__members__]
    if bad:
        check.add("events", "请从列表中选择事件", "Choose the events from the list")
    check.done()
    if receiver_id is not None:
        r = session.get(Receiver, receiver_id)
        if r is None:
            raise RecordNotFound(
                f"接收方 #{receiver_id} 不存在",
                f"Receiver #{receiver_id} does not exist",
                extra={"field": "receiver_id"},
            )
        action = "credit.receiver.update"
    else:
        r = Receiver(name=name, url=url)
        action = "credit.receiver.create"
    r.name, r.url, r.events, r.active, r.key_id = name, url, kinds, active, key_id
    session.add(r)
    session.flush()
    record(
        session,
        actor,
        action,
        "credit_receiver",
        r.id,
        f"{action} {name}",
        {"url": url, "events": kinds, "active": active},
    )
    return r


def list_receivers(session: Session) -> list[Receiver]:
    return list(session.execute(sa.select(Receiver).order_by(col(Receiver.id))).scalars())
