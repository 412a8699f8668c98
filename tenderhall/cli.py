"""The ``tenderhall`` command: serve, worker, migrate, demo, and each domain's own group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tenderhall import registry
from tenderhall.metrics import share_across_processes
from tenderhall.settings import Settings

if TYPE_CHECKING:
    from tenderhall.serving import ServeOptions


def load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            loc = "_".join(str(p).upper() for p in err["loc"])
            click.echo(f"TENDERHALL_{loc}: {err['msg']}", err=True)
        sys.exit(2)


def run_migrations(settings: Settings) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(toml_file=str(Path(__file__).resolve().parents[1] / "pyproject.toml"))
    cfg.attributes["database_url"] = settings.database_url
    command.upgrade(cfg, "heads")


@click.group()
def main() -> None:
    """TenderHall 公共资源交易平台."""


@main.command()
def migrate() -> None:
    """Apply every database migration (alembic upgrade head)."""
    settings = load_settings()
    run_migrations(settings)
    click.echo("database is up to date")


@main.command()
@click.option("--host", default=None, help="address to listen on (TENDERHALL_HOST)")
@click.option("--port", default=None, type=int, help="port (TENDERHALL_PORT)")
@click.option(
    "--workers", default=1, show_default=True, help="web processes (each with its own SO_REUSEPORT socket)"
)
@click.option("--migrate/--no-migrate", "do_migrate", default=False, help="apply migrations first")
def serve(host: str | None, port: int | None, workers: int, do_migrate: bool) -> None:
    """Run the web application (with the relay and workers in-process on memory://)."""
    settings = load_settings()
    share_across_processes(settings)
    from tenderhall.app import StartupError, create_app
    from tenderhall.serving import serve as serve_app

    if do_migrate:
        run_migrations(settings)
    try:
        create_app(settings)  # validate settings and services before binding the port
    except StartupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if workers > 1 and settings.is_memory_broker:
        click.echo(
            "TENDERHALL_BROKER_URL: memory:// runs jobs inside one process; use redis:// or amqp:// "
            "for several web processes",
            err=True,
        )
        sys.exit(2)
    serve_app(serve_options(settings, host, port, workers))


def serve_options(settings: Settings, host: str | None, port: int | None, workers: int) -> ServeOptions:
    """uvicorn believes ``X-Forwarded-For``/``-Proto`` only from ``auth.trusted_proxies`` (its own
    default trusts loopback, which let a local client pick any address for each sign-in)."""
    from tenderhall.serving import ServeOptions

    proxies = settings.auth.trusted_proxies
    return ServeOptions(
        app="tenderhall.app:create_app",
        app_args=(settings,),
        host=host or settings.host,
        port=port or settings.port,
        processes=workers,
        log_level=settings.log_level,
        proxy_headers=bool(proxies),
        uvicorn={"forwarded_allow_ips": list(proxies)} if proxies else {},
    )


@main.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", default=None, type=int)
@click.option("--queues", default=None, help="comma-separated queues (default: all)")
def worker(processes: int, threads: int | None, queues: str | None) -> None:
    """Run job workers, the outbox relay and the scheduler against redis:// or amqp://."""
    settings = load_settings()
    share_across_processes(settings)
    from tenderhall.jobs.worker import run_worker

    if settings.is_memory_broker:
        click.echo(
            "TENDERHALL_BROKER_URL is memory://: jobs run inside `tenderhall serve`; "
            "set redis://… or amqp://… to run separate workers",
            err=True,
        )
        sys.exit(2)
    run_worker(settings, processes=processes, threads=threads, queues=queues.split(",") if queues else None)


@main.command()
@click.option("--serve/--no-serve", "then_serve", default=False, help="start the web server afterwards")
@click.option("--reset/--no-reset", default=False, help="delete the embedded database and blobs first")
def demo(then_serve: bool, reset: bool) -> None:
    """Create demo organisations, users of every role, certificates and a full scenario."""
    settings = load_settings()
    share_across_processes(settings)
    from tenderhall.demo import run_demo

    run_demo(settings, reset=reset)
    if then_serve:
        for start in registry.all_demo_services():
            start(settings)  # e.g. the credit receiver, so the demo's pushes are delivered
        ctx = click.get_current_context()
        ctx.invoke(serve, host=None, port=None, workers=1, do_migrate=False)


for _group in registry.all_cli_groups():
    main.add_command(_group)


if __name__ == "__main__":
    main()
