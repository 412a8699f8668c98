"""The announcement PDF (招标公告): builds, carries its Chinese text, and renders to an image."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tenderhall.blobs import BlobStore
from tenderhall.db import Database
from tenderhall.settings import Settings
from trading.models import Tender
from trading.pdf import store_announcement


def test_the_announcement_pdf_contains_its_chinese_text_and_renders(
    db: Database, settings: Settings, make_tender: Callable[..., int], tmp_path: Path
) -> None:
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        pytest.skip("poppler-utils (pdftotext, pdftoppm) not installed")
    tid = make_tender(title="市政道路改造工程施工招标")
    with db.unit_of_work() as s:
        sha = store_announcement(s, settings, tid)
    with db.unit_of_work() as s:
        tender = s.get(Tender, tid)
        assert tender is not None
        assert tender.announcement_sha256 == sha
        assert tender.version == 2  # rendering does not bump the optimistic version (create=1, publish=2)
    assert sha is not None
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(BlobStore(settings.blob_dir).read_bytes(sha))
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    compact = "".join(text.split())
    for expected in ("招标公告", "市政道路改造工程施工招标", "第一标段", "公开招标", "综合评估法"):
        assert expected in compact, expected
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")], check=True
    )
    from PIL import Image

    page = next(tmp_path.glob("p*.png"))
    with Image.open(page) as im:
        lo, hi = im.convert("L").getextrema()
    assert lo < 100 < hi  # ink on paper, not a blank page


def test_a_draft_has_no_announcement(
    db: Database, settings: Settings, make_tender: Callable[..., int]
) -> None:
    tid = make_tender(publish=False)
    with db.unit_of_work() as s:
        assert store_announcement(s, settings, tid) is None
