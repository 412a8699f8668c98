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


#: The one format a person reads a time in, everywhere: Beijing time, to the minute.
TIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"


def local_time(value: dt.datetime | None, fmt: str = TIME_FORMAT) -> str:
    """Store UTC, show Beijing time (Asia/Shanghai)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def iso_time(value: dt.datetime | None) -> str:
    """The machine-readable form of a time for ``<time datetime=…>``, in Beijing time."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def yuan(fen: int | None) -> str:
    """Money is integer fen; a person reads it as ``¥32,000,000.00`` (the unit is in the text)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    f = abs(fen)
    return f"{sign}¥{f // 100:,}.{f % 100:02d}"


def wan(fen: int | None) -> str:
    """Large sums as Chinese tenders state them: ``3,200.00 万元`` (English: ``¥32.00 million``)."""
    if fen is None:
        return ""
    if current_language.get() == "en":
        return f"¥{fen / 100_000_000:,.2f} million"
    return f"{fen / 1_000_000:,.2f} 万元"
