"""Server-rendered SVG bar charts (no JavaScript): geometry here, drawing in the template."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BarGeom:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: int
    label_x: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[BarGeom]
    max_value: int
    title: str


def bar_chart(data: list[tuple[str, int]], *, title: str = "", width: int = 720, height: int = 260) -> Chart:
    top, bottom, left, right = 24, height - 48, 40, 16
    n = max(len(data), 1)
    slot = (width - left - right) / n
    peak = max([v for _, v in data] + [1])
    bars = []
    for i, (label, value) in enumerate(data):
        h = (bottom - top) * value / peak
        x = left + i * slot + slot * 0.15
        bars.append(
            BarGeom(
                x=round(x, 1),
                y=round(bottom - h, 1),
                w=round(slot * 0.7, 1),
                h=round(h, 1),
                label=label,
                value=value,
                label_x=round(x + slot * 0.35, 1),
            )
        )
    return Chart(width, height, top, bottom, bars, peak, title)
