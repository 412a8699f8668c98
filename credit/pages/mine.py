"""A subject's own pages: its records and standing, a record's file, its defence and its repair
application."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.exceptions import RecordNotFound
from credit.models import Status, Violation
from credit.pages.common import field_text, form_fields, render_page, store_upload, template_helpers
from credit.service import catalog, defence, repair, violations
from credit.service.subjects import owns
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError, InvalidInput
from tenderhall.settings import Settings
from tenderhall.web.forms import form_again
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect

SUBJECT_GUARD = [requires(Role.bidder, Role.agency, Role.expert)]
DEFENCE_FIELDS = {"text", "file"}
REPAIR_FIELDS = {"rectification", "commitment", "commitment_accepted", "file"}


@get("/credit/mine", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, settings: Settings
) -> Template:
    from credit.service.standing import standing

    def go(s: Session) -> tuple[list[Violation], Any, dict[str, tuple[str, str]]]:
        rows = violations.records_of(s, principal)
        key = f"code:{principal.credit_code}" if principal.credit_code else f"user:{principal.user_id}"
        names = {t.code: (t.name_zh, t.name_en) for t in catalog.list_types(s)}
        return rows, standing(s, key, settings=settings), names

    rows, st, names = await run(session, go)
    return render_page(request, "mine.html", rows=rows, st=st, type_names=names)


def _mine_detail(s: Session, principal: Principal, violation_id: int) -> dict[str, Any]:
    v = violations.get_violation(s, violation_id)
    if v.status == Status.draft or not owns(principal, v.subject_key):
        raise RecordNotFound(
            f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
        )
    return {
        "v": v,
        "vt": catalog.get_type(s, v.type_code),
        "defences": defence.list_defences(s, violation_id),
        "repairs": repair.list_repairs(s, violation_id),
        "repair_from": repair.repair_possible_from(s, v),
        "now": dt.datetime.now(dt.UTC),
    }


@get("/credit/mine/{violation_id:int}", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_detail(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, violation_id: int
) -> Template:
    ctx = await run(session, _mine_detail, principal, violation_id)
    return render_page(request, "mine_detail.html", **ctx)


async def _mine_again(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    violation_id: int,
    exc: AppError,
    form: dict[str, Any],
    fields: set[str],
) -> Template:
    """The record's page again after a refused defence or repair application: each problem beside
    its field, the texts as typed (a file must be chosen again)."""
    if exc.status in (403, 404):
        raise exc
    ctx = await run(session, _mine_detail, principal, violation_id)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return form_again(
        request, exc, "credit/mine_detail.html", values, fields=fields, **template_helpers(), **ctx
    )


@post("/credit/mine/{violation_id:int}/defence", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_defence(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
) -> Redirect | Template:
    form = await form_fields(request)
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
    try:
        if not field_text(form, "text"):  # before storing the file
            raise InvalidInput("请填写申辩意见", "Write what your defence is", extra={"field": "text"})
        upload = await store_upload(settings, form.get("file"))
        await run(
            session,
            lambda s: defence.submit_defence(
                s,
                principal,
                violation_id,
                field_text(form, "text"),
                file_sha256=upload["sha256"] if upload else None,
                file_name=upload["name"] if upload else None,
            ),
        )
    except AppError as exc:
        return await _mine_again(request, session, principal, violation_id, exc, form, DEFENCE_FIELDS)
    return redirect(f"/credit/mine/{violation_id}", flash=pick("申辩已提交", "Defence submitted"))


@post("/credit/mine/{violation_id:int}/repair", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_repair(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
) -> Redirect | Template:
    form = await form_fields(request)
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
    try:
        upload = None
        if field_text(form, "rectification") and field_text(form, "commitment"):  # else refused anyway
            upload = await store_upload(settings, form.get("file"))
        await run(
            session,
            lambda s: repair.apply_repair(
                s,
                principal,
                violation_id,
                rectification=field_text(form, "rectification"),
                commitment=field_text(form, "commitment"),
                commitment_accepted=form.get("commitment_accepted") == "on",
                evidence=[upload] if upload else [],
                settings=settings,
            ),
        )
    except AppError as exc:
        return await _mine_again(request, session, principal, violation_id, exc, form, REPAIR_FIELDS)
    return redirect(
        f"/credit/mine/{violation_id}", flash=pick("修复申请已提交", "Repair application submitted")
    )
