"""The portal in a browser: a staff user's sign-in lands on the desk; the 交易公告 category opens
its sub-lists to the keyboard (no script); on a phone the portal's own pages and the job list
fit the screen."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

from tenderhall.auth.models import Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service.totp import enable_totp
from tenderhall.auth.service.users import create_user
from tenderhall.db import Database
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.settings import Settings
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def _admin(server: LiveServer, jobs: int = 0) -> str:
    settings = Settings(
        database_url=server.database_url,
        key_dir=Path(server.env["TENDERHALL_KEY_DIR"]),
        blob_dir=Path(server.env["TENDERHALL_BLOB_DIR"]),
    )
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as s:
            user = create_user(s, SYSTEM, "admin.zhao", "赵管理", Role.admin, password="Correct-Horse-42")
            for n in range(jobs):
                s.add(OutboxJob(actor_name="trading.close_tender", args={"n": n}, status=JobStatus.pending))
            return enable_totp(s, SYSTEM, settings, user.id).secret  # type: ignore[arg-type]
    finally:
        db.dispose()


def _sign_in(server: LiveServer, page, secret: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url + "/login")
    page.fill("#username", "admin.zhao")
    page.fill("#password", "Correct-Horse-42")
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/desk")


def test_signing_in_lands_on_the_desk_with_the_admins_sections(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    _sign_in(live_server, page, _admin(live_server))
    assert page.locator("h1").inner_text() == "我的工作台"
    assert page.locator("#desk-kernel-jobs h2").inner_text() == "后台任务"
    assert page.locator('.role-nav a[aria-current="page"]').inner_text() == "我的工作台"


def test_the_notices_category_opens_its_sub_lists_to_the_keyboard(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server.url + "/guide")
    sub = page.locator(".main-nav li.has-sub .sub").first
    assert not sub.is_visible()
    page.locator(".main-nav li.has-sub > a").first.focus()
    assert sub.is_visible()
    assert sub.locator("a").all_inner_texts() == ["招标公告", "变更公告", "结果公告"]


@pytest.mark.parametrize("path", ["/", "/policies", "/guide", "/tenders"])
def test_the_portals_pages_fit_a_phone_screen(live_server: LiveServer, browser, path: str) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN")
    try:
        phone = ctx.new_page()
        phone.goto(live_server.url + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px screen"
    finally:
        ctx.close()


def test_the_job_list_fits_a_phone_screen(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    secret = _admin(live_server, jobs=3)
    ctx = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN")
    try:
        phone = ctx.new_page()
        _sign_in(live_server, phone, secret)
        phone.goto(live_server.url + "/admin/jobs?status=all")
        assert phone.locator("table#jobs tbody tr").count() >= 3  # ours and those the sign-in made
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the job list is {width}px wide on a 390px screen"
    finally:
        ctx.close()
