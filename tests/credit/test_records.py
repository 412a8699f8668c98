"""The lifecycle of a violation record and its failure cases (issue 3)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from credit.exceptions import (
    BadEvidence,
    DefencePeriodOpen,
    DefencePeriodOver,
    EvidenceNotFound,
    NotPublishable,
    NotYourRecord,
    RepairTooEarly,
    UnknownSubject,
    WrongState,
)
from credit.models import Change, Defence, Delivery, Status, Violation
from credit.service import (
    apply_repair,
    create_violation,
    decide,
    decide_repair,
    expire_due,
    notify,
    publish,
    revoke,
    submit_defence,
)
from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database
from tenderhall.identifiers import InvalidCreditCode, InvalidIdNumber
from tenderhall.keys import secret_box
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import SUPERVISOR, T0, bidder, new_record, upheld, with_credit

DAY = dt.timedelta(days=1)
SEC = dt.timedelta(seconds=1)


def test_full_lifecycle_draft_to_repaired_is_audited_and_fed(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v = new_record(s, settings, code=code)
        assert v.status == Status.draft
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        submit_defence(s, bidder(code), v.id, "我司已按时签约，系对方原因", now=T0 + DAY)
        decide(
            s,
            SUPERVISOR,
            v.id,
            outcome="upheld",
            reasons="申辩不成立",
            decision_number="榕罚〔2026〕1号",
            now=T0 + 3 * DAY,
        )
        publish(s, SUPERVISOR, v.id, now=T0 + 3 * DAY)
        app = apply_repair(
            s,
            bidder(code),
            v.id,
            rectification="已整改",
            commitment="我司承诺守信",
            settings=settings,
            now=T0 + 3 * DAY + 90 * DAY,
        )
        decide_repair(s, SUPERVISOR, app.id, approve=True, reasons="整改到位", now=T0 + 100 * DAY)
        vid = v.id
    with db.unit_of_work() as s:
        v = s.get(Violation, vid)
        assert v is not None
        assert v.status == Status.repaired
        assert v.public_until == T0 + 3 * DAY + 365 * DAY  # general: up to one year by default
        kinds = [
            c.kind
            for c in s.execute(
                sa.select(Change).where(Change.violation_id == vid).order_by(Change.id)
            ).scalars()
        ]
        assert kinds == ["published", "repaired"]
        actions = (
            s.execute(
                sa.select(AuditEvent.action).where(AuditEvent.object_id == str(vid)).order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
        assert actions == [
            "credit.violation.create",
            "credit.violation.notify",
            "credit.violation.defence",
            "credit.violation.decide",
            "credit.violation.publish",
            "credit.repair.apply",
            "credit.repair.approve",
        ]
        assert s.execute(sa.select(sa.func.count()).select_from(Defence)).scalar() == 1


def test_same_facts_recorded_twice_give_one_record(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        a, created_a = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=code,
            subject_name="甲公司",
            type_code="BOND_NOT_REFUNDED",
            facts="逾期 10 天未退还保证金",
        )
        b, created_b = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=code.lower(),
            subject_name="甲公司",
            type_code="BOND_NOT_REFUNDED",
            facts="  逾期 10 天未退还保证金 ",
        )
        assert created_a
        assert not created_b
        assert a.id == b.id
        assert s.execute(sa.select(sa.func.count()).select_from(Violation)).scalar() == 1


def test_invalid_credit_code_is_refused_with_the_check_character(db: Database, settings: Settings) -> None:
    good = factories.credit_code()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with db.unit_of_work() as s, pytest.raises(InvalidCreditCode) as e:
        create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=bad,
            subject_name="乙公司",
            type_code="MINOR_PROCEDURAL",
            facts="x",
        )
    assert e.value.status == 422
    assert "check character" in e.value.en


def test_unknown_subjects_are_404(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        # an unregistered company without a name; an agency that is not registered; a missing expert
        with pytest.raises(UnknownSubject) as e1:
            create_violation(
                s,
                SUPERVISOR,
                settings,
                subject_kind="company",
                credit_code=factories.credit_code(),
                type_code="MINOR_PROCEDURAL",
                facts="x",
            )
        with pytest.raises(UnknownSubject):
            create_violation(
                s,
                SUPERVISOR,
                settings,
                subject_kind="agency",
                credit_code=factories.credit_code(),
                subject_name="代理",
                type_code="MINOR_PROCEDURAL",
                facts="x",
            )
        bidder_user = factories.user(s, Role.bidder)
        with pytest.raises(UnknownSubject) as e3:
            create_violation(
                s,
                SUPERVISOR,
                settings,
                subject_kind="expert",
                user_id=bidder_user.id,
                type_code="MINOR_PROCEDURAL",
                facts="x",
            )
    assert e1.value.status == 404
    assert "give the company's name" in e1.value.en
    assert "no evaluation expert" in e3.value.en


def test_registered_agency_and_expert_are_accepted(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.agency, name="榕城招标代理")
        expert = factories.user(s, Role.expert)
        a, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="agency",
            credit_code=org.credit_code,
            type_code="MINOR_PROCEDURAL",
            facts="代理违规",
        )
        e, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="expert",
            user_id=expert.id,
            type_code="MINOR_PROCEDURAL",
            facts="专家违规",
        )
        assert a.subject_name == "榕城招标代理"
        assert a.organisation_id == org.id
        assert e.subject_key == f"user:{expert.id}"


def test_person_id_number_is_stored_encrypted_and_masked(db: Database, settings: Settings) -> None:
    number = "11010519491231002X"
    with db.unit_of_work() as s:
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="person",
            subject_name="张三",
            id_number=number,
            type_code="MINOR_PROCEDURAL",
            facts="个人违规",
        )
        assert v.subject_id_masked == "1101**********002X"
        assert number not in (v.subject_id_enc or "")
        assert number not in v.subject_key
        assert (
            secret_box(settings).open(v.subject_id_enc or "", "credit.subject.id_number").decode() == number
        )
        with pytest.raises(InvalidIdNumber):
            create_violation(
                s,
                SUPERVISOR,
                settings,
                subject_kind="person",
                subject_name="李四",
                id_number="110105194912310021",
                type_code="MINOR_PROCEDURAL",
                facts="x",
            )


def test_evidence_pointing_nowhere_is_refused(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        org = factories.organisation(s)
        ok = new_record(
            s,
            settings,
            evidence=[{"type": "object", "object_type": "core_organisation", "object_id": str(org.id)}],
        )
        assert ok.evidence[0]["object_id"] == str(org.id)
        with pytest.raises(EvidenceNotFound) as e1:
            new_record(
                s,
                settings,
                evidence=[{"type": "object", "object_type": "core_organisation", "object_id": "999999"}],
            )
        with pytest.raises(BadEvidence) as e2:
            new_record(
                s, settings, evidence=[{"type": "object", "object_type": "no_such_table", "object_id": "1"}]
            )
        with pytest.raises(BadEvidence):
            new_record(
                s,
                settings,
                evidence=[{"type": "object", "object_type": "core_user_session", "object_id": "1"}],
            )
        with pytest.raises(EvidenceNotFound) as e3:
            new_record(s, settings, evidence=[{"type": "file", "sha256": "ab" * 32}])
    assert e1.value.status == 404
    assert "points nowhere" in e1.value.en
    assert e2.value.status == 422
    assert "no uploaded file" in e3.value.en


def test_deciding_before_the_defence_period_ends_is_refused_until_the_exact_second(
    db: Database, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        v = new_record(s, settings)
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        with pytest.raises(DefencePeriodOpen) as e:
            decide(
                s,
                SUPERVISOR,
                v.id,
                outcome="upheld",
                reasons="r",
                decision_number="n",
                now=T0 + 3 * DAY - SEC,
            )
        assert e.value.status == 409
        assert e.value.extra["possible_from"] == (T0 + 3 * DAY).isoformat()
        decide(s, SUPERVISOR, v.id, outcome="upheld", reasons="r", decision_number="n", now=T0 + 3 * DAY)
        assert v.status == Status.decided


def test_the_defence_period_is_as_long_as_the_settings_passed_say(db: Database, settings: Settings) -> None:
    five_days = with_credit(settings, defence_days=5)
    with db.unit_of_work() as s:
        v = new_record(s, five_days)
        notify(s, SUPERVISOR, v.id, five_days, now=T0)  # type: ignore[arg-type]
        assert v.defence_due_at == T0 + 5 * DAY
        with pytest.raises(DefencePeriodOpen):
            decide(s, SUPERVISOR, v.id, outcome="upheld", reasons="r", decision_number="n", now=T0 + 3 * DAY)  # type: ignore[arg-type]
        decide(s, SUPERVISOR, v.id, outcome="upheld", reasons="r", decision_number="n", now=T0 + 5 * DAY)  # type: ignore[arg-type]
        assert v.status == Status.decided


def test_defence_after_the_period_or_by_someone_else_is_refused(db: Database, settings: Settings) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v = new_record(s, settings, code=code)
        with pytest.raises(WrongState):
            submit_defence(s, bidder(code), v.id, "too early: still a draft", now=T0)
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        with pytest.raises(NotYourRecord):
            submit_defence(s, bidder(factories.credit_code()), v.id, "not mine", now=T0 + DAY)
        with pytest.raises(DefencePeriodOver):
            submit_defence(s, bidder(code), v.id, "late", now=T0 + 3 * DAY)


def test_minor_and_dismissed_records_are_never_published(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        minor = upheld(s, settings, type_code="MINOR_PROCEDURAL")
        with pytest.raises(NotPublishable) as e:
            publish(s, SUPERVISOR, minor.id, now=T0)
        assert e.value.status == 409
        assert "Minor" in e.value.en
        v = new_record(s, settings)
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        decide(s, SUPERVISOR, v.id, outcome="dismissed", reasons="证据不足", now=T0 + 3 * DAY)
        with pytest.raises(NotPublishable):
            publish(s, SUPERVISOR, v.id, now=T0 + 3 * DAY)


def test_publication_period_outside_the_catalog_range_is_refused(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        v = new_record(s, settings, type_code="FALSE_MATERIALS")
        notify(s, SUPERVISOR, v.id, settings, now=T0)
        with pytest.raises(Exception) as e:
            decide(
                s,
                SUPERVISOR,
                v.id,
                outcome="upheld",
                reasons="r",
                decision_number="n",
                publication_days=100,
                now=T0 + 3 * DAY,
            )
        assert "between 365 and 1095" in str(e.value)


def test_repair_before_the_minimum_period_says_when_it_becomes_possible(
    db: Database, settings: Settings
) -> None:
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v = upheld(s, settings, code=code, publish_it=True)  # general: minimum 90 days
        possible = T0 + 90 * DAY
        with pytest.raises(RepairTooEarly) as e:
            apply_repair(
                s,
                bidder(code),
                v.id,
                rectification="已整改",
                commitment="承诺",
                settings=settings,
                now=possible - SEC,
            )
        assert e.value.extra["possible_from"] == possible.isoformat()
        assert possible.isoformat() not in e.value.en
        assert "Beijing time" in e.value.en and "UTC" not in e.value.en
        app = apply_repair(
            s, bidder(code), v.id, rectification="已整改", commitment="承诺", settings=settings, now=possible
        )
        decide_repair(s, SUPERVISOR, app.id, approve=False, reasons="整改材料不全", now=possible + DAY)
        assert app.status == "refused"
        assert app.reasons == "整改材料不全"
        assert v.status == Status.published


def test_expiry_takes_records_out_of_public_view_at_the_exact_second(
    db: Database, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        v = upheld(s, settings, publish_it=True, publication_days=90)
        end = T0 + 90 * DAY
        assert v.public_until == end
        assert expire_due(s, SUPERVISOR, now=end - SEC) == 0
        assert v.status == Status.published
        assert expire_due(s, SUPERVISOR, now=end) == 1
        assert v.status == Status.expired
        assert v.expired_at == end
        kinds = (
            s.execute(sa.select(Change.kind).where(Change.violation_id == v.id).order_by(Change.id))
            .scalars()
            .all()
        )
        assert kinds == ["published", "expired"]


def test_revoked_on_appeal_leaves_public_view_with_a_feed_entry(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        v = upheld(s, settings, publish_it=True)
        revoke(s, SUPERVISOR, v.id, reason="行政复议撤销（榕复〔2026〕3号）", now=T0 + DAY)
        assert v.status == Status.revoked
        kinds = (
            s.execute(sa.select(Change.kind).where(Change.violation_id == v.id).order_by(Change.id))
            .scalars()
            .all()
        )
        assert kinds == ["published", "revoked"]
        # no receivers configured: no deliveries
        assert s.execute(sa.select(sa.func.count()).select_from(Delivery)).scalar() == 0
