"""The supervisors' pages for records: the list, filing a record, a record's file with its
lifecycle actions (notify, decide, publish, correct, revoke) and repair decisions."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.models import Status, Violation, pk
from credit.pages.common import SUP_GUARD, field_text, form_fields, render_page, store_upload
from credit.service import catalog, decisions, defence, deliveries, feed, publication, repair, violations
from credit.service.subjects import ID_PURPOSE
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.keys import secret_box
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect


@get("/credit/manage", guards=SUP_GUARD, include_in_schema=False)
async def manage_list(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    status = request.query_params.get("status", "") or ""
    q = request.query_params.get("q", "") or ""
    rows = await run(session, lambda s: violations.list_records(s, status=status, limit=200, subject_q=q))
    return render_page(
        request, "manage_list.html", rows=rows, status=status, q=q, statuses=[s.value for s in Status]
    )


@get("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_new(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    types = await run(session, lambda s: catalog.list_types(s, include_inactive=False))
    p = request.query_params
    prefill = {
        k: p.get(k, "") for k in ("credit_code", "subject_name", "evidence_object_type", "evidence_object_id")
    }
    return render_page(request, "manage_new.html", types=types, prefill=prefill)


@post("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_create(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, settings: Settings
) -> Redirect:
    form = await form_fields(request)
    evidence: list[dict[str, Any]] = []
    if field_text(form, "evidence_object_type") and field_text(form, "evidence_object_id"):
        evidence.append(
            {
                "type": "object",
                "object_type": field_text(form, "evidence_object_type"),
                "object_id": field_text(form, "evidence_object_id"),
            }
        )
    upload = await store_upload(settings, form.get("evidence_file"))
    if upload:
        evidence.append(upload)
    uid = field_text(form, "user_id")

    def go(s: Session) -> tuple[Violation, bool]:
        return violations.create_violation(
            s,
            principal,
            settings,
            subject_kind=field_text(form, "subject_kind"),
            type_code=field_text(form, "type_code"),
            facts=field_text(form, "facts"),
            credit_code=field_text(form, "credit_code") or None,
            subject_name=field_text(form, "subject_name") or None,
            user_id=int(uid) if uid.isdigit() else None,
            id_number=field_text(form, "id_number") or None,
            evidence=evidence,
        )

    v, created = await run(session, go)
    msg = (
        pick("已建立违规记录草稿", "Draft record created")
        if created
        else pick("相同事实已有记录，未重复建立", "The same facts were recorded before: no duplicate created")
    )
    return redirect(f"/credit/manage/{v.id}", flash=msg)


@get("/credit/manage/{violation_id:int}", guards=SUP_GUARD, include_in_schema=False)
async def manage_detail(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings, violation_id: int
) -> Template:
    def go(s: Session) -> dict[str, Any]:
        v = violations.get_violation(s, violation_id)
        return {
            "v": v,
            "vt": catalog.get_type(s, v.type_code),
            "defences": defence.list_defences(s, pk(v)),
            "repairs": repair.list_repairs(s, pk(v)),
            "changes": feed.changes_of(s, pk(v)),
            "deliveries": deliveries.list_deliveries(s, violation_id=pk(v), limit=1000),
            "repair_from": repair.repair_possible_from(s, v),
        }

    ctx = await run(session, go)
    v = ctx["v"]
    id_number = secret_box(settings).open(v.subject_id_enc, ID_PURPOSE).decode() if v.subject_id_enc else None
    return render_page(request, "manage_detail.html", id_number=id_number, **ctx)


@post("/credit/manage/{violation_id:int}/{action:str}", guards=SUP_GUARD, include_in_schema=False)
async def manage_action(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
    action: str,
) -> Redirect:
    form = await form_fields(request)
    document = await store_upload(settings, form.get("decision_document")) if action == "decide" else None

    def go(s: Session) -> str:
        if action == "notify":
            defence.notify(s, principal, violation_id, settings)
            return pick("已告知当事人，申辩期开始", "The subject was notified; the defence period runs")
        if action == "decide":
            days = field_text(form, "publication_days")
            decisions.decide(
                s,
                principal,
                violation_id,
                outcome=field_text(form, "outcome"),
                reasons=field_text(form, "reasons"),
                decision_number=field_text(form, "decision_number") or None,
                publication_days=int(days) if days.isdigit() else None,
                decision_doc_sha256=document["sha256"] if document else None,
            )
            return pick("已作出决定", "Decision recorded")
        if action == "publish":
            publication.publish(s, principal, violation_id)
            return pick("已公示", "Published")
        if action == "amend":
            publication.amend(
                s,
                principal,
                violation_id,
                reason=field_text(form, "reason"),
                facts=field_text(form, "facts") or None,
                decision_number=field_text(form, "decision_number") or None,
            )
            return pick("已更正", "Corrected")
        if action == "revoke":
            decisions.revoke(s, principal, violation_id, reason=field_text(form, "reason"))
            return pick("已撤销", "Revoked")
        raise InvalidInput(f"未知操作：{action}", f"Unknown action: {action}")

    msg = await run(session, go)
    return redirect(f"/credit/manage/{violation_id}", flash=msg)


@post("/credit/manage/repairs/{repair_id:int}", guards=SUP_GUARD, include_in_schema=False)
async def manage_repair(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, repair_id: int
) -> Redirect:
    form = await form_fields(request)
    approve = field_text(form, "decision") == "approve"
    app = await run(
        session,
        lambda s: repair.decide_repair(
            s, principal, repair_id, approve=approve, reasons=field_text(form, "reasons")
        ),
    )
    return redirect(
        f"/credit/manage/{app.violation_id}",
        flash=pick("已准予信用修复", "Repair approved") if approve else pick("已不予修复", "Repair refused"),
    )
