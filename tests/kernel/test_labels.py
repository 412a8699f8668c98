"""Every enum a person can meet has a Chinese and an English label, defined in one place."""

from __future__ import annotations

import enum
import sys

import pytest

from tenderhall import labels, registry
from tenderhall.auth.models import Role
from tenderhall.web.i18n import current_language


def _model_enums() -> list[type[enum.Enum]]:
    registry.import_all_models()
    found: list[type[enum.Enum]] = []
    for name, module in list(sys.modules.items()):
        if not name.endswith(".models") or name.split(".")[0] not in registry.DOMAINS:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == name:
                found.append(value)
    return found


def test_every_enum_of_every_models_module_has_labels_in_both_languages() -> None:
    enums = _model_enums()
    assert Role in enums and len(enums) >= 10
    unlabelled = [e.__qualname__ for e in enums if e not in labels.defined()]
    assert unlabelled == []


def test_a_label_table_that_leaves_a_member_out_is_refused() -> None:
    class Colour(enum.StrEnum):
        red = "red"
        green = "green"

    with pytest.raises(ValueError, match="missing \\['green'\\]"):
        labels.define(Colour, {Colour.red: ("红", "Red")})
    with pytest.raises(ValueError, match="both languages"):
        labels.define(Colour, {Colour.red: ("红", "Red"), Colour.green: ("绿", "")})


def test_a_label_follows_the_reader_language_and_accepts_a_stored_code() -> None:
    token = current_language.set("en")
    try:
        assert labels.label(Role.supervisor) == "Supervisor"
        assert labels.label("supervisor", Role) == "Supervisor"
    finally:
        current_language.reset(token)
    assert labels.label(Role.supervisor, lang="zh") == "监管人员"
    assert ("bidder", "投标人") in labels.options(Role)


def test_a_value_without_labels_is_an_error_not_a_code_on_a_page() -> None:
    with pytest.raises(LookupError):
        labels.label("FALSE_MATERIALS")


def test_all_codes_names_the_stored_codes_a_page_must_not_show() -> None:
    _model_enums()
    codes = labels.all_codes()
    assert {"bidder", "upheld", "pending", "in_performance"} <= codes
