"""The import direction of ARCHITECTURE.md holds: supervision, evaluation -> trading -> credit ->
kernel; nothing imports upward. Checked with import-linter's contract in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contract_is_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken" in result.stdout


def test_kernel_imports_no_domain_outside_the_assembly() -> None:
    allowed = {"app.py", "cli.py", "registry.py", "demo.py"}
    offenders = []
    for path in (ROOT / "tenderhall").rglob("*.py"):
        if path.name in allowed and path.parent.name == "tenderhall":
            continue
        text = path.read_text(encoding="utf-8")
        for dom in ("credit", "trading", "evaluation", "supervision"):
            if f"from {dom}" in text or f"import {dom}" in text:
                offenders.append(f"{path.relative_to(ROOT)} imports {dom}")
    assert not offenders, offenders
