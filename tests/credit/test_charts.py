"""The statistics charts: every label of the data is drawn whole (in its own column, never cut),
each value is beside its bar and on hover, and the chart is as wide as its card."""

from __future__ import annotations

import html
import re
from typing import Any

from credit.charts import bar_chart
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests.credit.conftest import upheld

LONG = "投标人相互串通投标或者与招标人串通投标"


def test_each_bar_is_its_share_of_the_largest_value() -> None:
    c = bar_chart([("甲", 4), ("乙", 1), ("丙", 0)], title="按违规类型")
    assert [(b.label, b.value, b.percent) for b in c.bars] == [
        ("甲", 4, 100.0),
        ("乙", 1, 25.0),
        ("丙", 0, 0.0),
    ]
    assert bar_chart([], title="x").bars == []


def _chart(page: str, chart_id: str) -> str:
    m = re.search(rf'<figure class="hbars" id="{chart_id}">(.*?)</figure>', page, re.S)
    assert m, f"no chart {chart_id}"
    return m.group(1)


def test_the_stats_page_draws_every_label_whole_with_its_value_on_hover(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        for type_code in ("BID_RIGGING", "QUALIFICATION_LENDING", "REFUSE_AWARD"):
            upheld(s, settings, type_code=type_code, publish_it=True, decided_at=utcnow())
    page = client.get("/credit/stats").text
    chart = _chart(page, "chart-by-type")
    rows = re.findall(r'<li title="([^"]*)"><span class="hbar-label">([^<]*)</span>', chart)
    assert len(rows) >= 3
    names = re.findall(
        r"<tr><td>([^<]*)</td><td class=\"num\">(\d+)</td></tr>",
        page.split('id="stats-by-type"')[1].split("</table>")[0],
    )
    assert names, "the table beside the chart lists the types"
    for name, n in names:
        assert (f"{html.unescape(name)}：{n}", html.unescape(name)) in [
            (html.unescape(t), html.unescape(lbl)) for t, lbl in rows
        ]  # the whole label, never cut short, and its value on hover
    assert "<svg" not in chart and "rotate(" not in chart  # no rotated, clipped axis labels
    assert re.search(r'style="width:\d+(\.\d+)?%"', chart)  # bars are shares of the card's width
    month = _chart(page, "chart-by-month")
    assert len(re.findall(r"<li ", month)) == 12
    en = _chart(client.get("/credit/stats", params={"lang": "en"}).text, "chart-by-type")
    assert not re.search(r"[\u4e00-\u9fff]", en)


def test_a_long_chinese_label_wraps_in_its_column_and_the_chart_fits_390_px() -> None:
    from pathlib import Path

    css = (Path(__file__).parents[2] / "tenderhall/web/static/tenderhall.css").read_text()
    credit = css[css.index("/* Credit */") :]
    assert ".hbars" in credit and "overflow-wrap: anywhere" in credit
    assert "max-width: 480px" in credit  # at 390 px the bar goes below its label: nothing overlaps
    assert bar_chart([(LONG, 3)]).bars[0].label == LONG  # never abbreviated
