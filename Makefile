# TenderHall: `make demo` starts the platform with demo data; `make test` runs the tests.
# Needs only Python >= 3.11 and make: uv is bootstrapped into .tools/ when it is not installed.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_WORKERS ?= 2

.PHONY: demo test lint fmt bench e2e sync sync-run serve pagecheck clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

# the development tools (tests, linters, browser driver) for test/lint/fmt/bench/pagecheck
.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

# the platform alone for demo/serve: no development tools; --inexact keeps them if installed
.venv/.synced-run: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --no-dev --inexact
	@touch $@

sync: .venv/.synced

sync-run: .venv/.synced-run

demo: sync-run  ## start TenderHall on the embedded defaults (SQLite, in-process jobs) with demo data
	$(UV) run --no-sync tenderhall demo --serve

serve: sync-run
	$(UV) run --no-sync tenderhall serve --migrate

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

# every page of the demo for every role (ROLE=admin for one), problems listed per page (the same
# test runs in make test). Screenshots in var/screenshots/, reports in var/pagecheck/.
ROLE ?=
pagecheck: sync  ## check every page: overflow at 390/1366 px, console, requests, axe, raw codes
	@rm -rf var/pagecheck var/screenshots
	@rc=0; $(UV) run pytest tests/e2e/test_every_page.py -p no:xdist -q --tb=no \
		-k "every_page_a_role $(if $(ROLE),and $(ROLE))" $(PYTEST_ARGS) || rc=$$?; \
		cat var/pagecheck/*.txt 2>/dev/null; exit $$rc

bench: sync  ## benchmarks: never part of the tests
	$(UV) run python -m bench.run $(BENCH)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
