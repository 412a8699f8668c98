"""Bid tables: an upload in progress, the bids it becomes, their receipts, and every attempt."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall import labels
from tenderhall.db import utc_field


class BidState(enum.StrEnum):
    current = "current"  # the one that counts
    replaced = "replaced"  # a later complete submission took its place
    withdrawn = "withdrawn"


labels.define(
    BidState,
    {
        BidState.current: ("有效", "Current"),
        BidState.replaced: ("已被替换", "Replaced"),
        BidState.withdrawn: ("已撤回", "Withdrawn"),
    },
)


class Upload(SQLModel, table=True):
    """A sealed file on its way in; its bytes so far are the part file (its size is the offset)."""

    __tablename__ = "trading_bid_upload"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="trading_lot.id", index=True)
    organisation_id: int = Field(foreign_key="core_organisation.id", index=True)
    user_id: int = Field(foreign_key="core_user.id")
    size: int = Field(sa_type=sa.BigInteger())
    created_at: dt.datetime = utc_field(default_now=True)
    finished_at: dt.datetime | None = utc_field(nullable=True)
    bid_id: int | None = Field(default=None, foreign_key="trading_bid.id")


class Bid(SQLModel, table=True):
    __tablename__ = "trading_bid"
    __table_args__ = (
        # one current bid per bidder and lot, also when two submissions race
        sa.Index(
            "uq_trading_bid_current",
            "lot_id",
            "organisation_id",
            unique=True,
            sqlite_where=sa.text("state = 'current'"),
            postgresql_where=sa.text("state = 'current'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="trading_lot.id", index=True)
    organisation_id: int = Field(foreign_key="core_organisation.id", index=True)
    submitted_by: int = Field(foreign_key="core_user.id")
    state: BidState = Field(default=BidState.current, sa_type=sa.String(12))
    sealed_sha256: str = Field(max_length=64, index=True)
    sealed_size: int = Field(sa_type=sa.BigInteger())
    received_at: dt.datetime = utc_field()  # the last byte, server clock, microseconds
    header_sha256: str = Field(max_length=64)
    profile: str = Field(max_length=60)
    signer_certificate_sha256: str = Field(max_length=64)
    replaces_bid_id: int | None = Field(default=None, foreign_key="trading_bid.id")
    ended_at: dt.datetime | None = utc_field(nullable=True)  # replaced or withdrawn


class BidReceipt(SQLModel, table=True):
    """The platform-signed receipt of one accepted act on a bid (decision 0268)."""

    __tablename__ = "trading_bid_receipt"

    id: int | None = Field(default=None, primary_key=True)
    bid_id: int = Field(foreign_key="trading_bid.id", index=True)
    kind: str = Field(max_length=12)  # submitted | replaced | withdrawn
    receipt_json: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    signature: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    timestamp_token: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    created_at: dt.datetime = utc_field(default_now=True)


class BidAttempt(SQLModel, table=True):
    """Every submission or withdrawal attempt, accepted or refused (each is also an audit event)."""

    __tablename__ = "trading_bid_attempt"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="trading_lot.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="core_organisation.id")
    user_id: int | None = Field(default=None, foreign_key="core_user.id")
    action: str = Field(max_length=12)  # submit | withdraw
    outcome: str = Field(max_length=12)  # accepted | duplicate | refused
    code: str | None = Field(default=None, max_length=60)
    reason: str | None = Field(default=None, max_length=1000)
    sealed_sha256: str | None = Field(default=None, max_length=64)
    bid_id: int | None = Field(default=None, foreign_key="trading_bid.id")
    at: dt.datetime = utc_field(default_now=True)
