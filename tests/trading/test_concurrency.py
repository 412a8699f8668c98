"""Two amendments of the same tender at the same moment: one wins, the other gets 409 Conflict."""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from tenderhall.db import Database
from tenderhall.errors import Conflict
from tenderhall.settings import Settings
from tests.trading.conftest import World
from trading.models import Amendment, Tender
from trading.service import amendments


def test_two_simultaneous_amendments_one_wins_the_other_gets_a_conflict(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        seen = s.get(Tender, tid).version  # type: ignore[union-attr]
    second_has_read = threading.Event()
    first_committed = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        session: Session = db.sync_sessions()

        def hold(sess: Session, *_: object) -> None:
            # both sessions have read the same version; wait until the first commits its change
            second_has_read.set()
            first_committed.wait(20)

        event.listen(session, "before_flush", hold, once=True)
        try:
            amendments.amend_tender(
                session,
                world.tenderee,
                settings,
                tid,
                "乙：调整工期",
                {"duration_days": 250},
                expected_version=seen,
            )
            session.commit()
            outcome["second"] = "committed"
        except Conflict as exc:
            session.rollback()
            outcome["second"] = exc
        finally:
            session.close()

    with db.unit_of_work() as first:
        amendments.amend_tender(
            first,
            world.agency,
            settings,
            tid,
            "甲：调整预算",
            {"budget_fen": 990_000_000},
            expected_version=seen,
        )
        t = threading.Thread(target=second)
        t.start()
        if db.dialect == "postgresql":
            # PostgreSQL lets the second transaction read the old row; on SQLite its BEGIN IMMEDIATE
            # waits for our write lock, so it reads only after we commit
            assert second_has_read.wait(20)
    first_committed.set()
    t.join(30)
    assert not t.is_alive()
    assert isinstance(outcome["second"], Conflict), outcome
    assert outcome["second"].status == 409  # type: ignore[union-attr]
    if db.dialect == "postgresql":
        # the version column caught it: UPDATE … WHERE version = seen matched no row
        assert "at the same moment" in outcome["second"].en  # type: ignore[union-attr]
    else:
        assert f"you edited version {seen}" in outcome["second"].en  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        tender = s.get(Tender, tid)
        assert tender is not None
        assert tender.budget_fen == 990_000_000
        assert tender.duration_days == 180
        assert tender.version == seen + 1
        assert s.execute(sa.select(sa.func.count()).select_from(Amendment)).scalar_one() == 1
