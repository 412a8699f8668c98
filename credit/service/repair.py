"""Credit repair (信用修复): after the minimum publication period the subject applies with its
rectification and a public commitment; a supervisor approves (publication ends now) or refuses
with reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import NotYourRecord, RecordNotFound, RepairTooEarly, WrongState
from credit.models import ChangeKind, RepairApplication, RepairStatus, Status, Violation, pk
from credit.service.catalog import get_type
from credit.service.checks import Checks, field_error
from credit.service.evidence import validate_evidence
from credit.service.feed import record_change
from credit.service.search_index import refresh_public_names
from credit.service.subjects import owns
from credit.service.violations import beijing, beijing_en, get_violation, require_state
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow
from tenderhall.errors import Conflict, InvalidInput
from tenderhall.settings import Settings


def repair_possible_from(session: Session, v: Violation) -> dt.datetime | None:
    if v.decided_at is None:
        return None
    vt = get_type(session, v.type_code)
    return v.decided_at + dt.timedelta(days=vt.publish_min_days)


def apply_repair(
    session: Session,
    actor: Principal,
    violation_id: int,
    *,
    rectification: str,
    commitment: str,
    evidence: list[dict[str, Any]] | None = None,
    settings: Settings,
    commitment_accepted: bool = True,
    now: dt.datetime | None = None,
) -> RepairApplication:
    """The subject applies for credit repair after the minimum publication period."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以申请信用修复", "Only the subject of the record may apply for repair"
        )
    require_state(v, Status.published, doing_zh="申请信用修复", doing_en="repaired")
    start = repair_possible_from(session, v)
    assert start is not None
    if now < start:
        raise RepairTooEarly(
            f"最短公示期未满：{beijing(start)} 起方可申请信用修复",
            "The minimum publication period has not passed: repair can be requested from "
            f"{beijing_en(start)}",
            extra={"possible_from": start.isoformat()},
        )
    check = Checks()
    if not (rectification or "").strip():
        check.add("rectification", "请说明整改情况", "Describe how the failure was corrected")
    if not (commitment or "").strip():
        check.add("commitment", "请填写信用承诺书", "A public credit commitment is required")
    if not commitment_accepted:
        check.add(
            "commitment_accepted",
            "请勾选，作出公开信用承诺",
            "Tick the box to make the public credit commitment",
        )
    check.done()
    pending = session.execute(
        sa.select(col(RepairApplication.id)).where(
            col(RepairApplication.violation_id) == v.id, col(RepairApplication.status) == RepairStatus.pending
        )
    ).first()
    if pending is not None:
        raise Conflict(
            "已有一份修复申请正在审核", "A repair application for this record is already under review"
        )
    links = validate_evidence(session, settings, evidence or [])
    app = RepairApplication(
        violation_id=pk(v),
        submitted_by=actor.audit_name,
        rectification=rectification.strip(),  # type: ignore[arg-type]
        commitment=commitment.strip(),
        evidence=links,
        submitted_at=now,
    )
    session.add(app)
    session.flush()
    record(
        session, actor, "credit.repair.apply", "credit_violation", v.id, "申请信用修复", {"repair_id": app.id}
    )
    return app


def decide_repair(
    session: Session,
    actor: Principal,
    repair_id: int,
    *,
    approve: bool,
    reasons: str,
    now: dt.datetime | None = None,
) -> RepairApplication:
    """Approve (ends publication now: status repaired) or refuse with reasons."""
    now = now or utcnow()
    app = session.execute(
        lock_for_update(sa.select(RepairApplication).where(col(RepairApplication.id) == repair_id), session)
    ).scalar_one_or_none()
    if app is None:
        raise RecordNotFound(
            f"修复申请 #{repair_id} 不存在", f"Repair application #{repair_id} does not exist"
        )
    if app.status != RepairStatus.pending:
        raise WrongState(
            f"修复申请 #{repair_id} 已处理", f"Repair application #{repair_id} was decided already"
        )
    reasons = (reasons or "").strip()
    if not approve and not reasons:
        raise field_error(InvalidInput("不予修复须说明理由", "A refusal must give its reasons"), "reasons")
    v = get_violation(session, app.violation_id, for_update=True)
    app.status = RepairStatus.approved if approve else RepairStatus.refused
    app.reasons = reasons or None
    app.decided_by = actor.audit_name
    app.decided_at = now
    session.add(app)
    if approve:
        require_state(v, Status.published, doing_zh="修复", doing_en="repaired")
        v.status = Status.repaired
        v.repaired_at = now
        v.updated_at = now
        session.add(v)
        refresh_public_names(session, [v])
        record_change(session, v, ChangeKind.repaired, now)
    record(
        session,
        actor,
        "credit.repair.approve" if approve else "credit.repair.refuse",
        "credit_violation",
        v.id,
        ("准予信用修复" if approve else "不予信用修复：" + reasons),
        {"repair_id": app.id},
    )
    return app


def list_repairs(session: Session, violation_id: int) -> list[RepairApplication]:
    """The repair applications of one record, oldest first."""
    return list(
        session.execute(
            sa.select(RepairApplication)
            .where(col(RepairApplication.violation_id) == violation_id)
            .order_by(col(RepairApplication.id))
        ).scalars()
    )


def violation_of_repair(session: Session, repair_id: int) -> int | None:
    """The record a repair application is about (None when there is no such application)."""
    app = session.get(RepairApplication, repair_id)
    return app.violation_id if app is not None else None
