"""`tenderhall audit verify` against forgeries that keep the hash chain valid: every tree head
deleted after a rewrite, heads missing from the schedule, an event appended after a head and
backdated; and anchoring: checking the log against a tree head obtained elsewhere (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from tenderhall.audit.cli import group as audit_cli
from tenderhall.audit.models import AuditEvent, TreeHead
from tenderhall.audit.service import compute_hash, record, sequence_staged, sign_tree_head
from tenderhall.audit.verification import verify_log
from tenderhall.db import Database, UTCDateTime, utcnow
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer

Tamper = Callable[[str | sa.TextClause, dict[str, object] | None], None]
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def tamper(db: Database) -> Tamper:
    """SQL the way an attacker with database access runs it: past the append-only triggers."""

    def run(sql: str | sa.TextClause, params: dict[str, object] | None = None) -> None:
        with db.sync_engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            else:
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_event_no_update")
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_event_no_delete")
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_node_no_update")
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_node_no_delete")
            conn.execute(sa.text(sql) if isinstance(sql, str) else sql, params or {})

    return run


def _events(db: Database) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        rows = list(s.execute(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars())
        for r in rows:
            s.expunge(r)
    return rows


def _rechain(tamper: Tamper, events: list[AuditEvent], prev: str) -> None:
    """Rewrite ``events`` (changed in memory) with every hash recomputed from ``prev`` on."""
    for e in events:
        e.prev_hash = prev
        e.hash = prev = compute_hash(prev, e)
        tamper(_REWRITE, {"t": e.occurred_at, "s": e.summary, "p": e.prev_hash, "h": e.hash, "id": e.id})


_REWRITE = sa.text(
    "UPDATE core_audit_event SET occurred_at = :t, summary = :s, prev_hash = :p, hash = :h WHERE id = :id"
).bindparams(sa.bindparam("t", type_=UTCDateTime()))


def _append_at(db: Database, tamper: Tamper, n: int, at: dt.datetime) -> None:
    """Append ``n`` events as if they had been recorded at ``at`` (a log with a past): recorded
    now, then their times set and their hashes recomputed (nothing signed covers them yet)."""
    before = len(_events(db))
    with db.unit_of_work() as s:
        for i in range(n):
            record(s, "system", "test.change", "thing", before + i, f"变更 {before + i}")
    events = _events(db)
    for i, e in enumerate(events[before:]):
        e.occurred_at = at + dt.timedelta(seconds=i)
    _rechain(tamper, events[before:], events[before - 1].hash if before else "0" * 64)


def _sign_at(db: Database, settings: Settings, at: dt.datetime) -> None:
    with db.unit_of_work() as s:
        assert sign_tree_head(s, platform_signer(settings), now=at) is not None


def _verify(settings: Settings, *args: str) -> Result:
    env = {"TENDERHALL_DATABASE_URL": settings.database_url, "TENDERHALL_KEY_DIR": str(settings.key_dir)}
    return CliRunner().invoke(audit_cli, ["verify", "--quiet", *args], env=env)


def _a_log_with_a_past(db: Database, settings: Settings, tamper: Tamper) -> dt.datetime:
    """Three batches of events a day ago, an hour apart, each signed a minute after it."""
    t0 = utcnow() - 24 * HOUR
    for k in range(3):
        _append_at(db, tamper, 3, t0 + k * HOUR)
        _sign_at(db, settings, t0 + k * HOUR + dt.timedelta(minutes=1))
    return t0


def test_verify_passes_on_a_log_whose_heads_were_signed_on_schedule(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _a_log_with_a_past(db, settings, tamper)
    result = _verify(settings)
    assert result.exit_code == 0, result.output
    assert "3 of 3 tree heads" in result.output


def test_verify_fails_when_every_tree_head_was_deleted_after_a_rewrite(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _a_log_with_a_past(db, settings, tamper)
    events = _events(db)
    events[4].summary = "改写的历史"
    _rechain(tamper, events[4:], events[3].hash)
    with db.sync_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_tree_head"))
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    assert "[head_missing]" in result.output
    assert "seq 0 " in result.output
    assert "no tree head covers" in result.output


def test_verify_fails_when_heads_are_missing_between_two_signed_heads(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    t0 = utcnow() - 24 * HOUR
    _append_at(db, tamper, 3, t0)
    _sign_at(db, settings, t0 + dt.timedelta(minutes=1))
    _append_at(db, tamper, 3, t0 + HOUR)
    _sign_at(db, settings, t0 + HOUR + dt.timedelta(minutes=1))
    _append_at(db, tamper, 3, t0 + 20 * HOUR)
    _sign_at(db, settings, t0 + 20 * HOUR + dt.timedelta(minutes=1))
    with db.sync_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_tree_head WHERE tree_size = 6"))
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    assert "[head_missing]" in result.output
    assert "seq 3 " in result.output
    assert "first covered by the tree head of size 9" in result.output


def test_verify_reports_an_event_appended_after_the_last_head_and_backdated(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _a_log_with_a_past(db, settings, tamper)
    events = _events(db)
    last = events[-1]
    forged = AuditEvent(
        seq=last.seq + 1,
        occurred_at=last.occurred_at - dt.timedelta(minutes=30),
        actor="user:1 admin (admin)",
        action="credit.violation.revoke",
        object_type="violation",
        object_id="9",
        summary="倒填日期的撤销",
        data={},
        prev_hash=last.hash,
        hash="",
    )
    forged.hash = compute_hash(forged.prev_hash, forged)  # correctly chained
    with db.unit_of_work() as s:
        s.add(forged)
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    assert "[backdated]" in result.output
    assert f"seq {forged.seq} " in result.output
    assert "before the tree head of size 9" in result.output


def test_heads_signed_during_concurrent_commits_never_make_later_events_look_backdated(
    db: Database, settings: Settings
) -> None:
    """The signer reads the log size and times the head under the chain lock: an event sequenced
    after a head cannot carry an earlier time, however commits and signing interleave."""
    signer = platform_signer(settings)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(12):
                with db.unit_of_work() as s:
                    record(s, f"w{k}", "test.concurrent", "thing", f"{k}-{i}", "并发")
                    record(s, f"w{k}", "test.concurrent", "thing", f"{k}-{i}b", "并发")
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    def signing() -> None:
        try:
            while not stop.is_set():
                with db.unit_of_work() as s:
                    sign_tree_head(s, signer)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    signer_thread = threading.Thread(target=signing)
    writers = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    signer_thread.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    signer_thread.join()
    assert not errors
    with db.unit_of_work() as s:
        sign_tree_head(s, signer)
        report = verify_log(s, {signer.key_id: signer.public_key_pem}, grace=dt.timedelta(minutes=30))
    assert report.ok, report.problems
    assert report.events == 72


def test_a_head_waits_for_an_event_already_sequenced_and_never_leaves_it_out(
    db: Database, settings: Settings
) -> None:
    """Transaction A has its event sequenced (it holds the chain lock until COMMIT); a head signed
    meanwhile must wait and include it, so no event sequenced before a head's time is outside it."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite serialises the signer behind any writing transaction from BEGIN IMMEDIATE")
    signer = platform_signer(settings)
    with db.unit_of_work() as s:
        record(s, "system", "test.before", "thing", 0, "之前")
    heads: list[object] = []

    def sign() -> None:
        with db.unit_of_work() as s:
            heads.append(sign_tree_head(s, signer))

    with db.unit_of_work() as a:
        record(a, "system", "test.sequenced", "thing", 1, "已排序未提交")
        sequence_staged(a)  # seq 1 given now: A holds the chain lock until its COMMIT
        t = threading.Thread(target=sign)
        t.start()
        deadline = time.monotonic() + 20
        with db.sync_engine.connect() as watcher:  # until the signer waits on the lock (or is done)
            while t.is_alive() and time.monotonic() < deadline:
                waiting = watcher.execute(
                    sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                ).scalar_one()
                watcher.rollback()
                if waiting:
                    break
    t.join(timeout=20)
    assert heads, "the signer did not finish"
    head = heads[0]
    assert isinstance(head, TreeHead)
    assert head.tree_size == 2
    with db.unit_of_work() as s:
        report = verify_log(s, {signer.key_id: signer.public_key_pem}, grace=dt.timedelta(minutes=30))
    assert report.ok, report.problems


# --- anchoring ---------------------------------------------------------------------------------


def _published_head(client: TestClient, path: Path) -> Path:
    r = client.get("/api/audit/tree-head")
    assert r.status_code == 200
    path.write_text(r.text)
    return path


def _append(db: Database, n: int) -> None:
    with db.unit_of_work() as s:
        for i in range(n):
            record(s, "system", "test.change", "thing", i, f"变更 {i}")


def _head_now(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))


def test_verify_against_a_published_head_file_passes_on_the_log_it_summarises(
    client: TestClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    _append(db, 5)
    _head_now(db, settings)
    head = _published_head(client, tmp_path / "head.json")
    _append(db, 2)
    result = _verify(settings, "--against", str(head))
    assert result.exit_code == 0, result.output
    assert "matches 1 head obtained elsewhere" in result.output


@pytest.fixture
def serve() -> Iterator[Callable[[bytes], str]]:
    """A real HTTP server on loopback answering every GET with the given body."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/api/audit/tree-head"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_verify_against_a_head_fetched_from_a_url_detects_a_rewrite_hidden_by_deleting_heads(
    client: TestClient,
    db: Database,
    settings: Settings,
    tamper: Tamper,
    serve: Callable[[bytes], str],
) -> None:
    _append(db, 6)
    _head_now(db, settings)
    url = serve(client.get("/api/audit/tree-head").content)
    events = _events(db)
    events[2].summary = "改写的历史"
    _rechain(tamper, events[2:], events[1].hash)
    tamper("DELETE FROM core_audit_node", None)  # a careful forger leaves no stale tree nodes
    with db.sync_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_tree_head"))
    assert _verify(settings).exit_code == 0  # recent events, no heads: the local log alone looks fine
    result = _verify(settings, "--against", url)
    assert result.exit_code == 1, result.output
    assert "[anchor_mismatch]" in result.output
    assert "first 6 events do not reproduce" in result.output
    assert "前 6 条事件" in result.output


def test_verify_against_a_head_larger_than_the_log_fails(
    client: TestClient, db: Database, settings: Settings, tamper: Tamper, tmp_path: Path
) -> None:
    _append(db, 5)
    _head_now(db, settings)
    head = _published_head(client, tmp_path / "head.json")
    tamper("DELETE FROM core_audit_event WHERE seq >= 3", None)
    with db.sync_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_tree_head"))
    result = _verify(settings, "--against", str(head))
    assert result.exit_code == 1, result.output
    assert "[anchor_beyond_log]" in result.output
    assert "only 3" in result.output


def test_verify_against_a_head_whose_signature_does_not_verify_fails(
    client: TestClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    _append(db, 4)
    _head_now(db, settings)
    body = client.get("/api/audit/tree-head").json()
    body["signed_payload"] = body["signed_payload"].replace('"tree_size":4', '"tree_size":3')
    head = tmp_path / "forged.json"
    head.write_text(json.dumps(body))
    result = _verify(settings, "--against", str(head))
    assert result.exit_code == 1, result.output
    assert "[anchor_signature]" in result.output


def test_verify_against_a_head_checks_it_with_the_key_given(
    client: TestClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    _append(db, 3)
    _head_now(db, settings)
    head = _published_head(client, tmp_path / "head.json")
    cert = tmp_path / "platform-cert.pem"
    cert.write_text(client.get("/.well-known/tenderhall-signing-cert.pem").text)
    other = platform_signer(settings.model_copy(update={"key_dir": tmp_path / "other-keys"}))
    other_key = tmp_path / "other.pem"
    other_key.write_text(other.public_key_pem)
    ok = _verify(settings, "--against", str(head), "--key", str(cert))
    assert ok.exit_code == 0, ok.output
    wrong = _verify(settings, "--against", str(head), "--key", str(other_key))
    assert wrong.exit_code == 1, wrong.output
    assert "[anchor_signature]" in wrong.output


def test_verify_against_an_unreadable_head_says_so_in_both_languages(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("<html>not a head</html>")
    result = _verify(settings, "--against", str(bad))
    assert result.exit_code != 0
    assert f"{bad} is not a TenderHall tree head" in result.output
    assert f"{bad} 不是 TenderHall 树头" in result.output


def test_verify_names_a_stored_tree_node_that_no_longer_matches_the_events(
    db: Database, settings: Settings
) -> None:
    """Proofs are served from stored nodes: one altered in the database is named (the events and
    heads are intact, so nothing else would show it)."""
    _append(db, 9)
    _head_now(db, settings)
    with db.sync_engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_node_no_update")
        conn.execute(
            sa.text("UPDATE core_audit_node SET hash = :h WHERE level = 2 AND idx = 1"), {"h": "ab" * 32}
        )
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    assert "[node_mismatch]" in result.output
    assert "level 2, index 1" in result.output
