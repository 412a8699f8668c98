"""Blobs live only while something refers to them: a refused upload stores nothing, a writer killed
mid-upload leaves a temp file that the next start sweeps, and blobs no table references are
collected after a grace period, each deletion audited."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from credit.service import create_violation, notify
from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role
from tenderhall.blobs import TEMP_MAX_AGE, BlobStore
from tenderhall.db import Database
from tenderhall.settings import Settings
from tenderhall.storage.service import GRACE, collect_unreferenced_blobs, hash_columns, json_columns
from tests import factories
from tests.credit.conftest import SUPERVISOR
from tests.trading.test_http import _body
from tests.waiting import wait_until


def _stored(settings: Settings) -> list[Path]:
    return [p for p in settings.blob_dir.rglob("*") if p.is_file()]


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def test_an_upload_refused_for_want_of_permission_stores_nothing(
    db: Database, client: Any, settings: Settings
) -> None:
    agent, agency, _ = factories.signed_in(db, Role.agency)
    _, stranger_api, stranger_cookies = factories.signed_in(db, Role.agency)
    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee).id
        factories.mandate(s, tenderee, agent.organisation_id)  # type: ignore[arg-type]
    t = client.post("/api/trading/tenders", json=_body(tenderee), headers=agency).json()
    r = client.post(
        f"/api/trading/tenders/{t['id']}/documents",
        params={"filename": "a.pdf"},
        content=b"%PDF-1.4 not yours",
        headers=stranger_api,
    )
    assert r.status_code == 403, r.text
    client.cookies.clear()
    client.cookies.update(stranger_cookies)
    page = client.get("/manage/tenders/new")
    r = client.post(
        f"/manage/tenders/{t['id']}/documents",
        data={"_csrf_token": _csrf(page.text), "name": "招标文件"},
        files={"file": ("b.pdf", b"%PDF-1.4 not yours either", "application/pdf")},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 403, r.text
    # a bidder's defence file on somebody else's record
    _, _, bidder_cookies = factories.signed_in(db, Role.bidder)
    with db.unit_of_work() as s:
        other = factories.organisation(s, kind=OrgKind.bidder)
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=other.credit_code,
            type_code="REFUSE_AWARD",
            facts="别人的记录",
        )
        notify(s, SUPERVISOR, v.id, settings)  # type: ignore[arg-type]
    client.cookies.clear()
    client.cookies.update(bidder_cookies)
    page = client.get("/credit/mine")
    r = client.post(
        f"/credit/mine/{v.id}/defence",
        data={"_csrf_token": _csrf(page.text), "text": "不是我"},
        files={"file": ("说明.txt", b"not my record", "text/plain")},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 403, r.text
    assert _stored(settings) == []


WRITER = """
import sys, time
from pathlib import Path
from tenderhall.blobs import BlobStore

def chunks():
    yield b"x" * 1024
    Path(sys.argv[2]).write_text("started")
    while True:
        time.sleep(1)  # the upload stalls here until the process is killed

BlobStore(sys.argv[1]).write_stream(chunks())
"""


def test_a_writer_killed_mid_upload_leaves_a_temp_file_that_the_next_start_sweeps(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    flag = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(flag)])
    try:
        wait_until(
            lambda: flag.exists() or proc.poll() is not None, timeout=60, message="the writer never started"
        )
        assert proc.poll() is None, "the writer died before it started writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    parts = list((root / ".tmp").glob("*.part"))
    assert len(parts) == 1  # kill -9 ran no clean-up
    old = time.time() - TEMP_MAX_AGE.total_seconds() - 60
    os.utime(parts[0], (old, old))  # it has been left alone for longer than a live upload could be
    fresh = root / ".tmp" / "blob-live.part"
    fresh.write_bytes(b"a live upload")
    BlobStore(root)  # the next process to open the store
    assert not parts[0].exists()
    assert fresh.exists()


def test_every_blob_column_of_the_models_is_a_reference() -> None:
    names = {f"{c.table.name}.{c.name}" for c in hash_columns() + json_columns()}
    assert {
        "trading_document.sha256",
        "trading_tender.announcement_sha256",
        "credit_violation.decision_doc_sha256",
        "credit_violation.notice_pdf_sha256",
        "credit_violation.evidence",
        "credit_defence.file_sha256",
        "credit_repair.evidence",
    } <= names
    assert "core_audit_event.data" not in names


def _age(store: BlobStore, sha: str, by: dt.timedelta) -> None:
    t = time.time() - by.total_seconds()
    os.utime(store.path(sha), (t, t))


def test_unreferenced_blobs_are_collected_after_the_grace_period_and_audited(
    db: Database, client: Any, settings: Settings
) -> None:
    store = BlobStore(settings.blob_dir)
    agent, agency, _ = factories.signed_in(db, Role.agency)
    _, sup, _ = factories.signed_in(db, Role.supervisor)
    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee).id
        factories.mandate(s, tenderee, agent.organisation_id)  # type: ignore[arg-type]
    t = client.post("/api/trading/tenders", json=_body(tenderee), headers=agency).json()
    doc = client.post(
        f"/api/trading/tenders/{t['id']}/documents",
        params={"filename": "z.pdf"},
        content=b"%PDF-1.4 kept: a document",
        headers=agency,
    ).json()["sha256"]
    cited = client.post(
        "/api/credit/evidence",
        params={"name": "photo.jpg"},
        content=b"kept: cited evidence",
        headers={**sup, "Content-Type": "application/octet-stream"},
    ).json()["sha256"]
    made = client.post(
        "/api/credit/violations",
        headers=sup,
        json={
            "subject_kind": "company",
            "credit_code": factories.credit_code(),
            "subject_name": "戊公司",
            "type_code": "PROXY_CLOCK_IN",
            "facts": "项目经理由他人代打卡",
            "evidence": [{"type": "file", "sha256": cited, "name": "photo.jpg"}],
        },
    )
    assert made.status_code == 201, made.text
    orphan = store.write_bytes(b"uploaded, never cited").sha256
    recent = store.write_bytes(b"uploaded a minute ago, not yet cited").sha256
    for sha in (doc, cited, orphan):
        _age(store, sha, GRACE + dt.timedelta(hours=1))
    with db.unit_of_work() as s:
        deleted = collect_unreferenced_blobs(s, store)
        assert deleted == [orphan]
        assert store.exists(orphan)  # removed only once the collection commits
    assert not store.exists(orphan)
    assert all(store.exists(sha) for sha in (doc, cited, recent))
    with db.unit_of_work() as s:
        events = s.execute(
            sa.select(AuditEvent.action, AuditEvent.object_id).where(AuditEvent.object_type == "blob")
        ).all()
    assert [tuple(e) for e in events] == [("storage.blob.collect", orphan)]


def test_a_rolled_back_collection_deletes_nothing(db: Database, settings: Settings) -> None:
    store = BlobStore(settings.blob_dir)
    orphan = store.write_bytes(b"never cited").sha256
    _age(store, orphan, GRACE + dt.timedelta(hours=1))

    class Abort(Exception):
        pass

    try:
        with db.unit_of_work() as s:
            assert collect_unreferenced_blobs(s, store) == [orphan]
            raise Abort
    except Abort:
        pass
    assert store.exists(orphan)


def test_the_collection_is_a_declared_periodic_job() -> None:
    from tenderhall import registry
    from tenderhall.jobs.outbox import REGISTRY
    from tenderhall.jobs.scheduler_registry import PERIODIC

    registry.import_all_tasks()
    assert "storage.collect_blobs" in REGISTRY
    assert "storage.collect_blobs" in PERIODIC
