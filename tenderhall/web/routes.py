"""Kernel pages and endpoints: health, metrics, language switch, the icon, the desk and the
portal's own content pages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from tenderhall import metrics as metrics_mod
from tenderhall.auth.addresses import client_ip
from tenderhall.db import Database, in_thread
from tenderhall.errors import Forbidden
from tenderhall.settings import Settings
from tenderhall.web import desk, desk_sections, portal

_HEALTH_THREAD = ThreadPoolExecutor(1, thread_name_prefix="health")
"""The health check pings the database (same engine and pool as requests: one of its two spare
connections) from a thread of its own, so that it answers while a burst keeps every request
thread busy, instead of queueing behind the burst."""


@get("/health", tags=["kernel"], summary="Database and broker health", cache=False)
async def health(state: State) -> Response[dict[str, Any]]:
    from tenderhall.jobs.broker import check_broker

    db: Database = state.db
    checks: dict[str, str] = {}
    try:
        await in_thread(_HEALTH_THREAD, db.check)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        import anyio.to_thread

        await anyio.to_thread.run_sync(check_broker, state.settings.broker_url, 2.0)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)


@get("/metrics", tags=["kernel"], summary="Prometheus metrics of every process", cache=False)
async def metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """For the scraper: a bearer token (``METRICS__TOKEN``) or an allowed address (``METRICS__ALLOW``)."""
    settings: Settings = state.settings
    if not metrics_mod.may_read(
        settings.metrics, client_ip(request, settings.auth), request.headers.get("authorization")
    ):
        raise Forbidden(
            "监控指标仅向持有令牌的采集端或白名单地址开放（METRICS__TOKEN、METRICS__ALLOW）",
            "metrics are served only to a scraper with the token or from an allowed address "
            "(METRICS__TOKEN, METRICS__ALLOW)",
            code="metrics_forbidden",
        )
    import anyio.to_thread

    # reading every process's sample files is file work: off the event loop
    body, media_type = await anyio.to_thread.run_sync(metrics_mod.render)
    # Litestar adds the charset to a text/* type itself
    return Response(body, media_type=media_type.replace("; charset=utf-8", ""))


@get("/lang/{code:str}", tags=["kernel"], include_in_schema=False)
async def switch_language(code: str, request: Request[Any, Any, Any]) -> Redirect:
    lang = code if code in ("zh", "en") else "zh"
    nxt = request.query_params.get("next") or "/"
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    return Redirect(path=nxt, cookies=[Cookie(key="lang", value=lang, max_age=365 * 86400, samesite="lax")])


@get("/favicon.ico", tags=["kernel"], include_in_schema=False)
async def favicon() -> Redirect:
    """Browsers ask for /favicon.ico on their own (a page's icon link aside): the SVG emblem."""
    return Redirect(path="/static/favicon.svg", status_code=301)


assert desk_sections  # registers the kernel's own desk sections

ROUTES = [health, metrics, switch_language, favicon, *desk.ROUTES, *portal.ROUTES]
