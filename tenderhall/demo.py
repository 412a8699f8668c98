"""``tenderhall demo``: a full scenario on the configured database (the embedded one by default).

The kernel creates organisations, users of every role, the development CA and certificates; then
each domain's ``demo.seed(session, ctx)`` adds its part in import order (credit, trading, …).
Running it twice reuses what exists.
"""

from __future__ import annotations

import shutil
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


def run_demo(settings: Settings, *, reset: bool = False) -> dict[str, Any]:
    from tenderhall.auth.demo_support import seed_identities
    from tenderhall.cli import run_migrations

    if reset:
        _reset(settings)
    with console.status("applying migrations…"):
        run_migrations(settings)
    registry.import_all_models()
    registry.import_all_tasks()
    db = Database(settings.database_url)
    out_dir = VAR_DIR / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with console.status("creating organisations, users and certificates…"), db.unit_of_work() as s:
            ctx: dict[str, Any] = seed_identities(s, settings, out_dir)
            ctx["settings"] = settings
        for seed in registry.all_demo_seeders():
            name = seed.__module__.split(".")[0]
            with console.status(f"demo data: {name}…"), db.unit_of_work() as s:
                seed(s, ctx)
    finally:
        db.dispose()
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
