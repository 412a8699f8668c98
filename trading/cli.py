"""``tenderhall trading …``: procedure settings, closing overdue tenders, announcement PDFs, OCDS."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from trading.sealing.cli import group as bid_group

console = Console()


def _settings():  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from tenderhall.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            click.echo(f"TENDERHALL_{'_'.join(str(p).upper() for p in err['loc'])}: {err['msg']}", err=True)
        sys.exit(2)


def _db(settings):  # type: ignore[no-untyped-def]
    from tenderhall import registry
    from tenderhall.db import Database

    registry.import_all_models()
    return Database(settings.database_url)


@click.group("trading")
def group() -> None:
    """交易：招标项目、澄清、开放合同数据 · Tenders, clarifications, Open Contracting data."""


@group.command("procedures")
def procedures_cmd() -> None:
    """List the per-procedure rules (seeded from TENDERHALL_TRADING__* defaults)."""
    from trading.models import METHOD_LABELS, Method
    from trading.service.procedures import all_procedure_settings

    settings = _settings()
    db = _db(settings)
    table = Table(title="程序设置 · Procedure settings")
    for col in (
        "method",
        "min days",
        "min valid bids",
        "cut-off days",
        "publicity days",
        "decrypt min",
        "object min",
    ):
        table.add_column(col)
    with db.unit_of_work() as s:
        for r in all_procedure_settings(s, settings):
            table.add_row(
                f"{METHOD_LABELS[Method(r.method)][0]} ({r.method})",
                str(r.min_tender_days),
                str(r.min_valid_bids),
                str(r.clarification_cutoff_days),
                str(r.publicity_days),
                str(r.decryption_window_minutes),
                str(r.objection_window_minutes),
            )
    db.dispose()
    console.print(table)


@group.command("close-due")
def close_due_cmd() -> None:
    """Close every open tender whose bid deadline has passed (what the periodic job does)."""
    from tenderhall.auth.principal import SYSTEM
    from trading.service.closing import close_due

    settings = _settings()
    db = _db(settings)
    with db.unit_of_work() as s:
        closed = close_due(s, SYSTEM, settings)
    db.dispose()
    click.echo(f"closed {len(closed)} tender(s): {closed}")


@group.command("render-announcement")
@click.argument("tender_id", type=int)
def render_announcement_cmd(tender_id: int) -> None:
    """Render (again) the 招标公告 PDF of a tender into the blob store and print its SHA-256."""
    from trading.pdf import store_announcement

    settings = _settings()
    db = _db(settings)
    with db.unit_of_work() as s:
        sha = store_announcement(s, settings, tender_id)
    db.dispose()
    if sha is None:
        click.echo(f"tender {tender_id} is not published", err=True)
        sys.exit(1)
    click.echo(sha)


@group.command("ocds-record")
@click.argument("ocid")
def ocds_record_cmd(ocid: str) -> None:
    """Print the OCDS record package of one contracting process (JSON)."""
    from trading import ocds

    settings = _settings()
    db = _db(settings)
    with db.unit_of_work() as s:
        rows = ocds.list_releases(s, ocid=ocid, limit=100_000)
        if not rows:
            click.echo(f"no releases for {ocid}", err=True)
            sys.exit(1)
        pkg = ocds.record_package(settings, ocid, rows, f"{settings.base_url}/api/ocds/records/{ocid}")
    db.dispose()
    click.echo(json.dumps(pkg, ensure_ascii=False, indent=2))


more_groups = [bid_group]  # `tenderhall bid seal`, merged into the kernel's `bid` group
