"""What the public sees besides the search: a company's profile, the blacklist, and statistics
of the records ever published."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound
from credit.models import Outcome, Status, Violation, ViolationType
from credit.service.search import MAX_LIMIT, PublicRecord, SearchQuery, beijing_day_start, search_public
from credit.service.standing import Standing, standing
from tenderhall.auth.models import Organisation
from tenderhall.db import utcnow
from tenderhall.identifiers import validate_credit_code
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI


@dataclass
class CompanyProfile:
    credit_code: str
    name: str
    registered: bool
    standing: Standing
    records: list[PublicRecord] = field(default_factory=list)


def company_profile(
    session: Session, credit_code: str, *, settings: Settings, at: dt.datetime | None = None
) -> CompanyProfile:
    code = validate_credit_code(credit_code)
    org = session.execute(
        sa.select(Organisation).where(col(Organisation.credit_code) == code)
    ).scalar_one_or_none()
    page = search_public(session, SearchQuery(credit_code=code, limit=MAX_LIMIT))
    name = org.name if org else (page.items[0].subject_name if page.items else "")
    if org is None and not page.items:
        last = session.execute(
            sa.select(col(Violation.subject_name)).where(col(Violation.subject_credit_code) == code).limit(1)
        ).scalar_one_or_none()
        if last is None:
            raise RecordNotFound(
                f"信用代码 {code} 在平台上没有登记，也没有信用记录",
                f"Credit code {code} is neither registered nor the subject of any record",
            )
        name = last
    st = standing(session, f"code:{code}", at, settings=settings)
    return CompanyProfile(code, name, org is not None, st, page.items)


@dataclass(frozen=True)
class BlacklistEntry:
    subject_key: str
    subject_kind: str
    name: str
    credit_code: str | None
    id_number_masked: str | None
    standing: Standing


def blacklist(
    session: Session, *, settings: Settings, at: dt.datetime | None = None, limit: int = 500
) -> list[BlacklistEntry]:
    """Subjects blacklisted at ``at`` that have at least one published record."""
    cfg = settings.credit
    at = at or utcnow()
    window_start = at - dt.timedelta(days=cfg.score_window_days)
    listed = sa.select(col(Violation.subject_key)).where(
        col(Violation.status) == Status.published,
        col(Violation.blacklists).is_(True),
        col(Violation.public_until) > at,
    )
    by_points = (
        sa.select(col(Violation.subject_key))
        .where(
            col(Violation.outcome) == Outcome.upheld,
            col(Violation.decided_at) > window_start,
            col(Violation.decided_at) <= at,
            col(Violation.revoked_at).is_(None),
        )
        .group_by(col(Violation.subject_key))
        .having(sa.func.sum(col(Violation.points)) >= cfg.tier_d_min)
    )
    has_public = sa.select(col(Violation.subject_key)).where(col(Violation.status) == Status.published)
    keys = [
        k
        for (k,) in session.execute(
            sa.select(sa.union(listed, by_points).subquery().c[0]).limit(limit * 2)
        ).all()
    ]
    public_keys = (
        set(session.execute(has_public.where(col(Violation.subject_key).in_(keys)).distinct()).scalars())
        if keys
        else set()
    )
    out: list[BlacklistEntry] = []
    for key in keys:
        if key not in public_keys:
            continue
        st = standing(session, key, at, settings=settings)
        if not st.blacklisted:
            continue
        v = session.execute(
            sa.select(Violation)
            .where(col(Violation.subject_key) == key, col(Violation.status) == Status.published)
            .order_by(col(Violation.decided_at).desc())
            .limit(1)
        ).scalar_one()
        out.append(
            BlacklistEntry(
                key, str(v.subject_kind), v.subject_name, v.subject_credit_code, v.subject_id_masked, st
            )
        )
        if len(out) >= limit:
            break
    out.sort(key=lambda e: e.standing.listing_until or at, reverse=True)
    return out


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


@dataclass
class Stats:
    by_type: list[tuple[str, str, str, int]]  # code, name_zh, name_en, count
    by_month: list[Bar]
    by_severity: dict[str, int]
    total: int


def statistics(session: Session, *, months: int = 12, at: dt.datetime | None = None) -> Stats:
    """Records that were ever published (published, expired, repaired, revoked after publication),
    by type and by month of decision (Beijing time) over the last ``months`` months."""
    at = at or utcnow()
    ever = col(Violation.published_at).is_not(None)
    by_type = [
        (code, zh, en, n)
        for code, zh, en, n in session.execute(
            sa.select(
                col(ViolationType.code),
                col(ViolationType.name_zh),
                col(ViolationType.name_en),
                sa.func.count(col(Violation.id)),
            )
            .join(Violation, col(Violation.type_id) == col(ViolationType.id))
            .where(ever)
            .group_by(col(ViolationType.code), col(ViolationType.name_zh), col(ViolationType.name_en))
            .order_by(sa.func.count(col(Violation.id)).desc())
        ).all()
    ]
    local = at.astimezone(SHANGHAI)
    first = dt.date(local.year, local.month, 1)
    labels: list[str] = []
    y, m = first.year, first.month
    for _ in range(months):
        labels.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    labels.reverse()
    since = beijing_day_start(dt.date(int(labels[0][:4]), int(labels[0][5:]), 1))
    if session.get_bind().dialect.name == "postgresql":
        month = sa.func.to_char(sa.func.timezone("Asia/Shanghai", col(Violation.decided_at)), "YYYY-MM")
    else:
        month = sa.func.strftime("%Y-%m", sa.func.datetime(col(Violation.decided_at), "+8 hours"))
    counts: dict[str, int] = dict(
        session.execute(
            sa.select(month, sa.func.count(col(Violation.id)))
            .where(ever, col(Violation.decided_at) >= since)
            .group_by(month)
        ).all()
    )
    by_sev = dict(
        session.execute(
            sa.select(col(Violation.severity), sa.func.count(col(Violation.id)))
            .where(ever)
            .group_by(col(Violation.severity))
        ).all()
    )
    return Stats(
        by_type=by_type,
        by_month=[Bar(lbl, int(counts.get(lbl, 0))) for lbl in labels],
        by_severity={str(k): int(v) for k, v in by_sev.items()},
        total=sum(n for *_, n in by_type),
    )
