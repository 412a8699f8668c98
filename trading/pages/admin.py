"""Admin pages: the procedure settings and the register of organisations."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from tenderhall.auth.guards import requires
from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.pages.common import LABELS, Form
from trading.pages.forms import integer
from trading.schemas import OrganisationIn, ProcedureSettingsIn
from trading.service import organisations, procedures


@get("/manage/procedures", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def procedures_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    rows = await run(session, procedures.all_procedure_settings, settings)
    return render(request, "trading/procedures.html", L=LABELS, rows=rows)


@post("/manage/procedures/{method:str}", guards=[requires(Role.admin)], include_in_schema=False)
async def procedures_update(
    session: RequestSession, principal: Principal, settings: Settings, method: str, data: Form
) -> Redirect:
    values = ProcedureSettingsIn(
        **{
            k: integer(data.get(k), k, k)
            for k in (
                "min_tender_days",
                "min_valid_bids",
                "clarification_cutoff_days",
                "publicity_days",
                "decryption_window_minutes",
                "objection_window_minutes",
            )
        }
    )
    await run(session, procedures.update_procedure_settings, principal, settings, method, values)
    return redirect("/manage/procedures", flash=pick("已保存", "Saved"))


@get("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def organisations_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    rows = await run(session, organisations.list_organisations)
    return render(request, "trading/organisations.html", rows=rows, kinds=list(OrgKind))


@post("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False)
async def organisations_create(session: RequestSession, principal: Principal, data: Form) -> Redirect:
    org = await run(
        session,
        organisations.create_organisation,
        principal,
        OrganisationIn(
            credit_code=data.get("credit_code", ""),
            name=data.get("name", ""),
            kind=data.get("kind", ""),
            region=data.get("region", ""),
            address=data.get("address", ""),
            contact_phone=data.get("contact_phone", ""),
        ),
    )
    return redirect("/manage/organisations", flash=pick(f"已登记 {org.name}", "Registered"))


ADMIN_PAGES = [procedures_page, procedures_update, organisations_page, organisations_create]
