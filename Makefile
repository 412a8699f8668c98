# TenderHall: `make demo` starts the platform with demo data; `make test` runs the tests.
# Needs only Python >= 3.11 and make: uv is bootstrapped into .tools/ when it is not installed.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_WORKERS ?= 2

.PHONY: demo test lint fmt bench e2e sync serve clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

sync: .venv/.synced

demo: sync  ## start TenderHall on the embedded defaults (SQLite, in-process jobs) with demo data
	$(UV) run tenderhall demo --serve

serve: sync
	$(UV) run tenderhall serve --migrate

test: sync  ## run the whole test suite (services it cannot reach are skipped, or fail in CI)
	$(UV) run pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports

fmt: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: sync  ## benchmarks: never part of the tests
	$(UV) run python -m bench.run $(BENCH)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
