"""What a person reads for a tender's stored values that are not plain enum members on the read
model: its region, its timeline's release tags, an amendment's changes. Pages get :data:`WORDS`
in their context (``words.region(t.region)``); every text is in the reader's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tenderhall import labels
from tenderhall.web.i18n import local_time, pick, yuan
from trading import regions
from trading.models import AmendedField, BondRule, ReleaseTag


class Words:
    def region(self, value: str | None) -> str:
        return regions.label(value) or "—"

    def tags(self, tags: list[str]) -> str:
        known = {t.value for t in ReleaseTag}
        return "、".join(labels.label(t, ReleaseTag) for t in tags if t in known)

    def bond_rule(self, value: str | None) -> str:
        if value in {r.value for r in BondRule}:
            return labels.label(value, BondRule)
        return ""

    def changes(self, changes: dict[str, Any]) -> list[tuple[str, str, str]]:
        """An amendment's changes as (what, before, after) in words."""
        out = []
        for name, pair in changes.items():
            before, after = ([*pair, None, None])[:2] if isinstance(pair, list) else (None, pair)
            what = labels.label(name, AmendedField) if name in {f.value for f in AmendedField} else name
            out.append((what, self._value(name, before), self._value(name, after)))
        return out

    def _value(self, name: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if name.endswith("_fen") and isinstance(value, int):
            return yuan(value)
        if name.endswith("_at") and isinstance(value, str):
            try:
                return local_time(dt.datetime.fromisoformat(value))
            except ValueError:
                return value
        if name == "duration_days":
            return pick(f"{value} 天", f"{value} days")
        if name == "bond_rule":
            return self.bond_rule(str(value)) or "—"
        text = str(value)
        return text if len(text) <= 120 else text[:120] + "…"


WORDS = Words()
