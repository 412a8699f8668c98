"""Tender documents: a type allow-list and a size limit checked while streaming, versions per
document name, SHA-256 shown to everyone; bidders' downloads recorded and kept from the tenderee and
the public until opening."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from tenderhall.filenames import safe_filename
from tenderhall.settings import Settings
from trading.exceptions import (
    DocumentTooLarge,
    DocumentTypeRefused,
    DownloadsHidden,
    NotYourTender,
    WrongState,
)
from trading.models import (
    AFTER_OPENING,
    DOCUMENT_TYPE_LABELS,
    OPEN_STATES,
    Document,
    DocumentDownload,
    Tender,
    TenderState,
)
from trading.schemas import DownloadOut
from trading.service.amendments import amend_tender
from trading.service.tender_access import can_manage, get_tender, require_manager
from trading.service.tender_states import state_label

#: OCDS documentType codes a tender document may carry.
DOCUMENT_TYPES = {k.value: v for k, v in DOCUMENT_TYPE_LABELS.items()}

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".dwg": "image/vnd.dwg",
    ".txt": "text/plain",
}


def clean_filename(filename: str) -> str:
    """The base name, refused (422) when empty or holding a control or bidi character."""
    return safe_filename(filename, max_length=255)


def check_upload(settings: Settings, filename: str, declared_size: int | None = None) -> str:
    """Refuse a forbidden type (415) or a declared size over the limit (413) before reading a byte.
    Returns the cleaned file name."""
    name = clean_filename(filename)
    ext = PurePosixPath(name.lower()).suffix
    allowed = [e.lower() for e in settings.trading.document_types]
    if ext not in allowed:
        raise DocumentTypeRefused(
            f"不允许上传该类型的文件（{ext or '无扩展名'}）；允许的类型：{'、'.join(allowed)}",
            f"Files of type {ext or '(no extension)'} are not accepted; allowed: {', '.join(allowed)}",
        )
    if declared_size is not None and declared_size > settings.trading.document_max_bytes:
        raise too_large(settings)
    return name


def too_large(settings: Settings) -> DocumentTooLarge:
    limit = settings.trading.document_max_bytes
    return DocumentTooLarge(
        f"文件超过大小上限（{limit // (1024 * 1024)} MB，{limit} 字节）",
        f"The file exceeds the size limit ({limit // (1024 * 1024)} MB, {limit} bytes)",
    )


def limited(chunks: Iterable[bytes], settings: Settings) -> Iterator[bytes]:
    """Pass chunks through, stopping with 413 as soon as the limit is passed (constant memory)."""
    total = 0
    limit = settings.trading.document_max_bytes
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise too_large(settings)
        if chunk:
            yield chunk


def require_document_upload(
    session: Session, actor: Principal, tender_id: int, *, amendment_reason: str | None = None
) -> Tender:
    """Everything that may refuse an upload without its bytes: the tender exists (404), the actor
    manages it (403), its state still takes documents and a published tender gives an amendment
    reason (409). Upload handlers call it before storing a byte, so a refused upload keeps none."""
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    if tender.state != TenderState.draft:
        if tender.state not in OPEN_STATES:
            z, e = state_label(tender.state)
            raise WrongState(
                f"状态规则：“{z}”状态的项目不能再修改招标文件",
                f"State rule: no document changes in state '{e}'",
            )
        if not (amendment_reason or "").strip():
            from trading.exceptions import PublishedTenderLocked

            raise PublishedTenderLocked(
                "规则：已发布项目的招标文件只能通过变更公告修改，请填写变更理由",
                "Rule: a published tender's documents change only through an amendment: give its reason",
            )
    return tender


def add_document(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    *,
    name: str,
    filename: str,
    sha256: str,
    size: int,
    document_type: str = "biddingDocuments",
    lot_id: int | None = None,
    amendment_reason: str | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Document:
    """Record a stored blob as the next version of the tender document ``name``. On a draft it is
    simply added; on a published tender only through an amendment (``amendment_reason``)."""
    now = now or utcnow()
    tender = require_document_upload(session, actor, tender_id, amendment_reason=amendment_reason)
    filename = check_upload(settings, filename, size)
    if document_type not in DOCUMENT_TYPES:
        raise InvalidInput(f"文件类别无效：{document_type!r}", f"Unknown document type {document_type!r}")
    title = (name or "").strip() or filename
    if lot_id is not None:
        from trading.models import Lot

        lot = session.get(Lot, lot_id)
        if lot is None or lot.tender_id != tender.id:
            raise InvalidInput(f"标段 {lot_id} 不属于该项目", f"Lot {lot_id} is not part of this tender")
    previous = (
        session.execute(
            sa.select(Document)
            .where(col(Document.tender_id) == tender_id, col(Document.name) == title)
            .order_by(col(Document.version).desc())  # type: ignore[attr-defined]
        )
        .scalars()
        .first()
    )
    ext = PurePosixPath(filename.lower()).suffix
    doc = Document(
        tender_id=tender_id,
        lot_id=lot_id,
        name=title,
        filename=filename,
        version=(previous.version + 1) if previous else 1,
        document_type=document_type,
        sha256=sha256,
        size=size,
        content_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
        uploaded_by_user_id=actor.user_id,
        uploaded_at=now,
    )
    if previous is not None:
        previous.superseded_at = now
    session.add(doc)
    session.flush()
    record(
        session,
        actor,
        "trading.document.add",
        "document",
        doc.id,
        f"上传招标文件：{title} 第{doc.version}版",
        {"tender_id": tender_id, "sha256": sha256, "size": size},
    )
    if tender.state != TenderState.draft:
        amend_tender(
            session,
            actor,
            settings,
            tender_id,
            amendment_reason or "",
            {},
            expected_version=expected_version,
            documents=[doc],
            now=now,
        )
    return doc


def documents_of(session: Session, tender_id: int) -> list[Document]:
    return list(
        session.execute(
            sa.select(Document)
            .where(col(Document.tender_id) == tender_id)
            .order_by(col(Document.name), col(Document.version).desc())  # type: ignore[attr-defined]
        ).scalars()
    )


def document_for_download(
    session: Session, actor: Principal, document_id: int, *, now: dt.datetime | None = None
) -> Document:
    """Check who may download, and record a bidder's download. Bidders, the tender's managers,
    supervisors and admins may download; the public sees names and SHA-256 only."""
    now = now or utcnow()
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFound(f"找不到文件 {document_id}", f"Document {document_id} does not exist")
    tender = session.get(Tender, doc.tender_id)
    assert tender is not None
    manager = can_manage(session, actor, tender)
    if tender.state == TenderState.draft and not manager:
        raise NotFound(f"找不到文件 {document_id}", f"Document {document_id} does not exist")
    if actor.user_id is None:
        raise Unauthorized(
            "下载招标文件须以投标人身份登录", "Sign in as a bidder to download tender documents"
        )
    if actor.role == Role.bidder:
        if actor.organisation_id is None:
            raise Forbidden("投标人账号未关联单位", "This bidder account has no organisation")
        session.add(
            DocumentDownload(
                document_id=doc.id,  # type: ignore[arg-type]
                tender_id=tender.id,  # type: ignore[arg-type]
                organisation_id=actor.organisation_id,  # type: ignore[arg-type]
                user_id=actor.user_id,
                downloaded_at=now,
            )
        )
        session.flush()
    elif not (manager or actor.role in (Role.supervisor, Role.admin)):
        raise Forbidden("无权下载该文件", "You may not download this document")
    return doc


def downloads(session: Session, actor: Principal, tender_id: int) -> list[DownloadOut]:
    """Who downloaded the documents: supervisors (and admins) at any time; the tender's tenderee
    and mandated agency only after opening; nobody else (other companies never)."""
    tender = get_tender(session, tender_id)
    if actor.role in (Role.supervisor, Role.admin):
        pass
    elif not can_manage(session, actor, tender):
        raise NotYourTender(
            "只有监管人员和该项目的招标人、受托代理可以查看获取招标文件的单位名单",
            "Only supervisors and this tender's tenderee or mandated agency see who downloaded the documents",
        )
    elif TenderState(tender.state) not in AFTER_OPENING:
        raise DownloadsHidden(
            "规则：开标前不公开获取招标文件的单位名单",
            "Rule: the companies that downloaded the documents are not disclosed before opening",
        )
    rows = session.execute(
        sa.select(DocumentDownload, Organisation, Document)
        .join(Organisation, col(Organisation.id) == col(DocumentDownload.organisation_id))
        .join(Document, col(Document.id) == col(DocumentDownload.document_id))
        .where(col(DocumentDownload.tender_id) == tender_id)
        .order_by(col(DocumentDownload.downloaded_at))
    ).all()
    return [
        DownloadOut(
            organisation_id=o.id,  # type: ignore[arg-type]
            organisation=o.name,
            credit_code=o.credit_code,  # type: ignore[arg-type]
            document=f"{d.name} v{d.version}",
            downloaded_at=dl.downloaded_at,
        )
        for dl, o, d in rows
    ]


def downloader_org_ids(session: Session, tender_id: int) -> list[int]:
    return list(
        session.execute(
            sa.select(col(DocumentDownload.organisation_id))
            .where(col(DocumentDownload.tender_id) == tender_id)
            .distinct()
        ).scalars()
    )
