"""Password sign-in: argon2 hashes, TOTP for staff (encrypted at rest, no replay), rate limiting,
sessions and tokens, CSRF on the login form, and every attempt audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from litestar import Request
from litestar.testing import TestClient

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.addresses import client_ip
from tenderhall.auth.models import LoginAttempt, OrgKind, Role, User, UserSession
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service import password_login, passwords, totp, users
from tenderhall.db import Database, utcnow
from tenderhall.identifiers import InvalidCreditCode
from tenderhall.settings import AuthSettings, Settings
from tests import factories

PASSWORD = "correct horse battery"


def make_staff(db: Database, settings: Settings, role: Role = Role.supervisor, username: str = "wang") -> str:
    """A staff user with a password and TOTP; returns the TOTP secret."""
    with db.unit_of_work() as s:
        u = users.create_user(s, SYSTEM, username, "王监管", role, password=PASSWORD)
        return totp.enable_totp(s, SYSTEM, settings, u.id).secret  # type: ignore[arg-type]


def audit_actions(db: Database) -> list[tuple[str, dict[str, object]]]:
    with db.unit_of_work() as s:
        return [
            (e.action, e.data) for e in s.execute(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        ]


def test_password_hashes_are_argon2id(db: Database) -> None:
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.tenderee)
        u = users.create_user(
            s, SYSTEM, "Li.Tenderee", "李", Role.tenderee, password=PASSWORD, organisation_id=org.id
        )
    with db.unit_of_work() as s:
        stored = s.get(User, u.id)
        assert stored is not None
        assert stored.username == "li.tenderee"
        assert stored.password_hash is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert passwords.verify_password(stored.password_hash, PASSWORD)
        assert not passwords.verify_password(stored.password_hash, PASSWORD + "x")


def test_organisation_needs_a_valid_credit_code(db: Database) -> None:
    with db.unit_of_work() as s, pytest.raises(InvalidCreditCode, match="check character"):
        users.create_organisation(s, SYSTEM, "91350100M000100Y44", "坏代码公司", OrgKind.bidder)


def test_totp_secret_is_stored_encrypted_not_in_plaintext(db: Database, settings: Settings) -> None:
    secret = make_staff(db, settings)
    with db.unit_of_work() as s:
        raw = s.execute(sa.text("SELECT totp_secret_enc FROM core_user WHERE username = 'wang'")).scalar_one()
        assert raw
        assert secret not in raw
        u = users.get_user(s, "wang")
        assert totp.totp_secret(settings, u) == secret


def test_staff_sign_in_with_password_and_totp(db: Database, settings: Settings) -> None:
    secret = make_staff(db, settings)
    with db.unit_of_work() as s:
        out = password_login.login_with_password(
            s, settings, "wang", PASSWORD, pyotp.TOTP(secret).now(), "10.0.0.1"
        )
    assert out.ok
    assert out.principal is not None
    assert out.principal.role == Role.supervisor
    assert ("auth.login.succeeded", "totp") in [(a, d.get("method")) for a, d in audit_actions(db)]


def test_the_password_check_writes_nothing_and_a_password_changed_after_it_counts_as_wrong(
    db: Database, settings: Settings
) -> None:
    """A password sign-in checks the password (argon2) in a read-only step, outside any write
    transaction, then writes in a short second step; a password changed in between must not let
    the old one in."""
    secret = make_staff(db, settings)
    now = utcnow()
    with db.transaction(writes=False) as s:
        check = password_login.check_password(s, settings, "wang", PASSWORD, "10.0.0.1", now=now)
    assert check.verified_hash is not None and check.limited is None
    with db.unit_of_work() as s:
        users.set_password(s, SYSTEM, check.user_id, "another password 123")  # type: ignore[arg-type]
    with db.unit_of_work() as s:
        out = password_login.finish_password_login(
            s, settings, check, PASSWORD, pyotp.TOTP(secret).at(now), "10.0.0.1", now=now
        )
    assert out.error is not None and out.error.code == "bad_credentials"
    assert [d["reason"] for a, d in audit_actions(db) if a == "auth.login.refused"] == ["bad_password"]


def test_wrong_totp_is_refused_and_audited(db: Database, settings: Settings) -> None:
    secret = make_staff(db, settings)
    now = utcnow()
    good = pyotp.TOTP(secret).at(now)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with db.unit_of_work() as s:
        out = password_login.login_with_password(s, settings, "wang", PASSWORD, wrong, "10.0.0.1", now=now)
    assert out.error is not None
    assert out.error.code == "bad_totp"
    assert out.error.status == 401
    with db.unit_of_work() as s:
        out = password_login.login_with_password(s, settings, "wang", PASSWORD, None, "10.0.0.1", now=now)
    assert out.error is not None
    assert out.error.code == "bad_totp"
    refusals = [d["reason"] for a, d in audit_actions(db) if a == "auth.login.refused"]
    assert refusals == ["bad_totp", "bad_totp"]


def test_a_totp_code_is_accepted_only_once(db: Database, settings: Settings) -> None:
    secret = make_staff(db, settings)
    now = utcnow()
    code = pyotp.TOTP(secret).at(now)
    with db.unit_of_work() as s:
        assert password_login.login_with_password(s, settings, "wang", PASSWORD, code, "10.0.0.1", now=now).ok
    with db.unit_of_work() as s:
        again = password_login.login_with_password(s, settings, "wang", PASSWORD, code, "10.0.0.2", now=now)
    assert again.error is not None
    assert again.error.code == "bad_totp"


def test_staff_without_totp_cannot_sign_in_with_password_alone(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        users.create_user(s, SYSTEM, "admin2", "管理员", Role.admin, password=PASSWORD)
    with db.unit_of_work() as s:
        out = password_login.login_with_password(s, settings, "admin2", PASSWORD, None, "10.0.0.1")
    assert out.error is not None
    assert out.error.code == "totp_not_enrolled"
    assert out.error.status == 403


def test_unknown_user_and_wrong_password_get_the_same_answer(db: Database, settings: Settings) -> None:
    make_staff(db, settings)
    with db.unit_of_work() as s:
        a = password_login.login_with_password(s, settings, "wang", "wrong password", None, "10.0.0.1")
        b = password_login.login_with_password(s, settings, "nobody", "wrong password", None, "10.0.0.1")
    assert a.error is not None
    assert b.error is not None
    assert (a.error.status, a.error.en) == (b.error.status, b.error.en) == (401, "Wrong username or password")


def test_repeated_wrong_passwords_are_rate_limited_until_the_window_passes(
    db: Database, settings: Settings
) -> None:
    secret = make_staff(db, settings)
    limit = settings.auth.login_max_failures
    t0 = utcnow()
    for i in range(limit):
        with db.unit_of_work() as s:
            out = password_login.login_with_password(
                s, settings, "wang", f"guess {i}", None, f"10.0.1.{i}", now=t0 + dt.timedelta(seconds=i)
            )
        assert out.error is not None
        assert out.error.status == 401
    with db.unit_of_work() as s:  # even the right password is refused now, and says when to retry
        out = password_login.login_with_password(
            s,
            settings,
            "wang",
            PASSWORD,
            pyotp.TOTP(secret).now(),
            "10.0.2.1",
            now=t0 + dt.timedelta(seconds=10),
        )
    assert out.error is not None
    assert out.error.status == 429
    retry = out.error.extra["retry_after"]
    assert 0 < retry <= settings.auth.login_window_seconds
    assert "try again at" in out.error.en
    assert "秒后" in out.error.zh
    later = t0 + dt.timedelta(seconds=settings.auth.login_window_seconds + limit + 1)
    with db.unit_of_work() as s:
        ok = password_login.login_with_password(
            s, settings, "wang", PASSWORD, pyotp.TOTP(secret).at(later), "10.0.2.1", now=later
        )
    assert ok.ok
    with db.unit_of_work() as s:
        reasons = s.execute(sa.select(LoginAttempt.reason).order_by(LoginAttempt.id)).scalars().all()
    assert reasons == ["bad_password"] * limit + ["rate_limited", None]


def test_failures_from_one_address_refuse_unknown_names_and_failing_accounts_from_it(
    db: Database, settings: Settings
) -> None:
    make_staff(db, settings)
    t0 = utcnow()
    for i in range(settings.auth.login_max_failures):
        with db.unit_of_work() as s:
            password_login.login_with_password(s, settings, f"user{i}", "x" * 10, None, "203.0.113.9", now=t0)
    with db.unit_of_work() as s:
        unknown = password_login.login_with_password(
            s, settings, "user99", "x" * 10, None, "203.0.113.9", now=t0
        )
        # an account with no recent failures is not locked by the address: its (wrong) attempt is
        # answered normally, and counts; the next attempt for it from that address is refused
        first = password_login.login_with_password(
            s, settings, "wang", "bad password", None, "203.0.113.9", now=t0
        )
        second = password_login.login_with_password(
            s, settings, "wang", PASSWORD, None, "203.0.113.9", now=t0
        )
        elsewhere = password_login.login_with_password(
            s, settings, "wang", "bad password", None, "198.51.100.1", now=t0
        )
    assert unknown.error is not None
    assert unknown.error.status == 429
    assert first.error is not None
    assert first.error.status == 401
    assert second.error is not None
    assert second.error.status == 429
    assert elsewhere.error is not None
    assert elsewhere.error.status == 401


def test_failures_with_an_empty_username_do_not_block_the_admins_correct_sign_in(
    db: Database, settings: Settings
) -> None:
    secret = make_staff(db, settings, role=Role.admin, username="admin")
    t0 = utcnow()
    for i in range(settings.auth.login_max_failures + 2):
        with db.unit_of_work() as s:
            out = password_login.login_with_password(s, settings, "", f"guess {i}", None, "127.0.0.1", now=t0)
    assert out.error is not None
    assert out.error.status == 429  # the address is slowed for unknown names
    with db.unit_of_work() as s:
        ok = password_login.login_with_password(
            s, settings, "admin", PASSWORD, pyotp.TOTP(secret).at(t0), "127.0.0.1", now=t0
        )
    assert ok.ok, ok.error


def test_one_users_typos_do_not_lock_out_a_colleague_behind_the_same_address(
    db: Database, settings: Settings
) -> None:
    make_staff(db, settings, username="wang")
    colleague = make_staff(db, settings, username="li")
    t0 = utcnow()
    for i in range(settings.auth.login_max_failures):
        with db.unit_of_work() as s:
            password_login.login_with_password(s, settings, "wang", f"typo {i}", None, "192.0.2.10", now=t0)
    with db.unit_of_work() as s:
        wang = password_login.login_with_password(s, settings, "wang", PASSWORD, None, "192.0.2.10", now=t0)
        li = password_login.login_with_password(
            s, settings, "li", PASSWORD, pyotp.TOTP(colleague).at(t0), "192.0.2.10", now=t0
        )
    assert wang.error is not None
    assert wang.error.status == 429  # the account that failed is locked
    assert li.ok, li.error


# --- over HTTP -----------------------------------------------------------------------------------


def test_api_token_me_and_logout(client: TestClient, db: Database, settings: Settings) -> None:  # type: ignore[type-arg]
    secret = make_staff(db, settings)
    r = client.post(
        "/api/auth/token", json={"username": "wang", "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/auth/me", headers=h)
    assert me.status_code == 200
    assert me.json()["role"] == "supervisor"
    with db.unit_of_work() as s:  # only a hash of the token is stored
        assert (
            s.execute(
                sa.text("SELECT count(*) FROM core_user_session WHERE token_hash = :t"), {"t": token}
            ).scalar()
            == 0
        )
    assert client.post("/api/auth/logout", headers=h).status_code == 204
    assert client.get("/api/auth/me", headers=h).status_code == 401


def test_api_wrong_passwords_get_429_with_retry_after(
    client: TestClient, db: Database, settings: Settings
) -> None:  # type: ignore[type-arg]
    make_staff(db, settings)
    for _ in range(settings.auth.login_max_failures):
        r = client.post("/api/auth/token", json={"username": "wang", "password": "not it at all"})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/auth/token", json={"username": "wang", "password": PASSWORD})
    assert r.status_code == 429
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= settings.auth.login_window_seconds
    body = r.json()
    assert body["code"] == "rate_limited"
    assert f"约 {retry_after} 秒后）再试" in body["detail_zh"]  # the message says when, as the header does
    assert f"(in about {retry_after} seconds)" in body["detail_en"]
    refused = [d["reason"] for a, d in audit_actions(db) if a == "auth.login.refused"]
    assert refused.count("bad_password") == settings.auth.login_max_failures
    assert refused[-1] == "rate_limited"


def _csrf_from(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "login page has no CSRF field"
    return m.group(1)


def test_login_form_without_csrf_token_is_refused_and_with_it_signs_in(
    client: TestClient,
    db: Database,
    settings: Settings,  # type: ignore[type-arg]
) -> None:
    secret = make_staff(db, settings, role=Role.admin, username="root")
    page = client.get("/login?next=/admin/users")
    assert page.status_code == 200
    form = {
        "username": "root",
        "password": PASSWORD,
        "totp": pyotp.TOTP(secret).now(),
        "next": "/admin/users",
    }
    refused = client.post("/login", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert "表单已过期或缺少安全令牌（CSRF），请刷新页面后重试" in refused.text  # the page asked for Chinese
    assert "th_session" not in refused.headers.get("set-cookie", "")  # no session without the token
    ok = client.post("/login", data={**form, "_csrf_token": _csrf_from(page.text)}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    assert ok.headers["location"] == "/admin/users"
    cookie = ok.cookies.get("th_session")
    assert cookie
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    users = client.get("/admin/users", cookies={"th_session": cookie})
    assert users.status_code == 200
    assert ">root</a>" in users.text  # the signed-in administrator's page lists the accounts
    # sign out (a form with its CSRF token) ends the session
    out = client.post(
        "/logout",
        data={"_csrf_token": _csrf_from(users.text)},
        cookies={"th_session": cookie},
        follow_redirects=False,
    )
    assert out.status_code == 303
    again = client.get("/admin/users", cookies={"th_session": cookie}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


def test_login_page_shows_the_refusal_and_keeps_it_on_record(
    client: TestClient,
    db: Database,
    settings: Settings,  # type: ignore[type-arg]
) -> None:
    make_staff(db, settings)
    page = client.get("/login")
    r = client.post(
        "/login", data={"username": "wang", "password": "nope nope", "_csrf_token": _csrf_from(page.text)}
    )
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert [a for a, _ in audit_actions(db)].count("auth.login.refused") == 1


def test_login_redirect_never_leaves_the_site(client: TestClient, db: Database, settings: Settings) -> None:  # type: ignore[type-arg]
    secret = make_staff(db, settings)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": "wang",
            "password": PASSWORD,
            "totp": pyotp.TOTP(secret).now(),
            "next": "//evil.example/x",
            "_csrf_token": _csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/desk"  # off-site: the desk, never elsewhere


# --- bidders sign in with their certificate only -------------------------------------------------


def make_bidder_with_password(db: Database, username: str = "zhang.bidder") -> None:
    """A bidder user that (wrongly, e.g. set by an administrator) has a password."""
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.bidder)
        users.create_user(
            s, SYSTEM, username, "张投标", Role.bidder, password=PASSWORD, organisation_id=org.id
        )


def test_a_bidder_cannot_sign_in_with_a_password_and_is_pointed_at_certificate_sign_in(
    db: Database, settings: Settings
) -> None:
    make_bidder_with_password(db)
    with db.unit_of_work() as s:
        out = password_login.login_with_password(s, settings, "zhang.bidder", PASSWORD, None, "10.0.0.1")
    assert out.token is None
    assert out.error is not None
    assert out.error.status == 403
    assert out.error.code == "certificate_required"
    assert "/login/certificate" in out.error.en
    assert "/login/certificate" in out.error.zh
    with db.unit_of_work() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(UserSession)).scalar_one() == 0
    refusals = [d["reason"] for a, d in audit_actions(db) if a == "auth.login.refused"]
    assert refusals == ["certificate_required"]


def test_api_token_refuses_a_bidders_password(client: TestClient, db: Database) -> None:  # type: ignore[type-arg]
    make_bidder_with_password(db)
    r = client.post("/api/auth/token", json={"username": "zhang.bidder", "password": PASSWORD})
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "certificate_required"
    assert "/login/certificate" in body["detail_zh"]  # both languages point at certificate sign-in
    assert "/login/certificate" in body["detail_en"]


def test_login_page_refuses_a_bidders_password_with_the_certificate_hint(
    client: TestClient,
    db: Database,  # type: ignore[type-arg]
) -> None:
    make_bidder_with_password(db)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "zhang.bidder", "password": PASSWORD, "_csrf_token": _csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "th_session" not in r.cookies
    assert "/login/certificate" in r.text


# --- the client's address: forwarded headers only from trusted proxies ---------------------------


def _request(peer: str, forwarded_for: str | None) -> Request[Any, Any, Any]:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    return Request(
        {  # type: ignore[arg-type]
            "type": "http",
            "method": "POST",
            "path": "/api/auth/token",
            "headers": headers,
            "client": (peer, 40000),
            "query_string": b"",
        }
    )


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_configured_proxy() -> None:
    default = AuthSettings()
    assert default.trusted_proxies == []
    assert client_ip(_request("127.0.0.1", "198.51.100.7"), default) == "127.0.0.1"
    proxied = AuthSettings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"])
    assert client_ip(_request("203.0.113.5", "198.51.100.7"), proxied) == "203.0.113.5"
    assert client_ip(_request("10.1.2.3", "198.51.100.7"), proxied) == "198.51.100.7"
    # the right-most address that is not a trusted proxy is the client: what it put before is
    # whatever the client claimed
    assert client_ip(_request("192.0.2.1", "1.2.3.4, 198.51.100.7, 10.9.9.9"), proxied) == "198.51.100.7"
    assert client_ip(_request("10.1.2.3", "not-an-address"), proxied) == "10.1.2.3"


def test_a_rotating_x_forwarded_for_does_not_escape_the_address_limit(
    client: TestClient,
    db: Database,
    settings: Settings,  # type: ignore[type-arg]
) -> None:
    for i in range(settings.auth.login_max_failures):
        r = client.post(
            "/api/auth/token",
            json={"username": f"nobody{i}", "password": "x" * 10},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert r.status_code == 401
    r = client.post(
        "/api/auth/token",
        json={"username": "nobody", "password": "x" * 10},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert r.status_code == 429


@pytest.mark.parametrize(
    ("trusted", "expected"), [([], "127.0.0.1"), (["127.0.0.1"], "198.51.100.7")], ids=["none", "loopback"]
)
def test_serve_lets_uvicorn_trust_forwarded_headers_only_from_configured_proxies(
    trusted: list[str], expected: str
) -> None:
    import anyio

    from tenderhall.cli import serve_options
    from tenderhall.serving import _config

    settings = Settings(auth=AuthSettings(trusted_proxies=trusted))
    opts = serve_options(settings, None, None, 1)
    assert opts.app == "tenderhall.app:create_app"
    assert opts.app_args == (settings,)  # every web process gets the settings the command built
    # (log_config None: the test process's logging stays as the test run set it up)
    config = _config(
        dataclasses.replace(
            opts,
            app="tests.kernel.serving_app:create",
            app_args=(),
            uvicorn={**opts.uvicorn, "log_config": None},
        )
    )
    config.load()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/pid",
        "raw_path": b"/pid",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"x"), (b"x-forwarded-for", b"198.51.100.7")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    anyio.run(config.loaded_app, scope, receive, send)  # type: ignore[arg-type]
    assert scope["client"][0] == expected
