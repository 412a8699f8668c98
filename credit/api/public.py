"""The public credit API: search, published records, the change feed, the blacklist, standings
and the catalog (no sign-in needed; an expert's standing is for staff)."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, get

from credit import schemas as S
from credit.api.convert import change_out, public_out, standing_out, type_out
from credit.service import catalog, disclosure, feed, search
from credit.service.standing import standing
from credit.service.subjects import Subject
from tenderhall.auth.models import STAFF_ROLES
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import Forbidden, InvalidInput
from tenderhall.settings import Settings


class PublicCreditAPI(Controller):
    """No sign-in needed: what the public may see."""

    path = "/api/credit"
    tags = ("credit · public",)

    @get("/records", summary="Search published violation records (keyset-paged)")
    async def search(
        self,
        session: RequestSession,
        q: str = "",
        credit_code: str = "",
        type: str = "",
        severity: str = "",
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        cursor: str = "",
        limit: int = 20,
    ) -> S.RecordPageOut:
        query = search.SearchQuery(q, credit_code, type, severity, date_from, date_to, cursor, limit)
        page = await run(session, search.search_public, query)
        return S.RecordPageOut(items=[public_out(r) for r in page.items], next_cursor=page.next_cursor)

    @get("/records/{record_id:int}", summary="One published record")
    async def record(self, session: RequestSession, record_id: int) -> S.PublicRecordOut:
        return public_out(await run(session, search.public_record, record_id))

    @get("/changes", summary="Change feed: published, changed, repaired, expired, revoked (cursor-paged)")
    async def changes(self, session: RequestSession, after: str = "0", limit: int = 100) -> S.ChangePageOut:
        try:
            start = int(after or 0)
        except ValueError:
            raise InvalidInput("游标应为整数", "The cursor 'after' must be an integer") from None
        rows, nxt = await run(session, lambda s: feed.changes(s, after=start, limit=limit))
        return S.ChangePageOut(entries=[change_out(c) for c in rows], next_cursor=str(nxt))

    @get("/blacklist", summary="Subjects blacklisted now (with at least one published record)")
    async def blacklist(self, session: RequestSession, settings: Settings) -> list[S.BlacklistEntryOut]:
        rows = await run(session, lambda s: disclosure.blacklist(s, settings=settings))
        return [
            S.BlacklistEntryOut(
                subject_kind=e.subject_kind,
                name=e.name,
                credit_code=e.credit_code,
                id_number_masked=e.id_number_masked,
                tier=e.standing.tier,
                points=e.standing.points,
                listing_until=e.standing.listing_until,
                explanation_zh=e.standing.explanation_zh,
                explanation_en=e.standing.explanation_en,
            )
            for e in rows
        ]

    @get("/standing", summary="Credit standing of a company (public) or an expert (staff only)")
    async def standing(
        self,
        session: RequestSession,
        settings: Settings,
        principal: Principal,
        credit_code: str | None = None,
        expert_user_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> S.StandingOut:
        if credit_code:
            subject = Subject.company(credit_code)
        elif expert_user_id is not None:
            if principal.role not in STAFF_ROLES:
                raise Forbidden("专家信用状况仅对工作人员开放", "An expert's standing is for staff only")
            subject = Subject.expert(expert_user_id)
        else:
            raise InvalidInput("请提供 credit_code 或 expert_user_id", "Give credit_code or expert_user_id")
        if at is not None and at.tzinfo is None:
            raise InvalidInput("时间须带时区", "'at' must carry a time zone")
        st = await run(session, lambda s: standing(s, subject, at, settings=settings))
        return standing_out(st)

    @get("/types", summary="The catalog of violation types")
    async def types(self, session: RequestSession) -> list[S.ViolationTypeOut]:
        return [type_out(t) for t in await run(session, catalog.list_types)]
