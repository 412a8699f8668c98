"""Who may watch a topic: each topic name is declared once, by the package whose page it feeds,
with the same rule as that page."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tenderhall.auth.principal import Principal

TOPIC_RE = re.compile(r"^([a-z][a-z0-9_]{0,39})(?:\.([A-Za-z0-9_-]{1,60}))?$")
"""``name`` or ``name.key`` (``jobs``, ``tender.42``)."""

MayWatch = Callable[[Session, Principal, str | None], bool]


@dataclass(frozen=True)
class TopicRule:
    name: str
    may_watch: MayWatch
    """``may_watch(session, principal, key)``: in a read-only transaction; False refuses."""
    public: bool = False
    """Anonymous callers may watch (if ``may_watch`` agrees); otherwise they must sign in."""


TOPICS: dict[str, TopicRule] = {}


def topic(name: str, may_watch: MayWatch, *, public: bool = False) -> None:
    """Declare the topic ``name`` (and ``name.<key>``) and who may watch it."""
    if not TOPIC_RE.match(name) or "." in name:
        raise ValueError(f"topic names are lower-case words, got {name!r}")
    known = TOPICS.get(name)
    if known is not None and known.may_watch is not may_watch:
        raise ValueError(f"topic {name!r} declared twice")
    TOPICS[name] = TopicRule(name, may_watch, public)


def split(topic_name: str) -> tuple[str, str | None]:
    """``("tender", "42")`` for ``tender.42``; ValueError for a malformed name."""
    m = TOPIC_RE.match(topic_name)
    if not m:
        raise ValueError(f"malformed topic {topic_name!r}")
    return m.group(1), m.group(2)


def rule_for(topic_name: str) -> TopicRule | None:
    try:
        name, _ = split(topic_name)
    except ValueError:
        return None
    return TOPICS.get(name)
