"""Amendments (变更公告): the only way a published tender changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import AppError, InvalidInput, RuleViolation
from tenderhall.jobs.outbox import enqueue
from tenderhall.labels import label
from tenderhall.settings import Settings
from trading import ocds
from trading.models import OPEN_STATES, AmendedField, Amendment, Document, TenderState
from trading.schemas import AMENDABLE_FIELDS
from trading.service import bonds, search_index
from trading.service.checks import RuleCheck
from trading.service.deadlines import deadline_after_change, schedule_close
from trading.service.publication import schedule_announcement
from trading.service.tender_access import get_tender, require_manager
from trading.service.tender_fields import aware
from trading.service.tender_states import check_version, flush_versioned, transition


def _coerce_change(name: str, value: Any) -> Any:
    if name == "bid_deadline_at":
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"投标截止时间格式无效：{value!r}", f"Bad deadline {value!r}") from None
        if not isinstance(value, dt.datetime):
            raise InvalidInput("投标截止时间格式无效", "The deadline must be a date-time")
        return aware(value, "投标截止时间", "The bid deadline")
    if name.endswith("_fen"):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            zh, en = label(name, AmendedField, "zh"), label(name, AmendedField, "en")
            raise InvalidInput(f"{zh}必须为正整数（分）", f"{en} must be a positive integer (fen)")
        return value
    if name == "bond_rule":
        try:
            rule = bonds.parse_rule(value)
        except ValueError:
            raise InvalidInput("保证金免收规则无效", f"Unknown bond waiver rule {value!r}") from None
        return rule.value if rule else ""
    if name == "duration_days":
        if not isinstance(value, int) or value <= 0:
            raise InvalidInput("工期必须为正整数", "The duration must be a positive integer")
        return value
    if not isinstance(value, str):
        zh, en = label(name, AmendedField, "zh"), label(name, AmendedField, "en")
        raise InvalidInput(f"{zh}必须为文本", f"{en} must be text")
    value = value.strip()
    if name == "title" and not value:
        raise InvalidInput("项目名称不能为空", "The title is required")
    return value


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime) else v


def amend_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    reason: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    documents: list[Document] | None = None,
    now: dt.datetime | None = None,
) -> Amendment:
    """Publish an amendment (变更公告): changed fields and/or documents, the deadline moved if the
    cut-off rule requires; bidders who downloaded the documents are notified through a job."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    if tender.state not in OPEN_STATES:
        transition(tender, TenderState.amended, now)  # raises the state rule
    check_version(tender, expected_version)
    check = RuleCheck()
    reason = (reason or "").strip()
    if not reason:
        check.add("reason", "变更须说明理由", "An amendment needs a reason")
    unknown = sorted(set(changes) - set(AMENDABLE_FIELDS))
    if unknown:
        check.add(
            "changes",
            f"以下字段不能变更：{', '.join(unknown)}",
            f"These fields cannot be amended: {', '.join(unknown)}",
        )
    new_values: dict[str, Any] = {}
    for k, v in changes.items():
        if k in unknown:
            continue
        try:
            new_values[k] = _coerce_change(k, v)
        except AppError as exc:
            check.refuse(k, exc)
    diff = {
        k: [_jsonable(getattr(tender, k)), _jsonable(v)]
        for k, v in new_values.items()
        if getattr(tender, k) != v
    }
    if not diff and not documents and not check:
        check.add(
            "changes",
            "变更内容为空：请至少修改一项",
            "The amendment changes nothing: change at least one field",
        )
    budget = new_values.get("budget_fen", tender.budget_fen)
    ceiling = new_values.get("ceiling_price_fen", tender.ceiling_price_fen)
    if ceiling is not None and budget is not None and ceiling > budget:
        check.refuse(
            "ceiling_price_fen",
            RuleViolation(
                "规则：最高投标限价不得高于预算金额", "Rule: the ceiling price may not exceed the budget"
            ),
        )
    decision = bonds.bond_rule(tender.category, tender.government_investment, tender.bond_waived)
    if new_values.get("bid_bond_fen") is not None:
        if decision.overrides_bond:
            check.refuse(
                "bid_bond_fen",
                RuleViolation(
                    f"规则：{decision.explain('zh')}。本项目不收取投标保证金",
                    f"Rule: {decision.explain('en')}. This tender takes no bid bond",
                ),
            )
        elif budget is not None and new_values["bid_bond_fen"] * bonds.BID_BOND_MAX_SHARE > budget:
            check.refuse(
                "bid_bond_fen",
                RuleViolation(
                    "规则：投标保证金不得超过估算价的2%",
                    "Rule: the bid bond may not exceed 2% of the estimated price",
                ),
            )
    check.done()
    before = tender.bid_deadline_at
    after = deadline_after_change(session, settings, tender, new_values.pop("bid_deadline_at", None), now)
    if after != before:
        diff["bid_deadline_at"] = [before.isoformat(), after.isoformat()]
    for k, v in new_values.items():
        setattr(tender, k, v)
    tender.bid_deadline_at = after
    tender.amendment_count += 1
    transition(tender, TenderState.amended, now)
    flush_versioned(session, tender)
    if "title" in diff:
        search_index.index_tender(session, tender)
    amendment = Amendment(
        tender_id=tender.id,  # type: ignore[arg-type]
        number=tender.amendment_count,
        reason=reason,
        changes={
            **diff,
            **({"documents": [f"{d.name} v{d.version}" for d in documents]} if documents else {}),
        },
        deadline_before=before,
        deadline_after=after,
        created_by=actor.audit_name,
        created_at=now,
    )
    session.add(amendment)
    session.flush()
    for d in documents or []:
        d.amendment_id = amendment.id
    session.flush()
    record(
        session,
        actor,
        "trading.tender.amend",
        "tender",
        tender.id,
        f"发布第{amendment.number}号变更公告：{reason}",
        {"amendment_id": amendment.id, "changes": amendment.changes},
    )
    ocds.emit_release(
        session,
        settings,
        tender,
        ["tenderAmendment"],
        f"第{amendment.number}号变更公告",
        f"Amendment no. {amendment.number}",
        now,
    )
    if after != before:
        schedule_close(session, tender)
    schedule_announcement(session, tender)
    enqueue(
        session,
        "trading.notify_bidders",
        dedup_key=f"trading.notify:amendment:{amendment.id}",
        kind="amendment",
        ref_id=amendment.id,
    )
    return amendment
