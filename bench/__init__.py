"""Benchmarks: run on demand (``uv run python -m bench.run [name…]``), never by the test suite.

Each ``bench/bench_<name>.py`` exposes ``run() -> list[Result]``; every figure is printed beside a
baseline measured in the same run, with their ratio (never an absolute time threshold).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    higher_is_better: bool = True
    target_ratio: float | None = None  # the ratio the issue asks for, if any
    note: str = ""

    @property
    def ratio(self) -> float:
        """How the figure compares with its baseline, > 1 meaning better than the baseline."""
        if self.value <= 0 or self.baseline_value <= 0:
            return 0.0
        return self.value / self.baseline_value if self.higher_is_better else self.baseline_value / self.value

    @property
    def meets_target(self) -> bool | None:
        return None if self.target_ratio is None else self.ratio >= self.target_ratio
