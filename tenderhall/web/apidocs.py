"""The API documentation page (Swagger UI) served from this platform alone.

Litestar's Swagger page loads its scripts from a CDN and starts them with an inline script: on an
intranet the page stays blank, and the platform's CSP (``script-src 'self'``) refuses the inline
script anyway. Here the assets come from the ``swagger-ui-py`` wheel (Swagger UI 5, which reads
OpenAPI 3.1; served under ``/static/swagger-ui/``) and a static script of ours starts the UI
(decision 0006).
"""

from __future__ import annotations

import importlib.util
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS = "/static/swagger-ui"


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
