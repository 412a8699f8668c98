"""Page rendering helpers shared by every domain's ``pages.py``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from tenderhall import labels
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.web.forms import FormState
from tenderhall.web.i18n import current_language


@dataclass(frozen=True)
class NavItem:
    href: str
    zh: str
    en: str
    roles: frozenset[Role] | None = None  # None: everyone


#: Domains append their entries at import time (their ``routes.py``).
NAV: list[NavItem] = []


def add_nav(href: str, zh: str, en: str, roles: set[Role] | None = None) -> None:
    if not any(n.href == href for n in NAV):
        NAV.append(NavItem(href, zh, en, frozenset(roles) if roles else None))


def role_label(role: Role | str | None) -> str:
    return labels.label(role, Role)


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    return request.scope.get("principal") or Principal.anonymous()  # type: ignore[return-value]


def language_of(request: Request[Any, Any, Any]) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in ("zh", "en") else "zh"


def render(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Template:
    principal = principal_of(request)
    lang = language_of(request)
    current_language.set(lang)

    def nav_items() -> list[NavItem]:
        return [n for n in NAV if n.roles is None or (principal.role in n.roles)]

    flash = read_flash(request)
    ctx = {
        "principal": principal,
        "lang": lang,
        "nav_items": nav_items,
        "flash": flash,
        "form": FormState(),
        "portal": request.app.state.settings.portal,
        **context,
    }
    # a message is shown once: the page that shows it clears the cookie that carried it
    cookies = [Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/")] if flash else []
    return Template(
        template_name=template,
        context=ctx,
        status_code=status_code,
        media_type=MediaType.HTML,
        cookies=cookies,
    )


FLASH_COOKIE = "th_flash"
FLASH_KINDS = ("ok", "error")
FLASH_MAX_CHARS = 300


def redirect(path: str, *, flash: str | None = None, kind: str = "ok") -> Redirect:
    """A 303 to ``path``; ``flash`` (already in the reader's language) is shown once on the page
    it leads to. It travels in a short-lived cookie set by this response, never in the URL, so no
    link can make the platform show a message it did not give (decision 0005)."""
    cookies = []
    if flash:
        value = json.dumps({"kind": kind, "text": flash[:FLASH_MAX_CHARS]}, ensure_ascii=False)
        cookies.append(
            Cookie(
                key=FLASH_COOKIE,
                value=base64.urlsafe_b64encode(value.encode()).decode(),
                max_age=60,
                path="/",
                httponly=True,
                samesite="lax",
            )
        )
    return Redirect(path=path, status_code=303, cookies=cookies)


def read_flash(request: Request[Any, Any, Any]) -> dict[str, str] | None:
    """The message the previous response left for this page, if it is well formed."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        kind, text = data["kind"], data["text"]
    except (ValueError, KeyError, TypeError):
        return None
    if kind not in FLASH_KINDS or not isinstance(text, str) or not text:
        return None
    return {"kind": kind, "text": text[:FLASH_MAX_CHARS]}
