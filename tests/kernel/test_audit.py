"""The audit log: hash chain under concurrency, append-only enforcement in the database, signed tree
heads, and `tenderhall audit verify` naming the first tampered event (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tenderhall.audit import merkle
from tenderhall.audit.cli import group as audit_cli
from tenderhall.audit.models import AuditEvent, AuditNode, TreeHead
from tenderhall.audit.service import (
    GENESIS_HASH,
    compute_hash,
    consistency_proof,
    inclusion_proof,
    record,
    sign_tree_head,
    signed_bytes,
)
from tenderhall.audit.verification import verify_log
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer, verify_signature

Tamper = Callable[[str, dict[str, object] | None], None]


def _append(db: Database, n: int, start: int = 0) -> None:
    with db.unit_of_work() as s:
        for i in range(start, start + n):
            record(s, "system", "test.change", "thing", i, f"变更 {i}", {"i": i})


def _events(db: Database) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        rows = list(s.execute(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars())
        for r in rows:
            s.expunge(r)
    return rows


@pytest.fixture
def tamper(db: Database) -> Tamper:
    """Run SQL the way an attacker with database access would: past the append-only triggers
    (PostgreSQL: session_replication_role = replica as superuser; SQLite: drop the triggers)."""

    def run(sql: str, params: dict[str, object] | None = None) -> None:
        with db.sync_engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            else:
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_event_no_update")
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS core_audit_event_no_delete")
            conn.execute(sa.text(sql), params or {})

    return run


def _verify_cli(settings: Settings) -> Result:
    env = {
        "TENDERHALL_DATABASE_URL": settings.database_url,
        "TENDERHALL_KEY_DIR": str(settings.key_dir),
    }
    return CliRunner().invoke(audit_cli, ["verify", "--quiet"], env=env)


def test_events_form_one_chain_from_genesis(db: Database) -> None:
    p = Principal(user_id=7, username="wang", role=Role.supervisor)
    with db.unit_of_work() as s:
        first = record(s, p, "credit.violation.create", "violation", 1, "立案", {"points": 12})
        second = record(s, "system", "credit.violation.publish", "violation", 1, "公示")
    assert first.seq == 0
    assert first.prev_hash == GENESIS_HASH
    assert second.seq == 1
    assert second.prev_hash == first.hash
    assert first.actor == "user:7 wang (supervisor)"
    stored = _events(db)
    assert [compute_hash(e.prev_hash, e) for e in stored] == [e.hash for e in stored]


def test_concurrent_appends_keep_a_single_unbroken_chain(db: Database, settings: Settings) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(8):
                with db.unit_of_work() as s:
                    record(s, f"worker-{k}", "test.concurrent", "thing", f"{k}-{i}", "并发写入")
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = _events(db)
    assert [e.seq for e in events] == list(range(32))
    with db.unit_of_work() as s:
        report = verify_log(s, {})
    assert report.ok, report.problems


def test_concurrent_multi_event_transactions_keep_one_contiguous_verified_chain(db: Database) -> None:
    """Several threads commit transactions of three events each (beside an unaudited read) at the
    same time: positions are handed out at commit, so the chain must stay contiguous and verify,
    and each transaction's events must be adjacent and in the order they were recorded."""
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(6):
                with db.unit_of_work() as s:
                    for j in range(3):
                        record(s, f"worker-{k}", "test.batch", "thing", f"{k}-{i}-{j}", "批量写入")
                    s.execute(sa.text("SELECT 1"))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = _events(db)
    assert [e.seq for e in events] == list(range(72))
    for start in range(0, 72, 3):  # a transaction's three events are adjacent, j = 0, 1, 2
        ids = [e.object_id for e in events[start : start + 3]]
        assert [i.rsplit("-", 1)[0] for i in ids] == [ids[0].rsplit("-", 1)[0]] * 3
        assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1", "2"]
    assert all(a.occurred_at <= b.occurred_at for a, b in itertools.pairwise(events))
    with db.unit_of_work() as s:
        report = verify_log(s, {})
    assert report.ok, report.problems


def test_an_open_audited_transaction_does_not_hold_up_another_until_it_commits(db: Database) -> None:
    """Transaction A records an event and stays open; transaction B records and commits without
    waiting for A (on PostgreSQL; SQLite writers hold the database write lock from BEGIN anyway)."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite serialises writing transactions from BEGIN IMMEDIATE by design")
    b_done = threading.Event()
    b_errors: list[BaseException] = []

    def transaction_b() -> None:
        try:
            with db.unit_of_work() as s:
                record(s, "system", "test.b", "thing", "b", "事务 B")
            b_done.set()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            b_errors.append(exc)

    with db.unit_of_work() as a:
        record(a, "system", "test.a", "thing", "a", "事务 A")
        a.execute(sa.text("SELECT 1"))  # A's transaction is open on the server
        b = threading.Thread(target=transaction_b)
        b.start()
        committed_while_a_open = b_done.wait(timeout=20)
    b.join(timeout=20)
    assert not b_errors
    assert committed_while_a_open, "transaction B waited for transaction A to end"
    events = _events(db)
    assert [(e.seq, e.action) for e in events] == [(0, "test.b"), (1, "test.a")]
    assert events[1].prev_hash == events[0].hash


def test_an_event_is_sequenced_and_timed_at_commit(db: Database) -> None:
    """``record`` stages the event; its position, time and hash are given at commit, so the
    chain's order and its times agree."""
    with db.unit_of_work() as s:
        staged = record(s, "system", "test.staged", "thing", 1, "暂存")
        assert staged.id is None
        assert staged.seq is None
        assert s.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == 0
        before_commit = dt.datetime.now(dt.UTC)
    assert staged.seq == 0
    assert staged.id is not None
    assert staged.occurred_at >= before_commit
    assert staged.hash == compute_hash(GENESIS_HASH, staged)
    assert _events(db)[0].occurred_at == staged.occurred_at


class _Boom(Exception):
    pass


def test_a_rolled_back_transaction_leaves_no_event_and_no_gap(db: Database) -> None:
    with contextlib.suppress(_Boom), db.unit_of_work() as s:
        record(s, "system", "test.lost", "thing", 1, "回滚")
        raise _Boom
    with db.unit_of_work() as s:
        record(s, "system", "test.kept", "thing", 2, "保留")
    assert [(e.seq, e.action) for e in _events(db)] == [(0, "test.kept")]


def test_a_session_closed_without_commit_does_not_carry_its_events_into_its_next_transaction(
    db: Database,
) -> None:
    s = db.sync_sessions()
    record(s, "system", "test.abandoned", "thing", 1, "未提交即关闭")
    s.close()
    record(s, "system", "test.next", "thing", 2, "下一个事务")
    s.commit()
    s.close()
    assert [e.action for e in _events(db)] == ["test.next"]


def test_an_event_recorded_in_a_rolled_back_savepoint_is_not_recorded(db: Database) -> None:
    with db.unit_of_work() as s:
        record(s, "system", "test.outer", "thing", 1, "外层")
        with contextlib.suppress(_Boom), s.begin_nested():
            record(s, "system", "test.inner_lost", "thing", 2, "保存点回滚")
            raise _Boom
        with s.begin_nested():
            record(s, "system", "test.inner_kept", "thing", 3, "保存点提交")
    assert [e.action for e in _events(db)] == ["test.outer", "test.inner_kept"]


def test_application_session_cannot_update_an_event(db: Database) -> None:
    _append(db, 2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.unit_of_work() as s:
        s.execute(sa.update(AuditEvent).where(AuditEvent.seq == 0).values(summary="改过"))
    assert _events(db)[0].summary == "变更 0"


def test_application_session_cannot_delete_an_event(db: Database) -> None:
    _append(db, 2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.unit_of_work() as s:
        s.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 1))
    assert len(_events(db)) == 2


def test_application_session_cannot_truncate_the_log_on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("TRUNCATE is a PostgreSQL statement (SQLite has none)")
    _append(db, 1)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.unit_of_work() as s:
        s.execute(sa.text("TRUNCATE core_audit_event"))
    assert len(_events(db)) == 1


def test_verify_passes_on_an_intact_log(db: Database, settings: Settings) -> None:
    _append(db, 5)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    _append(db, 3, start=5)
    result = _verify_cli(settings)
    assert result.exit_code == 0, result.output
    assert "8 events" in result.output
    assert "1 of 1 tree heads" in result.output


def test_verify_names_an_event_edited_in_the_database(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 6)
    target = _events(db)[3]
    tamper("UPDATE core_audit_event SET summary = '篡改' WHERE seq = 3", None)
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[altered]" in result.output
    assert f"seq 3 (id {target.id}," in result.output


def test_verify_names_an_event_deleted_from_the_database(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 6)
    tamper("DELETE FROM core_audit_event WHERE seq = 2", None)
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[removed]" in result.output
    assert "seq 2–2 were removed" in result.output


def test_verify_names_an_event_deleted_and_the_rest_renumbered(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 6)
    events = _events(db)
    tamper("DELETE FROM core_audit_event WHERE seq = 2", None)
    for e in events[3:]:  # close the gap, one row at a time (seq is unique)
        tamper("UPDATE core_audit_event SET seq = seq - 1 WHERE id = :id", {"id": e.id})
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[removed]" in result.output
    assert "removed at seq 2" in result.output


def test_verify_names_an_event_inserted_into_the_database(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 6)
    events = _events(db)
    for e in reversed(events[3:]):  # make room at seq 3, one row at a time (seq is unique)
        tamper("UPDATE core_audit_event SET seq = seq + 1 WHERE id = :id", {"id": e.id})
    forged = AuditEvent(
        seq=3,
        occurred_at=events[3].occurred_at,
        actor="user:1 admin (admin)",
        action="credit.violation.revoke",
        object_type="violation",
        object_id="9",
        summary="伪造的撤销",
        data={},
        prev_hash=events[2].hash,
        hash="",
    )
    forged.hash = compute_hash(forged.prev_hash, forged)  # a careful forger keeps its own hash right
    with db.unit_of_work() as s:  # inserting is not blocked by the triggers: only the chain shows it
        s.add(forged)
        s.flush()
        forged_id = forged.id
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[inserted]" in result.output
    assert f"seq 3 (id {forged_id}," in result.output


def test_verify_detects_a_rewrite_that_recomputed_every_hash_through_the_signed_head(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 6)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    events = _events(db)
    prev = events[1].hash
    for e in events[2:]:  # rewrite seq 2 and re-chain everything after it
        if e.seq == 2:
            e.summary = "改写的历史"
        e.prev_hash = prev
        e.hash = compute_hash(prev, e)
        tamper(
            "UPDATE core_audit_event SET summary = :s, prev_hash = :p, hash = :h WHERE id = :id",
            {"s": e.summary, "p": e.prev_hash, "h": e.hash, "id": e.id},
        )
        prev = e.hash
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[head_mismatch]" in result.output
    assert "first 6 events no longer match" in result.output


def test_verify_detects_events_removed_from_the_end_after_a_signed_head(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 5)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    tamper("DELETE FROM core_audit_event WHERE seq >= 3", None)
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[removed]" in result.output
    assert "from seq 3 on were removed" in result.output


def test_verify_rejects_a_tree_head_with_a_forged_signature(
    db: Database, settings: Settings, tamper: Tamper
) -> None:
    _append(db, 3)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    with db.sync_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE core_tree_head SET signature = :sig"),
            {"sig": base64.b64encode(b"x" * 70).decode()},
        )
    result = _verify_cli(settings)
    assert result.exit_code == 1
    assert "[head_signature]" in result.output


def test_tree_head_is_signed_only_when_the_log_grew(db: Database, settings: Settings) -> None:
    signer = platform_signer(settings)
    now = dt.datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)
    with db.unit_of_work() as s:
        assert sign_tree_head(s, signer, now=now) is None  # empty log: nothing to sign
    _append(db, 4)
    with db.unit_of_work() as s:
        head = sign_tree_head(s, signer, now=now)
        assert head is not None
        assert sign_tree_head(s, signer, now=now) is None  # no growth: no second head
        payload = signed_bytes(head)
    assert head.tree_size == 4
    assert head.key_id == signer.key_id
    assert b'"timestamp":"2026-03-01T08:00:00Z"' in payload
    assert verify_signature(signer.public_key_pem, payload, base64.b64decode(head.signature))
    leaves = [merkle.leaf_hash(e.hash) for e in _events(db)]
    assert head.root_hash == merkle.root(leaves).hex()
    with db.unit_of_work() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(TreeHead)).scalar_one() == 1


def test_sign_tree_head_job_is_declared_and_scheduled_every_setting_interval() -> None:
    import tenderhall.audit.tasks as tasks
    from tenderhall.jobs.outbox import REGISTRY
    from tenderhall.jobs.scheduler_registry import PERIODIC

    assert REGISTRY["audit.sign_tree_head"].fn is tasks.sign_tree_head
    spec = PERIODIC["audit.sign_tree_head"]
    assert spec.period(Settings()) == dt.timedelta(seconds=600)
    faster = Settings(jobs={"tree_head_interval_seconds": 60})  # type: ignore[arg-type]
    assert spec.period(faster) == dt.timedelta(seconds=60)


def test_sign_tree_head_job_signs_with_the_configured_key(db: Database, settings: Settings) -> None:
    import tenderhall.audit.tasks as tasks
    from tenderhall.jobs.execution import execute
    from tenderhall.jobs.outbox import enqueue

    _append(db, 2)
    for _ in range(2):  # idempotent: the second run signs nothing new
        with db.unit_of_work() as s:
            job_id = enqueue(s, tasks.SIGN_TREE_HEAD).id
        assert execute(db, settings, job_id) == "done"
    with db.unit_of_work() as s:
        heads = list(s.execute(sa.select(TreeHead)).scalars())
    assert [h.tree_size for h in heads] == [2]
    assert heads[0].key_id == platform_signer(settings).key_id


def test_inclusion_and_consistency_proofs_from_the_database_verify(db: Database, settings: Settings) -> None:
    signer = platform_signer(settings)
    _append(db, 5)
    with db.unit_of_work() as s:
        first = sign_tree_head(s, signer)
    _append(db, 6, start=5)
    with db.unit_of_work() as s:
        second = sign_tree_head(s, signer)
        assert first is not None
        assert second is not None
        for seq in range(11):
            p = inclusion_proof(s, seq)
            assert p.tree_size == 11
            assert p.head is not None
            assert merkle.verify_inclusion(
                bytes.fromhex(p.leaf_hash),
                seq,
                11,
                [bytes.fromhex(x) for x in p.path],
                bytes.fromhex(second.root_hash),
            )
        c = consistency_proof(s, 5, 11)
    assert c.first_root == first.root_hash
    assert c.second_root == second.root_hash
    assert merkle.verify_consistency(
        5,
        11,
        bytes.fromhex(first.root_hash),
        bytes.fromhex(second.root_hash),
        [bytes.fromhex(x) for x in c.path],
    )


def test_platform_key_files_are_private(settings: Settings) -> None:
    signer = platform_signer(settings)
    key_file = Path(settings.key_dir) / "platform-signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert signer.verify(b"x", signer.sign(b"x"))


def test_audit_head_command_signs_once_per_growth(db: Database, settings: Settings) -> None:
    env = {"TENDERHALL_DATABASE_URL": settings.database_url, "TENDERHALL_KEY_DIR": str(settings.key_dir)}
    empty = CliRunner().invoke(audit_cli, ["head"], env=env)
    assert empty.exit_code == 0
    assert "empty" in empty.output
    _append(db, 3)
    first = CliRunner().invoke(audit_cli, ["head"], env=env)
    again = CliRunner().invoke(audit_cli, ["head"], env=env)
    assert "tree head signed: size 3" in first.output
    assert "unchanged" in again.output
    with db.unit_of_work() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(TreeHead)).scalar_one() == 1


def _reference_nodes(db: Database, size: int) -> dict[tuple[int, int], str]:
    """Every complete subtree (level ≥ 1) of the first ``size`` events, from the leaves."""
    leaves = [merkle.leaf_hash(e.hash) for e in _events(db)[:size]]
    out = {}
    level = 1
    while 1 << level <= size:
        for idx in range(size >> level):
            out[(level, idx)] = merkle.root(leaves[idx << level : (idx + 1) << level]).hex()
        level += 1
    return out


def _stored_nodes(db: Database) -> dict[tuple[int, int], str]:
    with db.unit_of_work() as s:
        return {(n.level, n.idx): n.hash for n in s.execute(sa.select(AuditNode)).scalars()}


def test_signing_a_head_stores_every_complete_subtree_built_on_from_the_last_leaf(
    db: Database, settings: Settings
) -> None:
    signer = platform_signer(settings)
    _append(db, 5)
    with db.unit_of_work() as s:
        sign_tree_head(s, signer)
    first = _stored_nodes(db)
    assert first == _reference_nodes(db, 5)
    _append(db, 14, start=5)
    with db.unit_of_work() as s:
        sign_tree_head(s, signer)
    second = _stored_nodes(db)
    assert second == _reference_nodes(db, 19)
    assert {k: second[k] for k in first} == first


def test_stored_tree_nodes_cannot_be_updated_or_deleted(db: Database, settings: Settings) -> None:
    _append(db, 4)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.unit_of_work() as s:
        s.execute(sa.update(AuditNode).values(hash="0" * 64))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.unit_of_work() as s:
        s.execute(sa.delete(AuditNode))
    assert _stored_nodes(db) == _reference_nodes(db, 4)


def test_proofs_over_built_nodes_and_an_unbuilt_tail_verify_and_read_no_leaf_prefix(
    db: Database, settings: Settings
) -> None:
    """Proofs come from stored nodes (plus the leaves after the last build): a few statements,
    none of which reads the events from seq 0 up; and they match the all-leaves definitions."""
    _append(db, 37)
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))
    _append(db, 6, start=37)  # a tail of 6 events no build has covered
    leaves = [merkle.leaf_hash(e.hash) for e in _events(db)]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(db.sync_engine, "before_cursor_execute", seen)
    try:
        with db.unit_of_work() as s:
            for n in (1, 2, 36, 37, 38, 43):
                for seq in {0, n // 2, n - 1}:
                    statements.clear()
                    p = inclusion_proof(s, seq, n)
                    assert [bytes.fromhex(x) for x in p.path] == merkle.inclusion_proof(leaves[:n], seq)
                    assert p.root_hash == merkle.root(leaves[:n]).hex()
                    assert len(statements) <= 6, statements
                for m in {1, n // 3 or 1, n - 1 or 1, n}:
                    statements.clear()
                    c = consistency_proof(s, m, n)
                    assert [bytes.fromhex(x) for x in c.path] == merkle.consistency_proof(leaves[:n], m)
                    assert (c.first_root, c.second_root) == (
                        merkle.root(leaves[:m]).hex(),
                        merkle.root(leaves[:n]).hex(),
                    )
                    assert len(statements) <= 6, statements
                    assert not any("core_audit_event.seq < " in x and ">=" not in x for x in statements)
    finally:
        sa.event.remove(db.sync_engine, "before_cursor_execute", seen)
