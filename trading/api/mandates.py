"""Mandates (委托代理): a tenderee mandates an agency to run its tenders."""

from __future__ import annotations

from litestar import Controller, get, post
from sqlalchemy.orm import Session

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from trading.api.common import STAFF
from trading.schemas import MandateEndIn, MandateIn, MandateOut
from trading.service import mandates


class MandatesApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @get("/mandates", guards=STAFF, summary="Mandates a tenderee granted, or an agency holds")
    async def mandates(self, session: RequestSession, principal: Principal) -> list[MandateOut]:
        return await run(session, mandates.mandates_for, principal)

    @post("/mandates", guards=[requires(Role.tenderee)], summary="A tenderee mandates an agency (委托代理)")
    async def grant_mandate(
        self, session: RequestSession, principal: Principal, data: MandateIn
    ) -> MandateOut:
        def op(s: Session) -> MandateOut:
            m = mandates.grant_mandate(
                s, principal, data.agency_org_id, tender_id=data.tender_id, note=data.note
            )
            return mandates.mandate_out(s, m)

        return await session.run_sync(op)

    @post(
        "/mandates/{mandate_id:int}/end",
        guards=[requires(Role.tenderee)],
        status_code=200,
        summary="The tenderee ends a mandate",
    )
    async def end_mandate(
        self, session: RequestSession, principal: Principal, mandate_id: int, data: MandateEndIn
    ) -> MandateOut:
        def op(s: Session) -> MandateOut:
            return mandates.mandate_out(s, mandates.end_mandate(s, principal, mandate_id, data.reason))

        return await session.run_sync(op)
