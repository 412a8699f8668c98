"""Opening tables: one opening key per lot, one wrapped share per custodian, and the custodians'
registered encryption certificates. No column holds an unencrypted private key or secret."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall.db import json_field, utc_field


class OpeningKey(SQLModel, table=True):
    __tablename__ = "trading_opening_key"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="trading_lot.id", unique=True)
    certificate_pem: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    certificate_sha256: str = Field(max_length=64, index=True)
    encrypted_private_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    profile: str = Field(max_length=60)
    threshold: int
    count: int
    share_salt: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    share_commitments: list[str] = json_field(default_factory=list)
    created_at: dt.datetime = utc_field(default_now=True)


class KeyShare(SQLModel, table=True):
    __tablename__ = "trading_key_share"
    __table_args__ = (sa.UniqueConstraint("opening_key_id", "index", name="uq_trading_key_share_key_index"),)

    id: int | None = Field(default=None, primary_key=True)
    opening_key_id: int = Field(foreign_key="trading_opening_key.id", index=True)
    index: int
    custodian_user_id: int = Field(foreign_key="core_user.id", index=True)
    custodian_role: str = Field(max_length=20)
    certificate_sha256: str = Field(max_length=64)
    envelope: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    submitted_at: dt.datetime | None = utc_field(nullable=True)


class CustodianCertificate(SQLModel, table=True):
    __tablename__ = "trading_custodian_certificate"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="core_user.id", index=True)
    certificate_pem: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    sha256: str = Field(max_length=64, index=True)
    credit_code: str | None = Field(default=None, max_length=18)
    subject: str = Field(max_length=500)
    not_after: dt.datetime = utc_field()
    registered_at: dt.datetime = utc_field(default_now=True)
    revoked_at: dt.datetime | None = utc_field(nullable=True)
