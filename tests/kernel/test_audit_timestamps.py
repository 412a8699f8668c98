"""RFC 3161 timestamps of tree heads, against a real TSA: OpenSSL's ``openssl ts -reply`` behind
a loopback HTTP handler started here, with a key and certificate made here (decision 0104)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import tenderhall.audit.tasks as tasks
from tenderhall.audit.cli import group as audit_cli
from tenderhall.audit.models import TreeHead
from tenderhall.audit.service import record, signed_bytes
from tenderhall.audit.timestamping import read_token
from tenderhall.audit.verification import verify_log
from tenderhall.db import Database, utcnow
from tenderhall.jobs.execution import execute
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from tests.conftest import need_command
from tests.tsa import OPENSSL, TSA, dead_url, serve_tsa


@pytest.fixture(autouse=True)
def _openssl() -> None:
    need_command("openssl", "the test TSA cannot run", package="openssl")


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[TSA]:
    with serve_tsa(tmp_path / "tsa") as t:
        yield t


@pytest.fixture
def rogue_tsa(tmp_path: Path) -> Iterator[TSA]:
    """Another TSA, with a CA of its own (what an operator could run to make tokens himself)."""
    with serve_tsa(tmp_path / "rogue") as t:
        yield t


def _append(db: Database, n: int, start: int = 0) -> None:
    with db.unit_of_work() as s:
        for i in range(start, start + n):
            record(s, "system", "test.change", "thing", i, f"变更 {i}", {"i": i})


def _run_job(db: Database, settings: Settings, now: dt.datetime | None = None) -> tuple[int, str]:
    with db.unit_of_work() as s:
        job_id = enqueue(s, tasks.SIGN_TREE_HEAD).id
    assert job_id is not None
    return job_id, execute(db, settings, job_id, now=now)


def _heads(db: Database) -> list[TreeHead]:
    with db.unit_of_work() as s:
        rows = list(s.execute(sa.select(TreeHead).order_by(TreeHead.tree_size)).scalars())
        for r in rows:
            s.expunge(r)
    return rows


def _openssl_ts_verify(data: Path, token: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    args = ["ts", "-verify", "-data", str(data), "-in", str(token), "-token_in", "-CAfile", str(ca)]
    return subprocess.run([str(OPENSSL), *args], capture_output=True, text=True, check=False)


def _with_tsa(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"tsa_url": url})


def test_a_head_signed_with_a_tsa_carries_a_token_over_its_signed_payload(
    db: Database, settings: Settings, tsa: TSA, tmp_path: Path
) -> None:
    _append(db, 3)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    [head] = _heads(db)
    assert head.tsa_token is not None and head.tsa_time is not None
    der = base64.b64decode(head.tsa_token)
    token = read_token(der)
    assert token.imprint == hashlib.sha256(signed_bytes(head)).digest()
    assert token.gen_time == head.tsa_time
    assert head.signed_at - dt.timedelta(seconds=5) <= token.gen_time <= utcnow()
    # the TSA's own tool agrees: the token is a valid TSA signature over the head's payload
    (tmp_path / "payload.json").write_bytes(signed_bytes(head))
    (tmp_path / "token.der").write_bytes(der)
    check = _openssl_ts_verify(tmp_path / "payload.json", tmp_path / "token.der", tsa.ca_pem)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Verification: OK" in check.stdout
    other = tmp_path / "other.json"  # the same check fails for any other payload
    other.write_bytes(signed_bytes(head).replace(b'"tree_size":3', b'"tree_size":4'))
    assert _openssl_ts_verify(other, tmp_path / "token.der", tsa.ca_pem).returncode != 0
    from tenderhall.audit.timestamping import load_roots

    with db.sync_sessions() as s:
        report = verify_log(s, _keys(settings), tsa_roots=load_roots(tsa.ca_pem.read_bytes()))
    assert report.ok, report.problems
    assert report.heads_timestamped == 1


def test_without_a_tsa_url_heads_are_signed_without_a_token(
    db: Database, settings: Settings, tsa: TSA
) -> None:
    _append(db, 2)
    assert _run_job(db, settings)[1] == "done"
    [head] = _heads(db)
    assert head.tsa_token is None
    assert tsa.requests == 0


def test_a_tsa_that_is_down_does_not_stop_signing_and_the_retry_adds_the_token(
    db: Database, settings: Settings, tsa: TSA
) -> None:
    _append(db, 2)
    job_id, outcome = _run_job(db, _with_tsa(settings, dead_url()))
    assert outcome == "retry"  # the job failed, visibly ...
    [head] = _heads(db)
    assert head.tree_size == 2 and head.tsa_token is None  # ... but the head is signed and committed
    with db.unit_of_work() as s:
        row = s.get(OutboxJob, job_id)
        assert row is not None
        assert row.status == JobStatus.pending and row.attempts == 1
        assert "not timestamped" in (row.last_error or "")
        assert row.available_at is not None
        due = row.available_at + dt.timedelta(seconds=1)
    # the TSA is back: the retry signs nothing new and timestamps the head it missed
    assert execute(db, _with_tsa(settings, tsa.url), job_id, now=due) == "done"
    [head] = _heads(db)
    assert head.tsa_token is not None
    assert read_token(base64.b64decode(head.tsa_token)).imprint == hashlib.sha256(signed_bytes(head)).digest()
    assert tsa.requests == 1


def test_a_later_run_timestamps_every_head_still_without_a_token(
    db: Database, settings: Settings, tsa: TSA
) -> None:
    _append(db, 1)
    assert _run_job(db, settings)[1] == "done"  # no TSA configured yet
    _append(db, 1, start=1)
    assert _run_job(db, _with_tsa(settings, dead_url()))[1] == "retry"  # TSA down
    assert [h.tsa_token for h in _heads(db)] == [None, None]
    _append(db, 1, start=2)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    heads = _heads(db)
    assert [h.tree_size for h in heads] == [1, 2, 3]
    assert all(h.tsa_token is not None for h in heads)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"  # nothing left: no request
    assert tsa.requests == 3


def _keys(settings: Settings) -> dict[str, str]:
    signer = platform_signer(settings)
    return {signer.key_id: signer.public_key_pem}


def _verify(db: Database, settings: Settings) -> list[str]:
    with db.sync_sessions() as s:
        report = verify_log(s, _keys(settings))
    return [p.kind for p in report.problems]


def test_verify_reports_a_head_whose_root_was_rewritten_after_it_was_timestamped(
    db: Database, settings: Settings, tsa: TSA
) -> None:
    _append(db, 3)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    assert _verify(db, settings) == []
    with db.sync_engine.begin() as conn:
        conn.execute(sa.text("UPDATE core_tree_head SET root_hash = :r"), {"r": "ab" * 32})
    assert "head_timestamp" in _verify(db, settings)


def test_verify_reports_a_token_moved_from_another_head(db: Database, settings: Settings, tsa: TSA) -> None:
    _append(db, 1)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    _append(db, 1, start=1)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    first, _second = _heads(db)
    with db.sync_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE core_tree_head SET tsa_token = :t WHERE tree_size = 2"), {"t": first.tsa_token}
        )
    assert _verify(db, settings) == ["head_timestamp"]  # the heads themselves are intact
    env = {"TENDERHALL_DATABASE_URL": settings.database_url, "TENDERHALL_KEY_DIR": str(settings.key_dir)}
    result = CliRunner().invoke(audit_cli, ["verify", "--quiet"], env=env)
    assert result.exit_code == 1
    assert "head_timestamp" in result.output
    assert "tree head of size 2" in result.output
    assert "时间戳令牌" in result.output


def test_verify_reports_a_head_dated_later_than_its_timestamp(
    db: Database, settings: Settings, tsa: TSA
) -> None:
    from tenderhall.audit.service import sign_tree_head

    _append(db, 1)
    with db.unit_of_work() as s:  # a head that claims to be signed an hour from now
        sign_tree_head(s, platform_signer(settings), now=utcnow() + dt.timedelta(hours=1))
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"  # timestamped now
    [head] = _heads(db)
    assert head.tsa_token is not None
    assert _verify(db, settings) == ["head_timestamp"]


def test_verify_reports_a_token_that_is_not_one(db: Database, settings: Settings, tsa: TSA) -> None:
    _append(db, 1)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    with db.sync_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE core_tree_head SET tsa_token = :t"), {"t": base64.b64encode(b"junk").decode()}
        )
    assert _verify(db, settings) == ["head_timestamp"]


def test_the_tree_head_api_returns_the_token(db: Database, settings: Settings, tsa: TSA, client) -> None:  # type: ignore[no-untyped-def]
    _append(db, 2)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    [head] = _heads(db)
    body = client.get("/api/audit/tree-head").json()
    assert body["tsa_token"] == head.tsa_token
    token = read_token(base64.b64decode(body["tsa_token"]))
    assert token.imprint == hashlib.sha256(body["signed_payload"].encode()).digest()
    assert body["tsa_time"] == token.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    page = client.get("/audit/tree-head")
    assert page.status_code == 200
    assert head.tsa_token in page.text


def test_verify_with_the_tsa_certificate_reports_a_token_from_another_tsa(
    db: Database, settings: Settings, tsa: TSA, rogue_tsa: TSA
) -> None:
    from tenderhall.audit.timestamping import load_roots

    trusted = load_roots(tsa.ca_pem.read_bytes())
    _append(db, 1)
    assert _run_job(db, _with_tsa(settings, tsa.url))[1] == "done"
    _append(db, 1, start=1)
    assert _run_job(db, _with_tsa(settings, rogue_tsa.url))[1] == "done"  # no CA configured
    with db.sync_sessions() as s:
        assert verify_log(s, _keys(settings)).ok  # each token fits its head ...
        report = verify_log(s, _keys(settings), tsa_roots=trusted)
    assert [(p.kind, "size 2" in p.en) for p in report.problems] == [("head_timestamp", True)]
    assert "trusted timestamping authority" in report.problems[0].en
    env = {"TENDERHALL_DATABASE_URL": settings.database_url, "TENDERHALL_KEY_DIR": str(settings.key_dir)}
    result = CliRunner().invoke(audit_cli, ["verify", "--quiet", "--tsa-ca", str(tsa.ca_pem)], env=env)
    assert result.exit_code == 1, result.output
    assert "受信任的时间戳服务" in result.output


def test_the_job_refuses_a_token_that_does_not_chain_to_the_configured_tsa_certificate(
    db: Database, settings: Settings, tsa: TSA, rogue_tsa: TSA
) -> None:
    _append(db, 1)
    rogue = settings.model_copy(update={"tsa_url": rogue_tsa.url, "tsa_ca_file": tsa.ca_pem})
    job_id, outcome = _run_job(db, rogue)
    assert outcome == "retry"
    [head] = _heads(db)
    assert head.tsa_token is None
    with db.unit_of_work() as s:
        row = s.get(OutboxJob, job_id)
        assert row is not None
        assert "does not verify with the configured TSA certificate" in (row.last_error or "")
    trusted = settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_pem})
    assert _run_job(db, trusted)[1] == "done"
    [head] = _heads(db)
    assert head.tsa_token is not None
