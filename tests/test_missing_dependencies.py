"""A test that needs something missing here (a service, a command, a file) skips on a developer's
machine but fails in CI (``TENDERHALL_REQUIRE_SERVICES=1``): CI never goes green by skipping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tests.conftest as conftest
from tests.conftest import SHARED, need_command, need_path, need_service

TESTS = Path(__file__).resolve().parent
NOWHERE = Path("/nonexistent/tenderhall-test-dependency")
MISSING = [
    lambda: need_service("redis", None),
    lambda: need_command("tenderhall-no-such-command", "nothing can run"),
    lambda: need_path(NOWHERE, "a fixture file"),
]


@pytest.mark.parametrize("need", MISSING, ids=["service", "command", "path"])
def test_something_missing_fails_when_ci_requires_it(monkeypatch: pytest.MonkeyPatch, need: object) -> None:
    monkeypatch.setattr(conftest, "REQUIRE", True)
    with pytest.raises(pytest.fail.Exception, match="TENDERHALL_REQUIRE_SERVICES=1 requires it"):
        need()  # type: ignore[operator]


@pytest.mark.parametrize("need", MISSING, ids=["service", "command", "path"])
def test_something_missing_skips_on_a_developer_machine(
    monkeypatch: pytest.MonkeyPatch, need: object
) -> None:
    monkeypatch.setattr(conftest, "REQUIRE", False)
    with pytest.raises(pytest.skip.Exception):
        need()  # type: ignore[operator]


def test_something_present_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRE", True)
    assert need_service("redis", "redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"
    assert Path(need_command("sh", "nothing")).name == "sh"
    assert need_path(TESTS, "the tests") == TESTS


def test_the_ocds_schemas_are_found_through_the_shared_folder(shared_dir: Path) -> None:
    assert shared_dir == SHARED
    assert (shared_dir / "ocds" / "record-package-schema.json").is_file()
    assert (shared_dir / "ocds" / "codelists" / "releaseTag.csv").is_file()


# a skip that does not go through tests/conftest.py would pass CI by skipping
UNGUARDED = re.compile(r"pytest\.importorskip|skipif\([^)]*which|shutil\.which\(")


def test_no_test_skips_for_a_missing_dependency_behind_ci_s_back() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{n}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in ("conftest.py", Path(__file__).name) or path.parent != TESTS
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNGUARDED.search(line)
    ]
    assert offenders == [], "use need_command / need_path / need_service from tests/conftest.py"
