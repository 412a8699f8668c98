"""Publishing: an event is staged in the caller's transaction, inserted as a ``core_event`` row
when it commits, and delivered to the channels only once the commit has happened.

Delivery after the commit depends on the backend (``settings.events_backend``), set up once per
process and database by :func:`install`:

- ``postgres``: ``pg_notify`` in the committing transaction itself; PostgreSQL delivers a
  notification at commit and never for a rolled-back transaction, from any process (web, worker,
  CPU worker, CLI) that commits on that database;
- ``redis``: after the commit, this process ``PUBLISH``-es the events (pub/sub);
- ``memory``: after the commit, this process wakes its web process's tail of the table
  (``tenderhall.events.stream``), which also finds, within ``poll_seconds``, the events that other
  processes (the CPU workers) committed.

A process without :func:`install` still writes the rows (a reconnecting client gets them), but
delivers nothing live.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tenderhall.db import Database, forget_rolled_back, utcnow
from tenderhall.events.access import split
from tenderhall.events.models import EVENT_TABLE
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.events")

MAX_DATA_BYTES = 4000
"""An event is a hint for a page (a state, an id), not a document: PostgreSQL's NOTIFY carries at
most 8000 bytes, and every watcher receives every event of its topic."""
KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,59}$")
_LOCK_KEY = 7_310_003  # serialises event inserts with their commit on PostgreSQL

_STAGED = "tenderhall.events.staged"
_COMMITTED = "tenderhall.events.committed"


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    kind: str
    data: dict[str, Any]

    def message(self) -> bytes:
        """The bytes a channel carries."""
        body = {"id": self.id, "topic": self.topic, "kind": self.kind, "data": self.data}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_message(cls, raw: bytes | str) -> Event:
        body = json.loads(raw)
        return cls(int(body["id"]), str(body["topic"]), str(body["kind"]), dict(body["data"]))


def _encode(data: dict[str, Any] | None) -> dict[str, Any]:
    text = json.dumps(data or {}, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"an event's data is at most {MAX_DATA_BYTES} bytes of JSON")
    decoded: dict[str, Any] = json.loads(text)
    return decoded


def publish(session: Session, topic: str, kind: str, data: dict[str, Any] | None = None) -> None:
    """Publish an event on ``topic`` (``jobs``, ``tender.42``) in the caller's transaction: it is
    delivered after the commit, never if the transaction (or the savepoint around this call) rolls
    back. ``kind`` names what happened (``state``, ``pdf``); ``data`` is small JSON for the page
    (at most :data:`MAX_DATA_BYTES`); never secrets or personal data: anyone who may watch the
    topic receives it."""
    split(topic)  # a malformed topic raises ValueError here, not at commit
    if not KIND_RE.match(kind):
        raise ValueError(f"malformed event kind {kind!r}")
    values = {"topic": topic, "kind": kind, "data": _encode(data)}
    session.connection()  # the transaction is open, and will commit even if nothing else is written
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_STAGED, []).append((values, txn))


# --- delivery --------------------------------------------------------------------------------------


def channel_name(prefix: str, topic: str) -> str:
    return f"{prefix}.{topic}"


class Sink:
    """How this process hands committed events to the channels of one database."""

    def __init__(self, backend: str, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.wakers: list[Callable[[], None]] = []
        self.users = 0
        self._redis: Any = None

    def in_transaction(self, session: Session, events: Sequence[Event]) -> None:
        if self.backend == "postgres":
            session.execute(
                sa.text("SELECT pg_notify(:c, :p)"),
                [{"c": channel_name(self.prefix, e.topic), "p": e.message().decode()} for e in events],
            )

    def after_commit(self, events: Sequence[Event]) -> None:
        if self.backend == "redis" and self._redis is not None:
            try:
                pipe = self._redis.pipeline(transaction=False)
                for e in events:
                    pipe.publish(channel_name(self.prefix, e.topic), e.message())
                pipe.execute()
            except Exception as exc:  # noqa: BLE001 - committed: clients get them when they reconnect
                log.warning("live events not published", error_type=type(exc).__name__, count=len(events))
        for wake in list(self.wakers):
            try:
                wake()
            except Exception as exc:  # noqa: BLE001 - committed already: a waker must not fail the caller
                log.warning("live events tail not woken", error_type=type(exc).__name__)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None


_SINKS: dict[str, Sink] = {}
_SINKS_LOCK = threading.Lock()


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def install(db: Database, settings: Settings) -> Sink:
    """Set up this process's delivery of the events committed on ``db`` (once per database; the
    web app, the workers and the CPU worker processes call it). Returns the sink."""
    key = _key(db.sync_engine)
    with _SINKS_LOCK:
        sink = _SINKS.get(key)
        if sink is None:
            sink = Sink(settings.events_backend, settings.events.channel_prefix)
            if sink.backend == "redis":
                import redis

                sink._redis = redis.Redis.from_url(settings.events_redis_url, socket_timeout=5)
            _SINKS[key] = sink
        sink.users += 1
        return sink


def uninstall(db: Database) -> None:
    """Undo one :func:`install`; the last one closes the sink."""
    key = _key(db.sync_engine)
    with _SINKS_LOCK:
        sink = _SINKS.get(key)
        if sink is None:
            return
        sink.users -= 1
        if sink.users > 0:
            return
        del _SINKS[key]
    sink.close()


def _sink_for(session: Session) -> Sink | None:
    if not _SINKS:
        return None
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return _SINKS.get(_key(engine))


@sa_event.listens_for(Session, "before_commit")
def _insert_at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    staged = session.info.pop(_STAGED, None)
    if not staged:
        return
    if session.get_bind().dialect.name == "postgresql":
        # held to the end of the COMMIT: ids are given in commit order (SQLite: one writer at a time)
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    now = utcnow()
    rows = [{**values, "created_at": now} for values, _ in staged]
    ids = (
        session.execute(
            sa.insert(EVENT_TABLE).returning(EVENT_TABLE.c.id, sort_by_parameter_order=True), rows
        )
        .scalars()
        .all()
    )
    events = [Event(i, r["topic"], r["kind"], r["data"]) for i, r in zip(ids, rows, strict=True)]
    sink = _sink_for(session)
    if sink is not None:
        sink.in_transaction(session, events)
        session.info[_COMMITTED] = (sink, events)


@sa_event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    committed = session.info.pop(_COMMITTED, None)
    if committed is not None:
        sink, events = committed
        sink.after_commit(events)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_at_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_STAGED, None)
        session.info.pop(_COMMITTED, None)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """Forget the events staged in a transaction (or savepoint) that was rolled back."""
    forget_rolled_back(session, _STAGED, previous_transaction)


# --- reading ---------------------------------------------------------------------------------------


def _event(row: Any) -> Event:
    return Event(row.id, row.topic, row.kind, row.data)


_T = EVENT_TABLE


def events_after(session: Session, topic: str, after: int, *, limit: int) -> list[Event]:
    """The events of ``topic`` committed after the event ``after``, oldest first, at most ``limit``."""
    stmt = (
        sa.select(_T.c.id, _T.c.topic, _T.c.kind, _T.c.data)
        .where(_T.c.topic == topic, _T.c.id > after)
        .order_by(_T.c.id)
        .limit(limit)
    )
    return [_event(r) for r in session.execute(stmt)]


def all_after(session: Session, after: int, *, limit: int) -> list[Event]:
    """Every event committed after ``after``, oldest first (the memory backend's tail)."""
    stmt = sa.select(_T.c.id, _T.c.topic, _T.c.kind, _T.c.data).where(_T.c.id > after).order_by(_T.c.id)
    return [_event(r) for r in session.execute(stmt.limit(limit))]


def last_event_id(session: Session) -> int:
    """The id of the last committed event (0 if none): a page rendered now embeds it, and its
    script resumes from it, so nothing committed between the render and the subscription is lost."""
    return int(session.execute(sa.select(sa.func.max(_T.c.id))).scalar_one_or_none() or 0)


def oldest_event_id(session: Session) -> int | None:
    found = session.execute(sa.select(sa.func.min(_T.c.id))).scalar_one_or_none()
    return None if found is None else int(found)


def prune(session: Session, *, before: dt.datetime) -> int:
    """Delete the events committed before ``before`` (a client that was away longer reloads)."""
    result = session.execute(sa.delete(_T).where(_T.c.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
