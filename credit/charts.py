"""Server-rendered bar charts (no JavaScript): horizontal bars, each label in a column of its own
that wraps instead of being clipped or rotated into its neighbour, the value beside the bar and on
hover (``title``). Geometry here (each bar's share of the largest), drawing in the template
(``credit/_macros.html`` ``chart``) and ``tenderhall.css`` ("Credit"): the chart is as wide as its
card, at 390 px the bar goes below its label."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    percent: float  # of the largest value, 0–100


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    max_value: int


def bar_chart(data: list[tuple[str, int]], *, title: str = "") -> Chart:
    """One bar per ``(label, value)``, in the order given."""
    peak = max([v for _, v in data] + [1])
    bars = [Bar(label=label, value=value, percent=round(100 * value / peak, 1)) for label, value in data]
    return Chart(title=title, bars=bars, max_value=peak)
