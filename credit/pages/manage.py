"""The supervisors' pages for records: the list, filing a record, a record's file with its
lifecycle actions (notify, decide, publish, correct, revoke) and repair decisions.

A refused form comes back with every problem beside its field and the values as typed
(``form_again``); an act that cannot be undone is confirmed first (``ui.confirm``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.models import EvidenceKind, Outcome, Severity, Status, SubjectKind, Violation, pk
from credit.pages.common import (
    SUP_GUARD,
    field_text,
    form_fields,
    render_page,
    require_confirmed,
    store_upload,
    template_helpers,
)
from credit.service import (
    catalog,
    decisions,
    defence,
    deliveries,
    feed,
    lists,
    publication,
    receivers,
    repair,
    violations,
)
from credit.service.checks import Checks
from credit.service.evidence import available_kinds, table_of
from credit.service.subjects import ID_PURPOSE
from tenderhall import labels
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run, utcnow
from tenderhall.errors import AppError, InvalidInput
from tenderhall.keys import secret_box
from tenderhall.settings import Settings
from tenderhall.web.forms import FieldError, FieldErrors, form_again
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect

NEW_FIELDS = {
    "subject_kind",
    "credit_code",
    "subject_name",
    "user_id",
    "id_number",
    "type_code",
    "facts",
    "evidence_kind",
    "evidence_object_id",
    "evidence_file",
}


@get("/credit/manage", guards=SUP_GUARD, include_in_schema=False)
async def manage_list(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    listing = lists.record_listing(request.query_params)

    def go(s: Session) -> tuple[list[Violation], Any, list[Any]]:
        rows, done = lists.records(s, listing)
        return rows, done, catalog.list_types(s)

    rows, done, types = await run(session, go)
    names = {t.code: (t.name_zh, t.name_en) for t in types}
    return render_page(
        request,
        "manage_list.html",
        rows=rows,
        listing=done,
        type_names=names,
        types_choices=[(t.code, pick(t.name_zh, t.name_en)) for t in types],
        status_enum=Status,
        severity_enum=Severity,
    )


def _new_context(types: list[Any]) -> dict[str, Any]:
    return {
        "type_choices": [
            (
                t.code,
                f"{pick(t.name_zh, t.name_en)} · {labels.label(t.severity, Severity)} · "
                + pick(f"{t.points} 分", f"{t.points} points"),
            )
            for t in types
        ],
        "evidence_kinds": labels.options(EvidenceKind, available_kinds()),
        "kind_enum": SubjectKind,
    }


@get("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_new(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    types = await run(session, lambda s: catalog.list_types(s, include_inactive=False))
    p = request.query_params
    prefill = {
        k: p.get(k, "") for k in ("credit_code", "subject_name", "evidence_kind", "evidence_object_id")
    }
    return render_page(request, "manage_new.html", prefill=prefill, **_new_context(types))


@post("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_create(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, settings: Settings
) -> Redirect | Template:
    form = await form_fields(request)
    evidence: list[dict[str, Any]] = []
    kind, oid = field_text(form, "evidence_kind"), field_text(form, "evidence_object_id")
    if kind or oid:
        # a kind without a number (or a number without a kind) is refused beside its field
        evidence.append({"type": "object", "object_type": table_of(kind) or kind, "object_id": oid})
    upload = await store_upload(settings, form.get("evidence_file"))
    if upload:
        evidence.append(upload)
    uid = field_text(form, "user_id")

    def go(s: Session) -> tuple[Violation, bool]:
        check = Checks()  # the page's own fields, then the service's: every problem at once
        if uid and not uid.isdigit():
            check.add("user_id", "专家用户编号应为数字", "The expert's user number is digits only")
        if kind and not oid:
            check.add(
                "evidence_object_id",
                "请填写所选证据对象的编号",
                "Give the number of the object chosen as evidence",
            )
        if oid and not kind:
            check.add("evidence_kind", "请选择证据对象的类别", "Choose what kind of object the evidence is")
        found = check.attempt(
            "subject_kind",
            lambda: violations.create_violation(
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
                evidence=evidence if not check else [],
            ),
        )
        # evidence the service refuses belongs beside the object's number
        check.found = [("evidence_object_id" if f == "evidence" else f, e) for f, e in check.found]
        check.done()
        assert found is not None
        return found

    try:
        v, created = await run(session, go)
    except AppError as exc:
        types = await run(session, lambda s: catalog.list_types(s, include_inactive=False))
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return form_again(
            request,
            exc,
            "credit/manage_new.html",
            values,
            fields=NEW_FIELDS,
            prefill={},
            **_new_context(types),
        )
    msg = (
        pick("已建立违规记录草稿", "Draft record created")
        if created
        else pick("相同事实已有记录，未重复建立", "The same facts were recorded before: no duplicate created")
    )
    return redirect(f"/credit/manage/{v.id}", flash=msg)


def _detail(s: Session, violation_id: int) -> dict[str, Any]:
    v = violations.get_violation(s, violation_id)
    return {
        "receiver_count": sum(1 for r in receivers.list_receivers(s) if r.active),
        "defence_open": v.defence_due_at is not None and utcnow() < v.defence_due_at,
        "outcome_enum": Outcome,
        "v": v,
        "vt": catalog.get_type(s, v.type_code),
        "defences": defence.list_defences(s, pk(v)),
        "repairs": repair.list_repairs(s, pk(v)),
        "changes": feed.changes_of(s, pk(v)),
        "deliveries": deliveries.list_deliveries(s, violation_id=pk(v), limit=1000),
        "repair_from": repair.repair_possible_from(s, v),
    }


async def _detail_page(
    request: Request[Any, Any, Any],
    session: RequestSession,
    settings: Settings,
    violation_id: int,
    *,
    failed: tuple[str, AppError, dict[str, Any]] | None = None,
) -> Template:
    ctx = await run(session, _detail, violation_id)
    v = ctx["v"]
    id_number = secret_box(settings).open(v.subject_id_enc, ID_PURPOSE).decode() if v.subject_id_enc else None
    if failed is None:
        return render_page(
            request,
            "manage_detail.html",
            id_number=id_number,
            failed_action="",
            defence_days=settings.credit.defence_days,
            **ctx,
        )
    action, exc, values = failed
    return form_again(
        request,
        exc,
        "credit/manage_detail.html",
        values,
        fields=ACTION_FIELDS.get(action, set()),
        id_number=id_number,
        failed_action=action,
        defence_days=settings.credit.defence_days,
        **template_helpers(),
        **ctx,
    )


@get("/credit/manage/{violation_id:int}", guards=SUP_GUARD, include_in_schema=False)
async def manage_detail(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings, violation_id: int
) -> Template:
    return await _detail_page(request, session, settings, violation_id)


#: The acts of a record's page, each irreversible and confirmed first.
ACTIONS = ("notify", "decide", "publish", "amend", "revoke")
#: The fields of each action's form (an error naming another field goes to the top).
ACTION_FIELDS = {
    "decide": {"outcome", "decision_number", "publication_days", "reasons", "decision_document"},
    "amend": {"amend_facts", "amend_number", "reason"},
    "revoke": {"revoke_reason"},
    "repair-approve": {"reasons_approve"},
    "repair-refuse": {"reasons_refuse"},
}
#: Form field names that differ from the service's (two forms of one page both have a reason).
RENAMED = {
    "revoke": {"reason": "revoke_reason"},
    "amend": {"facts": "amend_facts", "decision_number": "amend_number"},
}


def _renamed(exc: AppError, action: str) -> AppError:
    names = RENAMED.get(action, {})
    if isinstance(exc, FieldErrors):
        return FieldErrors([FieldError(names.get(e.field, e.field), e.zh, e.en) for e in exc.errors])
    field = exc.extra.get("field")
    if isinstance(field, str) and field in names:
        exc.extra["field"] = names[field]
    return exc


@post("/credit/manage/{violation_id:int}/{action:str}", guards=SUP_GUARD, include_in_schema=False)
async def manage_action(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
    action: str,
) -> Redirect | Template:
    form = await form_fields(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        if action not in ACTIONS:
            raise InvalidInput(f"未知操作：{action}", f"Unknown action: {action}")
        require_confirmed(form)
    except AppError as exc:
        return await _detail_page(request, session, settings, violation_id, failed=(action, exc, values))
    document = await store_upload(settings, form.get("decision_document")) if action == "decide" else None

    def go(s: Session) -> str:
        if action == "notify":
            defence.notify(s, principal, violation_id, settings)
            return pick("已告知当事人，申辩期开始", "The subject was notified; the defence period runs")
        if action == "decide":
            decisions.decide(
                s,
                principal,
                violation_id,
                outcome=field_text(form, "outcome"),
                reasons=field_text(form, "reasons"),
                decision_number=field_text(form, "decision_number") or None,
                publication_days=field_text(form, "publication_days") or None,
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
                facts=field_text(form, "amend_facts") or None,
                decision_number=field_text(form, "amend_number") or None,
            )
            return pick("已更正", "Corrected")
        if action == "revoke":
            decisions.revoke(s, principal, violation_id, reason=field_text(form, "revoke_reason"))
            return pick("已撤销", "Revoked")
        raise InvalidInput(f"未知操作：{action}", f"Unknown action: {action}")

    try:
        msg = await run(session, go)
    except AppError as exc:
        if exc.status == 404:
            raise
        return await _detail_page(
            request, session, settings, violation_id, failed=(action, _renamed(exc, action), values)
        )
    return redirect(f"/credit/manage/{violation_id}", flash=msg)


@post("/credit/manage/repairs/{repair_id:int}", guards=SUP_GUARD, include_in_schema=False)
async def manage_repair(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    repair_id: int,
) -> Redirect | Template:
    form = await form_fields(request)
    approve = field_text(form, "decision") == "approve"
    reasons = field_text(form, "reasons_approve" if approve else "reasons_refuse") or field_text(
        form, "reasons"
    )
    try:
        require_confirmed(form)
        app = await run(
            session,
            lambda s: repair.decide_repair(s, principal, repair_id, approve=approve, reasons=reasons),
        )
    except AppError as exc:
        violation_id = await run(session, lambda s: repair.violation_of_repair(s, repair_id))
        if violation_id is None or exc.status == 404:
            raise
        which = "approve" if approve else "refuse"
        if exc.extra.get("field") == "reasons":
            exc.extra["field"] = f"reasons_{which}"
        values = {f"reasons_{which}": reasons}
        action = f"repair-{which}"
        return await _detail_page(request, session, settings, violation_id, failed=(action, exc, values))
    return redirect(
        f"/credit/manage/{app.violation_id}",
        flash=pick("已准予信用修复", "Repair approved") if approve else pick("已不予修复", "Repair refused"),
    )
