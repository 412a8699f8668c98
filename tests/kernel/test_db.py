import datetime as dt
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind
from tenderhall.db import Database, utcnow
from tests.waiting import wait_until


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


def _actions(db: Database) -> list[str]:
    with db.transaction(writes=False) as s:
        return list(s.execute(sa.text("SELECT action FROM core_audit_event")).scalars())


async def test_a_request_call_commits_in_its_own_thread_and_releases_its_connection(db: Database) -> None:
    """Each call of a request is one transaction that begins, works and commits in one request
    thread: when the call returns nothing is left open, so no lock the request took can wait on
    the event loop for a free thread."""
    session = db.request_session(writes=True)
    threads: list[str] = []

    def write(s: Session) -> None:
        threads.append(threading.current_thread().name)
        record(s, "system", "test.committed_in_thread", "thing", 1, "written")

    await session.run_sync(write)
    assert threads and threads[0].startswith("request-db")
    assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert "test.committed_in_thread" in _actions(db)


async def test_a_request_call_that_fails_rolls_back_and_releases_its_connection(db: Database) -> None:
    session = db.request_session(writes=True)

    def fail(s: Session) -> None:
        record(s, "system", "test.rolled_back", "thing", 1, "lost")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await session.run_sync(fail)
    assert "test.rolled_back" not in _actions(db)
    assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_read_only_request_cannot_write_on_postgresql(db: Database) -> None:
    """GET requests read in READ ONLY transactions: a GET that writes without saying so in its
    route (``opt={"writes": True}``) fails loudly in the tests instead of racing the writers."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no read-only transactions")
    session = db.request_session(writes=False)
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        await session.run_sync(lambda s: record(s, "system", "test.get_write", "thing", 1, "x"))
    assert "test.get_write" not in _actions(db)


def test_sqlite_writers_of_one_process_take_turns_instead_of_failing(db: Database) -> None:
    """Sixteen threads each hold a write transaction for a while: with SQLite's busy handler
    alone some would wait out the busy timeout and fail ("database is locked"); taking turns,
    every one commits."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL has row locks")
    db.sync_engine.dispose()

    @sa.event.listens_for(db.sync_engine, "connect")
    def short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:  # shorter than the whole burst
        dbapi_conn.execute("PRAGMA busy_timeout=100")

    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with db.transaction() as s:
                record(s, "system", f"test.turn.{i}", "thing", i, "x")
                time.sleep(0.02)  # a write transaction that takes a while (holds the write lock)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert errors == []
    assert len([a for a in _actions(db) if a.startswith("test.turn.")]) == 16


def test_pooled_connections_closed_by_the_server_are_replaced_before_use(db: Database) -> None:
    """After a database restart or failover every pooled connection is dead; the next request
    must get a fresh one instead of an error."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    with db.unit_of_work() as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert db.sync_engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    # autocommit: each look at pg_stat_activity is a fresh snapshot
    killer = sa.create_engine(db.sync_engine.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with killer.connect() as c:
        assert c.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one() is True

        def backend_gone() -> bool:  # the server has closed the pooled connection's backend
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            return c.execute(alive, {"pid": pid}).scalar_one() == 0

        wait_until(backend_gone, timeout=10, message=f"backend {pid} still runs after pg_terminate_backend")
    killer.dispose()
    with db.unit_of_work() as s:
        assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_postgresql_plans_every_statement_for_its_parameters(db: Database) -> None:
    """A pattern search must be planned for its own pattern every time: psycopg prepares a
    statement after five runs, and PostgreSQL could then switch to a generic plan made without the
    pattern (a rare-name credit search went from 3 ms to 120 ms that way)."""
    if db.dialect != "postgresql":
        pytest.skip("prepared statements and plan caching are PostgreSQL's")
    with db.transaction(writes=False) as s:
        assert s.execute(sa.text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
