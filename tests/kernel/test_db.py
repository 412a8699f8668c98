import datetime as dt

import pytest
import sqlalchemy as sa

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind
from tenderhall.db import Database, utcnow


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    with db.unit_of_work() as s:
        s.add(Organisation(credit_code="91350100M000100Y43", name="示例公司", kind=OrgKind.bidder))
    with db.unit_of_work() as s:
        org = s.execute(sa.select(Organisation)).scalar_one()
        assert org.created_at.tzinfo is not None
        assert abs((utcnow() - org.created_at).total_seconds()) < 60
        assert org.created_at.utcoffset() == dt.timedelta(0)


def test_foreign_keys_are_enforced(db: Database) -> None:
    from tenderhall.auth.models import Role, User

    try:
        with db.unit_of_work() as s:
            s.add(User(username="x", display_name="x", role=Role.bidder, organisation_id=999))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a user pointing at a missing organisation was stored")


def test_failed_unit_of_work_loses_nothing_already_stored(db: Database) -> None:
    with db.unit_of_work() as s:
        record(s, "system", "test.first", "thing", 1, "first")
    try:
        with db.unit_of_work() as s:
            record(s, "system", "test.second", "thing", 2, "second")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.unit_of_work() as s:
        actions = (
            s.execute(sa.select(sa.text("action")).select_from(sa.text("core_audit_event"))).scalars().all()
        )
    assert actions == ["test.first"]


async def test_read_only_request_session_that_writes_still_commits_its_write(db: Database) -> None:
    """GET requests use read-only sessions; one that writes after all (a recorded download, say)
    must still have its write committed."""
    async with db.request_unit_of_work(readonly=True) as s:
        await s.run_sync(lambda ss: record(ss, "system", "test.read_write", "thing", 1, "written in a GET"))
    with db.unit_of_work() as s:
        actions = list(s.execute(sa.text("SELECT action FROM core_audit_event")).scalars())
    assert "test.read_write" in actions


async def test_read_only_request_session_ends_each_call_in_the_same_hop(db: Database) -> None:
    """Each service call of a GET request is one transaction, ended (and its connection released)
    before the call returns, so that ending the request needs no further thread hop."""
    async with db.request_unit_of_work(readonly=True) as s:
        assert await s.run_sync(lambda ss: ss.execute(sa.text("SELECT 1")).scalar()) == 1
        assert not s.sync_session.in_transaction()
        assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_writing_request_session_keeps_one_transaction_until_the_edge(db: Database) -> None:
    async with db.request_unit_of_work() as s:
        await s.run_sync(lambda ss: record(ss, "system", "test.first_call", "thing", 1, "first"))
        assert s.sync_session.in_transaction()
        await s.run_sync(lambda ss: record(ss, "system", "test.second_call", "thing", 2, "second"))
    with db.unit_of_work() as s2:
        actions = list(s2.execute(sa.text("SELECT action FROM core_audit_event")).scalars())
    assert {"test.first_call", "test.second_call"} <= set(actions)


async def test_request_session_rolls_back_when_the_handler_fails(db: Database) -> None:
    try:
        async with db.request_unit_of_work() as s:
            await s.run_sync(lambda ss: record(ss, "system", "test.rolled_back", "thing", 1, "lost"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.unit_of_work() as s:
        actions = list(s.execute(sa.text("SELECT action FROM core_audit_event")).scalars())
    assert "test.rolled_back" not in actions
    assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_pooled_connections_closed_by_the_server_are_replaced_before_use(db: Database) -> None:
    """After a database restart or failover every pooled connection is dead; the next request
    must get a fresh one instead of an error."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    with db.unit_of_work() as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert db.sync_engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    killer = sa.create_engine(db.sync_engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as c:
        assert c.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    killer.dispose()
    import time

    time.sleep(0.2)  # the server's goodbye reaches the idle socket
    with db.unit_of_work() as s:
        assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


def _pg_transaction_status(conn: sa.Connection) -> str:
    return str(conn.connection.driver_connection.info.transaction_status.name)  # type: ignore[union-attr]


def test_a_single_statement_read_runs_outside_a_transaction_only_in_read_only_sessions(db: Database) -> None:
    from tenderhall.db import single_statement

    if db.dialect != "postgresql":
        pytest.skip("SQLite has no BEGIN/COMMIT round trips to save")
    assert db.single_statement_engine is not None
    with db.readonly_sync_sessions() as s:
        with single_statement(s) as conn:
            conn.execute(sa.text("SELECT 1"))
            assert _pg_transaction_status(conn) == "IDLE"  # autocommit: no transaction left open
        assert not s.in_transaction()  # the session itself never began one
        assert db.single_statement_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.sync_sessions() as s:  # a writing session is never split into separate commits
        with single_statement(s) as conn:
            conn.execute(sa.text("SELECT 1"))
            assert _pg_transaction_status(conn) == "INTRANS"
        assert s.in_transaction()
        s.rollback()
    with db.readonly_sync_sessions() as s:  # a read-only session that has begun keeps its transaction
        s.execute(sa.text("SELECT 1"))
        with single_statement(s) as conn:
            assert conn is s.connection()
            assert _pg_transaction_status(conn) == "INTRANS"
        s.commit()


def _prepared(conn: sa.Connection, fragment: str) -> int:
    """How many statements containing ``fragment`` this connection has prepared on the server."""
    return int(
        conn.execute(
            sa.text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :p"),
            {"p": f"%{fragment}%"},
        ).scalar_one()
    )


def test_statements_planned_per_call_are_never_prepared(db: Database) -> None:
    """A pattern search must be planned for its own pattern every time: psycopg prepares a
    statement after five runs, and PostgreSQL may then use a generic plan made without it."""
    from tenderhall.db import single_statement

    if db.dialect != "postgresql":
        pytest.skip("prepared statements and plan caching are PostgreSQL's")
    stmt = sa.text("SELECT count(*) FROM core_audit_event WHERE action LIKE :pattern")
    with db.readonly_sync_sessions() as s:
        with single_statement(s, plan_per_call=True) as conn:
            for _ in range(7):  # past psycopg's prepare threshold
                conn.execute(stmt, {"pattern": "%login%"})
            assert _prepared(conn, "core_audit_event WHERE action LIKE") == 0
        with single_statement(s) as conn:  # the same pooled connection (last used first), as usual again:
            conn.execute(stmt, {"pattern": "%login%"})  # prepared at its first run (parsed once)
            assert _prepared(conn, "core_audit_event WHERE action LIKE") == 1
    with db.unit_of_work() as s, single_statement(s, plan_per_call=True) as conn:  # in a transaction too
        for _ in range(7):
            conn.execute(stmt, {"pattern": "%login%"})
        assert _prepared(conn, "core_audit_event WHERE action LIKE") == 0


def test_fetch_all_runs_a_statement_as_sqlalchemy_would(db: Database) -> None:
    """The driver fast path keeps SQLAlchemy's types (aware UTC datetimes in and out, whatever the
    server's time zone), refuses a missing parameter, and falls back for list parameters."""
    from sqlmodel import col

    from tenderhall.audit.models import AuditEvent
    from tenderhall.db import UTCDateTime, fetch_all, single_statement

    with db.unit_of_work() as s:
        for i in range(3):
            record(s, "system", f"test.fetch.{i}", "thing", i, "x")
    after = utcnow() - dt.timedelta(hours=1)
    action, occurred = col(AuditEvent.action), col(AuditEvent.occurred_at)
    stmt = (
        sa.select(action, occurred)
        .where(occurred >= sa.bindparam("after", type_=UTCDateTime()), action.like("test.fetch.%"))
        .order_by(action)
    )
    listed = sa.select(action).where(action.in_(sa.bindparam("actions", expanding=True))).order_by(action)
    with db.readonly_sync_sessions() as s, single_statement(s) as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET TimeZone = 'Asia/Shanghai'")
        expected = [tuple(r) for r in conn.execute(stmt, {"after": after}).all()]
        rows = fetch_all(conn, stmt, {"after": after})
        assert rows == expected
        assert [a for a, _ in rows] == ["test.fetch.0", "test.fetch.1", "test.fetch.2"]
        assert all(at.utcoffset() == dt.timedelta(0) for _, at in rows)
        with pytest.raises(sa.exc.SQLAlchemyError, match="required for bind parameter 'after'"):
            fetch_all(conn, stmt, {})
        with pytest.raises((ValueError, sa.exc.StatementError), match="naive"):  # the bind type's check
            fetch_all(conn, stmt, {"after": after.replace(tzinfo=None)})
        assert fetch_all(conn, listed, {"actions": ["test.fetch.0", "test.fetch.2"]}) == [
            ("test.fetch.0",),
            ("test.fetch.2",),
        ]
        if db.dialect == "postgresql":
            conn.exec_driver_sql("RESET TimeZone")
