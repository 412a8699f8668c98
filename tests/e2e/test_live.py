"""Browser test of the live tender page: the public has the page open, the agency publishes an
amendment, and the page shows it (state, title, deadline countdown) without being reloaded; the
announcement PDF's link appears once the job has rendered it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_the_public_tender_page_updates_live_when_the_agency_amends_it(
    demo_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    server = demo_server
    deadline = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    server.sign_in(page, "agency")
    page.goto(server.url + "/manage/tenders/new")
    page.fill("form#tender-form [name=title]", "实时更新测试工程 E2E")
    page.select_option("form#tender-form [name=category]", index=0)
    page.select_option("form#tender-form [name=tenderee_org_id]", index=0)
    page.fill("form#tender-form [name=budget_yuan]", "1000000.00")
    page.fill("form#tender-form [name=duration_days]", "60")
    page.fill("form#tender-form [name=bid_deadline_at]", deadline)
    page.fill("form#tender-form [name=lot_title_1]", "施工")
    page.fill("form#tender-form [name=lot_budget_1]", "1000000.00")
    page.click("#tender-save")
    page.wait_for_load_state()
    manage_url = page.url.split("?")[0]
    tender_id = re.search(r"/manage/tenders/(\d+)", manage_url).group(1)  # type: ignore[union-attr]
    page.click("#publish-form summary")  # the panel says what publishing does; its button publishes
    page.click("#publish-form button[name=confirmed]")
    page.wait_for_load_state()

    public = page.context.browser.new_page()
    public.goto(f"{server.url}/tenders/{tender_id}")
    public.evaluate("window.__notReloaded = true")
    assert public.locator("#tender-countdown").inner_text().startswith("剩余")  # counting down
    # the announcement PDF is rendered by a job in a worker process: its link appears when it is done
    public.wait_for_selector("#announcement-pdf", timeout=120_000)

    page.goto(manage_url)
    page.click("#amend-form summary")
    page.fill("#amend_reason", "更正项目名称")
    page.fill("#amend_title", "实时更新测试工程（更正）E2E")
    page.click("#amend-form button[name=confirmed]")
    page.wait_for_load_state()

    public.locator("#tender-title", has_text="更正").wait_for(timeout=60_000)  # no eval: the CSP forbids it
    assert public.locator("#tender-state").inner_text().strip() == "招标中（已变更）"
    assert public.evaluate("window.__notReloaded === true")  # updated in place, not reloaded
    assert public.locator("#tender-countdown").inner_text().startswith("剩余")
    public.screenshot(path=str(tmp_path / "live-tender.png"), full_page=True)
    public.close()
