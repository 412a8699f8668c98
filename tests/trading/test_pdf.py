"""The announcement PDF (招标公告): builds, carries its Chinese text, and renders to an image."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from tenderhall.blobs import BlobStore
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests.conftest import need_command
from tests.trading.conftest import World
from trading.models import Tender
from trading.pdf import store_announcement


def test_the_announcement_pdf_contains_its_chinese_text_and_renders(
    db: Database, settings: Settings, make_tender: Callable[..., int], tmp_path: Path
) -> None:
    for tool in ("pdftotext", "pdftoppm"):
        need_command(tool, "the announcement PDF cannot be read back", package="poppler-utils")
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


def _announcement_jobs(db: Database, tender_id: int) -> list[int]:
    import sqlalchemy as sa

    from tenderhall.jobs.models import OutboxJob

    with db.unit_of_work() as s:
        return list(
            s.execute(
                sa.select(OutboxJob.id)
                .where(OutboxJob.actor_name == "trading.render_announcement")
                .order_by(OutboxJob.id)
            ).scalars()
        )


def test_the_announcement_job_renders_outside_its_transactions_and_records_only_the_current_one(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    import trading.tasks  # noqa: F401 - declares the trading jobs
    from tenderhall.jobs.execution import execute
    from trading import pdf
    from trading.service import amendments

    tid = make_tender(title="河道清淤工程")
    (first,) = _announcement_jobs(db, tid)
    with db.unit_of_work() as s:
        stale = pdf.announcement_inputs(s, tid)  # what a job read before the amendment below
    assert stale is not None
    with db.unit_of_work() as s:
        version = s.get(Tender, tid).version  # type: ignore[union-attr]
        amendments.amend_tender(
            s,
            world.agency,
            settings,
            tid,
            "更正名称",
            {"title": "河道清淤疏浚工程"},
            expected_version=version,
        )
    stale_sha = BlobStore(settings.blob_dir).write_bytes(pdf.render_announcement_pdf(settings, stale)).sha256
    with db.unit_of_work() as s:
        assert pdf.record_announcement(s, stale, stale_sha) is False  # amended since: not recorded
        assert s.get(Tender, tid).announcement_sha256 is None  # type: ignore[union-attr]
    jobs = _announcement_jobs(db, tid)
    assert jobs[0] == first
    assert len(jobs) == 2  # the amendment enqueued its own render
    assert [execute(db, settings, j) for j in jobs] == ["done", "done"]
    with db.unit_of_work() as s:
        current = s.get(Tender, tid).announcement_sha256  # type: ignore[union-attr]
    assert current is not None
    assert current != stale_sha
    assert BlobStore(settings.blob_dir).read_bytes(current).startswith(b"%PDF")
