"""Form fields as the pages send them: amounts in yuan, Beijing-time dates, whole numbers, the
tender form and the amendment form.

A form is read whole: every field it cannot read is recorded in a :class:`RuleCheck` under the
name the service (and the API) uses for it, and the service adds what its rules refuse to the
same check, so the person sees every problem at once. :func:`on_form` turns those names back into
the form's own input names (``budget_fen`` → ``budget_yuan``, ``lots.2.title`` → ``lot_title_2``)
for :func:`~tenderhall.web.forms.form_again`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tenderhall.errors import DB_INT_MAX, AppError, InvalidInput
from tenderhall.web.forms import FieldError, FieldErrors
from tenderhall.web.i18n import SHANGHAI
from trading.schemas import LotFields, TenderFields
from trading.service.checks import RuleCheck
from trading.service.staff_views import MAX_LOT_ROWS

#: The tender form's inputs whose names differ from the service's fields.
TENDER_FORM_NAMES = {
    "budget_fen": "budget_yuan",
    "ceiling_price_fen": "ceiling_yuan",
    "bid_bond_fen": "bid_bond_yuan",
}
#: The amendment form's inputs: prefixed, so that no two forms of the tender page share a name
#: (the form state of a refused one would show in the other).
AMEND_FORM_NAMES = {
    "reason": "amend_reason",
    "title": "amend_title",
    "description": "amend_description",
    "announcement": "amend_announcement",
    "budget_fen": "amend_budget_yuan",
    "ceiling_price_fen": "amend_ceiling_yuan",
    "bid_bond_fen": "amend_bid_bond_yuan",
    "duration_days": "amend_duration_days",
    "bid_deadline_at": "amend_bid_deadline_at",
}


def parse_fen(value: str | None, zh: str, en: str, *, required: bool = False) -> int | None:
    """An amount typed in yuan (``1,200.50``), in fen; raises naming the field."""
    v = (value or "").replace(",", "").replace("，", "").strip()
    if not v:
        if required:
            raise InvalidInput(f"{zh}不能为空", f"{en} is required")
        return None
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise InvalidInput(
            f"{zh}应为金额（元），例如 1200000.00", f"{en} must be an amount in yuan, e.g. 1200000.00"
        ) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{zh}最多两位小数", f"{en} has at most two decimals")
    if amount <= 0:
        raise InvalidInput(f"{zh}必须大于零", f"{en} must be more than zero")
    if amount * 100 > DB_INT_MAX:
        raise InvalidInput(f"{zh}过大", f"{en} is too large")
    return int(amount * 100)


def fen(value: str | None, zh: str, en: str, *, required: bool = False) -> int | None:
    return parse_fen(value, zh, en, required=required)


def local_datetime(value: str | None, zh: str, en: str) -> dt.datetime | None:
    v = (value or "").strip()
    if not v:
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise InvalidInput(
            f"{zh}格式无效，请按“年-月-日 时:分”填写",
            f"{en} is not a date and time (year-month-day hour:minute)",
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)  # forms speak Beijing time
    return t.astimezone(dt.UTC)


def integer(value: str | None, zh: str, en: str) -> int:
    try:
        n = int((value or "").strip())
    except ValueError:
        raise InvalidInput(f"{zh}应为整数", f"{en} must be a whole number") from None
    if abs(n) > DB_INT_MAX:
        raise InvalidInput(f"{zh}过大", f"{en} is too large")
    return n


class _Reader:
    """Reads a form's fields into a check: a field it cannot read gives None and an error."""

    def __init__(self, form: Mapping[str, Any], check: RuleCheck, prefix: str = "") -> None:
        self.form, self.check, self.prefix = form, check, prefix

    def text(self, name: str) -> str:
        """The input ``prefix + name`` (or plain ``name``, as API-like clients post it)."""
        value = self.form.get(self.prefix + name) if self.prefix else None
        return str(value if value is not None else (self.form.get(name) or ""))

    def fen(self, name: str, field: str, zh: str, en: str, *, required: bool = False) -> int | None:
        try:
            return parse_fen(self.text(name), zh, en, required=required)
        except AppError as exc:
            self.check.refuse(field, exc)
            return None

    def integer(self, name: str, field: str, zh: str, en: str, *, required: bool = False) -> int | None:
        if not self.text(name).strip():
            if required:
                self.check.add(field, f"{zh}不能为空", f"{en} is required")
            return None
        try:
            return integer(self.text(name), zh, en)
        except AppError as exc:
            self.check.refuse(field, exc)
            return None

    def when(self, name: str, field: str, zh: str, en: str) -> dt.datetime | None:
        try:
            return local_datetime(self.text(name), zh, en)
        except AppError as exc:
            self.check.refuse(field, exc)
            return None


def tender_fields_from(form: Mapping[str, Any], check: RuleCheck | None = None) -> TenderFields:
    """The tender form's fields; what cannot be read is in ``check`` (pass it on to the service)."""
    check = check if check is not None else RuleCheck()
    r = _Reader(form, check)
    lots: list[LotFields] = []
    for i in range(1, MAX_LOT_ROWS + 1):
        title = r.text(f"lot_title_{i}").strip()
        typed = [r.text(f"lot_{k}_{i}").strip() for k in ("budget", "ceiling")]
        if not title and not any(typed):
            continue
        n = len(lots) + 1  # the lot's number: rows left empty are skipped
        budget = r.fen(
            f"lot_budget_{i}", f"lots.{n}.budget_fen", f"第{n}标段预算", f"Lot {n}'s budget", required=True
        )
        ceiling = r.fen(
            f"lot_ceiling_{i}",
            f"lots.{n}.ceiling_price_fen",
            f"第{n}标段最高限价",
            f"Lot {n}'s ceiling price",
        )
        lots.append(LotFields(title=title, budget_fen=budget, ceiling_price_fen=ceiling))
    tenderee = r.text("tenderee_org_id").strip()
    agency = r.text("agency_org_id").strip()
    return TenderFields(
        title=r.text("title"),
        category=r.text("category"),
        method=r.text("method"),
        budget_fen=r.fen("budget_yuan", "budget_fen", "预算金额", "The budget", required=True),
        ceiling_price_fen=r.fen("ceiling_yuan", "ceiling_price_fen", "最高投标限价", "The ceiling price"),
        duration_days=r.integer("duration_days", "duration_days", "工期", "The duration", required=True),
        evaluation_method=r.text("evaluation_method"),
        bid_deadline_at=r.when("bid_deadline_at", "bid_deadline_at", "投标截止时间", "The bid deadline"),
        tenderee_org_id=int(tenderee) if tenderee.isdigit() else None,
        agency_org_id=int(agency) if agency.isdigit() else None,
        description=r.text("description"),
        announcement=r.text("announcement"),
        government_investment=r.text("government_investment") in ("on", "1", "true"),
        funding_source=r.text("funding_source"),
        region=r.text("region"),
        bid_bond_fen=r.fen("bid_bond_yuan", "bid_bond_fen", "投标保证金", "The bid bond"),
        bond_waived=r.text("bond_waived") in ("on", "1", "true"),
        lots=lots,
    )


def lot_rows(form: Mapping[str, Any]) -> dict[str, str]:
    """``lots.N.*`` → the form row it came from (rows left empty are skipped in the numbering)."""
    names: dict[str, str] = {}
    n = 0
    for i in range(1, MAX_LOT_ROWS + 1):
        if any(str(form.get(f"lot_{k}_{i}") or "").strip() for k in ("title", "budget", "ceiling")):
            n += 1
            names[f"lots.{n}.title"] = f"lot_title_{i}"
            names[f"lots.{n}.budget_fen"] = f"lot_budget_{i}"
            names[f"lots.{n}.ceiling_price_fen"] = f"lot_ceiling_{i}"
    return names


def on_form(exc: AppError, names: Mapping[str, str]) -> AppError:
    """``exc`` with its field names turned into the form's input names."""
    if isinstance(exc, FieldErrors):
        return FieldErrors([FieldError(names.get(e.field, e.field), e.zh, e.en) for e in exc.errors])
    field = exc.extra.get("field")
    if isinstance(field, str) and field in names:
        exc.extra = {**exc.extra, "field": names[field]}
    return exc


def prefixed(form: Mapping[str, Any], name: str, prefix: str) -> str:
    """One input of a prefixed form (or its plain name)."""
    return _Reader(form, RuleCheck(), prefix).text(name)


def version(form: Mapping[str, Any]) -> int | None:
    v = str(form.get("version") or "").strip()
    return int(v) if v.isdigit() else None


def amendment_changes(
    form: Mapping[str, Any], check: RuleCheck | None = None, prefix: str = "amend_"
) -> dict[str, Any]:
    """The fields the amendment form fills in (empty ones change nothing)."""
    check = check if check is not None else RuleCheck()
    r = _Reader(form, check, prefix)
    changes: dict[str, Any] = {}
    for name in ("title", "description", "announcement"):
        if r.text(name).strip():
            changes[name] = r.text(name)
    money_fields = {
        "budget_yuan": ("budget_fen", "预算金额", "The budget"),
        "ceiling_yuan": ("ceiling_price_fen", "最高投标限价", "The ceiling price"),
        "bid_bond_yuan": ("bid_bond_fen", "投标保证金", "The bid bond"),
    }
    for form_name, (field, zh, en) in money_fields.items():
        value = r.fen(form_name, field, zh, en)
        if value is not None:
            changes[field] = value
    days = r.integer("duration_days", "duration_days", "工期", "The duration")
    if days is not None:
        changes["duration_days"] = days
    deadline = r.when("bid_deadline_at", "bid_deadline_at", "投标截止时间", "The bid deadline")
    if deadline is not None:
        changes["bid_deadline_at"] = deadline
    return changes
