"""Two languages: Simplified Chinese (default) and English.

Templates write both texts side by side, ``{{ _("招标公告", "Tender notices") }}``, so a page's
two languages never drift apart; the request's language picks one.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = ("zh", "en")
current_language: ContextVar[str] = ContextVar("current_language", default="zh")


def pick(zh: str, en: str, lang: str | None = None) -> str:
    return en if (lang or current_language.get()) == "en" else zh


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Store UTC, show Asia/Shanghai."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def yuan(fen: int | None, *, wan: bool = False) -> str:
    """Money is integer fen; show yuan with two decimals (and 万元 for large figures)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    f = abs(fen)
    text = f"{sign}{f // 100:,}.{f % 100:02d}"
    if wan or f >= 100_000_000:  # ≥ 1,000,000 yuan: also in 万元
        w = f / 1_000_000
        return (
            f"{text} ({sign}{w:,.2f} 万元)"
            if current_language.get() == "zh"
            else f"{text} ({sign}{w:,.2f} ×10k yuan)"
        )
    return text
