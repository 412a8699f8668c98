"""The Makefile's set-up: `make demo` and `make serve` install the platform without the development
tools (and run without syncing them back in); `make test` and `make lint` install the tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_command

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(target: str) -> list[str]:
    """The commands `make TARGET` would run from scratch (every stamp out of date)."""
    make = need_command("make", "the Makefile's targets cannot be read", package="make")
    r = subprocess.run(
        [make, "-n", "-B", target, "UV=uv"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("uv ")]


@pytest.mark.parametrize("target", ["demo", "serve"])
def test_running_the_platform_installs_no_development_tools(target: str) -> None:
    lines = _dry_run(target)
    syncs = [line for line in lines if line.startswith("uv sync")]
    runs = [line for line in lines if line.startswith("uv run")]
    assert syncs == ["uv sync --frozen --no-dev --inexact"], lines
    assert runs and all(line.startswith("uv run --no-sync tenderhall ") for line in runs), lines


@pytest.mark.parametrize("target", ["test", "lint"])
def test_testing_and_linting_install_the_development_tools(target: str) -> None:
    lines = _dry_run(target)
    assert [line for line in lines if line.startswith("uv sync")] == ["uv sync --frozen"], lines
    assert all("--no-sync" not in line for line in lines if line.startswith("uv run")), lines
