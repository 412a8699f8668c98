"""Tender documents: streamed upload, recorded download, who downloaded, the announcement PDF."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Stream

from tenderhall.auth.guards import requires
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from trading.api.common import STAFF, announcement_stream, document_stream
from trading.schemas import DocumentOut, DownloadOut
from trading.service import documents, tender_access


class DocumentsApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

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
