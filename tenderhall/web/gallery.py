"""The design system's components rendered once each (``ui_gallery.html``), for docs/ui.md's
screenshots and for the test that keeps the gallery in step with ``ui.html``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace

from jinja2 import Environment, FileSystemLoader, select_autoescape

from tenderhall import labels
from tenderhall.web import i18n
from tenderhall.web.forms import FieldError, FieldErrors, FormState
from tenderhall.web.listing import Listing

WEB = Path(__file__).parent
SECTIONS = ("type", "field", "confirm", "badge", "table", "breadcrumbs", "stats", "messages")


def macro_names() -> list[str]:
    """The public macros of ui.html (names not starting with an underscore)."""
    text = (WEB / "templates" / "ui.html").read_text(encoding="utf-8")
    return [m for m in re.findall(r"{%-?\s*macro\s+(\w+)\(", text) if not m.startswith("_")]


def render_gallery(lang: str = "zh") -> str:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape())
    env.filters.update(local_time=i18n.local_time, iso_time=i18n.iso_time, yuan=i18n.yuan, wan=i18n.wan)
    token = i18n.current_language.set(lang)
    try:
        refused = FieldErrors(
            [
                FieldError("title", "请填写项目名称", "Enter the tender's title"),
                FieldError(
                    "budget_yuan",
                    "预算金额须为正数，最多两位小数",
                    "The budget must be positive, with at most two decimals",
                ),
            ]
        )
        form = FormState.failed(
            refused, {"title": "", "budget_yuan": "-5", "category": "works", "government_investment": "on"}
        )
        listing = Listing(sorts=("title", "budget", "deadline"), sort="budget", desc=True, total=45, page=2)
        return env.get_template("ui_gallery.html").render(
            _=i18n.pick,
            label=labels.label,
            lang=lang,
            form=form,
            listing=listing,
            csrf_token=lambda: "gallery",
            request=SimpleNamespace(url=SimpleNamespace(path="/")),
            now=dt.datetime(2026, 12, 2, 7, 30, tzinfo=dt.UTC),
            css=(WEB / "static" / "tenderhall.css").read_text(encoding="utf-8"),
        )
    finally:
        i18n.current_language.reset(token)
