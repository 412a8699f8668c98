"""Database kernel: one URL gives the engines for requests, workers and the CLI.

Service code is written once, synchronously, against a plain ``Session``. Request handlers receive a
:class:`ThreadedSession` (``RequestSession``) and call services with ``await run(session, fn, …)``,
one worker-thread hop per call; workers and the CLI call them directly in :meth:`Database.unit_of_work`.
(Requests first used the async drivers, aiosqlite and asyncpg, through ``AsyncSession.run_sync``; that
cost one event-loop round trip per statement, about three times the whole request on SQLite. The async
engine remains for the non-blocking health check.) One writing request or one job is one
transaction, committed at the edge (``tenderhall.app.provide_session``, :meth:`Database.unit_of_work`);
a read-only (GET) request's service calls are one transaction each (:class:`ThreadedSession`).
Application code never commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import select
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import Field, SQLModel

# The naming convention must be set before any table model is imported.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata

UTC = dt.UTC
P = ParamSpec("P")
T = TypeVar("T")


def utcnow() -> dt.datetime:
    """The server clock, the time of record (aware, UTC)."""
    return dt.datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on SQLite (which returns naive values) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A ``*_at`` column: aware UTC datetime."""
    kwargs: dict[str, Any] = {}
    if default_now:
        kwargs["default_factory"] = utcnow
    elif nullable:
        kwargs["default"] = None
    return Field(sa_type=UTCDateTime(), nullable=nullable, index=index, **kwargs)


def json_field(*, default_factory: Callable[[], Any] = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON(), nullable=False)


# --- engines -------------------------------------------------------------------------------------


def _sync_url(url: str) -> URL:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+pysqlite")
    return u.set(drivername="postgresql+psycopg")


def _async_url(url: str) -> URL:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+aiosqlite")
    return u.set(drivername="postgresql+asyncpg")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite starts transactions lazily and never for SELECT; writers take the write lock at
    # BEGIN so that read-then-write transactions serialise instead of failing with "database is
    # locked". Read-only sessions (GET requests) begin DEFERRED and read concurrently under WAL.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _discard_if_closed_by_server(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection that the server has closed (restart, failover, an idle
    timeout, ``pg_terminate_backend``) is replaced before it is used (see :func:`closed_by_server`)."""
    reason = closed_by_server(dbapi_conn)
    if reason is not None:
        raise sa.exc.DisconnectionError(reason)


def closed_by_server(conn: Any) -> str | None:
    """Why an idle psycopg connection (sync or async) is no longer usable, or None if it is.

    An idle connection's socket has nothing to read unless the server has sent its goodbye or
    closed it, so the check is a local ``select`` instead of the ``SELECT 1`` round trip of
    ``pool_pre_ping`` (which cost a third of a small request's database time). A connection lost
    without a word from the server (a cut cable) is still found only when used, as with any pool."""
    if conn.closed or conn.broken:
        return "connection closed"
    try:
        ready, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except Exception as exc:  # noqa: BLE001 - a socket we cannot even poll is no connection to use
        return f"connection unusable: {exc}"
    if ready:
        return "the server closed the connection or sent a notice while idle"
    return None


def _prepare_sqlite_file(url: URL) -> None:
    db = url.database
    if db and db != ":memory:" and not db.startswith("file:"):
        from pathlib import Path

        Path(db).parent.mkdir(parents=True, exist_ok=True)


def make_sync_engine(url: str, **kw: Any) -> Engine:
    u = _sync_url(url)
    if u.get_backend_name() == "sqlite":
        _prepare_sqlite_file(u)
        engine = sa.create_engine(u, connect_args={"check_same_thread": False, "isolation_level": None}, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(u, **kw)
    event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


def make_async_engine(url: str, **kw: Any) -> AsyncEngine:
    u = _async_url(url)
    if u.get_backend_name() == "sqlite":
        _prepare_sqlite_file(u)
        engine = create_async_engine(u, connect_args={"isolation_level": None}, **kw)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_async_engine(u, **kw)


class Database:
    """Both engines and session factories for one database URL."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int | None = None, request_threads: int = 4
    ) -> None:
        self.url = url
        self.request_threads = request_threads
        self.pool_size = pool_size
        self._request_executor: ThreadPoolExecutor | None = None
        self._read_pool: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        pool: dict[str, Any] = (
            {} if pool_size is None else {"pool_size": pool_size, "max_overflow": pool_size}
        )
        self.sync_engine = make_sync_engine(url, echo=echo, **pool)
        self.async_engine = make_async_engine(url, echo=echo)
        self.sync_sessions = sessionmaker(self.sync_engine, expire_on_commit=False)
        read_only: dict[str, Any] = {"read_only": True}
        self.single_statement_engine: Engine | None = None
        if self.sync_engine.dialect.name == "postgresql":
            # connections that stay in autocommit mode, for the one-statement reads of GET
            # requests (see :func:`single_statement`); last used first, so that few stay warm.
            # They prepare a statement at its first run instead of its sixth: the public searches'
            # statements are long (parsing and analysing them cost about as much as running them),
            # and with a hundred query shapes on each pooled connection most runs came before the
            # sixth. PostgreSQL still plans each run for its values until a generic plan proves no
            # worse (plan_cache_mode auto); a pattern search is never prepared (``plan_per_call``).
            self.single_statement_engine = make_sync_engine(
                url,
                echo=echo,
                isolation_level="AUTOCOMMIT",
                pool_use_lifo=True,
                connect_args={"prepare_threshold": 0},
                **pool,
            )
            read_only["single_statement_engine"] = self.single_statement_engine
        self.readonly_sync_sessions = sessionmaker(
            self.sync_engine.execution_options(sqlite_begin="DEFERRED"),
            expire_on_commit=False,
            info=read_only,
        )
        self.after_commit_hooks: list[Callable[[], None]] = []

    @property
    def dialect(self) -> str:
        return self.sync_engine.dialect.name

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One job or one CLI command: one transaction, committed here or rolled back on error."""
        with self.sync_sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        self._after_commit()

    def request_session(self, *, readonly: bool = False) -> ThreadedSession:
        """A request's session (read-only: each service call its own transaction); the caller ends
        it with ``await session.end(ok=…)``, as :meth:`request_unit_of_work` does."""
        factory = self.readonly_sync_sessions if readonly else self.sync_sessions
        return ThreadedSession(
            factory(), per_call=readonly, executor=self.request_executor, on_commit=self._after_commit
        )

    @contextlib.asynccontextmanager
    async def request_unit_of_work(self, *, readonly: bool = False) -> AsyncIterator[ThreadedSession]:
        """One request: a sync session used from worker threads, committed here at the edge."""
        session = self.request_session(readonly=readonly)
        try:
            yield session
        except BaseException:
            await session.end(ok=False)
            raise
        await session.end(ok=True)

    @property
    def request_executor(self) -> ThreadPoolExecutor:
        """The worker threads that run requests' database work (``request_threads`` of them: more
        than the database can use only contend for the GIL)."""
        if self._request_executor is None:
            self._request_executor = ThreadPoolExecutor(self.request_threads, thread_name_prefix="request-db")
        return self._request_executor

    async def read_pool(self) -> Any:
        """On PostgreSQL, the running event loop's pool of async psycopg connections for
        :func:`read` (autocommit, statements prepared at their first run, as the single-statement
        engine's), opened at its first use; None on other databases. A pool belongs to one loop:
        another loop (a test's, say) gets a pool of its own."""
        if self.dialect != "postgresql":
            return None
        loop = asyncio.get_running_loop()
        entry = self._read_pool
        if entry is not None and entry[0] is loop:
            opening = entry[1]
            if not opening.done():
                # shielded: a request cancelled while it waits must not cancel the opening for all
                return await asyncio.shield(opening)
            if not opening.cancelled() and opening.exception() is None:
                return opening.result()
        # none yet on this loop, or the last attempt failed (the server was down): open one
        opening = loop.create_task(self._open_read_pool())
        self._read_pool = (loop, opening)
        return await asyncio.shield(opening)

    async def _open_read_pool(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        async def check(conn: Any) -> None:
            reason = closed_by_server(conn)
            if reason is not None:
                await conn.close()  # closed, the pool replaces it (it would take back an open one)
                raise ConnectionError(reason)

        pool = AsyncConnectionPool(
            _sync_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False),
            kwargs={"autocommit": True, "prepare_threshold": 0},
            min_size=1,
            max_size=self.pool_size or 16,
            check=check,
            name="tenderhall-reads",
            open=False,
        )
        await pool.open(wait=True, timeout=10)
        return pool

    async def _close_read_pool(self) -> None:
        entry, self._read_pool = self._read_pool, None
        if entry is None:
            return
        loop, opening = entry
        if loop is not asyncio.get_running_loop():
            return  # its loop has ended (a test's): nothing can run there any more
        with contextlib.suppress(Exception):
            await (await opening).close()

    def _after_commit(self) -> None:
        for hook in self.after_commit_hooks:
            with contextlib.suppress(Exception):
                hook()

    def check(self) -> None:
        with self.sync_engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    async def acheck(self) -> None:
        async with self.async_engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.sync_engine.dispose()
        if self.single_statement_engine is not None:
            self.single_statement_engine.dispose()

    async def adispose(self) -> None:
        await self._close_read_pool()
        await self.async_engine.dispose()
        if self._request_executor is not None:
            self._request_executor.shutdown(wait=True)
            self._request_executor = None
        self.dispose()


class ThreadedSession:
    """A request's session: a plain sync ``Session`` driven from worker threads.

    It offers the one method request handlers use, ``await run_sync(fn)`` (as ``AsyncSession``
    does), but runs ``fn`` with the sync driver in one thread hop, instead of one event-loop round
    trip per statement through an async driver: the service code is synchronous anyway, and on
    SQLite (aiosqlite) the per-statement hops cost more than the queries. Calls are sequential,
    never concurrent, so the session is never used by two threads at once.

    A read-only (GET) request's session ends its transaction at the end of each call, in the same
    hop (committing whatever the call wrote after all, a recorded download say): each service call
    sees one consistent snapshot, and the request needs no further hop to end it. A writing
    request's calls share one transaction, committed at the edge by :meth:`end`.
    """

    def __init__(
        self,
        session: Session,
        *,
        per_call: bool = False,
        executor: ThreadPoolExecutor | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.sync_session = session
        self.per_call = per_call
        self.executor = executor
        self.on_commit = on_commit

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.per_call:
            return await in_thread(self.executor, lambda: self._call_in_own_transaction(fn, args, kwargs))
        return await in_thread(self.executor, lambda: fn(self.sync_session, *args, **kwargs))

    def _call_in_own_transaction(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        session = self.sync_session
        try:
            result = fn(session, *args, **kwargs)
        except BaseException:
            session.rollback()
            raise
        session.commit()
        return result

    async def end(self, *, ok: bool) -> None:
        """End the request: commit (``ok``) or roll back what is left and release the connection,
        in one thread hop (none for a session with no transaction open: a read-only request's, or
        one that never touched the database); after a commit run the database's after-commit
        hooks (they wake the job relay)."""
        session = self.sync_session
        if not session.in_transaction() and not (session.new or session.dirty or session.deleted):
            session.close()
        else:
            await in_thread(self.executor, lambda: self._end(ok))
        if ok and self.on_commit is not None:
            self.on_commit()

    def _end(self, commit: bool) -> None:
        session = self.sync_session
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()


async def in_thread(executor: ThreadPoolExecutor | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` in one of ``executor``'s threads (the loop's default executor if None) with the
    caller's context variables (the request's language, its log context), and return its result.

    A cancelled caller still waits for ``fn`` to finish before the cancellation goes on: ``fn``
    holds the request's session, which the caller closes as it unwinds, and must not be closed
    under a running statement. (Used instead of ``anyio.to_thread.run_sync``, whose task group and
    cancel scope per call cost a tenth of a search request's CPU time.)"""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor, contextvars.copy_context().run, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the caller was cancelled, its outcome no longer matters
        raise


#: What request handlers receive as ``session`` (annotate parameters with it).
RequestSession = ThreadedSession


async def run(
    session: AsyncSession | ThreadedSession, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """Call a synchronous service function with the request's session (same transaction)."""
    return await session.run_sync(lambda s: fn(s, *args, **kwargs))


def lock_for_update(stmt: sa.Select[Any], session: Session) -> sa.Select[Any]:
    """Row lock where the database has one (PostgreSQL); SQLite serialises writers already."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def contains_pattern(text: str) -> str:
    """A LIKE pattern for "contains ``text``", its wildcards taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@contextlib.contextmanager
def single_statement(session: Session, *, plan_per_call: bool = False) -> Iterator[sa.Connection]:
    """The connection for a read that is one statement (a search, say), as the session's first use.

    In a read-only (GET) session on PostgreSQL it is a connection of its own that stays in
    autocommit mode: one statement sees one snapshot by itself, BEGIN and COMMIT would be two more
    round trips (measured: 11 % more searches served), and the session's transaction machinery and
    a switch of the pooled connection's mode cost a fifth of the thread's work. Anywhere else it is
    the session's usual connection, so that a writing transaction is never split.

    ``plan_per_call``: on PostgreSQL, statements run in the block are planned for their actual
    parameters each time, never prepared. A prepared statement may be switched by PostgreSQL to a
    generic plan made without the parameters' values; for a pattern search (``LIKE '%name%'``)
    the best plan depends on the pattern (a rare name wants the trigram index, a common one the
    newest-first scan), and a generic plan is right for one and ruinous for the other (measured:
    a credit search went from 3 ms to 120 ms after warming up). Statements whose plan does not
    depend on the values keep their prepared plans, which save half a millisecond of planning
    each."""
    engine = session.info.get("single_statement_engine")
    if engine is not None and not session.in_transaction():
        with engine.connect() as conn, _planned_per_call(conn, plan_per_call):
            yield conn
        return
    conn = session.connection()
    with _planned_per_call(conn, plan_per_call):
        yield conn


def fetch_all(conn: sa.Connection, stmt: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """All rows of ``stmt`` (a statement built once and cached, run with ``params``).

    A statement without expanding list parameters is compiled once and then run straight on the
    driver (psycopg, sqlite3), with its bind and result types applied as SQLAlchemy would: for a
    public search's page that saved 0.18 ms of the web process's 1 ms per request on PostgreSQL,
    the work SQLAlchemy does per execution to build its context and result objects. (Such
    statements bypass engine events and ``echo`` logging.) Statements with expanding parameters
    (``IN (…)`` of a list) and other databases take ``conn.execute(stmt, params).all()``."""
    if conn.dialect.name not in ("postgresql", "sqlite"):
        return [tuple(r) for r in conn.execute(stmt, params).all()]
    plan = _driver_plan(stmt, conn.dialect)
    if plan is None:
        return [tuple(r) for r in conn.execute(stmt, params).all()]
    driver: Any = conn.connection.driver_connection
    return _processed_rows(plan, driver.execute(plan[0], _driver_arguments(plan, params)).fetchall())


def _driver_arguments(plan: Any, params: dict[str, Any]) -> Any:
    """``params`` for the driver as ``plan`` (:func:`_driver_plan`) wants them: defaults added,
    bind types applied, in order for a positional driver; a missing one is refused."""
    _sql, positions, defaults, required, bind_types, _result_types = plan
    missing = required - params.keys()
    if missing:
        raise sa.exc.InvalidRequestError(f"A value is required for bind parameter {min(missing)!r}")
    values = {**defaults, **params}
    for name, process in bind_types:
        if name in values:
            values[name] = process(values[name])
    return values if positions is None else [values[name] for name in positions]


def _processed_rows(plan: Any, rows: list[Any]) -> list[tuple[Any, ...]]:
    """The driver's ``rows`` with the statement's result types applied (:func:`_driver_plan`)."""
    result_types = plan[5]
    if not result_types:
        return rows
    out = []
    for row in rows:
        r = list(row)
        for i, process in result_types:
            r[i] = process(r[i])
        out.append(tuple(r))
    return out


@functools.lru_cache(maxsize=512)
def _driver_plan(stmt: Any, dialect: sa.Dialect) -> Any:
    """``(sql, positional names, default values, required names, bind processors, result
    processors)`` of ``stmt`` compiled for the dialect's driver, or None when it cannot be run
    without SQLAlchemy (expanding list parameters)."""
    compiled: Any = stmt.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
        return None
    binds = compiled.binds
    bind_types = tuple(
        (name, process)
        for name, bind in binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    result_types = tuple(
        (i, process)
        for i, column in enumerate(stmt.selected_columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    )
    defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
    required = frozenset(name for name, bind in binds.items() if bind.required)
    positions = tuple(compiled.positiontup) if compiled.positional else None
    return compiled.string, positions, defaults, required, bind_types, result_types


@contextlib.contextmanager
def _planned_per_call(conn: sa.Connection, on: bool) -> Iterator[None]:
    if not on or conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection  # psycopg's Connection
    assert driver is not None
    saved = driver.prepare_threshold
    driver.prepare_threshold = None  # never prepare: every execution is parsed and planned anew
    try:
        yield
    finally:
        driver.prepare_threshold = saved


# --- read procedures -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Read:
    """One statement of a read procedure: a statement built once and cached (no expanding list
    parameters: pass a list as one array), its parameters, and whether PostgreSQL must plan it
    for its actual parameters each time (see :func:`single_statement`)."""

    stmt: Any
    params: dict[str, Any]
    plan_per_call: bool = False


Rows = list[tuple[Any, ...]]
Procedure = Generator[Read, Rows, T]
"""A read procedure: a generator that yields each :class:`Read` it needs, receives its rows,
and returns its result. It does no I/O itself, so the same procedure runs synchronously with a
session (:func:`read_in`) or on the event loop (:func:`read`)."""


def read_in(session: Session, procedure: Procedure[T]) -> T:
    """Run ``procedure`` with ``session`` (a service call, a page, a job, a test): its statements
    run on :func:`single_statement`'s connection, through :func:`fetch_all`."""
    return _run_on(lambda: single_statement(session), procedure)


def _read_on(engine: Engine, procedure: Procedure[T]) -> T:
    """Run ``procedure`` on a connection of ``engine``'s pool, without a session. Its statements
    run straight on the driver (:func:`fetch_all`), which on SQLite is in autocommit mode: each
    statement is its own transaction and sees one snapshot, as on PostgreSQL's read pool."""
    return _run_on(engine.connect, procedure)


def _run_on(
    connect: Callable[[], contextlib.AbstractContextManager[sa.Connection]], procedure: Procedure[T]
) -> T:
    """Run ``procedure`` synchronously, its statements on the connection ``connect()`` gives
    (taken only once the procedure's own checks have passed and it has a statement to run)."""
    try:
        step = next(procedure)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    with connect() as conn:
        while True:
            with _planned_per_call(conn, step.plan_per_call):
                rows = fetch_all(conn, step.stmt, step.params)
            try:
                step = procedure.send(rows)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]


async def read(db: Database, procedure: Procedure[T]) -> T:
    """Run ``procedure`` for a request handler, without a session.

    On PostgreSQL it runs on the event loop itself, its statements on a connection of the loop's
    read pool (:meth:`Database.read_pool`; autocommit, so each statement sees its own snapshot, as
    with :func:`single_statement` in a GET request), with no worker-thread hop: the hop and the
    request session cost a third of a public search's CPU time in the web process (measured:
    ~0.10 ms per statement on the event loop against ~0.16-0.21 ms through a worker thread). On
    other databases (SQLite, whose driver has no asynchronous form) it runs in a request thread,
    on a pooled connection of its own, without a session or a transaction around it."""
    pool = await db.read_pool()
    if pool is None:
        return await in_thread(db.request_executor, lambda: _read_on(db.sync_engine, procedure))
    try:
        step = next(procedure)  # the procedure's own checks come before a connection is taken
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    dialect = db.sync_engine.dialect
    conn = await pool.getconn()  # (not pool.connection(): its COMMIT-on-exit does nothing in autocommit)
    try:
        while True:
            plan = _driver_plan(step.stmt, dialect)
            if plan is None:
                raise TypeError(
                    "a read procedure's statement has an expanding list parameter; pass the list "
                    "as one array parameter (sa.any_ on PostgreSQL)"
                )
            cursor = await conn.execute(
                plan[0], _driver_arguments(plan, step.params), prepare=False if step.plan_per_call else None
            )
            rows = _processed_rows(plan, await cursor.fetchall())
            try:
                step = procedure.send(rows)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
    finally:
        await pool.putconn(conn)  # one left mid-statement (a cancelled request) is closed, not reused


def skip_locked(stmt: sa.Select[Any], session: Session) -> sa.Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt
