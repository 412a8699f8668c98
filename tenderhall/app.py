"""``create_app(settings)``: the assembly of the kernel and every domain's routes."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from tenderhall import labels, registry
from tenderhall.auth.guards import principal_from
from tenderhall.auth.middleware import auth_middleware_factory
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, RequestSession
from tenderhall.errors import AppError, NumberOutOfRange, problem_language, validation_errors
from tenderhall.keys import csrf_secret
from tenderhall.settings import Settings
from tenderhall.web import apidocs, i18n
from tenderhall.web.edge import edge_middleware
from tenderhall.web.render import render, role_label
from tenderhall.web.security import SessionCSRFMiddleware, security_headers_hook

log = structlog.get_logger("tenderhall")


class StartupError(RuntimeError):
    """Start-up refused: one clear line naming the setting."""


def configure_logging(settings: Settings) -> None:
    """One logging path for the kernel, the domains and every library, with no secret in it.

    structlog renders its events (tracebacks as plain text, never with local variables: the
    console renderer's default, rich, prints every frame's locals, headers and passwords with
    them) and hands the line to the standard ``logging`` root, where uvicorn's, Litestar's,
    dramatiq's and SQLAlchemy's records go too. Redaction runs in both: a structlog processor on
    every field, and a record factory on every standard record (``tenderhall.redaction``)."""
    from tenderhall.redaction import install_record_factory, redact_event

    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    install_record_factory()
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger().setLevel(level)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,  # plain traceback text: no locals
        redact_event,
    ]
    processors.append(
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


# The request-scoped dependencies form chains, settings -> principal -> session and settings -> db,
# although none of them needs the one before: Litestar resolves the dependencies of one depth
# concurrently, with an anyio task group per request, which cost more than all the providers
# together (a tenth of a public search's CPU time); chained, they are resolved one after another.


async def provide_principal(request: Request[Any, Any, Any], settings: Settings) -> Principal:
    """The caller, as the auth middleware resolved it (anonymous if nobody signed in)."""
    return principal_from(request)


async def provide_session(
    state: State, request: Request[Any, Any, Any], principal: Principal
) -> RequestSession:
    """The request's session: each call through it is one transaction that commits in the thread
    that did the work (a failed commit raises, and becomes an error response). GET, HEAD and
    OPTIONS requests read only, unless their route says it writes (``opt={"writes": True}``)."""
    db: Database = state.db
    writes = request.method not in ("GET", "HEAD", "OPTIONS") or bool(request.route_handler.opt.get("writes"))
    return db.request_session(writes=writes)


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/schema"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    return _problem(request, exc)


def _problem(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    if _wants_json(request):
        return Response(
            content=exc.problem(
                instance=request.url.path, lang=problem_language(request.headers.get("accept-language"))
            ),
            status_code=exc.status,
            media_type="application/problem+json",
        )
    if exc.status == 401:
        return Redirect(path=f"/login?next={request.url.path}", status_code=303)  # type: ignore[return-value]
    return render(request, "error.html", status_code=exc.status, status=exc.status, zh=exc.zh, en=exc.en)  # type: ignore[return-value]


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = exc.detail or ""
    if isinstance(exc, ValidationException):
        errors = validation_errors(exc.extra, detail)
        fields = "; ".join(f"{e['field']}: {e['detail_en']}" for e in errors)
        fields_zh = "；".join(f"{e['field']}：{e['detail_zh']}" for e in errors)
        err = AppError(
            f"输入格式有误：{fields_zh or detail}",
            f"The input is malformed: {fields or detail}",
            status=status if status != 400 else 422,
            code="invalid_input",
            extra={"errors": errors},
        )
    elif isinstance(exc, NotAuthorizedException):
        err = AppError("请先登录", "Please sign in first", status=401, code="unauthorized")
    elif status == 403 and "csrf" in detail.lower():
        err = AppError(
            "表单已过期或缺少安全令牌（CSRF），请刷新页面后重试",
            "The form's security token (CSRF) is missing or stale: reload the page and try again",
            status=403,
            code="csrf",
        )
    elif status == 404:
        err = AppError("找不到该页面或对象", "Not found", status=404, code="not_found")
    elif status == 405:
        err = AppError("不支持该请求方法", "Method not allowed", status=405, code="method_not_allowed")
    elif status == 413:
        limit = _body_limit(request)
        err = AppError(
            "请求内容超过大小上限" + (f"（{limit} 字节）" if limit else ""),
            "The request body is over the size limit" + (f" ({limit} bytes)" if limit else ""),
            status=413,
            code="request_too_large",
        )
    elif status >= 500:
        err = AppError("服务器内部错误", "Internal server error", status=status, code="internal")
    else:
        err = AppError(detail, detail, status=status, code="http_error")
    return _problem(request, err)


def _body_limit(request: Request[Any, Any, Any]) -> int | None:
    """The body limit of the route the request was for, if it has one."""
    handler = request.scope.get("route_handler")
    return handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    rid = request.scope.get("state", {}).get("request_id", "")
    log.error("unhandled error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
    err = AppError(
        f"服务器内部错误（请求编号 {rid}）",
        f"Internal server error (request id {rid})",
        status=500,
        code="internal",
    )
    return _problem(request, err)


_INT32 = 2**31


def _out_of_range(value: Any, limit: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+-").isdigit() or len(text) > 4300:
            return False
        value = int(text)
    return isinstance(value, int) and not -limit <= value < limit


def _field_out_of_range(request: Request[Any, Any, Any], exc: Exception) -> str | None:
    """The request field whose number no column can hold: a path or query parameter, a JSON or
    form field (as parsed, when the handler read it), else the statement's bound parameter."""
    from litestar.types import Empty
    from litestar.utils.scope.state import ScopeState

    limit = 2**63
    for name, value in (request.path_params or {}).items():
        if _out_of_range(value, limit):
            return str(name)
    for name, value in request.query_params.items():
        if _out_of_range(value, limit):
            return str(name)
    state = ScopeState.from_scope(request.scope)

    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, dict):
            for k, v in value.items():
                found = walk(v, f"{path}.{k}" if path else str(k))
                if found:
                    return found
        elif isinstance(value, list):
            for i, v in enumerate(value):
                found = walk(v, f"{path}[{i}]")
                if found:
                    return found
        elif _out_of_range(value, limit):
            return path or "body"
        return None

    for parsed in (state.json, state.form):
        if parsed is not Empty:
            found = walk(parsed, "")
            if found:
                return found
    params = getattr(exc, "params", None)
    if isinstance(params, dict):  # PostgreSQL: an INTEGER column overflows at 2**31
        for key, value in params.items():
            if _out_of_range(value, _INT32):
                return re.sub(r"_\d+$", "", str(key))
    return None


def number_overflow_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A number the database cannot hold (the SQLite driver's ``OverflowError``, PostgreSQL's
    ``numeric_value_out_of_range``) is malformed input: 422 naming the field, not a 500."""
    if isinstance(exc, sa.exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) != "22003":
        return internal_error_handler(request, exc)
    return _problem(request, NumberOutOfRange(_field_out_of_range(request, exc) or "number"))


def template_dirs() -> list[Path | os.PathLike[Any] | str]:
    dirs: list[Path | os.PathLike[Any] | str] = [Path(__file__).parent / "web" / "templates"]
    for pkg in registry.DOMAINS[1:]:
        d = Path(__file__).parent.parent / pkg / "templates"
        if d.is_dir():
            dirs.append(d)
    for part in registry.KERNEL_PARTS:
        d = Path(__file__).parent / part.split(".")[1] / "templates"
        if d.is_dir():
            dirs.append(d)
    return dirs


def _setup_templates(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.globals["_"] = lambda zh, en: i18n.pick(zh, en)
    env.globals["role_label"] = role_label
    env.globals["label"] = labels.label
    env.globals["options"] = labels.options
    env.filters["local_time"] = i18n.local_time
    env.filters["iso_time"] = i18n.iso_time
    env.filters["yuan"] = i18n.yuan
    env.filters["wan"] = i18n.wan


def _reason(exc: BaseException) -> str:
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def check_services(settings: Settings, db: Database) -> None:
    """Stop start-up with one clear line naming the setting that is wrong or unreachable."""
    try:
        db.check()
    except Exception as exc:  # noqa: BLE001 - any failure to connect stops start-up
        raise StartupError(
            f"TENDERHALL_DATABASE_URL: cannot connect to the database ({_reason(exc)})"
        ) from None
    from tenderhall.jobs import broker as broker_mod

    try:
        broker_mod.check_broker(settings.broker_url)
    except Exception as exc:  # noqa: BLE001
        raise StartupError(f"TENDERHALL_BROKER_URL: cannot reach the broker ({_reason(exc)})") from None


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    run_jobs_inprocess: bool | None = None,
    check: bool = True,
) -> Litestar:
    configure_logging(settings)
    registry.import_all_models()
    registry.import_all_tasks()
    if run_jobs_inprocess is None:
        run_jobs_inprocess = settings.is_memory_broker
    # one connection per request thread, two spare, and the in-process job runtime's threads
    jobs_threads = settings.jobs.worker_threads + 3 if run_jobs_inprocess else 0
    db = db or Database(
        settings.database_url,
        request_threads=settings.request_threads,
        pool_size=settings.request_threads + 2 + jobs_threads,
    )
    if check:
        check_services(settings, db)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        import anyio.to_thread

        # Requests run their database work on Database.request_executor (REQUEST_THREADS threads);
        # anyio's own threads (file streaming, say) are capped alike (decision 0004).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        runtime = None
        if run_jobs_inprocess:
            from tenderhall.jobs.runtime import InProcessRuntime

            runtime = InProcessRuntime(settings, db)
            runtime.start()
            app.state.job_runtime = runtime
        try:
            yield
        finally:
            if runtime is not None:
                runtime.stop()
            db.dispose()

    from tenderhall.events.stream import LiveEvents

    live = LiveEvents(settings, db)

    def provide_db(settings: Settings) -> Database:
        """The database (after ``settings``: a chain, as the other request dependencies are)."""
        return db

    template_config = TemplateConfig(
        directory=template_dirs(), engine=JinjaTemplateEngine, engine_callback=_setup_templates
    )

    app = Litestar(
        route_handlers=[
            *registry.all_route_handlers(settings),
            apidocs.assets_router(),
            create_static_files_router(
                path="/static", directories=[Path(__file__).parent / "web" / "static"]
            ),
        ],
        dependencies={
            "session": Provide(provide_session),
            "principal": Provide(provide_principal),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "db": Provide(provide_db, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={
            AppError: app_error_handler,
            HTTPException: http_error_handler,
            OverflowError: number_overflow_handler,
            sa.exc.DataError: number_overflow_handler,
            Exception: internal_error_handler,
        },
        middleware=[
            edge_middleware,
            DefineMiddleware(auth_middleware_factory),
            # after auth, where Litestar's own CSRF middleware sat; bound to the session cookie,
            # exempting /api/ (Bearer only) by prefix
            DefineMiddleware(
                SessionCSRFMiddleware,
                config=CSRFConfig(
                    secret=csrf_secret(settings), cookie_name="th_csrf", cookie_secure=settings.secure_cookies
                ),
            ),
        ],
        before_send=[security_headers_hook(https=settings.is_https, connect_src=(settings.auth.agent_url,))],
        template_config=template_config,
        openapi_config=apidocs.ApiOpenAPIConfig(
            title="TenderHall API",
            version="0.1.0",
            path="/schema",
            description="公共资源交易平台 API · Public-resource trading platform API",
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            render_plugins=[apidocs.LocalSwaggerUI()],
        ),
        state=State({"db": db, "settings": settings, "live": live}),
        lifespan=[lifespan],
        plugins=[live],
        debug=settings.debug,
    )
    return app
