"""Who reads a record's private parts: defences, repair applications and evidence are for the
record's subject, supervisors and admins only, even once the record is published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from credit.service import apply_repair, decide, notify, publish, submit_defence
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import SUPERVISOR, T0, new_record

DAY = dt.timedelta(days=1)


def _published_with_defence_and_repair(db: Database, settings: Settings, code: str) -> int:
    subject = Principal(user_id=900002, username="subject", role=Role.bidder, credit_code=code)
    blob = BlobStore(settings.blob_dir).write_bytes("证人证言：拒不签约".encode())
    evidence = [{"type": "file", "sha256": blob.sha256, "name": "证人证言.pdf", "size": blob.size}]
    with db.unit_of_work() as s:
        v = new_record(s, settings, code=code, evidence=evidence)
        notify(s, SUPERVISOR, v.id, settings, now=T0)  # type: ignore[arg-type]
        submit_defence(s, subject, v.id, "我司已按时签约", now=T0 + DAY)  # type: ignore[arg-type]
        decide(
            s,
            SUPERVISOR,
            v.id,  # type: ignore[arg-type]
            outcome="upheld",
            reasons="申辩不成立",
            decision_number="榕罚〔2026〕7号",
            now=T0 + 3 * DAY,
        )
        publish(s, SUPERVISOR, v.id, now=T0 + 3 * DAY)  # type: ignore[arg-type]
        apply_repair(
            s,
            subject,
            v.id,  # type: ignore[arg-type]
            rectification="已整改，附整改报告",
            commitment="我司承诺守信",
            settings=settings,
            now=T0 + 100 * DAY,
        )
        return v.id  # type: ignore[return-value]


def test_an_unrelated_bidder_cannot_read_the_defences_repairs_or_evidence_of_a_published_record(
    db: Database, settings: Settings, client: Any
) -> None:
    subject_user, subject, _ = factories.signed_in(db, Role.bidder)
    with db.unit_of_work() as s:
        from tenderhall.auth.models import Organisation

        org = s.get(Organisation, subject_user.organisation_id)
        assert org is not None
        code = org.credit_code
    vid = _published_with_defence_and_repair(db, settings, code)
    paths = [f"/api/credit/violations/{vid}", f"/api/credit/violations/{vid}/defences",
             f"/api/credit/violations/{vid}/repairs"]  # fmt: skip
    for role in (Role.bidder, Role.agency, Role.tenderee, Role.expert):
        _, stranger, _ = factories.signed_in(db, role)
        for path in paths:
            r = client.get(path, headers=stranger)
            assert r.status_code == 404, (role, path, r.text)
            assert "证人证言" not in r.text and "整改报告" not in r.text
    for who in (subject, factories.signed_in(db, Role.supervisor)[1], factories.signed_in(db, Role.admin)[1]):
        assert [e["name"] for e in client.get(paths[0], headers=who).json()["evidence"]] == ["证人证言.pdf"]
        assert [d["text"] for d in client.get(paths[1], headers=who).json()] == ["我司已按时签约"]
        assert [r["rectification"] for r in client.get(paths[2], headers=who).json()] == [
            "已整改，附整改报告"
        ]
    for path in paths:
        assert client.get(path).status_code == 401
    # the public still reads the published record, without its private parts
    public = client.get(f"/api/credit/records/{vid}")
    assert public.status_code == 200
    assert "证人证言" not in public.text and "整改报告" not in public.text


def test_the_record_pages_show_private_parts_only_to_the_subject_and_supervisors(
    db: Database, settings: Settings, client: Any
) -> None:
    subject_user, _, subject_cookies = factories.signed_in(db, Role.bidder)
    with db.unit_of_work() as s:
        from tenderhall.auth.models import Organisation

        org = s.get(Organisation, subject_user.organisation_id)
        assert org is not None
        code = org.credit_code
    vid = _published_with_defence_and_repair(db, settings, code)
    _, _, stranger_cookies = factories.signed_in(db, Role.bidder)
    _, _, sup_cookies = factories.signed_in(db, Role.supervisor)
    cases = [
        (stranger_cookies, f"/credit/mine/{vid}", 404),
        (stranger_cookies, f"/credit/manage/{vid}", 403),
        (subject_cookies, f"/credit/mine/{vid}", 200),
        (sup_cookies, f"/credit/manage/{vid}", 200),
    ]
    for cookies, path, status in cases:
        client.cookies.clear()
        client.cookies.update(cookies)
        r = client.get(path, follow_redirects=False)
        assert r.status_code == status, (path, r.status_code)
        assert ("我司已按时签约" in r.text) == (status == 200), path
    client.cookies.clear()
    page = client.get(f"/credit/records/{vid}")
    assert page.status_code == 200
    assert "整改报告" not in page.text and "我司已按时签约" not in page.text
