"""Browser test of the credit disclosure: the public searches the disclosure pages, and a record is
followed from a supervisor's decision to the public page, the Atom feed and a receiving credit
platform (a real `tenderhall credit receiver` process verifying the platform's signatures)."""

from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, LiveServer, _free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def _db_path(server: LiveServer) -> str:
    return server.database_url.removeprefix("sqlite:///")


def test_public_search_and_a_record_from_decision_to_page_feed_and_receiver(
    demo_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    server = demo_server
    m = re.search(r"/credit/manage/(\d+)", server.demo_output.replace("\n", ""))
    assert m, server.demo_output[-2000:]
    record_id = int(m.group(1))

    # the receiving platform: point the demo's receiver at a free port and start it
    port = _free_port()
    with sqlite3.connect(_db_path(server), timeout=60) as conn:
        conn.execute("UPDATE credit_receiver SET url = ?", (f"http://127.0.0.1:{port}/events",))
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenderhall.cli",
            "credit",
            "receiver",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "receiver.db"),
            "--platform",
            server.url,
        ],
        cwd=ROOT,
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # 1. the public searches the disclosure pages
        page.goto(server.url + "/credit")
        first_name = page.locator("table#credit-results tr a.record-link").first.inner_text()
        page.fill("#search-q", first_name[:4])
        page.click("form#credit-search button[type=submit]")
        page.wait_for_load_state()
        rows = page.locator("table#credit-results tbody tr")
        assert rows.count() >= 1
        assert first_name[:4] in rows.first.inner_text()
        page.goto(server.url + "/credit/blacklist")
        listed = page.locator("table#blacklist tr.blacklist-entry")
        assert listed.count() >= 1  # the demo's seriously penalised company
        assert page.locator("table#blacklist tr.blacklist-entry [data-tier=D]").count() == listed.count()
        page.screenshot(path=str(tmp_path / "blacklist.png"), full_page=True)

        # not yet public
        assert httpx.get(f"{server.url}/credit/records/{record_id}").status_code == 404

        # 2. a supervisor decides and publishes the record
        server.sign_in(page, "supervisor")
        page.goto(f"{server.url}/credit/manage/{record_id}")
        page.click("#decide-confirm summary")
        page.select_option("#decide-confirm [name=outcome]", "upheld")
        page.fill("#decide-confirm [name=decision_number]", "榕公管信罚〔2026〕99号")
        page.fill("#decide-confirm [name=reasons]", "经查证属实，当事人陈述申辩理由不成立。")
        page.click("#decide-confirm button[name=confirmed]")
        page.wait_for_load_state()
        # one click only opens the publication's panel: nothing is published yet
        page.click("#publish-confirm summary")
        assert page.locator("#publish-confirm .consequence").is_visible()
        assert "门户公开" in page.locator("#publish-confirm .consequence").inner_text()
        assert page.locator("#record-status").get_attribute("data-status") == "decided"
        assert httpx.get(f"{server.url}/credit/records/{record_id}").status_code == 404
        page.click("#publish-confirm button[name=confirmed]")
        page.wait_for_load_state()
        assert page.locator("#record-status").get_attribute("data-status") == "published"
        page.click("a#public-page-link")
        page.wait_for_load_state()
        assert page.url.endswith(f"/credit/records/{record_id}")
        assert "榕公管信罚〔2026〕99号" in page.locator("#record-decision-number").inner_text()
        page.screenshot(path=str(tmp_path / "record.png"), full_page=True)

        # 3. the Atom feed carries it
        feed = httpx.get(server.url + "/credit/feed.atom").text
        assert f"/credit/records/{record_id}" in feed

        # 4. the receiving platform gets it, signed and once
        # the receiver stores only events whose signature verified, once per idempotency key
        published: list[dict] = []

        def received() -> bool:
            try:
                items = httpx.get(f"http://127.0.0.1:{port}/events", timeout=5).json()
            except httpx.HTTPError:
                return False
            published[:] = [
                e
                for e in items
                if e["event"]["record"]["id"] == record_id and e["event"]["record"]["status"] == "published"
            ]
            return bool(published)

        wait_until(
            received, timeout=120, interval=0.5, message=f"record {record_id} did not reach the receiver"
        )
        (arrival,) = published
        assert arrival["event"]["record"]["decision_number"] == "榕公管信罚〔2026〕99号"
        assert arrival["times_received"] == 1
    finally:
        receiver.terminate()
        receiver.wait(timeout=15)


def test_an_agency_publishes_a_tender_and_the_public_finds_it_by_search(
    demo_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    server = demo_server
    title = "鼓楼区东街口地下通道照明改造工程 E2E"
    deadline = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")

    server.sign_in(page, "agency")
    page.goto(server.url + "/manage/tenders/new")
    page.fill("form#tender-form [name=title]", title)
    page.select_option("form#tender-form [name=category]", index=0)
    page.select_option("form#tender-form [name=tenderee_org_id]", index=0)
    page.fill("form#tender-form [name=budget_yuan]", "3800000.00")
    page.fill("form#tender-form [name=ceiling_yuan]", "3650000.00")
    page.fill("form#tender-form [name=duration_days]", "120")
    page.fill("form#tender-form [name=bid_deadline_at]", deadline)
    page.select_option("form#tender-form [name=region]", "yuanlin")
    page.fill("form#tender-form [name=description]", "<script>alert('x')</script> 照明改造")
    page.fill("form#tender-form [name=lot_title_1]", "施工")
    page.fill("form#tender-form [name=lot_budget_1]", "3800000.00")
    page.click("#tender-save")
    page.wait_for_load_state()
    assert re.search(r"/manage/tenders/\d+(\?|$)", page.url), page.url
    page.click("#publish-form summary")  # the panel says what publishing does; its button publishes
    page.click("#publish-form button[name=confirmed]")
    page.wait_for_load_state()
    page.screenshot(path=str(tmp_path / "published.png"), full_page=True)

    # the public, signed out, finds it by search
    public = page.context.browser.new_page()
    public.goto(server.url + "/tenders")
    public.fill("#tender-search input[name=q]", "东街口地下通道")
    public.click("#tender-search button[type=submit]")
    public.wait_for_load_state()
    rows = public.locator("#search-results tr.tender-row")
    assert rows.count() == 1
    rows.first.locator("a.tender-link").click()
    public.wait_for_load_state()
    assert public.locator("#tender-title").inner_text().strip() == title
    # script written into the description is shown as text, never run
    assert "<script>alert('x')</script>" in public.locator("#tender-description").inner_text()
    assert public.locator("#tender-description script").count() == 0
    public.screenshot(path=str(tmp_path / "public-tender.png"), full_page=True)
    public.close()


def test_the_statistics_charts_show_every_label_whole_and_fit_a_390_px_phone(
    demo_server: LiveServer,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(demo_server.url + "/credit/stats")
        for chart_id in ("chart-by-type", "chart-by-month"):
            chart = page.locator(f"#{chart_id}")
            box = chart.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
            labels = chart.locator(".hbar-label")
            assert labels.count() >= 3
            boxes = []
            for i in range(labels.count()):
                label = labels.nth(i)
                assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # nothing clipped
                b = label.bounding_box()
                assert b is not None and b["x"] + b["width"] <= 390
                boxes.append(b)
            for upper, lower in itertools.pairwise(boxes):
                assert upper["y"] + upper["height"] <= lower["y"] + 0.5  # no label overlaps the next
            assert "：" in (chart.locator("li").first.get_attribute("title") or "")  # value on hover
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        ctx.close()
