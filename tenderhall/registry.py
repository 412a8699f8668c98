"""The one place that knows every domain: their models, routes, actors and CLI groups.

Only this module, ``app.py`` and ``cli.py`` import every domain package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenderhall.settings import Settings

#: Packages in import order (kernel first). Each may have ``models``, ``routes`` (``ROUTES``, or
#: ``routes(settings)`` where a route is built from the settings),
#: ``tasks`` (dramatiq actors), ``cli`` (``group``) and ``demo`` (``seed(session, ctx)``) modules.
DOMAINS = ["tenderhall", "credit", "trading", "evaluation", "supervision"]
KERNEL_PARTS = [
    "tenderhall.auth",
    "tenderhall.pki",
    "tenderhall.audit",
    "tenderhall.jobs",
    "tenderhall.storage",
    "tenderhall.agent",
    "tenderhall.events",
]


def _optional(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def import_all_models() -> None:
    importlib.import_module("tenderhall.models")
    for pkg in DOMAINS[1:]:
        _optional(f"{pkg}.models")


def all_route_handlers(settings: Settings) -> list[Any]:
    handlers: list[Any] = []
    for pkg in [*KERNEL_PARTS, "tenderhall.web", *DOMAINS[1:]]:
        mod = _optional(f"{pkg}.routes")
        if mod is None:
            continue
        build = getattr(mod, "routes", None)
        handlers.extend(build(settings) if callable(build) else getattr(mod, "ROUTES", []))
    return handlers


def import_all_tasks() -> None:
    for pkg in [*KERNEL_PARTS, *DOMAINS[1:]]:
        _optional(f"{pkg}.tasks")


def all_cli_groups() -> list[Any]:
    """Each package's ``group`` and its ``more_groups``; groups of the same name are merged, so
    that a domain can add commands to a kernel group (``tenderhall bid seal`` beside ``bid agent``)."""
    merged: dict[str, Any] = {}
    for pkg in [*KERNEL_PARTS, *DOMAINS[1:]]:
        mod = _optional(f"{pkg}.cli")
        if mod is None:
            continue
        for group in [getattr(mod, "group", None), *getattr(mod, "more_groups", [])]:
            if group is None:
                continue
            if group.name in merged:
                for command in group.commands.values():
                    merged[group.name].add_command(command)
            else:
                merged[group.name] = group
    return list(merged.values())


def all_demo_seeders() -> list[Any]:
    seeders = []
    for pkg in DOMAINS[1:]:
        mod = _optional(f"{pkg}.demo")
        if mod is not None and hasattr(mod, "seed"):
            seeders.append(mod.seed)
    return seeders


def all_demo_services() -> list[Any]:
    """Each domain demo's ``serve_alongside(settings)``: what ``tenderhall demo --serve`` starts in
    its own process beside the web server (credit: the receiving credit platform)."""
    services = []
    for pkg in DOMAINS[1:]:
        mod = _optional(f"{pkg}.demo")
        if mod is not None and hasattr(mod, "serve_alongside"):
            services.append(mod.serve_alongside)
    return services
