"""The API documentation page works on an intranet: every asset comes from the platform itself,
the page starts under the platform's CSP, and it lists the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_the_api_docs_load_only_from_the_platform_and_list_the_api(
    live_server: LiveServer, page: Any
) -> None:
    own = urlsplit(live_server.url).netloc
    requested: list[str] = []
    failed: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    response = page.goto(live_server.url + "/schema")
    assert response.status == 200
    page.locator(".swagger-ui .info .title").wait_for(timeout=30_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("TenderHall API")
    page.locator(".opblock-summary-path", has_text="/api/trading/tenders").first.wait_for(timeout=10_000)
    outside = [u for u in requested if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != own]
    assert outside == [], outside
    assert failed == [], failed
    assert console_errors == [], console_errors
