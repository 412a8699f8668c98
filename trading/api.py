"""The trading JSON API (/api/trading/…) and the OCDS publication API (/api/ocds/…).

Handlers parse, call one service function through ``tenderhall.db.run`` and return a schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get, post, put
from litestar.params import Parameter
from litestar.response import Response, Stream
from sqlalchemy.orm import Session

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput, NotFound
from tenderhall.settings import Settings
from trading import ocds
from trading.schemas import (
    AmendmentIn,
    AmendmentOut,
    AnswerIn,
    CancelIn,
    ClarificationIn,
    DocumentOut,
    DownloadOut,
    LotFailIn,
    MandateEndIn,
    MandateIn,
    MandateOut,
    NotificationOut,
    OrganisationIn,
    OrganisationOut,
    ProcedureSettingsIn,
    ProcedureSettingsOut,
    QuestionIn,
    QuestionOut,
    RegisterBidderIn,
    RegisteredOut,
    SearchPage,
    TenderFields,
    TenderOut,
    VersionIn,
)
from trading.service import (
    amendments,
    clarifications,
    closing,
    documents,
    drafting,
    mandates,
    notifications,
    organisations,
    procedures,
    publication,
    retendering,
    tender_access,
    views,
)
from trading.service.search import SearchQuery, search_tenders

STAFF = [requires(Role.tenderee, Role.agency)]


@dataclasses.dataclass
class TenderUpdateIn(TenderFields):
    version: int | None = None


def _org_out(o: Any) -> OrganisationOut:
    return OrganisationOut(id=o.id, credit_code=o.credit_code, name=o.name, kind=str(o.kind), region=o.region)


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD：{name}", f"{name} must be a date YYYY-MM-DD") from None


def search_query(
    q: str,
    category: str,
    method: str,
    status: str,
    region: str,
    date_from: str | None,
    date_to: str | None,
    page: int,
) -> SearchQuery:
    return SearchQuery(
        q=q or "",
        category=category or "",
        method=method or "",
        status=status or "",
        region=region or "",
        date_from=_date(date_from, "date_from"),
        date_to=_date(date_to, "date_to"),
        page=max(1, page),
    )


class TradingApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    # --- organisations ---------------------------------------------------------------------------

    @post("/organisations/register", summary="Register a bidder company and its first user (public)")
    async def register(
        self, session: RequestSession, principal: Principal, data: RegisterBidderIn
    ) -> RegisteredOut:
        org, user = await run(session, organisations.register_bidder, principal, data)
        return RegisteredOut(organisation=_org_out(org), user_id=user.id, username=user.username)  # type: ignore[arg-type]

    @post("/organisations", guards=[requires(Role.admin)], summary="Register a tenderee, agency or authority")
    async def create_org(
        self, session: RequestSession, principal: Principal, data: OrganisationIn
    ) -> OrganisationOut:
        return _org_out(await run(session, organisations.create_organisation, principal, data))

    # --- mandates (委托代理) ----------------------------------------------------------------------

    @get("/mandates", guards=STAFF, summary="Mandates a tenderee granted, or an agency holds")
    async def mandates(self, session: RequestSession, principal: Principal) -> list[MandateOut]:
        return await run(session, mandates.mandates_for, principal)

    @post("/mandates", guards=[requires(Role.tenderee)], summary="A tenderee mandates an agency (委托代理)")
    async def grant_mandate(
        self, session: RequestSession, principal: Principal, data: MandateIn
    ) -> MandateOut:
        def op(s: Session) -> MandateOut:
            m = mandates.grant_mandate(
                s, principal, data.agency_org_id, tender_id=data.tender_id, note=data.note
            )
            return mandates.mandate_out(s, m)

        return await session.run_sync(op)

    @post(
        "/mandates/{mandate_id:int}/end",
        guards=[requires(Role.tenderee)],
        status_code=200,
        summary="The tenderee ends a mandate",
    )
    async def end_mandate(
        self, session: RequestSession, principal: Principal, mandate_id: int, data: MandateEndIn
    ) -> MandateOut:
        def op(s: Session) -> MandateOut:
            return mandates.mandate_out(s, mandates.end_mandate(s, principal, mandate_id, data.reason))

        return await session.run_sync(op)

    # --- tenders ---------------------------------------------------------------------------------

    @get("/tenders", summary="Public tender search", cache=False)
    async def search(
        self,
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
        page_size: int | None = Parameter(default=None, ge=1, le=100),
    ) -> SearchPage:
        query = search_query(q, category, method, status, region, date_from, date_to, page)
        return await run(session, search_tenders, settings, query, page_size=page_size)

    @get("/tenders/{tender_id:int}", summary="A tender (drafts only for its tenderee and agency)")
    async def show(self, session: RequestSession, principal: Principal, tender_id: int) -> TenderOut:
        return await run(session, views.tender_view, principal, tender_id)

    @post("/tenders", guards=STAFF, summary="Create a draft tender")
    async def create(
        self, session: RequestSession, principal: Principal, settings: Settings, data: TenderFields
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            t = drafting.create_tender(s, principal, settings, data)
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @put(
        "/tenders/{tender_id:int}", guards=STAFF, summary="Edit a draft (published tenders: amendments only)"
    )
    async def update(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: TenderUpdateIn,
    ) -> TenderOut:
        fields = TenderFields(**{f.name: getattr(data, f.name) for f in dataclasses.fields(TenderFields)})

        def op(s: Session) -> TenderOut:
            t = drafting.update_draft(
                s, principal, settings, tender_id, fields, expected_version=data.version
            )
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/tenders/{tender_id:int}/publish", guards=STAFF, status_code=200, summary="Publish a draft")
    async def publish(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: VersionIn,
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            t = publication.publish_tender(s, principal, settings, tender_id, expected_version=data.version)
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/tenders/{tender_id:int}/amendments", guards=STAFF, summary="Publish an amendment (变更公告)")
    async def amend(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: AmendmentIn,
    ) -> AmendmentOut:
        a = await run(
            session,
            amendments.amend_tender,
            principal,
            settings,
            tender_id,
            data.reason,
            data.changes,
            expected_version=data.version,
        )
        return AmendmentOut(
            id=a.id,  # type: ignore[arg-type]
            number=a.number,
            reason=a.reason,
            changes=a.changes,
            deadline_before=a.deadline_before,
            deadline_after=a.deadline_after,
            created_at=a.created_at,
        )

    @post("/tenders/{tender_id:int}/cancel", guards=STAFF, status_code=200, summary="Cancel with a reason")
    async def cancel(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: CancelIn,
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            t = closing.cancel_tender(
                s, principal, settings, tender_id, data.reason, expected_version=data.version
            )
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/lots/{lot_id:int}/fail", guards=STAFF, status_code=200, summary="Declare a lot failed (流标)")
    async def fail_lot(
        self, session: RequestSession, principal: Principal, settings: Settings, lot_id: int, data: LotFailIn
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            lot = retendering.mark_lot_failed(
                s, principal, settings, lot_id, data.reason, valid_bids=data.valid_bids
            )
            return views.tender_out(s, tender_access.get_tender(s, lot.tender_id))

        return await session.run_sync(op)

    @post(
        "/tenders/{tender_id:int}/retender", guards=STAFF, summary="Re-tender the failed lots as a new draft"
    )
    async def retender(
        self, session: RequestSession, principal: Principal, settings: Settings, tender_id: int
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            return views.tender_out(s, retendering.retender(s, principal, settings, tender_id))

        return await session.run_sync(op)

    # --- documents -------------------------------------------------------------------------------

    @post(
        "/tenders/{tender_id:int}/documents",
        guards=STAFF,
        request_max_body_size=None,  # the trading size limit is enforced while streaming
        summary="Upload a tender document (raw body, streamed); published tenders: with an amendment reason",
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        filename: str,
        name: str = "",
        document_type: str = "biddingDocuments",
        lot_id: int | None = None,
        reason: str | None = None,
        version: int | None = None,
    ) -> DocumentOut:
        declared = request.headers.get("content-length")
        clean = documents.check_upload(
            settings, filename, int(declared) if declared and declared.isdigit() else None
        )
        # 404, 403, 409 before reading the body: a refused upload stores nothing
        await run(session, documents.require_document_upload, principal, tender_id, amendment_reason=reason)
        ref = await BlobStore(settings.blob_dir).write_async_stream(
            request.stream(), max_bytes=settings.trading.document_max_bytes
        )
        d = await run(
            session,
            documents.add_document,
            principal,
            settings,
            tender_id,
            name=name,
            filename=clean,
            sha256=ref.sha256,
            size=ref.size,
            document_type=document_type,
            lot_id=lot_id,
            amendment_reason=reason,
            expected_version=version,
        )
        return DocumentOut(
            id=d.id,  # type: ignore[arg-type]
            name=d.name,
            filename=d.filename,
            version=d.version,
            document_type=d.document_type,
            sha256=d.sha256,
            size=d.size,
            uploaded_at=d.uploaded_at,
            current=True,
            lot_id=d.lot_id,
        )

    @get(
        "/documents/{document_id:int}/download",
        opt={"writes": True},  # a bidder's download is recorded
        summary="Download a tender document (bidders: recorded)",
    )
    async def download(
        self, session: RequestSession, principal: Principal, settings: Settings, document_id: int
    ) -> Stream:
        d = await run(session, documents.document_for_download, principal, document_id)
        return document_stream(settings, d.sha256, d.filename, d.content_type)

    @get("/tenders/{tender_id:int}/downloads", guards=[requires()], summary="Who downloaded (after opening)")
    async def downloads(
        self, session: RequestSession, principal: Principal, tender_id: int
    ) -> list[DownloadOut]:
        return await run(session, documents.downloads, principal, tender_id)

    @get("/tenders/{tender_id:int}/announcement.pdf", summary="The announcement PDF (招标公告)")
    async def announcement(self, session: RequestSession, settings: Settings, tender_id: int) -> Stream:
        t = await run(session, tender_access.get_public_tender, tender_id)
        return announcement_stream(settings, t)

    # --- clarifications --------------------------------------------------------------------------

    @post("/tenders/{tender_id:int}/questions", guards=[requires(Role.bidder)], summary="Ask a question")
    async def ask(
        self, session: RequestSession, principal: Principal, tender_id: int, data: QuestionIn
    ) -> dict[str, int]:
        c = await run(
            session, clarifications.ask_question, principal, tender_id, data.question, lot_id=data.lot_id
        )
        return {"id": c.id}  # type: ignore[dict-item]

    @get("/tenders/{tender_id:int}/questions", guards=STAFF, summary="Questions (the askers stay anonymous)")
    async def questions(
        self, session: RequestSession, principal: Principal, tender_id: int
    ) -> list[QuestionOut]:
        return await run(session, clarifications.questions_for_manager, principal, tender_id)

    @post("/clarifications/{clarification_id:int}/answer", guards=STAFF, status_code=200, summary="Answer")
    async def answer(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        clarification_id: int,
        data: AnswerIn,
    ) -> dict[str, Any]:
        c = await run(
            session,
            clarifications.answer_question,
            principal,
            settings,
            clarification_id,
            data.answer,
            new_deadline_at=data.new_deadline_at,
        )
        return {"id": c.id, "amendment_id": c.amendment_id}

    @post("/tenders/{tender_id:int}/clarifications", guards=STAFF, summary="Issue a clarification")
    async def clarify(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: ClarificationIn,
    ) -> dict[str, Any]:
        c = await run(
            session,
            clarifications.issue_clarification,
            principal,
            settings,
            tender_id,
            data.text,
            new_deadline_at=data.new_deadline_at,
        )
        return {"id": c.id, "amendment_id": c.amendment_id}

    @get("/notifications", guards=[requires(Role.bidder)], summary="The bidder's notifications")
    async def my_notifications(self, session: RequestSession, principal: Principal) -> list[NotificationOut]:
        return await run(session, notifications.notifications_for, principal)

    # --- procedure settings ----------------------------------------------------------------------

    @get("/procedure-settings", summary="Per-procedure rules")
    async def procedure_settings(
        self, session: RequestSession, settings: Settings
    ) -> list[ProcedureSettingsOut]:
        rows = await run(session, procedures.all_procedure_settings, settings)
        return [_proc_out(r) for r in rows]

    @put(
        "/procedure-settings/{method:str}", guards=[requires(Role.admin)], summary="Edit a procedure's rules"
    )
    async def update_procedure(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        method: str,
        data: ProcedureSettingsIn,
    ) -> ProcedureSettingsOut:
        row = await run(session, procedures.update_procedure_settings, principal, settings, method, data)
        return _proc_out(row)


def _proc_out(r: Any) -> ProcedureSettingsOut:
    return ProcedureSettingsOut(
        method=r.method,
        min_tender_days=r.min_tender_days,
        min_valid_bids=r.min_valid_bids,
        clarification_cutoff_days=r.clarification_cutoff_days,
        publicity_days=r.publicity_days,
        decryption_window_minutes=r.decryption_window_minutes,
        objection_window_minutes=r.objection_window_minutes,
    )


def document_stream(settings: Settings, sha256: str, filename: str, content_type: str) -> Stream:
    store = BlobStore(settings.blob_dir)
    if not store.exists(sha256):
        raise NotFound("文件内容不存在", "The document's content is missing from the store")
    return Stream(
        store.read_chunks(sha256),
        media_type=content_type,
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "x-content-sha256": sha256,
            "content-length": str(store.size(sha256)),
        },
    )


def announcement_stream(settings: Settings, tender: Any) -> Stream:
    if not tender.announcement_sha256 or not BlobStore(settings.blob_dir).exists(tender.announcement_sha256):
        raise NotFound(
            "招标公告PDF正在生成，请稍后再试", "The announcement PDF is being prepared; try again shortly"
        )
    store = BlobStore(settings.blob_dir)
    return Stream(
        store.read_chunks(tender.announcement_sha256),
        media_type="application/pdf",
        headers={
            "content-disposition": f"inline; filename*=UTF-8''{quote(tender.reference + '-招标公告.pdf')}"
        },
    )


class OcdsApi(Controller):
    """Open Contracting Data Standard 1.1 publication: release packages, records, a change feed."""

    path = "/api/ocds"
    tags = ["ocds"]  # noqa: RUF012

    @get("/releases", summary="Release package, newest first, paged", cache=False)
    async def releases(
        self,
        request: Request[Any, Any, Any],
        session: RequestSession,
        settings: Settings,
        page: int = Parameter(default=1, ge=1, le=100_000),
        page_size: int = Parameter(default=100, ge=1, le=1000),
        ocid: str | None = None,
    ) -> Response[dict[str, Any]]:
        rows = await run(
            session,
            ocds.list_releases,
            limit=page_size + 1,
            ocid=ocid,
            descending=True,
            offset=(page - 1) * page_size,
        )
        base = settings.base_url.rstrip("/") + "/api/ocds/releases"
        extra = {"ocid": ocid} if ocid else {}
        nxt = (
            f"{base}?{urlencode({**extra, 'page': page + 1, 'page_size': page_size})}"
            if len(rows) > page_size
            else None
        )
        prev = (
            f"{base}?{urlencode({**extra, 'page': page - 1, 'page_size': page_size})}" if page > 1 else None
        )
        if not rows[:page_size]:
            raise NotFound("没有发布记录", "No releases on this page")
        uri = f"{base}?{urlencode({**extra, 'page': page, 'page_size': page_size})}"
        return Response(ocds.release_package(settings, rows[:page_size], uri, next_url=nxt, prev_url=prev))

    @get("/records/{ocid:str}", summary="Record package with the compiled release", cache=False)
    async def record(
        self, session: RequestSession, settings: Settings, ocid: str
    ) -> Response[dict[str, Any]]:
        rows = await run(session, ocds.list_releases, ocid=ocid, limit=100_000)
        if not rows:
            raise NotFound(f"没有开放合同编号为 {ocid} 的记录", f"No record with ocid {ocid}")
        uri = f"{settings.base_url.rstrip('/')}/api/ocds/records/{ocid}"
        return Response(ocds.record_package(settings, ocid, rows, uri))

    @get("/changes", summary="Change feed: releases after a cursor, oldest first", cache=False)
    async def changes(
        self,
        session: RequestSession,
        settings: Settings,
        since: int = Parameter(default=0, ge=0),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> Response[dict[str, Any]]:
        rows = await run(session, ocds.list_releases, after_id=since, limit=limit)
        base = settings.base_url.rstrip("/") + "/api/ocds/changes"
        cursor = rows[-1].id if rows else since
        body: dict[str, Any] = {"cursor": cursor, "next": f"{base}?since={cursor}&limit={limit}"}
        if rows:
            body["package"] = ocds.release_package(settings, rows, f"{base}?since={since}&limit={limit}")
        return Response(body)
