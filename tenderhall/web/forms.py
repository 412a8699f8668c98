"""Forms that help: every error beside its field, in the reader's language, with what was typed.

A service that checks a form collects its findings in :class:`FieldCheck` and raises them all at
once as :class:`FieldErrors` (the API returns them as problem details with an ``errors`` list).
A page handler that catches an :class:`~tenderhall.errors.AppError` from its service call hands
it to :func:`form_again`, which renders the same form again with :class:`FormState`: the values
as typed, each error beside the field it names, and the errors that name no field at the top.
The service call ran in its own transaction, which rolled back when it raised: nothing of the
refused submission is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.response import Template

from tenderhall.errors import AppError, InvalidInput
from tenderhall.web.i18n import pick


@dataclass(frozen=True)
class FieldError:
    field: str
    zh: str
    en: str


class FieldErrors(InvalidInput):
    """Several things wrong with one form, each naming its field (422)."""

    code = "invalid_fields"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__(
            "输入有误：" + "；".join(e.zh for e in self.errors),
            "The input is not valid: " + "; ".join(e.en for e in self.errors),
            extra={"errors": [{"field": e.field, "detail_zh": e.zh, "detail_en": e.en} for e in self.errors]},
        )


class FieldCheck:
    """Collects what is wrong with a form; :meth:`done` raises them together, if any."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field_name: str, zh: str, en: str) -> None:
        self.errors.append(FieldError(field_name, zh, en))

    def has(self, field_name: str) -> bool:
        return any(e.field == field_name for e in self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def done(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def on_field(exc: AppError, field_name: str) -> AppError:
    """A refusal of the one thing a form submits belongs beside that field (an error that
    already names its fields is kept as it is)."""
    if isinstance(exc, FieldErrors) or "field" in exc.extra:
        return exc
    return FieldErrors([FieldError(field_name, exc.zh, exc.en)])


@dataclass
class FormState:
    """What a form template reads: ``form.value(name)``, ``form.errors_for(name)``, ``form.general``."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def value(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def submitted(self, name: str) -> bool:
        return name in self.values

    def errors_for(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    def count(self) -> int:
        return sum(len(v) for v in self.errors.values()) + len(self.general)

    def __bool__(self) -> bool:
        return self.count() > 0

    @classmethod
    def failed(cls, exc: AppError, values: Mapping[str, Any], fields: set[str] | None = None) -> FormState:
        """The state of a form whose submission ``exc`` refused. A field error whose field the form
        does not show (``fields``, when given) goes to the top, so no message is ever lost."""
        state = cls(values=dict(values))
        found: list[tuple[str, str]] = []
        if isinstance(exc, FieldErrors):
            found = [(e.field, pick(e.zh, e.en)) for e in exc.errors]
        elif isinstance(exc.extra.get("field"), str):
            found = [(exc.extra["field"], pick(exc.zh, exc.en))]
        else:
            state.general.append(pick(exc.zh, exc.en))
        for name, text in found:
            if fields is not None and name not in fields:
                state.general.append(text)
            else:
                state.errors.setdefault(name, []).append(text)
        return state


def form_again(
    request: Request[Any, Any, Any],
    exc: AppError,
    template: str,
    values: Mapping[str, Any],
    *,
    fields: set[str] | None = None,
    **context: Any,
) -> Template:
    """The form page again, with ``exc``'s errors beside their fields and the values kept."""
    from tenderhall.web.render import render

    safe = {k: v for k, v in values.items() if not k.startswith("_") and "password" not in k}
    return render(
        request, template, status_code=exc.status, form=FormState.failed(exc, safe, fields), **context
    )
