"""The credit API and pages through the HTTP app: failure cases answer 4xx with clear messages, and a
record followed from a supervisor's decision to the public page, CSV, feed, JSON change feed and PDF."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from credit.service import create_violation, notify
from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import SUPERVISOR, upheld, with_credit

DAY = dt.timedelta(days=1)


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def test_api_create_is_idempotent_and_failure_cases_are_clear_4xx(db: Database, client: Any) -> None:
    _, api, _ = factories.signed_in(db, Role.supervisor)
    code = factories.credit_code()
    body = {
        "subject_kind": "company",
        "credit_code": code,
        "subject_name": "丁公司",
        "type_code": "BOND_NOT_REFUNDED",
        "facts": "逾期未退还投标保证金",
    }
    first = client.post("/api/credit/violations", json=body, headers=api)
    assert first.status_code == 201, first.text
    again = client.post("/api/credit/violations", json=body, headers=api)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    bad_code = client.post(
        "/api/credit/violations",
        json={**body, "credit_code": code[:17] + ("0" if code[17] != "0" else "1")},
        headers=api,
    )
    assert bad_code.status_code == 422
    assert bad_code.headers["content-type"].startswith("application/problem+json")
    assert "check character" in bad_code.json()["detail_en"]
    agency = client.post(
        "/api/credit/violations", json={**body, "subject_kind": "agency", "facts": "x"}, headers=api
    )
    assert agency.status_code == 404
    assert "No agency" in agency.json()["detail_en"]
    nowhere = client.post(
        "/api/credit/violations",
        headers=api,
        json={
            **body,
            "facts": "y",
            "evidence": [{"type": "object", "object_type": "core_organisation", "object_id": "424242"}],
        },
    )
    assert nowhere.status_code == 404
    assert "points nowhere" in nowhere.json()["detail_en"]
    vid = first.json()["id"]
    assert client.post(f"/api/credit/violations/{vid}/notify", headers=api).status_code == 200
    early = client.post(
        f"/api/credit/violations/{vid}/decide",
        headers=api,
        json={"outcome": "upheld", "reasons": "r", "decision_number": "n"},
    )
    assert early.status_code == 409
    assert "possible_from" in early.json()
    # bidders may not record violations
    _, bidder_api, _ = factories.signed_in(db, Role.bidder)
    assert client.post("/api/credit/violations", json=body, headers=bidder_api).status_code == 403


def test_a_record_goes_from_the_supervisors_decision_to_every_public_channel(
    db: Database, client: Any, settings: Settings
) -> None:
    _, _, sup_cookies = factories.signed_in(db, Role.supervisor)
    code = factories.credit_code()
    with db.unit_of_work() as s:
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=code,
            subject_name="闽江路桥工程有限公司",
            type_code="FALSE_MATERIALS",
            facts="投标文件中提供虚假业绩证明",
            now=utcnow() - 10 * DAY,
        )
        notify(s, SUPERVISOR, v.id, settings, now=utcnow() - 10 * DAY)
        vid = v.id
    client.cookies.update(sup_cookies)
    page = client.get(f"/credit/manage/{vid}")
    assert page.status_code == 200
    assert 'id="decide-confirm"' in page.text
    decided = client.post(
        f"/credit/manage/{vid}/decide",
        follow_redirects=False,
        data={
            "_csrf_token": _csrf(page.text),
            "confirmed": "yes",
            "outcome": "upheld",
            "reasons": "经核查属实",
            "decision_number": "榕公管信〔2026〕8号",
            "publication_days": "730",
        },
        files={"decision_document": ("决定书.pdf", b"%PDF-1.7 decision", "application/pdf")},
    )
    assert decided.status_code == 303, decided.text
    page = client.get(f"/credit/manage/{vid}")
    assert 'id="decision-document"' in page.text
    published = client.post(
        f"/credit/manage/{vid}/publish",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes"},
        follow_redirects=False,
    )
    assert published.status_code == 303
    client.cookies.clear()
    # public search, record page, company profile, blacklist
    found = client.get("/credit", params={"q": "闽江路桥"})
    assert f'id="record-{vid}"' in found.text
    assert f'id="record-{vid}"' in client.get("/credit", params={"q": code}).text
    assert f'id="record-{vid}"' not in client.get("/credit", params={"q": "不存在的公司"}).text
    record = client.get(f"/credit/records/{vid}")
    assert record.status_code == 200
    assert "榕公管信〔2026〕8号" in record.text
    company = client.get(f"/credit/companies/{code}").text
    tier = re.search(r'<p id="company-tier">(.*?)</p>', company, re.S)
    assert tier, company[:500]
    assert 'data-tier="D"' in tier.group(1)  # a false-materials record puts the company on the blacklist
    assert "D 谨慎交易（黑名单）" in tier.group(1)
    assert f'<a href="/credit/records/{vid}">' in company
    assert code in client.get("/credit/blacklist").text
    # JSON search and cursor-paged change feed
    api = client.get("/api/credit/records", params={"credit_code": code}).json()
    assert [r["id"] for r in api["items"]] == [vid]
    feed = client.get("/api/credit/changes", params={"after": "0"}).json()
    assert [(e["kind"], e["violation_id"]) for e in feed["entries"]] == [("published", vid)]
    assert client.get("/api/credit/changes", params={"after": feed["next_cursor"]}).json()["entries"] == []
    standing = client.get("/api/credit/standing", params={"credit_code": code}).json()
    assert standing["blacklisted"] is True
    # CSV, Atom feed, PDF
    csv_text = client.get("/credit/export.csv", params={"q": "闽江路桥"}).content.decode("utf-8-sig")
    assert "榕公管信〔2026〕8号" in csv_text
    assert csv_text.splitlines()[0].startswith("record_id,")
    atom = client.get("/credit/feed.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert f"/credit/records/{vid}" in atom.text
    pdf = client.get(f"/credit/records/{vid}/notice.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    stats = client.get("/credit/stats")
    assert 'id="chart-by-type"' in stats.text


def test_unpublished_records_are_not_public(db: Database, client: Any, settings: Settings) -> None:
    with db.unit_of_work() as s:
        minor = upheld(s, settings, type_code="MINOR_PROCEDURAL", decided_at=utcnow() - DAY)
        vid = minor.id
    assert client.get(f"/credit/records/{vid}").status_code == 404
    assert client.get(f"/api/credit/records/{vid}").status_code == 404


def test_a_bidder_sees_its_record_and_states_a_defence_on_the_page(
    db: Database, client: Any, settings: Settings
) -> None:
    user, _, cookies = factories.signed_in(db, Role.bidder)
    with db.unit_of_work() as s:
        from tenderhall.auth.models import Organisation

        org = s.get(Organisation, user.organisation_id)
        assert org is not None
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=org.credit_code,
            type_code="REFUSE_AWARD",
            facts="中标后拒不签订合同",
        )
        notify(s, SUPERVISOR, v.id, settings)
        other = factories.organisation(s, kind=OrgKind.bidder)
        w, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=other.credit_code,
            type_code="REFUSE_AWARD",
            facts="别人的记录",
        )
        notify(s, SUPERVISOR, w.id, settings)
        vid, wid = v.id, w.id
    client.cookies.update(cookies)
    mine = client.get("/credit/mine")
    assert f'id="my-record-{vid}"' in mine.text
    assert f'id="my-record-{wid}"' not in mine.text
    assert client.get(f"/credit/mine/{wid}").status_code == 404
    page = client.get(f"/credit/mine/{vid}")
    assert 'id="defence-form"' in page.text
    sent = client.post(
        f"/credit/mine/{vid}/defence",
        follow_redirects=False,
        data={"_csrf_token": _csrf(page.text), "text": "我司因不可抗力未能签约"},
        files={"file": ("说明.txt", b"force majeure", "text/plain")},
    )
    assert sent.status_code == 303, sent.text
    assert "不可抗力" in client.get(f"/credit/mine/{vid}").text
    # a defence without the CSRF token is refused
    assert client.post(f"/credit/mine/{vid}/defence", data={"text": "again"}).status_code == 403


def test_admin_edits_the_catalog_and_the_edit_is_audited(db: Database, client: Any) -> None:
    _, api, _ = factories.signed_in(db, Role.admin)
    r = client.put("/api/credit/types/PERSONNEL_ABSENT", json={"points": 4}, headers=api)
    assert r.status_code == 200
    assert r.json()["points"] == 4
    bad = client.put("/api/credit/types/MINOR_PROCEDURAL", json={"publish_max_days": 30}, headers=api)
    assert bad.status_code == 422
    _, sup_api, _ = factories.signed_in(db, Role.supervisor)
    assert (
        client.put("/api/credit/types/PERSONNEL_ABSENT", json={"points": 5}, headers=sup_api).status_code
        == 403
    )
    with db.unit_of_work() as s:
        import sqlalchemy as sa

        from tenderhall.audit.models import AuditEvent

        ev = s.execute(sa.select(AuditEvent).where(AuditEvent.action == "credit.type.update")).scalar_one()
        assert ev.data["changes"]["points"] == [3, 4]


def test_an_uploaded_evidence_file_can_be_cited_and_a_missing_one_cannot(db: Database, client: Any) -> None:
    _, api, _ = factories.signed_in(db, Role.supervisor)
    up = client.post(
        "/api/credit/evidence",
        params={"name": "现场照片.jpg"},
        content=b"\xff\xd8 photo bytes",
        headers={**api, "Content-Type": "application/octet-stream"},
    )
    assert up.status_code == 201, up.text
    sha = up.json()["sha256"]
    body = {
        "subject_kind": "company",
        "credit_code": factories.credit_code(),
        "subject_name": "戊公司",
        "type_code": "PROXY_CLOCK_IN",
        "facts": "项目经理由他人代打卡",
        "evidence": [{"type": "file", "sha256": sha, "name": "现场照片.jpg"}],
    }
    made = client.post("/api/credit/violations", json=body, headers=api)
    assert made.status_code == 201, made.text
    assert made.json()["evidence"][0]["sha256"] == sha
    missing = client.post(
        "/api/credit/violations",
        headers=api,
        json={**body, "facts": "另一事实", "evidence": [{"type": "file", "sha256": "0" * 64}]},
    )
    assert missing.status_code == 404
    assert "no uploaded file" in missing.json()["detail_en"]


def _client_with(settings: Settings, db: Database) -> Any:
    from litestar.testing import TestClient

    from tenderhall.app import create_app

    return TestClient(
        create_app(settings, db=db, run_jobs_inprocess=False), base_url="http://testserver.local"
    )


def test_an_evidence_file_over_the_size_the_settings_allow_is_refused_with_413(
    db: Database, settings: Settings
) -> None:
    _, api, _ = factories.signed_in(db, Role.supervisor)
    small = with_credit(settings, evidence_max_bytes=16)
    with _client_with(small, db) as client:
        ok = client.post(
            "/api/credit/evidence",
            params={"name": "a.txt"},
            content=b"x" * 16,
            headers={**api, "Content-Type": "application/octet-stream"},
        )
        too_big = client.post(
            "/api/credit/evidence",
            params={"name": "b.txt"},
            content=b"x" * 17,
            headers={**api, "Content-Type": "application/octet-stream"},
        )
    assert ok.status_code == 201, ok.text
    assert too_big.status_code == 413, too_big.text


def test_the_public_search_page_shows_as_many_records_as_the_page_size_setting(
    db: Database, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        ids = [
            upheld(
                s, settings, code=factories.credit_code(), publish_it=True, decided_at=utcnow() - n * DAY
            ).id
            for n in (1, 2, 3)
        ]
    with _client_with(with_credit(settings, page_size=2), db) as client:
        first = client.get("/credit")
    assert first.status_code == 200
    shown = [int(i) for i in re.findall(r'data-record-id="(\d+)"', first.text)]
    assert shown == ids[:2]  # newest decision first
