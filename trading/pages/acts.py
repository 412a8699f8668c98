"""The acts on a tender from its staff page: publish, amend, clarify, answer, cancel, fail a lot,
re-tender. Each is public or legally binding and cannot be undone, so the page asks first (a
confirmation panel saying what happens and to whom, ``ui.confirm``) and the handler refuses a
submission that does not carry the panel's ``confirmed=yes``. A refused act shows the tender page
again with the error beside the field it names and what was typed kept.

Each form on the page prefixes its inputs (``amend_reason``, ``cancel_reason``, ``fail_7_reason``)
so that a refused one's values and errors never show in another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, post

from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError, InvalidInput
from tenderhall.settings import Settings
from tenderhall.web.forms import form_again
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect
from trading.api.common import STAFF
from trading.pages.common import Form
from trading.pages.forms import (
    AMEND_FORM_NAMES,
    amendment_changes,
    integer,
    local_datetime,
    on_form,
    prefixed,
    version,
)
from trading.service import amendments, clarifications, closing, publication, retendering, staff_views
from trading.service.checks import RuleCheck

TENDER_PAGE = "trading/manage_tender.html"


class NotConfirmed(InvalidInput):
    code = "not_confirmed"


def confirmed(data: Mapping[str, Any]) -> None:
    """Refuse (422, nothing changed) a submission that did not come from the confirmation panel."""
    if data.get("confirmed") != "yes":
        raise NotConfirmed(
            "此操作不可撤销：请在确认框中确认后再提交", "This cannot be undone: confirm it in the panel first"
        )


async def _again(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    tender_id: int,
    exc: AppError,
    data: Form,
    names: dict[str, str],
    act: str,
) -> Response[Any]:
    """The tender page again, the refused form open, its errors beside its fields."""
    ctx = await run(session, staff_views.managed_tender, principal, tender_id)  # a stranger: 403/404
    return form_again(
        request, on_form(exc, names), TENDER_PAGE, data, fields=set(names.values()), open_act=act, **ctx
    )


@post("/manage/tenders/{tender_id:int}/publish", guards=STAFF, include_in_schema=False)
async def manage_publish(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    try:
        confirmed(data)
        await run(
            session,
            publication.publish_tender,
            principal,
            settings,
            tender_id,
            expected_version=version(data),
        )
    except AppError as exc:
        return await _again(request, session, principal, tender_id, exc, data, {}, "publish")
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("招标公告已发布", "Tender notice published"))


@post("/manage/tenders/{tender_id:int}/amend", guards=STAFF, include_in_schema=False)
async def manage_amend(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    check = RuleCheck()
    changes = amendment_changes(data, check)
    try:
        confirmed(data)
        check.done()
        a = await run(
            session,
            amendments.amend_tender,
            principal,
            settings,
            tender_id,
            prefixed(data, "reason", "amend_"),
            changes,
            expected_version=version(data),
        )
    except AppError as exc:
        return await _again(request, session, principal, tender_id, exc, data, AMEND_FORM_NAMES, "amend")
    return redirect(
        f"/manage/tenders/{tender_id}",
        flash=pick(f"第{a.number}号变更公告已发布", f"Amendment no. {a.number} published"),
    )


CLARIFY_NAMES = {"text": "clarify_text", "bid_deadline_at": "clarify_new_deadline_at"}


@post("/manage/tenders/{tender_id:int}/clarifications", guards=STAFF, include_in_schema=False)
async def manage_clarify(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    try:
        confirmed(data)
        new_deadline = _deadline(prefixed(data, "new_deadline_at", "clarify_"))
        await run(
            session,
            clarifications.issue_clarification,
            principal,
            settings,
            tender_id,
            prefixed(data, "text", "clarify_"),
            new_deadline_at=new_deadline,
        )
    except AppError as exc:
        return await _again(request, session, principal, tender_id, exc, data, CLARIFY_NAMES, "clarify")
    return redirect(f"/manage/tenders/{tender_id}", flash=pick("澄清已发布", "Clarification published"))


def _deadline(value: str) -> Any:
    try:
        return local_datetime(value, "新的投标截止时间", "The new deadline")
    except AppError as exc:
        exc.extra = {**exc.extra, "field": "bid_deadline_at"}
        raise


@post("/manage/clarifications/{clarification_id:int}/answer", guards=STAFF, include_in_schema=False)
async def manage_answer(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    clarification_id: int,
    data: Form,
) -> Response[Any]:
    prefix = f"answer_{clarification_id}_"
    try:
        confirmed(data)
        new_deadline = _deadline(prefixed(data, "new_deadline_at", prefix))
        c = await run(
            session,
            clarifications.answer_question,
            principal,
            settings,
            clarification_id,
            prefixed(data, "answer", prefix),
            new_deadline_at=new_deadline,
        )
    except AppError as exc:
        tender_id = await run(session, clarifications.tender_of_question, principal, clarification_id)
        names = {"answer": prefix + "answer", "bid_deadline_at": prefix + "new_deadline_at"}
        return await _again(
            request, session, principal, tender_id, exc, data, names, f"answer-{clarification_id}"
        )
    return redirect(f"/manage/tenders/{c.tender_id}", flash=pick("答复已公开发布", "Answer published"))


@post("/manage/tenders/{tender_id:int}/cancel", guards=STAFF, include_in_schema=False)
async def manage_cancel(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    try:
        confirmed(data)
        await run(
            session,
            closing.cancel_tender,
            principal,
            settings,
            tender_id,
            prefixed(data, "reason", "cancel_"),
            expected_version=version(data),
        )
    except AppError as exc:
        return await _again(
            request, session, principal, tender_id, exc, data, {"reason": "cancel_reason"}, "cancel"
        )
    return redirect(
        f"/manage/tenders/{tender_id}",
        flash=pick("已终止招标，终止公告已发布", "Tender cancelled; the notice is published"),
    )


@post("/manage/lots/{lot_id:int}/fail", guards=STAFF, include_in_schema=False)
async def manage_fail_lot(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    lot_id: int,
    data: Form,
) -> Response[Any]:
    prefix = f"fail_{lot_id}_"
    names = {"valid_bids": prefix + "valid_bids", "reason": prefix + "reason"}
    try:
        confirmed(data)
        try:
            valid = integer(prefixed(data, "valid_bids", prefix), "有效投标数", "The number of valid bids")
        except AppError as exc:
            exc.extra = {**exc.extra, "field": "valid_bids"}
            raise
        lot = await run(
            session,
            retendering.mark_lot_failed,
            principal,
            settings,
            lot_id,
            prefixed(data, "reason", prefix),
            valid_bids=valid,
        )
    except AppError as exc:
        tender_id = await run(session, retendering.tender_of_lot, principal, lot_id)
        return await _again(request, session, principal, tender_id, exc, data, names, f"fail-{lot_id}")
    return redirect(f"/manage/tenders/{lot.tender_id}", flash=pick("已宣布流标", "Lot declared failed"))


@post("/manage/tenders/{tender_id:int}/retender", guards=STAFF, include_in_schema=False)
async def manage_retender(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    tender_id: int,
    data: Form,
) -> Response[Any]:
    try:
        confirmed(data)
        new = await run(session, retendering.retender, principal, settings, tender_id)
    except AppError as exc:
        return await _again(request, session, principal, tender_id, exc, data, {}, "retender")
    return redirect(
        f"/manage/tenders/{new.id}/edit", flash=pick("已创建重新招标草稿", "Re-tender draft created")
    )


ACT_PAGES = [
    manage_publish,
    manage_amend,
    manage_clarify,
    manage_answer,
    manage_cancel,
    manage_fail_lot,
    manage_retender,
]
