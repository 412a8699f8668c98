"""``/metrics``: served only to a scraper with the token or from an allowed address, and adding up
every web and worker process of the host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tenderhall.app import create_app
from tenderhall.db import Database
from tenderhall.metrics import forget_dead_processes, may_read
from tenderhall.settings import MetricsSettings, Settings
from tests.conftest import REDIS_URL, need_service

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-7f3a9c"


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` with these labels (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += float(s.value)
    return total


@pytest.fixture
def token_client(settings: Settings, db: Database) -> Iterator[TestClient[Any]]:
    with_token = settings.model_copy(update={"metrics": MetricsSettings(token=TOKEN)})  # type: ignore[arg-type]
    with TestClient(create_app(with_token, db=db, run_jobs_inprocess=False)) as c:
        yield c


def test_metrics_with_the_token_count_requests_per_route_template(token_client: TestClient[Any]) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    route = {"method": "GET", "path": "/api/trading/tenders/{tender_id}", "status_code": "404"}
    before = token_client.get("/metrics", headers=auth)
    assert before.status_code == 200
    assert before.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert token_client.get("/api/trading/tenders/987654").status_code == 404
    after = token_client.get("/metrics", headers=auth).text
    name = "tenderhall_requests_total"
    assert sample(after, name, **route) == sample(before.text, name, **route) + 1
    assert "987654" not in after  # ids never become label values


def test_metrics_without_the_token_from_an_address_not_allowed_are_refused_in_both_languages(
    token_client: TestClient[Any],
) -> None:
    for headers in ({}, {"authorization": "Bearer wrong-token"}, {"authorization": TOKEN}):
        r = token_client.get("/metrics", headers={**headers, "accept": "application/json"})
        assert r.status_code == 403, headers
        body = r.json()
        assert body["code"] == "metrics_forbidden"
        assert "METRICS__TOKEN" in body["detail_zh"]
        assert body["detail_en"].startswith("metrics are served only to a scraper with the token")
        assert "tenderhall_requests_total" not in r.text


def test_the_address_allow_list_admits_its_networks_only() -> None:
    default = MetricsSettings()
    assert may_read(default, "127.0.0.1", None)
    assert may_read(default, "::1", None)
    assert not may_read(default, "10.1.2.3", None)
    assert not may_read(default, "testclient", None)  # not an address at all
    office = MetricsSettings(allow=["10.8.0.0/16"])
    assert may_read(office, "10.8.200.1", None)
    assert not may_read(office, "127.0.0.1", None)
    with_token = MetricsSettings(allow=[], token=TOKEN)  # type: ignore[arg-type]
    assert may_read(with_token, "203.0.113.9", f"bearer {TOKEN}")
    assert not may_read(with_token, "203.0.113.9", f"Basic {TOKEN}")


def test_a_malformed_allow_list_names_the_setting() -> None:
    with pytest.raises(ValueError, match="TENDERHALL_METRICS__ALLOW"):
        MetricsSettings(allow=["not-a-network"])


def test_files_of_processes_that_are_gone_are_forgotten(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    mine = tmp_path / f"counter_{os.getpid()}.db"
    dead = tmp_path / f"gauge_livesum_{dead_pid}.db"
    for path in (mine, dead):
        path.write_bytes(b"\0" * 8)
    assert forget_dead_processes(tmp_path) == [dead]
    assert mine.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "tenderhall.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _poll(base: str, what: str, predicate: Any, timeout: float = 120) -> str:
    """GET /metrics until ``predicate(text)`` holds; fail with the last text after ``timeout``."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(base + "/metrics", timeout=5).text
            if predicate(text):
                return text
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout} s; last /metrics:\n{text[-3000:]}")


def test_metrics_add_up_every_web_process_and_every_worker_process(tmp_path: Path) -> None:
    redis_url = need_service("redis", REDIS_URL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TENDERHALL_DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.db'}",
        "TENDERHALL_BROKER_URL": redis_url,
        "TENDERHALL_BLOB_DIR": str(tmp_path / "blobs"),
        "TENDERHALL_KEY_DIR": str(tmp_path / "keys"),
        "TENDERHALL_METRICS__DIR": str(tmp_path / "metrics"),
        "TENDERHALL_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert (
        subprocess.run([sys.executable, "-m", "tenderhall.cli", "migrate"], cwd=ROOT, env=env).returncode == 0
    )
    log = tmp_path / "processes.log"
    web = _cli(env, "serve", "--port", str(port), "--workers", "2", log=log)
    worker = _cli(env, "worker", "--threads", "1", log=log)
    try:
        _poll(base, "the web processes answer", lambda t: "tenderhall_requests_total" in t)
        for _ in range(40):  # a fresh connection each: SO_REUSEPORT spreads them over both processes
            with httpx.Client() as c:
                assert c.get(base + "/health").status_code == 200
        health = {"method": "GET", "path": "/health", "status_code": "200"}
        _poll(
            base,
            "40 health checks counted over both web processes",
            lambda t: sample(t, "tenderhall_requests_total", **health) == 40,
        )
        # a job run by the worker process shows in the web processes' /metrics
        from tenderhall import registry
        from tenderhall.jobs.outbox import enqueue

        registry.import_all_tasks()
        db = Database(env["TENDERHALL_DATABASE_URL"])
        try:
            with db.unit_of_work() as s:
                enqueue(s, "auth.purge_expired")
        finally:
            db.dispose()
        done = {"job": "auth.purge_expired", "outcome": "done"}
        text = _poll(
            base, "the worker's job in /metrics", lambda t: sample(t, "tenderhall_jobs_total", **done) == 1
        )
        assert sample(text, "tenderhall_job_duration_seconds_count", job="auth.purge_expired") == 1
        pids = {f.stem.rsplit("_", 1)[-1] for f in (tmp_path / "metrics").glob("*.db")}
        assert len(pids) >= 3, pids  # two web processes and the worker each keep files of their own
    finally:
        _stop(worker)
        _stop(web)
