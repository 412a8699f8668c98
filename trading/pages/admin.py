"""Admin pages: the procedure settings and the register of organisations. A refused form comes
back with every problem beside its field, in the reader's language, with what was typed kept."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from tenderhall.auth.guards import requires
from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import DB_INT_MAX, AppError
from tenderhall.labels import options
from tenderhall.settings import Settings
from tenderhall.web.forms import FieldCheck, form_again, on_field
from tenderhall.web.i18n import pick
from tenderhall.web.render import redirect, render
from trading.models import Method
from trading.pages.common import Form
from trading.schemas import OrganisationIn, ProcedureSettingsIn
from trading.service import organisations, procedures

#: The procedure settings' columns: (name, Chinese, English).
PROCEDURE_COLUMNS = [
    ("min_tender_days", "发布至截止最少天数", "Minimum days from publication to deadline"),
    ("min_valid_bids", "最少有效投标数", "Minimum valid bids"),
    ("clarification_cutoff_days", "澄清截止天数", "Clarification cut-off (days)"),
    ("publicity_days", "候选人公示天数", "Candidate publicity (days)"),
    ("decryption_window_minutes", "解密时限（分钟）", "Decryption window (minutes)"),
    ("objection_window_minutes", "开标异议时限（分钟）", "Objection window at opening (minutes)"),
]


async def _procedures_again(
    request: Request[Any, Any, Any],
    session: RequestSession,
    settings: Settings,
    exc: AppError | None = None,
    data: Form | None = None,
    method: str = "",
) -> Template:
    rows = await run(session, procedures.all_procedure_settings, settings)
    ctx: dict[str, Any] = {"rows": rows, "cols": PROCEDURE_COLUMNS, "Method": Method}
    if exc is None:
        return render(request, "trading/procedures.html", **ctx)
    fields = {f"{method}_{name}" for name, _zh, _en in PROCEDURE_COLUMNS}
    return form_again(request, exc, "trading/procedures.html", data or {}, fields=fields, **ctx)


@get("/manage/procedures", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def procedures_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    return await _procedures_again(request, session, settings)


@post("/manage/procedures/{method:str}", guards=[requires(Role.admin)], include_in_schema=False)
async def procedures_update(
    request: Request[Any, Any, Any],
    session: RequestSession,
    principal: Principal,
    settings: Settings,
    method: str,
    data: Form,
) -> Response[Any]:
    check = FieldCheck()
    values: dict[str, int] = {}
    for name, zh, en in PROCEDURE_COLUMNS:
        field = f"{method}_{name}"
        raw = str(data.get(field) or data.get(name) or "").strip()
        if not raw.isdigit() or int(raw) > DB_INT_MAX:
            check.add(field, f"{zh}应为非负整数", f"{en}: a whole number, zero or more")
        else:
            values[name] = int(raw)
    try:
        check.done()
        await run(
            session,
            procedures.update_procedure_settings,
            principal,
            settings,
            method,
            ProcedureSettingsIn(**values),
        )
    except AppError as exc:
        return await _procedures_again(request, session, settings, exc, data, method)
    return redirect("/manage/procedures", flash=pick("程序设置已保存", "Procedure settings saved"))


def _kind_choices() -> list[tuple[str, str]]:
    return options(OrgKind)


@get("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False, cache=False)
async def organisations_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    rows = await run(session, organisations.list_organisations)
    return render(
        request, "trading/organisations.html", rows=rows, kind_choices=_kind_choices(), OrgKind=OrgKind
    )


ORGANISATION_FIELDS = {"credit_code", "name", "kind", "region"}


@post("/manage/organisations", guards=[requires(Role.admin)], include_in_schema=False)
async def organisations_create(
    request: Request[Any, Any, Any], session: RequestSession, principal: Principal, data: Form
) -> Response[Any]:
    check = FieldCheck()
    if not (data.get("name") or "").strip():
        check.add("name", "单位名称不能为空", "The name is required")
    if (data.get("kind") or "") not in {k.value for k in OrgKind}:
        check.add("kind", "请选择单位类型", "Choose the kind of organisation")
    if not (data.get("credit_code") or "").strip():
        check.add("credit_code", "统一社会信用代码不能为空", "The credit code is required")
    try:
        check.done()
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
    except AppError as exc:
        if exc.status in (409, 422):
            exc = on_field(exc, "credit_code")  # what the register refuses is the code (bad or taken)
        rows = await run(session, organisations.list_organisations)
        return form_again(
            request,
            exc,
            "trading/organisations.html",
            data,
            fields=ORGANISATION_FIELDS,
            rows=rows,
            kind_choices=_kind_choices(),
            OrgKind=OrgKind,
        )
    return redirect("/manage/organisations", flash=pick(f"已登记 {org.name}", f"Registered {org.name}"))


ADMIN_PAGES = [procedures_page, procedures_update, organisations_page, organisations_create]
