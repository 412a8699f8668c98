"""Credit tables: the violation-type catalog, violation records, defences, repair applications,
the public change feed, and push receivers with their deliveries (DOMAIN.md section 8)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tenderhall import labels
from tenderhall.db import json_field, utc_field


def pk(row: Any) -> int:
    """The primary key of a flushed row (typed as int)."""
    assert row.id is not None, "row not flushed yet"
    return int(row.id)


class Severity(enum.StrEnum):
    minor = "minor"
    general = "general"
    serious = "serious"


labels.define(
    Severity, {"minor": ("轻微", "Minor"), "general": ("一般", "General"), "serious": ("严重", "Serious")}
)


class SubjectKind(enum.StrEnum):
    company = "company"  # by unified social credit code (registered or not)
    expert = "expert"  # a core_user of role expert, or a person by name + ID number
    agency = "agency"  # an organisation of kind agency (by credit code)
    person = "person"  # name + ID number (stored encrypted, shown masked)


labels.define(
    SubjectKind,
    {
        "company": ("企业", "Company"),
        "agency": ("招标代理", "Agency"),
        "expert": ("评标专家", "Expert"),
        "person": ("个人", "Person"),
    },
)


class Status(enum.StrEnum):
    draft = "draft"
    notified = "notified"
    decided = "decided"  # outcome upheld or dismissed
    published = "published"
    expired = "expired"
    repaired = "repaired"
    revoked = "revoked"


labels.define(
    Status,
    {
        "draft": ("草稿", "Draft"),
        "notified": ("已告知", "Notified"),
        "decided": ("已决定", "Decided"),
        "published": ("公示中", "Published"),
        "expired": ("公示期满", "Expired"),
        "repaired": ("已信用修复", "Repaired"),
        "revoked": ("已撤销", "Revoked"),
    },
)


class Outcome(enum.StrEnum):
    upheld = "upheld"
    dismissed = "dismissed"


labels.define(Outcome, {"upheld": ("认定违规", "Upheld"), "dismissed": ("不予认定", "Dismissed")})


class ChangeKind(enum.StrEnum):
    published = "published"
    changed = "changed"
    repaired = "repaired"
    expired = "expired"
    revoked = "revoked"


labels.define(
    ChangeKind,
    {
        "published": ("公示", "Published"),
        "changed": ("更正", "Changed"),
        "repaired": ("信用修复", "Repaired"),
        "expired": ("公示期满", "Expired"),
        "revoked": ("撤销", "Revoked"),
    },
)


class RepairStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"


labels.define(
    RepairStatus,
    {
        "pending": ("待审核", "Awaiting review"),
        "approved": ("已批准", "Approved"),
        "refused": ("未批准", "Refused"),
    },
)


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting (maybe behind an earlier event of the same subject)
    delivered = "delivered"  # acknowledged by the receiver
    dead = "dead"  # given up after settings.credit.push_give_up_days: an admin may re-send


labels.define(
    DeliveryStatus,
    {
        "pending": ("等待推送", "Waiting"),
        "delivered": ("已送达", "Delivered"),
        "dead": ("已放弃", "Given up"),
    },
)


class DeliveryState(enum.StrEnum):
    """How a delivery reads on the page: a pending delivery whose last attempt failed is failing."""

    waiting = "waiting"
    failing = "failing"
    delivered = "delivered"
    dead = "dead"


labels.define(
    DeliveryState,
    {
        "waiting": ("等待推送", "Waiting"),
        "failing": ("推送失败，等待重试", "Failing, will retry"),
        "delivered": ("已送达", "Delivered"),
        "dead": ("已放弃（可重发）", "Given up (can be re-sent)"),
    },
)


class EvidenceKind(enum.StrEnum):
    """What an evidence link points at, as a supervisor knows it (each is a platform object)."""

    tender = "tender"
    lot = "lot"
    document = "document"
    organisation = "organisation"
    user = "user"
    record = "record"
    anomaly = "anomaly"


labels.define(
    EvidenceKind,
    {
        "tender": ("交易项目", "Tender"),
        "lot": ("标段（包）", "Lot"),
        "document": ("招标文件", "Tender document"),
        "organisation": ("企业或机构", "Company or organisation"),
        "user": ("平台用户（如评标专家）", "Platform user (an expert, say)"),
        "record": ("另一条信用记录", "Another credit record"),
        "anomaly": ("现场监管异常", "Site supervision anomaly"),
    },
)


class ViolationType(SQLModel, table=True):
    """The catalog (a data table, editable by admins; every edit audited)."""

    __tablename__ = "credit_violation_type"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name_zh: str = Field(max_length=120)
    name_en: str = Field(max_length=160)
    severity: Severity = Field(sa_type=sa.String(8))
    points: int
    publish_min_days: int = 0  # minor: never published (0/0)
    publish_max_days: int = 0
    blacklist_at_once: bool = False
    active: bool = True
    updated_at: dt.datetime = utc_field(default_now=True)


class Violation(SQLModel, table=True):
    """A violation record of one subject. Points and severity are copied from the catalog when the
    record is created, so later catalog edits do not rewrite history."""

    __tablename__ = "credit_violation"
    __table_args__ = (
        sa.Index("ix_credit_violation_public", "status", "decided_at", "id"),
        sa.Index("ix_credit_violation_subject_key_decided", "subject_key", "decided_at"),
        # public search (published records only), newest decision first; on PostgreSQL the first
        # also covers the name, type and severity filters so that they run as index-only scans
        sa.Index(
            "ix_credit_violation_pub_decided",
            "decided_at",
            "id",
            postgresql_include=["subject_name", "type_code", "severity"],
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
        sa.Index(
            "ix_credit_violation_pub_type",
            "type_code",
            "decided_at",
            "id",
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
        sa.Index(
            "ix_credit_violation_pub_severity",
            "severity",
            "decided_at",
            "id",
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
        sa.Index(
            "ix_credit_violation_pub_type_severity",
            "type_code",
            "severity",
            "decided_at",
            "id",
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
        # name search (LIKE '%…%'): see PublicName
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)  # same facts twice -> same record
    subject_kind: SubjectKind = Field(sa_type=sa.String(8))
    subject_key: str = Field(max_length=80)  # "code:<credit code>", "user:<id>", "id:<hmac>"
    subject_name: str = Field(max_length=200)
    subject_credit_code: str | None = Field(default=None, max_length=18, index=True)
    subject_user_id: int | None = Field(default=None, foreign_key="core_user.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="core_organisation.id", index=True)
    subject_id_enc: str | None = Field(default=None, max_length=200)  # ID number, SecretBox
    subject_id_masked: str | None = Field(default=None, max_length=18)
    type_id: int = Field(foreign_key="credit_violation_type.id")
    type_code: str = Field(max_length=40)
    severity: Severity = Field(sa_type=sa.String(8))
    points: int
    blacklists: bool = False  # copied from the type's blacklist_at_once
    facts: str = Field(sa_type=sa.Text())
    evidence: list[dict[str, Any]] = json_field(default_factory=list)
    occurred_at: dt.datetime | None = utc_field(nullable=True)
    status: Status = Field(default=Status.draft, sa_type=sa.String(10))
    outcome: Outcome | None = Field(default=None, sa_type=sa.String(10))
    decision_number: str | None = Field(default=None, max_length=80)
    decision_reasons: str | None = Field(default=None, sa_type=sa.Text())
    decision_doc_sha256: str | None = Field(default=None, max_length=64)
    notice_pdf_sha256: str | None = Field(default=None, max_length=64)  # disclosure notice (blob)
    publication_days: int | None = None
    notified_at: dt.datetime | None = utc_field(nullable=True)
    defence_due_at: dt.datetime | None = utc_field(nullable=True)
    decided_at: dt.datetime | None = utc_field(nullable=True)
    public_until: dt.datetime | None = utc_field(nullable=True)  # decided_at + publication_days
    published_at: dt.datetime | None = utc_field(nullable=True)
    expired_at: dt.datetime | None = utc_field(nullable=True)
    repaired_at: dt.datetime | None = utc_field(nullable=True)
    revoked_at: dt.datetime | None = utc_field(nullable=True)
    revoke_reason: str | None = Field(default=None, sa_type=sa.Text())
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = utc_field(default_now=True)
    updated_at: dt.datetime = utc_field(default_now=True)


class PublicName(SQLModel, table=True):
    """The name-search table of published records: one narrow row per published record
    (decision 0230), rewritten by the services that change it
    (:func:`credit.service.search_index.refresh_public_names`, decision 0231)."""

    __tablename__ = "credit_public_name"
    __table_args__ = (
        sa.Index(
            "ix_credit_public_name_trgm",
            "subject_name",
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
        ),
    )

    violation_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("credit_violation.id", ondelete="CASCADE"), primary_key=True
        )
    )
    subject_name: str = Field(max_length=200)
    decided_at: dt.datetime = utc_field()
    type_code: str = Field(max_length=40)
    severity: str = Field(max_length=8)


class Defence(SQLModel, table=True):
    """The subject's statement of defence (陈述申辩) while a record is notified."""

    __tablename__ = "credit_defence"

    id: int | None = Field(default=None, primary_key=True)
    violation_id: int = Field(foreign_key="credit_violation.id", index=True)
    submitted_by: str = Field(max_length=200)
    text: str = Field(sa_type=sa.Text())
    file_sha256: str | None = Field(default=None, max_length=64)
    file_name: str | None = Field(default=None, max_length=200)
    submitted_at: dt.datetime = utc_field(default_now=True)


class RepairApplication(SQLModel, table=True):
    """A credit-repair application (信用修复): rectification evidence + a public commitment."""

    __tablename__ = "credit_repair"

    id: int | None = Field(default=None, primary_key=True)
    violation_id: int = Field(foreign_key="credit_violation.id", index=True)
    submitted_by: str = Field(max_length=200)
    rectification: str = Field(sa_type=sa.Text())
    commitment: str = Field(sa_type=sa.Text())
    evidence: list[dict[str, Any]] = json_field(default_factory=list)
    status: RepairStatus = Field(default=RepairStatus.pending, sa_type=sa.String(10))
    reasons: str | None = Field(default=None, sa_type=sa.Text())
    decided_by: str | None = Field(default=None, max_length=200)
    submitted_at: dt.datetime = utc_field(default_now=True)
    decided_at: dt.datetime | None = utc_field(nullable=True)


class Change(SQLModel, table=True):
    """One entry of the public change feed: a record published, changed, repaired, expired or
    revoked. ``id`` is the feed cursor; ``payload`` is the public view at that moment."""

    __tablename__ = "credit_change"

    id: int | None = Field(default=None, primary_key=True)
    violation_id: int = Field(foreign_key="credit_violation.id", index=True)
    kind: ChangeKind = Field(sa_type=sa.String(10))
    subject_key: str = Field(max_length=80)
    occurred_at: dt.datetime = utc_field(index=True)
    payload: dict[str, Any] = json_field()


class Receiver(SQLModel, table=True):
    """An external credit platform that receives signed pushes of change-feed events."""

    __tablename__ = "credit_receiver"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    url: str = Field(max_length=500)
    events: list[str] = json_field(default_factory=list)  # ChangeKind values; empty = all
    key_id: str | None = Field(default=None, max_length=64)  # platform key expected by the receiver
    active: bool = True
    created_at: dt.datetime = utc_field(default_now=True)


class Delivery(SQLModel, table=True):
    """One change pushed to one receiver. Per (receiver, subject) deliveries go out in change
    order: one is not attempted while an earlier one for the same subject is unacknowledged."""

    __tablename__ = "credit_delivery"
    __table_args__ = (
        sa.UniqueConstraint("receiver_id", "change_id", name="uq_credit_delivery_receiver_change"),
        sa.Index("ix_credit_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_credit_delivery_subject", "receiver_id", "subject_key", "change_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receiver_id: int = Field(foreign_key="credit_receiver.id")
    change_id: int = Field(foreign_key="credit_change.id")
    subject_key: str = Field(max_length=80)
    idempotency_key: str = Field(max_length=80, unique=True)
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=sa.String(10))
    attempts: int = 0
    next_attempt_at: dt.datetime = utc_field()
    lease_until: dt.datetime | None = utc_field(nullable=True)
    first_attempt_at: dt.datetime | None = utc_field(nullable=True)
    delivered_at: dt.datetime | None = utc_field(nullable=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = utc_field(default_now=True)


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "credit_delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="credit_delivery.id", index=True)
    at: dt.datetime = utc_field()
    status_code: int | None = None
    ok: bool = False
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
