"""The assembly: one transaction per request committed at the edge, problem details in both
languages, health and metrics, start-up refusing bad settings with one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import post
from litestar.testing import TestClient

from tenderhall.app import create_app
from tenderhall.audit.models import AuditEvent
from tenderhall.audit.service import record
from tenderhall.db import Database, RequestSession, run
from tenderhall.errors import RuleViolation
from tenderhall.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _record_then_refuse(s: Any) -> None:
    record(s, "system", "test.partial", "thing", 1, "should be rolled back")
    raise RuleViolation("测试规则拒绝", "refused by a test rule")


@post("/api/test/record-then-fail")
async def _record_then_fail(session: RequestSession) -> dict[str, Any]:
    await run(session, _record_then_refuse)  # a service call that writes, then refuses
    return {}


@post("/api/test/record")
async def _record(session: RequestSession) -> dict[str, Any]:
    event = await run(session, record, "system", "test.kept", "thing", 2, "kept")
    return {"seq": event.seq}


def _client(settings: Settings, db: Database) -> TestClient[Any]:
    app = create_app(settings, db=db, run_jobs_inprocess=False)
    app.register(_record_then_fail)
    app.register(_record)
    return TestClient(app, base_url="http://testserver.local")


def _actions(db: Database) -> list[str]:
    with db.unit_of_work() as s:
        return list(s.execute(sa.select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def _handler_names(handler: Any) -> list[str]:
    from litestar import Controller
    from litestar.handlers import BaseRouteHandler

    if isinstance(handler, type) and issubclass(handler, Controller):
        return [v.handler_name for v in vars(handler).values() if isinstance(v, BaseRouteHandler)]
    return [handler.handler_name]


def test_the_app_serves_every_route_the_registry_lists(app: Any, settings: Settings) -> None:
    from tenderhall import registry

    listed = registry.all_route_handlers(settings)
    domains = {getattr(h, "fn", h).__module__.split(".")[0] for h in listed}
    assert {"tenderhall", "credit", "trading"} <= domains, domains
    served = {h.handler_name for r in app.routes for h in r.route_handlers}
    missing = {name for h in listed for name in _handler_names(h)} - served
    assert not missing, f"routes the registry lists but the app does not serve: {sorted(missing)}"


def test_a_request_that_fails_rolls_back_everything_it_wrote(settings: Settings, db: Database) -> None:
    with _client(settings, db) as c:
        r = c.post("/api/test/record-then-fail")
        assert r.status_code == 409
        body = r.json()
        assert body["detail_zh"] == "测试规则拒绝"
        assert body["detail_en"] == "refused by a test rule"
        assert r.headers["content-type"].startswith("application/problem+json")
        ok = c.post("/api/test/record")
        assert ok.status_code == 201
    assert _actions(db) == ["test.kept"]


def test_a_failed_commit_becomes_an_error_response_not_a_silent_success(
    settings: Settings, db: Database
) -> None:
    """A unique violation at commit time (two events with the same seq) must surface as 5xx."""
    with db.unit_of_work() as s:
        record(s, "system", "test.first", "thing", 1, "first")

    @post("/api/test/duplicate-seq")
    async def dup(session: RequestSession) -> dict[str, str]:
        def add_dup(s: Any) -> None:
            first = s.execute(sa.select(AuditEvent)).scalar_one()
            s.add(
                AuditEvent(
                    seq=first.seq,
                    occurred_at=first.occurred_at,
                    actor="x",
                    action="x",
                    object_type="x",
                    object_id="x",
                    summary="x",
                    data={},
                    prev_hash="0",
                    hash="f" * 64,
                )
            )

        await run(session, add_dup)  # not flushed: the failure happens at commit, at the edge
        return {"status": "claims success"}

    app = create_app(settings, db=db, run_jobs_inprocess=False)
    app.register(dup)
    with TestClient(app) as c:
        r = c.post("/api/test/duplicate-seq")
    assert r.status_code == 500
    assert r.json()["code"] == "internal"
    assert _actions(db) == ["test.first"]


def test_health_reports_database_and_broker(client: TestClient[Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_every_response_carries_a_request_id(client: TestClient[Any]) -> None:
    r = client.get("/health", headers={"x-request-id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_openapi_schema_is_served(client: TestClient[Any]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "TenderHall API"


def test_unknown_api_path_is_a_bilingual_problem(client: TestClient[Any]) -> None:
    r = client.get("/api/does-not-exist")
    assert r.status_code == 404
    assert (r.json()["detail_zh"], r.json()["detail_en"]) == ("找不到该页面或对象", "Not found")


def test_pages_are_chinese_by_default_with_an_english_switch(client: TestClient[Any]) -> None:
    zh = client.get("/does-not-exist", headers={"accept": "text/html"})
    assert "无法完成请求" in zh.text
    assert "The request could not be completed" not in zh.text
    switch = client.get("/lang/en", params={"next": "/does-not-exist"}, follow_redirects=False)
    assert switch.status_code in (302, 303)
    assert switch.headers["location"] == "/does-not-exist"
    (lang_cookie,) = [c for c in switch.headers.get_list("set-cookie") if c.startswith("lang=")]
    attrs = {a.strip().split("=")[0].lower(): a.strip().partition("=")[2] for a in lang_cookie.split(";")}
    assert attrs["lang"] == "en"
    assert attrs["path"] == "/"
    assert int(attrs["max-age"]) >= 365 * 86400  # the choice is remembered, not just for this visit
    assert client.cookies.get("lang") == "en"  # the client keeps the switch's own cookie
    en = client.get("/does-not-exist", headers={"accept": "text/html"})
    assert "The request could not be completed" in en.text
    assert "无法完成请求" not in en.text
    back = client.get("/lang/zh", follow_redirects=False)
    assert "lang=zh" in back.headers["set-cookie"]
    assert "无法完成请求" in client.get("/does-not-exist", headers={"accept": "text/html"}).text


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "evil"])
def test_the_language_switch_only_redirects_within_the_site(client: TestClient[Any], target: str) -> None:
    r = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert r.headers["location"] == "/"
    assert "lang=en" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("TENDERHALL_DATABASE_URL", "mysql://nope"),
        ("TENDERHALL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"),
        ("TENDERHALL_BROKER_URL", "kafka://x"),
        ("TENDERHALL_BROKER_URL", "redis://127.0.0.1:1/0"),
    ],
)
def test_bad_or_unreachable_url_stops_startup_naming_the_setting(
    var: str, value: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TENDERHALL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "TENDERHALL_KEY_DIR": str(tmp_path / "keys"),
        var: value,
    }
    r = subprocess.run(
        [sys.executable, "-m", "tenderhall.cli", "serve", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(var + ":"), lines[0]


@pytest.mark.parametrize(
    ("query", "cookie", "expected"),
    [
        (b"", None, "zh"),
        (b"lang=en", None, "en"),
        (b"q=x&lang=en", b"lang=zh", "en"),  # the query string wins over the cookie
        (b"", b"th_session=abc; lang=en", "en"),
        (b"lang=fr", b"lang=en", "zh"),  # an unknown language is Chinese, as on pages
        (b"slang=en", None, "zh"),
    ],
)
def test_the_request_language_is_read_from_query_then_cookie(
    query: bytes, cookie: bytes | None, expected: str
) -> None:
    from tenderhall.web.i18n import language_of_scope

    headers = [(b"cookie", cookie)] if cookie else []
    assert language_of_scope({"query_string": query, "headers": headers}) == expected


def test_health_answers_while_every_request_thread_is_busy(settings: Settings, db: Database) -> None:
    """A burst can keep every request thread busy for seconds; the health check must still answer
    (a load balancer would otherwise take the process out of service in the middle of a burst)."""
    import threading

    release = threading.Event()
    started = threading.Barrier(db.request_threads + 1)

    def busy() -> None:
        started.wait(10)
        release.wait(30)

    futures = [db.request_executor.submit(busy) for _ in range(db.request_threads)]
    try:
        started.wait(10)  # every request thread is taken
        with _client(settings, db) as c:
            r = c.get("/health", timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["database"] == "ok"
            assert not any(f.done() for f in futures)  # answered while they were still busy
    finally:
        release.set()
        for f in futures:
            f.result(30)
