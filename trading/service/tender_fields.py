"""The fields of a tender, checked: what a draft may hold and who may name its parties."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.errors import Forbidden, InvalidInput, RuleViolation
from tenderhall.settings import Settings
from trading.exceptions import NoMandate, TendereeFixed
from trading.models import Category, EvaluationMethod, Tender
from trading.schemas import TenderFields
from trading.service.mandates import live_mandate, require_mandate
from trading.service.procedures import parse_method, procedure_settings


def _enum(cls: Any, value: str, zh: str, en: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        options = ", ".join(m.value for m in cls)
        raise InvalidInput(f"{zh}无效：{value!r}", f"Unknown {en} {value!r} (one of: {options})") from None


def _check_money(value: int | None, zh: str, en: str, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidInput(f"{zh}不能为空", f"{en} is required")
        return
    if not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{zh}必须为正的整数（单位：分）", f"{en} must be a positive integer (fen)")


def aware(value: dt.datetime, what_zh: str, what_en: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{what_zh}须带时区", f"{what_en} must carry a time zone")
    return value.astimezone(dt.UTC)


def validate_fields(
    session: Session,
    actor: Principal,
    settings: Settings,
    f: TenderFields,
    *,
    current: Tender | None = None,
) -> dict[str, Any]:
    title = (f.title or "").strip()
    if not title:
        raise InvalidInput("项目名称不能为空", "The title is required")
    if len(title) > 300:
        raise InvalidInput("项目名称不能超过300字", "The title is limited to 300 characters")
    category = _enum(Category, f.category, "项目类别", "category")
    method = parse_method(f.method)
    procedure_settings(session, settings, method)
    evaluation = _enum(EvaluationMethod, f.evaluation_method, "评标办法", "evaluation method")
    _check_money(f.budget_fen, "预算金额", "The budget", required=True)
    _check_money(f.ceiling_price_fen, "最高投标限价", "The ceiling price")
    if f.ceiling_price_fen is not None and f.ceiling_price_fen > f.budget_fen:
        raise RuleViolation(
            "规则：最高投标限价不得高于预算金额", "Rule: the ceiling price may not exceed the budget"
        )
    if f.bid_bond_fen is not None:
        if f.bid_bond_fen < 0:
            raise InvalidInput("投标保证金不能为负", "The bid bond cannot be negative")
        if f.bid_bond_fen * 50 > f.budget_fen:
            raise RuleViolation(
                "规则：投标保证金不得超过估算价的2%",
                "Rule: the bid bond may not exceed 2% of the estimated price",
            )
    if not isinstance(f.duration_days, int) or f.duration_days <= 0:
        raise InvalidInput("工期/服务期必须为正整数（天）", "The duration must be a positive number of days")
    deadline = aware(f.bid_deadline_at, "投标截止时间", "The bid deadline")

    tenderee_id, agency_id = f.tenderee_org_id, f.agency_org_id
    if current is not None:
        # the tenderee of a tender never changes (decision 0141): a draft in the wrong name is
        # cancelled and made again by, or under a mandate from, the right tenderee
        if tenderee_id not in (None, current.tenderee_org_id):
            raise TendereeFixed(
                "规则：招标项目创建后不能更换招标人；如招标人有误，请终止本草稿并由正确的招标人（或受其委托的代理）重新创建",
                "Rule: a tender's tenderee cannot be changed after creation; if it is wrong, cancel this "
                "draft and have the right tenderee (or an agency it mandates) create it again",
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
        raise InvalidInput("请选择招标人", "Choose the tenderee")
    tenderee = session.get(Organisation, tenderee_id)
    if tenderee is None or tenderee.kind != OrgKind.tenderee:
        raise InvalidInput(
            f"招标人单位 {tenderee_id} 不存在或不是招标人", f"Organisation {tenderee_id} is not a tenderee"
        )
    if agency_id is not None:
        agency = session.get(Organisation, agency_id)
        if agency is None or agency.kind != OrgKind.agency:
            raise InvalidInput(
                f"代理单位 {agency_id} 不存在或不是招标代理", f"Organisation {agency_id} is not an agency"
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
            )
    for i, lot in enumerate(f.lots, 1):
        if not (lot.title or "").strip():
            raise InvalidInput(f"第{i}标段名称不能为空", f"Lot {i} needs a title")
        _check_money(lot.budget_fen, f"第{i}标段预算", f"Lot {i}'s budget", required=True)
        _check_money(lot.ceiling_price_fen, f"第{i}标段最高限价", f"Lot {i}'s ceiling price")
    bond_waived = f.bond_waived or (category == Category.works and f.government_investment)
    bond_rule = f.bond_rule.strip() or (
        "政府投资工程免收投标保证金和履约保证金"
        if category == Category.works and f.government_investment
        else ""
    )
    return {
        "title": title,
        "description": f.description or "",
        "announcement": f.announcement or "",
        "category": category,
        "method": method,
        "evaluation_method": evaluation,
        "government_investment": bool(f.government_investment),
        "funding_source": (f.funding_source or "").strip(),
        "region": (f.region or "").strip(),
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
