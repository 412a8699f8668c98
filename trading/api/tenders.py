"""Tenders: public search and reading; drafting, publishing, amending, cancelling, failing lots and
re-tendering for their tenderee or mandated agency."""

from __future__ import annotations

import dataclasses

from litestar import Controller, get, post, put
from litestar.params import Parameter
from sqlalchemy.orm import Session

from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from trading.api.common import STAFF
from trading.schemas import (
    AmendmentIn,
    AmendmentOut,
    CancelIn,
    LotFailIn,
    SearchPage,
    TenderFields,
    TenderOut,
    VersionIn,
)
from trading.service import amendments, closing, drafting, publication, retendering, tender_access, views
from trading.service.search import parse_query, search_tenders


@dataclasses.dataclass
class TenderUpdateIn(TenderFields):
    version: int | None = None


class TendersApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @get("/tenders", summary="Public tender search", cache=False)
    async def search(
        self,
        session: RequestSession,
        settings: Settings,
        q: str = "",
        category: str = "",
        method: str = "",
        status: str = "",
        region: str = "",
        date_from: str | None = None,
        date_to: str | None = None,
        page: int = Parameter(default=1, ge=1, le=10_000),
        page_size: int | None = Parameter(default=None, ge=1, le=100),
    ) -> SearchPage:
        query = parse_query(q, category, method, status, region, date_from, date_to, page)
        return await run(session, search_tenders, settings, query, page_size=page_size)

    @get("/tenders/{tender_id:int}", summary="A tender (drafts only for its tenderee and agency)")
    async def show(self, session: RequestSession, principal: Principal, tender_id: int) -> TenderOut:
        return await run(session, views.tender_view, principal, tender_id)

    @post("/tenders", guards=STAFF, summary="Create a draft tender")
    async def create(
        self, session: RequestSession, principal: Principal, settings: Settings, data: TenderFields
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            return views.tender_out(s, drafting.create_tender(s, principal, settings, data))

        return await session.run_sync(op)

    @put(
        "/tenders/{tender_id:int}", guards=STAFF, summary="Edit a draft (published tenders: amendments only)"
    )
    async def update(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: TenderUpdateIn,
    ) -> TenderOut:
        fields = TenderFields(**{f.name: getattr(data, f.name) for f in dataclasses.fields(TenderFields)})

        def op(s: Session) -> TenderOut:
            t = drafting.update_draft(
                s, principal, settings, tender_id, fields, expected_version=data.version
            )
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/tenders/{tender_id:int}/publish", guards=STAFF, status_code=200, summary="Publish a draft")
    async def publish(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: VersionIn,
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            t = publication.publish_tender(s, principal, settings, tender_id, expected_version=data.version)
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/tenders/{tender_id:int}/amendments", guards=STAFF, summary="Publish an amendment (变更公告)")
    async def amend(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: AmendmentIn,
    ) -> AmendmentOut:
        a = await run(
            session,
            amendments.amend_tender,
            principal,
            settings,
            tender_id,
            data.reason,
            data.changes,
            expected_version=data.version,
        )
        return AmendmentOut(
            id=a.id,  # type: ignore[arg-type]
            number=a.number,
            reason=a.reason,
            changes=a.changes,
            deadline_before=a.deadline_before,
            deadline_after=a.deadline_after,
            created_at=a.created_at,
        )

    @post("/tenders/{tender_id:int}/cancel", guards=STAFF, status_code=200, summary="Cancel with a reason")
    async def cancel(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: CancelIn,
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            t = closing.cancel_tender(
                s, principal, settings, tender_id, data.reason, expected_version=data.version
            )
            return views.tender_out(s, t)

        return await session.run_sync(op)

    @post("/lots/{lot_id:int}/fail", guards=STAFF, status_code=200, summary="Declare a lot failed (流标)")
    async def fail_lot(
        self, session: RequestSession, principal: Principal, settings: Settings, lot_id: int, data: LotFailIn
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            lot = retendering.mark_lot_failed(
                s, principal, settings, lot_id, data.reason, valid_bids=data.valid_bids
            )
            return views.tender_out(s, tender_access.get_tender(s, lot.tender_id))

        return await session.run_sync(op)

    @post(
        "/tenders/{tender_id:int}/retender", guards=STAFF, summary="Re-tender the failed lots as a new draft"
    )
    async def retender(
        self, session: RequestSession, principal: Principal, settings: Settings, tender_id: int
    ) -> TenderOut:
        def op(s: Session) -> TenderOut:
            return views.tender_out(s, retendering.retender(s, principal, settings, tender_id))

        return await session.run_sync(op)
