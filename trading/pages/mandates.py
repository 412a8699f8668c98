"""Mandates (委托代理): a tenderee grants an agency the right to run its tenders, and ends it.

Both are legal acts in the tenderee's name, so both come from a confirmation panel saying what
they do (``confirmed=yes``); a refused one shows the page again with its errors beside its fields.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError
from tenderhall.web.forms import FieldCheck, form_again, on_field
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.api.common import STAFF
from trading.pages.acts import confirmed
from trading.pages.common import Form
from trading.service import mandates, staff_views

PAGE = "trading/mandates.html"


async def _context(session: RequestSession, principal: Principal) -> dict[str, Any]:
    data = await run(session, staff_views.mandates_page, principal)
    return {**data, "agency_choices": [(a.id, f"{a.name}（{a.credit_code}）") for a in data["agencies"]]}


@get("/manage/mandates", guards=STAFF, include_in_schema=False, cache=False)
async def mandates_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    return render(request, PAGE, **await _context(session, principal))


@post("/manage/mandates", guards=[requires(Role.tenderee)], include_in_schema=False)
async def mandates_grant(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, data: Form
) -> Response[Any]:
    agency = (data.get("agency_org_id") or "").strip()
    tender = (data.get("tender_id") or "").strip()
    try:
        confirmed(data)
        check = FieldCheck()
        if not agency.isdigit():
            check.add("agency_org_id", "请选择招标代理机构", "Choose the agency")
        if tender and not tender.isdigit():
            check.add("tender_id", "招标项目编号应为数字", "The tender number must be a number")
        check.done()
        m = await run(
            session,
            mandates.grant_mandate,
            principal,
            int(agency),
            tender_id=int(tender) if tender else None,
            note=data.get("note", ""),
        )
    except AppError as exc:
        if exc.status in (409, 422) and exc.code != "not_confirmed":
            exc = on_field(exc, "agency_org_id")  # the service's refusal is about the agency chosen
        ctx = await _context(session, principal)
        return form_again(
            request, exc, PAGE, data, fields={"agency_org_id", "tender_id", "note"}, open_act="grant", **ctx
        )
    return redirect(
        "/manage/mandates", flash=pick(f"已授予委托（编号 {m.id}）", f"Mandate no. {m.id} granted")
    )


@post("/manage/mandates/{mandate_id:int}/end", guards=[requires(Role.tenderee)], include_in_schema=False)
async def mandates_end(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    mandate_id: int,
    data: Form,
) -> Response[Any]:
    reason_field = f"end_{mandate_id}_reason"
    try:
        confirmed(data)
        reason = data.get(reason_field) or data.get("reason") or ""
        await run(session, mandates.end_mandate, principal, mandate_id, reason)
    except AppError as exc:
        await run(session, mandates.own_mandate, principal, mandate_id)  # anyone else's: 404
        ctx = await _context(session, principal)
        return form_again(
            request, exc, PAGE, data, fields={reason_field}, open_act=f"end-{mandate_id}", **ctx
        )
    return redirect(
        "/manage/mandates", flash=pick(f"已终止委托（编号 {mandate_id}）", f"Mandate no. {mandate_id} ended")
    )


MANDATE_PAGES = [mandates_page, mandates_grant, mandates_end]
