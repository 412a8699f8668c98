"""Live updates of the public tender page (``tenderhall.events``): topic ``tender.<id>``.

Watched by whoever may see the tender page (drafts only by the tender's managers, as the page).
Events: ``state`` (a state change, with the state and the bid deadline, which amendments move)
and ``pdf`` (the announcement PDF has been rendered). The page's script fetches the page again
on each one (``tenderhall/web/static/live.js``); the deadline countdown runs in the browser.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, object_session

from tenderhall import events
from tenderhall.auth.principal import Principal
from trading.models import Tender

TOPIC = "tender"


def topic_of(tender_id: int) -> str:
    return f"{TOPIC}.{tender_id}"


def watch_from(session: Session) -> int:
    """The event id a page rendered now embeds (``data-live-after``): its script resumes after it."""
    return events.last_event_id(session)


def _may_watch(session: Session, principal: Principal, key: str | None) -> bool:
    from trading.service import views

    if key is None or not key.isdigit() or len(key) > 18:
        return False
    views.tender_view(session, principal, int(key))  # the page's own rule: a hidden draft is not found
    return True


events.topic(TOPIC, _may_watch, public=True)


def tender_changed(tender: Tender) -> None:
    """Publish the tender's new state (and deadline) in the transaction that changed it."""
    session = object_session(tender)
    if session is None or tender.id is None:
        return
    deadline = tender.bid_deadline_at.isoformat() if tender.bid_deadline_at else None
    events.publish(session, topic_of(tender.id), "state", {"state": str(tender.state), "deadline": deadline})


def announcement_ready(session: Session, tender_id: int, sha256: str) -> None:
    """Publish that the tender's announcement PDF has been rendered."""
    events.publish(session, topic_of(tender_id), "pdf", {"sha256": sha256})
