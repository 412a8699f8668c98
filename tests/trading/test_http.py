"""The API and the pages: publish as an agency, find it as the public, documents, questions,
OCDS over HTTP, escaping of script in titles."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from tenderhall.auth.models import OrgKind, Role, User
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests import factories
from tests.trading.ocds_check import check_record_package, check_release_package
from trading.service import notifications

SCRIPT = "<script>alert('x')</script>"


def _tenderee(db: Database, agency: User) -> int:
    """A tenderee organisation that has given ``agency``'s organisation a mandate; the agency
    user and a supervisor hold custodian certificates, so the agency can publish."""
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.tenderee, name="某市住房和城乡建设局")
        factories.mandate(s, org.id, agency.organisation_id)  # type: ignore[arg-type]
        factories.custodians(s, agency)
        return org.id  # type: ignore[return-value]


def _body(tenderee_id: int, **over: Any) -> dict[str, Any]:
    body = {
        "title": "城市道路照明改造工程",
        "category": "works",
        "method": "open",
        "budget_fen": 500_000_000,
        "ceiling_price_fen": 480_000_000,
        "duration_days": 120,
        "evaluation_method": "comprehensive",
        "bid_deadline_at": (utcnow() + dt.timedelta(days=25)).isoformat(),
        "tenderee_org_id": tenderee_id,
        "region": "园林街道",
        "lots": [
            {"title": "第一标段", "budget_fen": 300_000_000},
            {"title": "第二标段", "budget_fen": 200_000_000},
        ],
    }
    body.update(over)
    return body


def _publish(client: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/trading/tenders", json=body, headers=headers)
    assert r.status_code == 201, r.text
    t = r.json()
    p = client.post(
        f"/api/trading/tenders/{t['id']}/publish", json={"version": t["version"]}, headers=headers
    )
    assert p.status_code == 200, p.text
    return p.json()


def test_an_agency_publishes_through_the_api_and_the_public_finds_it_by_search(
    db: Database, client: Any, shared_dir: Path
) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    t = _publish(client, agency, _body(_tenderee(db, agency_user)))
    assert t["state"] == "published"
    found = client.get(
        "/api/trading/tenders", params={"q": "照明改造", "category": "works", "status": "open"}
    )
    assert found.status_code == 200
    assert [x["id"] for x in found.json()["items"]] == [t["id"]]
    assert (
        client.get("/api/trading/tenders", params={"q": "照明改造", "category": "goods"}).json()["items"]
        == []
    )
    page = client.get("/tenders", params={"q": "照明"})
    assert page.status_code == 200
    assert f'href="/tenders/{t["id"]}"' in page.text
    detail = client.get(f"/tenders/{t['id']}")
    assert "第一标段" in detail.text
    assert 'id="timeline"' in detail.text
    rel = client.get("/api/ocds/releases")
    assert rel.status_code == 200
    check_release_package(shared_dir, rel.json())
    rec = client.get(f"/api/ocds/records/{t['ocid']}")
    check_record_package(shared_dir, rec.json())
    feed = client.get("/api/ocds/changes", params={"since": 0}).json()
    check_release_package(shared_dir, feed["package"])
    assert client.get("/api/ocds/changes", params={"since": feed["cursor"]}).json().get("package") is None


def test_drafts_are_not_public(db: Database, client: Any) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    r = client.post("/api/trading/tenders", json=_body(_tenderee(db, agency_user)), headers=agency)
    tid = r.json()["id"]
    assert client.get(f"/api/trading/tenders/{tid}").status_code == 404
    assert client.get(f"/api/trading/tenders/{tid}", headers=agency).status_code == 200
    assert client.get("/api/trading/tenders").json()["items"] == []


def test_api_refusals_carry_the_rule_and_the_right_status(db: Database, client: Any) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    tenderee = _tenderee(db, agency_user)
    soon = _body(tenderee, bid_deadline_at=(utcnow() + dt.timedelta(days=5)).isoformat())
    t = client.post("/api/trading/tenders", json=soon, headers=agency).json()
    r = client.post(f"/api/trading/tenders/{t['id']}/publish", json={}, headers=agency)
    assert r.status_code == 409
    assert r.json()["code"] == "deadline_too_soon"
    assert "20 days" in r.json()["detail_en"]
    assert (
        client.post(
            "/api/trading/tenders", json=_body(tenderee, method="auction"), headers=agency
        ).status_code
        == 422
    )
    pub = _publish(client, agency, _body(tenderee))
    edit = client.put(f"/api/trading/tenders/{pub['id']}", json=_body(tenderee), headers=agency)
    assert edit.status_code == 409
    assert edit.json()["code"] == "published_tender_locked"
    stale = client.post(
        f"/api/trading/tenders/{pub['id']}/amendments",
        json={"reason": "x", "version": pub["version"] - 1, "changes": {"duration_days": 99}},
        headers=agency,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    _, bidder, _ = factories.signed_in(db, Role.bidder)
    assert client.post("/api/trading/tenders", json=_body(tenderee), headers=bidder).status_code == 403


def test_registration_refuses_a_wrong_credit_code_check_character(client: Any) -> None:
    bad = {"credit_code": "91350100M000100Y44", "name": "某公司", "username": "newco", "display_name": "张三"}
    r = client.post("/api/trading/organisations/register", json=bad)
    assert r.status_code == 422
    assert "check character" in r.json()["detail_en"]
    # a valid code still needs the company's certificate (tests/trading/test_registration.py)
    good_code = {**bad, "credit_code": "91350100M000100Y43"}
    bare = client.post("/api/trading/organisations/register", json=good_code)
    assert bare.status_code == 403
    assert bare.json()["reason"] == "certificate_proof_required"


def test_document_uploads_refuse_forbidden_types_and_oversized_files(
    db: Database, client: Any, settings: Settings
) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    t = client.post("/api/trading/tenders", json=_body(_tenderee(db, agency_user)), headers=agency).json()
    url = f"/api/trading/tenders/{t['id']}/documents"
    exe = client.post(url, params={"filename": "setup.exe"}, content=b"MZ", headers=agency)
    assert exe.status_code == 415
    assert ".exe" in exe.json()["detail_en"]
    settings.trading.document_max_bytes = 1000
    big = client.post(url, params={"filename": "a.pdf"}, content=b"%PDF" + b"0" * 2000, headers=agency)
    assert big.status_code == 413

    def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(5):
            yield b"x" * 400

    streamed = client.post(url, params={"filename": "a.txt"}, content=chunks(), headers=agency)
    assert streamed.status_code == 413
    # nothing of the refused uploads is kept, not even a partial temp file
    assert [p for p in settings.blob_dir.rglob("*") if p.is_file()] == []
    ok = client.post(
        url,
        params={"filename": "招标文件.pdf", "name": "招标文件"},
        content=b"%PDF-1.4 small",
        headers=agency,
    )
    assert ok.status_code == 201, ok.text
    import hashlib

    assert ok.json()["sha256"] == hashlib.sha256(b"%PDF-1.4 small").hexdigest()


def test_bidders_download_recorded_hidden_from_tenderee_questions_stay_anonymous(
    db: Database, client: Any, settings: Settings
) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    t = client.post("/api/trading/tenders", json=_body(_tenderee(db, agency_user)), headers=agency).json()
    up = client.post(
        f"/api/trading/tenders/{t['id']}/documents",
        params={"filename": "z.pdf", "name": "招标文件"},
        content=b"%PDF-1.4 doc",
        headers=agency,
    ).json()
    client.post(f"/api/trading/tenders/{t['id']}/publish", json={}, headers=agency)
    bidder_user, bidder, _ = factories.signed_in(db, Role.bidder)
    assert client.get(f"/api/trading/documents/{up['id']}/download").status_code == 401
    dl = client.get(f"/api/trading/documents/{up['id']}/download", headers=bidder)
    assert dl.status_code == 200
    assert dl.content == b"%PDF-1.4 doc"
    assert client.get(f"/api/trading/tenders/{t['id']}/downloads", headers=agency).status_code == 403
    _, sup, _ = factories.signed_in(db, Role.supervisor)
    seen = client.get(f"/api/trading/tenders/{t['id']}/downloads", headers=sup).json()
    assert [d["organisation_id"] for d in seen] == [bidder_user.organisation_id]
    q = client.post(
        f"/api/trading/tenders/{t['id']}/questions", json={"question": "工期能否延长？"}, headers=bidder
    )
    assert q.status_code == 201
    qs = client.get(f"/api/trading/tenders/{t['id']}/questions", headers=agency)
    assert qs.json()[0]["question"] == "工期能否延长？"
    with db.unit_of_work() as s:
        from tenderhall.auth.models import Organisation

        org = s.get(Organisation, bidder_user.organisation_id)
        assert org is not None
        name, code = org.name, org.credit_code
    assert name not in qs.text
    assert code not in qs.text
    assert "org" not in qs.text
    ans = client.post(
        f"/api/trading/clarifications/{q.json()['id']}/answer", json={"answer": "不能。"}, headers=agency
    )
    assert ans.status_code == 200, ans.text
    with db.unit_of_work() as s:
        assert notifications.notify_bidders(s, "clarification", q.json()["id"]) == 1
    _, _, cookies = factories.signed_in(db, Role.bidder)
    other = client.get("/my/notifications", cookies=cookies)
    assert "发布了澄清" not in other.text  # a bidder that did not download is not notified
    from tests.factories import token_for

    with db.unit_of_work() as s:
        from tenderhall.auth.models import User

        u = s.get(User, bidder_user.id)
        cookie = token_for(s, u, kind="cookie")  # type: ignore[arg-type]
    mine = client.get("/my/notifications", cookies={"th_session": cookie})
    assert "发布了澄清/答疑" in mine.text


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def test_an_agency_publishes_with_the_pages_and_script_in_the_title_is_escaped_everywhere(
    db: Database, client: Any, settings: Settings
) -> None:
    agency_user, _, cookies = factories.signed_in(db, Role.agency)
    tenderee = _tenderee(db, agency_user)
    client.cookies.update(cookies)
    form_page = client.get("/manage/tenders/new")
    assert form_page.status_code == 200
    deadline = (utcnow() + dt.timedelta(days=25)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    form = {
        "_csrf_token": _csrf(form_page.text),
        "title": f"学校食堂设备采购{SCRIPT}",
        "category": "goods",
        "method": "open",
        "evaluation_method": "lowest_price",
        "tenderee_org_id": str(tenderee),
        "budget_yuan": "1,200,000.00",
        "ceiling_yuan": "1150000",
        "duration_days": "60",
        "bid_deadline_at": deadline.strftime("%Y-%m-%dT%H:%M"),
        "region": "广华街道",
        "description": f"描述{SCRIPT}",
        "lot_title_1": "厨具",
        "lot_budget_1": "1200000",
    }
    created = client.post("/manage/tenders", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    manage_url = created.headers["location"].split("?")[0]
    page = client.get(manage_url)
    assert SCRIPT not in page.text
    assert "&lt;script&gt;" in page.text
    pub = client.post(
        manage_url + "/publish",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes"},
        follow_redirects=False,
    )
    assert pub.status_code == 303
    client.cookies.clear()
    tid = int(manage_url.rsplit("/", 1)[1])
    for url in (
        "/",
        "/tenders?q=%E9%A3%9F%E5%A0%82",
        f"/tenders/{tid}",
        "/tenders?category=goods&status=open",
    ):
        html = client.get(url).text
        assert "学校食堂设备采购" in html, url
        assert SCRIPT not in html, url
        assert "&lt;script&gt;" in html, url
    api = client.get(f"/api/trading/tenders/{tid}").json()
    assert api["title"].endswith(SCRIPT)  # JSON carries the text as written; pages escape it
    assert api["budget_fen"] == 120_000_000


def test_a_page_form_without_csrf_token_is_refused(db: Database, client: Any) -> None:
    _, _, cookies = factories.signed_in(db, Role.agency)
    client.cookies.update(cookies)
    r = client.post("/manage/tenders", data={"title": "x"}, follow_redirects=False)
    assert r.status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_search_page_renders_in_both_languages(client: Any, lang: str) -> None:
    r = client.get("/tenders", params={"lang": lang})
    assert r.status_code == 200
    html_lang, heading, label, other = (
        ("zh-CN", "招标公告", "项目名称或招标编号", "Tender notices")
        if lang == "zh"
        else ("en", "Tender notices", "Title or reference", "招标公告")
    )
    assert f'<html lang="{html_lang}">' in r.text
    assert f"<h1>{heading}</h1>" in r.text
    assert f'<label for="q">{label}</label><input type="search" name="q"' in r.text  # the form too
    assert other not in r.text  # one language per page
