"""``tenderhall credit …``: the test/demo receiver, pushing and expiring by hand, standing look-ups."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import click


@click.group("credit")
def group() -> None:
    """信用：违规记录、黑名单、推送 · Credit records, blacklist and push."""


@group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=int)
@click.option(
    "--db", "db_path", default="var/credit-receiver.db", show_default=True, type=click.Path(dir_okay=False)
)
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False),
    help="the platform's public key (PEM); default: fetch it from --platform",
)
@click.option("--platform", default=None, help="platform base URL (default TENDERHALL_BASE_URL)")
@click.option(
    "--mode",
    default="ok",
    show_default=True,
    type=click.Choice(["ok", "down", "500", "timeout", "garbage"]),
    help="fail on purpose (change it later with POST /_control)",
)
@click.option("--verbose/--quiet", default=False)
def receiver(
    host: str, port: int, db_path: str, public_key: str | None, platform: str | None, mode: str, verbose: bool
) -> None:
    """Run a receiving credit platform that verifies signatures and stores what arrives."""
    from credit.receiver import ReceiverServer
    from tenderhall.cli import load_settings

    pem = Path(public_key).read_text() if public_key else None
    base = None if pem else (platform or load_settings().base_url)
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    server = ReceiverServer(
        db_path, public_key_pem=pem, platform_url=base, host=host, port=port, mode=mode, verbose=verbose
    )
    server.listen()
    click.echo(
        f"credit receiver on http://{host}:{server.port}/events (mode {mode}; events stored in {db_path})",
        err=False,
    )
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


@group.command()
@click.option("--loop/--once", default=False, help="keep pushing every --interval seconds")
@click.option("--interval", default=30.0, show_default=True)
def push(loop: bool, interval: float) -> None:
    """Send due deliveries to the configured receivers now."""
    from credit.service.push import push_due
    from tenderhall import registry
    from tenderhall.cli import load_settings
    from tenderhall.db import Database

    settings = load_settings()
    registry.import_all_models()
    db = Database(settings.database_url)
    try:
        while True:
            r = push_due(db.unit_of_work, settings)
            click.echo(f"attempted {r.attempted}, delivered {r.delivered}, failed {r.failed}, dead {r.dead}")
            if not loop:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        db.dispose()


@group.command()
def expire() -> None:
    """Take records whose publication period has ended out of public view now."""
    from credit.service.publication import expire_due
    from tenderhall import registry
    from tenderhall.auth.principal import SYSTEM
    from tenderhall.cli import load_settings
    from tenderhall.db import Database

    settings = load_settings()
    registry.import_all_models()
    db = Database(settings.database_url)
    with db.unit_of_work() as s:
        n = expire_due(s, SYSTEM)
    db.dispose()
    click.echo(f"{n} record(s) expired")


@group.command()
@click.argument("credit_code")
def standing(credit_code: str) -> None:
    """Show a company's tier, points and listing (exit 1 when blacklisted)."""
    from credit.service import may_bid
    from tenderhall import registry
    from tenderhall.cli import load_settings
    from tenderhall.db import Database
    from tenderhall.errors import AppError

    settings = load_settings()
    registry.import_all_models()
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as s:
            answer = may_bid(s, credit_code, settings=settings)
    except AppError as exc:
        click.echo(exc.message, err=True)
        sys.exit(2)
    finally:
        db.dispose()
    st = answer.standing
    click.echo(f"tier {st.tier} · {st.points} points · blacklisted: {'yes' if st.blacklisted else 'no'}")
    click.echo(st.explanation_zh)
    click.echo(st.explanation_en)
    sys.exit(0 if answer.allowed else 1)
