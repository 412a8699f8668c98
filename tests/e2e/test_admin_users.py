"""In a real browser: an administrator creates a user with one mistake, sees the error beside the
field with what they typed kept, fixes it, and disables the user after a confirmation that names
them."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

from tenderhall.auth.models import Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service.totp import enable_totp
from tenderhall.auth.service.users import create_user
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "Granite-Harbour-31"


def _admin(server: LiveServer) -> str:
    settings = Settings(
        database_url=server.database_url,
        key_dir=Path(server.env["TENDERHALL_KEY_DIR"]),
        blob_dir=Path(server.env["TENDERHALL_BLOB_DIR"]),
    )
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as s:
            user = create_user(s, SYSTEM, "admin.zhao", "赵管理", Role.admin, password=ADMIN_PASSWORD)
            return enable_totp(s, SYSTEM, settings, user.id).secret  # type: ignore[arg-type]
    finally:
        db.dispose()


def test_admin_creates_a_user_after_fixing_a_mistake_and_disables_them_after_confirming(  # type: ignore[no-untyped-def]
    live_server: LiveServer, page, tmp_path: Path
) -> None:
    secret = _admin(live_server)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/login")
    page.fill("#username", "admin.zhao")
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_load_state()

    page.goto(live_server.url + "/admin/users/new")
    page.fill("#username", "li.sup")
    page.fill("#display_name", "李监管")
    page.select_option("#role", "supervisor")
    page.select_option("#pw_mode", "typed")
    page.fill("#password", "Silver-Orchard-58")
    page.fill("#password2", "Silver-Orchard-59")  # the mistake
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    assert "两次输入的密码不一致" in page.locator("#err-password2").inner_text()
    assert page.get_attribute("#password2", "aria-invalid") == "true"
    assert page.locator("#error-summary").is_visible()
    assert page.input_value("#username") == "li.sup"
    assert page.input_value("#display_name") == "李监管"
    assert page.input_value("#role") == "supervisor"
    assert page.input_value("#pw_mode") == "typed"
    assert page.input_value("#password") == ""  # a password is never sent back
    page.screenshot(path=str(tmp_path / "new-user-error.png"), full_page=True)
    # the page fits the phone's width: nothing makes it scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.fill("#password", "Silver-Orchard-58")
    page.fill("#password2", "Silver-Orchard-58")
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    assert "用户已创建" in page.locator("h1").inner_text()
    assert page.locator("#new-totp-secret").inner_text()  # a supervisor is enrolled at once
    assert page.locator("#new-password").count() == 0  # the typed password is not shown
    page.click("text=查看该用户")
    page.wait_for_load_state()

    panel = page.locator("#confirm-disable .confirm-panel")
    assert not panel.is_visible()
    page.click("#confirm-disable summary")
    assert panel.is_visible()
    consequence = panel.locator(".consequence").inner_text()
    assert "李监管（li.sup）" in consequence and "API 令牌立即失效" in consequence
    page.screenshot(path=str(tmp_path / "confirm-disable.png"), full_page=True)
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "已停用 li.sup" in page.locator(".flash").inner_text()
    assert page.locator("#confirm-enable").count() == 1

    page.goto(live_server.url + "/admin/users?state=disabled")
    assert page.locator("table#users tbody tr").count() == 1
    assert "li.sup" in page.locator("table#users tbody").inner_text()
