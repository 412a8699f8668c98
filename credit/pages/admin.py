"""Administration pages: the delivery log with dead letters to re-send, push receivers, and the
violation catalog."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from credit.models import ChangeKind, Severity
from credit.pages.common import SUP_GUARD, field_text, form_fields, render_page
from credit.service import catalog, deliveries, receivers
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import InvalidInput
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect


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
    return render_page(
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
    return render_page(request, "catalog.html", types=types, severities=[s.value for s in Severity])


@post("/credit/manage/catalog", guards=[requires(Role.admin)], include_in_schema=False)
async def catalog_save(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Redirect:
    form = await form_fields(request)

    def num(key: str) -> int | None:
        v = field_text(form, key)
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
            field_text(form, "code"),
            name_zh=field_text(form, "name_zh") or None,
            name_en=field_text(form, "name_en") or None,
            severity=field_text(form, "severity") or None,
            points=num("points"),
            publish_min_days=num("publish_min_days"),
            publish_max_days=num("publish_max_days"),
            blacklist_at_once=form.get("blacklist_at_once") == "on",
            active=form.get("active") == "on",
        ),
    )
    return redirect("/credit/manage/catalog", flash=pick("目录已保存", "Catalog saved"))
