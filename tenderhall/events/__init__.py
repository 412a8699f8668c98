"""Live events: services publish in their transaction, pages watch over server-sent events.

``publish(session, topic, kind, data)`` stages an event in the caller's transaction; it becomes a
``core_event`` row (whose id is the SSE event id) when the transaction commits and reaches the
channels only after the commit (``tenderhall.events.publishing``). ``topic(name, may_watch)``
declares who may watch a topic; ``GET /events/{topic}`` streams it (``tenderhall.events.stream``).
"""

from tenderhall.events.access import TOPICS, TopicRule, topic
from tenderhall.events.publishing import (
    MAX_DATA_BYTES,
    Event,
    events_after,
    install,
    last_event_id,
    publish,
    uninstall,
)

__all__ = [
    "MAX_DATA_BYTES",
    "TOPICS",
    "Event",
    "TopicRule",
    "events_after",
    "install",
    "last_event_id",
    "publish",
    "topic",
    "uninstall",
]
