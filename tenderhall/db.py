"""Database kernel: one URL gives the engine for requests, workers and the CLI.

Service code is written once, synchronously, against a plain ``Session``, and never commits.
Every piece of work is one transaction that begins, works and commits in the thread that does the
work (:meth:`Database.transaction`): a request handler's call (:class:`RequestSession`, one hop
to a request thread), a job step, a CLI command. See docs/decisions/0001-one-request-path.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import select
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
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
    connect_args = dict(kw.pop("connect_args", {}))
    connect_args["options"] = f"{PG_OPTIONS} {connect_args.get('options', '')}".strip()
    engine = sa.create_engine(u, connect_args=connect_args, **kw)
    event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


PG_OPTIONS = "-c plan_cache_mode=force_custom_plan"
"""Every PostgreSQL connection plans each statement for its actual parameters, also once psycopg
has prepared it (docs/decisions/0001-one-request-path.md)."""


class Database:
    """The engine and session factories for one database URL.

    ``pool_size`` is the most connections this process holds (no overflow): a web process needs
    one per request thread, plus two for whatever runs beside the requests (the in-process job
    runtime's claims and completions, a CLI command in the same process).
    """

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int | None = None, request_threads: int = 4
    ) -> None:
        self.url = url
        self.request_threads = request_threads
        self.pool_size = pool_size or request_threads + 2
        self._request_executor: ThreadPoolExecutor | None = None
        self._executor_guard = threading.Lock()
        self.sync_engine = make_sync_engine(
            url, echo=echo, pool_size=self.pool_size, max_overflow=0, pool_timeout=60
        )
        self.sync_sessions = sessionmaker(self.sync_engine, expire_on_commit=False)
        # read-only transactions: DEFERRED on SQLite (readers run beside the writer under WAL),
        # READ ONLY on PostgreSQL (a GET that writes fails loudly instead of writing by accident)
        self.read_sessions = sessionmaker(
            self.sync_engine.execution_options(sqlite_begin="DEFERRED", postgresql_readonly=True),
            expire_on_commit=False,
        )
        #: On SQLite, the threads of this process that write take turns here, in the order they
        #: came, instead of polling for the database's one write lock in SQLite's busy handler
        #: (which sleeps for growing intervals and lets late comers overtake, until some wait
        #: out the busy timeout and fail). Other processes still wait in the busy handler.
        self.write_turn = threading.RLock()
        self.after_commit_hooks: list[Callable[[], None]] = []

    @property
    def dialect(self) -> str:
        return self.sync_engine.dialect.name

    @contextlib.contextmanager
    def transaction(self, *, writes: bool = True) -> Iterator[Session]:
        """One transaction in the calling thread: committed when the block ends (a failed commit
        raises), rolled back when it raises. On SQLite a writing transaction waits for this
        process's turn to write (:attr:`write_turn`) before it begins."""
        turn = self.write_turn if writes and self.dialect == "sqlite" else contextlib.nullcontext()
        with turn, (self.sync_sessions if writes else self.read_sessions)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        if writes:
            self._after_commit()

    def unit_of_work(self) -> contextlib.AbstractContextManager[Session]:
        """One job step or one CLI command: one writing transaction (:meth:`transaction`)."""
        return self.transaction(writes=True)

    def call(self, fn: Callable[..., T], /, *args: Any, writes: bool = True, **kwargs: Any) -> T:
        """``fn(session, *args, **kwargs)`` in one transaction of its own, in this thread."""
        with self.transaction(writes=writes) as session:
            return fn(session, *args, **kwargs)

    async def run(self, fn: Callable[..., T], /, *args: Any, writes: bool = True, **kwargs: Any) -> T:
        """:meth:`call` in one of the request threads: the transaction begins, does its work and
        commits in that thread, in one hop from the event loop."""
        return await in_thread(self.request_executor, lambda: self.call(fn, *args, writes=writes, **kwargs))

    def request_session(self, *, writes: bool) -> RequestSession:
        return RequestSession(self, writes=writes)

    @property
    def request_executor(self) -> ThreadPoolExecutor:
        """The threads that run requests' database work (``request_threads`` of them: more than
        the database can use only contend for the GIL)."""
        with self._executor_guard:
            if self._request_executor is None:
                self._request_executor = ThreadPoolExecutor(
                    self.request_threads, thread_name_prefix="request-db"
                )
            return self._request_executor

    def _after_commit(self) -> None:
        for hook in self.after_commit_hooks:
            with contextlib.suppress(Exception):
                hook()

    def check(self) -> None:
        with self.sync_engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        with self._executor_guard:
            executor, self._request_executor = self._request_executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)  # a stuck call must not hold up a stop
        self.sync_engine.dispose()


class RequestSession:
    """What a request handler receives as ``session``: ``await session.run_sync(fn)`` (or
    ``await run(session, fn, …)``) runs ``fn(session)`` in one transaction that begins, works and
    commits (or rolls back) in one request thread, in one hop from the event loop. No transaction
    of a request ever stays open while the request waits on the event loop, so no lock a request
    has taken can wait for a free thread to be released. A handler makes one call for its work:
    what must be atomic belongs in one service call.

    ``writes``: False for GET/HEAD/OPTIONS requests (read-only transactions) unless the route
    says it writes (``opt={"writes": True}``, a recorded download say)."""

    def __init__(self, db: Database, *, writes: bool) -> None:
        self.db = db
        self.writes = writes

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.db.run(fn, *args, writes=self.writes, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A read-only call of a writing request (its slow checks, before a short write)."""
        return await self.db.run(fn, *args, writes=False, **kwargs)


async def in_thread(executor: ThreadPoolExecutor | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` in one of ``executor``'s threads (the loop's default executor if None) with the
    caller's context variables (the request's language, its log context), and return its result.

    A cancelled caller still waits for ``fn`` to finish before the cancellation goes on: ``fn``
    holds a session, which must not be abandoned under a running statement."""
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


async def run(session: RequestSession, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call a synchronous service function ``fn(session, *args, **kwargs)`` for a request, in one
    transaction of its own (:class:`RequestSession`)."""
    return await session.run_sync(fn, *args, **kwargs)


def lock_for_update(stmt: sa.Select[Any], session: Session) -> sa.Select[Any]:
    """Row lock where the database has one (PostgreSQL); SQLite serialises writers already."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def skip_locked(stmt: sa.Select[Any], session: Session) -> sa.Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def contains_pattern(text: str) -> str:
    """A LIKE pattern for "contains ``text``", its wildcards taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def forget_rolled_back(session: Session, key: str, rolled_back: Any) -> None:
    """Drop the ``(item, transaction)`` pairs staged in ``session.info[key]`` whose transaction is
    ``rolled_back`` or a savepoint inside it (an ``after_soft_rollback`` listener's work, for what
    is staged to be written at commit: audit events, live events)."""
    staged = session.info.get(key)
    if not staged:
        return

    def within(txn: Any) -> bool:
        while txn is not None:
            if txn is rolled_back:
                return True
            txn = txn.parent
        return False

    kept = [(item, txn) for item, txn in staged if not within(txn)]
    if kept:
        session.info[key] = kept
    else:
        session.info.pop(key, None)
