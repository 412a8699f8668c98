"""Kernel pages and endpoints: health, language switch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from tenderhall.db import Database, in_thread

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


@get("/lang/{code:str}", tags=["kernel"], include_in_schema=False)
async def switch_language(code: str, request: Request[Any, Any, Any]) -> Redirect:
    lang = code if code in ("zh", "en") else "zh"
    nxt = request.query_params.get("next") or "/"
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    return Redirect(path=nxt, cookies=[Cookie(key="lang", value=lang, max_age=365 * 86400, samesite="lax")])


ROUTES = [health, switch_language]
