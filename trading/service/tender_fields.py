"""The fields of a tender, checked: what a draft may hold and who may name its parties."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from tenderhall import labels
from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.errors import AppError, Forbidden, InvalidInput, RuleViolation
from tenderhall.settings import Settings
from trading import regions
from trading.exceptions import NoMandate, TendereeFixed
from trading.models import BondRule, Category, EvaluationMethod, Tender
from trading.schemas import TenderFields
from trading.service import bonds
from trading.service.checks import RuleCheck
from trading.service.mandates import live_mandate, require_mandate
from trading.service.procedures import parse_method, procedure_settings


def _enum(check: RuleCheck, field: str, cls: Any, value: str, zh: str, en: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        if not (value or "").strip():
            check.add(field, f"请选择{zh}", f"Choose the {en}")
        else:
            names_zh = "、".join(labels.label(m, cls, "zh") for m in cls)
            names_en = ", ".join(labels.label(m, cls, "en") for m in cls)
            check.add(
                field,
                f"{zh}无效，请从列表中选择（{names_zh}）",
                f"Choose the {en} from the list ({names_en})",
            )
        return None


def _check_money(
    check: RuleCheck, field: str, value: int | None, zh: str, en: str, *, required: bool = False
) -> bool:
    """True when ``value`` is a usable amount (or an allowed blank)."""
    if check.has(field):
        return False  # the form could not read it: that error is already there
    if value is None:
        if required:
            check.add(field, f"{zh}不能为空", f"{en} is required")
            return False
        return True
    if not isinstance(value, int) or value <= 0:
        check.add(field, f"{zh}必须大于零", f"{en} must be more than zero")
        return False
    return True


def aware(value: dt.datetime, what_zh: str, what_en: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{what_zh}须带时区", f"{what_en} must carry a time zone")
    return value.astimezone(dt.UTC)


def _region(check: RuleCheck, value: str) -> str:
    try:
        region = regions.parse(value)
    except ValueError:
        check.add(
            "region",
            "所填地区不在潜江市的地区列表中，请从列表中选择",
            "That is not one of Qianjiang's regions: choose the region from the list",
        )
        return ""
    return region.value if region else ""


def _money_rules(check: RuleCheck, f: TenderFields, budget_ok: bool) -> None:
    ceiling_ok = _check_money(
        check, "ceiling_price_fen", f.ceiling_price_fen, "最高投标限价", "The ceiling price"
    )
    budget = f.budget_fen or 0
    if budget_ok and ceiling_ok and f.ceiling_price_fen is not None and f.ceiling_price_fen > budget:
        check.refuse(
            "ceiling_price_fen",
            RuleViolation(
                "规则：最高投标限价不得高于预算金额", "Rule: the ceiling price may not exceed the budget"
            ),
        )
    lot_budgets: list[int] = []
    lot_ceilings: list[int | None] = []
    for i, lot in enumerate(f.lots, 1):
        if not check.has(f"lots.{i}.title") and not (lot.title or "").strip():
            check.add(f"lots.{i}.title", f"第{i}标段名称不能为空", f"Lot {i} needs a title")
        b_ok = _check_money(
            check,
            f"lots.{i}.budget_fen",
            lot.budget_fen,
            f"第{i}标段预算",
            f"Lot {i}'s budget",
            required=True,
        )
        c_ok = _check_money(
            check,
            f"lots.{i}.ceiling_price_fen",
            lot.ceiling_price_fen,
            f"第{i}标段最高限价",
            f"Lot {i}'s ceiling price",
        )
        lot_budget = lot.budget_fen or 0
        if b_ok:
            lot_budgets.append(lot_budget)
        if b_ok and c_ok and lot.ceiling_price_fen is not None and lot.ceiling_price_fen > lot_budget:
            check.refuse(
                f"lots.{i}.ceiling_price_fen",
                RuleViolation(
                    f"规则：第{i}标段的最高投标限价不得高于该标段预算",
                    f"Rule: lot {i}'s ceiling price may not exceed the lot's budget",
                ),
            )
        lot_ceilings.append(lot.ceiling_price_fen if c_ok else None)
    # the lots divide the tender (decision 0108): together they stay within its budget and ceiling
    if budget_ok and f.lots and len(lot_budgets) == len(f.lots) and sum(lot_budgets) > budget:
        check.refuse(
            "budget_fen",
            RuleViolation(
                "规则：各标段预算之和不得超过项目预算金额",
                "Rule: the lots' budgets together may not exceed the tender's budget",
            ),
        )
    given = [c for c in lot_ceilings if c is not None]
    if ceiling_ok and f.ceiling_price_fen is not None and given and sum(given) > f.ceiling_price_fen:
        check.refuse(
            "ceiling_price_fen",
            RuleViolation(
                "规则：各标段最高投标限价之和不得超过项目最高投标限价",
                "Rule: the lots' ceiling prices together may not exceed the tender's ceiling price",
            ),
        )


def _bond(check: RuleCheck, f: TenderFields, category: Category | None, budget_ok: bool) -> tuple[bool, str]:
    """(waived, rule code): the waiver rule that applies, refusing a bond it overrides."""
    try:
        asked = bonds.parse_rule(f.bond_rule)
    except ValueError:
        names_zh = "、".join(labels.label(r, BondRule, "zh") for r in BondRule)
        names_en = "; ".join(labels.label(r, BondRule, "en") for r in BondRule)
        check.add(
            "bond_rule",
            f"保证金免收规则无效，可选：{names_zh}",
            f"Unknown bond waiver rule; the rules are: {names_en}",
        )
        asked = None
    decision = bonds.bond_rule(category, bool(f.government_investment), f.bond_waived or asked is not None)
    if check.has("bid_bond_fen"):
        return decision.rule is not None, decision.rule.value if decision.rule else ""
    if f.bid_bond_fen is not None and decision.overrides_bond:
        zh, en = decision.explain("zh"), decision.explain("en")
        check.refuse(
            "bid_bond_fen",
            RuleViolation(
                f"规则：{zh}。本项目不收取投标保证金，请清空投标保证金",
                f"Rule: {en}. This tender takes no bid bond: leave the bid bond empty",
                extra={"rule": decision.rule.value if decision.rule else ""},
            ),
        )
    elif f.bid_bond_fen is not None:
        if f.bid_bond_fen <= 0:
            check.add("bid_bond_fen", "投标保证金必须大于零", "The bid bond must be more than zero")
        elif budget_ok and f.bid_bond_fen * bonds.BID_BOND_MAX_SHARE > (f.budget_fen or 0):
            check.refuse(
                "bid_bond_fen",
                RuleViolation(
                    "规则：投标保证金不得超过估算价的2%",
                    "Rule: the bid bond may not exceed 2% of the estimated price",
                ),
            )
    return decision.rule is not None, decision.rule.value if decision.rule else ""


def validate_fields(
    session: Session,
    actor: Principal,
    settings: Settings,
    f: TenderFields,
    *,
    current: Tender | None = None,
    check: RuleCheck | None = None,
) -> dict[str, Any]:
    """The checked values of ``f``. Every problem with the fields is found before any is raised
    (``check`` may already hold what the form could not read); who may name which party is
    checked after the fields, as its own refusal."""
    check = check or RuleCheck()
    title = (f.title or "").strip()
    if not check.has("title"):
        if not title:
            check.add("title", "项目名称不能为空", "The title is required")
        elif len(title) > 300:
            check.add("title", "项目名称不能超过300字", "The title is limited to 300 characters")
    category = _enum(check, "category", Category, f.category, "项目类别", "category")
    method = None
    try:
        method = parse_method(f.method)
        procedure_settings(session, settings, method)
    except AppError as exc:
        check.refuse("method", exc)
    evaluation = _enum(
        check, "evaluation_method", EvaluationMethod, f.evaluation_method, "评标办法", "evaluation method"
    )
    budget_ok = _check_money(check, "budget_fen", f.budget_fen, "预算金额", "The budget", required=True)
    _money_rules(check, f, budget_ok)
    bond_waived, bond_rule = _bond(check, f, category, budget_ok)
    if not check.has("duration_days") and (not isinstance(f.duration_days, int) or f.duration_days <= 0):
        check.add(
            "duration_days", "工期/服务期必须为正整数（天）", "The duration must be a positive number of days"
        )
    deadline = None
    if not check.has("bid_deadline_at"):
        if f.bid_deadline_at is None:
            check.add("bid_deadline_at", "投标截止时间不能为空", "The bid deadline is required")
        else:
            try:
                deadline = aware(f.bid_deadline_at, "投标截止时间", "The bid deadline")
            except AppError as exc:
                check.refuse("bid_deadline_at", exc)
    region = _region(check, f.region or "")
    check.done()

    tenderee_id, agency_id = _parties(session, actor, f, current)
    return {
        "title": title,
        "description": f.description or "",
        "announcement": f.announcement or "",
        "category": category,
        "method": method,
        "evaluation_method": evaluation,
        "government_investment": bool(f.government_investment),
        "funding_source": (f.funding_source or "").strip(),
        "region": region,
        "tenderee_org_id": tenderee_id,
        "agency_org_id": agency_id,
        "budget_fen": f.budget_fen,
        "ceiling_price_fen": f.ceiling_price_fen,
        "duration_days": f.duration_days,
        "bid_deadline_at": deadline,
        "opening_custodians": list(f.opening_custodians),
        "bid_bond_fen": None if bond_waived else f.bid_bond_fen,
        "bond_waived": bond_waived,
        "bond_rule": bond_rule,
    }


def _parties(
    session: Session, actor: Principal, f: TenderFields, current: Tender | None
) -> tuple[int, int | None]:
    tenderee_id, agency_id = f.tenderee_org_id, f.agency_org_id
    if current is not None:
        # the tenderee of a tender never changes (decision 0141): a draft in the wrong name is
        # cancelled and made again by, or under a mandate from, the right tenderee
        if tenderee_id not in (None, current.tenderee_org_id):
            raise TendereeFixed(
                "规则：招标项目创建后不能更换招标人；如招标人有误，请终止本草稿并由正确的招标人（或受其委托的代理）重新创建",
                "Rule: a tender's tenderee cannot be changed after creation; if it is wrong, cancel this "
                "draft and have the right tenderee (or an agency it mandates) create it again",
                extra={"field": "tenderee_org_id"},
            )
        tenderee_id = current.tenderee_org_id
    if actor.role == Role.tenderee:
        if tenderee_id not in (None, actor.organisation_id):
            raise Forbidden(
                "招标人只能为本单位创建项目", "A tenderee creates tenders for its own organisation only"
            )
        tenderee_id = actor.organisation_id
    elif actor.role == Role.agency:
        if agency_id not in (None, actor.organisation_id):
            raise Forbidden("招标代理只能以本单位名义代理", "An agency acts in its own name only")
        agency_id = actor.organisation_id
    else:
        raise Forbidden("只有招标人或招标代理可以创建招标项目", "Only tenderees and agencies create tenders")
    if tenderee_id is None:
        raise InvalidInput("请选择招标人", "Choose the tenderee", extra={"field": "tenderee_org_id"})
    tenderee = session.get(Organisation, tenderee_id)
    if tenderee is None or tenderee.kind != OrgKind.tenderee:
        raise InvalidInput(
            "所选单位不存在或不是招标人",
            f"Organisation {tenderee_id} is not a tenderee",
            extra={"field": "tenderee_org_id"},
        )
    if agency_id is not None:
        agency = session.get(Organisation, agency_id)
        if agency is None or agency.kind != OrgKind.agency:
            raise InvalidInput(
                "所选单位不存在或不是招标代理",
                f"Organisation {agency_id} is not an agency",
                extra={"field": "agency_org_id"},
            )
        # an agency runs a tender only under a live mandate from its tenderee: the agency itself
        # creating one, or the tenderee naming it (decision 0140)
        covering = current.id if current is not None else None
        if live_mandate(session, tenderee_id, agency_id, covering) is None:
            if actor.role == Role.agency:
                require_mandate(session, agency_id, tenderee_id)
            raise NoMandate(
                f"贵单位尚未委托 {agency.name} 代理招标：请先在“委托代理”页面授予委托",
                f"Your organisation has not given {agency.name} a mandate: grant one on the mandates page",
                extra={"field": "agency_org_id"},
            )
    return tenderee_id, agency_id
