"""Tender lifecycle rules: each transition checks its rule and names it when it refuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.errors import AppError, RuleViolation
from tenderhall.identifiers import InvalidCreditCode
from tenderhall.jobs.models import OutboxJob
from tenderhall.settings import Settings
from tests.trading.conftest import World, tender_fields
from trading.exceptions import (
    ClarificationCutoff,
    DeadlineTooSoon,
    DownloadsHidden,
    NotYourTender,
    PublishedTenderLocked,
    UnknownProcedure,
    WrongState,
)
from trading.models import Amendment, Lot, LotState, Notification, OcdsRelease, Tender, TenderState
from trading.schemas import RegisterBidderIn
from trading.service import (
    amendments,
    clarifications,
    closing,
    documents,
    drafting,
    notifications,
    organisations,
    publication,
    retendering,
)


def test_publishing_stores_a_release_and_schedules_the_close_at_the_deadline(
    db: Database, settings: Settings, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        t = s.get(Tender, tid)
        assert t is not None
        assert t.state == TenderState.published
        assert t.published_at is not None
        rel = s.execute(sa.select(OcdsRelease).where(OcdsRelease.tender_id == tid)).scalar_one()
        assert rel.tags == ["tender"]
        assert rel.data["tender"]["status"] == "active"
        job = s.execute(
            sa.select(OutboxJob).where(OutboxJob.actor_name == "trading.close_tender")
        ).scalar_one()
        assert job.available_at == t.bid_deadline_at
        assert job.args == {"tender_id": tid}
        assert s.execute(
            sa.select(AuditEvent.action).where(
                AuditEvent.object_type == "tender", AuditEvent.object_id == str(tid)
            )
        ).scalars().all() == ["trading.tender.create", "trading.tender.publish"]


def test_a_deadline_too_soon_for_the_procedure_is_refused_naming_the_rule(
    db: Database, make_tender: Callable[..., int]
) -> None:
    with pytest.raises(DeadlineTooSoon) as err:
        make_tender(days=19)
    assert "20" in err.value.zh
    assert "20 days" in err.value.en
    # competitive negotiation needs only 3 days (its own row in the procedure settings table)
    make_tender(days=4, method="competitive_negotiation")


def test_an_unknown_procedure_is_refused(db: Database, make_tender: Callable[..., int]) -> None:
    with pytest.raises(UnknownProcedure) as err:
        make_tender(method="auction")
    assert err.value.status == 422
    assert "Open tender" in err.value.en and "公开招标" in err.value.zh  # it names what may be chosen


def test_editing_a_published_tender_outside_an_amendment_is_refused(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s, pytest.raises(PublishedTenderLocked) as err:
        drafting.update_draft(s, world.agency, settings, tid, tender_fields(world, title="改"))
    assert "amendment" in err.value.en
    assert err.value.status == 409


def test_a_transition_from_the_wrong_state_is_refused_naming_both_states(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s, pytest.raises(WrongState) as err:
        publication.publish_tender(s, world.agency, settings, tid)
    assert "Published" in err.value.en
    assert err.value.extra == {"from": "published", "to": "published"}
    with db.unit_of_work() as s:
        lot = s.execute(sa.select(Lot).where(Lot.tender_id == tid)).scalars().first()
        assert lot is not None
        with pytest.raises(WrongState):
            retendering.mark_lot_failed(s, world.agency, settings, lot.id, "x", valid_bids=0)  # type: ignore[arg-type]
    with db.unit_of_work() as s:
        closing.cancel_tender(s, world.agency, settings, tid, "项目取消")
    with db.unit_of_work() as s, pytest.raises(WrongState):
        closing.cancel_tender(s, world.agency, settings, tid, "again")


def test_only_the_tenders_own_agency_or_tenderee_may_change_it(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s, pytest.raises(NotYourTender):
        closing.cancel_tender(s, world.other_agency, settings, tid, "not mine")
    with db.unit_of_work() as s:
        closing.cancel_tender(s, world.tenderee, settings, tid, "招标人终止")


def test_an_invalid_credit_code_is_refused_at_registration(db: Database) -> None:
    with db.unit_of_work() as s, pytest.raises(InvalidCreditCode) as err:
        organisations.register_bidder(
            s,
            SYSTEM,
            RegisterBidderIn(
                credit_code="91350100M000100Y44", name="某公司", username="x1", display_name="张三"
            ),
        )
    assert "check character" in err.value.en
    # a valid code still needs the company's certificate (tests/trading/test_registration.py)
    with db.unit_of_work() as s, pytest.raises(AppError) as refused:
        organisations.register_bidder(
            s,
            SYSTEM,
            RegisterBidderIn(
                credit_code="91350100M000100Y43", name="某公司", username="x1", display_name="张三"
            ),
        )
    assert refused.value.extra["reason"] == "certificate_proof_required"


def test_a_late_clarification_moves_the_deadline_so_that_fifteen_days_remain(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    t0 = utcnow().replace(microsecond=0)
    tid = make_tender(now=t0, days=25)
    later = t0 + dt.timedelta(days=15)  # 10 days before the deadline
    with db.unit_of_work() as s:
        c = clarifications.issue_clarification(
            s, world.agency, settings, tid, "补充说明：图纸以第2版为准", now=later
        )
        t = s.get(Tender, tid)
        assert t is not None
        assert t.bid_deadline_at >= later + dt.timedelta(days=15)
        assert t.state == TenderState.amended
        assert c.amendment_id is not None
        a = s.get(Amendment, c.amendment_id)
        assert a is not None
        assert a.deadline_after == t.bid_deadline_at


def test_a_late_clarification_with_a_deadline_that_leaves_too_few_days_is_refused(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    t0 = utcnow().replace(microsecond=0)
    tid = make_tender(now=t0, days=25)
    later = t0 + dt.timedelta(days=15)
    with db.unit_of_work() as s:
        old = s.get(Tender, tid).bid_deadline_at  # type: ignore[union-attr]
    for bad in (old, later + dt.timedelta(days=14)):
        with db.unit_of_work() as s, pytest.raises(ClarificationCutoff) as err:
            clarifications.issue_clarification(
                s, world.agency, settings, tid, "说明", new_deadline_at=bad, now=later
            )
        assert "15 days" in err.value.en
        assert err.value.extra["rule"] == "clarification_cutoff_days"


def test_an_early_clarification_keeps_the_deadline(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender(days=30)
    with db.unit_of_work() as s:
        before = s.get(Tender, tid).bid_deadline_at  # type: ignore[union-attr]
        c = clarifications.issue_clarification(s, world.agency, settings, tid, "说明")
        assert c.amendment_id is None
        assert s.get(Tender, tid).bid_deadline_at == before


def test_bidders_who_downloaded_are_notified_once_of_an_amendment(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        t = s.get(Tender, tid)
        from trading.models import Document

        d = Document(tender_id=tid, name="招标文件", filename="a.pdf", sha256="0" * 64, size=1)
        s.add(d)
        s.flush()
        for b in world.bidders[:2]:
            documents.document_for_download(s, b, d.id)  # type: ignore[arg-type]
        documents.document_for_download(s, world.bidders[0], d.id)  # type: ignore[arg-type]
        a = amendments.amend_tender(
            s, world.agency, settings, tid, "调整工期", {"duration_days": 200}, expected_version=t.version
        )  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        jobs = (
            s.execute(sa.select(OutboxJob).where(OutboxJob.actor_name == "trading.notify_bidders"))
            .scalars()
            .all()
        )
        assert [j.args for j in jobs] == [{"kind": "amendment", "ref_id": a.id}]
        assert notifications.notify_bidders(s, "amendment", a.id) == 2  # type: ignore[arg-type]
    with db.unit_of_work() as s:
        assert notifications.notify_bidders(s, "amendment", a.id) == 0  # type: ignore[arg-type]
        rows = s.execute(sa.select(Notification.organisation_id)).scalars().all()
        assert sorted(rows) == sorted(b.organisation_id for b in world.bidders[:2])


def test_the_download_list_is_hidden_from_the_tenderee_until_opening(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        with pytest.raises(DownloadsHidden):
            documents.downloads(s, world.tenderee, tid)
        assert documents.downloads(s, world.supervisor, tid) == []


def test_the_tender_closes_at_its_deadline_once(
    db: Database, settings: Settings, make_tender: Callable[..., int]
) -> None:
    t0 = utcnow()
    tid = make_tender(now=t0, days=21)
    with db.unit_of_work() as s:
        assert closing.close_tender(s, SYSTEM, settings, tid, now=t0 + dt.timedelta(days=20)) is False
        assert (
            closing.close_tender(s, SYSTEM, settings, tid, now=t0 + dt.timedelta(days=21, seconds=1)) is True
        )
        assert closing.close_tender(s, SYSTEM, settings, tid, now=t0 + dt.timedelta(days=22)) is False
        t = s.get(Tender, tid)
        assert t is not None
        assert t.state == TenderState.closed


def test_failed_lots_fail_the_tender_and_offer_a_retender(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    t0 = utcnow()
    tid = make_tender(now=t0, days=21)
    after = t0 + dt.timedelta(days=22)
    with db.unit_of_work() as s:
        closing.close_tender(s, SYSTEM, settings, tid, now=after)
        lots = s.execute(sa.select(Lot).where(Lot.tender_id == tid).order_by(Lot.number)).scalars().all()
        with pytest.raises(RuleViolation) as err:
            retendering.mark_lot_failed(s, world.agency, settings, lots[0].id, "x", valid_bids=3, now=after)  # type: ignore[arg-type]
        assert "3 valid bids" in err.value.en
        retendering.mark_lot_failed(
            s, world.agency, settings, lots[0].id, "有效投标不足3家", valid_bids=2, now=after
        )  # type: ignore[arg-type]
        assert s.get(Tender, tid).state == TenderState.closed  # type: ignore[union-attr]
        retendering.mark_lot_failed(
            s, world.agency, settings, lots[1].id, "无人投标", valid_bids=0, now=after
        )  # type: ignore[arg-type]
        assert s.get(Tender, tid).state == TenderState.failed  # type: ignore[union-attr]
        new = retendering.retender(s, world.agency, settings, tid, now=after)
        assert new.state == TenderState.draft
        assert new.retender_of_id == tid
        assert len(s.execute(sa.select(Lot).where(Lot.tender_id == new.id)).scalars().all()) == 2
        assert all(x.state == LotState.failed and x.retendered_as_id == new.id for x in lots)
        with pytest.raises(RuleViolation):
            retendering.retender(s, world.agency, settings, tid, now=after)
