"""The outermost request middleware: a request id on every response and in every log line, the
request's language for messages (``i18n.current_language``), and the Prometheus request metrics,
in one ASGI layer.

One layer instead of Litestar's ``PrometheusMiddleware`` plus a request-id layer (decision 0004);
the metrics' label children are looked up once per (method, route, status).

Metrics (``GET /metrics``, see ``tenderhall.metrics``): ``tenderhall_requests_total``,
``tenderhall_request_duration_seconds`` (histogram), ``tenderhall_requests_in_progress`` and
``tenderhall_requests_errors_total`` (5xx), each
labelled by method, route template (``/api/trading/tenders/{tender_id}``, so that ids do not
explode the series) and, where known, status code.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from tenderhall.errors import DB_INT_MAX, DB_INT_MIN, NumberOutOfRange
from tenderhall.web import i18n

_LABELS = ("method", "path", "status_code")
REQUESTS = Counter("tenderhall_requests_total", "HTTP requests answered", _LABELS)
ERRORS = Counter("tenderhall_requests_errors_total", "HTTP requests answered with a 5xx status", _LABELS)
DURATION = Histogram("tenderhall_request_duration_seconds", "Time to the end of the response body", _LABELS)
IN_PROGRESS = Gauge(
    "tenderhall_requests_in_progress",
    "HTTP requests being answered",
    ("method", "path"),
    multiprocess_mode="livesum",  # across processes: the sum over the running ones
)

UNROUTED = "<unrouted>"
"""The route label of a request that matched no route (404s, say): one series for all of them."""

_finished: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}
_running: dict[tuple[str, str], Any] = {}


def _children(method: str, path: str, status: int) -> tuple[Any, Any, Any | None]:
    key = (method, path, status)
    children = _finished.get(key)
    if children is None:
        values = (method, path, str(status))
        children = (
            REQUESTS.labels(*values),
            DURATION.labels(*values),
            ERRORS.labels(*values) if status >= 500 else None,
        )
        _finished[key] = children
    return children


def _gauge(method: str, path: str) -> Any:
    gauge = _running.get((method, path))
    if gauge is None:
        gauge = _running[(method, path)] = IN_PROGRESS.labels(method, path)
    return gauge


def edge_middleware(app: ASGIApp) -> ASGIApp:
    """Litestar middleware factory (put it first in ``middleware=[…]``): route-level, so the
    route template is known when it runs."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        for param, number in (scope.get("path_params") or {}).items():
            # an id no column can hold: 422 before any guard or query (Litestar's handlers render it)
            if type(number) is int and not DB_INT_MIN <= number <= DB_INT_MAX:
                raise NumberOutOfRange(param)
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        rid_header = (b"x-request-id", rid.encode("latin-1"))
        scope.setdefault("state", {})["request_id"] = rid  # type: ignore[typeddict-item]
        method = scope["method"]  # type: ignore[typeddict-item]  # an http scope (checked above)
        path = scope.get("path_template") or UNROUTED  # type: ignore[typeddict-item]
        status = 500
        started = time.perf_counter()
        gauge = _gauge(method, path)
        gauge.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]  # type: ignore[typeddict-item]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=rid)
        i18n.current_language.set(i18n.language_of_scope(scope))
        try:
            await app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            gauge.dec()
            count, duration, errors = _children(method, path, status)
            count.inc()
            duration.observe(time.perf_counter() - started)
            if errors is not None:
                errors.inc()

    return middleware
