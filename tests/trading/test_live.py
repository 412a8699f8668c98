"""The tender page updates live: its state and deadline when they change, its announcement PDF
once rendered; watched by whoever may see the page (a draft only by its managers)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from tenderhall import events
from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.kernel.live_support import served_in_thread, wait_for, watching
from tests.trading.conftest import World
from trading.live import topic_of
from trading.models import Tender
from trading.service import amendments, publication

SSE = {"Accept": "text/event-stream"}


def _events(db: Database, topic: str) -> list[tuple[str, dict[str, Any]]]:
    with db.transaction(writes=False) as s:
        return [(e.kind, e.data) for e in events.events_after(s, topic, 0, limit=100)]


def test_publishing_and_amending_a_tender_publish_its_state_and_deadline(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        t = s.get(Tender, tid)
        assert t is not None
        later = t.bid_deadline_at + dt.timedelta(days=3)
        amendments.amend_tender(
            s, world.agency, settings, tid, "延期", {"bid_deadline_at": later}, expected_version=t.version
        )
    published, amended = _events(db, topic_of(tid))
    assert published[0] == "state" and published[1]["state"] == "published"
    assert amended == ("state", {"state": "amended", "deadline": later.isoformat()})


def test_a_change_that_fails_publishes_nothing_on_the_tender_topic(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender(publish=False)
    try:
        with db.unit_of_work() as s:
            publication.publish_tender(s, world.agency, settings, tid)
            raise RuntimeError("the request fails after the publication")
    except RuntimeError:
        pass
    assert _events(db, topic_of(tid)) == []


def test_the_announcement_job_tells_the_page_its_pdf_is_ready(
    db: Database, settings: Settings, make_tender: Callable[..., int]
) -> None:
    import trading.tasks  # noqa: F401 - declares the trading jobs
    from tenderhall.jobs.execution import execute
    from tenderhall.jobs.models import OutboxJob

    tid = make_tender()
    with db.transaction(writes=False) as s:
        (job_id,) = s.execute(
            sa.select(OutboxJob.id).where(OutboxJob.actor_name == "trading.render_announcement")
        ).scalars()
    assert execute(db, settings, job_id) == "done"
    with db.transaction(writes=False) as s:
        sha = s.get(Tender, tid).announcement_sha256  # type: ignore[union-attr]
    assert sha is not None
    assert _events(db, topic_of(tid))[-1] == ("pdf", {"sha256": sha})


def test_the_public_watches_a_published_tender_but_not_a_draft(
    client: Any, db: Database, make_tender: Callable[..., int]
) -> None:
    published, draft = make_tender(), make_tender(publish=False)
    _, _, bidder = factories.signed_in(db, Role.bidder)
    assert client.get(f"/events/{topic_of(draft)}", headers=SSE).status_code == 404
    assert client.get("/events/tender.nothing", headers=SSE).status_code == 403
    assert client.get(f"/events/{topic_of(published)}").status_code == 406  # admitted; not a stream client
    client.cookies.update(bidder)
    assert client.get(f"/events/{topic_of(draft)}", headers=SSE).status_code == 404


def test_the_tender_page_subscribes_to_its_topic_and_works_without_script(
    client: Any, db: Database, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.transaction(writes=False) as s:
        last = events.last_event_id(s)
    page = client.get(f"/tenders/{tid}")
    assert page.status_code == 200
    assert f'data-live-topic="tender.{tid}" data-live-after="{last}"' in page.text
    assert '<script src="/static/live.js" defer></script>' in page.text
    assert 'id="tender-countdown" data-countdown' in page.text
    assert 'id="announcement-pdf-pending"' in page.text  # not rendered yet: no dead link
    assert 'id="announcement-pdf"' not in page.text
    assert client.get("/static/live.js").status_code == 200


async def test_an_anonymous_watcher_of_the_tender_page_sees_it_amended(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    from tenderhall.app import create_app

    tid = make_tender()
    app = create_app(settings, db=db, run_jobs_inprocess=False)

    def amend() -> None:
        with db.unit_of_work() as s:
            t = s.get(Tender, tid)
            assert t is not None
            amendments.amend_tender(
                s, world.agency, settings, tid, "更正", {"title": "新名称"}, expected_version=t.version
            )

    with served_in_thread(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            watching(client, topic_of(tid)) as got,
        ):
            await asyncio.to_thread(amend)
            await wait_for(got, lambda g: len(g.events) >= 1)
    (event,) = got.events
    assert event["data"]["topic"] == topic_of(tid)
    assert event["data"]["data"]["state"] == "amended"
