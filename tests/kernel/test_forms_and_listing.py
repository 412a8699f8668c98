"""Forms keep what was typed and show every error beside its field; staff lists sort and page
only by what the page allows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.errors import Conflict
from tenderhall.web.forms import FieldCheck, FieldError, FieldErrors, FormState
from tenderhall.web.i18n import current_language
from tenderhall.web.listing import Listing


def test_every_field_error_is_raised_at_once_and_reaches_the_api_as_a_list() -> None:
    check = FieldCheck()
    check.add("title", "请填写项目名称", "Enter a title")
    check.add("budget_yuan", "预算须为正数", "The budget must be positive")
    try:
        check.done()
    except FieldErrors as exc:
        body = exc.problem()
    else:
        raise AssertionError("no error raised")
    assert body["status"] == 422
    assert [e["field"] for e in body["errors"]] == ["title", "budget_yuan"]
    assert body["errors"][1]["detail_zh"] == "预算须为正数"
    assert "Enter a title" in body["detail_en"]


def test_a_form_with_no_error_raises_nothing() -> None:
    FieldCheck().done()


def test_a_refused_form_keeps_values_and_puts_each_error_beside_its_field_in_the_reader_language() -> None:
    exc = FieldErrors(
        [
            FieldError("title", "请填写项目名称", "Enter a title"),
            FieldError("secret_field", "内部字段有误", "An internal field is wrong"),
        ]
    )
    token = current_language.set("en")
    try:
        state = FormState.failed(exc, {"title": "", "region": "示范市"}, fields={"title", "region"})
    finally:
        current_language.reset(token)
    assert state.errors_for("title") == ["Enter a title"]
    assert state.general == ["An internal field is wrong"]  # a field the form does not show
    assert state.value("region") == "示范市" and state.count() == 2


def test_a_rule_error_naming_no_field_goes_to_the_top_of_the_form() -> None:
    state = FormState.failed(Conflict("草稿已被他人修改", "The draft was changed by someone else"), {})
    assert state.general == ["草稿已被他人修改"] and not state.errors


def test_a_list_state_from_a_hand_edited_url_falls_back_to_the_defaults() -> None:
    listing = Listing.from_query(
        {"sort": "password_hash", "page": "-3", "q": "  路  ", "state": "draft", "other": "x"},
        sorts=("created", "title"),
        default="created",
        desc=True,
        filters=("state",),
    )
    assert (listing.sort, listing.desc, listing.page, listing.q) == ("created", True, 1, "路")
    assert listing.filters == {"state": "draft"}
    assert Listing.from_query({"page": "x"}, sorts=("a",), default="a").page == 1


def test_a_list_pages_and_sorts_rows_by_an_allowed_column() -> None:
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    item = sa.Table("item", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String))
    meta.create_all(engine)
    with Session(engine) as s:
        s.execute(item.insert(), [{"id": i, "name": f"n{i:02d}"} for i in range(1, 46)])
        listing = Listing.from_query(
            {"sort": "name", "dir": "desc", "page": "3"}, sorts=("id", "name"), default="id"
        )
        listing = Listing(**{**listing.__dict__, "per_page": 20})
        rows, done = listing.fetch(
            s, sa.select(item.c.id, item.c.name), {"id": item.c.id, "name": item.c.name}, scalars=False
        )
    assert done.total == 45 and done.pages == 3 and (done.first, done.last) == (41, 45)
    assert [r.name for r in rows] == ["n05", "n04", "n03", "n02", "n01"]
    assert done.url(page=2) == "?sort=name&dir=desc&page=2"
    assert done.sort_url("name") == "?sort=name&dir=asc"
    assert done.sort_url("id") == "?sort=id&dir=asc"


def test_a_page_past_the_end_shows_the_last_page() -> None:
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    item = sa.Table("item", meta, sa.Column("id", sa.Integer, primary_key=True))
    meta.create_all(engine)
    with Session(engine) as s:
        s.execute(item.insert(), [{"id": i} for i in range(1, 4)])
        rows, done = Listing.from_query({"page": "9"}, sorts=("id",), default="id").fetch(
            s, sa.select(item.c.id), {"id": item.c.id}, scalars=False
        )
    assert done.page == 1 and len(rows) == 3
