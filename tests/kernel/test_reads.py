"""Read procedures (``tenderhall.db.read`` / ``read_in``): one procedure, the same answer run with
a session or for a request; on PostgreSQL the request path runs on the event loop's own pool."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.audit.service import record
from tenderhall.db import Database, Procedure, Read, UTCDateTime, read, read_in, utcnow
from tenderhall.errors import InvalidInput

action, occurred = col(AuditEvent.action), col(AuditEvent.occurred_at)
SINCE = (
    sa.select(action, occurred)
    .where(occurred >= sa.bindparam("after", type_=UTCDateTime()), action.like(sa.bindparam("pattern")))
    .order_by(action)
)
COUNT = sa.select(sa.func.count()).select_from(AuditEvent).where(action == sa.bindparam("action"))


def _events(db: Database, n: int = 3) -> None:
    with db.unit_of_work() as s:
        for i in range(n):
            record(s, "system", f"test.read.{i}", "thing", i, "x")


def _listing(pattern: str) -> Procedure[dict[str, Any]]:
    """Two statements, the second chosen from the first's rows; an early answer for no pattern."""
    if not pattern:
        return {"actions": [], "last_count": None}
    if pattern == "bad":
        raise InvalidInput("模式无效", "bad pattern")
    after = utcnow() - dt.timedelta(hours=1)
    rows = yield Read(SINCE, {"after": after, "pattern": pattern})
    last = rows[-1][0] if rows else "none"
    (count,), *_ = yield Read(COUNT, {"action": last})
    return {"actions": [(a, at) for a, at in rows], "last_count": count}


async def test_a_procedure_answers_alike_with_a_session_and_for_a_request(db: Database) -> None:
    _events(db)
    try:
        with db.readonly_sync_sessions() as s:
            expected = read_in(s, _listing("test.read.%"))
        got = await read(db, _listing("test.read.%"))
        assert got == expected
        assert [a for a, _ in got["actions"]] == ["test.read.0", "test.read.1", "test.read.2"]
        assert all(at.utcoffset() == dt.timedelta(0) for _, at in got["actions"])  # result types applied
        assert got["last_count"] == 1
        assert await read(db, _listing("")) == {"actions": [], "last_count": None}
        with pytest.raises(InvalidInput):  # the procedure's own refusal reaches the handler as it is
            await read(db, _listing("bad"))
        with pytest.raises(sa.exc.SQLAlchemyError, match="required for bind parameter 'after'"):
            await read(db, _one(Read(SINCE, {"pattern": "x"})))
        assert (await read(db, _listing("test.read.1")))["actions"][0][0] == "test.read.1"  # still usable
    finally:
        await db.adispose()


def _one(step: Read) -> Procedure[list[tuple[Any, ...]]]:
    return (yield step)


def _steps(*steps: Read) -> Procedure[list[list[tuple[Any, ...]]]]:
    out = []
    for step in steps:
        out.append((yield step))
    return out


def _pg(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the request path runs on the event loop on PostgreSQL only (SQLite: a thread)")


PREPARED = sa.select(sa.func.count()).select_from(sa.table("pg_prepared_statements", sa.column("statement")))
PREPARED = PREPARED.where(sa.column("statement").like("%core_audit_event.action LIKE $1%"))


async def test_request_reads_planned_per_call_are_never_prepared(db: Database) -> None:
    """On the event loop as with a session: a pattern search is planned for its pattern each time;
    other statements are prepared at their first run (parsed once per connection)."""
    _pg(db)
    pattern = sa.select(sa.func.count()).select_from(AuditEvent).where(action.like(sa.bindparam("p")))
    try:
        per_call = [Read(pattern, {"p": "%login%"}, plan_per_call=True)] * 7  # past psycopg's threshold
        rows = await read(
            db, _steps(*per_call, Read(PREPARED, {}), Read(pattern, {"p": "%x%"}), Read(PREPARED, {}))
        )
        assert rows[7] == [(0,)]  # (one procedure: one connection)
        assert rows[9] == [(1,)]
    finally:
        await db.adispose()


async def test_request_reads_refuse_expanding_list_parameters(db: Database) -> None:
    _pg(db)
    listed = sa.select(action).where(action.in_(sa.bindparam("actions", expanding=True)))
    try:
        with pytest.raises(TypeError, match="one array parameter"):
            await read(db, _one(Read(listed, {"actions": ["a", "b"]})))
    finally:
        await db.adispose()


PID = sa.select(sa.func.pg_backend_pid())


async def test_request_read_connections_closed_by_the_server_are_replaced(db: Database) -> None:
    """After a restart or failover the pool's idle connections are dead: the next search must get
    a fresh connection, not an error."""
    _pg(db)
    try:
        pids = {(await read(db, _one(Read(PID, {}))))[0][0] for _ in range(4)}
        killer = sa.create_engine(db.sync_engine.url, poolclass=sa.pool.NullPool)
        with killer.connect() as c:  # every other connection to this test's database
            killed = c.execute(
                sa.text(
                    "SELECT pid FROM (SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() OFFSET 0) AS others WHERE pg_terminate_backend(pid)"
                )
            ).scalars()
            assert pids <= set(killed)
        killer.dispose()
        await asyncio.sleep(0.2)  # the server's goodbye reaches the idle sockets
        for _ in range(4):
            ((pid,),) = await read(db, _one(Read(PID, {})))
            assert pid not in pids
    finally:
        await db.adispose()


def test_each_event_loop_gets_a_read_pool_of_its_own(db: Database) -> None:
    """A pool's connections wait on the loop that opened them; a second loop (another test client,
    say) must not be handed them."""
    _pg(db)

    async def pool_and_pid() -> tuple[Any, int]:
        pool = await db.read_pool()
        ((pid,),) = await read(db, _one(Read(PID, {})))
        return pool, pid

    first_pool, _ = asyncio.run(pool_and_pid())

    async def second() -> tuple[Any, int]:
        try:
            return await pool_and_pid()
        finally:
            await db.adispose()

    second_pool, _ = asyncio.run(second())
    assert second_pool is not first_pool
    assert second_pool.closed  # adispose closed the pool of its own loop


async def test_on_sqlite_a_request_read_runs_in_a_request_thread(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's path")
    _events(db, 1)
    seen: list[str] = []

    def where() -> Procedure[str]:
        import threading

        seen.append(threading.current_thread().name)
        yield Read(COUNT, {"action": "test.read.0"})
        return "done"

    assert await read(db, where()) == "done"
    assert seen and seen[0].startswith("request-db")
    assert db.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    await db.adispose()


async def test_a_request_cancelled_mid_statement_leaves_the_pool_usable(db: Database) -> None:
    """A client that goes away cancels its search: the connection it held, mid-statement, must not
    be handed to the next request as it is."""
    _pg(db)
    slow = sa.select(sa.func.pg_sleep(sa.bindparam("s", type_=sa.Float())))
    try:
        await read(db, _one(Read(PID, {})))  # the pool is open and warm
        task = asyncio.create_task(read(db, _one(Read(slow, {"s": 5.0}))))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = asyncio.get_running_loop().time()
        for _ in range(4):  # every connection the pool hands out now answers at once
            assert await read(db, _one(Read(COUNT, {"action": "none"}))) == [(0,)]
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await db.adispose()


async def test_a_request_cancelled_while_the_pool_opens_does_not_break_the_pool(db: Database) -> None:
    """The first requests of a process wait for the pool to open; one of them going away must
    not leave every later request with a cancelled opening."""
    _pg(db)
    try:
        first = asyncio.create_task(read(db, _one(Read(PID, {}))))
        await asyncio.sleep(0)  # it is now waiting for the opening
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        ((pid,),) = await read(db, _one(Read(PID, {})))
        assert pid > 0
    finally:
        await db.adispose()
