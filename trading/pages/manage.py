"""The staff pages under /manage for a tender's tenderee or mandated agency: the list and the
draft form. The acts on a tender (publish, amend, …) are in ``trading.pages.acts``; the document
upload form in ``trading.pages.uploads``.

A form that a rule refuses comes back with every error beside its field and the values as typed
(``form_again``); the refused submission's transaction was rolled back.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError
from tenderhall.labels import options
from tenderhall.settings import Settings
from tenderhall.web.forms import form_again
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading import regions
from trading.api.common import STAFF
from trading.models import Category, TenderState
from trading.pages.common import Form
from trading.pages.forms import TENDER_FORM_NAMES, lot_rows, on_form, tender_fields_from, version
from trading.pages.tender_form import TENDER_INPUTS, form_context
from trading.service import drafting, staff_views
from trading.service.checks import RuleCheck


@get("/manage/tenders", guards=STAFF, include_in_schema=False, cache=False)
async def manage_list(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    listing = staff_views.managed_listing(request.query_params)
    items, listing = await run(session, staff_views.managed_list, principal, listing)
    return render(
        request,
        "trading/manage_list.html",
        items=items,
        listing=listing,
        state_choices=options(TenderState),
        category_choices=options(Category),
        region_label=regions.label,
        TenderState=TenderState,
        Category=Category,
    )


@get("/manage/tenders/new", guards=STAFF, include_in_schema=False, cache=False)
async def manage_new(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    ctx = await run(session, staff_views.form_choices, principal)
    return render(request, "trading/manage_form.html", **form_context({"t": None, **ctx}))


def _refused(request: Request[Any, Any, Any], exc: AppError, data: Form, ctx: dict[str, Any]) -> Template:
    names = {**TENDER_FORM_NAMES, **lot_rows(data)}
    return form_again(
        request,
        on_form(exc, names),
        "trading/manage_form.html",
        data,
        fields=TENDER_INPUTS,
        **form_context(ctx, data),
    )


@post("/manage/tenders", guards=STAFF, include_in_schema=False)
async def manage_create(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    data: Form,
) -> Response[Any]:
    check = RuleCheck()
    fields = tender_fields_from(data, check)
    try:
        t = await run(session, drafting.create_tender, principal, settings, fields, check=check)
    except AppError as exc:
        ctx = await run(session, staff_views.form_choices, principal)
        return _refused(request, exc, data, {"t": None, **ctx})
    return redirect(f"/manage/tenders/{t.id}", flash=pick("草稿已保存", "Draft saved"))


@get("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False, cache=False)
async def manage_edit(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    data = await run(session, staff_views.edit_form, principal, tender_id)
    return render(request, "trading/manage_form.html", **form_context(data))


@post("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False)
async def manage_update(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    check = RuleCheck()
    fields = tender_fields_from(data, check)
    try:
        await run(
            session,
            drafting.update_draft,
            principal,
            settings,
            tender_id,
            fields,
            expected_version=version(data),
            check=check,
        )
    except AppError as exc:
        ctx = await run(session, staff_views.edit_form, principal, tender_id)  # a stranger: 403/404
        return _refused(request, exc, data, ctx)
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("草稿已更新", "Draft updated"))


@get("/manage/tenders/{tender_id:int}", guards=STAFF, include_in_schema=False, cache=False)
async def manage_tender(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    """A tender's staff page, where saving a draft (or any act) lands."""
    data = await run(session, staff_views.managed_tender, principal, tender_id)
    return render(request, "trading/manage_tender.html", **data)


MANAGE_FORM_PAGES = [manage_list, manage_new, manage_create, manage_edit, manage_update, manage_tender]
