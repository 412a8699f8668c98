"""API input and output types of the credit domain (msgspec structs; never table models)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class EvidenceLink(msgspec.Struct, kw_only=True):
    type: str  # "object" | "file"
    object_type: str | None = None  # a table name, e.g. "supervision_anomaly"
    object_id: str | None = None
    sha256: str | None = None
    name: str | None = None
    size: int | None = None
    label: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class ViolationCreate(msgspec.Struct, kw_only=True):
    subject_kind: str  # company | expert | agency | person
    type_code: str
    facts: str
    credit_code: str | None = None
    subject_name: str | None = None
    user_id: int | None = None  # an expert on the platform
    id_number: str | None = None  # a person (stored encrypted)
    evidence: list[EvidenceLink] = []
    occurred_at: dt.datetime | None = None


class DecisionIn(msgspec.Struct, kw_only=True):
    outcome: str  # upheld | dismissed
    reasons: str
    decision_number: str | None = None
    publication_days: int | None = None
    decision_doc_sha256: str | None = None


class AmendIn(msgspec.Struct, kw_only=True):
    reason: str
    facts: str | None = None
    decision_number: str | None = None


class RevokeIn(msgspec.Struct, kw_only=True):
    reason: str


class DefenceIn(msgspec.Struct, kw_only=True):
    text: str
    file_sha256: str | None = None
    file_name: str | None = None


class RepairIn(msgspec.Struct, kw_only=True):
    rectification: str
    commitment: str
    evidence: list[EvidenceLink] = []


class RepairDecisionIn(msgspec.Struct, kw_only=True):
    approve: bool
    reasons: str = ""


class ViolationTypeIn(msgspec.Struct, kw_only=True):
    name_zh: str | None = None
    name_en: str | None = None
    severity: str | None = None
    points: int | None = None
    publish_min_days: int | None = None
    publish_max_days: int | None = None
    blacklist_at_once: bool | None = None
    active: bool | None = None


class ViolationTypeOut(msgspec.Struct, kw_only=True):
    code: str
    name_zh: str
    name_en: str
    severity: str
    points: int
    publish_min_days: int
    publish_max_days: int
    blacklist_at_once: bool
    active: bool


class ReceiverIn(msgspec.Struct, kw_only=True):
    name: str
    url: str
    events: list[str] = []
    active: bool = True
    key_id: str | None = None


class ReceiverOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    key_id: str | None


class PublicRecordOut(msgspec.Struct, kw_only=True):
    id: int
    subject_kind: str
    subject_name: str
    credit_code: str | None
    id_number_masked: str | None
    type_code: str
    type_name_zh: str
    type_name_en: str
    severity: str
    points: int
    facts: str
    decision_number: str | None
    decision_reasons: str | None
    decided_at: dt.datetime | None
    published_at: dt.datetime | None
    public_until: dt.datetime | None
    url: str


class RecordPageOut(msgspec.Struct, kw_only=True):
    items: list[PublicRecordOut]
    next_cursor: str | None


class ViolationOut(msgspec.Struct, kw_only=True):
    """A record as its subject and supervisors see it."""

    id: int
    status: str
    outcome: str | None
    subject_kind: str
    subject_key: str
    subject_name: str
    credit_code: str | None
    user_id: int | None
    id_number: str | None  # masked unless the caller is a supervisor
    type_code: str
    severity: str
    points: int
    facts: str
    evidence: list[dict[str, Any]]
    occurred_at: dt.datetime | None
    decision_number: str | None
    decision_reasons: str | None
    publication_days: int | None
    notified_at: dt.datetime | None
    defence_due_at: dt.datetime | None
    decided_at: dt.datetime | None
    public_until: dt.datetime | None
    published_at: dt.datetime | None
    expired_at: dt.datetime | None
    repaired_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime
    created: bool = False  # on create: False when the same facts were recorded before


class DefenceOut(msgspec.Struct, kw_only=True):
    id: int
    violation_id: int
    text: str
    file_sha256: str | None
    submitted_at: dt.datetime


class RepairOut(msgspec.Struct, kw_only=True):
    id: int
    violation_id: int
    rectification: str
    commitment: str
    evidence: list[dict[str, Any]]
    status: str
    reasons: str | None
    submitted_at: dt.datetime
    decided_at: dt.datetime | None


class StandingRecordOut(msgspec.Struct, kw_only=True):
    id: int
    type_code: str
    type_name_zh: str
    type_name_en: str
    severity: str
    points: int
    decided_at: dt.datetime
    counts: bool
    counts_until: dt.datetime
    lists: bool
    listed_until: dt.datetime | None


class StandingOut(msgspec.Struct, kw_only=True):
    subject_key: str
    tier: str
    points: int
    blacklisted: bool
    listing_until: dt.datetime | None
    explanation_zh: str
    explanation_en: str
    at: dt.datetime
    records: list[StandingRecordOut]


class ChangeOut(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    violation_id: int
    occurred_at: dt.datetime
    record: dict[str, Any]


class ChangePageOut(msgspec.Struct, kw_only=True):
    entries: list[ChangeOut]
    next_cursor: str


class BlacklistEntryOut(msgspec.Struct, kw_only=True):
    subject_kind: str
    name: str
    credit_code: str | None
    id_number_masked: str | None
    tier: str
    points: int
    listing_until: dt.datetime | None
    explanation_zh: str
    explanation_en: str


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: int
    receiver: str
    change_id: int
    kind: str
    violation_id: int
    subject_key: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None


class UploadOut(msgspec.Struct, kw_only=True):
    sha256: str
    size: int
    name: str
