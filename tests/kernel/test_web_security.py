"""Web hardening: CSRF tokens bound to the session, CSRF exclusions that are path prefixes only,
Secure cookies under an https base URL, and security headers (CSP and friends) on every response."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tenderhall.app import create_app, template_dirs
from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories


def _csrf_from(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def _form_token(client: TestClient[Any], path: str, session_cookie: str | None = None) -> tuple[str, str]:
    """(form token, th_csrf cookie) as a browser with this session (or none) gets them."""
    client.cookies.clear()
    page = client.get(path, cookies={"th_session": session_cookie} if session_cookie else None)
    assert page.status_code == 200, page.text
    cookie = page.cookies.get("th_csrf") or client.cookies.get("th_csrf")
    assert cookie
    return _csrf_from(page.text), cookie


def test_a_csrf_token_made_for_another_session_is_refused(client: TestClient[Any], db: Database) -> None:
    _, _, victim = factories.signed_in(db, Role.admin)
    _, _, attacker = factories.signed_in(db, Role.admin)
    for stranger in (None, attacker["th_session"]):  # an anonymous pair, and the attacker's own
        token, cookie = _form_token(client, "/login" if stranger is None else "/admin/users", stranger)
        client.cookies.clear()
        forged = client.post(
            "/logout",
            data={"_csrf_token": token},
            cookies={**victim, "th_csrf": cookie},
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        assert forged.status_code == 403, forged.text
        assert forged.json()["code"] == "csrf"
    token, cookie = _form_token(client, "/admin/users", victim["th_session"])
    client.cookies.clear()
    ok = client.post(
        "/logout", data={"_csrf_token": token}, cookies={**victim, "th_csrf": cookie}, follow_redirects=False
    )
    assert ok.status_code == 303, ok.text


def test_a_login_form_token_still_works_after_the_page_was_loaded_signed_out(
    client: TestClient[Any], db: Database
) -> None:
    token, cookie = _form_token(client, "/login")
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"username": "nobody", "password": "x" * 10, "_csrf_token": token},
        cookies={"th_csrf": cookie},
    )
    assert r.status_code == 401  # past CSRF: the credentials were checked


def test_csrf_exclusions_match_path_prefixes_only(client: TestClient[Any], db: Database) -> None:
    _, _, cookies = factories.signed_in(db, Role.supervisor)
    # "/health" and "/api/" inside a page's path do not switch CSRF off for it
    for path in ("/credit/manage/1/health", "/credit/manage/1/schema"):
        client.cookies.clear()
        r = client.post(path, cookies=cookies, headers={"Accept": "application/json"}, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert r.json()["code"] == "csrf"
    # the API itself (bearer tokens only) stays outside CSRF
    client.cookies.clear()
    assert client.post("/api/auth/token", json={"username": "x", "password": "y" * 10}).status_code == 401


def test_cookies_are_secure_when_the_base_url_is_https(settings: Settings, db: Database) -> None:
    https = settings.model_copy(update={"base_url": "https://trade.example.gov.cn"})
    assert https.auth.cookie_secure is False
    with TestClient(
        create_app(https, db=db, run_jobs_inprocess=False), base_url="https://testserver.local"
    ) as c:
        page = c.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()  # th_csrf
        r = c.post(
            "/login",
            data={"username": "nobody", "password": "x" * 10, "_csrf_token": _csrf_from(page.text)},
        )
        assert r.status_code == 401
    from tenderhall.auth.routes import session_cookie

    cookie = session_cookie(https, "t")
    assert cookie.secure is True
    assert cookie.httponly is True
    assert session_cookie(settings, "t").secure is False


@pytest.mark.parametrize(
    "path", ["/", "/login", "/api/auth/me", "/static/tenderhall.css", "/no/such/page", "/health"]
)
def test_every_response_carries_the_security_headers(client: TestClient[Any], path: str) -> None:
    r = client.get(path)
    csp = r.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], csp
    assert directives.get("default-src") == ["'self'"], csp
    assert directives.get("script-src") == ["'self'"], csp
    assert directives.get("object-src") == ["'none'"], csp
    assert directives.get("base-uri") == ["'self'"], csp
    assert directives.get("form-action") == ["'self'"], csp
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "strict-origin-when-cross-origin"
    assert r.headers.get("x-frame-options") == "DENY"


def test_pages_carry_no_inline_script_the_policy_would_block() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
    found = [
        f"{p}: {m.group(0)}"
        for d in template_dirs()
        for p in Path(d).rglob("*.html")
        for m in inline.finditer(p.read_text(encoding="utf-8"))
    ]
    assert found == []
