"""Web pages: the public portal (home, search, tender page), bidder registration and notifications,
and the staff pages under /manage for tenderees and agencies. Everything works without JavaScript.

Stable element ids and field names for browser tests are listed in the templates (``id=…``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Stream, Template
from sqlalchemy.orm import Session

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings, get_settings
from tenderhall.web.i18n import SHANGHAI
from tenderhall.web.render import redirect, render
from trading import live
from trading.api import announcement_stream, document_stream, search_query
from trading.models import (
    AFTER_OPENING,
    CATEGORY_LABELS,
    EVALUATION_LABELS,
    METHOD_LABELS,
    STATE_LABELS,
    Category,
    EvaluationMethod,
    Method,
    Tender,
    TenderState,
)
from trading.schemas import (
    LotFields,
    OrganisationIn,
    ProcedureSettingsIn,
    TenderFields,
)
from trading.service import (
    clarifications,
    documents,
    mandates,
    notifications,
    organisations,
    procedures,
    search,
    tenders,
    views,
)

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
STAFF = [requires(Role.tenderee, Role.agency)]
MAX_LOT_ROWS = 5

LABELS = {
    "state": {k.value: v for k, v in STATE_LABELS.items()},
    "category": {k.value: v for k, v in CATEGORY_LABELS.items()},
    "method": {k.value: v for k, v in METHOD_LABELS.items()},
    "evaluation": {k.value: v for k, v in EVALUATION_LABELS.items()},
    "doctype": documents.DOCUMENT_TYPES,
}
PUBLIC_STATES = [s for s in TenderState if s != TenderState.draft]


# --- form parsing ----------------------------------------------------------------------------


def fen(value: str | None, zh: str, en: str, *, required: bool = False) -> int | None:
    v = (value or "").replace(",", "").strip()
    if not v:
        if required:
            raise InvalidInput(f"{zh}不能为空", f"{en} is required")
        return None
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise InvalidInput(f"{zh}应为金额（元）：{v!r}", f"{en} must be an amount in yuan: {v!r}") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{zh}最多两位小数", f"{en} has at most two decimals")
    return int(amount * 100)


def local_datetime(value: str | None, zh: str, en: str) -> dt.datetime | None:
    v = (value or "").strip()
    if not v:
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise InvalidInput(f"{zh}格式无效：{v!r}", f"{en} is not a date and time: {v!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)  # forms speak Beijing time
    return t.astimezone(dt.UTC)


def integer(value: str | None, zh: str, en: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        raise InvalidInput(f"{zh}应为整数", f"{en} must be a whole number") from None


def tender_fields_from(form: dict[str, str]) -> TenderFields:
    deadline = local_datetime(form.get("bid_deadline_at"), "投标截止时间", "The bid deadline")
    if deadline is None:
        raise InvalidInput("投标截止时间不能为空", "The bid deadline is required")
    lots = []
    for i in range(1, MAX_LOT_ROWS + 1):
        title = (form.get(f"lot_title_{i}") or "").strip()
        if title:
            budget = fen(form.get(f"lot_budget_{i}"), f"第{i}标段预算", f"Lot {i}'s budget", required=True)
            lots.append(
                LotFields(
                    title=title,
                    budget_fen=budget or 0,
                    ceiling_price_fen=fen(
                        form.get(f"lot_ceiling_{i}"), f"第{i}标段最高限价", f"Lot {i}'s ceiling price"
                    ),
                )
            )
    tenderee = (form.get("tenderee_org_id") or "").strip()
    agency = (form.get("agency_org_id") or "").strip()
    return TenderFields(
        title=form.get("title", ""),
        category=form.get("category", ""),
        method=form.get("method", ""),
        budget_fen=fen(form.get("budget_yuan"), "预算金额", "The budget", required=True) or 0,
        ceiling_price_fen=fen(form.get("ceiling_yuan"), "最高投标限价", "The ceiling price"),
        duration_days=integer(form.get("duration_days"), "工期", "The duration"),
        evaluation_method=form.get("evaluation_method", ""),
        bid_deadline_at=deadline,
        tenderee_org_id=int(tenderee) if tenderee.isdigit() else None,
        agency_org_id=int(agency) if agency.isdigit() else None,
        description=form.get("description", ""),
        announcement=form.get("announcement", ""),
        government_investment=form.get("government_investment") in ("on", "1", "true"),
        funding_source=form.get("funding_source", ""),
        region=form.get("region", ""),
        bid_bond_fen=fen(form.get("bid_bond_yuan"), "投标保证金", "The bid bond"),
        lots=lots,
    )


def _version(form: dict[str, Any]) -> int | None:
    v = str(form.get("version") or "").strip()
    return int(v) if v.isdigit() else None


# --- public portal ---------------------------------------------------------------------------


@get("/", include_in_schema=False, cache=False)
async def home(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    def load(s: Session) -> dict[str, Any]:
        return {"announcements": search.latest_announcements(s, 10), "results": search.latest_results(s, 10)}

    return render(request, "trading/home.html", L=LABELS, **await session.run_sync(load))


@get("/tenders", include_in_schema=False, cache=False)
async def tender_search(
    request: Request[Any, Any, Any],
    session: RequestSession,
    settings: Settings,
    q: str = "",
    category: str = "",
    method: str = "",
    status: str = "",
    region: str = "",
    date_from: str | None = None,
    date_to: str | None = None,
    page: int = Parameter(default=1, ge=1, le=10_000),
) -> Template:
    query = search_query(q, category, method, status, region, date_from, date_to, page)

    def load(s: Session) -> dict[str, Any]:
        return {"result": search.search_tenders(s, settings, query), "regions": search.regions(s)}

    data = await session.run_sync(load)
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "trading/search.html",
        L=LABELS,
        query=query,
        params=params,
        states=PUBLIC_STATES,
        categories=list(Category),
        methods=list(Method),
        **data,
    )


@get("/tenders/{tender_id:int}", include_in_schema=False, cache=False)
async def tender_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    def load(s: Session) -> dict[str, Any]:
        after = live.watch_from(s)  # read first: what commits after it reaches the page live
        t = views.tender_view(s, principal, tender_id)
        return {"t": t, "timeline": views.timeline(s, tender_id), "live_after": after}

    data = await session.run_sync(load)
    return render(request, "trading/tender.html", L=LABELS, **data)


@get("/tenders/{tender_id:int}/announcement.pdf", include_in_schema=False)
async def announcement_page(session: RequestSession, settings: Settings, tender_id: int) -> Stream:
    t = await run(session, tenders.get_public_tender, tender_id)
    return announcement_stream(settings, t)


@get("/documents/{document_id:int}", include_in_schema=False, opt={"writes": True})  # downloads are recorded
async def document_download(
    session: RequestSession, principal: Principal, settings: Settings, document_id: int
) -> Stream:
    d = await run(session, documents.document_for_download, principal, document_id)
    return document_stream(settings, d.sha256, d.filename, d.content_type)


@post("/tenders/{tender_id:int}/questions", guards=[requires(Role.bidder)], include_in_schema=False)
async def ask_question(session: RequestSession, principal: Principal, tender_id: int, data: Form) -> Redirect:
    await run(session, clarifications.ask_question, principal, tender_id, data.get("question", ""))
    return redirect(f"/tenders/{tender_id}#questions", flash="问题已提交，答复将在澄清栏公布 / Question sent")


@get("/register", include_in_schema=False)
async def register_form(request: Request[Any, Any, Any], settings: Settings) -> Template:
    """How a company registers: with its signing certificate, from its own computer (a browser
    page cannot sign with the certificate's key, so there is no form to fill in here)."""
    return render(request, "trading/register.html", base_url=settings.base_url)


@get("/my/notifications", guards=[requires(Role.bidder)], include_in_schema=False, cache=False)
async def my_notifications(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    items = await run(session, notifications.notifications_for, principal)
    return render(request, "trading/notifications.html", items=items)


@post("/my/notifications/read", guards=[requires(Role.bidder)], include_in_schema=False)
async def my_notifications_read(session: RequestSession, principal: Principal) -> Redirect:
    await run(session, notifications.mark_all_read, principal)
    return redirect("/my/notifications")


# --- staff pages -----------------------------------------------------------------------------


def _orgs(s: Session, kind: OrgKind) -> list[Organisation]:
    return organisations.list_organisations(s, kind)


@get("/manage/tenders", guards=STAFF, include_in_schema=False, cache=False)
async def manage_list(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    items = await run(session, mandates.tenders_managed_by, principal)
    return render(request, "trading/manage_list.html", L=LABELS, items=items)


def _form_ctx(s: Session, principal: Principal, tender: Tender | None = None) -> dict[str, Any]:
    """The form's choices: an agency picks among the tenderees that mandated it, a tenderee among
    the agencies it mandated (a tender's fixed tenderee is always offered on its own edit form)."""
    offered = mandates.mandating_organisations(s, principal)
    tenderees = offered if principal.role == Role.agency else []
    if tender is not None and tender.tenderee_org_id not in {o.id for o in tenderees}:
        own = s.get(Organisation, tender.tenderee_org_id)
        tenderees = [own, *tenderees] if own is not None else tenderees
    return {
        "tenderees": tenderees,
        "agencies": offered if principal.role == Role.tenderee else [],
        "categories": list(Category),
        "methods": list(Method),
        "evaluations": list(EvaluationMethod),
        "lot_rows": MAX_LOT_ROWS,
    }


@get("/manage/tenders/new", guards=STAFF, include_in_schema=False, cache=False)
async def manage_new(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    ctx = await run(session, _form_ctx, principal)
    return render(request, "trading/manage_form.html", L=LABELS, t=None, **ctx)


@post("/manage/tenders", guards=STAFF, include_in_schema=False)
async def manage_create(
    session: RequestSession, principal: Principal, settings: Settings, data: Form
) -> Redirect:
    fields = tender_fields_from(data)
    t = await run(session, tenders.create_tender, principal, settings, fields)
    return redirect(f"/manage/tenders/{t.id}", flash="草稿已保存 / Draft saved")


@get("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False, cache=False)
async def manage_edit(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    def load(s: Session) -> dict[str, Any]:
        t = tenders.get_tender(s, tender_id)
        tenders.require_manager(s, principal, t)
        return {"t": views.tender_out(s, t), **_form_ctx(s, principal, t)}

    return render(request, "trading/manage_form.html", L=LABELS, **await session.run_sync(load))


@post("/manage/tenders/{tender_id:int}/edit", guards=STAFF, include_in_schema=False)
async def manage_update(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    fields = tender_fields_from(data)
    await run(
        session, tenders.update_draft, principal, settings, tender_id, fields, expected_version=_version(data)
    )
    return redirect(f"/manage/tenders/{tender_id}", flash="草稿已更新 / Draft updated")


@get("/manage/tenders/{tender_id:int}", guards=STAFF, include_in_schema=False, cache=False)
async def manage_tender(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    def load(s: Session) -> dict[str, Any]:
        t = tenders.get_tender(s, tender_id)
        tenders.require_manager(s, principal, t)
        dls = documents.downloads(s, principal, tender_id) if TenderState(t.state) in AFTER_OPENING else None
        return {
            "t": views.tender_out(s, t),
            "questions": clarifications.questions_for_manager(s, principal, tender_id),
            "downloads": dls,
            "timeline": views.timeline(s, tender_id),
            "doc_types": documents.DOCUMENT_TYPES,
        }

    return render(request, "trading/manage_tender.html", L=LABELS, **await session.run_sync(load))


@post("/manage/tenders/{tender_id:int}/publish", guards=STAFF, include_in_schema=False)
async def manage_publish(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    await run(
        session, tenders.publish_tender, principal, settings, tender_id, expected_version=_version(data)
    )
    return redirect(f"/manage/tenders/{tender_id}", flash="招标公告已发布 / Tender published")


@post("/manage/tenders/{tender_id:int}/amend", guards=STAFF, include_in_schema=False)
async def manage_amend(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    changes: dict[str, Any] = {}
    for name in ("title", "description", "announcement", "bond_rule"):
        if (data.get(name) or "").strip():
            changes[name] = data[name]
    money_fields = {
        "budget_yuan": ("budget_fen", "预算金额", "The budget"),
        "ceiling_yuan": ("ceiling_price_fen", "最高投标限价", "The ceiling price"),
        "bid_bond_yuan": ("bid_bond_fen", "投标保证金", "The bid bond"),
    }
    for form_name, (field, zh, en) in money_fields.items():
        value = fen(data.get(form_name), zh, en)
        if value is not None:
            changes[field] = value
    if (data.get("duration_days") or "").strip():
        changes["duration_days"] = integer(data.get("duration_days"), "工期", "The duration")
    deadline = local_datetime(data.get("bid_deadline_at"), "投标截止时间", "The bid deadline")
    if deadline is not None:
        changes["bid_deadline_at"] = deadline
    a = await run(
        session,
        tenders.amend_tender,
        principal,
        settings,
        tender_id,
        data.get("reason", ""),
        changes,
        expected_version=_version(data),
    )
    return redirect(
        f"/manage/tenders/{tender_id}", flash=f"第{a.number}号变更公告已发布 / Amendment published"
    )


# Litestar parses a multipart form in memory: the page accepts up to the document limit (plus the
# form's overhead); the API upload (/api/trading/tenders/{id}/documents) streams in constant memory.
@post(
    "/manage/tenders/{tender_id:int}/documents",
    guards=STAFF,
    include_in_schema=False,
    request_max_body_size=get_settings().trading.document_max_bytes + 1024 * 1024,
)
async def manage_upload(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Multipart
) -> Redirect:
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("请选择要上传的文件", "Choose a file to upload")
    name = documents.check_upload(settings, upload.filename or "")
    reason = str(data.get("reason") or "") or None
    await run(session, documents.require_document_upload, principal, tender_id, amendment_reason=reason)
    store = BlobStore(settings.blob_dir)
    import anyio.to_thread

    def write() -> Any:
        upload.file.seek(0)
        return store.write_stream(upload.file, max_bytes=settings.trading.document_max_bytes)  # type: ignore[arg-type]

    try:
        ref = await anyio.to_thread.run_sync(write)
    finally:
        await upload.close()
    lot = str(data.get("lot_id") or "").strip()
    await run(
        session,
        documents.add_document,
        principal,
        settings,
        tender_id,
        name=str(data.get("name") or ""),
        filename=name,
        sha256=ref.sha256,
        size=ref.size,
        document_type=str(data.get("document_type") or "biddingDocuments"),
        lot_id=int(lot) if lot.isdigit() else None,
        amendment_reason=reason,
        expected_version=_version(data),
    )
    return redirect(f"/manage/tenders/{tender_id}#documents", flash=f"已上传 {name} / Uploaded")


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
    return redirect(f"/manage/tenders/{tender_id}", flash="澄清已发布 / Clarification published")


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
    return redirect(f"/manage/tenders/{c.tender_id}", flash="答复已发布 / Answer published")


@post("/manage/tenders/{tender_id:int}/cancel", guards=STAFF, include_in_schema=False)
async def manage_cancel(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Form
) -> Redirect:
    await run(
        session,
        tenders.cancel_tender,
        principal,
        settings,
        tender_id,
        data.get("reason", ""),
        expected_version=_version(data),
    )
    return redirect(f"/manage/tenders/{tender_id}", flash="已终止招标 / Tender cancelled")


@post("/manage/lots/{lot_id:int}/fail", guards=STAFF, include_in_schema=False)
async def manage_fail_lot(
    session: RequestSession, principal: Principal, settings: Settings, lot_id: int, data: Form
) -> Redirect:
    valid = integer(data.get("valid_bids"), "有效投标数", "The number of valid bids")
    lot = await run(
        session,
        tenders.mark_lot_failed,
        principal,
        settings,
        lot_id,
        data.get("reason", ""),
        valid_bids=valid,
    )
    return redirect(f"/manage/tenders/{lot.tender_id}", flash="已宣布流标 / Lot declared failed")


@post("/manage/tenders/{tender_id:int}/retender", guards=STAFF, include_in_schema=False)
async def manage_retender(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int
) -> Redirect:
    new = await run(session, tenders.retender, principal, settings, tender_id)
    return redirect(f"/manage/tenders/{new.id}/edit", flash="已创建重新招标草稿 / Re-tender draft created")


# --- mandates (委托代理) ---------------------------------------------------------------------


@get("/manage/mandates", guards=STAFF, include_in_schema=False, cache=False)
async def mandates_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    def load(s: Session) -> dict[str, Any]:
        return {
            "rows": mandates.mandates_for(s, principal),
            "agencies": _orgs(s, OrgKind.agency) if principal.role == Role.tenderee else [],
        }

    return render(request, "trading/mandates.html", **await session.run_sync(load))


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
    return redirect("/manage/mandates", flash=f"已授予委托 #{m.id} / Mandate granted")


@post("/manage/mandates/{mandate_id:int}/end", guards=[requires(Role.tenderee)], include_in_schema=False)
async def mandates_end(
    session: RequestSession, principal: Principal, mandate_id: int, data: Form
) -> Redirect:
    await run(session, mandates.end_mandate, principal, mandate_id, data.get("reason", ""))
    return redirect("/manage/mandates", flash=f"已终止委托 #{mandate_id} / Mandate ended")


# --- admin pages -----------------------------------------------------------------------------


@get("/manage/procedures", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def procedures_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    rows = await run(session, procedures.all_procedure_settings, settings)
    return render(request, "trading/procedures.html", L=LABELS, rows=rows)


@post("/manage/procedures/{method:str}", guards=[requires(Role.admin)], include_in_schema=False)
async def procedures_update(
    session: RequestSession, principal: Principal, settings: Settings, method: str, data: Form
) -> Redirect:
    values = ProcedureSettingsIn(
        **{
            k: integer(data.get(k), k, k)
            for k in (
                "min_tender_days",
                "min_valid_bids",
                "clarification_cutoff_days",
                "publicity_days",
                "decryption_window_minutes",
                "objection_window_minutes",
            )
        }
    )
    await run(session, procedures.update_procedure_settings, principal, settings, method, values)
    return redirect("/manage/procedures", flash="已保存 / Saved")


@get("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def organisations_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    rows = await run(session, organisations.list_organisations)
    return render(request, "trading/organisations.html", rows=rows, kinds=list(OrgKind))


@post("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False)
async def organisations_create(session: RequestSession, principal: Principal, data: Form) -> Redirect:
    org = await run(
        session,
        organisations.create_organisation,
        principal,
        OrganisationIn(
            credit_code=data.get("credit_code", ""),
            name=data.get("name", ""),
            kind=data.get("kind", ""),
            region=data.get("region", ""),
            address=data.get("address", ""),
            contact_phone=data.get("contact_phone", ""),
        ),
    )
    return redirect("/manage/organisations", flash=f"已登记 {org.name} / Registered")


PAGES = [
    home,
    tender_search,
    tender_page,
    announcement_page,
    document_download,
    ask_question,
    register_form,
    my_notifications,
    my_notifications_read,
    manage_list,
    manage_new,
    manage_create,
    manage_edit,
    manage_update,
    manage_tender,
    manage_publish,
    manage_amend,
    manage_upload,
    manage_clarify,
    manage_answer,
    manage_cancel,
    manage_fail_lot,
    manage_retender,
    mandates_page,
    mandates_grant,
    mandates_end,
    procedures_page,
    procedures_update,
    organisations_page,
    organisations_create,
]
