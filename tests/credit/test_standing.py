"""standing(), may_bid() and may_be_drawn(): scores, tiers and listings at exact boundaries."""

from __future__ import annotations

import datetime as dt

import pytest

from credit.exceptions import Blacklisted
from credit.service import (
    Subject,
    apply_repair,
    create_violation,
    decide,
    decide_repair,
    may_be_drawn,
    may_bid,
    notify,
    revoke,
    standing,
)
from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import SUPERVISOR, T0, bidder, upheld

DAY = dt.timedelta(days=1)
SEC = dt.timedelta(seconds=1)
YEAR = 365 * DAY


def test_a_record_counts_until_exactly_twelve_months_to_the_second(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        upheld(s, settings, code=code, type_code="PERSONNEL_ABSENT", decided_at=T0)  # 3 points
        subj = Subject.company(code)
        assert standing(s, subj, T0 - SEC, settings=settings).points == 0
        at_start = standing(s, subj, T0, settings=settings)
        assert (at_start.points, at_start.tier) == (3, "B")
        last = standing(s, subj, T0 + YEAR - SEC, settings=settings)
        assert (last.points, last.tier) == (3, "B")
        after = standing(s, subj, T0 + YEAR, settings=settings)
        assert (after.points, after.tier, after.blacklisted) == (0, "A", False)
        assert after.records[0].counts is False
        assert after.records[0].counts_until == T0 + YEAR


def test_tiers_follow_the_points_thresholds(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        subj = Subject.company(code)
        assert standing(s, subj, T0, settings=settings).tier == "A"
        upheld(s, settings, code=code, type_code="MINOR_PROCEDURAL", decided_at=T0)  # 1
        assert standing(s, subj, T0, settings=settings).tier == "B"
        upheld(s, settings, code=code, type_code="BOND_NOT_REFUNDED", decided_at=T0 + DAY)  # 4
        assert standing(s, subj, T0 + DAY, settings=settings).tier == "B"
        upheld(s, settings, code=code, type_code="PERSONNEL_ABSENT", decided_at=T0 + 2 * DAY)  # 7
        st = standing(s, subj, T0 + 2 * DAY, settings=settings)
        assert (st.points, st.tier, st.blacklisted) == (7, "C", False)
        upheld(s, settings, code=code, type_code="REFUSE_AWARD", decided_at=T0 + 3 * DAY)  # 13 -> D
        st = standing(s, subj, T0 + 3 * DAY, settings=settings)
        assert (st.points, st.tier, st.blacklisted) == (13, "D", True)
        # points fall below 12 when the first record (1 point) leaves the window: 12 still D; then
        # the 3-point one leaves at T0 + 1 day + 1 year
        assert st.listing_until == T0 + DAY + YEAR
        assert standing(s, subj, T0 + DAY + YEAR - SEC, settings=settings).tier == "D"
        assert standing(s, subj, T0 + DAY + YEAR, settings=settings).tier == "C"
        assert "13" in st.explanation_zh
        assert "13 points" in st.explanation_en


def test_a_serious_record_blacklists_until_its_listing_ends(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        upheld(s, settings, code=code, type_code="BID_RIGGING", decided_at=T0, publication_days=730)
        end = T0 + 730 * DAY
        st = standing(s, Subject.company(code), T0, settings=settings)
        assert st.blacklisted
        assert st.listing_until == end
        # points leave the window after a year, the listing holds until its end, to the second
        mid = standing(s, Subject.company(code), T0 + YEAR + DAY, settings=settings)
        assert (mid.points, mid.tier) == (0, "D")
        assert standing(s, Subject.company(code), end - SEC, settings=settings).blacklisted
        assert not standing(s, Subject.company(code), end, settings=settings).blacklisted
        refused = may_bid(s, code, T0 + DAY, settings=settings)
        assert not refused.allowed
        assert "may not bid" in refused.reason_en
        with pytest.raises(Blacklisted) as e:
            refused.raise_if_refused()
        assert e.value.status == 403
        assert e.value.extra["listing_until"] == end.isoformat()
        assert may_bid(s, code, end, settings=settings).allowed


def test_repair_and_revocation_end_a_listing_at_that_moment(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v = upheld(s, settings, code=code, type_code="FALSE_MATERIALS", decided_at=T0, publish_it=True)
        app = apply_repair(
            s,
            bidder(code),
            v.id,
            rectification="已整改",
            commitment="承诺守信",
            settings=settings,
            now=T0 + YEAR,
        )
        repaired_at = T0 + YEAR + 5 * DAY
        decide_repair(s, SUPERVISOR, app.id, approve=True, reasons="同意", now=repaired_at)
        assert standing(s, Subject.company(code), repaired_at - SEC, settings=settings).blacklisted
        assert not standing(s, Subject.company(code), repaired_at, settings=settings).blacklisted
        other = factories.credit_code()
        w = upheld(s, settings, code=other, type_code="BID_RIGGING", decided_at=T0)
        revoke(s, SUPERVISOR, w.id, reason="复议撤销", now=T0 + 10 * DAY)
        assert standing(s, Subject.company(other), T0 + 10 * DAY - SEC, settings=settings).blacklisted
        assert standing(s, Subject.company(other), T0 + 10 * DAY, settings=settings).tier == "A"


def test_dismissed_and_undecided_records_do_not_count(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=code,
            subject_name="丙",
            type_code="BID_RIGGING",
            facts="涉嫌串标",
        )
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        assert standing(s, Subject.company(code), T0 + DAY, settings=settings).tier == "A"
        decide(s, SUPERVISOR, v.id, outcome="dismissed", reasons="证据不足", now=T0 + 3 * DAY)
        assert standing(s, Subject.company(code), T0 + 4 * DAY, settings=settings).tier == "A"


def test_a_blacklisted_expert_may_not_be_drawn(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        expert = factories.user(s, Role.expert)
        other = factories.user(s, Role.expert)
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="expert",
            user_id=expert.id,
            type_code="BID_RIGGING",
            facts="评标中收受好处",
            now=T0,
        )
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        decide(
            s,
            SUPERVISOR,
            v.id,
            outcome="upheld",
            reasons="属实",
            decision_number="榕罚〔2026〕9号",
            now=T0 + 3 * DAY,
        )
        answer = may_be_drawn(s, expert.id, T0 + 4 * DAY, settings=settings)
        assert not answer.allowed
        assert "may not be drawn" in answer.reason_en
        assert may_be_drawn(s, other.id, T0 + 4 * DAY, settings=settings).allowed
