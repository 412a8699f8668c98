"""A success message after a form is shown once, in the reader's language, on the page the form
leads to; it never comes from the URL, so no link can make the platform say something."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from tenderhall.auth.models import Role
from tenderhall.db import Database, utcnow
from tenderhall.web.render import FLASH_COOKIE
from tests import factories
from tests.trading.test_http import _csrf, _tenderee

BEIJING = dt.timezone(dt.timedelta(hours=8))


def _flash_box(html: str) -> str | None:
    """The text of the page's flash message box, if it has one."""
    start = html.find('<div class="flash ')
    if start < 0:
        return None
    return html[html.index(">", start) + 1 : html.index("</div>", start)]


def _save_draft(db: Database, client: Any, lang: str) -> Any:
    agency, _, cookies = factories.signed_in(db, Role.agency)
    tenderee = _tenderee(db, agency)
    client.cookies.update({**cookies, "lang": lang})
    form_page = client.get("/manage/tenders/new")
    deadline = (utcnow() + dt.timedelta(days=25)).astimezone(BEIJING)
    form = {
        "_csrf_token": _csrf(form_page.text),
        "title": "学校食堂设备采购",
        "category": "goods",
        "method": "open",
        "evaluation_method": "lowest_price",
        "tenderee_org_id": str(tenderee),
        "budget_yuan": "1200000",
        "ceiling_yuan": "1150000",
        "duration_days": "60",
        "bid_deadline_at": deadline.strftime("%Y-%m-%dT%H:%M"),
        "region": "广华街道",
        "description": "描述",
        "lot_title_1": "厨具",
        "lot_budget_1": "1200000",
    }
    return client.post("/manage/tenders", data=form, follow_redirects=False)


@pytest.mark.parametrize(
    ("lang", "shown", "absent"), [("zh", "草稿已保存", "Draft saved"), ("en", "Draft saved", "草稿已保存")]
)
def test_the_message_after_a_form_is_shown_once_in_the_readers_language(
    db: Database, client: Any, lang: str, shown: str, absent: str
) -> None:
    created = _save_draft(db, client, lang)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert "?" not in location and "flash" not in location  # nothing in the URL
    assert FLASH_COOKIE in created.cookies
    page = client.get(location)
    assert _flash_box(page.text) == shown
    assert absent not in page.text
    assert "max-age=0" in page.headers["set-cookie"].lower()  # the page clears the message
    client.cookies.pop(FLASH_COOKIE, None)  # as the browser does on max-age=0
    assert _flash_box(client.get(location).text) is None  # shown once


def test_a_message_in_the_url_is_not_shown(client: Any) -> None:
    page = client.get(
        "/tenders?flash=%E6%82%A8%E7%9A%84%E6%8A%95%E6%A0%87%E5%B7%B2%E4%BD%9C%E5%BA%9F&flash_kind=error"
    )
    assert page.status_code == 200
    assert _flash_box(page.text) is None
    assert "您的投标已作废" not in page.text


def test_a_malformed_or_unknown_kind_of_message_cookie_is_ignored(client: Any) -> None:
    odd = base64.urlsafe_b64encode(json.dumps({"kind": "script", "text": "x"}).encode()).decode()
    for value in ("not-base64!", base64.urlsafe_b64encode(b"[1, 2]").decode(), odd):
        client.cookies.set(FLASH_COOKIE, value)
        page = client.get("/tenders")
        assert page.status_code == 200, value
        assert _flash_box(page.text) is None, value


def test_a_redirect_to_a_fragment_keeps_the_fragment_whole(db: Database, client: Any) -> None:
    created = _save_draft(db, client, "zh")
    manage_url = created.headers["location"]
    page = client.get(manage_url)
    published = client.post(
        manage_url + "/publish",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes"},
        follow_redirects=False,
    )
    assert published.status_code == 303
    tender_id = int(manage_url.rsplit("/", 1)[1])
    _, _, cookies = factories.signed_in(db, Role.bidder)
    client.cookies.clear()
    client.cookies.update(cookies)
    tender_page = client.get(f"/tenders/{tender_id}")
    asked = client.post(
        f"/tenders/{tender_id}/questions",
        data={"_csrf_token": _csrf(tender_page.text), "question": "付款方式是什么？"},
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == f"/tenders/{tender_id}#questions"
    assert _flash_box(client.get(f"/tenders/{tender_id}").text) == "问题已提交，答复将在澄清栏公布"
