"""Every role's desk (``/desk``): after sign-in, what waits for the user, with counts and links.

The kernel holds the mechanism, as it holds the navigation: a domain registers the sections it
contributes with :func:`add_desk_section` from its own module (``trading/desk.py``,
``credit/desk.py``, imported by the domain's routes), and the kernel never imports a domain. A
section's function reads real rows for the signed-in principal and returns its items; a count of
``None`` says the thing does not exist yet (the item's note says when it will), never a made-up
figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response import Template
from sqlalchemy.orm import Session

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.web.render import add_nav, render

TONES = ("ok", "warn", "danger", "info", "muted")


@dataclass(frozen=True)
class DeskItem:
    """One thing waiting: its label, how many, where to deal with it and how urgent it looks."""

    zh: str
    en: str
    count: int | None  # None: not available yet (say why in the note)
    href: str | None = None
    tone: str = "muted"  # ok, warn, danger, info, muted (see the badge tones)
    note_zh: str = ""
    note_en: str = ""

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise ValueError(f"desk item tone {self.tone!r} is not one of {TONES}")


def waiting(count: int, tone: str = "warn") -> str:
    """The tone of a count of things to act on: ``tone`` when there are some, muted when none."""
    return tone if count else "muted"


DeskFn = Callable[[Session, Principal], list[DeskItem]]


@dataclass(frozen=True)
class DeskSection:
    key: str
    zh: str
    en: str
    roles: frozenset[Role]
    fn: DeskFn
    order: int = 100


#: Domains append their sections at import time.
DESK: list[DeskSection] = []


def add_desk_section(
    roles: Iterable[Role], fn: DeskFn, *, key: str, zh: str, en: str, order: int = 100
) -> None:
    """Show ``fn``'s items to the roles ``roles`` under the heading ``zh``/``en``. Registering the
    same ``key`` again replaces the section (a module imported twice adds nothing)."""
    section = DeskSection(key, zh, en, frozenset(roles), fn, order)
    DESK[:] = [s for s in DESK if s.key != key]
    DESK.append(section)


@dataclass(frozen=True)
class DeskPanel:
    section: DeskSection
    items: list[DeskItem]


def desk_for(session: Session, principal: Principal) -> list[DeskPanel]:
    """The sections of the principal's role, in order, each with its items."""
    chosen = sorted((s for s in DESK if principal.role in s.roles), key=lambda s: (s.order, s.key))
    return [DeskPanel(s, s.fn(session, principal)) for s in chosen]


add_nav("/desk", "我的工作台", "My desk", set(Role), order=0)


@get("/desk", guards=[requires()], include_in_schema=False, cache=False)
async def desk_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    panels = await run(session, desk_for, principal)
    return render(request, "desk.html", panels=panels)


ROUTES = [desk_page]
