"""Public search: keyword (through the term index or the fallback), filters, paging, capped counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests.trading.conftest import World
from trading.models import Tender
from trading.service import amendments, closing
from trading.service.search import SearchQuery, search_tenders
from trading.service.search_index import query_terms, terms


def test_title_terms_are_cjk_bigrams_and_latin_words() -> None:
    assert terms("道路改造 LED路灯2026") == ["道路", "路改", "改造", "led", "路灯", "2026"]
    assert query_terms("改造工程") == ["改造", "造工", "工程"]
    assert query_terms("路") is None  # a lone character has no bigram: the search scans instead
    assert query_terms("le") is None  # latin fragments may sit inside longer words


def _titles(db: Database, settings: Settings, **kw: object) -> list[str]:
    with db.unit_of_work() as s:
        page = search_tenders(s, settings, SearchQuery(**kw))  # type: ignore[arg-type]
        return [t.title for t in page.items]


def test_keyword_and_filters_find_exactly_the_matching_published_tenders(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    t0 = utcnow() - dt.timedelta(days=3)
    make_tender(title="园林街道道路改造工程", region="园林街道", now=t0)
    make_tender(
        title="杨市街道道路照明设备采购", category="goods", region="杨市街道", now=t0 + dt.timedelta(hours=1)
    )
    make_tender(title="城市线路规划设计服务", category="services", now=t0 + dt.timedelta(hours=2))
    make_tender(title="未发布的道路工程", publish=False)
    assert _titles(db, settings, q="道路") == ["杨市街道道路照明设备采购", "园林街道道路改造工程"]
    assert _titles(db, settings, q="道路改造") == ["园林街道道路改造工程"]  # bigrams present, order checked
    assert _titles(db, settings, q="线路") == ["城市线路规划设计服务"]
    assert _titles(db, settings, q="道路", category="goods") == ["杨市街道道路照明设备采购"]
    assert _titles(db, settings, q="道路", region="yuanlin") == ["园林街道道路改造工程"]
    assert _titles(db, settings, q="路", method="open", category="services") == ["城市线路规划设计服务"]
    assert _titles(db, settings, q="桥梁") == []
    assert _titles(db, settings, status="open", category="works") == ["园林街道道路改造工程"]
    today = (utcnow() + dt.timedelta(hours=8)).date()
    assert _titles(db, settings, date_from=today) == []
    assert len(_titles(db, settings, date_to=today)) == 3


def test_an_amended_title_is_found_by_its_new_words(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender(title="学校食堂设备采购")
    with db.unit_of_work() as s:
        v = s.get(Tender, tid).version  # type: ignore[union-attr]
        amendments.amend_tender(
            s, world.agency, settings, tid, "更正名称", {"title": "学校厨房设备采购"}, expected_version=v
        )
    assert _titles(db, settings, q="厨房") == ["学校厨房设备采购"]
    assert _titles(db, settings, q="食堂") == []


def test_paging_and_a_capped_count(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    settings.trading.search_count_cap = 3
    t0 = utcnow() - dt.timedelta(days=1)
    for i in range(5):
        make_tender(title=f"第{i}号道路工程", now=t0 + dt.timedelta(minutes=i))
    with db.unit_of_work() as s:
        first = search_tenders(s, settings, SearchQuery(q="道路"), page_size=2)
        assert [t.title for t in first.items] == ["第4号道路工程", "第3号道路工程"]
        assert (first.total, first.total_capped, first.has_next) == (3, True, True)
        last = search_tenders(s, settings, SearchQuery(q="道路", page=3), page_size=2)
        assert [t.title for t in last.items] == ["第0号道路工程"]
        assert last.has_next is False


def test_a_state_change_reaches_the_keyword_search(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    make_tender(title="园林街道道路改造工程")
    gone = make_tender(title="杨市街道道路照明工程")
    assert _titles(db, settings, q="道路工程", status="open") == []  # "道路工程" is not in either title
    assert len(_titles(db, settings, q="道路", status="open")) == 2
    with db.unit_of_work() as s:
        closing.cancel_tender(s, world.agency, settings, gone, "预算取消")
    assert _titles(db, settings, q="道路", status="open") == ["园林街道道路改造工程"]
    assert _titles(db, settings, q="道路照明", status="cancelled") == ["杨市街道道路照明工程"]


def _posting_counts(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    """(kept counts without zero rows, counts recomputed from the postings)."""
    import sqlalchemy as sa

    with db.unit_of_work() as s:
        kept = {
            t: n for t, n in s.execute(sa.text("SELECT term, postings FROM trading_term_stat")).all() if n
        }
        actual = dict(
            s.execute(sa.text("SELECT term, count(*) FROM trading_tender_term GROUP BY term")).all()
        )
    return kept, actual


def test_posting_counts_follow_publication_and_amendment(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender(title="学校食堂设备采购")
    make_tender(title="学校操场改造工程")
    make_tender(title="未发布的学校工程", publish=False)
    kept, actual = _posting_counts(db)
    assert kept == actual
    assert kept["学校"] == 2
    with db.unit_of_work() as s:
        v = s.get(Tender, tid).version  # type: ignore[union-attr]
        amendments.amend_tender(
            s, world.agency, settings, tid, "更正名称", {"title": "医院厨房设备采购"}, expected_version=v
        )
    kept, actual = _posting_counts(db)
    assert kept == actual
    assert kept["学校"] == 1
    assert "食堂" not in kept
    assert kept["厨房"] == 1


def test_a_keyword_is_searched_through_its_rarest_term(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    """A keyword of several terms reads the postings of the term with the fewest of them; the
    exact check on the title then keeps only real matches, whichever term was read."""
    import sqlalchemy as sa

    from trading.service.search import _rarest_term, _Shape

    def rarest(lists: str) -> sa.Select[tuple[str]]:
        flags = dict.fromkeys(("category", "method", "region", "start", "end", "states", "like"), False)
        return sa.select(_rarest_term(_Shape(indexed=True, rarest=True, lists=lists, **flags)))

    t0 = utcnow() - dt.timedelta(days=1)
    for i in range(4):
        make_tender(title=f"第{i}号老旧小区改造工程", now=t0 + dt.timedelta(minutes=i))
    make_tender(title="洪山老旧小区改造工程", now=t0 + dt.timedelta(minutes=10))
    make_tender(title="洪山小区老旧管网改造", now=t0 + dt.timedelta(minutes=11))
    terms = ["洪山", "山老", "老旧", "旧小", "小区"]
    with db.unit_of_work() as s:
        for lists in ("in", "array" if db.dialect == "postgresql" else "json"):  # every way a list is passed
            assert s.execute(rarest(lists), {"terms": terms, "n_terms": 5}).scalar() == "山老"
            assert s.execute(rarest(lists), {"terms": [*terms, "无此"], "n_terms": 6}).scalar() is None
    assert _titles(db, settings, q="洪山老旧小区") == ["洪山老旧小区改造工程"]
    assert _titles(db, settings, q="洪山老旧小区无此") == []
    assert _titles(db, settings, q="老旧小区") == [
        "洪山老旧小区改造工程",
        *[f"第{i}号老旧小区改造工程" for i in (3, 2, 1, 0)],
    ]
