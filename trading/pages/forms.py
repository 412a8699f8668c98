"""Form fields as the pages send them: amounts in yuan, Beijing-time dates, whole numbers, the
tender form and the amendment form. Each refusal names the field in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from tenderhall.errors import InvalidInput
from tenderhall.web.i18n import SHANGHAI
from trading.schemas import LotFields, TenderFields
from trading.service.staff_views import MAX_LOT_ROWS


def fen(value: str | None, zh: str, en: str, *, required: bool = False) -> int | None:
    v = (value or "").replace(",", "").strip()
    if not v:
        if required:
            raise InvalidInput(f"{zh}不能为空", f"{en} is required")
        return None
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise InvalidInput(f"{zh}应为金额（元）：{v!r}", f"{en} must be an amount in yuan: {v!r}") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{zh}最多两位小数", f"{en} has at most two decimals")
    return int(amount * 100)


def local_datetime(value: str | None, zh: str, en: str) -> dt.datetime | None:
    v = (value or "").strip()
    if not v:
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise InvalidInput(f"{zh}格式无效：{v!r}", f"{en} is not a date and time: {v!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)  # forms speak Beijing time
    return t.astimezone(dt.UTC)


def integer(value: str | None, zh: str, en: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        raise InvalidInput(f"{zh}应为整数", f"{en} must be a whole number") from None


def tender_fields_from(form: dict[str, str]) -> TenderFields:
    deadline = local_datetime(form.get("bid_deadline_at"), "投标截止时间", "The bid deadline")
    if deadline is None:
        raise InvalidInput("投标截止时间不能为空", "The bid deadline is required")
    lots = []
    for i in range(1, MAX_LOT_ROWS + 1):
        title = (form.get(f"lot_title_{i}") or "").strip()
        if title:
            budget = fen(form.get(f"lot_budget_{i}"), f"第{i}标段预算", f"Lot {i}'s budget", required=True)
            lots.append(
                LotFields(
                    title=title,
                    budget_fen=budget or 0,
                    ceiling_price_fen=fen(
                        form.get(f"lot_ceiling_{i}"), f"第{i}标段最高限价", f"Lot {i}'s ceiling price"
                    ),
                )
            )
    tenderee = (form.get("tenderee_org_id") or "").strip()
    agency = (form.get("agency_org_id") or "").strip()
    return TenderFields(
        title=form.get("title", ""),
        category=form.get("category", ""),
        method=form.get("method", ""),
        budget_fen=fen(form.get("budget_yuan"), "预算金额", "The budget", required=True) or 0,
        ceiling_price_fen=fen(form.get("ceiling_yuan"), "最高投标限价", "The ceiling price"),
        duration_days=integer(form.get("duration_days"), "工期", "The duration"),
        evaluation_method=form.get("evaluation_method", ""),
        bid_deadline_at=deadline,
        tenderee_org_id=int(tenderee) if tenderee.isdigit() else None,
        agency_org_id=int(agency) if agency.isdigit() else None,
        description=form.get("description", ""),
        announcement=form.get("announcement", ""),
        government_investment=form.get("government_investment") in ("on", "1", "true"),
        funding_source=form.get("funding_source", ""),
        region=form.get("region", ""),
        bid_bond_fen=fen(form.get("bid_bond_yuan"), "投标保证金", "The bid bond"),
        lots=lots,
    )


def version(form: dict[str, Any]) -> int | None:
    v = str(form.get("version") or "").strip()
    return int(v) if v.isdigit() else None


def amendment_changes(form: dict[str, str]) -> dict[str, Any]:
    """The fields the amendment form fills in (empty ones change nothing)."""
    changes: dict[str, Any] = {}
    for name in ("title", "description", "announcement", "bond_rule"):
        if (form.get(name) or "").strip():
            changes[name] = form[name]
    money_fields = {
        "budget_yuan": ("budget_fen", "预算金额", "The budget"),
        "ceiling_yuan": ("ceiling_price_fen", "最高投标限价", "The ceiling price"),
        "bid_bond_yuan": ("bid_bond_fen", "投标保证金", "The bid bond"),
    }
    for form_name, (field, zh, en) in money_fields.items():
        value = fen(form.get(form_name), zh, en)
        if value is not None:
            changes[field] = value
    if (form.get("duration_days") or "").strip():
        changes["duration_days"] = integer(form.get("duration_days"), "工期", "The duration")
    deadline = local_datetime(form.get("bid_deadline_at"), "投标截止时间", "The bid deadline")
    if deadline is not None:
        changes["bid_deadline_at"] = deadline
    return changes
