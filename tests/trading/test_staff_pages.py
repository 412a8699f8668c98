"""The other staff pages on the design system: mandates are granted and ended only from their
confirmation panels, refused forms keep their values with each error beside its field, and kinds
and methods are shown by their labels, never their codes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tenderhall.auth.models import Role
from tenderhall.db import Database
from tests import factories
from tests.trading.test_http import _csrf
from tests.trading.test_tender_pages import CJK, LATIN, _errors, _sign_in, _value
from trading.models import Mandate


def _mandates(db: Database, tenderee_org: int) -> list[Mandate]:
    with db.unit_of_work() as s:
        rows = list(s.query(Mandate).filter(Mandate.tenderee_org_id == tenderee_org).all())
        for r in rows:
            s.expunge(r)
        return rows


def test_a_mandate_is_granted_only_from_its_confirmation_panel(db: Database, client: Any) -> None:
    tenderee = _sign_in(db, client)
    agency, _, _ = factories.signed_in(db, Role.agency)
    page = client.get("/manage/mandates")
    panel = re.search(r'<details class="confirm" id="mandate-form"[^>]*>(.*?)</details>', page.text, re.S)
    assert panel is not None and "以贵单位名义" in panel.group(1)
    body = {"_csrf_token": _csrf(page.text), "agency_org_id": str(agency.organisation_id), "note": "全部"}
    refused = client.post("/manage/mandates", data=body, follow_redirects=False)
    assert refused.status_code == 422 and "此操作不可撤销" in refused.text
    assert _mandates(db, tenderee.organisation_id) == []
    granted = client.post("/manage/mandates", data={**body, "confirmed": "yes"}, follow_redirects=False)
    assert granted.status_code == 303
    (m,) = _mandates(db, tenderee.organisation_id)
    assert m.agency_org_id == agency.organisation_id and m.ended_at is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_mandate_shows_each_error_beside_its_field(db: Database, client: Any, lang: str) -> None:
    tenderee = _sign_in(db, client, lang)
    page = client.get("/manage/mandates")
    r = client.post(
        "/manage/mandates",
        data={"_csrf_token": _csrf(page.text), "tender_id": "十二", "note": "说明", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    errors = _errors(r.text)
    assert set(errors) == {"agency_org_id", "tender_id"}
    for text in errors.values():
        assert (CJK if lang == "zh" else LATIN).search(text)
        assert not (LATIN if lang == "zh" else CJK).search(text)
    assert _value(r.text, "tender_id") == "十二" and _value(r.text, "note") == "说明"
    assert _mandates(db, tenderee.organisation_id) == []


def test_ending_a_mandate_needs_its_confirmation(db: Database, client: Any) -> None:
    tenderee = _sign_in(db, client)
    agency, _, _ = factories.signed_in(db, Role.agency)
    with db.unit_of_work() as s:
        mid = factories.mandate(s, tenderee.organisation_id, agency.organisation_id)  # type: ignore[arg-type]
    page = client.get("/manage/mandates")
    assert f'id="mandate-end-{mid}"' in page.text
    body = {"_csrf_token": _csrf(page.text), f"end_{mid}_reason": "到期"}
    refused = client.post(f"/manage/mandates/{mid}/end", data=body, follow_redirects=False)
    assert refused.status_code == 422
    assert re.search(rf'<details class="confirm" id="mandate-end-{mid}" open>', refused.text)
    assert _value(refused.text, f"end_{mid}_reason") == "到期"
    assert _mandates(db, tenderee.organisation_id)[0].ended_at is None
    ended = client.post(
        f"/manage/mandates/{mid}/end", data={**body, "confirmed": "yes"}, follow_redirects=False
    )
    assert ended.status_code == 303
    (m,) = _mandates(db, tenderee.organisation_id)
    assert m.ended_at is not None and m.end_reason == "到期"


def test_procedure_settings_refused_name_each_field_in_words(db: Database, client: Any) -> None:
    _sign_in(db, client, "en", role=Role.admin)
    page = client.get("/manage/procedures")
    assert page.status_code == 200 and "Open tender" in page.text
    r = client.post(
        "/manage/procedures/open",
        data={"_csrf_token": _csrf(page.text), "open_min_tender_days": "-3", "open_min_valid_bids": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    errors = _errors(r.text)
    assert "Minimum days from publication to deadline" in errors["open_min_tender_days"]
    assert "Minimum valid bids" in errors["open_min_valid_bids"]
    assert not any("min_tender_days" in t for t in errors.values())  # words, not column names
    assert _value(r.text, "open_min_tender_days") == "-3"


def test_an_organisation_with_a_wrong_check_character_is_refused_beside_the_code(
    db: Database, client: Any
) -> None:
    _sign_in(db, client, "zh", role=Role.admin)
    page = client.get("/manage/organisations")
    assert page.status_code == 200
    good = factories.credit_code()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = client.post(
        "/manage/organisations",
        data={
            "_csrf_token": _csrf(page.text),
            "credit_code": wrong,
            "name": "潜江测试公司",
            "kind": "bidder",
        },
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "credit_code" in _errors(r.text)
    assert _value(r.text, "name") == "潜江测试公司"
    ok = client.post(
        "/manage/organisations",
        data={"_csrf_token": _csrf(page.text), "credit_code": good, "name": "潜江测试公司", "kind": "bidder"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    listed = client.get("/manage/organisations")
    row = re.search(r"<tr><td>潜江测试公司</td>(.*?)</tr>", listed.text, re.S)
    assert row is not None and "投标企业" in row.group(1) and ">bidder<" not in row.group(1)


def _rows(text: str) -> list[str]:
    """The titles of the staff list's rows, in order."""
    return re.findall(r'<tr class="manage-row" data-tender-id="\d+">\s*<td><a href="[^"]+">([^<]+)</a>', text)


def test_the_staff_list_searches_filters_sorts_and_shows_labels(db: Database, client: Any) -> None:
    from tests.trading.test_tender_pages import _create

    _sign_in(db, client, "en")
    _create(client, title="园林街道排水工程", budget_yuan="1000000")
    _create(client, title="杨市街道照明设备采购", category="goods", evaluation_method="lowest_price",
            budget_yuan="2000000", ceiling_yuan="1900000", lot_budget_1="2000000")  # fmt: skip
    _create(client, title="城区绿化养护服务", category="services", budget_yuan="3000000",
            ceiling_yuan="2900000", lot_budget_1="3000000")  # fmt: skip
    page = client.get("/manage/tenders", params={"sort": "budget", "dir": "asc"})
    assert _rows(page.text) == ["园林街道排水工程", "杨市街道照明设备采购", "城区绿化养护服务"]
    assert "Goods" in page.text and ">goods<" not in page.text and "Draft" in page.text
    desc = client.get("/manage/tenders", params={"sort": "budget", "dir": "desc"})
    assert _rows(desc.text) == ["城区绿化养护服务", "杨市街道照明设备采购", "园林街道排水工程"]
    assert set(_rows(client.get("/manage/tenders", params={"q": "街道"}).text)) == {
        "园林街道排水工程",
        "杨市街道照明设备采购",
    }
    assert _rows(client.get("/manage/tenders", params={"category": "services"}).text) == ["城区绿化养护服务"]
    assert _rows(client.get("/manage/tenders", params={"state": "published"}).text) == []
