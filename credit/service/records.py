"""Violation records: draft → notified → decided (upheld / dismissed) → published → expired,
repaired or revoked on appeal; defences and credit-repair applications.

Every function takes the session first, changes state in the caller's transaction, audits, and
accepts ``now`` so that tests can stand on exact boundaries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.config import credit_config
from credit.exceptions import (
    DefencePeriodOpen,
    DefencePeriodOver,
    NotPublishable,
    NotYourRecord,
    RecordNotFound,
    RepairTooEarly,
    WrongState,
)
from credit.models import (
    Change,
    ChangeKind,
    Defence,
    Outcome,
    RepairApplication,
    RepairStatus,
    Severity,
    Status,
    Violation,
    pk,
)
from credit.service.catalog import get_type
from credit.service.evidence import validate_evidence
from credit.service.subjects import owns, resolve_subject
from tenderhall.audit.service import record
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow
from tenderhall.errors import Conflict, InvalidInput
from tenderhall.filenames import safe_filename
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time

PUBLIC_STATES = (Status.published,)
CLOSED_STATES = (Status.expired, Status.repaired, Status.revoked)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or utcnow()


def _fmt(t: dt.datetime) -> str:
    return local_time(t, "%Y-%m-%d %H:%M:%S") + " (UTC+8)"


def get_violation(session: Session, violation_id: int, *, for_update: bool = False) -> Violation:
    stmt = sa.select(Violation).where(col(Violation.id) == violation_id)
    if for_update:
        stmt = lock_for_update(stmt, session)
    v = session.execute(stmt).scalar_one_or_none()
    if v is None:
        raise RecordNotFound(
            f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
        )
    return v


def fingerprint(subject_key: str, type_code: str, facts: str, occurred_at: dt.datetime | None) -> str:
    """The same facts recorded twice give the same fingerprint (whitespace and case of the facts
    text do not matter)."""
    norm = " ".join(facts.split()).casefold()
    data = {
        "s": subject_key,
        "t": type_code,
        "f": norm,
        "o": occurred_at.astimezone(dt.UTC).isoformat() if occurred_at else None,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def create_violation(
    session: Session,
    actor: Principal,
    settings: Settings,
    *,
    subject_kind: str,
    type_code: str,
    facts: str,
    credit_code: str | None = None,
    subject_name: str | None = None,
    user_id: int | None = None,
    id_number: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
    occurred_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> tuple[Violation, bool]:
    """Record a violation as a draft. Returns ``(record, created)``: the same facts recorded twice
    (same subject, type, facts and time) return the first record with ``created=False``."""
    now = _now(now)
    facts = (facts or "").strip()
    if not facts:
        raise InvalidInput("请填写违规事实", "The facts of the violation are required")
    resolved = resolve_subject(
        session,
        settings,
        subject_kind,
        credit_code=credit_code,
        name=subject_name,
        user_id=user_id,
        id_number=id_number,
    )
    vt = get_type(session, type_code)
    if not vt.active:
        raise InvalidInput(f"违规类型 {vt.code} 已停用", f"Violation type {vt.code} is no longer in use")
    fp = fingerprint(resolved.subject.key, vt.code, facts, occurred_at)
    existing = session.execute(
        sa.select(Violation).where(col(Violation.fingerprint) == fp)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    links = validate_evidence(session, settings, evidence or [])
    s = resolved.subject
    v = Violation(
        fingerprint=fp,
        subject_kind=s.kind,
        subject_key=s.key,
        subject_name=s.name,
        subject_credit_code=s.credit_code,
        subject_user_id=s.user_id,
        organisation_id=resolved.organisation_id,
        subject_id_enc=resolved.id_enc,
        subject_id_masked=resolved.id_masked,
        type_id=vt.id,  # type: ignore[arg-type]
        type_code=vt.code,
        severity=vt.severity,
        points=vt.points,
        blacklists=vt.blacklist_at_once,
        facts=facts,
        evidence=links,
        occurred_at=occurred_at,
        status=Status.draft,
        created_by=actor.audit_name,
        created_at=now,
        updated_at=now,
    )
    session.add(v)
    try:
        with session.begin_nested():
            session.flush()
    except sa.exc.IntegrityError:
        # the same facts recorded concurrently: the other transaction won
        existing = session.execute(sa.select(Violation).where(col(Violation.fingerprint) == fp)).scalar_one()
        return existing, False
    record(
        session,
        actor,
        "credit.violation.create",
        "credit_violation",
        v.id,
        f"违规记录草稿：{s.name} {vt.code}",
        {"type": vt.code, "subject_kind": str(s.kind), "evidence": len(links)},
    )
    return v, True


def _require(v: Violation, *states: Status, doing_zh: str, doing_en: str) -> None:
    if v.status not in states:
        allowed = ", ".join(s.value for s in states)
        raise WrongState(
            f"记录 #{v.id} 当前状态为 {v.status!s}，只有处于 {allowed} 状态时才能{doing_zh}",
            f"Record #{v.id} is {v.status!s}; it can be {doing_en} only when {allowed}",
        )


def notify(
    session: Session,
    actor: Principal,
    violation_id: int,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
) -> Violation:
    """Tell the subject: it may state its defence until ``defence_due_at`` (settings: 3 days)."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    _require(v, Status.draft, doing_zh="告知当事人", doing_en="notified")
    v.status = Status.notified
    v.notified_at = now
    v.defence_due_at = now + dt.timedelta(days=credit_config(settings).defence_days)
    v.updated_at = now
    session.add(v)
    record(
        session,
        actor,
        "credit.violation.notify",
        "credit_violation",
        v.id,
        f"告知当事人，申辩期至 {v.defence_due_at.isoformat()}",
        {"defence_due_at": v.defence_due_at.isoformat()},
    )
    return v


def require_subject(session: Session, actor: Principal, violation_id: int) -> Violation:
    """403 unless ``actor`` is the record's subject: the pages check it before storing a defence's
    or a repair application's file, so a refused submission keeps no bytes."""
    v = get_violation(session, violation_id)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以为该记录提交材料", "Only the subject of the record may submit files for it"
        )
    return v


def submit_defence(
    session: Session,
    actor: Principal,
    violation_id: int,
    text: str,
    *,
    file_sha256: str | None = None,
    file_name: str | None = None,
    now: dt.datetime | None = None,
) -> Defence:
    """The subject states its defence while the record is notified and the period is open."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以提交申辩", "Only the subject of the record may state a defence"
        )
    _require(v, Status.notified, doing_zh="提交申辩", doing_en="answered with a defence")
    assert v.defence_due_at is not None
    if now >= v.defence_due_at:
        raise DefencePeriodOver(
            f"申辩期已于 {_fmt(v.defence_due_at)} 结束",
            f"The defence period ended at {v.defence_due_at.isoformat()}",
            extra={"defence_due_at": v.defence_due_at.isoformat()},
        )
    text = (text or "").strip()
    if not text:
        raise InvalidInput("申辩内容不能为空", "The defence must say something")
    if file_name:
        file_name = safe_filename(file_name, max_length=200)
    d = Defence(
        violation_id=pk(v),
        submitted_by=actor.audit_name,
        text=text,
        file_sha256=file_sha256,  # type: ignore[arg-type]
        file_name=file_name,
        submitted_at=now,
    )
    session.add(d)
    session.flush()
    record(
        session,
        actor,
        "credit.violation.defence",
        "credit_violation",
        v.id,
        "当事人提交申辩",
        {"defence_id": d.id, "file": file_sha256},
    )
    return d


def decide(
    session: Session,
    actor: Principal,
    violation_id: int,
    *,
    outcome: str,
    reasons: str,
    decision_number: str | None = None,
    publication_days: int | None = None,
    decision_doc_sha256: str | None = None,
    now: dt.datetime | None = None,
) -> Violation:
    """Uphold or dismiss, with reasons, once the defence period has ended."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    _require(v, Status.notified, doing_zh="作出决定", doing_en="decided")
    assert v.defence_due_at is not None
    if now < v.defence_due_at:
        raise DefencePeriodOpen(
            f"申辩期尚未结束：{_fmt(v.defence_due_at)} 之后方可作出决定",
            f"The defence period is still open: a decision is possible from {v.defence_due_at.isoformat()}",
            extra={"possible_from": v.defence_due_at.isoformat()},
        )
    try:
        out = Outcome(outcome)
    except ValueError:
        raise InvalidInput(
            "决定结果应为 upheld（成立）或 dismissed（不成立）", "The outcome must be 'upheld' or 'dismissed'"
        ) from None
    reasons = (reasons or "").strip()
    if not reasons:
        raise InvalidInput("请说明决定理由", "A decision needs its reasons")
    vt = get_type(session, v.type_code)
    if out == Outcome.upheld:
        if not (decision_number or "").strip():
            raise InvalidInput("认定违规须填写决定书文号", "An upheld record needs a decision number")
        if v.severity == Severity.minor:
            days = 0
        else:
            days = vt.publish_max_days if publication_days is None else int(publication_days)
            if not vt.publish_min_days <= days <= vt.publish_max_days:
                raise InvalidInput(
                    f"公示期应在 {vt.publish_min_days} 至 {vt.publish_max_days} 天之间",
                    f"The publication period must be between {vt.publish_min_days} and "
                    f"{vt.publish_max_days} days",
                )
        v.publication_days = days
        v.public_until = now + dt.timedelta(days=days) if days else None
    v.status = Status.decided
    v.outcome = out
    v.decision_reasons = reasons
    v.decision_number = (decision_number or "").strip() or None
    v.decision_doc_sha256 = decision_doc_sha256
    v.decided_at = now
    v.updated_at = now
    session.add(v)
    record(
        session,
        actor,
        "credit.violation.decide",
        "credit_violation",
        v.id,
        f"决定：{out.value} {v.decision_number or ''}",
        {"outcome": out.value, "decision_number": v.decision_number, "publication_days": v.publication_days},
    )
    return v


def publish(
    session: Session, actor: Principal, violation_id: int, *, now: dt.datetime | None = None
) -> Violation:
    """Publish an upheld general or serious record until ``public_until``. Minor records never are."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    _require(v, Status.decided, doing_zh="公示", doing_en="published")
    if v.outcome != Outcome.upheld:
        raise NotPublishable("不成立的记录不予公示", "A dismissed record is never published")
    if v.severity == Severity.minor:
        raise NotPublishable("轻微违规记录不予公示", "Minor violation records are never published")
    assert v.public_until is not None
    if v.public_until <= now:
        raise NotPublishable(
            f"公示期已于 {_fmt(v.public_until)} 届满，不再公示",
            f"The publication period ended at {v.public_until.isoformat()}; the record is not published",
        )
    v.status = Status.published
    v.published_at = now
    v.updated_at = now
    session.add(v)
    _change(session, v, ChangeKind.published, now)
    record(
        session,
        actor,
        "credit.violation.publish",
        "credit_violation",
        v.id,
        "公示失信记录",
        {"public_until": v.public_until.isoformat()},
    )
    return v


def amend(
    session: Session,
    actor: Principal,
    violation_id: int,
    *,
    reason: str,
    facts: str | None = None,
    decision_number: str | None = None,
    now: dt.datetime | None = None,
) -> Violation:
    """Correct a published record (the feed gets a 'changed' entry)."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    _require(v, Status.published, doing_zh="更正", doing_en="corrected")
    if not (reason or "").strip():
        raise InvalidInput("请说明更正理由", "A correction needs its reason")
    before = {"facts": v.facts, "decision_number": v.decision_number}
    if facts and facts.strip():
        v.facts = facts.strip()
    if decision_number and decision_number.strip():
        v.decision_number = decision_number.strip()
    v.updated_at = now
    session.add(v)
    _change(session, v, ChangeKind.changed, now)
    record(
        session,
        actor,
        "credit.violation.amend",
        "credit_violation",
        v.id,
        f"更正：{reason.strip()}",
        {"before": before, "reason": reason.strip()},
    )
    return v


def revoke(
    session: Session, actor: Principal, violation_id: int, *, reason: str, now: dt.datetime | None = None
) -> Violation:
    """Revoke an upheld record on appeal: it stops counting from now, and leaves public view."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    _require(v, Status.decided, Status.published, Status.expired, doing_zh="撤销", doing_en="revoked")
    if v.outcome != Outcome.upheld:
        raise WrongState("不成立的记录无需撤销", "A dismissed record has nothing to revoke")
    if not (reason or "").strip():
        raise InvalidInput("请说明撤销理由（复议或诉讼结果）", "Give the reason (the appeal's outcome)")
    was_public = v.status == Status.published
    v.status = Status.revoked
    v.revoked_at = now
    v.revoke_reason = reason.strip()
    v.updated_at = now
    session.add(v)
    if was_public:
        _change(session, v, ChangeKind.revoked, now)
    record(session, actor, "credit.violation.revoke", "credit_violation", v.id, f"撤销：{reason.strip()}", {})
    return v


def expire_due(
    session: Session, actor: Principal, *, now: dt.datetime | None = None, limit: int = 500
) -> int:
    """Take published records whose period has ended (``public_until <= now``) out of public view;
    they stay archived. Run periodically (job ``credit.expire``)."""
    now = _now(now)
    stmt = (
        sa.select(Violation)
        .where(col(Violation.status) == Status.published, col(Violation.public_until) <= now)
        .order_by(col(Violation.public_until), col(Violation.id))
        .limit(limit)
    )
    rows = list(session.execute(lock_for_update(stmt, session)).scalars())
    for v in rows:
        v.status = Status.expired
        v.expired_at = now
        v.updated_at = now
        session.add(v)
        _change(session, v, ChangeKind.expired, now)
        record(
            session, actor, "credit.violation.expire", "credit_violation", v.id, "公示期届满，撤下公示", {}
        )
    return len(rows)


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
    now: dt.datetime | None = None,
) -> RepairApplication:
    """The subject applies for credit repair after the minimum publication period."""
    now = _now(now)
    v = get_violation(session, violation_id, for_update=True)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以申请信用修复", "Only the subject of the record may apply for repair"
        )
    _require(v, Status.published, doing_zh="申请信用修复", doing_en="repaired")
    start = repair_possible_from(session, v)
    assert start is not None
    if now < start:
        raise RepairTooEarly(
            f"最短公示期未满：{_fmt(start)} 起方可申请信用修复",
            "The minimum publication period has not passed: repair can be requested from "
            f"{start.isoformat()}",
            extra={"possible_from": start.isoformat()},
        )
    if not (rectification or "").strip():
        raise InvalidInput("请说明整改情况", "Describe how the failure was corrected")
    if not (commitment or "").strip():
        raise InvalidInput("请提交信用承诺书", "A public credit commitment is required")
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
    now = _now(now)
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
        raise InvalidInput("不予修复须说明理由", "A refusal must give its reasons")
    v = get_violation(session, app.violation_id, for_update=True)
    app.status = RepairStatus.approved if approve else RepairStatus.refused
    app.reasons = reasons or None
    app.decided_by = actor.audit_name
    app.decided_at = now
    session.add(app)
    if approve:
        _require(v, Status.published, doing_zh="修复", doing_en="repaired")
        v.status = Status.repaired
        v.repaired_at = now
        v.updated_at = now
        session.add(v)
        _change(session, v, ChangeKind.repaired, now)
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


def visible_to(principal: Principal, v: Violation) -> bool:
    """Who reads a record in full (evidence, defences, repair applications): supervisors and
    admins, and the subject once notified. A published record's public part is read through
    ``credit.service.public`` by everyone; its private parts stay private (decision 0142)."""
    if principal.role in (Role.supervisor, Role.admin):
        return True
    return v.status != Status.draft and owns(principal, v.subject_key)


# --- change feed ----------------------------------------------------------------------------------


def public_view(v: Violation, type_names: tuple[str, str] | None = None) -> dict[str, Any]:
    """What the public (feed, API, receivers) may see of a record: no ID numbers, no evidence files."""
    return {
        "id": v.id,
        "status": str(v.status),
        "subject": {
            "kind": str(v.subject_kind),
            "name": v.subject_name,
            "credit_code": v.subject_credit_code,
            "id_number_masked": v.subject_id_masked,
        },
        "type": {
            "code": v.type_code,
            "name_zh": type_names[0] if type_names else None,
            "name_en": type_names[1] if type_names else None,
        },
        "severity": str(v.severity),
        "points": v.points,
        "facts": v.facts,
        "decision_number": v.decision_number,
        "decision_reasons": v.decision_reasons,
        "decided_at": v.decided_at.isoformat() if v.decided_at else None,
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "public_until": v.public_until.isoformat() if v.public_until else None,
        "repaired_at": v.repaired_at.isoformat() if v.repaired_at else None,
        "expired_at": v.expired_at.isoformat() if v.expired_at else None,
        "revoked_at": v.revoked_at.isoformat() if v.revoked_at else None,
    }


def _change(session: Session, v: Violation, kind: ChangeKind, now: dt.datetime) -> Change:
    from credit.service.push import fan_out

    vt = get_type(session, v.type_code)
    c = Change(
        violation_id=pk(v),
        kind=kind,
        subject_key=v.subject_key,
        occurred_at=now,  # type: ignore[arg-type]
        payload=public_view(v, (vt.name_zh, vt.name_en)),
    )
    session.add(c)
    session.flush()
    fan_out(session, c, now=now)
    if kind in (ChangeKind.published, ChangeKind.changed):
        v.notice_pdf_sha256 = None  # the disclosure notice is (re)built after commit
        session.add(v)
        enqueue(session, "credit.notice", dedup_key=f"credit.notice:{c.id}", violation_id=v.id)
    return c
