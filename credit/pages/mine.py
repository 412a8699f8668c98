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
from credit.pages.common import field_text, form_fields, render_page, store_upload
from credit.service import catalog, defence, repair, violations
from credit.service.subjects import owns
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect

SUBJECT_GUARD = [requires(Role.bidder, Role.agency, Role.expert)]


@get("/credit/mine", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, settings: Settings
) -> Template:
    from credit.service.standing import standing

    def go(s: Session) -> tuple[list[Violation], Any]:
        rows = violations.records_of(s, principal)
        key = f"code:{principal.credit_code}" if principal.credit_code else f"user:{principal.user_id}"
        return rows, standing(s, key, settings=settings)

    rows, st = await run(session, go)
    return render_page(request, "mine.html", rows=rows, st=st)


@get("/credit/mine/{violation_id:int}", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_detail(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, violation_id: int
) -> Template:
    def go(s: Session) -> dict[str, Any]:
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
        }

    ctx = await run(session, go)
    return render_page(request, "mine_detail.html", now=dt.datetime.now(dt.UTC), **ctx)


@post("/credit/mine/{violation_id:int}/defence", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_defence(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
) -> Redirect:
    form = await form_fields(request)
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
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
    return redirect(f"/credit/mine/{violation_id}", flash=pick("申辩已提交", "Defence submitted"))


@post("/credit/mine/{violation_id:int}/repair", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_repair(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
) -> Redirect:
    form = await form_fields(request)
    if form.get("commitment_accepted") != "on":
        raise InvalidInput("请勾选并作出公开信用承诺", "Tick the box to make the public credit commitment")
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
    upload = await store_upload(settings, form.get("file"))
    await run(
        session,
        lambda s: repair.apply_repair(
            s,
            principal,
            violation_id,
            rectification=field_text(form, "rectification"),
            commitment=field_text(form, "commitment"),
            evidence=[upload] if upload else [],
            settings=settings,
        ),
    )
    return redirect(
        f"/credit/mine/{violation_id}", flash=pick("修复申请已提交", "Repair application submitted")
    )
