"""The events table: each live event is a row, and its id is the SSE event id."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall.db import json_field, utc_field


class LiveEvent(SQLModel, table=True):
    """One published event. Ids grow in commit order (publishers serialise their insert with the
    commit), so "every event of this topic after id N" is exactly what a client that saw N missed."""

    __tablename__ = "core_event"
    # AUTOINCREMENT on SQLite: ids are never reused once old events are pruned (a client resumes
    # after its last id)
    __table_args__ = (sa.Index("ix_core_event_topic_id", "topic", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=120)
    kind: str = Field(max_length=60)
    data: dict[str, Any] = json_field()
    created_at: dt.datetime = utc_field(default_now=True, index=True)


EVENT_TABLE: sa.Table = LiveEvent.__table__  # type: ignore[attr-defined]
