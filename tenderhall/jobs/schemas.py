"""API types for the admin job list (never the table model)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tenderhall.jobs.models import OutboxJob


@dataclass
class JobOut:
    id: int
    name: str
    queue: str
    status: str
    attempts: int
    available_at: dt.datetime
    created_at: dt.datetime
    lease_until: dt.datetime | None
    completed_at: dt.datetime | None
    last_error: str | None
    dedup_key: str | None
    args: dict[str, Any]

    @classmethod
    def of(cls, row: OutboxJob) -> JobOut:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.actor_name,
            queue=row.queue,
            status=str(row.status),
            attempts=row.attempts,
            available_at=row.available_at,
            created_at=row.created_at,
            lease_until=row.lease_until,
            completed_at=row.completed_at,
            last_error=row.last_error,
            dedup_key=row.dedup_key,
            args=dict(row.args),
        )
