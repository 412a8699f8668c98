"""The transactional outbox and scheduler leases."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall import labels
from tenderhall.db import json_field, utc_field


class JobStatus(enum.StrEnum):
    pending = "pending"  # waiting to be (re)sent to the broker
    sent = "sent"  # handed to the broker, leased until lease_until
    running = "running"  # claimed by a worker (claim_token), leased until lease_until
    done = "done"
    dead = "dead"  # gave up after max attempts: an admin may re-run it


labels.define(
    JobStatus,
    {
        JobStatus.pending: ("等待发送", "Waiting"),
        JobStatus.sent: ("已排队", "Queued"),
        JobStatus.running: ("执行中", "Running"),
        JobStatus.done: ("已完成", "Done"),
        JobStatus.dead: ("已放弃", "Given up"),
    },
)


class OutboxJob(SQLModel, table=True):
    __tablename__ = "core_outbox"
    __table_args__ = (sa.Index("ix_core_outbox_status_available", "status", "available_at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_name: str = Field(max_length=120, index=True)
    queue: str = Field(default="default", max_length=40)
    args: dict[str, Any] = json_field()
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)
    status: JobStatus = Field(default=JobStatus.pending, sa_type=sa.String(8))
    attempts: int = 0
    available_at: dt.datetime = utc_field(default_now=True)
    lease_until: dt.datetime | None = utc_field(nullable=True)
    claim_token: str | None = Field(default=None, max_length=32)  # who runs it (status running)
    created_at: dt.datetime = utc_field(default_now=True)
    completed_at: dt.datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=2000)


class SchedulerLease(SQLModel, table=True):
    """One row per periodic job: who holds it, until when, and when it last ran."""

    __tablename__ = "core_scheduler_lease"

    name: str = Field(primary_key=True, max_length=120)
    holder: str | None = Field(default=None, max_length=120)
    lease_until: dt.datetime | None = utc_field(nullable=True)
    last_run_at: dt.datetime | None = utc_field(nullable=True)
    next_run_at: dt.datetime | None = utc_field(nullable=True)


#: The tables themselves, for the hot paths (enqueue, relay, execution) that use SQL expressions
#: rather than ORM objects: a job costs a few statements, not a unit-of-work flush.
OUTBOX_TABLE: sa.Table = OutboxJob.__table__  # type: ignore[attr-defined]
LEASE_TABLE: sa.Table = SchedulerLease.__table__  # type: ignore[attr-defined]
