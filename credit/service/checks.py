"""Every problem of a credit form at once, each naming its field (decision 0145).

A service collects what is wrong in :class:`Checks` and calls :meth:`Checks.done`: one problem is
raised as it was found (the API keeps its status: a 404 for a subject that does not exist, a 422
for a malformed code), named by its field in ``extra["field"]``; several are raised together as
:class:`~tenderhall.web.forms.FieldErrors` (422). Either way a page's ``form_again`` shows each
beside its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenderhall.errors import AppError, InvalidInput
from tenderhall.web.forms import FieldError, FieldErrors

T = TypeVar("T")


class Checks:
    def __init__(self) -> None:
        self.found: list[tuple[str, AppError]] = []

    def add(self, field: str, zh: str, en: str) -> None:
        self.found.append((field, InvalidInput(zh, en)))

    def error(self, field: str, exc: AppError) -> None:
        """Note ``exc`` against ``field`` (its own ``extra["field"]`` wins, as do the fields of a
        :class:`FieldErrors`)."""
        if isinstance(exc, FieldErrors):
            self.found.extend((e.field, InvalidInput(e.zh, e.en)) for e in exc.errors)
            return
        named = exc.extra.get("field")
        self.found.append((named if isinstance(named, str) else field, exc))

    def attempt(self, field: str, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None with its :class:`AppError` noted against ``field``."""
        try:
            return fn()
        except AppError as exc:
            self.error(field, exc)
            return None

    def has(self, field: str) -> bool:
        return any(f == field for f, _ in self.found)

    def __bool__(self) -> bool:
        return bool(self.found)

    def done(self) -> None:
        if not self.found:
            return
        if len(self.found) == 1:
            field, exc = self.found[0]
            exc.extra["field"] = field
            raise exc
        raise FieldErrors([FieldError(f, e.zh, e.en) for f, e in self.found])


def field_error(exc: AppError, field: str) -> AppError:
    """``exc`` named by ``field`` (for a service that raises one problem of one field)."""
    exc.extra["field"] = field
    return exc
