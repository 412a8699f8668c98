"""What the tender form shows besides its fields: the choices in the reader's language and the
bid bond's waiver rule, worked out on the server from the values in the form (decision 0107)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenderhall import labels
from tenderhall.web.i18n import pick
from trading import regions
from trading.models import BondRule, Category, EvaluationMethod, Method
from trading.service import bonds

#: The tender form's inputs (an error naming anything else is shown at the top of the form).
TENDER_INPUTS = {
    "title",
    "category",
    "method",
    "evaluation_method",
    "tenderee_org_id",
    "agency_org_id",
    "region",
    "duration_days",
    "bid_deadline_at",
    "government_investment",
    "funding_source",
    "budget_yuan",
    "ceiling_yuan",
    "bid_bond_yuan",
    "bond_waived",
    "description",
    "announcement",
    *{f"lot_{k}_{i}" for k in ("title", "budget", "ceiling") for i in range(1, 10)},
}


def bond_texts() -> dict[str, str]:
    """What the notice beside the bond field says under each rule (and under none)."""
    gov = labels.label(BondRule.government_works, BondRule)
    own = labels.label(BondRule.tenderee_waives, BondRule)
    return {
        "government_works": pick(
            f"适用免收规则：{gov}。本项目为政府投资的工程类项目，不收取投标保证金，请将投标保证金留空。",
            f"Waiver rule that applies: {gov}. This is government-funded works, so it takes no bid bond: "
            "leave the bid bond empty.",
        ),
        "tenderee_waives": pick(
            f"适用免收规则：{own}。请将投标保证金留空。",
            f"Waiver rule that applies: {own}. Leave the bid bond empty.",
        ),
        "none": pick(
            f"不适用免收规则：可收取投标保证金，最多为预算金额的2%。（政府投资的工程类项目适用“{gov}”。）",
            f"No waiver rule applies: a bid bond of at most 2% of the budget may be required. "
            f"(Government-funded works fall under “{gov}”.)",
        ),
    }


def bond_notice(category: str | None, government_investment: bool, waived: bool) -> dict[str, Any]:
    decision = bonds.bond_rule(category, government_investment, waived)
    texts = bond_texts()
    key = decision.rule.value if decision.rule else "none"
    return {"rule": decision.rule.value if decision.rule else "", "text": texts[key], "texts": texts}


def _on(value: Any) -> bool:
    return str(value or "") in ("on", "1", "true", "True")


def form_context(choices: Mapping[str, Any], values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The template's context: ``choices`` from ``staff_views.form_choices`` and the bond notice
    for ``values`` (the form as typed, else the tender being edited, else a new form)."""
    t = choices.get("t")
    if values is not None:
        bond = bond_notice(
            values.get("category") or Category.works.value,
            _on(values.get("government_investment")),
            _on(values.get("bond_waived")),
        )
    elif t is not None:
        bond = bond_notice(
            t.category, t.government_investment, t.bond_waived and t.bond_rule == "tenderee_waives"
        )
    else:
        bond = bond_notice(Category.works.value, False, False)
    return {
        **choices,
        "bond": bond,
        "regions": regions.options(),
        "category_choices": labels.options(Category),
        "method_choices": labels.options(Method),
        "evaluation_choices": labels.options(EvaluationMethod),
        "tenderee_choices": [(o.id, o.name) for o in choices.get("tenderees", [])],
        "agency_choices": [(o.id, o.name) for o in choices.get("agencies", [])],
        "tenderee_id": choices.get("tenderee_id"),
        "agency_id": choices.get("agency_id"),
    }
