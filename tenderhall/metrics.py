"""Prometheus metrics of every process on a host, and who may read them.

``tenderhall serve``, ``worker`` and ``demo`` call :func:`share_across_processes` before anything
imports ``prometheus_client``: each process (web processes, job workers, CPU worker processes)
then keeps its samples in files under ``settings.metrics.dir``, and ``GET /metrics`` in any web
process adds up the files of every live process (prometheus_client's multiprocess mode). A process
that is not started that way (tests, a bare ``create_app``) reports only its own samples.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from pathlib import Path

from tenderhall.settings import MetricsSettings, Settings

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def share_across_processes(settings: Settings) -> Path:
    """Keep this process's and its children's samples in ``settings.metrics.dir``.

    prometheus_client chooses where samples live when it is first imported, so this must run
    before that; files left by processes that are no longer running are removed first."""
    directory = settings.metrics.dir.resolve()
    current = os.environ.get(MULTIPROCESS_ENV)
    if "prometheus_client" in sys.modules and current != str(directory):
        raise RuntimeError(
            "metrics must be shared across processes before prometheus_client is imported "
            "(指标多进程模式须在导入 prometheus_client 之前启用)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    forget_dead_processes(directory)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: running
    return True


def forget_dead_processes(directory: Path) -> list[Path]:
    """Remove the sample files (``<kind>_<pid>.db``) of processes that are no longer running."""
    removed = []
    for path in directory.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def render() -> tuple[bytes, str]:
    """The text exposition of every process sharing the directory (or of this one alone)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def may_read(metrics: MetricsSettings, client: str, authorization: str | None) -> bool:
    """A scraper with the token (``Authorization: Bearer …``) or from an allowed address."""
    if metrics.token is not None and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), metrics.token.get_secret_value().encode()
        ):
            return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in metrics.allow)
