"""The keyword index (``trading_tender_term``): title terms of published tenders.

Terms: every pair of adjacent CJK characters (Chinese has no spaces; bigrams are the usual unit of
a Chinese inverted index), and lower-cased runs of latin letters or digits. A keyword matches a
tender whose title contains it; the index narrows the candidates to one term's postings and the
exact ``LIKE`` check confirms them.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from trading.models import Tender, TenderTerm, TermStat

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z]+|[0-9]+")


def terms(text: str) -> list[str]:
    """Distinct index terms of ``text``, in order of first appearance."""
    out: dict[str, None] = {}
    for run in _RUNS.findall((text or "").lower()):
        if run[0] >= "\u3400":
            if len(run) == 1:
                continue
            for i in range(len(run) - 1):
                out[run[i : i + 2]] = None
        else:
            out[run[:32]] = None
    return list(out)


def query_terms(q: str) -> list[str] | None:
    """The terms a keyword needs, or None when the index cannot serve it (a lone CJK character,
    or a latin/digit fragment that may be part of a longer word)."""
    runs = _RUNS.findall((q or "").lower())
    if not runs:
        return None
    found = terms(q)
    if any(len(r) == 1 and r[0] >= "\u3400" for r in runs) or any(r[0] < "\u3400" for r in runs):
        return None  # latin words may match inside longer words; single characters have no bigram
    return found or None


def rows_for(tender: Tender) -> list[dict[str, object]]:
    assert tender.published_at is not None
    return [
        {
            "term": t,
            "published_at": tender.published_at,
            "tender_id": tender.id,
            "title_lc": tender.title.lower(),
            "state": str(tender.state),
            "category": str(tender.category),
            "method": str(tender.method),
            "region": tender.region or "",
        }
        for t in terms(tender.title)
    ]


def index_tender(session: Session, tender: Tender) -> None:
    """(Re)index a published tender's title, in the caller's transaction, and keep the terms'
    posting counts in step."""
    old = (
        session.execute(
            sa.delete(TenderTerm)
            .where(col(TenderTerm.tender_id) == tender.id)
            .returning(col(TenderTerm.term))  # type: ignore[arg-type]
        )
        .scalars()
        .all()
    )
    rows = rows_for(tender)
    if rows:
        session.execute(sa.insert(TenderTerm), rows)
    delta: dict[str, int] = {}
    for t in old:
        delta[t] = delta.get(t, 0) - 1
    for r in rows:
        delta[str(r["term"])] = delta.get(str(r["term"]), 0) + 1
    add_postings(session, delta)


def add_postings(session: Session, delta: dict[str, int]) -> None:
    """Add ``delta[term]`` to each term's posting count (in term order, so that concurrent
    indexers lock the same rows in the same order)."""
    changes = [{"term": t, "postings": n} for t, n in sorted(delta.items()) if n]
    if not changes:
        return
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    stmt = insert(TermStat)
    stmt = stmt.on_conflict_do_update(
        index_elements=[col(TermStat.term)],
        set_={"postings": col(TermStat.postings) + stmt.excluded.postings},
    )
    session.execute(stmt, changes)


def sync_state(session: Session, tender: Tender) -> None:
    """Keep the search rows' state in step with the tender (called after every transition)."""
    if tender.published_at is not None:
        session.execute(
            sa.update(TenderTerm)
            .where(col(TenderTerm.tender_id) == tender.id, col(TenderTerm.state) != str(tender.state))
            .values(state=str(tender.state))
        )
