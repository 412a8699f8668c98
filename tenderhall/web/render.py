"""Page rendering helpers shared by every domain's ``pages.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request
from litestar.response import Redirect, Template

from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.web.i18n import current_language, pick

ROLE_LABELS = {
    Role.bidder: ("投标人", "Bidder"),
    Role.tenderee: ("招标人", "Tenderee"),
    Role.agency: ("招标代理", "Agency"),
    Role.expert: ("评标专家", "Expert"),
    Role.supervisor: ("监管人员", "Supervisor"),
    Role.admin: ("系统管理员", "Administrator"),
}


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
    if role is None:
        return ""
    zh, en = ROLE_LABELS.get(Role(role), (str(role), str(role)))
    return pick(zh, en)


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

    flash = None
    if "flash" in request.query_params:
        flash = {"kind": request.query_params.get("flash_kind", "ok"), "text": request.query_params["flash"]}
    ctx = {
        "principal": principal,
        "lang": lang,
        "nav_items": nav_items,
        "flash": flash,
        **context,
    }
    return Template(template_name=template, context=ctx, status_code=status_code, media_type=MediaType.HTML)


def redirect(path: str, *, flash: str | None = None, kind: str = "ok") -> Redirect:
    if flash:
        from urllib.parse import urlencode

        sep = "&" if "?" in path else "?"
        path = f"{path}{sep}{urlencode({'flash': flash, 'flash_kind': kind})}"
    return Redirect(path=path, status_code=303)
