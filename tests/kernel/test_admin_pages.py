"""The admin's pages through the HTTP app: the user directory (search, filters, sorting, pages,
roles by their label), a new account (errors beside their fields, values kept, a generated password
shown once), the confirmed acts on an account, and the job list's failing jobs."""

from __future__ import annotations

import html
import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role, User
from tenderhall.db import Database
from tenderhall.jobs.models import JobStatus, OutboxJob
from tests import factories


def sign_in_admin(db: Database, client: Any) -> User:
    u, _, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    return u


def csrf(page: Any) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert m, "the page carries no CSRF token"
    return m.group(1)


def text_of(page: Any) -> str:
    """The visible text of the page's main part."""
    main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def error_beside(page: Any, name: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{name}">(.*?)</p>', page.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).strip() if m else ""


def value_of(page: Any, name: str) -> str | None:
    m = re.search(rf'<input name="{name}" id="{name}"[^>]*value="([^"]*)"', page.text)
    return html.unescape(m.group(1)) if m else None


def user_row(db: Database, username: str) -> User:
    with db.unit_of_work() as s:
        u = s.execute(sa.select(User).where(col(User.username) == username)).scalar_one()
        s.expunge(u)
        return u


# --- the directory ---------------------------------------------------------------------------------


def test_directory_searches_filters_sorts_and_pages_and_shows_roles_by_label(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.agency, name="闽江招标代理有限公司")
        for i in range(25):
            factories.user(s, Role.expert, username=f"expert{i:02d}")
        factories.user(s, Role.agency, organisation_id=org.id, username="min.agency")
    first = client.get("/admin/users", params={"role": "expert"})
    assert first.status_code == 200
    shown = re.findall(r'href="/admin/users/\d+">(expert\d\d)<', first.text)
    assert shown == [f"expert{i:02d}" for i in range(20)]  # 20 a page, by username
    assert "评标专家" in text_of(first) and "共 25 条" in text_of(first)
    second = client.get("/admin/users", params={"role": "expert", "page": "2"})
    assert re.findall(r'href="/admin/users/\d+">(expert\d\d)<', second.text) == [
        f"expert{i:02d}" for i in range(20, 25)
    ]
    backwards = client.get("/admin/users", params={"role": "expert", "sort": "username", "dir": "desc"})
    assert re.findall(r'href="/admin/users/\d+">(expert\d\d)<', backwards.text)[0] == "expert24"
    found = client.get("/admin/users", params={"q": "闽江", "lang": "en"})
    assert re.findall(r'href="/admin/users/\d+">([\w.]+)<', found.text) == ["min.agency"]
    assert '<td class="nowrap">Agency</td>' in found.text and ">agency<" not in found.text
    disabled = client.get("/admin/users", params={"state": "disabled"})
    assert re.findall(r'href="/admin/users/\d+">([\w.]+)<', disabled.text) == []
    assert client.get("/admin/users", params={"sort": "password_hash", "page": "x"}).status_code == 200


# --- a new account ---------------------------------------------------------------------------------


def test_a_form_with_mistakes_comes_back_with_each_error_beside_its_field_and_the_values_kept(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    with db.unit_of_work() as s:
        factories.user(s, Role.expert, username="taken")
    form = client.get("/admin/users/new")
    assert form.status_code == 200
    r = client.post(
        "/admin/users",
        data={
            "_csrf_token": csrf(form),
            "username": "Taken",
            "display_name": "王评审",
            "role": "supervisor",
            "pw_mode": "typed",
            "password": "Quiet-Lantern-47",
            "password2": "Quiet-Lantern-48",
        },
    )
    assert r.status_code == 422
    assert "已被使用" in error_beside(r, "username")
    assert "不一致" in error_beside(r, "password2")
    assert error_beside(r, "display_name") == ""
    assert value_of(r, "username") == "Taken"
    assert value_of(r, "display_name") == "王评审"
    assert '<option value="typed" selected>' in r.text and '<option value="supervisor" selected>' in r.text
    assert "Quiet-Lantern" not in r.text  # a typed password is never sent back
    assert 'aria-invalid="true"' in r.text and "请更正以下 2 处问题" in r.text
    assert user_row(db, "taken").role == Role.expert


def test_a_created_account_shows_its_generated_password_once_and_is_not_cached(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    client.cookies.set("lang", "en")
    form = client.get("/admin/users/new")
    r = client.post(
        "/admin/users",
        data={"_csrf_token": csrf(form), "username": "zhou", "display_name": "周监管", "role": "supervisor"},
    )
    assert r.status_code == 201, text_of(r)
    assert r.headers["cache-control"] == "no-store"
    m = re.search(r'<code id="new-password">([^<]+)</code>', r.text)
    assert m and len(m.group(1)) >= 16
    assert re.search(r'<code id="new-totp-secret">[A-Z2-7]+</code>', r.text)
    assert "Supervisor" in text_of(r) and "shown this once" in text_of(r)
    assert user_row(db, "zhou").password_hash is not None
    with db.unit_of_work() as s:
        assert s.execute(sa.select(AuditEvent).where(col(AuditEvent.action) == "auth.user.create")).first()


# --- acts on an account ---------------------------------------------------------------------------


def test_disabling_is_confirmed_by_naming_the_user_and_done_with_the_csrf_token(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    with db.unit_of_work() as s:
        target = factories.user(s, Role.supervisor, username="sun.sup")
        target.display_name = "孙监管"
        uid = target.id
    page = client.get(f"/admin/users/{uid}")
    assert page.status_code == 200
    confirm = re.search(r'<details class="confirm" id="confirm-disable">(.*?)</details>', page.text, re.S)
    assert confirm, "disabling asks for confirmation"
    assert "孙监管（sun.sup）" in confirm.group(1) and "API 令牌立即失效" in confirm.group(1)
    assert client.post(f"/admin/users/{uid}/disable", data={}).status_code == 403  # no CSRF token
    assert user_row(db, "sun.sup").is_active
    r = client.post(f"/admin/users/{uid}/disable", data={"_csrf_token": csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/users/{uid}"
    assert not user_row(db, "sun.sup").is_active
    after = client.get(f"/admin/users/{uid}")
    assert "已停用 sun.sup" in text_of(after) and 'id="confirm-enable"' in after.text


def test_an_admin_disabling_themselves_is_told_why_not_in_their_language(db: Database, client: Any) -> None:
    me = sign_in_admin(db, client)
    page = client.get(f"/admin/users/{me.id}", params={"lang": "en"})
    assert 'id="confirm-disable"' not in page.text  # not offered on one's own account
    client.cookies.set("lang", "en")
    r = client.post(f"/admin/users/{me.id}/disable", data={"_csrf_token": csrf(page)})
    assert r.status_code == 200
    assert "You cannot disable your own account" in text_of(r)
    assert "不能" not in text_of(r)
    assert user_row(db, me.username).is_active


def test_role_change_and_totp_reset_are_confirmed_and_the_new_secret_is_shown_once(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    with db.unit_of_work() as s:
        uid = factories.user(s, Role.supervisor, username="qian").id
    page = client.get(f"/admin/users/{uid}")
    assert re.search(r'id="confirm-role">.*?<select name="role"', page.text, re.S)
    assert 'id="confirm-totp"' in page.text
    r = client.post(f"/admin/users/{uid}/role", data={"_csrf_token": csrf(page), "role": "expert"})
    assert "角色已改为评标专家" in text_of(r)
    assert user_row(db, "qian").role == Role.expert
    r = client.post(f"/admin/users/{uid}/reset-totp", data={"_csrf_token": csrf(page)})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert re.search(r'<code id="new-totp-secret">[A-Z2-7]+</code>', r.text)
    assert user_row(db, "qian").totp_secret_enc is not None


# --- the job list ---------------------------------------------------------------------------------


def _job(db: Database, name: str, status: JobStatus, attempts: int = 0, error: str | None = None) -> int:
    with db.unit_of_work() as s:
        row = OutboxJob(actor_name=name, args={}, status=status, attempts=attempts, last_error=error)
        s.add(row)
        s.flush()
        return int(row.id)  # type: ignore[arg-type]


def listed_jobs(page: Any) -> dict[int, str]:
    """The jobs a page lists: number -> the state its row shows."""
    return {
        int(n): st for st, n in re.findall(r'<tr class="job-(\w+)">\s*<td class="num">(\d+)</td>', page.text)
    }


def test_job_list_shows_a_retrying_job_as_failing_and_finds_jobs_by_name_or_number(
    db: Database, client: Any
) -> None:
    sign_in_admin(db, client)
    failing = _job(db, "credit.push", JobStatus.running, attempts=2, error="RuntimeError: no answer")
    fine = _job(db, "trading.render_pdf", JobStatus.pending)
    page = client.get("/admin/jobs", params={"lang": "en"})
    assert page.status_code == 200
    assert listed_jobs(page) == {failing: "failed", fine: "pending"}
    assert "Failing, retrying" in text_of(page)
    only_failing = client.get("/admin/jobs", params={"status": "failed"})
    assert listed_jobs(only_failing) == {failing: "failed"}
    assert "<strong>1</strong><span>失败重试中</span>" in only_failing.text  # the figure of each state
    assert listed_jobs(client.get("/admin/jobs", params={"status": "all", "q": "PDF"})) == {fine: "pending"}
    assert listed_jobs(client.get("/admin/jobs", params={"status": "all", "q": f"#{failing}"})) == {
        failing: "failed"
    }


def test_job_list_pages_by_twenty_and_sorts_by_the_column_asked(db: Database, client: Any) -> None:
    sign_in_admin(db, client)
    made = [_job(db, f"testjobs.n{i:02d}", JobStatus.done, attempts=i % 3) for i in range(25)]
    first = listed_jobs(client.get("/admin/jobs", params={"status": "all"}))
    assert list(first) == sorted(made, reverse=True)[:20]  # newest first by default
    second = listed_jobs(client.get("/admin/jobs", params={"status": "all", "page": "2"}))
    assert list(second) == sorted(made, reverse=True)[20:]
    by_name = listed_jobs(client.get("/admin/jobs", params={"status": "all", "sort": "name", "dir": "asc"}))
    assert list(by_name) == made[:20]
