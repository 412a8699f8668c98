"""Fan-out of committed events to server-sent-event streams through Litestar's channels.

One :class:`LiveEvents` per web app: the ``ChannelsPlugin`` on the backend the settings choose,
the memory backend's tail of ``core_event``, and :meth:`LiveEvents.stream`, the messages of one
watcher: a replay of what it missed (after ``Last-Event-ID``), then live events, a comment every
``heartbeat_seconds`` without one, and ``event: reload`` when it cannot be told everything (its
backlog overflowed, or it was away longer than the table remembers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.subscriber import Subscriber
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tenderhall.db import Database, in_thread
from tenderhall.events.publishing import (
    Event,
    Sink,
    all_after,
    channel_name,
    events_after,
    install,
    last_event_id,
    oldest_event_id,
    uninstall,
)
from tenderhall.settings import Settings

log = structlog.get_logger("tenderhall.events")

_TIMEOUT = object()
TAIL_BATCH = 1000
RESYNC = b"\x00resync"
"""Put in every stream's queue after the backend reconnected: replay what may have been missed."""
LISTENER_NAME = "tenderhall-live"
"""``application_name`` of a web process's PostgreSQL listening connection."""
RECONNECT_PAUSE_S = 1.0


class LiveSubscriber(Subscriber):
    """A channels subscriber that remembers when its bounded backlog refused an event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overflowed = False

    def put_nowait(self, item: bytes | None) -> bool:
        accepted = super().put_nowait(item)
        if not accepted and item is not None:
            self.overflowed = True
        return accepted

    def drain(self) -> None:
        """Drop what is waiting (so that unsubscribing, which queues a None, never blocks)."""
        while True:
            try:
                self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            self._queue.task_done()

    async def next(self, timeout: float) -> bytes | object | None:
        """The next message, None when unsubscribed, or ``_TIMEOUT`` after ``timeout`` seconds."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return _TIMEOUT
        self._queue.task_done()
        return item


def make_backend(settings: Settings) -> ChannelsBackend:
    backend = settings.events_backend
    if backend == "redis":
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        return RedisChannelsPubSubBackend(redis=Redis.from_url(settings.events_redis_url))
    if backend == "postgres":
        from litestar.channels.backends.psycopg import PsycoPgChannelsBackend

        dsn = make_url(settings.database_url).set(drivername="postgresql")
        dsn = dsn.update_query_dict({"application_name": LISTENER_NAME})
        return PsycoPgChannelsBackend(dsn.render_as_string(hide_password=False))
    return MemoryChannelsBackend()


def message_of(event: Event) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=event.message().decode(), id=str(event.id))


def reload_message(reason: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps({"reason": reason}), event="reload")


class LiveEvents(InitPlugin):
    """The live-events part of a web app (``app.state.live``)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.prefix = settings.events.channel_prefix
        self.backend = settings.events_backend
        self.channels = ChannelsPlugin(
            make_backend(settings),
            arbitrary_channels_allowed=True,
            subscriber_max_backlog=settings.events.subscriber_backlog,
            subscriber_backlog_strategy="backoff",
            subscriber_class=LiveSubscriber,
        )
        self.watchers = 0
        self.sink: Sink | None = None
        self._tail: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._streams: set[LiveSubscriber] = set()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        self.channels.on_app_init(app_config)  # its lifespan first: ours publishes through it
        app_config.lifespan.append(self.lifespan)
        return app_config

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        self.sink = sink = install(self.db, self.settings)
        waker: Callable[[], None] | None = None
        if self.backend == "memory":
            loop = asyncio.get_running_loop()
            self._wake = wake = asyncio.Event()

            def wake_tail() -> None:
                loop.call_soon_threadsafe(wake.set)

            sink.wakers.append(waker := wake_tail)
            self._tail = asyncio.create_task(self._follow())
        else:
            self._tail = asyncio.create_task(self._supervise())
        try:
            yield
        finally:
            if self._tail is not None:
                self._tail.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._tail
                self._tail = None
            if waker is not None:
                sink.wakers.remove(waker)
            uninstall(self.db)

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A read of the tail in a thread of the loop's own pool, not a request thread: neither
        start-up nor the tail waits behind a burst of requests."""
        return await in_thread(None, lambda: self.db.call(fn, *args, writes=False, **kwargs))

    async def _follow(self) -> None:
        """Memory backend: publish, in commit order, every event committed after start-up:
        woken by this process's commits, and every ``poll_seconds`` for other processes'."""
        assert self._wake is not None
        interval = self.settings.events.poll_seconds
        watermark: int | None = None
        while True:
            if watermark is None:
                try:
                    watermark = int(await self._read(last_event_id))
                except Exception as exc:  # noqa: BLE001 - the database is away: try again next round
                    log.warning("live events tail cannot start", error_type=type(exc).__name__)
                    await asyncio.sleep(interval)
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                while events := await self._read(all_after, watermark, limit=TAIL_BATCH):
                    for e in events:
                        self.channels.publish(e.message(), channel_name(self.prefix, e.topic))
                    watermark = events[-1].id
                    if len(events) < TAIL_BATCH:
                        break
            except Exception as exc:  # noqa: BLE001 - the database is away: try again next round
                log.warning("live events tail failed", error_type=type(exc).__name__)

    async def _supervise(self) -> None:
        """Litestar's channels stop delivering for good when their backend's connection fails (the
        PostgreSQL listening connection or the Redis pub/sub one is lost): connect again,
        subscribe again to the channels that have watchers, and have every stream replay from the
        table what it may have missed meanwhile."""
        plugin = self.channels
        while (task := plugin._sub_task) is not None:
            await asyncio.wait([task])
            if task.cancelled():
                return  # the app is stopping
            exc = task.exception()
            log.warning("live events backend lost; reconnecting", error_type=type(exc).__name__)
            while True:
                try:
                    await self._reconnect()
                    break
                except Exception as again:  # noqa: BLE001 - the server is away: try again shortly
                    log.warning("live events backend still unreachable", error_type=type(again).__name__)
                    await asyncio.sleep(RECONNECT_PAUSE_S)
            for subscriber in list(self._streams):
                subscriber.put_nowait(RESYNC)

    async def _reconnect(self) -> None:
        plugin, backend = self.channels, self.channels._backend
        with contextlib.suppress(Exception):
            await backend.on_shutdown()
        await backend.on_startup()
        watched = [name for name, subscribers in plugin._channels.items() if subscribers]
        if watched:
            await backend.subscribe(watched)
        plugin._sub_task = asyncio.create_task(plugin._sub_worker())

    def _replay(self, session: Session, topic: str, after: int) -> list[Event] | None:
        """What a client that saw ``after`` missed, or None if it cannot be told (reload)."""
        limit = self.settings.events.replay_limit
        oldest = oldest_event_id(session)
        if oldest is not None and after < oldest - 1:
            return None  # pruned past its last event
        missed = events_after(session, topic, after, limit=limit + 1)
        return None if len(missed) > limit else missed

    async def stream(self, topic: str, after: int | None) -> AsyncIterator[ServerSentEventMessage]:
        """The messages of one watcher of ``topic``: the events after ``after`` (its last event id;
        None: from now), replayed from the table and then live; again from the table after the
        backend reconnected."""
        events = self.settings.events
        channel = channel_name(self.prefix, topic)
        # read before subscribing, replayed after: nothing committed in between is lost
        last = after if after is not None else await self.db.run(last_event_id, writes=False)
        subscriber = await self.channels.subscribe(channel)
        assert isinstance(subscriber, LiveSubscriber)
        self.watchers += 1
        self._streams.add(subscriber)
        try:
            yield ServerSentEventMessage(data=None, comment="live", retry=events.retry_ms)
            resync = True
            while True:
                if resync:  # what it missed: before it came, or while the backend reconnected
                    resync = False
                    missed = await self.db.run(self._replay, topic, last, writes=False)
                    if missed is None:
                        yield reload_message("gap")
                        return
                    for e in missed:
                        if e.id > last:
                            yield message_of(e)
                            last = e.id
                if subscriber.overflowed:
                    yield reload_message("backlog")
                    return
                item = await subscriber.next(events.heartbeat_seconds)
                if item is _TIMEOUT:
                    yield ServerSentEventMessage(data=None, comment="ping")  # data=None: no event
                    continue
                if item is None:
                    return
                if item == RESYNC:
                    resync = True
                    continue
                assert isinstance(item, bytes | str)
                e = Event.from_message(item)
                if e.id <= last:
                    continue  # replayed already
                last = e.id
                yield message_of(e)
        finally:
            self.watchers -= 1
            self._streams.discard(subscriber)
            subscriber.drain()
            await self.channels.unsubscribe(subscriber, channel)
