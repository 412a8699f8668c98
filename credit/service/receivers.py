"""The external credit platforms that receive signed pushes of change-feed events (admins add and
edit them; every edit audited)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound
from credit.models import ChangeKind, Receiver
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.errors import InvalidInput


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
    name = (name or "").strip()
    url = (url or "").strip()
    if not name:
        raise InvalidInput("请填写接收方名称", "A receiver needs a name")
    if not (url.startswith("https://") or url.startswith("http://")):
        raise InvalidInput("接收地址须为 http(s):// 网址", "The receiver URL must be an http(s):// URL")
    kinds = [e.strip() for e in (events or []) if e and e.strip()]
    bad = [e for e in kinds if e not in ChangeKind.__members__]
    if bad:
        raise InvalidInput(f"未知事件类型：{', '.join(bad)}", f"Unknown event kinds: {', '.join(bad)}")
    if receiver_id is not None:
        r = session.get(Receiver, receiver_id)
        if r is None:
            raise RecordNotFound(f"接收方 #{receiver_id} 不存在", f"Receiver #{receiver_id} does not exist")
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
