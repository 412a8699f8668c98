"""What every credit page shares: the labels of the credit enums in both languages, rendering,
the search form's query, form fields and evidence uploads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.response import Template

from credit.models import (
    ChangeKind,
    DeliveryState,
    DeliveryStatus,
    Outcome,
    RepairStatus,
    Severity,
    Status,
    SubjectKind,
)
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


def delivery_state(status: str, last_error: str | None) -> DeliveryState:
    """How a delivery reads: a pending one whose last attempt failed is failing."""
    if status == DeliveryStatus.pending:
        return DeliveryState.failing if last_error else DeliveryState.waiting
    return DeliveryState(status)


DELIVERY_TONES = {
    DeliveryState.waiting: "info",
    DeliveryState.failing: "danger",
    DeliveryState.delivered: "ok",
    DeliveryState.dead: "danger",
}
STATUS_TONES = {
    Status.draft: "muted",
    Status.notified: "warn",
    Status.decided: "info",
    Status.published: "danger",
    Status.expired: "muted",
    Status.repaired: "ok",
    Status.revoked: "muted",
}


def state_text(status: str, outcome: str | None) -> str:
    """A record's state as one phrase: "已决定（认定违规）" / "Decided (upheld)"."""
    text = labels.label(status, Status)
    if outcome:
        o = labels.label(outcome, Outcome)
        text += f"（{o}）" if current_language.get() != "en" else f" ({o.lower()})"
    return text


def template_helpers() -> dict[str, Any]:
    return {
        "status_label": lambda k: labels.label(k, Status),
        "status_tone": lambda k: STATUS_TONES.get(Status(k), "muted"),
        "state_text": state_text,
        "outcome_label": lambda k: labels.label(k, Outcome),
        "severity_label": lambda k: labels.label(k, Severity),
        "kind_label": lambda k: labels.label(k, SubjectKind),
        "change_label": lambda k: labels.label(k, ChangeKind),
        "repair_label": lambda k: labels.label(k, RepairStatus),
        "delivery_state": delivery_state,
        "delivery_label": lambda d: labels.label(delivery_state(d.status, d.last_error)),
        "delivery_tone": lambda d: DELIVERY_TONES[delivery_state(d.status, d.last_error)],
        "evidence_label": lambda item: describe(item, current_language.get()),
        "options": labels.options,
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


class NotConfirmed(InvalidInput):
    """An act that cannot be undone was posted without its confirmation panel's button."""

    code = "not_confirmed"


def require_confirmed(form: dict[str, Any]) -> None:
    """Refuse (422, nothing done) an irreversible act posted without ``confirmed=yes``: only the
    button inside a ``ui.confirm`` panel sends it, so one click on the opener never acts."""
    if field_text(form, "confirmed") != "yes":
        raise NotConfirmed(
            "此操作不能撤回，请在确认框中阅读后果并点击“确认”按钮",
            "This act cannot be undone: read what will happen and press the confirm button in its panel",
        )
