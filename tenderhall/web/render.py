"""Page rendering helpers shared by every domain's ``pages.py``."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

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
    parent: str | None = None  # the href of the public category it is a sub-list of
    order: int = 100


class NavOrder:
    """Where a public category sits in the main navigation, by what people look for. A category
    appears only once a domain registers it, so the opening hall's slot stays empty (no link to a
    page that does not exist) until its module adds ``add_nav("/opening", …, order=NavOrder.OPENING)``."""

    HOME = 0
    NOTICES = 20  # 交易公告: 招标公告 / 变更公告 / 结果公告
    CREDIT = 30  # 信用信息
    OPENING = 40  # 开标大厅 (comes with the opening module)
    POLICIES = 50  # 政策法规
    GUIDE = 60  # 服务指南


#: Domains append their entries at import time (their ``routes.py``). Entries without roles are
#: the public categories of the main navigation (with their sub-lists, ``parent``); entries with
#: roles are a signed-in user's own pages, shown in the smaller second navigation beside the desk.
NAV: list[NavItem] = []


def add_nav(
    href: str,
    zh: str,
    en: str,
    roles: set[Role] | None = None,
    *,
    parent: str | None = None,
    order: int = 100,
) -> None:
    if not any(n.href == href and n.parent == parent for n in NAV):
        NAV.append(NavItem(href, zh, en, frozenset(roles) if roles else None, parent, order))


@dataclass(frozen=True)
class NavLink:
    href: str
    zh: str
    en: str
    current: bool = False  # this very page (aria-current="page")
    active: bool = False  # this page is inside the category
    children: tuple[NavLink, ...] = ()


def _split(href: str) -> tuple[str, dict[str, str]]:
    path, _, query = href.partition("?")
    return path, dict(parse_qsl(query))


def _score(href: str, path: str, query: Mapping[str, str]) -> int:
    """How closely a link names this page: -1 when its path differs or one of its query parameters
    does not hold, else how many of them hold (``/tenders?kind=result`` beats ``/tenders``)."""
    want_path, want = _split(href)
    if want_path != path or any(query.get(k) != v for k, v in want.items()):
        return -1
    return len(want)


@dataclass(frozen=True)
class Navigation:
    main: tuple[NavLink, ...]
    mine: tuple[NavLink, ...]

    @property
    def section(self) -> NavLink | None:
        """The public category this page is in (its sub-lists show under the main navigation)."""
        return next((n for n in self.main if n.active and n.children), None)


def navigation(principal: Principal, path: str, query: Mapping[str, str]) -> Navigation:
    """The main navigation (public categories and their sub-lists) and the signed-in user's own
    pages; the link that names this page most closely is the current one."""
    tops = sorted((n for n in NAV if n.roles is None and n.parent is None), key=lambda n: n.order)
    subs = {t.href: [n for n in NAV if n.roles is None and n.parent == t.href] for t in tops}
    own = sorted((n for n in NAV if n.roles and principal.role in n.roles), key=lambda n: n.order)
    # on a tie a sub-list or an own page wins over its category (max keeps the first)
    candidates = [*(c for cs in subs.values() for c in cs), *own, *tops]
    chosen = max(candidates, key=lambda n: _score(n.href, path, query), default=None)
    if chosen is not None and _score(chosen.href, path, query) < 0:
        chosen = None

    def under(href: str) -> bool:
        base = _split(href)[0]
        return base != "/" and (path == base or path.startswith(base + "/"))

    # a user's own page (``/credit/manage``) is not inside the public category its path sits under
    own_page = any(under(n.href) for n in own)

    def link(n: NavItem, children: tuple[NavLink, ...] = ()) -> NavLink:
        active = n is chosen or (not own_page and under(n.href)) or any(c.current for c in children)
        return NavLink(n.href, n.zh, n.en, current=n is chosen, active=active, children=children)

    main = tuple(link(t, tuple(link(c) for c in subs[t.href])) for t in tops)
    return Navigation(main, tuple(link(n) for n in own))


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

    flash = read_flash(request)
    ctx = {
        "principal": principal,
        "lang": lang,
        "nav": navigation(principal, request.url.path, request.query_params),
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
