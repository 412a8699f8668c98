"""Two languages: Simplified Chinese (default) and English.

Templates write both texts side by side, ``{{ _("招标公告", "Tender notices") }}``, so a page's
two languages never drift apart; the request's language picks one.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = ("zh", "en")
current_language: ContextVar[str] = ContextVar("current_language", default="zh")


def language_of_scope(scope: Any) -> str:
    """A request's language from its ASGI scope: ``?lang=`` first, then the ``lang`` cookie, else
    Chinese (an unknown value also gives Chinese). The same rule as ``render.language_of``, read
    without building a Request, for the edge middleware that sets :data:`current_language`."""
    lang = ""
    query: bytes = scope.get("query_string", b"")
    if b"lang=" in query:
        lang = next((v for k, v in parse_qsl(query.decode("latin-1")) if k == "lang"), "")
    if not lang:
        for name, value in scope.get("headers", ()):
            if name == b"cookie" and b"lang=" in value:
                for part in value.decode("latin-1").split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "lang":
                        lang = v
                        break
                break
    return lang if lang in LANGUAGES else "zh"


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
