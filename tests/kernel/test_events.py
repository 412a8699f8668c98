"""Live events: published after commit only, stored for resumption, streamed over SSE with
heartbeats and a bounded backlog, watched only by those who may see the page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from tenderhall import events
from tenderhall.app import create_app
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database
from tenderhall.events.publishing import Event, all_after, channel_name
from tenderhall.events.stream import LiveEvents, LiveSubscriber
from tenderhall.jobs.models import JobStatus
from tenderhall.jobs.outbox import enqueue
from tenderhall.jobs.service import retry_job
from tenderhall.settings import EventSettings, Settings
from tests import factories
from tests.kernel.live_support import served_in_thread, wait_for, watching


def _rows(db: Database) -> list[tuple[str, str, Any]]:
    with db.transaction(writes=False) as s:
        return [(e.topic, e.kind, e.data) for e in all_after(s, 0, limit=1000)]


@pytest.fixture
def sink(db: Database, settings: Settings) -> Iterator[events.publishing.Sink]:
    sink = events.install(db, settings)
    yield sink
    events.uninstall(db)


def test_an_event_is_delivered_only_after_its_transaction_commits(
    db: Database, sink: events.publishing.Sink
) -> None:
    seen_at_delivery: list[int] = []

    def delivered() -> None:  # runs after the commit: another connection sees the row already
        with db.transaction(writes=False) as s:
            seen_at_delivery.append(s.execute(sa.text("SELECT count(*) FROM core_event")).scalar_one())

    sink.wakers.append(delivered)
    with db.transaction() as s:
        events.publish(s, "jobs", "job", {"id": 1})
        assert seen_at_delivery == []  # staged, not delivered
    assert seen_at_delivery == [1]
    assert _rows(db) == [("jobs", "job", {"id": 1})]


def _publish_then_fail(db: Database, data: dict[str, Any]) -> None:
    with db.transaction() as s:
        events.publish(s, "jobs", "job", data)
        raise RuntimeError("the change fails after publishing")


def test_a_rolled_back_transaction_publishes_nothing(db: Database, sink: events.publishing.Sink) -> None:
    calls: list[int] = []
    sink.wakers.append(lambda: calls.append(1))
    with pytest.raises(RuntimeError):
        _publish_then_fail(db, {"id": 1})
    assert calls == []
    assert _rows(db) == []


def test_an_event_in_a_rolled_back_savepoint_is_dropped_and_the_rest_published(db: Database) -> None:
    with db.transaction() as s:
        events.publish(s, "jobs", "job", {"n": "kept"})
        try:
            with s.begin_nested():
                events.publish(s, "jobs", "job", {"n": "dropped"})
                raise RuntimeError
        except RuntimeError:
            pass
    assert [r[2] for r in _rows(db)] == [{"n": "kept"}]


def test_a_second_user_of_a_database_keeps_delivering_after_the_first_stops(
    db: Database, settings: Settings
) -> None:
    first = events.install(db, settings)  # two apps (or an app and a worker) in one process
    second = events.install(db, settings)
    calls: list[int] = []
    second.wakers.append(lambda: calls.append(1))
    events.uninstall(db)  # the first stops
    try:
        with db.transaction() as s:
            events.publish(s, "jobs", "job")
    finally:
        events.uninstall(db)
    assert second is first
    assert calls == [1]


def test_malformed_topics_kinds_and_oversized_data_are_refused_at_publish(db: Database) -> None:
    with db.transaction() as s:
        for bad in ("Jobs", "tender.", "a b", "x" * 41):
            with pytest.raises(ValueError):
                events.publish(s, bad, "job")
        with pytest.raises(ValueError):
            events.publish(s, "jobs", "Bad Kind")
        with pytest.raises(ValueError):
            events.publish(s, "jobs", "job", {"blob": "x" * events.MAX_DATA_BYTES})
    assert _rows(db) == []


def test_job_state_changes_publish_on_the_jobs_topic(db: Database) -> None:
    with db.transaction() as s:
        job = enqueue(s, "tests.nothing")
    with db.transaction() as s:
        s.execute(sa.text("UPDATE core_outbox SET status = 'dead' WHERE id = :i"), {"i": job.id})
    with db.transaction() as s:
        retry_job(s, Principal.system("test"), job.id)
    assert [r[2] for r in _rows(db)] == [
        {"id": job.id, "name": "tests.nothing", "status": "pending"},
        {"id": job.id, "name": "tests.nothing", "status": JobStatus.pending.value},
    ]


def test_postgres_notifies_listeners_at_commit_and_never_for_a_rollback(
    db: Database, settings: Settings
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    pg = settings.model_copy(update={"events": EventSettings(backend="postgres", channel_prefix="tpg")})
    events.install(db, pg)
    dsn = (
        sa.make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        with psycopg.connect(dsn, autocommit=True) as listener:
            listener.execute('LISTEN "tpg.jobs"')
            with pytest.raises(RuntimeError):
                _publish_then_fail(db, {"n": "rolled back"})
            with db.transaction() as s:
                events.publish(s, "jobs", "job", {"n": "committed"})
                assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before the commit
            got = [Event.from_message(n.payload) for n in listener.notifies(timeout=10, stop_after=1)]
    finally:
        events.uninstall(db)
    assert [(e.topic, e.data) for e in got] == [("jobs", {"n": "committed"})]
    assert got[0].id == _last_id(db)


def _last_id(db: Database) -> int:
    with db.transaction(writes=False) as s:
        return events.last_event_id(s)


@pytest.mark.parametrize(
    ("broker", "database", "backend"),
    [
        ("memory://", "sqlite:///x.db", "memory"),
        ("memory://", "postgresql://h/d", "memory"),
        ("redis://h:6379/0", "sqlite:///x.db", "redis"),
        ("redis://h:6379/0", "postgresql://h/d", "redis"),
        ("amqp://h/", "postgresql://h/d", "postgres"),
        ("amqp://h/", "sqlite:///x.db", "memory"),
    ],
)
def test_the_backend_follows_the_broker_and_the_database(broker: str, database: str, backend: str) -> None:
    assert Settings(broker_url=broker, database_url=database).events_backend == backend


# --- streams ---------------------------------------------------------------------------------------


def _live_settings(settings: Settings, **kw: Any) -> Settings:
    return settings.model_copy(update={"events": EventSettings(**kw)})


@pytest.fixture
def admin_cookies(db: Database) -> dict[str, str]:
    return factories.signed_in(db, Role.admin)[2]


def _publish(db: Database, topic: str, n: int, start: int = 0) -> list[int]:
    with db.transaction() as s:
        for i in range(start, start + n):
            events.publish(s, topic, "job", {"n": i})
    with db.transaction(writes=False) as s:
        return [e.id for e in events.events_after(s, topic, 0, limit=10_000)][-n:]


async def test_a_watcher_receives_events_committed_while_it_watches(
    settings: Settings, db: Database, admin_cookies: dict[str, str]
) -> None:
    app = create_app(settings, db=db, run_jobs_inprocess=False)
    with served_in_thread(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, cookies=admin_cookies, timeout=30) as client,
            watching(client, "jobs") as got,
        ):
            ids = await asyncio.to_thread(_publish, db, "jobs", 3)
            await wait_for(got, lambda g: len(g.events) >= 3)
    assert [int(e["id"]) for e in got.events] == ids
    assert [e["data"]["data"] for e in got.events] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_reconnecting_client_resumes_after_its_last_event_id(
    settings: Settings, db: Database, admin_cookies: dict[str, str]
) -> None:
    first, second, third = _publish(db, "jobs", 3)
    _publish(db, "tender.1", 1)  # another topic: not replayed
    app = create_app(settings, db=db, run_jobs_inprocess=False)
    with served_in_thread(app) as base:
        async with httpx.AsyncClient(base_url=base, cookies=admin_cookies, timeout=30) as client:
            async with watching(client, "jobs", headers={"Last-Event-ID": str(first)}) as got:
                await wait_for(got, lambda g: len(g.events) >= 2)
                (fourth,) = await asyncio.to_thread(_publish, db, "jobs", 1, 3)
                await wait_for(got, lambda g: len(g.events) >= 3)
            async with watching(client, "jobs", after=fourth) as later:  # the id a page embedded
                (fifth,) = await asyncio.to_thread(_publish, db, "jobs", 1, 4)
                await wait_for(later, lambda g: len(g.events) >= 1)
    assert [int(e["id"]) for e in got.events] == [second, third, fourth]
    assert [int(e["id"]) for e in later.events] == [fifth]


async def test_a_client_away_longer_than_the_replay_limit_is_told_to_reload(
    settings: Settings, db: Database, admin_cookies: dict[str, str]
) -> None:
    first, *_ = _publish(db, "jobs", 6)
    app = create_app(_live_settings(settings, replay_limit=3), db=db, run_jobs_inprocess=False)
    with served_in_thread(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, cookies=admin_cookies, timeout=30) as client,
            watching(client, "jobs", after=first) as got,
        ):
            await wait_for(got, lambda g: len(g.events) >= 1)
    assert [e.get("event") for e in got.events] == ["reload"]


async def test_an_idle_stream_sends_heartbeats_and_a_closed_one_is_dropped(
    settings: Settings, db: Database, admin_cookies: dict[str, str]
) -> None:
    app = create_app(_live_settings(settings, heartbeat_seconds=0.1), db=db, run_jobs_inprocess=False)
    live: LiveEvents = app.state.live
    with served_in_thread(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, cookies=admin_cookies, timeout=30) as client,
            watching(client, "jobs") as got,
        ):
            await wait_for(got, lambda g: g.comments.count("ping") >= 2)
            assert live.watchers == 1
        deadline = asyncio.get_running_loop().time() + 30
        while live.watchers:  # the server notices the closed connection
            assert asyncio.get_running_loop().time() < deadline, "the closed stream was not dropped"
            await asyncio.sleep(0.02)
    assert got.events == []


async def test_a_subscriber_whose_backlog_overflows_is_told_to_reload(
    settings: Settings, db: Database
) -> None:
    live = LiveEvents(_live_settings(settings, subscriber_backlog=3), db)
    channel = channel_name("th", "jobs")
    async with live.channels:
        stream = live.stream("jobs", None)
        assert (await anext(stream)).comment == "live"  # subscribed; the watcher reads no further
        (subscriber,) = live.channels._channels[channel]
        assert isinstance(subscriber, LiveSubscriber)
        for i in range(1, 10):
            await live.channels.wait_published(Event(i, "jobs", "job", {}).message(), channel)
        deadline = asyncio.get_running_loop().time() + 30
        while not subscriber.overflowed:
            assert asyncio.get_running_loop().time() < deadline, "the backlog never overflowed"
            await asyncio.sleep(0.01)
        assert subscriber.qsize == 3  # bounded: the other six were refused
        told = await asyncio.wait_for(anext(stream), 30)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 30)  # ends, and unsubscribes although its queue was full
        assert live.channels._channels[channel] == set()
    assert told.event == "reload"


def test_watching_is_refused_to_whoever_may_not_see_the_page(client: Any, db: Database) -> None:
    sse = {"Accept": "text/event-stream"}
    _, _, bidder = factories.signed_in(db, Role.bidder)
    _, _, admin = factories.signed_in(db, Role.admin)
    anonymous = client.get("/events/jobs", headers=sse, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    client.cookies.update(bidder)
    assert client.get("/events/jobs", headers=sse).status_code == 403
    client.cookies.update(admin)
    assert client.get("/events/jobs.7", headers=sse).status_code == 403  # no such key for jobs
    assert client.get("/events/nothing", headers=sse).status_code == 404
    assert client.get("/events/jobs").status_code == 406  # not an event-stream client


def test_the_admin_jobs_page_subscribes_to_the_jobs_topic_from_its_render(client: Any, db: Database) -> None:
    _, _, admin = factories.signed_in(db, Role.admin)
    client.cookies.update(admin)
    with db.transaction() as s:
        enqueue(s, "tests.nothing")
    last = _last_id(db)
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    assert f'data-live-topic="jobs" data-live-after="{last}"' in page.text
    assert '<div id="jobs-live" data-live-region>' in page.text  # the part the script replaces
    assert '<script src="/static/live.js" defer></script>' in page.text


async def test_a_lost_listening_connection_is_replaced_and_nothing_meanwhile_is_missed(
    settings: Settings, db: Database, admin_cookies: dict[str, str]
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the PostgreSQL LISTEN connection")
    from tenderhall.events.stream import LISTENER_NAME

    app = create_app(
        _live_settings(settings, backend="postgres", channel_prefix="tlost"), db=db, run_jobs_inprocess=False
    )

    def cut_the_listener() -> int:
        with db.transaction() as s:
            return len(
                s.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :n AND datname = current_database()"
                    ),
                    {"n": LISTENER_NAME},
                ).all()
            )

    with served_in_thread(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, cookies=admin_cookies, timeout=30) as client,
            watching(client, "jobs") as got,
        ):
            (before,) = await asyncio.to_thread(_publish, db, "jobs", 1)
            await wait_for(got, lambda g: len(g.events) >= 1)
            assert await asyncio.to_thread(cut_the_listener) == 1
            (during,) = await asyncio.to_thread(_publish, db, "jobs", 1, 1)  # maybe before it reconnects
            await wait_for(got, lambda g: len(g.events) >= 2)
            (after,) = await asyncio.to_thread(_publish, db, "jobs", 1, 2)
            await wait_for(got, lambda g: len(g.events) >= 3)
    assert [int(e["id"]) for e in got.events] == [before, during, after]
