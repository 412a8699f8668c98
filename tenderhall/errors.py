"""Errors: one base ``AppError`` carrying a bilingual message and an HTTP status; one handler
renders problem details (RFC 9457) for the API and an error page for browsers.

A problem's ``title`` and ``detail`` are in the language the client asks for with
``Accept-Language`` (Chinese unless English is preferred); ``detail_zh`` and ``detail_en`` always
carry both. Field errors come as ``errors: [{field, detail_zh, detail_en}]``. The API documents
this body once, as the ``Problem`` schema (tenderhall/web/apidocs.py).
"""

from __future__ import annotations

import re
from typing import Any

#: The members every problem body has (``instance`` too when the request path is known).
PROBLEM_KEYS = ("type", "title", "status", "detail", "detail_zh", "detail_en", "code")


def problem_language(accept_language: str | None) -> str:
    """``"en"`` when an ``Accept-Language`` header prefers English to Chinese, else ``"zh"`` (also
    for no header, or one that names neither)."""
    best = {"zh": -1.0, "en": -1.0}
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in best:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # equal weights: the one named first wins (a tiny tie-break by position)
        best[primary] = max(best[primary], q - i * 1e-6) if q > 0 else best[primary]
    return "en" if best["en"] > best["zh"] else "zh"


_TYPES_ZH = {
    "int": "整数",
    "float": "数字",
    "str": "文本",
    "bool": "是/否",
    "array": "列表",
    "object": "对象",
    "null": "空值",
}


def validation_errors(extra: Any, detail: str) -> list[dict[str, str]]:
    """The field errors of a Litestar ``ValidationException`` (its ``extra`` list, or the missing
    parameter its ``detail`` names) in the form of a problem's ``errors``."""
    errors = [field_error(e) for e in extra if isinstance(e, dict)] if isinstance(extra, list) else []
    if not errors and (m := re.match(r"Missing required (\w+) parameter '([^']+)'", detail)):
        errors = [
            {
                "field": m.group(2),
                "detail_zh": "缺少必填参数",
                "detail_en": f"Missing required {m.group(1)} parameter",
            }
        ]
    return errors


def field_error(e: dict[str, Any]) -> dict[str, str]:
    """One of Litestar's validation errors (``{key, message, source}``) as a problem's field error
    ``{field, detail_zh, detail_en}``, the form every field error of the API takes."""
    message = str(e.get("message", ""))
    field = str(e.get("key") or "")
    zh = f"格式有误（{message}）" if message else "格式有误"
    if m := re.match(r"Expected `([^`]+)`, got `([^`]+)`", message):
        want, got = (_TYPES_ZH.get(t.split(" ")[0], t) for t in m.groups())
        zh = f"应为{want}，收到的是{got}"
    elif m := re.match(r"Object missing required field `([^`]+)`", message):
        field = field or m.group(1)
        zh = "缺少必填字段"
    elif message.startswith("Missing required"):
        zh = "缺少必填参数"
    return {
        "field": field or str(e.get("source") or ""),
        "detail_zh": zh,
        "detail_en": message or "malformed",
    }


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

    def problem(self, instance: str | None = None, lang: str = "zh") -> dict[str, Any]:
        """The problem details body (RFC 9457); ``title`` and ``detail`` in ``lang``."""
        text = self.en if lang == "en" else self.zh
        body: dict[str, Any] = {
            "type": f"urn:tenderhall:error:{self.code}",
            "title": text,
            "status": self.status,
            "detail": text,
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
