"""Live events across two web processes: a change made through process A reaches a watcher on
process B, over Redis pub/sub and over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.jobs.outbox import enqueue
from tests import factories
from tests.conftest import AMQP_URL, REDIS_URL, need_service
from tests.kernel.live_support import wait_for, watching, web_processes


def _dead_job(db: Database) -> int:
    with db.transaction() as s:
        job = enqueue(s, "tests.nothing")
        s.execute(sa.text("UPDATE core_outbox SET status = 'dead' WHERE id = :i"), {"i": job.id})
    return job.id


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_a_change_through_one_web_process_reaches_a_watcher_on_another(
    backend: str, database_url: str, db: Database, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two web processes share a PostgreSQL database (SQLite serves one machine's processes)")
    env = {
        "TENDERHALL_DATABASE_URL": database_url,
        "TENDERHALL_BLOB_DIR": str(tmp_path / "blobs"),
        "TENDERHALL_KEY_DIR": str(tmp_path / "keys"),
        "TENDERHALL_SECRET_KEY": "test-secret-key-0123456789abcdef",
        # Redis pub/sub channels are shared by every database number: a prefix of this test's own
        "TENDERHALL_EVENTS__CHANNEL_PREFIX": f"t{uuid.uuid4().hex[:8]}",
    }
    if backend == "redis":  # chosen by the broker's scheme (events.backend = auto)
        env["TENDERHALL_BROKER_URL"] = need_service("redis", REDIS_URL)
    else:  # a broker that is not Redis, on PostgreSQL: LISTEN/NOTIFY
        env["TENDERHALL_BROKER_URL"] = need_service("amqp", AMQP_URL)
    _, api, cookies = factories.signed_in(db, Role.admin)
    job_id = _dead_job(db)
    with web_processes(env) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a, headers=api, timeout=30) as on_a,
            httpx.AsyncClient(base_url=b, cookies=cookies, timeout=30) as on_b,
            watching(on_b, "jobs") as got,
        ):
            r = await on_a.post(f"/api/jobs/{job_id}/retry")
            assert r.status_code == 200, r.text
            await wait_for(got, lambda g: any(e["data"]["data"].get("id") == job_id for e in g.events))
    (event,) = [e for e in got.events if e["data"]["data"]["id"] == job_id]
    assert event["data"]["data"]["status"] == "pending"
    assert event["data"]["topic"] == "jobs"
