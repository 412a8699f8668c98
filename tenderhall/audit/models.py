"""Audit events (hash-chained, append-only) and signed Merkle tree heads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Field, SQLModel

from tenderhall.db import json_field, utc_field


class AuditEvent(SQLModel, table=True):
    """One audit event. Append-only: database triggers (migration kernel0002) refuse UPDATE and
    DELETE. Note for later migrations: a SQLite batch "move and copy" of this table drops those
    triggers, so recreate them if you ever have to alter it."""

    __tablename__ = "core_audit_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True, index=True)  # 0-based position in the chain
    occurred_at: dt.datetime = utc_field()
    actor: str = Field(max_length=200)  # "user:12 (supervisor wang)", "system", "cert:…"
    action: str = Field(max_length=80, index=True)  # "credit.violation.publish"
    object_type: str = Field(max_length=80, index=True)
    object_id: str = Field(max_length=80, index=True)
    summary: str = Field(max_length=1000)
    data: dict[str, Any] = json_field()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class TreeHead(SQLModel, table=True):
    """A signed summary of the log: the Merkle root of the first ``tree_size`` events.

    ``tsa_token``: the RFC 3161 timestamp token (DER, base64) over SHA-256 of the head's signed
    payload, when a TSA is configured; set once, after the head is committed (decision 0104)."""

    __tablename__ = "core_tree_head"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(index=True, unique=True)
    root_hash: str = Field(max_length=64)
    signed_at: dt.datetime = utc_field()
    signature: str  # base64, platform key over the canonical head
    key_id: str = Field(max_length=64)
    tsa_token: str | None = Field(default=None)
    tsa_time: dt.datetime | None = utc_field(nullable=True)  # the token's genTime


class AuditNode(SQLModel, table=True):
    """A complete RFC 6962 subtree of the log: the root of leaves ``[idx·2^level, (idx+1)·2^level)``
    (level ≥ 1; the leaves are the events). Every complete subtree of the signed part of the log is
    stored, so a proof needs O(log n) lookups. Append-only like the events (triggers, migration
    kernel0003); built by :func:`tenderhall.audit.service.extend_nodes`."""

    __tablename__ = "core_audit_node"

    level: int = Field(primary_key=True)
    idx: int = Field(primary_key=True)
    hash: str = Field(max_length=64)  # hex
