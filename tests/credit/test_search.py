"""Public search: filters, keyset pages, name matching (both strategies), statistics, blacklist."""

from __future__ import annotations

import datetime as dt

import pytest

from credit.service import search
from credit.service.disclosure import blacklist, statistics
from credit.service.search import SearchQuery, search_public
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import T0, upheld

DAY = dt.timedelta(days=1)


def _seed(db: Database, settings: Settings) -> dict[str, str]:
    codes = {}
    with db.unit_of_work() as s:
        for i, (name, type_code) in enumerate(
            [
                ("福州宏远建设有限公司", "REFUSE_AWARD"),
                ("厦门宏远科技有限公司", "BID_RIGGING"),
                ("泉州兴业工程有限公司", "PERSONNEL_ABSENT"),
                ("Fuzhou Harbour Engineering Co.", "BOND_NOT_REFUNDED"),
                ("百分之100%_公司", "PROXY_CLOCK_IN"),
            ]
        ):
            code = factories.credit_code()
            codes[name] = code
            upheld(
                s,
                settings,
                code=code,
                name=name,
                type_code=type_code,
                publish_it=True,
                decided_at=T0 + i * DAY,
            )
        upheld(
            s,
            settings,
            code=factories.credit_code(),
            name="宏远未公示有限公司",
            type_code="REFUSE_AWARD",
            decided_at=T0,
        )  # decided, not published: never found
    return codes


@pytest.mark.parametrize("cap", [2000, 1])
def test_search_filters_and_name_matching(
    db: Database, settings: Settings, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "NAME_MATCH_CAP", cap)  # 1: the broad-name path on PostgreSQL
    codes = _seed(db, settings)
    with db.unit_of_work() as s:

        def names(**kw: object) -> list[str]:
            return [r.subject_name for r in search_public(s, SearchQuery(**kw)).items]  # type: ignore[arg-type]

        assert names(q="宏远") == ["厦门宏远科技有限公司", "福州宏远建设有限公司"]
        assert names(q="harbour") == ["Fuzhou Harbour Engineering Co."]  # Latin: case-insensitive
        assert names(q="100%_") == ["百分之100%_公司"]  # LIKE wildcards are literal
        assert names(q="0%") == ["百分之100%_公司"]
        assert names(q="_") == ["百分之100%_公司"]
        assert names(q=codes["泉州兴业工程有限公司"]) == ["泉州兴业工程有限公司"]
        assert names(type_code="BID_RIGGING") == ["厦门宏远科技有限公司"]
        assert names(severity="serious") == ["厦门宏远科技有限公司"]
        assert names(q="宏远", severity="general") == ["福州宏远建设有限公司"]
        # decision dates are days in Beijing time: T0 is 2026-03-02 09:00 there
        assert names(date_from=dt.date(2026, 3, 3), date_to=dt.date(2026, 3, 4)) == [
            "泉州兴业工程有限公司",
            "厦门宏远科技有限公司",
        ]


def test_keyset_pages_cover_every_record_once_in_order(db: Database, settings: Settings) -> None:
    _seed(db, settings)
    with db.unit_of_work() as s:
        seen: list[int] = []
        cursor = ""
        while True:
            page = search_public(s, SearchQuery(cursor=cursor, limit=2))
            seen += [r.id for r in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        full = [r.id for r in search_public(s, SearchQuery(limit=100)).items]
    assert seen == full
    assert len(full) == 5


def test_a_malformed_cursor_or_severity_is_a_clear_422(db: Database, settings: Settings) -> None:
    from tenderhall.errors import InvalidInput

    with db.unit_of_work() as s:
        with pytest.raises(InvalidInput) as e:
            search_public(s, SearchQuery(cursor="!!not-a-cursor"))
        assert "cursor" in e.value.en
        with pytest.raises(InvalidInput):
            search_public(s, SearchQuery(severity="dreadful"))


def test_statistics_and_blacklist_reflect_published_records(db: Database, settings: Settings) -> None:
    codes = _seed(db, settings)
    with db.unit_of_work() as s:
        st = statistics(s, at=T0 + 10 * DAY)
        assert st.total == 5
        assert sum(b.value for b in st.by_month) == 5
        assert [b.value for b in st.by_month if b.label == "2026-03"] == [5]
        listed = blacklist(s, settings=settings, at=T0 + 10 * DAY)
        assert [e.credit_code for e in listed] == [codes["厦门宏远科技有限公司"]]


def test_a_name_search_is_planned_for_its_own_pattern_on_postgresql(db: Database, settings: Settings) -> None:
    """psycopg prepares a statement after five runs and PostgreSQL may then plan it without the
    pattern, which made rare-name searches 40 times slower; every run is planned for its pattern."""
    import sqlalchemy as sa

    if db.dialect != "postgresql":
        pytest.skip("plan caching is PostgreSQL's")
    _seed(db, settings)
    with db.transaction(writes=False) as s:  # one connection, past psycopg's prepare threshold
        for _ in range(8):
            assert len(search_public(s, SearchQuery(q="宏远")).items) == 2
        plans = s.execute(
            sa.text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%LIKE%'"
            )
        ).all()
    assert plans, "the name search was never prepared: nothing was checked"
    assert all(generic == 0 and custom > 0 for generic, custom in plans), plans


def test_the_name_probe_drops_generic_endings_but_keeps_two_characters() -> None:
    assert search.name_probe("龙岩富华建设有限公司") == "龙岩富华"
    assert search.name_probe("福州宏远科技股份有限公司") == "福州宏远"
    assert search.name_probe("Fuzhou Harbour Engineering Co.") == "Fuzhou Harbour Engineering"
    assert search.name_probe("宏远") == "宏远"
    assert search.name_probe("公司") == "公司"  # nothing would be left: searched as it is


def test_a_full_name_finds_that_company_only_though_the_index_is_asked_for_its_distinctive_part(
    db: Database, settings: Settings
) -> None:
    codes = _seed(db, settings)
    names = ["福州宏远建设有限公司", "福州宏远科技有限公司"]
    with db.unit_of_work() as s:
        upheld(
            s,
            settings,
            code=factories.credit_code(),
            name=names[1],
            type_code="REFUSE_AWARD",
            publish_it=True,
        )
    assert [r.subject_name for r in search_public_in(db, "福州宏远建设有限公司")] == [names[0]]
    assert [r.credit_code for r in search_public_in(db, "福州宏远建设有限公司")] == [codes[names[0]]]
    assert [r.subject_name for r in search_public_in(db, "厦门宏远科技有限公司")] == ["厦门宏远科技有限公司"]
    assert search_public_in(db, "福州宏远工程有限公司") == []  # the probe matches; the whole name does not
    assert [r.subject_name for r in search_public_in(db, "fuzhou harbour engineering co.")] == [
        "Fuzhou Harbour Engineering Co."
    ]


def search_public_in(db: Database, q: str) -> list[search.PublicRecord]:
    with db.unit_of_work() as s:
        return search_public(s, SearchQuery(q=q)).items


def _name_index(db: Database) -> dict[int, tuple[str, str, str, dt.datetime]]:
    import sqlalchemy as sa

    from credit.models import PublicName

    with db.unit_of_work() as s:
        rows = s.execute(sa.select(PublicName)).scalars().all()
        return {r.violation_id: (r.subject_name, r.type_code, r.severity, r.decided_at) for r in rows}


def _published(db: Database) -> dict[int, tuple[str, str, str, dt.datetime]]:
    import sqlalchemy as sa

    from credit.models import Status, Violation

    with db.unit_of_work() as s:
        rows = s.execute(sa.select(Violation).where(Violation.status == Status.published)).scalars().all()
        return {r.id: (r.subject_name, r.type_code, str(r.severity), r.decided_at) for r in rows}  # type: ignore[misc]


def test_the_name_index_holds_exactly_the_published_records_through_every_change(
    db: Database, settings: Settings
) -> None:
    """Name searches on PostgreSQL read credit_public_name: after publication, correction, expiry,
    revocation and repair it must hold exactly the published records, with their current values."""
    from credit.service import amend, apply_repair, decide_repair, expire_due, revoke
    from tests.credit.conftest import SUPERVISOR, bidder

    codes = [factories.credit_code() for _ in range(5)]
    with db.unit_of_work() as s:
        kept = upheld(s, settings, code=codes[0], name="福州宏远建设有限公司", publish_it=True)
        short = upheld(s, settings, code=codes[1], name="厦门短期公司", publish_it=True, publication_days=90)
        appealed = upheld(s, settings, code=codes[2], name="泉州复议公司", publish_it=True)
        repaired = upheld(s, settings, code=codes[3], name="漳州修复公司", publish_it=True)
        upheld(s, settings, code=codes[4], name="宁德未公示公司")  # decided, never published
    assert set(_name_index(db)) == {kept.id, short.id, appealed.id, repaired.id}
    assert _name_index(db) == _published(db)
    with db.unit_of_work() as s:
        amend(s, SUPERVISOR, kept.id, reason="笔误", facts="更正后的事实", now=T0 + DAY)  # type: ignore[arg-type]
        revoke(s, SUPERVISOR, appealed.id, reason="行政复议撤销", now=T0 + DAY)  # type: ignore[arg-type]
        assert expire_due(s, SUPERVISOR, now=T0 + 90 * DAY) == 1
        app = apply_repair(
            s,
            bidder(codes[3]),
            repaired.id,  # type: ignore[arg-type]
            rectification="已整改",
            commitment="我司承诺守信",
            settings=settings,
            now=T0 + 90 * DAY,
        )
        decide_repair(s, SUPERVISOR, app.id, approve=True, reasons="整改到位", now=T0 + 91 * DAY)  # type: ignore[arg-type]
    assert set(_name_index(db)) == {kept.id}
    assert _name_index(db) == _published(db)
    with db.unit_of_work() as s:  # and the search finds it by name
        assert [r.id for r in search_public(s, SearchQuery(q="宏远")).items] == [kept.id]
        assert search_public(s, SearchQuery(q="短期")).items == []


@pytest.mark.parametrize("service", ["publish", "revoke", "expire_due", "decide_repair"])
def test_each_service_that_moves_a_record_in_or_out_of_publication_rewrites_its_name_row(
    db: Database, settings: Settings, service: str
) -> None:
    """The services keep credit_public_name themselves (no flush hook): right after each one the
    record's row is there exactly when it is published, and other records' rows are untouched."""
    from credit.service import apply_repair, decide_repair, expire_due, publish, revoke
    from tests.credit.conftest import SUPERVISOR, bidder

    code = factories.credit_code()
    with db.unit_of_work() as s:
        other = upheld(s, settings, code=factories.credit_code(), name="福州旁观有限公司", publish_it=True)
        v = upheld(
            s,
            settings,
            code=code,
            name="厦门变更有限公司",
            publish_it=service != "publish",
            publication_days=90 if service == "expire_due" else None,
        )
    before = _name_index(db)
    assert (v.id in before) is (service != "publish")
    with db.unit_of_work() as s:
        if service == "publish":
            publish(s, SUPERVISOR, v.id, now=T0)  # type: ignore[arg-type]
        elif service == "revoke":
            revoke(s, SUPERVISOR, v.id, reason="行政复议撤销", now=T0 + DAY)  # type: ignore[arg-type]
        elif service == "expire_due":
            assert expire_due(s, SUPERVISOR, now=T0 + 90 * DAY) == 1
        else:
            app = apply_repair(
                s,
                bidder(code),
                v.id,  # type: ignore[arg-type]
                rectification="已整改",
                commitment="我司承诺守信",
                settings=settings,
                now=T0 + 90 * DAY,
            )
            decide_repair(s, SUPERVISOR, app.id, approve=True, reasons="整改到位", now=T0 + 91 * DAY)  # type: ignore[arg-type]
    after = _name_index(db)
    assert set(after) == ({other.id, v.id} if service == "publish" else {other.id})
    assert after[other.id] == before[other.id]
    assert after == _published(db)
    if service == "publish":
        assert after[v.id][:3] == ("厦门变更有限公司", "REFUSE_AWARD", "general")
