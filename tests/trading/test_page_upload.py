"""The staff page's document upload takes its body limit from the settings the app was built with,
refuses an over-size upload with 413 in both languages, and stores nothing when it does."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from litestar.testing import TestClient
from sqlmodel import col

from tenderhall.app import create_app
from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.trading.test_http import _body
from trading.models import Document
from trading.pages.uploads import FORM_OVERHEAD_BYTES

LIMIT = 1000


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def _stored(settings: Settings) -> list[str]:
    return [p.name for p in settings.blob_dir.rglob("*") if p.is_file() and not p.name.endswith(".part")]


def _documents(db: Database, tender_id: int) -> int:
    with db.unit_of_work() as s:
        return int(
            s.execute(
                sa.select(sa.func.count()).select_from(Document).where(col(Document.tender_id) == tender_id)
            ).scalar_one()
        )


def test_an_over_size_page_upload_is_refused_with_413_and_nothing_is_stored(
    db: Database, settings: Settings
) -> None:
    settings.trading.document_max_bytes = LIMIT  # before the app is built: the route's limit follows it
    app = create_app(settings, db=db, run_jobs_inprocess=False)
    agent, api, cookies = factories.signed_in(db, Role.agency)
    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee).id
        factories.mandate(s, tenderee, agent.organisation_id)  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver.local") as client:
        t = client.post("/api/trading/tenders", json=_body(tenderee), headers=api)
        assert t.status_code == 201, t.text
        tid = int(t.json()["id"])
        client.cookies.update(cookies)
        token = _csrf(client.get(f"/manage/tenders/{tid}").text)

        def upload(content: bytes) -> Any:
            return client.post(
                f"/manage/tenders/{tid}/documents",
                data={"_csrf_token": token, "name": "招标文件"},
                files={"file": ("招标文件.pdf", content, "application/pdf")},
                headers={"Accept": "application/json"},
            )

        # over the document limit, within the form's allowance: the blob store refuses the file
        over_file = upload(b"%PDF" + b"0" * (LIMIT * 3))
        assert over_file.status_code == 413, over_file.text
        assert f"{LIMIT} 字节" in over_file.json()["detail_zh"]
        assert f"{LIMIT} bytes" in over_file.json()["detail_en"]
        # over the whole form's allowance: refused by the route before the form is parsed
        over_body = upload(b"%PDF" + b"0" * (LIMIT + FORM_OVERHEAD_BYTES))
        assert over_body.status_code == 413, over_body.text
        body = over_body.json()
        assert body["code"] == "request_too_large"
        assert f"{LIMIT + FORM_OVERHEAD_BYTES} 字节" in body["detail_zh"]
        assert f"{LIMIT + FORM_OVERHEAD_BYTES} bytes" in body["detail_en"]
        assert _stored(settings) == []
        assert _documents(db, tid) == 0

        small = upload(b"%PDF-1.4 small")
        assert small.status_code in (200, 303), small.text
        assert _documents(db, tid) == 1
        assert len(_stored(settings)) == 1


def test_the_upload_route_limit_is_the_one_of_the_settings_given(db: Database, settings: Settings) -> None:
    def limit(max_bytes: int) -> int | None:
        s = settings.model_copy(deep=True)
        s.trading.document_max_bytes = max_bytes
        app = create_app(s, db=db, run_jobs_inprocess=False)
        [handler] = [
            h
            for r in app.routes
            if r.path == "/manage/tenders/{tender_id:int}/documents"
            for h in getattr(r, "route_handlers", [])
            if "POST" in h.http_methods
        ]
        return handler.resolve_request_max_body_size()  # type: ignore[no-any-return]

    assert limit(5000) == 5000 + FORM_OVERHEAD_BYTES
    assert limit(7 * 1024 * 1024) == 7 * 1024 * 1024 + FORM_OVERHEAD_BYTES
