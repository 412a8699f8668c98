"""The label of every enum value, in Chinese and English, defined once beside its enum.

A domain's ``models.py`` calls :func:`define` right after an enum; pages, PDFs and messages ask
:func:`label` for the text a person reads, and never show the stored code. ``define`` refuses a
table that leaves a member out, so a new member cannot reach a page without its labels, and
:func:`all_codes` gives the page checks the codes that must never appear on a page.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from tenderhall.web.i18n import current_language

_TABLES: dict[type[enum.Enum], dict[str, tuple[str, str]]] = {}


def define(enum_cls: type[enum.Enum], table: Mapping[Any, tuple[str, str]]) -> None:
    """Register the (Chinese, English) label of every member of ``enum_cls``."""
    by_value = {str(getattr(k, "value", k)): v for k, v in table.items()}
    members = {str(m.value) for m in enum_cls}
    missing = sorted(members - by_value.keys())
    extra = sorted(by_value.keys() - members)
    if missing or extra:
        raise ValueError(f"labels of {enum_cls.__name__}: missing {missing}, unknown {extra}")
    for value, (zh, en) in by_value.items():
        if not zh or not en:
            raise ValueError(f"labels of {enum_cls.__name__}.{value}: both languages are needed")
    _TABLES[enum_cls] = by_value


def label(value: Any, enum_cls: type[enum.Enum] | None = None, lang: str | None = None) -> str:
    """The text a person reads for ``value`` (an enum member, or a stored code with its enum)."""
    if value is None or value == "":
        return ""
    cls = enum_cls or (type(value) if isinstance(value, enum.Enum) else None)
    if cls is None or cls not in _TABLES:
        raise LookupError(f"no labels are defined for {value!r}")
    zh, en = _TABLES[cls][str(getattr(value, "value", value))]
    return en if (lang or current_language.get()) == "en" else zh


def options(enum_cls: type[enum.Enum], members: Iterable[Any] | None = None) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a select, in the enum's order (or the order of ``members``)."""
    chosen = list(members) if members is not None else list(enum_cls)
    return [(str(getattr(m, "value", m)), label(m, enum_cls)) for m in chosen]


def defined() -> dict[type[enum.Enum], dict[str, tuple[str, str]]]:
    return dict(_TABLES)


def all_codes() -> set[str]:
    """Every stored code that has a label: the words a page must show by their label instead."""
    return {value for table in _TABLES.values() for value in table}
