"""The OCDS publication API (/api/ocds/…): what a third party reads to follow every tender."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Response

from tenderhall.db import RequestSession, run
from tenderhall.errors import NotFound
from tenderhall.settings import Settings
from trading import ocds


class OcdsApi(Controller):
    """Open Contracting Data Standard 1.1 publication: release packages, records, a change feed."""

    path = "/api/ocds"
    tags = ["ocds"]  # noqa: RUF012

    @get("/releases", summary="Release package, newest first, paged", cache=False)
    async def releases(
        self,
        request: Request[Any, Any, Any],
        session: RequestSession,
        settings: Settings,
        page: int = Parameter(default=1, ge=1, le=100_000),
        page_size: int = Parameter(default=100, ge=1, le=1000),
        ocid: str | None = None,
    ) -> Response[dict[str, Any]]:
        rows = await run(
            session,
            ocds.list_releases,
            limit=page_size + 1,
            ocid=ocid,
            descending=True,
            offset=(page - 1) * page_size,
        )
        base = settings.base_url.rstrip("/") + "/api/ocds/releases"
        extra = {"ocid": ocid} if ocid else {}
        nxt = (
            f"{base}?{urlencode({**extra, 'page': page + 1, 'page_size': page_size})}"
            if len(rows) > page_size
            else None
        )
        prev = (
            f"{base}?{urlencode({**extra, 'page': page - 1, 'page_size': page_size})}" if page > 1 else None
        )
        if not rows[:page_size]:
            raise NotFound("没有发布记录", "No releases on this page")
        uri = f"{base}?{urlencode({**extra, 'page': page, 'page_size': page_size})}"
        return Response(ocds.release_package(settings, rows[:page_size], uri, next_url=nxt, prev_url=prev))

    @get("/records/{ocid:str}", summary="Record package with the compiled release", cache=False)
    async def record(
        self, session: RequestSession, settings: Settings, ocid: str
    ) -> Response[dict[str, Any]]:
        rows = await run(session, ocds.list_releases, ocid=ocid, limit=100_000)
        if not rows:
            raise NotFound(f"没有开放合同编号为 {ocid} 的记录", f"No record with ocid {ocid}")
        uri = f"{settings.base_url.rstrip('/')}/api/ocds/records/{ocid}"
        return Response(ocds.record_package(settings, ocid, rows, uri))

    @get("/changes", summary="Change feed: releases after a cursor, oldest first", cache=False)
    async def changes(
        self,
        session: RequestSession,
        settings: Settings,
        since: int = Parameter(default=0, ge=0),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> Response[dict[str, Any]]:
        rows = await run(session, ocds.list_releases, after_id=since, limit=limit)
        base = settings.base_url.rstrip("/") + "/api/ocds/changes"
        cursor = rows[-1].id if rows else since
        body: dict[str, Any] = {"cursor": cursor, "next": f"{base}?since={cursor}&limit={limit}"}
        if rows:
            body["package"] = ocds.release_package(settings, rows, f"{base}?since={since}&limit={limit}")
        return Response(body)
