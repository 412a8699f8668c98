"""Mandates (委托代理): a tenderee grants an agency the right to run its tenders, and ends it."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.api.common import STAFF
from trading.pages.common import Form
from trading.service import mandates, staff_views


@get("/manage/mandates", guards=STAFF, include_in_schema=False, cache=False)
async def mandates_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    data = await run(session, staff_views.mandates_page, principal)
    return render(request, "trading/mandates.html", **data)


@post("/manage/mandates", guards=[requires(Role.tenderee)], include_in_schema=False)
async def mandates_grant(session: RequestSession, principal: Principal, data: Form) -> Redirect:
    agency = (data.get("agency_org_id") or "").strip()
    tender = (data.get("tender_id") or "").strip()
    if not agency.isdigit():
        raise InvalidInput("请选择招标代理机构", "Choose the agency")
    if data.get("confirm") != "on":
        raise InvalidInput("请勾选确认后再授予委托", "Tick the confirmation box to grant the mandate")
    if tender and not tender.isdigit():
        raise InvalidInput("招标项目编号应为数字", "The tender number must be a number")
    m = await run(
        session,
        mandates.grant_mandate,
        principal,
        int(agency),
        tender_id=int(tender) if tender else None,
        note=data.get("note", ""),
    )
    return redirect("/manage/mandates", flash=pick(f"已授予委托 #{m.id}", "Mandate granted"))


@post("/manage/mandates/{mandate_id:int}/end", guards=[requires(Role.tenderee)], include_in_schema=False)
async def mandates_end(
    session: RequestSession, principal: Principal, mandate_id: int, data: Form
) -> Redirect:
    await run(session, mandates.end_mandate, principal, mandate_id, data.get("reason", ""))
    return redirect("/manage/mandates", flash=pick(f"已终止委托 #{mandate_id}", "Mandate ended"))


MANDATE_PAGES = [mandates_page, mandates_grant, mandates_end]
