"""The staff pages under /manage for a tender's tenderee or mandated agency: the list, the draft
form, the tender's page, and every act on it (publish, amend, clarify, answer, cancel, fail a
lot, re-tender). The document upload form is in ``trading.pages.uploads``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.api.common import STAFF
from trading.pages.common import LABELS, Form
from trading.pages.forms import amendment_changes, integer, local_datetime, tender_fields_from, version
from trading.service import (
    amendments,
    clarifications,
    closing,
    drafting,
    mandates,
    publication,
    retendering,
    staff_views,
)


@get("/manage/tenders", guards=STAFF, include_in_schema=False, cache=False)
async def manage_list(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    items = await run(session, mandates.tenders_managed_by, principal)
    return render(request, "trading/manage_list.html", L=LABELS, items=items)


@get("/manage/tenders/new", guards=STAFF, include_in_schema=False, cache=False)
async def manage_new(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    ctx = await run(session, staff_views.form_choices, principal)
    return render(request, "trading/manage_form.html", L=LABELS, t=None, **ctx)


@post("/manage/tenders", guards=STAFF, include_in_schema=False)
async def manage_create(
    session: RequestSession, principal: Principal, settings: Settings, data: Form
) -> Redirect:
    fields = tender_fields_from(data)
    t = await run(session, drafting.create_tender, principal, settings, fields)
    return redirect(f"/manage/tenders/{t.id}", flash=pick("草稿已保存", "Draft saved"))


@get("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False, cache=False)
async def manage_edit(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    data = await run(session, staff_views.edit_form, principal, tender_id)
    return render(request, "trading/manage_form.html", L=LABELS, **data)


@post("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False)
async def manage_update(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    fields = tender_fields_from(data)
    await run(
        session,
        drafting.update_draft,
        principal,
        settings,
        tender_id,
        fields,
        expected_version=version(data),
    )
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("草稿已更新", "Draft updated"))


@get("/manage/tenders/{tender_id:int}", guards=STAFF, include_in_schema=False, cache=False)
async def manage_tender(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    data = await run(session, staff_views.managed_tender, principal, tender_id)
    return render(request, "trading/manage_tender.html", L=LABELS, **data)


@post("/manage/tenders/{tender_id:int}/publish", guards=STAFF, include_in_schema=False)
async def manage_publish(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    await run(
        session, publication.publish_tender, principal, settings, tender_id, expected_version=version(data)
    )
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("招标公告已发布", "Tender published"))


@post("/manage/tenders/{tender_id:int}/amend", guards=STAFF, include_in_schema=False)
async def manage_amend(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    changes = amendment_changes(data)
    a = await run(
        session,
        amendments.amend_tender,
        principal,
        settings,
        tender_id,
        data.get("reason", ""),
        changes,
        expected_version=version(data),
    )
    return redirect(
        f"/manage/tenders/{tender_id}", flash=pick(f"第{a.number}号变更公告已发布", "Amendment published")
    )


@post("/manage/tenders/{tender_id:int}/clarifications", guards=STAFF, include_in_schema=False)
async def manage_clarify(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    new_deadline = local_datetime(data.get("new_deadline_at"), "新的投标截止时间", "The new deadline")
    await run(
        session,
        clarifications.issue_clarification,
        principal,
        settings,
        tender_id,
        data.get("text", ""),
        new_deadline_at=new_deadline,
    )
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("澄清已发布", "Clarification published"))


@post("/manage/clarifications/{clarification_id:int}/answer", guards=STAFF, include_in_schema=False)
async def manage_answer(
    session: RequestSession, principal: Principal, settings: Settings, clarification_id: int, data: Form
) -> Redirect:
    new_deadline = local_datetime(data.get("new_deadline_at"), "新的投标截止时间", "The new deadline")
    c = await run(
        session,
        clarifications.answer_question,
        principal,
        settings,
        clarification_id,
        data.get("answer", ""),
        new_deadline_at=new_deadline,
    )
    return redirect(f"/manage/tenders/{c.tender_id}", flash=pick("答复已发布", "Answer published"))


@post("/manage/tenders/{tender_id:int}/cancel", guards=STAFF, include_in_schema=False)
async def manage_cancel(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    await run(
        session,
        closing.cancel_tender,
        principal,
        settings,
        tender_id,
        data.get("reason", ""),
        expected_version=version(data),
    )
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("已终止招标", "Tender cancelled"))


@post("/manage/lots/{lot_id:int}/fail", guards=STAFF, include_in_schema=False)
async def manage_fail_lot(
    session: RequestSession, principal: Principal, settings: Settings, lot_id: int, data: Form
) -> Redirect:
    valid = integer(data.get("valid_bids"), "有效投标数", "The number of valid bids")
    lot = await run(
        session,
        retendering.mark_lot_failed,
        principal,
        settings,
        lot_id,
        data.get("reason", ""),
        valid_bids=valid,
    )
    return redirect(f"/manage/tenders/{lot.tender_id}", flash=pick("已宣布流标", "Lot declared failed"))


@post("/manage/tenders/{tender_id:int}/retender", guards=STAFF, include_in_schema=False)
async def manage_retender(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int
) -> Redirect:
    new = await run(session, retendering.retender, principal, settings, tender_id)
    return redirect(
        f"/manage/tenders/{new.id}/edit", flash=pick("已创建重新招标草稿", "Re-tender draft created")
    )


MANAGE_PAGES = [
    manage_list,
    manage_new,
    manage_create,
    manage_edit,
    manage_update,
    manage_tender,
    manage_publish,
    manage_amend,
    manage_clarify,
    manage_answer,
    manage_cancel,
    manage_fail_lot,
    manage_retender,
]
