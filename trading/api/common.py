"""What the trading API and pages share: the staff guard and the streamed file responses."""

from __future__ import annotations

from urllib.parse import quote

from litestar.response import Stream

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.blobs import BlobStore
from tenderhall.errors import NotFound
from tenderhall.settings import Settings
from trading.models import Tender

STAFF = [requires(Role.tenderee, Role.agency)]


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


def announcement_stream(settings: Settings, tender: Tender) -> Stream:
    store = BlobStore(settings.blob_dir)
    if not tender.announcement_sha256 or not store.exists(tender.announcement_sha256):
        raise NotFound(
            "招标公告PDF正在生成，请稍后再试", "The announcement PDF is being prepared; try again shortly"
        )
    return Stream(
        store.read_chunks(tender.announcement_sha256),
        media_type="application/pdf",
        headers={
            "content-disposition": f"inline; filename*=UTF-8''{quote(tender.reference + '-招标公告.pdf')}"
        },
    )
