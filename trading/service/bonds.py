"""Bid bonds and their waivers (DOMAIN §5, decision 0107).

A bid bond is at most 2% of the estimated price. For government-investment works the city
collects neither bid nor performance bonds: the rule decides, so a bond entered for such a tender
is refused (naming the rule) rather than silently dropped. A tenderee may also choose to require
no bond at all (``tenderee_waives``). :func:`bond_rule` is what the form shows beside the bond
field before anything is saved, and what the service applies when it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenderhall import labels
from trading.models import BondRule, Category

BID_BOND_MAX_SHARE = 50  # the bond is at most budget / 50 (2%)


@dataclass(frozen=True)
class BondDecision:
    rule: BondRule | None  # the waiver rule that applies, if any
    overrides_bond: bool  # True: no bond may be entered while the rule applies

    def explain(self, lang: str | None = None) -> str:
        """Why, in the reader's language (empty when no rule applies)."""
        if self.rule is None:
            return ""
        return labels.label(self.rule, BondRule, lang)


def bond_rule(
    category: str | Category | None, government_investment: bool, waived: bool = False
) -> BondDecision:
    """The waiver rule a tender with these fields falls under."""
    if category == Category.works and government_investment:
        return BondDecision(BondRule.government_works, overrides_bond=True)
    if waived:
        return BondDecision(BondRule.tenderee_waives, overrides_bond=True)
    return BondDecision(None, overrides_bond=False)


def parse_rule(value: str | None) -> BondRule | None:
    """A stored or submitted rule code; the text a record written before the codes existed holds
    is read as the government-works rule it always named."""
    v = (value or "").strip()
    if not v:
        return None
    try:
        return BondRule(v)
    except ValueError:
        if v == BOND_RULE_TEXT_BEFORE_CODES:
            return BondRule.government_works
        raise


BOND_RULE_TEXT_BEFORE_CODES = "政府投资工程免收投标保证金和履约保证金"
