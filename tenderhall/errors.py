"""Errors: one base ``AppError`` carrying a bilingual message and an HTTP status; one handler
renders problem details (RFC 9457) for the API and an error page for browsers."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A failure a person can act on. ``zh`` and ``en`` say what is wrong, in both languages."""

    status: int = 400
    code: str = "error"

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        status: int | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.zh = zh
        self.en = en
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.extra = extra or {}
        super().__init__(f"{zh} / {en}")

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:tenderhall:error:{self.code}",
            "title": self.en,
            "status": self.status,
            "detail": self.message,
            "detail_zh": self.zh,
            "detail_en": self.en,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class InvalidInput(AppError):
    status = 422
    code = "invalid_input"


#: The range every integer column of both databases can hold (BIGINT; an INTEGER column on
#: PostgreSQL holds less, and its overflow is mapped to the same error by the app's handlers).
DB_INT_MIN, DB_INT_MAX = -(2**63), 2**63 - 1


class NumberOutOfRange(InvalidInput):
    """A number no database column can hold: malformed input, named."""

    code = "number_out_of_range"

    def __init__(self, field: str) -> None:
        super().__init__(
            f"输入格式有误：{field} 的数值超出允许范围",
            f"The input is malformed: {field} is out of the range of numbers accepted",
            extra={"field": field},
        )


class RuleViolation(AppError):
    """A business rule refused the action (409): the message names the rule."""

    status = 409
    code = "rule"


class TooManyRequests(AppError):
    status = 429
    code = "rate_limited"
