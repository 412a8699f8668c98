"""Public tender search and the home page's lists (drafts are never public)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.auth.models import Organisation
from tenderhall.settings import Settings
from trading.models import Tender, TenderState
from trading.schemas import SearchPage, TenderSummary

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


def search_tenders(
    session: Session, settings: Settings, query: SearchQuery, *, page_size: int | None = None
) -> SearchPage:
    size = max(1, min(page_size or settings.trading.search_page_size, 100))
    page = max(1, query.page)
    cond = [Tender.published_at.is_not(None)]  # type: ignore[union-attr]
    q = query.q.strip()[:100]
    if q:
        cond.append(sa.or_(Tender.title.ilike(_like(q), escape="\\"), Tender.reference == q.upper()))  # type: ignore[attr-defined]
    if query.category:
        cond.append(Tender.category == query.category)
    if query.method:
        cond.append(Tender.method == query.method)
    if query.status:
        states = (
            [TenderState.published.value, TenderState.amended.value]
            if query.status == "open"
            else [query.status]
        )
        cond.append(Tender.state.in_(states))  # type: ignore[attr-defined]
    if query.region:
        cond.append(Tender.region == query.region)
    if query.date_from:
        cond.append(Tender.published_at >= _start_of_day(query.date_from))  # type: ignore[operator]
    if query.date_to:
        cond.append(Tender.published_at < _start_of_day(query.date_to + dt.timedelta(days=1)))  # type: ignore[operator]
    stmt = (
        sa.select(Tender, Organisation.name)
        .join(Organisation, Organisation.id == Tender.tenderee_org_id)
        .where(*cond)
        .order_by(Tender.published_at.desc(), Tender.id.desc())  # type: ignore[union-attr]
        .offset((page - 1) * size)
        .limit(size + 1)
    )
    rows = [(t, n) for t, n in session.execute(stmt).all()]
    has_next = len(rows) > size
    rows = rows[:size]
    cap = settings.trading.search_count_cap
    capped = sa.select(Tender.id).where(*cond).limit(cap + 1).subquery()
    total = session.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
    return SearchPage(
        items=_summaries(rows),
        page=page,
        page_size=size,
        total=min(total, cap),
        total_capped=total > cap,
        has_next=has_next,
    )


def latest_announcements(session: Session, limit: int = 10) -> list[TenderSummary]:
    stmt = (
        sa.select(Tender, Organisation.name)
        .join(Organisation, Organisation.id == Tender.tenderee_org_id)
        .where(Tender.state.in_([TenderState.published.value, TenderState.amended.value]))  # type: ignore[attr-defined]
        .order_by(Tender.published_at.desc(), Tender.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return _summaries([(t, n) for t, n in session.execute(stmt).all()])


def latest_results(session: Session, limit: int = 10) -> list[TenderSummary]:
    stmt = (
        sa.select(Tender, Organisation.name)
        .join(Organisation, Organisation.id == Tender.tenderee_org_id)
        .where(Tender.state.in_([s.value for s in RESULT_STATES]))  # type: ignore[attr-defined]
        .order_by(Tender.state_changed_at.desc(), Tender.id.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return _summaries([(t, n) for t, n in session.execute(stmt).all()])


def regions(session: Session) -> list[str]:
    return list(
        session.execute(
            sa.select(Tender.region)
            .where(Tender.published_at.is_not(None), Tender.region != "")  # type: ignore[union-attr]
            .distinct()
            .order_by(Tender.region)
            .limit(200)
        ).scalars()
    )
