"""Trading jobs: thin wrappers over the service, idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tenderhall.auth.principal import SYSTEM
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.settings import get_settings
from trading.service import notifications, tenders


@job("trading.close_tender")
def close_tender(session: Session, tender_id: int) -> bool:
    """At the deadline: close the tender (no-op if the deadline moved later or it is closed)."""
    return tenders.close_tender(session, SYSTEM, get_settings(), tender_id)


@job("trading.close_due")
def close_due(session: Session) -> list[int]:
    """Safety net: close every open tender whose deadline has passed."""
    return tenders.close_due(session, SYSTEM, get_settings())


@job("trading.notify_bidders")
def notify_bidders(session: Session, kind: str, ref_id: int) -> int:
    return notifications.notify_bidders(session, kind, ref_id)


@job("trading.render_announcement")
def render_announcement(session: Session, tender_id: int) -> str | None:
    from trading.pdf import store_announcement

    return store_announcement(session, get_settings(), tender_id)


periodic("trading.close_due", every=dt.timedelta(minutes=1))
