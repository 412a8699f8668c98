"""Browser test of the staff tender page: one click on "publish" only opens the panel that says
what publishing does; the tender is published by the panel's own button, not before."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_a_single_click_on_publish_opens_the_panel_and_does_not_publish(
    demo_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
) -> None:
    server = demo_server
    server.sign_in(page, "agency")
    page.goto(server.url + "/manage/tenders?state=draft")
    page.locator("#manage-tenders tr.manage-row a").first.click()
    page.wait_for_load_state()
    draft_url = page.url
    assert page.locator("#tender-state").inner_text().strip() == "草稿"

    page.click("#publish-form summary")  # the one click a hurried user makes
    panel = page.locator("#publish-form .confirm-panel")
    assert panel.is_visible()
    assert "向社会公开" in panel.locator(".consequence").inner_text()
    page.goto(draft_url)  # nothing was sent: the tender is still a draft
    assert page.locator("#tender-state").inner_text().strip() == "草稿"

    page.click("#publish-form summary")
    page.click("#publish-form button[name=confirmed]")
    page.wait_for_load_state()
    assert page.locator("#tender-state").inner_text().strip() == "招标中"
