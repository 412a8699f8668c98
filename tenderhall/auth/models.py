"""Organisations, users, sessions, API tokens, login attempts and certificate-login nonces."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall import labels
from tenderhall.db import utc_field


class Role(enum.StrEnum):
    bidder = "bidder"
    tenderee = "tenderee"
    agency = "agency"
    expert = "expert"
    supervisor = "supervisor"
    admin = "admin"


labels.define(
    Role,
    {
        Role.bidder: ("投标人", "Bidder"),
        Role.tenderee: ("招标人", "Tenderee"),
        Role.agency: ("招标代理", "Agency"),
        Role.expert: ("评标专家", "Expert"),
        Role.supervisor: ("监管人员", "Supervisor"),
        Role.admin: ("系统管理员", "Administrator"),
    },
)

STAFF_ROLES = frozenset({Role.tenderee, Role.agency, Role.expert, Role.supervisor, Role.admin})


class OrgKind(enum.StrEnum):
    bidder = "bidder"
    tenderee = "tenderee"
    agency = "agency"
    authority = "authority"  # supervising department / trading centre
    other = "other"


labels.define(
    OrgKind,
    {
        OrgKind.bidder: ("投标企业", "Bidding company"),
        OrgKind.tenderee: ("招标人", "Tenderee"),
        OrgKind.agency: ("招标代理机构", "Tendering agency"),
        OrgKind.authority: ("监管部门/交易中心", "Authority or trading centre"),
        OrgKind.other: ("其他", "Other"),
    },
)


class Organisation(SQLModel, table=True):
    __tablename__ = "core_organisation"

    id: int | None = Field(default=None, primary_key=True)
    credit_code: str = Field(max_length=18, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    name_en: str | None = Field(default=None, max_length=200)
    kind: OrgKind = Field(sa_type=sa.String(16))
    region: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=300)
    contact_phone: str | None = Field(default=None, max_length=40)
    created_at: dt.datetime = utc_field(default_now=True)


class User(SQLModel, table=True):
    __tablename__ = "core_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(max_length=120)
    role: Role = Field(sa_type=sa.String(16), index=True)
    organisation_id: int | None = Field(default=None, foreign_key="core_organisation.id", index=True)
    password_hash: str | None = Field(default=None, max_length=200)
    totp_secret_enc: str | None = Field(default=None, max_length=400)
    totp_last_step: int | None = None  # last accepted TOTP time step: a code is never accepted twice
    is_active: bool = True
    created_at: dt.datetime = utc_field(default_now=True)
    last_login_at: dt.datetime | None = utc_field(nullable=True)


class UserSession(SQLModel, table=True):
    """A signed-in browser session (cookie) or API token; only a hash of the secret is stored."""

    __tablename__ = "core_user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=8)  # "cookie" | "api"
    user_id: int = Field(foreign_key="core_user.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="core_organisation.id")
    certificate_fingerprint: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = utc_field(default_now=True)
    expires_at: dt.datetime = utc_field()
    revoked_at: dt.datetime | None = utc_field(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, for rate limiting across processes and for review."""

    __tablename__ = "core_login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=120, index=True)
    client_ip: str = Field(max_length=64, index=True)
    method: str = Field(max_length=16)  # password | totp | certificate
    success: bool
    reason: str | None = Field(default=None, max_length=200)
    at: dt.datetime = utc_field(default_now=True, index=True)


class LoginNonce(SQLModel, table=True):
    """A server nonce for certificate login: single use, short-lived."""

    __tablename__ = "core_login_nonce"

    nonce: str = Field(primary_key=True, max_length=64)
    created_at: dt.datetime = utc_field(default_now=True)
    expires_at: dt.datetime = utc_field()
    used_at: dt.datetime | None = utc_field(nullable=True)
