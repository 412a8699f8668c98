"""Credit web pages: public disclosure (search, record, blacklist, company profile, statistics, CSV,
Atom feed, notice PDF), supervisor pages (records, decisions, defences, repairs, deliveries,
catalog, receivers) and subject pages (own records, defence, repair application).

Element ids and form field names are stable (a browser test relies on them)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.charts import bar_chart
from credit.config import credit_config
from credit.exceptions import RecordNotFound
from credit.models import ChangeKind, Severity, Status, Violation, pk
from credit.service import (
    catalog,
    decisions,
    defence,
    deliveries,
    disclosure,
    feed,
    publication,
    receivers,
    repair,
    search,
    violations,
)
from credit.service.evidence import describe
from credit.service.subjects import ID_PURPOSE, owns
from tenderhall import csvsafe
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.filenames import safe_filename
from tenderhall.keys import secret_box
from tenderhall.settings import Settings
from tenderhall.web.i18n import current_language, local_time, pick
from tenderhall.web.render import add_nav, redirect, render

add_nav("/credit", "信用公示", "Credit disclosure")
add_nav("/credit/blacklist", "黑名单", "Blacklist")
add_nav("/credit/manage", "信用监管", "Credit records", {Role.supervisor, Role.admin})
add_nav("/credit/mine", "我的信用", "My credit", {Role.bidder, Role.agency, Role.expert})

SUPERVISORS = (Role.supervisor, Role.admin)
STATUS_LABELS = {
    "draft": ("草稿", "Draft"),
    "notified": ("已告知", "Notified"),
    "decided": ("已决定", "Decided"),
    "published": ("公示中", "Published"),
    "expired": ("公示期满", "Expired"),
    "repaired": ("已信用修复", "Repaired"),
    "revoked": ("已撤销", "Revoked"),
}
SEVERITY_LABELS = {"minor": ("轻微", "Minor"), "general": ("一般", "General"), "serious": ("严重", "Serious")}
KIND_LABELS = {
    "company": ("企业", "Company"),
    "agency": ("招标代理", "Agency"),
    "expert": ("评标专家", "Expert"),
    "person": ("个人", "Person"),
}
CHANGE_LABELS = {
    "published": ("公示", "Published"),
    "changed": ("更正", "Changed"),
    "repaired": ("信用修复", "Repaired"),
    "expired": ("公示期满", "Expired"),
    "revoked": ("撤销", "Revoked"),
}


def label(table: dict[str, tuple[str, str]], key: Any) -> str:
    zh, en = table.get(str(key), (str(key), str(key)))
    return pick(zh, en)


def _ctx() -> dict[str, Any]:
    return {
        "status_label": lambda k: label(STATUS_LABELS, k),
        "severity_label": lambda k: label(SEVERITY_LABELS, k),
        "kind_label": lambda k: label(KIND_LABELS, k),
        "change_label": lambda k: label(CHANGE_LABELS, k),
        "evidence_label": lambda item: describe(item, current_language.get()),
    }


def _page(request: Request[Any, Any, Any], name: str, **ctx: Any) -> Template:
    return render(request, f"credit/{name}", **_ctx(), **ctx)


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD：{value}", f"Dates are YYYY-MM-DD: {value}") from None


def _query(request: Request[Any, Any, Any]) -> search.SearchQuery:
    p = request.query_params
    return search.SearchQuery(
        q=p.get("q", "") or "",
        credit_code=p.get("credit_code", "") or "",
        type_code=p.get("type", "") or "",
        severity=p.get("severity", "") or "",
        date_from=_date(p.get("date_from")),
        date_to=_date(p.get("date_to")),
        cursor=p.get("cursor", "") or "",
        limit=20,
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


def _text(form: dict[str, Any], key: str) -> str:
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


async def _store_upload(settings: Settings, upload: Any) -> dict[str, Any] | None:
    """An uploaded evidence file into the blob store; None when the form field was left empty."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    from tenderhall.blobs import BlobStore

    name = safe_filename(upload.filename, max_length=200)
    store = BlobStore(settings.blob_dir)
    limit = credit_config(settings).evidence_max_bytes
    ref = await anyio.to_thread.run_sync(lambda: store.write_stream(upload.file, max_bytes=limit))
    return {"type": "file", "sha256": ref.sha256, "name": name, "size": ref.size}


# --- public pages --------------------------------------------------------------------------------


@get("/credit", name="credit:search", include_in_schema=False)
async def search_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    query = _query(request)

    def go(s: Session) -> tuple[search.RecordPage, list[Any]]:
        return search.search_public(s, query), catalog.list_types(s)

    page, types = await run(session, go)
    args = {k: v for k, v in request.query_params.items() if k not in ("cursor", "flash", "flash_kind")}
    return _page(request, "search.html", page=page, types=types, query=query, args=args)


@get("/credit/records/{record_id:int}", include_in_schema=False)
async def record_page(request: Request[Any, Any, Any], session: RequestSession, record_id: int) -> Template:
    r = await run(session, search.public_record, record_id)
    return _page(request, "record.html", r=r)


@get("/credit/records/{record_id:int}/notice.pdf", include_in_schema=False)
async def notice_pdf(
    session: RequestSession, settings: Settings, db: Database, record_id: int
) -> Response[bytes]:
    from credit.pdf import ensure_notice, notice_number
    from tenderhall.blobs import BlobStore

    r = await run(session, search.public_record, record_id)  # published only
    store = BlobStore(settings.blob_dir)

    def build() -> tuple[str, str]:
        # built by the credit.notice job after publication; if it has not run yet, build it now
        # in a worker thread with its own transaction
        with db.unit_of_work() as s:
            v = s.get(Violation, r.id)
            assert v is not None
            return ensure_notice(s, settings, v), notice_number(v)

    sha, number = await anyio.to_thread.run_sync(build)
    data = await anyio.to_thread.run_sync(store.read_bytes, sha)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


@get("/credit/blacklist", include_in_schema=False)
async def blacklist_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    rows = await run(session, lambda s: disclosure.blacklist(s, settings=settings))
    return _page(request, "blacklist.html", rows=rows)


@get("/credit/companies/{code:str}", include_in_schema=False)
async def company_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings, code: str
) -> Template:
    profile = await run(session, lambda s: disclosure.company_profile(s, code, settings=settings))
    return _page(request, "company.html", p=profile)


@get("/credit/stats", include_in_schema=False)
async def stats_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    st = await run(session, disclosure.statistics)
    lang = current_language.get()
    by_type = bar_chart(
        [(zh if lang == "zh" else en, n) for _, zh, en, n in st.by_type],
        title=pick("按违规类型", "By type"),
    )
    by_month = bar_chart([(b.label[2:], b.value) for b in st.by_month], title=pick("按月份", "By month"))
    return _page(request, "stats.html", st=st, by_type=by_type, by_month=by_month)


CSV_HEADER = [
    "record_id",
    "subject_kind",
    "subject_name",
    "credit_code",
    "type_code",
    "type_name",
    "severity",
    "points",
    "decision_number",
    "decided_at",
    "published_at",
    "public_until",
    "facts",
    "url",
]


@get("/credit/export.csv", include_in_schema=False)
async def export_csv(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Response[bytes]:
    query = _query(request)

    def build(s: Session) -> bytes:
        buf = io.StringIO()
        w = csvsafe.writer(buf)
        w.writerow(CSV_HEADER)
        for r in search.iter_public(s, query, max_rows=50_000):
            w.writerow(
                [
                    r.id,
                    r.subject_kind,
                    r.subject_name,
                    r.credit_code or "",
                    r.type_code,
                    r.type_name_zh,
                    r.severity,
                    r.points,
                    r.decision_number or "",
                    local_time(r.decided_at, "%Y-%m-%d %H:%M:%S"),
                    local_time(r.published_at, "%Y-%m-%d %H:%M:%S"),
                    local_time(r.public_until, "%Y-%m-%d %H:%M:%S"),
                    r.facts,
                    f"{settings.base_url}/credit/records/{r.id}",
                ]
            )
        return ("\ufeff" + buf.getvalue()).encode()  # BOM: spreadsheets open it as UTF-8

    data = await run(session, build)
    return Response(
        data,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="credit-disclosure.csv"'},
    )


@get("/credit/feed.atom", include_in_schema=False)
async def atom_feed(session: RequestSession, settings: Settings) -> Response[bytes]:
    from feedgen.feed import FeedGenerator

    rows = await run(session, feed.latest_changes)
    base = settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(f"{base}/credit/feed.atom")
    fg.title("信用信息公示 · Credit disclosure — TenderHall")
    fg.link(href=f"{base}/credit/feed.atom", rel="self")
    fg.link(href=f"{base}/credit", rel="alternate")
    fg.language("zh-CN")
    fg.updated(max((c.occurred_at for c in rows), default=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    for c in reversed(rows):
        rec = c.payload
        zh, en = CHANGE_LABELS.get(str(c.kind), (str(c.kind), str(c.kind)))
        subj = rec.get("subject", {})
        t = rec.get("type", {})
        fe = fg.add_entry()
        fe.id(f"urn:tenderhall:credit:change:{c.id}")
        fe.title(f"【{zh} {en}】{subj.get('name', '')} · {t.get('name_zh') or t.get('code', '')}")
        fe.link(href=f"{base}/credit/records/{c.violation_id}")
        fe.updated(c.occurred_at)
        fe.published(c.occurred_at)
        fe.category(term=str(c.kind))
        fe.summary(
            f"{subj.get('name', '')}（{subj.get('credit_code') or subj.get('id_number_masked') or ''}）"
            f" {t.get('name_zh') or ''}，决定书文号 {rec.get('decision_number') or '—'}。"
            f"{rec.get('facts', '')}"
        )
    return Response(fg.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")


# --- supervisor pages ----------------------------------------------------------------------------

SUP_GUARD = [requires(*SUPERVISORS)]


@get("/credit/manage", guards=SUP_GUARD, include_in_schema=False)
async def manage_list(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    status = request.query_params.get("status", "") or ""
    q = request.query_params.get("q", "") or ""
    rows = await run(session, lambda s: violations.list_records(s, status=status, limit=200, subject_q=q))
    return _page(request, "manage_list.html", rows=rows, status=status, q=q, statuses=list(STATUS_LABELS))


@get("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_new(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    types = await run(session, lambda s: catalog.list_types(s, include_inactive=False))
    p = request.query_params
    prefill = {
        k: p.get(k, "") for k in ("credit_code", "subject_name", "evidence_object_type", "evidence_object_id")
    }
    return _page(request, "manage_new.html", types=types, prefill=prefill)


@post("/credit/manage/new", guards=SUP_GUARD, include_in_schema=False)
async def manage_create(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, settings: Settings
) -> Redirect:
    form = await _form(request)
    evidence: list[dict[str, Any]] = []
    if _text(form, "evidence_object_type") and _text(form, "evidence_object_id"):
        evidence.append(
            {
                "type": "object",
                "object_type": _text(form, "evidence_object_type"),
                "object_id": _text(form, "evidence_object_id"),
            }
        )
    upload = await _store_upload(settings, form.get("evidence_file"))
    if upload:
        evidence.append(upload)
    uid = _text(form, "user_id")

    def go(s: Session) -> tuple[Violation, bool]:
        return violations.create_violation(
            s,
            principal,
            settings,
            subject_kind=_text(form, "subject_kind"),
            type_code=_text(form, "type_code"),
            facts=_text(form, "facts"),
            credit_code=_text(form, "credit_code") or None,
            subject_name=_text(form, "subject_name") or None,
            user_id=int(uid) if uid.isdigit() else None,
            id_number=_text(form, "id_number") or None,
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
        vt = catalog.get_type(s, v.type_code)
        changes = feed.changes_of(s, pk(v))
        sent = deliveries.list_deliveries(s, violation_id=pk(v), limit=1000)
        return {
            "v": v,
            "vt": vt,
            "defences": defence.list_defences(s, v.id),  # type: ignore[arg-type]
            "repairs": repair.list_repairs(s, v.id),  # type: ignore[arg-type]
            "changes": changes,
            "deliveries": sent,
            "repair_from": repair.repair_possible_from(s, v),
        }

    ctx = await run(session, go)
    v = ctx["v"]
    id_number = secret_box(settings).open(v.subject_id_enc, ID_PURPOSE).decode() if v.subject_id_enc else None
    return _page(request, "manage_detail.html", id_number=id_number, **ctx)


@post("/credit/manage/{violation_id:int}/{action:str}", guards=SUP_GUARD, include_in_schema=False)
async def manage_action(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
    action: str,
) -> Redirect:
    form = await _form(request)
    document = await _store_upload(settings, form.get("decision_document")) if action == "decide" else None

    def go(s: Session) -> str:
        if action == "notify":
            defence.notify(s, principal, violation_id, settings)
            return pick("已告知当事人，申辩期开始", "The subject was notified; the defence period runs")
        if action == "decide":
            days = _text(form, "publication_days")
            decisions.decide(
                s,
                principal,
                violation_id,
                outcome=_text(form, "outcome"),
                reasons=_text(form, "reasons"),
                decision_number=_text(form, "decision_number") or None,
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
                reason=_text(form, "reason"),
                facts=_text(form, "facts") or None,
                decision_number=_text(form, "decision_number") or None,
            )
            return pick("已更正", "Corrected")
        if action == "revoke":
            decisions.revoke(s, principal, violation_id, reason=_text(form, "reason"))
            return pick("已撤销", "Revoked")
        raise InvalidInput(f"未知操作：{action}", f"Unknown action: {action}")

    msg = await run(session, go)
    return redirect(f"/credit/manage/{violation_id}", flash=msg)


@post("/credit/manage/repairs/{repair_id:int}", guards=SUP_GUARD, include_in_schema=False)
async def manage_repair(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, repair_id: int
) -> Redirect:
    form = await _form(request)
    approve = _text(form, "decision") == "approve"
    app = await run(
        session,
        lambda s: repair.decide_repair(
            s, principal, repair_id, approve=approve, reasons=_text(form, "reasons")
        ),
    )
    return redirect(
        f"/credit/manage/{app.violation_id}",
        flash=pick("已准予信用修复", "Repair approved") if approve else pick("已不予修复", "Repair refused"),
    )


@get("/credit/manage/deliveries", guards=SUP_GUARD, include_in_schema=False)
async def deliveries_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    status = request.query_params.get("status", "") or ""

    def go(s: Session) -> tuple[list[Any], list[Any], dict[str, int]]:
        return (
            deliveries.list_deliveries(s, status=status or None, limit=300),
            receivers.list_receivers(s),
            deliveries.count_by_status(s),
        )

    rows, platforms, counts = await run(session, go)
    return _page(
        request,
        "deliveries.html",
        rows=rows,
        receivers=platforms,
        status=status,
        counts=counts,
        kinds=[k.value for k in ChangeKind],
    )


@post(
    "/credit/manage/deliveries/{delivery_id:int}/resend",
    guards=[requires(Role.admin)],
    include_in_schema=False,
)
async def resend_delivery(session: RequestSession, principal: Principal, delivery_id: int) -> Redirect:
    await run(session, lambda s: deliveries.resend(s, principal, delivery_id))
    return redirect(
        "/credit/manage/deliveries?status=dead", flash=pick("已重新排队发送", "Queued for re-sending")
    )


@post("/credit/manage/receivers", guards=[requires(Role.admin)], include_in_schema=False)
async def save_receiver(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect:
    form = await request.form()
    rid = (form.get("receiver_id") or "").strip()
    events = list(form.getall("events", [])) if "events" in form else []  # none ticked: all events

    await run(
        session,
        lambda s: receivers.save_receiver(
            s,
            principal,
            name=str(form.get("name") or ""),
            url=str(form.get("url") or ""),
            events=[str(e) for e in events],
            active=form.get("active") == "on",
            receiver_id=int(rid) if rid.isdigit() else None,
        ),
    )
    return redirect("/credit/manage/deliveries", flash=pick("接收方已保存", "Receiver saved"))


@get("/credit/manage/catalog", guards=SUP_GUARD, include_in_schema=False)
async def catalog_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    types = await run(session, catalog.list_types)
    return _page(request, "catalog.html", types=types, severities=[s.value for s in Severity])


@post("/credit/manage/catalog", guards=[requires(Role.admin)], include_in_schema=False)
async def catalog_save(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect:
    form = await _form(request)

    def num(key: str) -> int | None:
        v = _text(form, key)
        if not v:
            return None
        if not v.lstrip("-").isdigit():
            raise InvalidInput(f"{key} 应为整数", f"{key} must be a whole number")
        return int(v)

    await run(
        session,
        lambda s: catalog.save_type(
            s,
            principal,
            _text(form, "code"),
            name_zh=_text(form, "name_zh") or None,
            name_en=_text(form, "name_en") or None,
            severity=_text(form, "severity") or None,
            points=num("points"),
            publish_min_days=num("publish_min_days"),
            publish_max_days=num("publish_max_days"),
            blacklist_at_once=form.get("blacklist_at_once") == "on",
            active=form.get("active") == "on",
        ),
    )
    return redirect("/credit/manage/catalog", flash=pick("目录已保存", "Catalog saved"))


# --- subject pages -------------------------------------------------------------------------------

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
    return _page(request, "mine.html", rows=rows, st=st)


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
    return _page(request, "mine_detail.html", now=dt.datetime.now(dt.UTC), **ctx)


@post("/credit/mine/{violation_id:int}/defence", guards=SUBJECT_GUARD, include_in_schema=False)
async def mine_defence(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    violation_id: int,
) -> Redirect:
    form = await _form(request)
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
    upload = await _store_upload(settings, form.get("file"))
    await run(
        session,
        lambda s: defence.submit_defence(
            s,
            principal,
            violation_id,
            _text(form, "text"),
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
    form = await _form(request)
    if form.get("commitment_accepted") != "on":
        raise InvalidInput("请勾选并作出公开信用承诺", "Tick the box to make the public credit commitment")
    await run(session, violations.require_subject, principal, violation_id)  # before storing the file
    upload = await _store_upload(settings, form.get("file"))
    await run(
        session,
        lambda s: repair.apply_repair(
            s,
            principal,
            violation_id,
            rectification=_text(form, "rectification"),
            commitment=_text(form, "commitment"),
            evidence=[upload] if upload else [],
            settings=settings,
        ),
    )
    return redirect(
        f"/credit/mine/{violation_id}", flash=pick("修复申请已提交", "Repair application submitted")
    )


PAGE_ROUTES = [
    search_page,
    record_page,
    notice_pdf,
    blacklist_page,
    company_page,
    stats_page,
    export_csv,
    atom_feed,
    manage_list,
    manage_new,
    manage_create,
    deliveries_page,
    resend_delivery,
    save_receiver,
    catalog_page,
    catalog_save,
    manage_repair,
    manage_detail,
    manage_action,
    mine_page,
    mine_detail,
    mine_defence,
    mine_repair,
]
