"""Deciding a notified record once its defence period has ended (upheld with a decision number
and a publication period, or dismissed), and revoking an upheld record on appeal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from credit.exceptions import DefencePeriodOpen, WrongState
from credit.models import ChangeKind, Outcome, Severity, Status, Violation
from credit.service.catalog import get_type
from credit.service.checks import Checks, field_error
from credit.service.feed import record_change
from credit.service.search_index import refresh_public_names
from credit.service.violations import beijing, beijing_en, get_violation, require_state
from tenderhall import labels
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import InvalidInput


def decide(
    session: Session,
    actor: Principal,
    violation_id: int,
    *,
    outcome: str,
    reasons: str,
    decision_number: str | None = None,
    publication_days: int | str | None = None,
    decision_doc_sha256: str | None = None,
    now: dt.datetime | None = None,
) -> Violation:
    """Uphold or dismiss, with reasons, once the defence period has ended."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    require_state(v, Status.notified, doing_zh="作出决定", doing_en="decided")
    assert v.defence_due_at is not None
    if now < v.defence_due_at:
        raise DefencePeriodOpen(
            f"申辩期尚未结束：{beijing(v.defence_due_at)} 之后方可作出决定",
            f"The defence period is still open: a decision is possible from {beijing_en(v.defence_due_at)}",
            extra={"possible_from": v.defence_due_at.isoformat()},
        )
    check = Checks()
    out: Outcome | None = None
    try:
        out = Outcome(outcome)
    except ValueError:
        check.add("outcome", "请选择决定结果：认定违规或不予认定", "Choose the outcome: upheld or dismissed")
    reasons = (reasons or "").strip()
    if not reasons:
        check.add("reasons", "请说明决定理由", "A decision needs its reasons")
    vt = get_type(session, v.type_code)
    days = 0
    if out == Outcome.upheld:
        if not (decision_number or "").strip():
            check.add(
                "decision_number", "认定违规须填写决定书文号", "An upheld record needs a decision number"
            )
        if v.severity != Severity.minor:
            days = vt.publish_max_days
            text = str(publication_days).strip() if publication_days is not None else ""
            if text and not text.isdigit():
                check.add(
                    "publication_days",
                    "公示期应为整数天数",
                    "The publication period is a whole number of days",
                )
            elif text:
                days = int(text)
                if not vt.publish_min_days <= days <= vt.publish_max_days:
                    check.add(
                        "publication_days",
                        f"公示期应在 {vt.publish_min_days} 至 {vt.publish_max_days} 天之间",
                        f"The publication period must be between {vt.publish_min_days} and "
                        f"{vt.publish_max_days} days",
                    )
    check.done()
    assert out is not None
    if out == Outcome.upheld:
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
        f"决定：{labels.label(out, lang='zh')} {v.decision_number or ''}",
        {"outcome": out.value, "decision_number": v.decision_number, "publication_days": v.publication_days},
    )
    return v


def revoke(
    session: Session, actor: Principal, violation_id: int, *, reason: str, now: dt.datetime | None = None
) -> Violation:
    """Revoke an upheld record on appeal: it stops counting from now, and leaves public view."""
    now = now or utcnow()
    v = get_violation(session, violation_id, for_update=True)
    require_state(v, Status.decided, Status.published, Status.expired, doing_zh="撤销", doing_en="revoked")
    if v.outcome != Outcome.upheld:
        raise WrongState("不成立的记录无需撤销", "A dismissed record has nothing to revoke")
    if not (reason or "").strip():
        raise field_error(
            InvalidInput("请说明撤销理由（复议或诉讼结果）", "Give the reason (the appeal's outcome)"),
            "reason",
        )
    was_public = v.status == Status.published
    v.status = Status.revoked
    v.revoked_at = now
    v.revoke_reason = reason.strip()
    v.updated_at = now
    session.add(v)
    if was_public:
        refresh_public_names(session, [v])
        record_change(session, v, ChangeKind.revoked, now)
    record(session, actor, "credit.violation.revoke", "credit_violation", v.id, f"撤销：{reason.strip()}", {})
    return v
