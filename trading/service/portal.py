"""The public portal's lists by category (招标公告, 变更公告, 结果公告), the home page's latest of each
with the credit disclosures beside them, and the statistics strip. Drafts are never public."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.service import figures as credit_figures
from tenderhall.auth.models import Organisation
from tenderhall.db import contains_pattern, utcnow
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI
from tenderhall.web.listing import Listing
from trading.models import OPEN_STATES, Amendment, Tender, TenderState
from trading.schemas import SearchPage
from trading.service import search
from trading.service.search import RESULT_STATES, SearchQuery

#: The categories of public notices: ``kind`` in the list's query string.
KINDS = ("notice", "amendment", "result")
FILTERS = ("kind", "category", "method", "region", "status", "date_from", "date_to")
HOME_ROWS = 8


@dataclass(frozen=True)
class NoticeLine:
    """One line of a list of notices: what it is about, when, and where to read it."""

    href: str
    title: str
    at: dt.datetime | None
    state: str = ""  # a TenderState value (its label shows), or ""
    note: str = ""  # e.g. the amendment's number


def _tender_lines(rows: list[Any]) -> list[NoticeLine]:
    return [NoticeLine(f"/tenders/{r.id}", r.title, r.at, r.state) for r in rows]


def latest_notices(session: Session, limit: int = HOME_ROWS) -> list[NoticeLine]:
    """招标公告: tenders open for bids, newest publication first."""
    rows: list[Any] = session.execute(  # type: ignore[assignment]
        sa.select(col(Tender.id), col(Tender.title), col(Tender.published_at).label("at"), col(Tender.state))
        .where(col(Tender.state).in_([s.value for s in OPEN_STATES]))
        .order_by(col(Tender.published_at).desc(), col(Tender.id).desc())  # type: ignore[union-attr]
        .limit(limit)
    ).all()
    return _tender_lines(list(rows))


def latest_results(session: Session, limit: int = HOME_ROWS) -> list[NoticeLine]:
    """结果公告: candidates publicised, awards, contracts, cancellations and failures, newest first,
    dated by the change that made them a result."""
    rows: list[Any] = session.execute(  # type: ignore[assignment]
        sa.select(
            col(Tender.id), col(Tender.title), col(Tender.state_changed_at).label("at"), col(Tender.state)
        )
        .where(col(Tender.state).in_([s.value for s in RESULT_STATES]))
        .order_by(col(Tender.state_changed_at).desc(), col(Tender.id).desc())
        .limit(limit)
    ).all()
    return _tender_lines(list(rows))


def latest_amendments(session: Session, limit: int = HOME_ROWS) -> list[NoticeLine]:
    """变更公告: published amendments, newest first."""
    rows = session.execute(
        sa.select(col(Tender.id), col(Tender.title), col(Amendment.created_at), col(Amendment.number))
        .join(Tender, col(Tender.id) == col(Amendment.tender_id))
        .order_by(col(Amendment.created_at).desc(), col(Amendment.id).desc())
        .limit(limit)
    ).all()
    return [NoticeLine(f"/tenders/{tid}#amendments", title, at, note=str(n)) for tid, title, at, n in rows]


def start_of_year(at: dt.datetime) -> dt.datetime:
    """1 January 00:00 of ``at``'s year in Beijing time, as UTC."""
    local = at.astimezone(SHANGHAI)
    return dt.datetime(local.year, 1, 1, tzinfo=SHANGHAI).astimezone(dt.UTC)


@dataclass(frozen=True)
class TradingFigures:
    open_now: int  # tenders taking bids
    published_this_year: int
    budget_this_year_fen: int  # total budget of the tenders published this year
    results_this_year: int


def trading_figures(session: Session, at: dt.datetime | None = None) -> TradingFigures:
    at = at or utcnow()
    year = start_of_year(at)
    open_now = session.execute(
        sa.select(sa.func.count()).where(col(Tender.state).in_([s.value for s in OPEN_STATES]))
    ).scalar_one()
    published, budget = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(col(Tender.budget_fen)), 0)).where(
            col(Tender.published_at) >= year  # type: ignore[operator]
        )
    ).one()
    results = session.execute(
        sa.select(sa.func.count()).where(
            col(Tender.state).in_([s.value for s in RESULT_STATES]), col(Tender.state_changed_at) >= year
        )
    ).scalar_one()
    return TradingFigures(int(open_now), int(published), int(budget), int(results))


def front_page(session: Session, settings: Settings, at: dt.datetime | None = None) -> dict[str, Any]:
    """The home page: the latest of each category with its date, and the statistics strip."""
    at = at or utcnow()
    return {
        "notices": latest_notices(session),
        "amendments": latest_amendments(session),
        "results": latest_results(session),
        "disclosures": credit_figures.latest_disclosures(session, HOME_ROWS),
        "figures": trading_figures(session, at),
        "credit": credit_figures.disclosure_figures(session, settings, at),
    }


# --- the public lists --------------------------------------------------------------------------


def listing_from(query: dict[str, str], settings: Settings) -> Listing:
    """A public list's state from the query string (an unknown ``kind`` is the tender notices)."""
    listing = Listing.from_query(
        query,
        sorts=search.SORTS,
        default="published",
        desc=True,
        filters=FILTERS,
        per_page=settings.trading.search_page_size,
    )
    if listing.filter("kind") not in KINDS[1:]:
        listing = replace(listing, filters={k: v for k, v in listing.filters.items() if k != "kind"})
    return listing


@dataclass
class AmendmentRow:
    tender_id: int
    title: str
    reference: str
    tenderee: str
    category: str
    method: str
    region: str
    number: int
    reason: str
    created_at: dt.datetime
    deadline_after: dt.datetime
    budget_fen: int


def amendments_page(session: Session, listing: Listing) -> tuple[list[AmendmentRow], Listing]:
    """变更公告, searched and filtered like the tenders they change, one page of them."""
    stmt: sa.Select[Any] = (
        sa.select(  # type: ignore[assignment]
            col(Tender.id), col(Tender.title), col(Tender.reference), col(Organisation.name),
            col(Tender.category), col(Tender.method), col(Tender.region), col(Amendment.number),
            col(Amendment.reason), col(Amendment.created_at), col(Amendment.deadline_after),
            col(Tender.budget_fen),
        )
        .join(Tender, col(Tender.id) == col(Amendment.tender_id))
        .join(Organisation, col(Organisation.id) == col(Tender.tenderee_org_id))
    )  # fmt: skip
    if listing.q:
        pattern = contains_pattern(listing.q)
        stmt = stmt.where(
            sa.or_(col(Tender.title).ilike(pattern, escape="\\"), col(Tender.reference) == listing.q.upper())
        )
    for name in ("category", "method", "region"):
        if value := listing.filter(name):
            stmt = stmt.where(getattr(Tender, name) == value)
    start, end = _dates(listing)
    if start is not None:
        stmt = stmt.where(col(Amendment.created_at) >= search._start_of_day(start))
    if end is not None:
        stmt = stmt.where(col(Amendment.created_at) < search._start_of_day(end + dt.timedelta(days=1)))
    columns = {
        "published": col(Amendment.created_at),
        "deadline": col(Amendment.deadline_after),
        "budget": col(Tender.budget_fen),
    }
    rows, done = listing.fetch(session, stmt, {"id": col(Amendment.id), **columns}, scalars=False)
    return [AmendmentRow(*r) for r in rows], done


def _dates(listing: Listing) -> tuple[dt.date | None, dt.date | None]:
    out: list[dt.date | None] = []
    for name in ("date_from", "date_to"):
        try:
            out.append(dt.date.fromisoformat(listing.filter(name)) if listing.filter(name) else None)
        except ValueError:
            out.append(None)  # a hand-edited date is ignored, as an unknown sort is
    return out[0], out[1]


def tenders_page(session: Session, settings: Settings, listing: Listing) -> tuple[SearchPage, Listing]:
    """招标公告 (every public tender, or by status) or 结果公告 (the result states), one page."""
    start, end = _dates(listing)
    results = listing.filter("kind") == "result"
    status = listing.filter("status")
    query = SearchQuery(
        q=listing.q,
        category=listing.filter("category"),
        method=listing.filter("method"),
        region=listing.filter("region"),
        status="" if results else status,
        states=tuple(
            s.value for s in RESULT_STATES if not status or s.value == status
        ) if results else (),
        date_from=start,
        date_to=end,
        page=listing.page,
        sort=listing.sort,
        desc=listing.desc,
    )  # fmt: skip
    page = search.search_tenders(session, settings, query)
    return page, replace(listing, total=page.total, page=page.page)


def public_list(session: Session, settings: Settings, listing: Listing) -> dict[str, Any]:
    """The /tenders page: the chosen category's page of rows and the choices of its filters."""
    kind = listing.filter("kind") or "notice"
    out: dict[str, Any] = {"kind": kind, "regions": search.regions(session)}
    if kind == "amendment":
        out["amendments"], out["listing"] = amendments_page(session, listing)
        out["capped"] = False
    else:
        page, out["listing"] = tenders_page(session, settings, listing)
        out["rows"], out["capped"] = page.items, page.total_capped
    states = RESULT_STATES if kind == "result" else [s for s in TenderState if s != TenderState.draft]
    out["states"] = [s.value for s in states]
    return out
