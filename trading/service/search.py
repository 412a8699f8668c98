"""Public tender search and the home page's lists (drafts are never public)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation
from tenderhall.settings import Settings
from trading.models import Tender, TenderState, TenderTerm
from trading.schemas import SearchPage, TenderSummary
from trading.service import search_index

RESULT_STATES = (
    TenderState.publicised,
    TenderState.awarded,
    TenderState.contracted,
    TenderState.cancelled,
    TenderState.failed,
)


@dataclass
class SearchQuery:
    q: str = ""
    category: str = ""
    method: str = ""
    status: str = ""
    region: str = ""
    date_from: dt.date | None = None  # publication date, Beijing time
    date_to: dt.date | None = None
    page: int = 1


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _summaries(rows: list[tuple[Tender, str]]) -> list[TenderSummary]:
    return [
        TenderSummary(
            id=t.id,  # type: ignore[arg-type]
            reference=t.reference,
            ocid=t.ocid,
            title=t.title,
            category=t.category,
            method=t.method,
            region=t.region,
            state=t.state,
            budget_fen=t.budget_fen,
            published_at=t.published_at,
            bid_deadline_at=t.bid_deadline_at,
            tenderee=name,
        )
        for t, name in rows
    ]


def _start_of_day(d: dt.date) -> dt.datetime:
    from tenderhall.web.i18n import SHANGHAI

    return dt.datetime(d.year, d.month, d.day, tzinfo=SHANGHAI).astimezone(dt.UTC)


def _rarest(session: Session, candidates: list[str], probe: int = 1000) -> str:
    """The term with the fewest postings, in one round trip (each count capped: index-only reads)."""
    if len(candidates) == 1:
        return candidates[0]
    parts = [
        sa.select(col(TenderTerm.term)).where(col(TenderTerm.term) == t).limit(probe).subquery().select()
        for t in candidates
    ]
    u = sa.union_all(*parts).subquery()
    counts: dict[str, int] = dict(
        session.execute(sa.select(u.c.term, sa.func.count()).group_by(u.c.term)).all()
    )
    return min(candidates, key=lambda t: counts.get(t, 0))


def search_tenders(
    session: Session, settings: Settings, query: SearchQuery, *, page_size: int | None = None
) -> SearchPage:
    """Public search, newest first. One bounded read finds up to ``search_count_cap`` + 1 matching
    ids (the count shows "N+" beyond it); the page's rows are then loaded by id."""
    size = max(1, min(page_size or settings.trading.search_page_size, 100))
    page = max(1, query.page)
    offset = (page - 1) * size
    cap = max(settings.trading.search_count_cap, offset + size)
    q = query.q.strip()[:100]
    states: list[str] | None = None
    if query.status:
        states = (
            [TenderState.published.value, TenderState.amended.value]
            if query.status == "open"
            else [query.status]
        )
    start = _start_of_day(query.date_from) if query.date_from else None
    end = _start_of_day(query.date_to + dt.timedelta(days=1)) if query.date_to else None
    needed = search_index.query_terms(q) if q else None
    if q and needed:
        stmt = sa.select(col(TenderTerm.tender_id)).where(col(TenderTerm.term) == _rarest(session, needed))
        if query.category:
            stmt = stmt.where(col(TenderTerm.category) == query.category)
        if query.method:
            stmt = stmt.where(col(TenderTerm.method) == query.method)
        if query.region:
            stmt = stmt.where(col(TenderTerm.region) == query.region)
        if start:
            stmt = stmt.where(col(TenderTerm.published_at) >= start)
        if end:
            stmt = stmt.where(col(TenderTerm.published_at) < end)
        if states:
            stmt = stmt.where(col(TenderTerm.state).in_(states))
        if not (len(needed) == 1 and len(q) == 2):  # unless the keyword is the term itself
            stmt = stmt.where(col(TenderTerm.title_lc).like(_like(q.lower()), escape="\\"))
        stmt = stmt.order_by(col(TenderTerm.published_at).desc(), col(TenderTerm.tender_id).desc())  # type: ignore[attr-defined]
    else:
        stmt = sa.select(col(Tender.id)).where(col(Tender.published_at).is_not(None))  # type: ignore[union-attr,assignment]
        if q:
            stmt = stmt.where(
                sa.or_(col(Tender.title).ilike(_like(q), escape="\\"), col(Tender.reference) == q.upper())
            )  # type: ignore[attr-defined]
        if query.category:
            stmt = stmt.where(col(Tender.category) == query.category)
        if query.method:
            stmt = stmt.where(col(Tender.method) == query.method)
        if query.region:
            stmt = stmt.where(col(Tender.region) == query.region)
        if states:
            stmt = stmt.where(col(Tender.state).in_(states))  # type: ignore[attr-defined]
        if start:
            stmt = stmt.where(col(Tender.published_at) >= start)  # type: ignore[operator]
        if end:
            stmt = stmt.where(col(Tender.published_at) < end)  # type: ignore[operator]
        stmt = stmt.order_by(col(Tender.published_at).desc(), col(Tender.id).desc())  # type: ignore[union-attr]
    ids = list(session.execute(stmt.limit(cap + 1)).scalars())
    total = len(ids)
    page_ids = ids[offset : offset + size]
    rows: list[tuple[Tender, str]] = []
    if page_ids:
        found = {
            t.id: (t, n)
            for t, n in session.execute(
                sa.select(Tender, col(Organisation.name))
                .join(Organisation, col(Organisation.id) == col(Tender.tenderee_org_id))
                .where(col(Tender.id).in_(page_ids))  # type: ignore[union-attr]
            ).all()
        }
        rows = [found[i] for i in page_ids if i in found]
    return SearchPage(
        items=_summaries(rows),
        page=page,
        page_size=size,
        total=min(total, cap),
        total_capped=total > cap,
        has_next=total > offset + size,
    )


def latest_announcements(session: Session, limit: int = 10) -> list[TenderSummary]:
    stmt = (
        sa.select(Tender, col(Organisation.name))
        .join(Organisation, col(Organisation.id) == col(Tender.tenderee_org_id))
        .where(col(Tender.state).in_([TenderState.published.value, TenderState.amended.value]))  # type: ignore[attr-defined]
        .order_by(col(Tender.published_at).desc(), col(Tender.id).desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return _summaries([(t, n) for t, n in session.execute(stmt).all()])


def latest_results(session: Session, limit: int = 10) -> list[TenderSummary]:
    stmt = (
        sa.select(Tender, col(Organisation.name))
        .join(Organisation, col(Organisation.id) == col(Tender.tenderee_org_id))
        .where(col(Tender.state).in_([s.value for s in RESULT_STATES]))  # type: ignore[attr-defined]
        .order_by(col(Tender.state_changed_at).desc(), col(Tender.id).desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return _summaries([(t, n) for t, n in session.execute(stmt).all()])


def regions(session: Session) -> list[str]:
    return list(
        session.execute(
            sa.select(col(Tender.region))
            .where(col(Tender.published_at).is_not(None), col(Tender.region) != "")  # type: ignore[union-attr]
            .distinct()
            .order_by(col(Tender.region))
            .limit(200)
        ).scalars()
    )
