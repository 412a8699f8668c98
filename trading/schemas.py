"""Input and output types of the trading API and service (never table models)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from trading import regions


@dataclass
class LotFields:
    title: str
    budget_fen: int | None
    description: str = ""
    ceiling_price_fen: int | None = None
    duration_days: int | None = None
    bid_bond_fen: int | None = None


@dataclass
class TenderFields:
    """Everything a tenderee or agency fills in for a tender (create, edit draft)."""

    title: str
    category: str
    method: str
    budget_fen: int | None
    duration_days: int | None
    evaluation_method: str
    bid_deadline_at: dt.datetime | None
    tenderee_org_id: int | None = None  # defaults to the caller's organisation when a tenderee
    agency_org_id: int | None = None
    description: str = ""
    announcement: str = ""
    government_investment: bool = False
    funding_source: str = ""
    region: str = ""
    ceiling_price_fen: int | None = None
    opening_custodians: list[str] = field(default_factory=lambda: ["supervisor", "tenderee", "agency"])
    bid_bond_fen: int | None = None
    bond_waived: bool = False
    bond_rule: str = ""
    lots: list[LotFields] = field(default_factory=list)


#: Fields an amendment may change (the deadline through ``bid_deadline_at``).
AMENDABLE_FIELDS = (
    "title",
    "description",
    "announcement",
    "budget_fen",
    "ceiling_price_fen",
    "duration_days",
    "bid_deadline_at",
    "bid_bond_fen",
    "bond_rule",
)


@dataclass
class AmendmentIn:
    reason: str
    version: int  # the tender version the change was made against (optimistic check)
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class VersionIn:
    version: int | None = None


@dataclass
class CancelIn:
    reason: str
    version: int | None = None


@dataclass
class LotFailIn:
    reason: str
    valid_bids: int


@dataclass
class QuestionIn:
    question: str
    lot_id: int | None = None


@dataclass
class AnswerIn:
    answer: str
    new_deadline_at: dt.datetime | None = None


@dataclass
class ClarificationIn:
    text: str
    new_deadline_at: dt.datetime | None = None


@dataclass
class RegisterBidderIn:
    """A company registers itself by proving it holds its signing certificate: ``signature`` is
    base64 of a signature over ``b"TenderHall bidder registration v1\n" + nonce`` (nonce from
    ``POST /api/auth/certificate/nonce``) with the key of ``certificate_pem``, whose subject
    carries ``credit_code``."""

    credit_code: str
    name: str
    username: str
    display_name: str
    region: str = ""
    address: str = ""
    contact_phone: str = ""
    certificate_pem: str = ""
    signature: str = ""
    nonce: str = ""
    intermediates: list[str] = field(default_factory=list)


@dataclass
class OrganisationIn:
    credit_code: str
    name: str
    kind: str
    region: str = ""
    address: str = ""
    contact_phone: str = ""


@dataclass
class OrganisationOut:
    id: int
    credit_code: str
    name: str
    kind: str
    region: str | None


@dataclass
class RegisteredOut:
    organisation: OrganisationOut
    user_id: int
    username: str


@dataclass
class ProcedureSettingsIn:
    min_tender_days: int
    min_valid_bids: int
    clarification_cutoff_days: int
    publicity_days: int
    decryption_window_minutes: int
    objection_window_minutes: int


@dataclass
class ProcedureSettingsOut(ProcedureSettingsIn):
    method: str = ""


@dataclass
class LotOut:
    id: int
    number: int
    title: str
    description: str
    budget_fen: int
    ceiling_price_fen: int | None
    duration_days: int | None
    bid_bond_fen: int | None
    state: str
    failed_reason: str | None


@dataclass
class DocumentOut:
    id: int
    name: str
    filename: str
    version: int
    document_type: str
    sha256: str
    size: int
    uploaded_at: dt.datetime
    current: bool
    lot_id: int | None


@dataclass
class ClarificationOut:
    id: int
    question: str
    answer: str | None
    asked_at: dt.datetime | None
    answered_at: dt.datetime | None
    lot_id: int | None


@dataclass
class AmendmentOut:
    id: int
    number: int
    reason: str
    changes: dict[str, Any]
    deadline_before: dt.datetime
    deadline_after: dt.datetime
    created_at: dt.datetime


@dataclass
class TenderSummary:
    id: int
    reference: str
    ocid: str
    title: str
    category: str
    method: str
    region: str
    state: str
    budget_fen: int
    published_at: dt.datetime | None
    bid_deadline_at: dt.datetime
    tenderee: str

    @property
    def region_name(self) -> str:
        """The region in the reader's language (the API gives the code, ``region``)."""
        return regions.label(self.region)


@dataclass
class TenderOut(TenderSummary):
    description: str = ""
    announcement: str = ""
    announcement_pdf_ready: bool = False
    government_investment: bool = False
    funding_source: str = ""
    ceiling_price_fen: int | None = None
    duration_days: int = 0
    evaluation_method: str = ""
    opening_custodians: list[str] = field(default_factory=list)
    bid_bond_fen: int | None = None
    bond_waived: bool = False
    bond_rule: str = ""
    agency: str | None = None
    cancel_reason: str | None = None
    failed_reason: str | None = None
    version: int = 1
    retender_of_id: int | None = None
    lots: list[LotOut] = field(default_factory=list)
    documents: list[DocumentOut] = field(default_factory=list)
    clarifications: list[ClarificationOut] = field(default_factory=list)
    amendments: list[AmendmentOut] = field(default_factory=list)


@dataclass
class SearchPage:
    items: list[TenderSummary]
    page: int
    page_size: int
    total: int
    total_capped: bool  # True: ``total`` is a lower bound ("1000+")
    has_next: bool


@dataclass
class DownloadOut:
    organisation_id: int
    organisation: str
    credit_code: str
    document: str
    downloaded_at: dt.datetime


@dataclass
class QuestionOut:
    """What the tenderee sees of a question: never who asked."""

    id: int
    question: str
    asked_at: dt.datetime | None
    answer: str | None
    answered_at: dt.datetime | None


@dataclass
class NotificationOut:
    id: int
    tender_id: int
    kind: str
    title: str
    created_at: dt.datetime
    read: bool


@dataclass
class MandateIn:
    agency_org_id: int
    tender_id: int | None = None  # None: every tender of the tenderee
    note: str = ""


@dataclass
class MandateEndIn:
    reason: str = ""


@dataclass
class MandateOut:
    id: int
    tenderee_org_id: int
    tenderee: str
    agency_org_id: int
    agency: str
    tender_id: int | None
    note: str
    granted_at: dt.datetime
    granted_by: str
    ended_at: dt.datetime | None
    ended_by: str | None
    end_reason: str | None
    live: bool
