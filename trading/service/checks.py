"""A form's checks in the trading services: every problem collected, then raised together.

:class:`RuleCheck` is the kernel's :class:`~tenderhall.web.forms.FieldCheck` that also keeps the
typed error a rule raises (``UnknownProcedure``, a 409 rule): when that is the only problem, the
caller gets it as before, with its code and status, now naming its field and carrying the same
``errors`` list; several problems go out together as ``FieldErrors`` (422).
"""

from __future__ import annotations

from tenderhall.errors import AppError
from tenderhall.web.forms import FieldCheck


class RuleCheck(FieldCheck):
    def __init__(self) -> None:
        super().__init__()
        self._raised: list[AppError] = []

    def refuse(self, field_name: str, exc: AppError) -> None:
        """Record ``exc`` (a typed refusal) against ``field_name``."""
        self.add(field_name, exc.zh, exc.en)
        self._raised.append(exc)

    def done(self) -> None:
        if len(self.errors) == 1 and len(self._raised) == 1:
            exc, only = self._raised[0], self.errors[0]
            exc.extra.setdefault("field", only.field)
            exc.extra["errors"] = [{"field": only.field, "detail_zh": only.zh, "detail_en": only.en}]
            raise exc
        super().done()
