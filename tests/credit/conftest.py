"""Credit test helpers: principals, a fixed clock, and a record walked through its lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from credit.models import Violation
from credit.service import create_violation, decide, notify, publish
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import UTC
from tenderhall.settings import Settings
from tests.factories import credit_code

SUPERVISOR = Principal(user_id=900001, username="sup", role=Role.supervisor, display_name="监管员")
T0 = dt.datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)


def with_credit(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with some credit settings changed (passed down like any settings)."""
    return settings.model_copy(update={"credit": settings.credit.model_copy(update=changes)})


def bidder(code: str) -> Principal:
    return Principal(
        user_id=900002, username="bidder", role=Role.bidder, display_name="投标人", credit_code=code
    )


def new_record(
    s: Session,
    settings: Settings,
    *,
    code: str | None = None,
    type_code: str = "REFUSE_AWARD",
    facts: str | None = None,
    now: dt.datetime = T0,
    **kw: Any,
) -> Violation:
    v, created = create_violation(
        s,
        SUPERVISOR,
        settings,
        subject_kind="company",
        credit_code=code or credit_code(),
        subject_name=kw.pop("name", "闽江建设有限公司"),
        type_code=type_code,
        facts=facts or f"事实 {now.isoformat()} {type_code}",
        now=now,
        **kw,
    )
    assert created
    return v


def upheld(
    s: Session,
    settings: Settings,
    *,
    decided_at: dt.datetime = T0,
    publish_it: bool = False,
    publication_days: int | None = None,
    **kw: Any,
) -> Violation:
    """A record notified 3 days before ``decided_at`` and upheld at ``decided_at``."""
    notified_at = decided_at - dt.timedelta(days=3)
    v = new_record(s, settings, now=notified_at, **kw)
    notify(s, SUPERVISOR, v.id, settings, now=notified_at)  # type: ignore[arg-type]
    decide(
        s,
        SUPERVISOR,
        v.id,
        outcome="upheld",
        reasons="经调查属实",
        decision_number=f"榕公管罚〔2026〕{v.id}号",  # type: ignore[arg-type]
        publication_days=publication_days,
        now=decided_at,
    )
    if publish_it:
        publish(s, SUPERVISOR, v.id, now=decided_at)  # type: ignore[arg-type]
    return v


@pytest.fixture
def sup() -> Principal:
    return SUPERVISOR
