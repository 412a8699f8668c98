"""Filing a violation record and reading it: the draft, its fingerprint (the same facts recorded
twice are one record), who may read it in full, and the state checks the other steps share.

The record's life: draft → notified (:mod:`credit.service.defence`) → decided, upheld or dismissed
(:mod:`credit.service.decisions`) → published → expired (:mod:`credit.service.publication`),
repaired (:mod:`credit.service.repair`) or revoked on appeal. Every step takes the session first,
changes state in the caller's transaction, audits, and accepts ``now`` so that tests can stand on
exact boundaries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import NotYourRecord, RecordNotFound, WrongState
from credit.models import Status, Violation
from credit.service.catalog import get_type
from credit.service.checks import Checks
from credit.service.evidence import validate_evidence
from credit.service.subjects import owns, resolve_subject, subject_keys_of
from tenderhall.audit.service import record
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import lock_for_update, utcnow
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time


def beijing(t: dt.datetime) -> str:
    """A moment as a Chinese refusal states it: Beijing time, to the second (a deadline's second
    decides whether an act is still possible)."""
    return local_time(t, "%Y-%m-%d %H:%M:%S") + "（北京时间）"


def beijing_en(t: dt.datetime) -> str:
    """The same moment as an English refusal states it (never an ISO or UTC string)."""
    return local_time(t, "%Y-%m-%d %H:%M:%S") + " Beijing time"


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
    now = now or utcnow()
    check = Checks()
    facts = (facts or "").strip()
    if not facts:
        check.add("facts", "请填写违规事实", "The facts of the violation are required")
    resolved = check.attempt(
        "subject_kind",
        lambda: resolve_subject(
            session,
            settings,
            subject_kind,
            credit_code=credit_code,
            name=subject_name,
            user_id=user_id,
            id_number=id_number,
        ),
    )
    vt = check.attempt("type_code", lambda: get_type(session, type_code)) if type_code else None
    if not type_code:
        check.add("type_code", "请选择违规类型", "Choose the type of violation")
    elif vt is not None and not vt.active:
        check.add(
            "type_code",
            f"违规类型“{vt.name_zh}”已停用",
            f"The violation type “{vt.name_en}” is no longer in use",
        )
    links = check.attempt("evidence", lambda: validate_evidence(session, settings, evidence or []))
    check.done()
    assert resolved is not None and vt is not None and links is not None
    fp = fingerprint(resolved.subject.key, vt.code, facts, occurred_at)
    existing = session.execute(
        sa.select(Violation).where(col(Violation.fingerprint) == fp)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
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


def require_state(v: Violation, *states: Status, doing_zh: str, doing_en: str) -> None:
    if v.status not in states:
        allowed = ", ".join(s.value for s in states)
        raise WrongState(
            f"记录 #{v.id} 当前状态为 {v.status!s}，只有处于 {allowed} 状态时才能{doing_zh}",
            f"Record #{v.id} is {v.status!s}; it can be {doing_en} only when {allowed}",
        )


def require_subject(session: Session, actor: Principal, violation_id: int) -> Violation:
    """403 unless ``actor`` is the record's subject: the pages check it before storing a defence's
    or a repair application's file, so a refused submission keeps no bytes."""
    v = get_violation(session, violation_id)
    if not owns(actor, v.subject_key):
        raise NotYourRecord(
            "只有当事人本人可以为该记录提交材料", "Only the subject of the record may submit files for it"
        )
    return v


def visible_to(principal: Principal, v: Violation) -> bool:
    """Who reads a record in full (evidence, defences, repair applications): supervisors and
    admins, and the subject once notified. A published record's public part is read through
    ``credit.service.search`` by everyone; its private parts stay private (decision 0142)."""
    if principal.role in (Role.supervisor, Role.admin):
        return True
    return v.status != Status.draft and owns(principal, v.subject_key)


def get_visible(session: Session, principal: Principal, violation_id: int) -> Violation:
    """The record, if ``principal`` may read it in full (:func:`visible_to`); 404 otherwise, as
    for a record that does not exist."""
    v = get_violation(session, violation_id)
    if not visible_to(principal, v):
        raise RecordNotFound(
            f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
        )
    return v


def list_records(
    session: Session, *, status: str = "", limit: int = 100, subject_q: str = ""
) -> list[Violation]:
    """Records newest first (supervisors), optionally of one status or whose subject's name
    contains ``subject_q`` or whose credit code is ``subject_q``."""
    stmt = sa.select(Violation).order_by(col(Violation.id).desc()).limit(min(max(limit, 1), 500))
    if status:
        if status not in Status.__members__:
            raise InvalidInput(f"未知状态：{status}", f"Unknown status: {status}")
        stmt = stmt.where(col(Violation.status) == status)
    if subject_q:
        stmt = stmt.where(
            sa.or_(
                col(Violation.subject_name).contains(subject_q),
                col(Violation.subject_credit_code) == subject_q.upper(),
            )
        )
    return list(session.execute(stmt).scalars())


def records_of(session: Session, principal: Principal) -> list[Violation]:
    """The records about ``principal`` (its company, or itself as an expert) once notified."""
    keys = subject_keys_of(principal)
    if not keys:
        return []
    return list(
        session.execute(
            sa.select(Violation)
            .where(col(Violation.subject_key).in_(keys), col(Violation.status) != Status.draft)
            .order_by(col(Violation.id).desc())
        ).scalars()
    )
