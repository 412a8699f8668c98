"""Service results as API schemas (table models never appear in API signatures)."""

from __future__ import annotations

from typing import Any

from credit import schemas as S
from credit.models import Defence, RepairApplication, Violation, ViolationType
from credit.service.deliveries import DeliveryRow
from credit.service.search import PublicRecord
from credit.service.standing import Standing
from credit.service.subjects import ID_PURPOSE
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.keys import secret_box
from tenderhall.settings import Settings

SUPERVISORS = (Role.supervisor, Role.admin)


def public_out(r: PublicRecord) -> S.PublicRecordOut:
    return S.PublicRecordOut(
        id=r.id,
        subject_kind=r.subject_kind,
        subject_name=r.subject_name,
        credit_code=r.credit_code,
        id_number_masked=r.id_number_masked,
        type_code=r.type_code,
        type_name_zh=r.type_name_zh,
        type_name_en=r.type_name_en,
        severity=r.severity,
        points=r.points,
        facts=r.facts,
        decision_number=r.decision_number,
        decision_reasons=r.decision_reasons,
        decided_at=r.decided_at,
        published_at=r.published_at,
        public_until=r.public_until,
        url=f"/credit/records/{r.id}",
    )


def violation_out(
    v: Violation, principal: Principal, settings: Settings, *, created: bool = False
) -> S.ViolationOut:
    id_number = v.subject_id_masked
    if v.subject_id_enc and principal.role in SUPERVISORS:
        id_number = secret_box(settings).open(v.subject_id_enc, ID_PURPOSE).decode()
    return S.ViolationOut(
        id=v.id,  # type: ignore[arg-type]
        status=str(v.status),
        outcome=str(v.outcome) if v.outcome else None,
        subject_kind=str(v.subject_kind),
        subject_key=v.subject_key,
        subject_name=v.subject_name,
        credit_code=v.subject_credit_code,
        user_id=v.subject_user_id,
        id_number=id_number,
        type_code=v.type_code,
        severity=str(v.severity),
        points=v.points,
        facts=v.facts,
        evidence=v.evidence,
        occurred_at=v.occurred_at,
        decision_number=v.decision_number,
        decision_reasons=v.decision_reasons,
        publication_days=v.publication_days,
        notified_at=v.notified_at,
        defence_due_at=v.defence_due_at,
        decided_at=v.decided_at,
        public_until=v.public_until,
        published_at=v.published_at,
        expired_at=v.expired_at,
        repaired_at=v.repaired_at,
        revoked_at=v.revoked_at,
        created_at=v.created_at,
        created=created,
    )


def standing_out(st: Standing) -> S.StandingOut:
    assert st.at is not None
    return S.StandingOut(
        subject_key=st.subject_key,
        tier=st.tier,
        points=st.points,
        blacklisted=st.blacklisted,
        listing_until=st.listing_until,
        explanation_zh=st.explanation_zh,
        explanation_en=st.explanation_en,
        at=st.at,
        records=[S.StandingRecordOut(**r.__dict__) for r in st.records],
    )


def type_out(t: ViolationType) -> S.ViolationTypeOut:
    return S.ViolationTypeOut(
        code=t.code,
        name_zh=t.name_zh,
        name_en=t.name_en,
        severity=str(t.severity),
        points=t.points,
        publish_min_days=t.publish_min_days,
        publish_max_days=t.publish_max_days,
        blacklist_at_once=t.blacklist_at_once,
        active=t.active,
    )


def defence_out(d: Defence) -> S.DefenceOut:
    return S.DefenceOut(
        id=d.id,  # type: ignore[arg-type]
        violation_id=d.violation_id,
        text=d.text,
        file_sha256=d.file_sha256,
        submitted_at=d.submitted_at,
    )


def repair_out(a: RepairApplication) -> S.RepairOut:
    return S.RepairOut(
        id=a.id,  # type: ignore[arg-type]
        violation_id=a.violation_id,
        rectification=a.rectification,
        commitment=a.commitment,
        evidence=a.evidence,
        status=str(a.status),
        reasons=a.reasons,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
    )


def change_out(c: Any) -> S.ChangeOut:
    return S.ChangeOut(
        id=c.id, kind=str(c.kind), violation_id=c.violation_id, occurred_at=c.occurred_at, record=c.payload
    )


def delivery_out(d: DeliveryRow) -> S.DeliveryOut:
    return S.DeliveryOut(**d.__dict__)


def receiver_out(r: Any) -> S.ReceiverOut:
    return S.ReceiverOut(
        id=r.id, name=r.name, url=r.url, events=list(r.events), active=r.active, key_id=r.key_id
    )
