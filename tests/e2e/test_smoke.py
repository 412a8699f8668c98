"""Browser smoke test: the home page opens, a staff user signs in with password + TOTP, and the
page shows who is signed in; a wrong code is refused on the page."""

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


def _staff_user(server: LiveServer) -> str:
    settings = Settings(
        database_url=server.database_url,
        key_dir=Path(server.env["TENDERHALL_KEY_DIR"]),
        blob_dir=Path(server.env["TENDERHALL_BLOB_DIR"]),
    )
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as s:
            user = create_user(
                s, SYSTEM, "supervisor.li", "李监督", Role.supervisor, password="Correct-Horse-42"
            )
            return enable_totp(s, SYSTEM, settings, user.id).secret  # type: ignore[arg-type]
    finally:
        db.dispose()


def test_home_page_opens_and_a_supervisor_signs_in(live_server: LiveServer, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = _staff_user(live_server)
    resp = page.goto(live_server.url + "/")
    assert resp is not None and resp.status == 200
    assert "公共资源交易中心" in page.title()  # the centre's name (settings.portal)
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    page.goto(live_server.url + "/login")
    page.fill("#username", "supervisor.li")
    page.fill("#password", "Correct-Horse-42")
    page.fill("#totp", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.click("button[type=submit]")
    assert "/login" in page.url
    assert page.locator(".who").count() == 0

    page.fill("#username", "supervisor.li")
    page.fill("#password", "Correct-Horse-42")
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".who").inner_text().startswith("李监督")
    page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
