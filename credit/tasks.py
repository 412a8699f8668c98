"""Credit jobs: push due deliveries to external credit platforms, expire publications on time."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session, sessionmaker

from credit.config import CreditConfig
from credit.service.push import push_due, short_transactions
from credit.service.records import expire_due
from tenderhall.auth.principal import SYSTEM
from tenderhall.jobs.outbox import job
from tenderhall.jobs.scheduler_registry import periodic
from tenderhall.settings import get_settings


def units_for(session: Session) -> Callable[[], AbstractContextManager[Session]]:
    """Short transactions for the push worker. On PostgreSQL each claim and result commits on its
    own (no transaction open during HTTP calls). On SQLite the job's transaction already holds the
    single write lock, so everything runs inside it (committed by the job runner at the end)."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":

        @contextlib.contextmanager
        def same() -> Iterator[Session]:
            yield session
            session.flush()

        return same
    engine = bind.engine if hasattr(bind, "engine") else bind
    return short_transactions(sessionmaker(bind=engine, expire_on_commit=False))


@job("credit.push", max_attempts=3)
def push(session: Session) -> None:
    """Send every due delivery (idempotent: deliveries carry their own state)."""
    push_due(units_for(session), get_settings())


@job("credit.notice", queue="cpu")
def notice(session: Session, violation_id: int) -> None:
    """Build and store the disclosure notice PDF of a published record (idempotent)."""
    from credit.models import Violation
    from credit.pdf import ensure_notice

    v = session.get(Violation, violation_id)
    if v is not None and v.published_at is not None:
        ensure_notice(session, get_settings(), v)


@job("credit.expire")
def expire(session: Session) -> None:
    """Take records whose publication period has ended out of public view."""
    expire_due(session, SYSTEM)


periodic("credit.push", every=dt.timedelta(seconds=CreditConfig.push_interval_seconds))
periodic("credit.expire", every=dt.timedelta(seconds=CreditConfig.expire_interval_seconds))
