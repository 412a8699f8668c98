"""Benchmark runner: ``uv run python -m bench.run [name…]`` runs ``bench/bench_<name>.py`` (all of
them without names) and prints each figure beside its same-run baseline and the ratio."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from bench import Result

HERE = Path(__file__).resolve().parent


def discover(names: list[str]) -> list[str]:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
    return names or available


def fmt(v: float) -> str:
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3f}"


def report(results: list[Result]) -> str:
    lines = []
    header = f"{'figure':<44} {'value':>12} {'baseline (same run)':<40} {'value':>12} {'ratio':>7}  target"
    lines.append(header)
    lines.append("-" * len(header))
    for r in results:
        flag = "" if r.higher_is_better else " (lower is better)"
        target = ""
        if r.target_ratio is not None:
            target = f">= {r.target_ratio:g} {'ok' if r.meets_target else 'BELOW'}"
        lines.append(
            f"{r.name + flag:<44} {fmt(r.value):>12} {r.baseline_name:<40} {fmt(r.baseline_value):>12} "
            f"{r.ratio:>7.2f}  {target}"
        )
        lines.append(f"{'':<44} {r.unit:>12}")
        if r.note:
            lines.append(f"    {r.note}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    all_results: list[Result] = []
    for name in discover(argv):
        module = importlib.import_module(f"bench.bench_{name}")
        title = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        print(f"== {name}: {title}", flush=True)
        started = time.perf_counter()
        results: list[Result] = module.run()
        print(report(results))
        print(f"({name} took {time.perf_counter() - started:.1f} s)\n", flush=True)
        all_results.extend(results)
    return 1 if any(r.meets_target is False for r in all_results) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
