"""The staff tender pages: the tender form reports every problem beside its field in the reader's
language with what was typed kept; the bid bond's waiver rule is shown before saving and a bond it
waives is refused by name; each lot takes its own ceiling price; regions come from one list; a
saved draft lands on its staff page; and no public act happens without its confirmation."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from sqlmodel import col, select

from tenderhall.auth.models import Role
from tenderhall.db import Database, utcnow
from tests import factories
from tests.trading.test_http import _csrf
from trading import regions
from trading.models import Amendment, Clarification, Lot, Tender, TenderState

BEIJING = dt.timezone(dt.timedelta(hours=8))
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def _sign_in(db: Database, client: Any, lang: str = "zh", role: Role = Role.tenderee) -> Any:
    user, _, cookies = factories.signed_in(db, role)
    if role in (Role.tenderee, Role.agency):
        with db.unit_of_work() as s:
            factories.custodians(s, user)  # so the user can publish
    client.cookies.update({**cookies, "lang": lang})
    return user


def _form(client: Any, url: str = "/manage/tenders/new", **over: str | None) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200, page.text
    deadline = (utcnow() + dt.timedelta(days=25)).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    form: dict[str, str | None] = {
        "_csrf_token": _csrf(page.text),
        "title": "园林街道排水管网改造工程",
        "category": "works",
        "method": "open",
        "evaluation_method": "comprehensive",
        "budget_yuan": "1000000",
        "ceiling_yuan": "950000",
        "duration_days": "90",
        "bid_deadline_at": deadline,
        "region": "yuanlin",
        "description": "排水管网改造",
        "lot_title_1": "施工",
        "lot_budget_1": "1000000",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def _errors(text: str) -> dict[str, str]:
    """The errors shown beside fields: input name → its error text."""
    found = re.findall(r'<p class="field-error" id="err-([\w.]+)">(.*?)</p>', text, re.S)
    return {name: html.unescape(re.sub(r"<[^>]+>", " ", body)).strip() for name, body in found}


def _value(text: str, name: str) -> str | None:
    m = re.search(rf'<input name="{re.escape(name)}" id="[^"]*" type="[^"]*" value="([^"]*)"', text)
    return html.unescape(m.group(1)) if m else None


def _tenders(db: Database) -> list[Tender]:
    with db.unit_of_work() as s:
        rows = list(s.execute(select(Tender).order_by(col(Tender.id))).scalars().all())
        for r in rows:
            s.expunge(r)
        return rows


def _create(client: Any, **over: str | None) -> int:
    r = client.post("/manage/tenders", data=_form(client, **over), follow_redirects=False)
    assert r.status_code == 303, _errors(r.text) or r.text
    return int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])


# --- saving a draft lands on its page (it answered 404: the page's route was lost) ----------------


def test_saving_and_editing_a_draft_land_on_its_staff_page(db: Database, client: Any) -> None:
    _sign_in(db, client)
    created = client.post("/manage/tenders", data=_form(client), follow_redirects=False)
    assert created.status_code == 303
    page = client.get(created.headers["location"])
    assert page.status_code == 200
    assert "园林街道排水管网改造工程" in page.text and "草稿已保存" in page.text
    url = created.headers["location"].split("?")[0]
    edited = client.post(
        url + "/edit",
        data=_form(client, url + "/edit", title="园林街道排水管网改造工程（二期）", version="1"),
        follow_redirects=False,
    )
    assert edited.status_code == 303, _errors(edited.text)
    again = client.get(edited.headers["location"])
    assert again.status_code == 200 and "（二期）" in again.text


def test_a_stranger_gets_no_staff_page_of_a_tender(db: Database, client: Any) -> None:
    _sign_in(db, client)
    tid = _create(client)
    client.cookies.clear()
    _sign_in(db, client)  # another tenderee
    assert client.get(f"/manage/tenders/{tid}").status_code in (403, 404)


# --- every error at once, beside its field, values kept, one language --------------------------

BAD = {
    "title": "",
    "budget_yuan": "一百万",
    "duration_days": "",
    "bid_deadline_at": "下周一",
    "region": "鼓楼区",  # a district of another city
    "lot_ceiling_1": "abc",
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_form_with_several_bad_fields_comes_back_with_each_error_beside_its_field(
    db: Database, client: Any, lang: str
) -> None:
    _sign_in(db, client, lang)
    r = client.post("/manage/tenders", data=_form(client, **BAD), follow_redirects=False)
    assert r.status_code == 422
    errors = _errors(r.text)
    assert set(errors) >= {
        "title",
        "budget_yuan",
        "duration_days",
        "bid_deadline_at",
        "region",
        "lot_ceiling_1",
    }
    for name, text in errors.items():
        if lang == "zh":
            assert CJK.search(text) and not LATIN.search(text), (name, text)
        else:
            assert LATIN.search(text) and not CJK.search(text), (name, text)
    assert 'id="error-summary"' in r.text
    # what was typed is kept
    assert _value(r.text, "budget_yuan") == "一百万"
    assert _value(r.text, "bid_deadline_at") == "下周一"
    assert _value(r.text, "lot_ceiling_1") == "abc"
    assert _value(r.text, "ceiling_yuan") == "950000"
    assert _value(r.text, "lot_title_1") == "施工"
    assert _tenders(db) == []


def test_the_edit_form_refused_keeps_the_typed_values_and_changes_nothing(db: Database, client: Any) -> None:
    _sign_in(db, client, "en")
    tid = _create(client)
    url = f"/manage/tenders/{tid}/edit"
    r = client.post(
        url, data=_form(client, url, title="", ceiling_yuan="2000000", version="1"), follow_redirects=False
    )
    assert r.status_code == 422
    errors = _errors(r.text)
    assert "The title is required" in errors["title"]
    assert "may not exceed the budget" in errors["ceiling_yuan"]
    assert _value(r.text, "ceiling_yuan") == "2000000"
    (t,) = _tenders(db)
    assert t.title == "园林街道排水管网改造工程" and t.ceiling_price_fen == 95_000_000


# --- the bid bond and its waiver rules (DOMAIN §5) ---------------------------------------------


def test_the_new_form_says_before_saving_which_bond_rule_applies(db: Database, client: Any) -> None:
    _sign_in(db, client)
    page = client.get("/manage/tenders/new")
    notice = re.search(r'<div class="notice[^"]*" id="bond-rule"[^>]*>(.*?)</div>', page.text, re.S)
    assert notice is not None and "不适用免收规则" in notice.group(1)
    # the other rules' texts are there for the script to show as the fields change
    assert "政府投资工程免收投标保证金和履约保证金" in page.text
    assert "招标人决定不收取投标保证金" in page.text


def test_government_works_take_no_bid_bond_and_one_entered_is_refused_naming_the_rule(
    db: Database, client: Any
) -> None:
    _sign_in(db, client)
    gov = {"category": "works", "government_investment": "on"}
    r = client.post(
        "/manage/tenders", data=_form(client, **gov, bid_bond_yuan="10000"), follow_redirects=False
    )
    assert r.status_code == 409  # a rule refused it (one problem keeps its rule's status)
    assert "政府投资工程免收投标保证金和履约保证金" in _errors(r.text)["bid_bond_yuan"]
    assert _value(r.text, "bid_bond_yuan") == "10000"  # never silently dropped
    # the re-shown form's notice names the rule that applies
    assert re.search(r'id="bond-rule"[^>]*>[^<]*适用免收规则：政府投资工程', r.text)
    assert _tenders(db) == []
    tid = _create(client, **gov)
    (t,) = [t for t in _tenders(db) if t.id == tid]
    assert (t.bond_waived, t.bond_rule, t.bid_bond_fen) == (True, "government_works", None)
    edit = client.get(f"/manage/tenders/{tid}/edit")
    assert re.search(r'id="bond-rule"[^>]*>[^<]*适用免收规则：政府投资工程', edit.text)


def test_government_funded_goods_are_not_waived_and_take_a_bond(db: Database, client: Any) -> None:
    _sign_in(db, client, "en")
    tid = _create(
        client,
        category="goods",
        evaluation_method="lowest_price",
        government_investment="on",
        bid_bond_yuan="10000",
    )
    (t,) = [t for t in _tenders(db) if t.id == tid]
    assert (t.bond_waived, t.bond_rule, t.bid_bond_fen) == (False, "", 1_000_000)


def test_a_tenderee_that_waives_the_bond_gets_the_rule_and_an_entered_bond_is_refused(
    db: Database, client: Any
) -> None:
    _sign_in(db, client, "en")
    r = client.post(
        "/manage/tenders",
        data=_form(client, category="services", bond_waived="on", bid_bond_yuan="5000"),
        follow_redirects=False,
    )
    assert r.status_code == 409  # a rule refused it (one problem keeps its rule's status)
    assert "The tenderee does not require a bid bond" in _errors(r.text)["bid_bond_yuan"]
    tid = _create(client, category="services", bond_waived="on")
    (t,) = [t for t in _tenders(db) if t.id == tid]
    assert (t.bond_waived, t.bond_rule, t.bid_bond_fen) == (True, "tenderee_waives", None)


def test_a_bond_over_two_percent_of_the_budget_is_refused(db: Database, client: Any) -> None:
    _sign_in(db, client, "en")
    r = client.post("/manage/tenders", data=_form(client, bid_bond_yuan="20000.01"), follow_redirects=False)
    assert r.status_code == 409  # a rule refused it (one problem keeps its rule's status)
    assert "2%" in _errors(r.text)["bid_bond_yuan"]
    tid = _create(client, bid_bond_yuan="20000")  # exactly 2% of 1,000,000 yuan
    (t,) = [t for t in _tenders(db) if t.id == tid]
    assert t.bid_bond_fen == 2_000_000 and t.bond_rule == ""


# --- lots take their own ceiling price ---------------------------------------------------------

TWO_LOTS = {
    "lot_title_1": "第一标段",
    "lot_budget_1": "600000",
    "lot_title_2": "第二标段",
    "lot_budget_2": "400000",
}


def test_each_lot_keeps_its_own_ceiling_price(db: Database, client: Any) -> None:
    _sign_in(db, client)
    tid = _create(
        client, **TWO_LOTS, ceiling_yuan="1000000", lot_ceiling_1="580000", lot_ceiling_2="390000.50"
    )
    with db.unit_of_work() as s:
        lots = s.execute(select(Lot).where(Lot.tender_id == tid).order_by(col(Lot.number))).scalars().all()
        assert [(lot.title, lot.ceiling_price_fen) for lot in lots] == [
            ("第一标段", 58_000_000),
            ("第二标段", 39_000_050),
        ]
    edit = client.get(f"/manage/tenders/{tid}/edit")
    assert _value(edit.text, "lot_ceiling_2") == "390000.50"


def test_each_lots_ceiling_error_is_shown_beside_that_lot(db: Database, client: Any) -> None:
    _sign_in(db, client, "en")
    r = client.post(
        "/manage/tenders",
        data=_form(client, **TWO_LOTS, lot_ceiling_1="600000.01", lot_ceiling_2="-1"),
        follow_redirects=False,
    )
    assert r.status_code == 422
    errors = _errors(r.text)
    assert "lot 1's ceiling price may not exceed the lot's budget" in errors["lot_ceiling_1"]
    assert "Lot 2's ceiling price" in errors["lot_ceiling_2"]
    assert "lot_ceiling_3" not in errors
    assert _tenders(db) == []


def test_the_lots_ceilings_together_stay_within_the_tenders_ceiling(db: Database, client: Any) -> None:
    _sign_in(db, client, "en")
    r = client.post(
        "/manage/tenders",
        data=_form(client, **TWO_LOTS, lot_ceiling_1="590000", lot_ceiling_2="390000"),
        follow_redirects=False,
    )
    assert r.status_code == 409  # a rule refused it (one problem keeps its rule's status)
    assert "together may not exceed the tender's ceiling price" in _errors(r.text)["ceiling_yuan"]


# --- one region list -------------------------------------------------------------------------


def test_the_region_list_is_qianjiangs_and_is_what_the_form_offers(db: Database, client: Any) -> None:
    names = dict(regions.REGION_LABELS.values())
    for zh in ("市本级", "园林街道", "杨市街道", "周矶街道", "广华街道", "泰丰街道", "高场街道", "竹根滩镇",
               "渔洋镇", "王场镇", "高石碑镇", "熊口镇", "老新镇", "浩口镇", "积玉口镇", "张金镇", "龙湾镇",
               "潜江经济开发区"):  # fmt: skip
        assert zh in names
    assert "鼓楼区" not in names
    _sign_in(db, client, "en")
    page = client.get("/manage/tenders/new")
    assert '<option value="yuanlin"' in page.text and "Yuanlin Subdistrict" in page.text


def test_a_region_given_by_name_is_stored_as_its_code_and_shown_in_words(db: Database, client: Any) -> None:
    assert regions.parse("Zhugentan Town") == regions.Region.zhugentan
    _sign_in(db, client, "en")
    tid = _create(client, region="竹根滩镇")
    (t,) = [t for t in _tenders(db) if t.id == tid]
    assert t.region == "zhugentan"
    page = client.get(f"/manage/tenders/{tid}")
    assert "Zhugentan Town" in page.text


def test_an_unknown_region_is_refused_beside_the_field_in_both_languages(db: Database, client: Any) -> None:
    _sign_in(db, client, "zh")
    r = client.post("/manage/tenders", data=_form(client, region="Gulou"), follow_redirects=False)
    assert r.status_code == 422 and "潜江市的地区列表" in _errors(r.text)["region"]
    client.cookies.update({"lang": "en"})
    r = client.post("/manage/tenders", data=_form(client, region="Gulou"), follow_redirects=False)
    assert r.status_code == 422 and "not one of Qianjiang's regions" in _errors(r.text)["region"]


def test_the_api_and_search_use_the_same_region_list(db: Database, client: Any) -> None:
    from tests.trading.test_http import _body, _tenderee

    agency, headers, _ = factories.signed_in(db, Role.agency)
    tenderee = _tenderee(db, agency)
    bad = client.post("/api/trading/tenders", json=_body(tenderee, region="鼓楼区"), headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "region"
    ok = client.post("/api/trading/tenders", json=_body(tenderee, region="高场街道"), headers=headers)
    assert ok.status_code == 201 and ok.json()["region"] == "gaochang"
    refused = client.get("/api/trading/tenders", params={"region": "鼓楼区"})
    assert refused.status_code == 422
    assert client.get("/api/trading/tenders", params={"region": "高场街道"}).status_code == 200


# --- public acts ask first -------------------------------------------------------------------


def _state(db: Database, tid: int) -> tuple[str, int]:
    with db.unit_of_work() as s:
        t = s.get(Tender, tid)
        assert t is not None
        return str(t.state), t.version


def _published(db: Database, client: Any, lang: str = "zh") -> tuple[int, str]:
    _sign_in(db, client, lang)
    tid = _create(client)
    page = client.get(f"/manage/tenders/{tid}")
    token = _csrf(page.text)
    r = client.post(
        f"/manage/tenders/{tid}/publish",
        data={"_csrf_token": token, "version": "1", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _state(db, tid)[0] == TenderState.published
    return tid, token


def test_the_staff_page_says_what_publishing_does_before_it_is_done(db: Database, client: Any) -> None:
    _sign_in(db, client)
    tid = _create(client)
    page = client.get(f"/manage/tenders/{tid}")
    panel = re.search(r'<details class="confirm" id="publish-form">(.*?)</details>', page.text, re.S)
    assert panel is not None
    assert "向社会公开" in panel.group(1) and "不能撤回" in panel.group(1)
    assert 'name="confirmed" value="yes"' in panel.group(1)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_publishing_without_the_confirmation_is_refused_and_nothing_changes(
    db: Database, client: Any, lang: str
) -> None:
    _sign_in(db, client, lang)
    tid = _create(client)
    token = _csrf(client.get(f"/manage/tenders/{tid}").text)
    r = client.post(
        f"/manage/tenders/{tid}/publish", data={"_csrf_token": token, "version": "1"}, follow_redirects=False
    )
    assert r.status_code == 422
    assert ("此操作不可撤销" if lang == "zh" else "This cannot be undone") in r.text
    assert re.search(r'<details class="confirm" id="publish-form" open>', r.text)  # the panel, open
    assert _state(db, tid) == (TenderState.draft, 1)


def test_cancelling_without_the_confirmation_is_refused_and_nothing_changes(
    db: Database, client: Any
) -> None:
    tid, token = _published(db, client)
    before = _state(db, tid)
    r = client.post(
        f"/manage/tenders/{tid}/cancel",
        data={"_csrf_token": token, "version": str(before[1]), "cancel_reason": "需求变化"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert _value(r.text, "cancel_reason") == "需求变化"
    assert _state(db, tid) == before
    done = client.post(
        f"/manage/tenders/{tid}/cancel",
        data={
            "_csrf_token": token,
            "version": str(before[1]),
            "cancel_reason": "需求变化",
            "confirmed": "yes",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and _state(db, tid)[0] == TenderState.cancelled


def test_an_amendment_or_clarification_without_the_confirmation_publishes_nothing(
    db: Database, client: Any
) -> None:
    tid, token = _published(db, client)
    before = _state(db, tid)
    amend = client.post(
        f"/manage/tenders/{tid}/amend",
        data={
            "_csrf_token": token,
            "version": str(before[1]),
            "amend_reason": "更正",
            "amend_title": "新名称",
        },
        follow_redirects=False,
    )
    clarify = client.post(
        f"/manage/tenders/{tid}/clarifications",
        data={"_csrf_token": token, "clarify_text": "澄清内容"},
        follow_redirects=False,
    )
    upload = client.post(
        f"/manage/tenders/{tid}/documents",
        data={"_csrf_token": token, "version": str(before[1]), "name": "补充文件", "reason": "补充"},
        files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")},
        follow_redirects=False,
    )
    assert (amend.status_code, clarify.status_code, upload.status_code) == (422, 422, 422)
    assert _state(db, tid) == before
    with db.unit_of_work() as s:
        assert s.execute(select(Amendment).where(Amendment.tender_id == tid)).scalars().all() == []
        assert s.execute(select(Clarification).where(Clarification.tender_id == tid)).scalars().all() == []
    done = client.post(
        f"/manage/tenders/{tid}/amend",
        data={
            "_csrf_token": token,
            "version": str(before[1]),
            "amend_reason": "更正",
            "amend_title": "新名称",
            "confirmed": "yes",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and _state(db, tid)[0] == TenderState.amended
    uploaded = client.post(
        f"/manage/tenders/{tid}/documents",
        data={
            "_csrf_token": token,
            "version": str(_state(db, tid)[1]),
            "name": "补充文件",
            "reason": "补充",
            "confirmed": "yes",
        },
        files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303
    with db.unit_of_work() as s:
        assert len(s.execute(select(Amendment).where(Amendment.tender_id == tid)).scalars().all()) == 2


def test_an_amendment_adding_a_bond_to_government_works_is_refused_naming_the_rule(
    db: Database, client: Any
) -> None:
    _sign_in(db, client, "en")
    tid = _create(client, government_investment="on")
    token = _csrf(client.get(f"/manage/tenders/{tid}").text)
    client.post(
        f"/manage/tenders/{tid}/publish",
        data={"_csrf_token": token, "version": "1", "confirmed": "yes"},
        follow_redirects=False,
    )
    before = _state(db, tid)
    r = client.post(
        f"/manage/tenders/{tid}/amend",
        data={
            "_csrf_token": token,
            "version": str(before[1]),
            "amend_reason": "add a bond",
            "amend_bid_bond_yuan": "1000",
            "confirmed": "yes",
        },
        follow_redirects=False,
    )
    assert r.status_code == 409
    # the form has no bond field for such a tender: the refusal is in the summary at the top
    summary = re.search(r'<div class="error-summary".*?</div>', r.text, re.S)
    assert summary is not None and "Government-investment works" in summary.group(0)
    assert 'name="amend_bid_bond_yuan"' not in r.text
    assert _state(db, tid) == before


def test_the_public_search_offers_regions_by_name(db: Database, client: Any) -> None:
    tid, _ = _published(db, client, "en")
    client.cookies.clear()
    client.cookies.update({"lang": "en"})
    page = client.get("/tenders")
    assert '<option value="yuanlin"' in page.text and ">Yuanlin Subdistrict</option>" in page.text
    found = client.get("/tenders", params={"region": "yuanlin"})
    assert f'data-tender-id="{tid}"' in found.text and ">Yuanlin Subdistrict</td>" in found.text


def _as(db: Database, client: Any, principal: Any) -> str:
    """Sign ``client`` in as a fixture principal (its session cookie)."""
    from tenderhall.auth.models import User

    with db.unit_of_work() as s:
        u = s.get(User, principal.user_id)
        assert u is not None
        cookie = factories.token_for(s, u, kind="cookie")
    client.cookies.update({"th_session": cookie, "lang": "zh"})
    return cookie


def test_answering_a_question_without_the_confirmation_publishes_nothing(
    db: Database, client: Any, world: Any, make_tender: Any
) -> None:
    from trading.service import clarifications

    tid = make_tender()
    with db.unit_of_work() as s:
        q = clarifications.ask_question(s, world.bidders[0], tid, "付款方式是什么？")
        s.flush()
        qid = q.id
    _as(db, client, world.agency)
    token = _csrf(client.get(f"/manage/tenders/{tid}").text)
    body = {"_csrf_token": token, f"answer_{qid}_answer": "按进度付款"}
    refused = client.post(f"/manage/clarifications/{qid}/answer", data=body, follow_redirects=False)
    assert refused.status_code == 422
    assert re.search(rf'<details class="confirm" id="answer-{qid}" open>', refused.text)
    with db.unit_of_work() as s:
        c = s.get(Clarification, qid)
        assert c is not None and c.answer in (None, "") and c.answered_at is None
    done = client.post(
        f"/manage/clarifications/{qid}/answer", data={**body, "confirmed": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303
    with db.unit_of_work() as s:
        c = s.get(Clarification, qid)
        assert c is not None and c.answer == "按进度付款"


def test_failing_lots_and_retendering_need_their_confirmation(
    db: Database, client: Any, settings: Any, world: Any, make_tender: Any
) -> None:
    from tenderhall.auth.principal import SYSTEM
    from trading.models import LotState
    from trading.service import closing

    tid = make_tender(now=utcnow() - dt.timedelta(days=22), days=21)  # its deadline passed yesterday
    with db.unit_of_work() as s:
        assert closing.close_tender(s, SYSTEM, settings, tid)
        lot_ids = [x.id for x in s.execute(select(Lot).where(Lot.tender_id == tid)).scalars()]
    _as(db, client, world.agency)
    token = _csrf(client.get(f"/manage/tenders/{tid}").text)

    def fail(lot_id: int, **extra: str) -> Any:
        data = {"_csrf_token": token, f"fail_{lot_id}_valid_bids": "0", **extra}
        return client.post(f"/manage/lots/{lot_id}/fail", data=data, follow_redirects=False)

    assert fail(lot_ids[0]).status_code == 422
    with db.unit_of_work() as s:
        assert {s.get(Lot, i).state for i in lot_ids} == {LotState.active}  # type: ignore[union-attr]
    assert [fail(i, confirmed="yes").status_code for i in lot_ids] == [303, 303]
    assert _state(db, tid)[0] == TenderState.failed
    count = len(_tenders(db))
    refused = client.post(
        f"/manage/tenders/{tid}/retender", data={"_csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code == 422 and len(_tenders(db)) == count
    made = client.post(
        f"/manage/tenders/{tid}/retender",
        data={"_csrf_token": token, "confirmed": "yes"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and len(_tenders(db)) == count + 1
