"""``tenderhall demo``: a full scenario on the configured database (the embedded one by default).

The kernel creates organisations, users of every role, the development CA and certificates; then
each domain's ``demo.seed(session, ctx)`` adds its part in import order (credit, trading, …).
Running it twice reuses what exists.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tenderhall import registry
from tenderhall.db import Database
from tenderhall.settings import VAR_DIR, Settings

console = Console()


def _reset(settings: Settings) -> None:
    if settings.is_sqlite:
        from sqlalchemy.engine import make_url

        path = make_url(settings.database_url).database
        if path and path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
    shutil.rmtree(settings.blob_dir, ignore_errors=True)


@contextlib.contextmanager
def step(number: int, total: int, what: str) -> Iterator[None]:
    """One step of the demo, said as it starts and as it ends (with its seconds), as plain lines
    that also show when the output is not a terminal (``make demo`` piped, a CI log); a terminal
    also gets a spinner while the step runs."""
    label = f"[{number}/{total}] {what}"
    console.print(f"{label} …", highlight=False, soft_wrap=True)
    t0 = time.monotonic()
    spinner = console.status(label) if console.is_terminal else contextlib.nullcontext()
    try:
        with spinner:
            yield
    except BaseException:
        console.print(f"{label}: failed after {time.monotonic() - t0:.1f} s", highlight=False, soft_wrap=True)
        raise
    console.print(f"{label}: done in {time.monotonic() - t0:.1f} s", highlight=False, soft_wrap=True)
    sys.stdout.flush()


def _what(seed: Any) -> str:
    """What a domain's seeder adds: the first paragraph of its module's docstring."""
    module = sys.modules.get(seed.__module__)
    doc = (getattr(module, "__doc__", None) or "").strip().split("\n\n")[0]
    doc = " ".join(doc.replace(" (``tenderhall demo``)", "").replace("``", "").split()).rstrip(".")
    name = seed.__module__.split(".")[0]
    return f"demo data: {name}" + (f" — {doc}" if doc else "")


def run_demo(settings: Settings, *, reset: bool = False) -> dict[str, Any]:
    from tenderhall.auth.demo_support import seed_identities
    from tenderhall.cli import run_migrations

    t0 = time.monotonic()
    if reset:
        _reset(settings)
    seeders = registry.all_demo_seeders()
    total = 2 + len(seeders)
    with step(1, total, "applying database migrations"):
        run_migrations(settings)
        registry.import_all_models()
        registry.import_all_tasks()
    db = Database(settings.database_url)
    out_dir = VAR_DIR / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with (
            step(2, total, "creating organisations, users, the development CA and certificates"),
            db.unit_of_work() as s,
        ):
            ctx: dict[str, Any] = seed_identities(s, settings, out_dir)
            ctx["settings"] = settings
        for i, seed in enumerate(seeders, start=3):
            with step(i, total, _what(seed)), db.unit_of_work() as s:
                seed(s, ctx)
    finally:
        db.dispose()
    console.print(f"demo built in {time.monotonic() - t0:.1f} s", highlight=False)
    _print_summary(settings, ctx)
    return ctx


def _print_summary(settings: Settings, ctx: dict[str, Any]) -> None:
    console.print(f"\n[bold]TenderHall[/bold] demo data is ready. Open [bold]{settings.base_url}/[/bold]\n")
    table = Table(title="Demo sign-ins (password / TOTP: run `tenderhall user totp-code USERNAME`)")
    for col in ("role", "username", "password", "second factor / certificate"):
        table.add_column(col)
    for row in ctx.get("logins", []):
        table.add_row(*(str(row.get(k, "")) for k in ("role", "username", "password", "second_factor")))
    console.print(table)
    for line in ctx.get("notes", []):
        console.print(line)
