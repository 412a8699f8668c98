"""Search over published records (keyset-paged, newest decision first) and one published record.
Only ``published`` records are public; expired, repaired and revoked ones stay archived.
How the search is planned: decisions 0232 and 0233."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound
from credit.models import PublicName, Severity, Status, Violation, ViolationType
from tenderhall.db import UTCDateTime, contains_pattern
from tenderhall.errors import InvalidInput
from tenderhall.identifiers import is_valid_credit_code
from tenderhall.web.i18n import SHANGHAI

MAX_LIMIT = 100


NAME_MATCH_CAP = 2000


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""  # company name (substring) or a credit code (exact)
    credit_code: str = ""
    type_code: str = ""
    severity: str = ""
    date_from: dt.date | None = None  # decision date, Beijing time, inclusive
    date_to: dt.date | None = None
    cursor: str = ""
    limit: int = 20


@dataclass(slots=True)
class PublicRecord:
    id: int
    subject_kind: str
    subject_name: str
    credit_code: str | None
    id_number_masked: str | None
    type_code: str
    type_name_zh: str
    type_name_en: str
    severity: str
    points: int
    facts: str
    decision_number: str | None
    decision_reasons: str | None
    decided_at: dt.datetime | None
    published_at: dt.datetime | None
    public_until: dt.datetime | None
    status: str


@dataclass
class RecordPage:
    items: list[PublicRecord]
    next_cursor: str | None


def _encode_cursor(v: PublicRecord) -> str:
    assert v.decided_at is not None
    raw = f"{int(v.decided_at.timestamp() * 1_000_000)}:{v.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, vid = raw.split(":")
        return dt.datetime.fromtimestamp(int(micros) / 1_000_000, dt.UTC), int(vid)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("分页游标无效", "The page cursor is malformed") from None


def beijing_day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(0), SHANGHAI).astimezone(dt.UTC)


def _as_text(column: Any) -> Any:
    """An enum column read as its stored text: the public record carries strings (decision 0232)."""
    return sa.type_coerce(column, sa.String()).label(column.key)


_COLUMNS = (
    col(Violation.id),
    _as_text(col(Violation.subject_kind)),
    col(Violation.subject_name),
    col(Violation.subject_credit_code),
    col(Violation.subject_id_masked),
    col(Violation.type_code),
    col(ViolationType.name_zh),
    col(ViolationType.name_en),
    _as_text(col(Violation.severity)),
    col(Violation.points),
    col(Violation.facts),
    col(Violation.decision_number),
    col(Violation.decision_reasons),
    col(Violation.decided_at),
    col(Violation.published_at),
    col(Violation.public_until),
    _as_text(col(Violation.status)),
)


def _row(r: Any) -> PublicRecord:
    return PublicRecord(*r)


@dataclass(frozen=True)
class _Shape:
    """Which filters a search has: its statements are built once per shape, with bound
    parameters, and reused (decision 0232)."""

    code: bool  # subject credit code equals ``code``
    name: str  # "", "like" or "ilike": subject name contains ``name``
    probe: bool  # the trigram index is asked for ``probe`` only (see :func:`name_probe`)
    type_code: bool
    severity: bool
    start: bool
    end: bool
    cursor: bool


GENERIC_NAME_ENDINGS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "公司",
    "集团",
    "建设",
    "建筑",
    "工程",
    "科技",
    "实业",
    "发展",
    "装饰",
    "咨询",
    "管理",
    "服务",
    "设计",
    "co.",
    "co",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
)


def name_probe(q: str) -> str:
    """The distinctive part of a company-name search: ``q`` without the generic words it ends
    with ("龙岩富华建设有限公司" -> "龙岩富华"), or ``q`` itself when that would leave fewer than two
    characters. The whole of ``q`` is still what a record must contain."""
    probe = q.strip()
    stripped = True
    while stripped:
        stripped = False
        for ending in GENERIC_NAME_ENDINGS:
            if probe.lower().endswith(ending) and len(probe) - len(ending) >= 2:
                probe = probe[: len(probe) - len(ending)].rstrip(" ,.")
                stripped = True
                break
    return probe


def _filtered(shape: _Shape, table: Any, id_column: Any) -> Any:
    """``SELECT id, decided_at`` from ``table`` (a model) with the shape's filters (it has the
    ``subject_name``, ``type_code``, ``severity`` and ``decided_at`` columns of a record)."""
    decided: Any = table.decided_at
    stmt: Any = sa.select(id_column.label("id"), decided.label("decided_at"))
    if shape.name:
        name: Any = table.subject_name

        def contains(column: Any, param: str) -> Any:
            pattern: Any = sa.bindparam(param)
            if shape.name == "ilike":
                return column.ilike(pattern, escape="\\")
            return column.like(pattern, escape="\\")

        if shape.probe:
            # the index answers for the distinctive part; the whole name is checked on the rows it
            # finds (``|| ''`` keeps the planner from feeding its common trigrams to the index too)
            stmt = stmt.where(contains(name, "probe"), contains(name + sa.literal(""), "name"))
        else:
            stmt = stmt.where(contains(name, "name"))
    if shape.type_code:
        stmt = stmt.where(table.type_code == sa.bindparam("type_code"))
    if shape.severity:
        stmt = stmt.where(table.severity == sa.bindparam("severity"))
    if shape.start:
        stmt = stmt.where(decided >= sa.bindparam("start", type_=UTCDateTime()))
    if shape.end:
        stmt = stmt.where(decided < sa.bindparam("end", type_=UTCDateTime()))
    if shape.cursor:
        stmt = stmt.where(
            sa.tuple_(decided, id_column)
            < sa.tuple_(sa.bindparam("after_at", type_=UTCDateTime()), sa.bindparam("after_id"))
        )
    return stmt


@lru_cache(maxsize=256)
def _ids(shape: _Shape) -> Any:
    """Published records matching the shape, from ``credit_violation`` and its partial indexes."""
    stmt = _filtered(shape, Violation, col(Violation.id)).where(
        col(Violation.status) == Status.published.value
    )
    if shape.code:
        stmt = stmt.where(col(Violation.subject_credit_code) == sa.bindparam("code"))
    return stmt


@lru_cache(maxsize=256)
def _newest_first(shape: _Shape) -> Any:
    """The page straight from the newest-first index: ``lim`` rows."""
    page = (
        _ids(shape)
        .order_by(col(Violation.decided_at).desc(), col(Violation.id).desc())
        .limit(sa.bindparam("lim"))
        .subquery("page")
    )
    return (
        sa.select(*_COLUMNS)
        .select_from(page)
        .join(Violation, col(Violation.id) == page.c.id)
        .join(ViolationType, col(ViolationType.id) == col(Violation.type_id))
        .order_by(page.c.decided_at.desc(), page.c.id.desc())
    )


def _name_match_ids(shape: _Shape) -> Any:
    """Published records whose name matches, from the narrow name index (:class:`PublicName`),
    with the shape's other filters (a credit code excepted: such a search never comes here)."""
    return _filtered(shape, PublicName, col(PublicName.violation_id))


@lru_cache(maxsize=256)
def _from_name_matches(shape: _Shape) -> Any:
    """At most ``NAME_MATCH_CAP`` + 1 name matches (trigram index), the page sorted from them
    (``lim`` rows), and how many matched on every row."""
    matches = _name_match_ids(shape).limit(NAME_MATCH_CAP + 1).cte("name_match").prefix_with("MATERIALIZED")
    first = (
        sa.select(matches.c.id, matches.c.decided_at)
        .order_by(matches.c.decided_at.desc(), matches.c.id.desc())
        .limit(sa.bindparam("lim"))
        .subquery("page")
    )
    return (
        sa.select(*_COLUMNS, sa.select(sa.func.count()).select_from(matches).scalar_subquery())
        .select_from(first)
        .join(Violation, col(Violation.id) == first.c.id)
        .join(ViolationType, col(ViolationType.id) == col(Violation.type_id))
        .order_by(first.c.decided_at.desc(), first.c.id.desc())
    )


def search_public(session: Session, query: SearchQuery) -> RecordPage:
    """Published records, newest decision first, filtered; ``next_cursor`` pages on (keyset).

    The page's ids come from the search indexes alone, then only those rows are read. A name
    search on PostgreSQL first collects at most ``NAME_MATCH_CAP`` matches from the name index
    (:class:`PublicName`): no more than that, the page is sorted from them; more (a broad name),
    the newest-first index finds the page. Names without letter case (Chinese) use LIKE, Latin
    names ILIKE (decision 0233)."""
    dialect = session.get_bind().dialect.name
    limit = max(1, min(int(query.limit or 20), MAX_LIMIT))
    params: dict[str, Any] = {"lim": limit + 1}
    name = ""
    q = (query.q or "").strip()
    if q:
        if len(q) == 18 and is_valid_credit_code(q):
            params["code"] = q.upper()
        else:
            params["name"] = contains_pattern(q)
            name = "ilike" if q.lower() != q.upper() else "like"
            probe = name_probe(q)
            if probe != q and dialect == "postgresql":
                params["probe"] = contains_pattern(probe)
    if query.credit_code:
        code = query.credit_code.strip().upper()
        if params.get("code", code) != code:
            return RecordPage([], None)  # two different credit codes: nothing has both
        params["code"] = code
    if query.type_code:
        params["type_code"] = query.type_code
    if query.severity:
        if query.severity not in Severity.__members__:
            raise InvalidInput(
                "严重程度应为 minor、general 或 serious", "Severity is minor, general or serious"
            )
        params["severity"] = query.severity
    if query.date_from:
        params["start"] = beijing_day_start(query.date_from)
    if query.date_to:
        params["end"] = beijing_day_start(query.date_to + dt.timedelta(days=1))
    if query.cursor:
        params["after_at"], params["after_id"] = _decode_cursor(query.cursor)
    shape = _Shape(
        code="code" in params,
        name=name,
        probe="probe" in params,
        type_code="type_code" in params,
        severity="severity" in params,
        start="start" in params,
        end="end" in params,
        cursor="after_at" in params,
    )
    rows: list[PublicRecord] | None = None
    if name and not shape.code and dialect == "postgresql":
        found = session.execute(_from_name_matches(shape), params).all()
        if not found or found[0][-1] <= NAME_MATCH_CAP:
            rows = [_row(r[:-1]) for r in found]
    if rows is None:  # no name, SQLite, or a broad name: newest first straight from the index
        rows = [_row(r) for r in session.execute(_newest_first(shape), params).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return RecordPage(rows, _encode_cursor(rows[-1]) if more and rows else None)


def iter_public(session: Session, query: SearchQuery, *, max_rows: int = 100_000) -> Iterator[PublicRecord]:
    """Every record matching ``query`` (for the CSV export), page by page."""
    seen = 0
    cursor = query.cursor
    while seen < max_rows:
        page = search_public(session, SearchQuery(**{**query.__dict__, "cursor": cursor, "limit": MAX_LIMIT}))
        yield from page.items
        seen += len(page.items)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def public_record(session: Session, violation_id: int) -> PublicRecord:
    r = session.execute(
        sa.select(*_COLUMNS)
        .join(ViolationType, col(ViolationType.id) == col(Violation.type_id))
        .where(col(Violation.id) == violation_id, col(Violation.status) == Status.published)
    ).first()
    if r is None:
        raise RecordNotFound(
            f"信用记录 #{violation_id} 不存在或未在公示期内",
            f"Credit record #{violation_id} is not published",
        )
    return _row(r)
