"""The portal a citizen recognises: the centre's name and emblem in the header, the navigation by
category (交易公告 with its sub-lists, 信用信息, 政策法规, 服务指南) in both languages with the current
page marked, the footer's address, hotline and filing number, the laws and guide pages in both
languages, and the home page's statistics strip equal to the counts of the public data."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest

from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tenderhall.web import render as render_mod
from tenderhall.web.portal import GUIDE, POLICIES
from tenderhall.web.render import NavOrder, add_nav, navigation
from tests import factories
from tests.kernel.test_desk import fields, principal_of
from trading.service import drafting, publication


def main_nav(page: Any) -> list[str]:
    """The top-level categories of the main navigation, in order."""
    nav = page.text.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    nav = re.sub(r'<ul class="sub">.*?</ul>', "", nav, flags=re.S)
    return [html.unescape(t) for t in re.findall(r"<a href=\"[^\"]+\"[^>]*>([^<]+)</a>", nav)]


def sub_nav(page: Any) -> list[str]:
    nav = page.text.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    return [html.unescape(t) for t in re.findall(r'<ul class="sub">.*?</ul>', nav, re.S) for t in
            re.findall(r">([^<]+)</a>", t)]  # fmt: skip


def current(page: Any) -> list[str]:
    header = page.text.split("</header>", 1)[0]
    return [html.unescape(t) for t in re.findall(r'aria-current="page">([^<]+)</a>', header)]


def text_of(page: Any) -> str:
    main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def test_the_navigation_shows_the_categories_people_look_for_in_chinese_and_english(client: Any) -> None:
    zh = client.get("/policies")
    assert main_nav(zh) == ["首页", "交易公告", "信用信息", "政策法规", "服务指南"]
    assert sub_nav(zh)[:3] == ["招标公告", "变更公告", "结果公告"]
    en = client.get("/policies", params={"lang": "en"})
    assert main_nav(en) == ["Home", "Notices", "Credit information", "Laws and rules", "Service guide"]
    assert sub_nav(en)[:3] == ["Tender notices", "Amendments", "Results"]


def test_the_page_read_is_marked_current_and_its_category_shows_its_sub_lists(client: Any) -> None:
    results = client.get("/tenders", params={"kind": "result"})
    assert current(results) == ["结果公告", "结果公告"]  # in the drop-down and in the tabs below
    assert '<nav class="sub-nav" aria-label="交易公告">' in results.text
    assert current(client.get("/guide")) == ["服务指南"]
    assert '<nav class="sub-nav"' not in client.get("/guide").text  # a category without sub-lists


def test_a_new_category_is_one_line_and_takes_its_reserved_place(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``app``: the domains have registered their categories."""
    monkeypatch.setattr(render_mod, "NAV", list(render_mod.NAV))
    add_nav("/opening", "开标大厅", "Opening hall", order=NavOrder.OPENING)
    nav = navigation(Principal.anonymous(), "/opening", {})
    assert [n.zh for n in nav.main] == ["首页", "交易公告", "信用信息", "开标大厅", "政策法规", "服务指南"]
    assert [n.zh for n in nav.main if n.current] == ["开标大厅"]


def test_a_users_own_pages_show_in_a_second_navigation_and_not_for_the_public(
    db: Database, client: Any
) -> None:
    anonymous = client.get("/")
    assert '<nav class="role-nav"' not in anonymous.text
    with db.unit_of_work() as s:
        tenderee = principal_of(s, Role.tenderee, OrgKind.tenderee)
    from tests.kernel.test_desk import sign_in_as

    sign_in_as(db, client, tenderee)
    page = client.get("/desk")
    mine = page.text.split('<nav class="role-nav"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r">([^<]+)</a>", mine)[:2] == ["我的工作台", "项目管理"]
    assert current(page) == ["我的工作台"]


def test_the_header_and_footer_name_the_centre_and_its_contacts(client: Any, settings: Settings) -> None:
    p = settings.portal
    zh = client.get("/guide")
    header = zh.text.split("</header>", 1)[0]
    assert p.centre_name_zh in header and f'src="{p.emblem}"' in header
    footer = zh.text.split('<footer class="site-footer">', 1)[1]
    for part in (p.address_zh, p.hotline, p.filing_number):
        assert part in footer
    en = client.get("/guide", params={"lang": "en"})
    assert p.centre_name_en in en.text.split("</header>", 1)[0]
    assert p.address_en in en.text.split('<footer class="site-footer">', 1)[1]


@pytest.mark.parametrize("path", ["/policies", "/guide"])
def test_the_laws_and_guide_pages_speak_the_language_asked(client: Any, path: str) -> None:
    zh, en = client.get(path), client.get(path, params={"lang": "en"})
    assert zh.status_code == en.status_code == 200
    zh_text, en_text = text_of(zh), text_of(en)
    if path == "/policies":
        for group in POLICIES:
            for p in group.items:
                assert p.title_zh in zh_text and p.here_zh in zh_text
                assert p.title_en in en_text and p.here_en in en_text
        assert "《中华人民共和国招标投标法》" in zh_text and "Bidding Law" in en_text
    else:
        for step in GUIDE:
            assert step.zh in zh_text and step.en in en_text
            for point_zh, point_en in step.points:
                assert point_zh in zh_text and point_en in en_text
    assert not re.search(r"[\u4e00-\u9fff]", en_text.replace("中文", "")), "Chinese text on the English page"


def test_every_guide_link_leads_to_a_page_that_exists(client: Any) -> None:
    for step in GUIDE:
        for href, _zh, _en in step.links:
            r = client.get(href.split("#", 1)[0], follow_redirects=False)
            assert r.status_code == 200, href


def stats(page: Any) -> dict[str, str]:
    strip = page.text.split('id="home-stats"', 1)[1].split("</section>", 1)[0]
    found = re.findall(r"<strong>([^<]+)</strong><span>([^<]+)</span>", strip)
    return {html.unescape(label): value for value, label in found}


def test_the_home_pages_figures_are_the_counts_of_the_public_data(
    db: Database, settings: Settings, client: Any
) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        tenderee: Principal = principal_of(s, Role.tenderee, OrgKind.tenderee)
        factories.custodians(s, tenderee)
        org = tenderee.organisation_id
        assert org is not None
        for i, days in enumerate((30, 31, 32)):
            t = drafting.create_tender(
                s, tenderee, settings, fields(org, deadline=now + dt.timedelta(days=days), title=f"公告{i}")
            )
            publication.publish_tender(s, tenderee, settings, t.id, now=now)  # type: ignore[arg-type]
        drafting.create_tender(
            s, tenderee, settings, fields(org, deadline=now + dt.timedelta(days=40))
        )  # a draft
    shown = stats(client.get("/", params={"lang": "en"}))
    assert shown["Tenders open for bids"] == "3"  # the draft is not public
    assert shown["Tenders published this year"] == "3"
    assert shown["Budget of this year's tenders"] == "¥30.00 million"  # 3 × ¥10,000,000
    assert shown["Results this year"] == "0"
    assert shown["Records on credit disclosure"] == "0"
    home = client.get("/")
    assert all(f"公告{i}" in text_of(home) for i in range(3))
