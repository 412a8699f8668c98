"""Browser tests of the staff tender pages: one click on "publish" only opens the panel that says
what publishing does (the tender is published by the panel's own button, not before); a refused
new tender comes back with every error beside its field, what was typed kept, in one language,
and passes the page checks at 1366 and 390 px (screenshots in var/screenshots/forms/)."""

from __future__ import annotations

import re

import pytest

from tests.e2e import pagecheck
from tests.e2e.conftest import ROOT, LiveServer

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


SHOTS = ROOT / "var" / "screenshots" / "forms"


def test_a_refused_new_tender_shows_every_error_beside_its_field_and_passes_the_page_checks(
    demo_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
) -> None:
    server = demo_server
    server.sign_in(page, "tenderee")  # once: a TOTP code is refused when used again
    problems: list[pagecheck.Problem] = []
    for lang in ("zh", "en"):
        page.goto(server.url + f"/lang/{lang}?next=/manage/tenders/new")  # the language cookie
        page.fill("#title", "")
        page.fill("#budget_yuan", "-5")
        page.fill("#duration_days", "0")
        page.fill("#description", "东风路照明改造，保留这段说明")
        page.click("#tender-save")
        page.wait_for_load_state()

        for name in ("title", "budget_yuan", "duration_days"):
            assert page.locator(f"#{name}").get_attribute("aria-invalid") == "true", (lang, name)
            assert page.locator(f"#err-{name}").inner_text().strip(), (lang, name)
        assert page.locator(".error-summary li").count() >= 3
        assert page.locator("#budget_yuan").input_value() == "-5"  # what was typed is kept
        assert page.locator("#description").input_value() == "东风路照明改造，保留这段说明"
        errors = page.locator(".error-summary").inner_text()
        assert (re.search(r"[\u4e00-\u9fff]", errors) is None) == (lang == "en"), errors
        problems += pagecheck.check_loaded(page, "/manage/tenders (refused)", lang, shots=SHOTS)
    assert problems == [], pagecheck.report("tenderee", problems)
