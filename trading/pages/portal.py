"""The public portal: home, search, the tender page and its files, questions, and what a bidder
sees of its own (registration, notifications). Everything works without JavaScript.

Stable element ids and field names for browser tests are listed in the templates (``id=…``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Stream, Template

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.api.common import announcement_stream, document_stream
from trading.models import Category, Method, TenderState
from trading.pages.common import LABELS, Form
from trading.service import clarifications, documents, notifications, portal, tender_access, views


@get("/", include_in_schema=False, cache=False)
async def home(request: Request[Any, Any, Any], session: RequestSession, settings: Settings) -> Template:
    data = await run(session, portal.front_page, settings)
    return render(request, "trading/home.html", TenderState=TenderState, **data)


@get("/tenders", include_in_schema=False, cache=False)
async def tender_search(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    """The public lists by category (``kind``: tender notices, amendments, results), with search,
    filters, sorting and pages; a hand-edited query falls back to the defaults, never errors."""
    listing = portal.listing_from(dict(request.query_params), settings)
    data = await run(session, portal.public_list, settings, listing)
    return render(
        request, "trading/search.html", Category=Category, Method=Method, TenderState=TenderState, **data
    )


@get("/tenders/{tender_id:int}", include_in_schema=False, cache=False)
async def tender_page(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, tender_id: int
) -> Template:
    data = await run(session, views.tender_page, principal, tender_id)
    return render(request, "trading/tender.html", L=LABELS, **data)


@get("/tenders/{tender_id:int}/announcement.pdf", include_in_schema=False)
async def announcement_page(session: RequestSession, settings: Settings, tender_id: int) -> Stream:
    t = await run(session, tender_access.get_public_tender, tender_id)
    return announcement_stream(settings, t)


@get("/documents/{document_id:int}", include_in_schema=False, opt={"writes": True})  # downloads are recorded
async def document_download(
    session: RequestSession, principal: Principal, settings: Settings, document_id: int
) -> Stream:
    d = await run(session, documents.document_for_download, principal, document_id)
    return document_stream(settings, d.sha256, d.filename, d.content_type)


@post("/tenders/{tender_id:int}/questions", guards=[requires(Role.bidder)], include_in_schema=False)
async def ask_question(session: RequestSession, principal: Principal, tender_id: int, data: Form) -> Redirect:
    await run(session, clarifications.ask_question, principal, tender_id, data.get("question", ""))
    return redirect(
        f"/tenders/{tender_id}#questions", flash=pick("问题已提交，答复将在澄清栏公布", "Question sent")
    )


@get("/register", include_in_schema=False)
async def register_form(request: Request[Any, Any, Any], settings: Settings) -> Template:
    """How a company registers: with its signing certificate, from its own computer (a browser
    page cannot sign with the certificate's key, so there is no form to fill in here)."""
    return render(request, "trading/register.html", base_url=settings.base_url)


@get("/my/notifications", guards=[requires(Role.bidder)], include_in_schema=False, cache=False)
async def my_notifications(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal
) -> Template:
    items = await run(session, notifications.notifications_for, principal)
    return render(request, "trading/notifications.html", items=items)


@post("/my/notifications/read", guards=[requires(Role.bidder)], include_in_schema=False)
async def my_notifications_read(session: RequestSession, principal: Principal) -> Redirect:
    await run(session, notifications.mark_all_read, principal)
    return redirect("/my/notifications")


PORTAL_PAGES = [
    home,
    tender_search,
    tender_page,
    announcement_page,
    document_download,
    ask_question,
    register_form,
    my_notifications,
    my_notifications_read,
]
