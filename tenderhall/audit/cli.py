"""``tenderhall audit``: verify the whole log, sign a tree head now."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True)


def _settings():  # type: ignore[no-untyped-def]
    from tenderhall.cli import load_settings

    return load_settings()


def _key_id(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@click.group(name="audit")
def group() -> None:
    """Audit log: verify the hash chain and tree heads, sign tree heads."""


@group.command()
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an extra PEM public key that may have signed older heads (repeatable)",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def verify(public_keys: tuple[Path, ...], quiet: bool) -> None:
    """Recompute every event hash and every stored tree head; name the first event that was
    altered, removed or inserted. Exit code 1 on any problem."""
    from tenderhall.audit.models import AuditEvent
    from tenderhall.audit.service import verify_log
    from tenderhall.db import Database
    from tenderhall.signing import platform_signer

    settings = _settings()
    signer = platform_signer(settings)
    keys = {signer.key_id: signer.public_key_pem}
    for path in public_keys:
        pem = path.read_text()
        keys[_key_id(pem)] = pem
    db = Database(settings.database_url)
    try:
        with db.sync_sessions() as session:
            total = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
            with Progress(
                TextColumn("verifying audit log"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                disable=quiet,
                transient=True,
            ) as progress:
                task = progress.add_task("events", total=total)
                report = verify_log(session, keys, progress=lambda n: progress.advance(task, n))
            session.rollback()
    finally:
        db.dispose()
    if report.ok:
        click.echo(
            f"audit log OK: {report.events} events, {report.heads_checked} of {report.heads} tree heads "
            "verified / 审计日志完好"
        )
        return
    first = report.first
    assert first is not None
    click.echo(f"FIRST PROBLEM [{first.kind}]: {first.en}", err=True)
    click.echo(f"首个问题：{first.zh}", err=True)
    for p in report.problems[1:]:
        click.echo(f"also [{p.kind}]: {p.en}", err=True)
    sys.exit(1)


@group.command()
def head() -> None:
    """Sign a tree head now (if the log grew since the latest one)."""
    from tenderhall.audit.service import latest_tree_head, sign_tree_head
    from tenderhall.db import Database
    from tenderhall.signing import platform_signer

    settings = _settings()
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as session:
            new = sign_tree_head(session, platform_signer(settings))
            current = new or latest_tree_head(session)
            if current is None:
                click.echo("the audit log is empty: no tree head to sign / 审计日志为空")
                return
            state = "signed" if new else "unchanged (no new events)"
            click.echo(f"tree head {state}: size {current.tree_size}, root {current.root_hash}")
    finally:
        db.dispose()
