"""Administration pages: the delivery log with dead letters to re-send, push receivers, and the
violation catalog."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.models import ChangeKind, DeliveryStatus, Severity
from credit.pages.common import SUP_GUARD, field_text, form_fields, render_page, template_helpers
from credit.service import catalog, deliveries, receivers
from credit.service.checks import Checks
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError
from tenderhall.web.forms import form_again
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect


async def _deliveries_context(request: Request[Any, Any, Any], session: RequestSession) -> dict[str, Any]:
    status = request.query_params.get("status", "") or ""

    def go(s: Session) -> tuple[list[Any], list[Any], dict[str, int]]:
        return (
            deliveries.list_deliveries(s, status=status or None, limit=300),
            receivers.list_receivers(s),
            deliveries.count_by_status(s),
        )

    rows, platforms, counts = await run(session, go)
    return {
        "rows": rows,
        "receivers": platforms,
        "status": status if status in set(DeliveryStatus) else "",
        "counts": counts,
        "kinds": [k.value for k in ChangeKind],
        "statuses": list(DeliveryStatus),
    }


@get("/credit/manage/deliveries", guards=SUP_GUARD, include_in_schema=False)
async def deliveries_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    return render_page(request, "deliveries.html", **await _deliveries_context(request, session))


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


RECEIVER_FIELDS = {"receiver_id", "name", "url", "events", "active"}


@post("/credit/manage/receivers", guards=[requires(Role.admin)], include_in_schema=False)
async def save_receiver(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect | Template:
    form = await request.form()
    rid = (form.get("receiver_id") or "").strip()
    events = [str(e) for e in form.getall("events", [])] if "events" in form else []  # none: all events

    def go(s: Session) -> None:
        check = Checks()
        if rid and not rid.isdigit():
            check.add("receiver_id", "编号应为数字", "The number is digits only")
        found = check.attempt(
            "name",
            lambda: receivers.save_receiver(
                s,
                principal,
                name=str(form.get("name") or ""),
                url=str(form.get("url") or ""),
                events=events,
                active=form.get("active") == "on",
                receiver_id=int(rid) if rid.isdigit() else None,
            ),
        )
        check.done()
        assert found is not None

    try:
        await run(session, go)
    except AppError as exc:
        values: dict[str, Any] = {k: str(form.get(k) or "") for k in ("receiver_id", "name", "url", "active")}
        ctx = await _deliveries_context(request, session)
        return form_again(
            request,
            exc,
            "credit/deliveries.html",
            values,
            fields=RECEIVER_FIELDS,
            ticked=events,
            **template_helpers(),
            **ctx,
        )
    return redirect("/credit/manage/deliveries", flash=pick("接收方已保存", "Receiver saved"))


CATALOG_FIELDS = {
    "code",
    "name_zh",
    "name_en",
    "severity",
    "points",
    "publish_min_days",
    "publish_max_days",
    "blacklist_at_once",
    "active",
}


async def _catalog_context(session: RequestSession) -> dict[str, Any]:
    types = await run(session, catalog.list_types)
    return {"types": types, "severity_enum": Severity}


@get("/credit/manage/catalog", guards=SUP_GUARD, include_in_schema=False)
async def catalog_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    return render_page(request, "catalog.html", **await _catalog_context(session))


@post("/credit/manage/catalog", guards=[requires(Role.admin)], include_in_schema=False)
async def catalog_save(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect | Template:
    form = await form_fields(request)
    check = Checks()

    def num(key: str) -> int | None:
        v = field_text(form, key)
        if not v:
            return None
        if not v.lstrip("-").isdigit():
            check.add(key, "应为整数", "A whole number, please")
            return None
        return int(v)

    numbers = {k: num(k) for k in ("points", "publish_min_days", "publish_max_days")}
    try:
        await run(
            session,
            lambda s: catalog.save_type(
                s,
                principal,
                field_text(form, "code"),
                check=check,
                name_zh=field_text(form, "name_zh") or None,
                name_en=field_text(form, "name_en") or None,
                severity=field_text(form, "severity") or None,
                blacklist_at_once=form.get("blacklist_at_once") == "on",
                active=form.get("active") == "on",
                **numbers,
            ),
        )
    except AppError as exc:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return form_again(
            request,
            exc,
            "credit/catalog.html",
            values,
            fields=CATALOG_FIELDS,
            **template_helpers(),
            **await _catalog_context(session),
        )
    return redirect("/credit/manage/catalog", flash=pick("目录已保存", "Catalog saved"))
