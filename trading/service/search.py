"""Public tender search and the home page's lists (drafts are never public)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation
from tenderhall.db import UTCDateTime, contains_pattern
from tenderhall.errors import InvalidInput
from tenderhall.settings import Settings
from trading import regions as regions_list
from trading.models import Tender, TenderState, TenderTerm, TermStat
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
    states: tuple[str, ...] = ()  # one of these states (the result notices); overrides ``status``
    sort: str = "published"  # one of SORTS
    desc: bool = True


#: What the public list sorts by, besides the publication time.
SORTS = ("published", "deadline", "budget")


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD：{name}", f"{name} must be a date YYYY-MM-DD") from None


def _region(value: str | None) -> str:
    """The region filter as its code (a name in either language is accepted: one list, trading.regions)."""
    try:
        found = regions_list.parse(value)
    except ValueError:
        raise InvalidInput(
            "所选地区不在潜江市的地区列表中",
            "That is not one of Qianjiang's regions",
            extra={"field": "region"},
        ) from None
    return found.value if found else ""


def parse_query(
    q: str,
    category: str,
    method: str,
    status: str,
    region: str,
    date_from: str | None,
    date_to: str | None,
    page: int,
) -> SearchQuery:
    """The search as the query string gives it (the API and the search page share it)."""
    return SearchQuery(
        q=q or "",
        category=category or "",
        method=method or "",
        status=status or "",
        region=_region(region),
        date_from=_date(date_from, "date_from"),
        date_to=_date(date_to, "date_to"),
        page=max(1, page),
    )


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


# Public search is the busiest read of the portal. Its statements are built once per shape (which
# filters are present) with bound parameters and reused, so a search pays only for binding and the
# database's own work; building a SQLAlchemy statement anew costs more than SQLite's query.


@dataclass(frozen=True)
class _Shape:
    indexed: bool  # through the keyword index (``trading_tender_term``)
    rarest: bool  # the keyword has several terms: read the postings of the rarest
    category: bool
    method: bool
    region: bool
    start: bool
    end: bool
    states: bool
    like: bool  # the exact keyword check (index) / title or reference match (no index)
    sort: str = "published"
    desc: bool = True
    lists: str = "in"  # how a list parameter is passed: "in" (IN (…)), "array" or "json" (one value)


def _one_of(column: Any, name: str, shape: _Shape) -> Any:
    """``column`` is one of the list parameter ``name``: one array parameter on PostgreSQL
    (``= ANY(…)``), one JSON array on SQLite (``IN (SELECT value FROM json_each(…))``), so that
    the statement's text does not depend on the list's length and is compiled once."""
    if shape.lists == "array":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.String())))
    if shape.lists == "json":
        values = sa.func.json_each(sa.bindparam(name, type_=sa.JSON())).table_valued("value")
        return column.in_(sa.select(values.c.value))
    return column.in_(sa.bindparam(name, expanding=True))


def _rarest_term(shape: _Shape) -> Any:
    """The term of ``terms`` with the fewest postings (key reads of the posting counts), inside the
    search statement; no term at all when one of them has no postings, since then nothing matches."""
    terms = _one_of(col(TermStat.term), "terms", shape)
    everyone = sa.select(sa.func.count()).where(terms).scalar_subquery() == sa.bindparam("n_terms")
    return (
        sa.select(col(TermStat.term))
        .where(terms, everyone)
        .order_by(col(TermStat.postings), col(TermStat.term))
        .limit(1)
        .scalar_subquery()
    )


@lru_cache(maxsize=512)
def _ids_statement(shape: _Shape) -> sa.Select[Any]:
    """The matching ids, newest first, for one shape of query; parameters: ``term``, ``category``,
    ``method``, ``region``, ``start``, ``end``, ``states`` (a list), ``like``, ``reference`` and
    ``lim``, as the shape needs them."""
    table = TenderTerm if shape.indexed else Tender
    key = col(TenderTerm.tender_id) if shape.indexed else col(Tender.id)
    published = col(table.published_at)  # type: ignore[attr-defined]
    stmt: Any = sa.select(key.label("id"), published.label("published_at"))
    if shape.indexed:
        stmt = stmt.where(
            col(TenderTerm.term) == (_rarest_term(shape) if shape.rarest else sa.bindparam("term"))
        )
        if shape.like:
            stmt = stmt.where(col(TenderTerm.title_lc).like(sa.bindparam("like"), escape="\\"))
    else:
        stmt = stmt.where(col(Tender.published_at).is_not(None))  # type: ignore[union-attr]
        if shape.like:
            stmt = stmt.where(
                sa.or_(
                    col(Tender.title).ilike(sa.bindparam("like"), escape="\\"),
                    col(Tender.reference) == sa.bindparam("reference"),
                )
            )
    for flag, name in ((shape.category, "category"), (shape.method, "method"), (shape.region, "region")):
        if flag:
            stmt = stmt.where(col(getattr(table, name)) == sa.bindparam(name))
    if shape.start:
        stmt = stmt.where(published >= sa.bindparam("start", type_=UTCDateTime()))
    if shape.end:
        stmt = stmt.where(published < sa.bindparam("end", type_=UTCDateTime()))
    if shape.states:
        stmt = stmt.where(_one_of(col(table.state), "states", shape))  # type: ignore[attr-defined]
    return stmt.order_by(published.desc(), key.desc()).limit(sa.bindparam("lim"))


_SUMMARY_COLUMNS = (
    col(Tender.id),
    col(Tender.reference),
    col(Tender.ocid),
    col(Tender.title),
    col(Tender.category),
    col(Tender.method),
    col(Tender.region),
    col(Tender.state),
    col(Tender.budget_fen),
    col(Tender.published_at),
    col(Tender.bid_deadline_at),
    col(Organisation.name),
)


@lru_cache(maxsize=512)
def _search_statement(shape: _Shape) -> sa.Select[Any]:
    """One round trip: the matches (at most ``lim``, materialised once), the page of them
    (``size`` after ``off``) joined to its rows, and how many matched, on every row."""
    matches = _ids_statement(shape).cte("matches").prefix_with("MATERIALIZED")
    # newest first by default; another order sorts the matches (at most ``lim`` of the newest)
    by = {"deadline": col(Tender.bid_deadline_at), "budget": col(Tender.budget_fen)}.get(shape.sort)
    if by is None:
        src: Any = matches
        key = matches.c.published_at
    else:
        src = sa.select(matches.c.id, by.label("k")).join(Tender, col(Tender.id) == matches.c.id).subquery()
        key = src.c.k

    def order(c: Any) -> Any:
        return c.desc() if shape.desc else c.asc()

    page = (
        sa.select(src.c.id, key.label("k"))
        .order_by(order(key), order(src.c.id))
        .limit(sa.bindparam("size"))
        .offset(sa.bindparam("off"))
        .subquery("page")
    )
    total = sa.select(sa.func.count()).select_from(matches).scalar_subquery()
    stmt: sa.Select[Any] = (
        sa.select(*_SUMMARY_COLUMNS, total)  # type: ignore[assignment]
        .select_from(page)
        .join(Tender, col(Tender.id) == page.c.id)
        .join(Organisation, col(Organisation.id) == col(Tender.tenderee_org_id))
        .order_by(order(page.c.k), order(page.c.id))
    )
    return stmt


@lru_cache(maxsize=512)
def _count_statement(shape: _Shape) -> sa.Select[Any]:
    """How many match (at most ``lim``): for a page past the last one, which has no rows to carry it."""
    return sa.select(sa.func.count()).select_from(_ids_statement(shape).subquery())


def search_tenders(
    session: Session, settings: Settings, query: SearchQuery, *, page_size: int | None = None
) -> SearchPage:
    """Public search, newest first, in one bounded statement: it finds up to ``search_count_cap`` + 1
    matches (the count shows "N+" beyond it) and returns the page's rows."""
    size = max(1, min(page_size or settings.trading.search_page_size, 100))
    page = max(1, query.page)
    offset = (page - 1) * size
    cap = max(settings.trading.search_count_cap, offset + size)
    q = query.q.strip()[:100]
    params: dict[str, Any] = {"lim": cap + 1}
    if query.states:
        params["states"] = list(query.states)
    elif query.status:
        params["states"] = (
            [TenderState.published.value, TenderState.amended.value]
            if query.status == "open"
            else [query.status]
        )
    if query.date_from:
        params["start"] = _start_of_day(query.date_from)
    if query.date_to:
        params["end"] = _start_of_day(query.date_to + dt.timedelta(days=1))
    for name in ("category", "method", "region"):
        if value := getattr(query, name):
            params[name] = value
    needed = search_index.query_terms(q) if q else None
    like = False
    if q and needed:
        if len(needed) == 1:
            params["term"] = needed[0]
        else:
            params["terms"] = needed
            params["n_terms"] = len(needed)
        if not (len(needed) == 1 and len(q) == 2):  # unless the keyword is the term itself
            like = True
            params["like"] = contains_pattern(q.lower())
    elif q:
        like = True
        params["like"] = contains_pattern(q)
        params["reference"] = q.upper()
    shape = _Shape(
        indexed=bool(q and needed),
        rarest="terms" in params,
        category="category" in params,
        method="method" in params,
        region="region" in params,
        start="start" in params,
        end="end" in params,
        states="states" in params,
        like=like,
        sort=query.sort if query.sort in SORTS else "published",
        desc=query.desc,
        lists={"postgresql": "array", "sqlite": "json"}.get(session.get_bind().dialect.name, "in"),
    )
    rows = session.execute(_search_statement(shape), {**params, "size": size, "off": offset}).all()
    if rows:
        total = rows[0][-1]
    else:
        total = session.execute(_count_statement(shape), params).scalar_one() if offset else 0
    items = [TenderSummary(*r[:-1]) for r in rows]  # type: ignore[arg-type,call-arg]
    return SearchPage(
        items=items,
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


def regions(session: Session) -> list[tuple[str, str]]:
    """The regions of published tenders, as (code, label) in the list's order (trading.regions)."""
    used = set(
        session.execute(
            sa.select(col(Tender.region))
            .where(col(Tender.published_at).is_not(None), col(Tender.region) != "")  # type: ignore[union-attr]
            .distinct()
            .order_by(col(Tender.region))
            .limit(200)
        ).scalars()
    )
    return [(code, name) for code, name in regions_list.options() if code in used]


def front_page(session: Session) -> dict[str, Any]:
    """The home page: the latest announcements and the latest results."""
    return {"announcements": latest_announcements(session, 10), "results": latest_results(session, 10)}


def search_page(session: Session, settings: Settings, query: SearchQuery) -> dict[str, Any]:
    """The search page: one page of results and the regions to filter by."""
    return {"result": search_tenders(session, settings, query), "regions": regions(session)}
