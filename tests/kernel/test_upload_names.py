"""Every upload refuses a file name holding a control or invisible format character (CR/LF, bidi
overrides and isolates, zero-width marks), with a 422 naming the character in both languages."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest

from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database
from tenderhall.errors import InvalidInput
from tenderhall.filenames import safe_filename
from tests import factories

BAD_NAMES = [
    "report\r\nX-Injected: 1.pdf",
    "invoice\u202efdp.exe.pdf",  # right-to-left override
    "a\u202a.pdf",
    "b\u2066.pdf",  # left-to-right isolate
    "c\u2069.pdf",
    "d\u200b.pdf",  # zero-width space (Cf)
    "e\x07.pdf",
    "f\x00.pdf",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_with_an_invisible_character_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        safe_filename(name)
    first = next(c for c in name if unicodedata.category(c) in ("Cc", "Cf"))
    code = f"U+{ord(first):04X}"  # the message names the character, so the uploader can find it
    assert f"（{code}，" in err.value.zh
    assert f"({code}, " in err.value.en


def test_a_plain_name_keeps_only_its_last_path_component() -> None:
    assert safe_filename("C:\\Users\\张三\\招标文件 v2.pdf") == "招标文件 v2.pdf"
    assert safe_filename("../../etc/现场照片.jpg") == "现场照片.jpg"


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def _tender(db: Database, client: Any, api: dict[str, str], agency_org_id: int) -> int:
    from tests.trading.test_http import _body

    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee).id
        factories.mandate(s, tenderee, agency_org_id)
    r = client.post("/api/trading/tenders", json=_body(tenderee), headers=api)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _refused(r: Any) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    named = {re.findall(r"U\+([0-9A-F]{4})", body[k])[0] for k in ("detail_zh", "detail_en")}
    assert len(named) == 1, body  # both languages name the same character
    assert unicodedata.category(chr(int(named.pop(), 16))) in ("Cc", "Cf"), body


def _nothing_stored(settings: Any) -> None:
    stored = [p for p in settings.blob_dir.rglob("*") if p.is_file()]
    assert stored == []


@pytest.mark.parametrize("name", ["报告\r\n.pdf", "invoice\u202efdp.exe.pdf"])
def test_every_upload_route_refuses_the_name(db: Database, client: Any, settings: Any, name: str) -> None:
    agent, agency_api, agency_cookies = factories.signed_in(db, Role.agency)
    tid = _tender(db, client, agency_api, agent.organisation_id)  # type: ignore[arg-type]
    # trading API (raw body)
    _refused(
        client.post(
            f"/api/trading/tenders/{tid}/documents",
            params={"filename": name},
            content=b"%PDF-1.4",
            headers={**agency_api, "Accept": "application/json"},
        )
    )
    # trading page (multipart)
    client.cookies.clear()
    client.cookies.update(agency_cookies)
    page = client.get(f"/manage/tenders/{tid}")
    r = client.post(
        f"/manage/tenders/{tid}/documents",
        data={"_csrf_token": _csrf(page.text), "name": "招标文件"},
        files={"file": (name, b"%PDF-1.4", "application/pdf")},
        headers={"Accept": "application/json"},
    )
    _refused(r)
    # credit API (raw body) and a file cited by name in a record's evidence
    _, sup_api, sup_cookies = factories.signed_in(db, Role.supervisor)
    _refused(
        client.post(
            "/api/credit/evidence",
            params={"name": name},
            content=b"photo",
            headers={**sup_api, "Content-Type": "application/octet-stream"},
        )
    )
    _nothing_stored(settings)
    ok = client.post(
        "/api/credit/evidence",
        params={"name": "photo.jpg"},
        content=b"photo",
        headers={**sup_api, "Content-Type": "application/octet-stream"},
    )
    body = {
        "subject_kind": "company",
        "credit_code": factories.credit_code(),
        "subject_name": "戊公司",
        "type_code": "PROXY_CLOCK_IN",
        "facts": "项目经理由他人代打卡",
        "evidence": [{"type": "file", "sha256": ok.json()["sha256"], "name": name}],
    }
    _refused(client.post("/api/credit/violations", json=body, headers=sup_api))
    # credit page (multipart)
    client.cookies.clear()
    client.cookies.update(sup_cookies)
    page = client.get("/credit/manage/new")
    r = client.post(
        "/credit/manage/new",
        data={
            "_csrf_token": _csrf(page.text),
            "subject_kind": "company",
            "credit_code": factories.credit_code(),
            "subject_name": "己公司",
            "type_code": "PROXY_CLOCK_IN",
            "facts": "另一事实",
        },
        files={"evidence_file": (name, b"photo2", "image/jpeg")},
        headers={"Accept": "application/json"},
    )
    _refused(r)
