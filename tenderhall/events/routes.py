"""``GET /events/{topic}``: a server-sent-event stream of one topic, for those who may see the
page the topic belongs to (``tenderhall.events.access``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.response import ServerSentEvent

from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession
from tenderhall.errors import AppError, Forbidden, NotFound, Unauthorized
from tenderhall.events.access import rule_for, split
from tenderhall.events.stream import LiveEvents


class NotAnEventStream(AppError):
    status = 406
    code = "not_acceptable"


def _last_id(request: Request[Any, Any, Any], after: int | None) -> int | None:
    header = request.headers.get("last-event-id", "").strip()
    if header.isdigit() and len(header) < 19:
        return int(header)  # a reconnecting browser: it resumes after the last event it saw
    return after if after is None or after >= 0 else None


@get("/events/{topic:str}", include_in_schema=False, cache=False)
async def event_stream(
    request: Request[Any, Any, Any],
    state: State,
    session: RequestSession,
    principal: Principal,
    topic: str,
    after: int | None = None,
) -> ServerSentEvent:
    """The live events of ``topic`` after ``after`` (the id a page embedded) or the
    ``Last-Event-ID`` a reconnecting browser sends."""
    rule = rule_for(topic)
    if rule is None:
        raise NotFound(f"没有名为 {topic} 的实时事件", f"There are no live events named {topic}")
    if not rule.public and principal.user_id is None:
        raise Unauthorized("请先登录", "Please sign in first")
    _, key = split(topic)
    if not await session.run_sync(rule.may_watch, principal, key):
        raise Forbidden("无权查看这些实时事件", "You may not watch these live events")
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise NotAnEventStream(
            "此地址只提供事件流（text/event-stream）",
            "This address serves an event stream (text/event-stream) only",
        )
    live: LiveEvents = state.live
    return ServerSentEvent(
        live.stream(topic, _last_id(request, after)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [event_stream]
