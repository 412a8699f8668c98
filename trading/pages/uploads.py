"""The document upload form of the staff tender page.

A browser form posts multipart, and the CSRF check reads the form before the handler runs, so
the body limit has to be the route's own: ``upload_page(settings)`` builds the route from the
settings ``create_app`` was given (the document limit plus room for the form's other fields).
Over it, the request is refused with 413 before anything is stored; a file over the document
limit within it is refused by the blob store, which keeps nothing. On a published tender an
upload publishes an amendment, so it needs the confirmation panel's ``confirmed=yes`` like every
other public act. The API upload
(/api/trading/tenders/{id}/documents) streams a raw body in constant memory instead.
"""

from __future__ import annotations

import anyio.to_thread
from litestar import post
from litestar.datastructures import UploadFile
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect

from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobRef, BlobStore
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect
from trading.api.common import STAFF
from trading.models import TenderState
from trading.pages.acts import confirmed
from trading.pages.common import Multipart
from trading.pages.forms import version
from trading.service import documents

FORM_OVERHEAD_BYTES = 1024 * 1024  # the form's other fields and the multipart framing


async def manage_upload(
    session: RequestSession, principal: Principal, settings: Settings, tender_id: int, data: Multipart
) -> Redirect:
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("请选择要上传的文件", "Choose a file to upload")
    name = documents.check_upload(settings, upload.filename or "")
    reason = str(data.get("reason") or "") or None
    tender = await run(
        session, documents.require_document_upload, principal, tender_id, amendment_reason=reason
    )
    if tender.state != TenderState.draft:
        confirmed(data)  # on a published tender the upload publishes an amendment: asked first
    store = BlobStore(settings.blob_dir)

    def write() -> BlobRef:
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
        expected_version=version(data),
    )
    return redirect(f"/manage/tenders/{tender_id}#documents", flash=pick(f"已上传 {name}", "Uploaded"))


def upload_page(settings: Settings) -> HTTPRouteHandler:
    """The upload route, its body limit taken from ``settings``."""
    return post(
        "/manage/tenders/{tender_id:int}/documents",
        guards=STAFF,
        include_in_schema=False,
        request_max_body_size=settings.trading.document_max_bytes + FORM_OVERHEAD_BYTES,
    )(manage_upload)
