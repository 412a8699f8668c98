"""What every credit page shares: the labels of the credit enums in both languages, rendering,
the search form's query, form fields and evidence uploads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.response import Template

from credit.models import ChangeKind, Severity, Status, SubjectKind
from credit.service import search
from credit.service.evidence import describe
from tenderhall import labels
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.errors import InvalidInput
from tenderhall.filenames import safe_filename
from tenderhall.settings import Settings
from tenderhall.web.i18n import current_language
from tenderhall.web.render import render

SUPERVISORS = (Role.supervisor, Role.admin)
SUP_GUARD = [requires(*SUPERVISORS)]


def template_helpers() -> dict[str, Any]:
    return {
        "status_label": lambda k: labels.label(k, Status),
        "severity_label": lambda k: labels.label(k, Severity),
        "kind_label": lambda k: labels.label(k, SubjectKind),
        "change_label": lambda k: labels.label(k, ChangeKind),
        "evidence_label": lambda item: describe(item, current_language.get()),
    }


def render_page(request: Request[Any, Any, Any], name: str, **ctx: Any) -> Template:
    return render(request, f"credit/{name}", **template_helpers(), **ctx)


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD：{value}", f"Dates are YYYY-MM-DD: {value}") from None


def search_query(request: Request[Any, Any, Any], settings: Settings) -> search.SearchQuery:
    """The search form's filters; pages of ``settings.credit.page_size`` records."""
    p = request.query_params
    return search.SearchQuery(
        q=p.get("q", "") or "",
        credit_code=p.get("credit_code", "") or "",
        type_code=p.get("type", "") or "",
        severity=p.get("severity", "") or "",
        date_from=parse_date(p.get("date_from")),
        date_to=parse_date(p.get("date_to")),
        cursor=p.get("cursor", "") or "",
        limit=settings.credit.page_size,
    )


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


def field_text(form: dict[str, Any], key: str) -> str:
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


async def store_upload(settings: Settings, upload: Any) -> dict[str, Any] | None:
    """An uploaded evidence file into the blob store; None when the form field was left empty."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    from tenderhall.blobs import BlobStore

    name = safe_filename(upload.filename, max_length=200)
    store = BlobStore(settings.blob_dir)
    limit = settings.credit.evidence_max_bytes
    ref = await anyio.to_thread.run_sync(lambda: store.write_stream(upload.file, max_bytes=limit))
    return {"type": "file", "sha256": ref.sha256, "name": name, "size": ref.size}
