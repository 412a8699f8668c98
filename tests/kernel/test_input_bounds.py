"""Integers no database column can hold are malformed input (422, naming the field, in both
languages), never a 500: on every route with an integer path parameter, in query parameters and
in JSON bodies."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar

from tenderhall import registry
from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories

HUGE = 99999999999999999999  # beyond int64


def _int_routes() -> list[tuple[str, str, list[str]]]:
    registry.import_all_models()
    app = Litestar(route_handlers=registry.all_route_handlers(Settings(database_url="sqlite://")))
    out = []
    for r in app.routes:
        params = getattr(r, "path_parameters", None) or {}
        values = params.values() if isinstance(params, dict) else params
        ints = [p.name for p in values if p.type is int]
        if ints:
            for method in sorted(set(getattr(r, "methods", ())) - {"OPTIONS", "HEAD"}):
                out.append((method, r.path, ints))
    return out


INT_ROUTES = _int_routes()


def test_the_routes_with_integer_path_parameters_are_all_found() -> None:
    assert len(INT_ROUTES) >= 40
    assert ("GET", "/api/trading/tenders/{tender_id:int}", ["tender_id"]) in INT_ROUTES


@pytest.mark.parametrize(("method", "path", "names"), INT_ROUTES, ids=[f"{m} {p}" for m, p, _ in INT_ROUTES])
def test_a_path_id_beyond_the_database_range_is_422_naming_it(
    db: Database, client: Any, method: str, path: str, names: list[str]
) -> None:
    _, api, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    url = re.sub(r"\{(\w+):int\}", str(HUGE), path)
    url = re.sub(r"\{(\w+):str\}", "decide", url)
    r = client.request(method, url, headers={**api, "Accept": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text[:300])
    body = r.json()
    assert names[0] in body["detail_en"] and names[0] in body["detail_zh"]


def test_a_query_integer_beyond_the_database_range_is_422_naming_it(db: Database, client: Any) -> None:
    r = client.get("/api/credit/changes", params={"after": str(HUGE)})
    assert r.status_code == 422, r.text
    assert "after" in r.json()["detail_en"]


def test_a_body_integer_beyond_the_database_range_is_422_naming_it(db: Database, client: Any) -> None:
    from tests.trading.test_http import _body

    agent, agency, _ = factories.signed_in(db, Role.agency)
    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee).id
        factories.mandate(s, tenderee, agent.organisation_id)  # type: ignore[arg-type]
    r = client.post("/api/trading/tenders", json=_body(tenderee, duration_days=HUGE), headers=agency)
    assert r.status_code == 422, r.text
    assert "duration_days" in r.json()["detail_en"]
    assert "duration_days" in r.json()["detail_zh"]


def test_a_receiver_saved_from_the_page_without_events_receives_all(db: Database, client: Any) -> None:
    _, _, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    page = client.get("/credit/manage/deliveries")
    m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert m, page.text[:300]
    r = client.post(
        "/credit/manage/receivers",
        data={"_csrf_token": m.group(1), "name": "省信用平台", "url": "https://credit.example.gov.cn/events"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    receivers = client.get("/credit/manage/deliveries").text
    assert "省信用平台" in receivers
