"""Procedure settings: the per-procedure rules (minimum days, cut-offs, windows); an admin edits them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, put

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from trading.schemas import ProcedureSettingsIn, ProcedureSettingsOut
from trading.service import procedures


def _proc_out(r: Any) -> ProcedureSettingsOut:
    return ProcedureSettingsOut(
        method=r.method,
        min_tender_days=r.min_tender_days,
        min_valid_bids=r.min_valid_bids,
        clarification_cutoff_days=r.clarification_cutoff_days,
        publicity_days=r.publicity_days,
        decryption_window_minutes=r.decryption_window_minutes,
        objection_window_minutes=r.objection_window_minutes,
    )


class ProceduresApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @get("/procedure-settings", summary="Per-procedure rules")
    async def procedure_settings(
        self, session: RequestSession, settings: Settings
    ) -> list[ProcedureSettingsOut]:
        rows = await run(session, procedures.all_procedure_settings, settings)
        return [_proc_out(r) for r in rows]

    @put(
        "/procedure-settings/{method:str}", guards=[requires(Role.admin)], summary="Edit a procedure's rules"
    )
    async def update_procedure(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        method: str,
        data: ProcedureSettingsIn,
    ) -> ProcedureSettingsOut:
        row = await run(session, procedures.update_procedure_settings, principal, settings, method, data)
        return _proc_out(row)
