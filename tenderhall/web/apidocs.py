"""The API documentation: the OpenAPI document and its page (Swagger UI), served from this
platform alone.

The document describes the error body every API operation really returns: problem details
(RFC 9457, tenderhall/errors.py) as the ``Problem`` schema, referenced by each ``/api/`` operation's
``4XX`` and ``5XX`` responses in place of Litestar's own error shape, which the API never sends
(:class:`ApiOpenAPIConfig`, the one place this is done).

Litestar's Swagger page loads its scripts from a CDN and starts them with an inline script: on an
intranet the page stays blank, and the platform's CSP (``script-src 'self'``) refuses the inline
script anyway. Here the assets come from the ``swagger-ui-py`` wheel (Swagger UI 5, which reads
OpenAPI 3.1; served under ``/static/swagger-ui/``) and a static script of ours starts the UI
(decision 0006).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema
from litestar.static_files import create_static_files_router

ASSETS = "/static/swagger-ui"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_TEXT = Schema(type=OpenAPIType.STRING)
FIELD_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    title="FieldError",
    description="一个字段的错误 · What is wrong with one field",
    required=["field", "detail_zh", "detail_en"],
    properties={
        "field": Schema(type=OpenAPIType.STRING, description="字段名 · the field's name"),
        "detail_zh": Schema(type=OpenAPIType.STRING, description="中文说明"),
        "detail_en": Schema(type=OpenAPIType.STRING, description="in English"),
    },
)
PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description=(
        "问题详情（RFC 9457）：title 与 detail 使用 Accept-Language 所选语言（默认中文），"
        "detail_zh 与 detail_en 总是同时给出 · Problem details (RFC 9457): title and detail in the "
        "language Accept-Language prefers (Chinese by default); detail_zh and detail_en always both"
    ),
    required=["type", "title", "status", "detail", "detail_zh", "detail_en", "code"],
    properties={
        "type": Schema(
            type=OpenAPIType.STRING,
            format=None,
            description="urn:tenderhall:error:<code>",
            examples=["urn:tenderhall:error:not_found"],
        ),
        "title": _TEXT,
        "status": Schema(
            type=OpenAPIType.INTEGER, description="HTTP 状态码 · the HTTP status", examples=[404]
        ),
        "detail": _TEXT,
        "detail_zh": _TEXT,
        "detail_en": _TEXT,
        "code": Schema(
            type=OpenAPIType.STRING,
            description="机器可读的错误代码 · machine-readable error code",
            examples=["not_found"],
        ),
        "instance": Schema(type=OpenAPIType.STRING, description="请求路径 · the request's path"),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Reference(ref="#/components/schemas/FieldError"),
            description="字段错误（输入有误时） · field errors, when the input is not valid",
        ),
        "retry_after": Schema(type=OpenAPIType.INTEGER, description="秒 · seconds to wait (429)"),
    },
    additional_properties=True,
)


def document_problems(openapi: OpenAPI) -> OpenAPI:
    """Add the ``Problem`` and ``FieldError`` schemas and a ``Problem`` response to the document,
    and make every ``/api/`` operation's error responses that response (idempotent)."""
    components = openapi.components
    components.schemas = {**(components.schemas or {}), "Problem": PROBLEM, "FieldError": FIELD_ERROR}
    components.responses = {
        **(components.responses or {}),
        "Problem": OpenAPIResponse(
            description="问题详情 · Problem details (RFC 9457)",
            content={
                PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
            },
        ),
    }
    problem = Reference(ref="#/components/responses/Problem")
    for path, item in (openapi.paths or {}).items():
        if not path.startswith("/api/"):
            continue
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is None:
                continue
            kept = {k: v for k, v in (operation.responses or {}).items() if k[:1] not in ("4", "5")}
            operation.responses = {**kept, "4XX": problem, "5XX": problem}
    return openapi


@dataclasses.dataclass
class _ProblemDocumentedOpenAPI(OpenAPI):
    def to_schema(self) -> dict[str, Any]:
        document_problems(self)
        return super().to_schema()


@dataclasses.dataclass
class ApiOpenAPIConfig(OpenAPIConfig):
    """Litestar's OpenAPI configuration whose document describes the API's problem details: the
    document Litestar builds is finished (paths, schemas) before it is written out, and is then
    passed through :func:`document_problems`."""

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return _ProblemDocumentedOpenAPI(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})


def _asset_dir() -> Path:
    """The ``static`` folder of the installed ``swagger_ui`` package (found, not imported)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("the swagger-ui-py package is not installed (API 文档页需要 swagger-ui-py)")
    return Path(spec.origin).parent / "static"


class LocalSwaggerUI(SwaggerRenderPlugin):
    def __init__(self) -> None:
        super().__init__(
            path=["/", "/swagger"],
            js_url=f"{ASSETS}/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        spec_url = escape(request.app.openapi_config.path.rstrip("/") + "/openapi.json")  # type: ignore[union-attr]
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="{ASSETS}/favicon-32x32.png">
  <link rel="stylesheet" href="{self.css_url}">
  <script src="{self.js_url}" defer></script>
  <script src="/static/apidocs.js" defer></script>
</head>
<body>
  <div id="swagger-container" data-spec-url="{spec_url}"></div>
</body>
</html>""".encode()


def assets_router() -> Any:
    """``/static/swagger-ui/…``: Swagger UI's files from the installed wheel."""
    return create_static_files_router(path=ASSETS, directories=[_asset_dir()], name="swagger-ui")
