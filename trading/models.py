"""Trading tables: tenders and lots, the per-procedure settings, documents and their downloads,
amendments, clarifications, bidder notifications and the Open Contracting releases.

Organisations are the kernel's ``core_organisation`` (tenderees, agencies, bidders); there is no
second organisation table.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from tenderhall import labels
from tenderhall.db import UTCDateTime, json_field, utc_field


class TenderState(enum.StrEnum):
    draft = "draft"
    published = "published"
    amended = "amended"
    closed = "closed"  # deadline passed
    opening = "opening"
    evaluating = "evaluating"
    publicised = "publicised"  # 中标候选人公示
    awarded = "awarded"
    contracted = "contracted"
    in_performance = "in_performance"
    completed = "completed"
    cancelled = "cancelled"
    failed = "failed"  # 流标


STATE_LABELS: dict[TenderState, tuple[str, str]] = {
    TenderState.draft: ("草稿", "Draft"),
    TenderState.published: ("招标中", "Published"),
    TenderState.amended: ("招标中（已变更）", "Published (amended)"),
    TenderState.closed: ("已截标", "Closed"),
    TenderState.opening: ("开标中", "Opening"),
    TenderState.evaluating: ("评标中", "Evaluating"),
    TenderState.publicised: ("中标候选人公示", "Candidates publicised"),
    TenderState.awarded: ("已定标", "Awarded"),
    TenderState.contracted: ("已签约", "Contracted"),
    TenderState.in_performance: ("履约中", "In performance"),
    TenderState.completed: ("已完成", "Completed"),
    TenderState.cancelled: ("已终止", "Cancelled"),
    TenderState.failed: ("流标", "Failed"),
}
labels.define(TenderState, STATE_LABELS)

#: The checked transitions table: every state change goes through it (service.transition).
TRANSITIONS: dict[TenderState, frozenset[TenderState]] = {
    TenderState.draft: frozenset({TenderState.published, TenderState.cancelled}),
    TenderState.published: frozenset({TenderState.amended, TenderState.closed, TenderState.cancelled}),
    TenderState.amended: frozenset({TenderState.amended, TenderState.closed, TenderState.cancelled}),
    TenderState.closed: frozenset({TenderState.opening, TenderState.failed, TenderState.cancelled}),
    TenderState.opening: frozenset({TenderState.evaluating, TenderState.failed, TenderState.cancelled}),
    TenderState.evaluating: frozenset({TenderState.publicised, TenderState.failed, TenderState.cancelled}),
    TenderState.publicised: frozenset({TenderState.awarded, TenderState.evaluating, TenderState.cancelled}),
    TenderState.awarded: frozenset({TenderState.contracted, TenderState.cancelled}),
    TenderState.contracted: frozenset({TenderState.in_performance}),
    TenderState.in_performance: frozenset({TenderState.completed}),
    TenderState.completed: frozenset(),
    TenderState.cancelled: frozenset(),
    TenderState.failed: frozenset(),
}

#: States in which bids may still arrive and the tender documents may be amended.
OPEN_STATES = frozenset({TenderState.published, TenderState.amended})
#: States from which the list of downloading companies may be shown to the tenderee.
AFTER_OPENING = frozenset(
    {
        TenderState.opening,
        TenderState.evaluating,
        TenderState.publicised,
        TenderState.awarded,
        TenderState.contracted,
        TenderState.in_performance,
        TenderState.completed,
        TenderState.failed,
    }
)


class Category(enum.StrEnum):
    works = "works"  # 工程
    goods = "goods"  # 货物
    services = "services"  # 服务


CATEGORY_LABELS = {
    Category.works: ("工程", "Works"),
    Category.goods: ("货物", "Goods"),
    Category.services: ("服务", "Services"),
}
labels.define(Category, CATEGORY_LABELS)


class Method(enum.StrEnum):
    open = "open"  # 公开招标
    invited = "invited"  # 邀请招标
    competitive_negotiation = "competitive_negotiation"  # 竞争性谈判
    competitive_consultation = "competitive_consultation"  # 竞争性磋商
    inquiry = "inquiry"  # 询价
    single_source = "single_source"  # 单一来源


METHOD_LABELS = {
    Method.open: ("公开招标", "Open tender"),
    Method.invited: ("邀请招标", "Invited tender"),
    Method.competitive_negotiation: ("竞争性谈判", "Competitive negotiation"),
    Method.competitive_consultation: ("竞争性磋商", "Competitive consultation"),
    Method.inquiry: ("询价", "Request for quotations"),
    Method.single_source: ("单一来源", "Single source"),
}
labels.define(Method, METHOD_LABELS)


class EvaluationMethod(enum.StrEnum):
    comprehensive = "comprehensive"  # 综合评估法
    lowest_price = "lowest_price"  # 经评审的最低投标价法


EVALUATION_LABELS = {
    EvaluationMethod.comprehensive: ("综合评估法", "Comprehensive scoring"),
    EvaluationMethod.lowest_price: ("经评审的最低投标价法", "Lowest evaluated price"),
}
labels.define(EvaluationMethod, EVALUATION_LABELS)


class LotState(enum.StrEnum):
    active = "active"
    failed = "failed"  # 流标
    cancelled = "cancelled"
    complete = "complete"


labels.define(
    LotState,
    {
        LotState.active: ("进行中", "Active"),
        LotState.failed: ("流标", "Failed"),
        LotState.cancelled: ("已终止", "Cancelled"),
        LotState.complete: ("已完成", "Complete"),
    },
)


class BondRule(enum.StrEnum):
    """Why a tender's bid bond is waived (DOMAIN §5; decision 0107). Stored on the tender."""

    government_works = "government_works"  # 政府投资工程：免收投标保证金和履约保证金
    tenderee_waives = "tenderee_waives"  # 招标人决定不收取投标保证金


BOND_RULE_LABELS = {
    BondRule.government_works: (
        "政府投资工程免收投标保证金和履约保证金",
        "Government-investment works: no bid bond or performance bond is collected",
    ),
    BondRule.tenderee_waives: ("招标人决定不收取投标保证金", "The tenderee does not require a bid bond"),
}
labels.define(BondRule, BOND_RULE_LABELS)


class DocumentType(enum.StrEnum):
    """A tender document's type: the OCDS documentType code."""

    biddingDocuments = "biddingDocuments"
    technicalSpecifications = "technicalSpecifications"
    evaluationCriteria = "evaluationCriteria"
    billOfQuantity = "billOfQuantity"
    eligibilityCriteria = "eligibilityCriteria"
    contractDraft = "contractDraft"
    clarifications = "clarifications"


DOCUMENT_TYPE_LABELS = {
    DocumentType.biddingDocuments: ("招标文件", "Bidding documents"),
    DocumentType.technicalSpecifications: ("技术规范", "Technical specifications"),
    DocumentType.evaluationCriteria: ("评标办法", "Evaluation criteria"),
    DocumentType.billOfQuantity: ("工程量清单", "Bill of quantity"),
    DocumentType.eligibilityCriteria: ("资格条件", "Eligibility criteria"),
    DocumentType.contractDraft: ("合同条款", "Contract draft"),
    DocumentType.clarifications: ("澄清文件", "Clarifications"),
}
labels.define(DocumentType, DOCUMENT_TYPE_LABELS)


class ReleaseTag(enum.StrEnum):
    """The OCDS release tags a tender's timeline shows (the releaseTag codelist)."""

    planning = "planning"
    tender = "tender"
    tenderAmendment = "tenderAmendment"
    tenderUpdate = "tenderUpdate"
    tenderCancellation = "tenderCancellation"
    award = "award"
    awardUpdate = "awardUpdate"
    awardCancellation = "awardCancellation"
    contract = "contract"
    contractUpdate = "contractUpdate"
    contractAmendment = "contractAmendment"
    implementation = "implementation"
    implementationUpdate = "implementationUpdate"
    contractTermination = "contractTermination"
    compiled = "compiled"


labels.define(
    ReleaseTag,
    {
        ReleaseTag.planning: ("项目计划", "Planning"),
        ReleaseTag.tender: ("招标公告", "Tender notice"),
        ReleaseTag.tenderAmendment: ("变更公告", "Tender amendment"),
        ReleaseTag.tenderUpdate: ("招标信息更新", "Tender update"),
        ReleaseTag.tenderCancellation: ("终止公告", "Tender cancellation"),
        ReleaseTag.award: ("结果公告", "Award"),
        ReleaseTag.awardUpdate: ("结果更新", "Award update"),
        ReleaseTag.awardCancellation: ("结果撤销", "Award cancellation"),
        ReleaseTag.contract: ("合同公告", "Contract"),
        ReleaseTag.contractUpdate: ("合同更新", "Contract update"),
        ReleaseTag.contractAmendment: ("合同变更", "Contract amendment"),
        ReleaseTag.implementation: ("履约", "Implementation"),
        ReleaseTag.implementationUpdate: ("履约更新", "Implementation update"),
        ReleaseTag.contractTermination: ("合同终止", "Contract termination"),
        ReleaseTag.compiled: ("汇编记录", "Compiled record"),
    },
)


class AmendedField(enum.StrEnum):
    """The fields an amendment (变更公告) may change, as its ``changes`` names them."""

    title_ = "title"  # (``title`` would hide str.title)
    description = "description"
    announcement = "announcement"
    budget_fen = "budget_fen"
    ceiling_price_fen = "ceiling_price_fen"
    duration_days = "duration_days"
    bid_deadline_at = "bid_deadline_at"
    bid_bond_fen = "bid_bond_fen"
    bond_rule = "bond_rule"


labels.define(
    AmendedField,
    {
        AmendedField.title_: ("项目名称", "Title"),
        AmendedField.description: ("项目概况", "Description"),
        AmendedField.announcement: ("公告正文", "Announcement text"),
        AmendedField.budget_fen: ("预算金额", "Budget"),
        AmendedField.ceiling_price_fen: ("最高投标限价", "Ceiling price"),
        AmendedField.duration_days: ("工期/服务期（天）", "Duration (days)"),
        AmendedField.bid_deadline_at: ("投标截止时间", "Bid deadline"),
        AmendedField.bid_bond_fen: ("投标保证金", "Bid bond"),
        AmendedField.bond_rule: ("保证金免收规则", "Bond waiver rule"),
    },
)


class NotificationKind(enum.StrEnum):
    clarification = "clarification"
    amendment = "amendment"


labels.define(
    NotificationKind,
    {
        NotificationKind.clarification: ("澄清/答疑", "Clarification"),
        NotificationKind.amendment: ("变更公告", "Amendment"),
    },
)


class ProcedureSettings(SQLModel, table=True):
    """Per-procedure rules (as Prozorro keeps them), seeded from ``settings.trading``, editable
    by admins."""

    __tablename__ = "trading_procedure_settings"

    method: str = Field(primary_key=True, max_length=40)
    min_tender_days: int
    min_valid_bids: int
    clarification_cutoff_days: int
    publicity_days: int
    decryption_window_minutes: int
    objection_window_minutes: int
    opening_threshold: int = Field(
        default=2, sa_column_kwargs={"server_default": "2"}
    )  # k of the opening shares
    updated_at: dt.datetime = utc_field(default_now=True)
    updated_by: str | None = Field(default=None, max_length=200)


class Tender(SQLModel, table=True):
    __tablename__ = "trading_tender"
    __table_args__ = (
        sa.Index("ix_trading_tender_public_order", "published_at", "id"),
        sa.Index("ix_trading_tender_category_published", "category", "published_at"),
        sa.Index("ix_trading_tender_method_published", "method", "published_at"),
        sa.Index("ix_trading_tender_region_published", "region", "published_at"),
        sa.Index("ix_trading_tender_state_published", "state", "published_at"),
        # keyword search: a trigram GIN index on PostgreSQL (pg_trgm; CJK works under a UTF-8
        # ctype); on SQLite a plain index (search scans the bounded, date-ordered range).
        sa.Index(
            "ix_trading_tender_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, unique=True)  # 招标编号, e.g. TH-2026-000123
    ocid: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=sa.Text())
    announcement: str = Field(default="", sa_type=sa.Text())  # 公告正文
    category: Category = Field(sa_type=sa.String(16))
    method: Method = Field(sa_type=sa.String(40))
    government_investment: bool = False
    funding_source: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=64)
    tenderee_org_id: int = Field(foreign_key="core_organisation.id", index=True)
    agency_org_id: int | None = Field(default=None, foreign_key="core_organisation.id", index=True)
    budget_fen: int = Field(sa_type=sa.BigInteger())  # fen: tens of millions of yuan exceed int32
    ceiling_price_fen: int | None = Field(default=None, sa_type=sa.BigInteger())  # 最高投标限价
    duration_days: int
    evaluation_method: EvaluationMethod = Field(sa_type=sa.String(20))
    bid_deadline_at: dt.datetime = utc_field()  # = opening time
    opening_custodians: list[str] = json_field(default_factory=list)  # roles holding key shares
    bid_bond_fen: int | None = Field(default=None, sa_type=sa.BigInteger())
    bond_waived: bool = False
    bond_rule: str = Field(default="", max_length=200)
    state: TenderState = Field(default=TenderState.draft, sa_type=sa.String(20))
    state_changed_at: dt.datetime = utc_field(default_now=True)
    published_at: dt.datetime | None = utc_field(nullable=True)
    closed_at: dt.datetime | None = utc_field(nullable=True)
    cancelled_at: dt.datetime | None = utc_field(nullable=True)
    cancel_reason: str | None = Field(default=None, max_length=1000)
    failed_reason: str | None = Field(default=None, max_length=1000)
    amendment_count: int = 0
    announcement_sha256: str | None = Field(default=None, max_length=64)  # rendered 招标公告 PDF (blob)
    retender_of_id: int | None = Field(default=None, foreign_key="trading_tender.id")
    created_by_user_id: int | None = Field(default=None, foreign_key="core_user.id")
    created_at: dt.datetime = utc_field(default_now=True)
    updated_at: dt.datetime = utc_field(default_now=True)
    version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # optimistic concurrency: UPDATE … WHERE version = :seen; a lost race raises StaleDataError
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class TenderTerm(SQLModel, table=True):
    """The search table of published tenders: one row per distinct title term (CJK character
    bigrams, lower-cased latin words and digit runs), ordered by publication within a term, carrying
    everything a public search filters on (the lower-cased title for the exact keyword check, the
    state kept in step by the service, category, method, region), so a search reads one term's
    range newest-first from one table and stops at the page (SQLite: a clustered WITHOUT ROWID
    table; PostgreSQL: the primary-key index)."""

    __tablename__ = "trading_tender_term"
    __table_args__ = ({"sqlite_with_rowid": False},)

    term: str = Field(primary_key=True, max_length=32)
    published_at: dt.datetime = Field(primary_key=True, sa_type=UTCDateTime())
    tender_id: int = Field(primary_key=True, foreign_key="trading_tender.id", index=True)
    title_lc: str = Field(max_length=300)
    state: str = Field(max_length=20)
    category: str = Field(max_length=16)
    method: str = Field(max_length=40)
    region: str = Field(default="", max_length=64)


class TermStat(SQLModel, table=True):
    """How many postings each term has in ``trading_tender_term``, kept in step by the indexer in
    the same transaction, so that a search picks its rarest term with primary-key reads instead of
    counting postings."""

    __tablename__ = "trading_term_stat"

    term: str = Field(primary_key=True, max_length=32)
    postings: int = Field(default=0)


class Lot(SQLModel, table=True):
    __tablename__ = "trading_lot"
    __table_args__ = (sa.UniqueConstraint("tender_id", "number", name="uq_trading_lot_tender_number"),)

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    number: int  # 1, 2, … within the tender (标段号)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=sa.Text())
    budget_fen: int = Field(sa_type=sa.BigInteger())  # fen: tens of millions of yuan exceed int32
    ceiling_price_fen: int | None = Field(default=None, sa_type=sa.BigInteger())
    duration_days: int | None = None
    bid_bond_fen: int | None = Field(default=None, sa_type=sa.BigInteger())
    state: LotState = Field(default=LotState.active, sa_type=sa.String(16))
    failed_reason: str | None = Field(default=None, max_length=1000)
    failed_at: dt.datetime | None = utc_field(nullable=True)
    retendered_as_id: int | None = Field(default=None, foreign_key="trading_tender.id")


class Document(SQLModel, table=True):
    """A version of a tender document; the bytes live in the blob store under their SHA-256."""

    __tablename__ = "trading_document"
    __table_args__ = (
        sa.UniqueConstraint("tender_id", "name", "version", name="uq_trading_document_tender_name_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="trading_lot.id")
    name: str = Field(max_length=200)  # the document's title; versions share it
    filename: str = Field(max_length=255)
    version: int = 1
    document_type: str = Field(default="biddingDocuments", max_length=40)  # OCDS documentType
    sha256: str = Field(max_length=64, index=True)
    size: int
    content_type: str = Field(default="application/octet-stream", max_length=100)
    amendment_id: int | None = Field(default=None, foreign_key="trading_amendment.id")
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="core_user.id")
    uploaded_at: dt.datetime = utc_field(default_now=True)
    superseded_at: dt.datetime | None = utc_field(nullable=True)


class DocumentDownload(SQLModel, table=True):
    """A bidder's download of a tender document (kept from the tenderee and public until opening)."""

    __tablename__ = "trading_document_download"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="trading_document.id", index=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    organisation_id: int = Field(foreign_key="core_organisation.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="core_user.id")
    downloaded_at: dt.datetime = utc_field(default_now=True)


class Amendment(SQLModel, table=True):
    """A published change (变更公告): fields changed, documents replaced, deadline moved."""

    __tablename__ = "trading_amendment"
    __table_args__ = (sa.UniqueConstraint("tender_id", "number", name="uq_trading_amendment_tender_number"),)

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    number: int
    reason: str = Field(max_length=2000)
    changes: dict[str, Any] = json_field()  # {field: [old, new]}
    deadline_before: dt.datetime = utc_field()
    deadline_after: dt.datetime = utc_field()
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = utc_field(default_now=True)


class Clarification(SQLModel, table=True):
    """A bidder's question and the tenderee's answer, or a clarification the tenderee issues itself.

    ``asked_by_org_id`` is kept for the record and supervisors only: the tenderee never sees who asked.
    """

    __tablename__ = "trading_clarification"

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="trading_lot.id")
    question: str = Field(default="", sa_type=sa.Text())
    asked_by_org_id: int | None = Field(default=None, foreign_key="core_organisation.id")
    asked_at: dt.datetime | None = utc_field(nullable=True)
    answer: str | None = Field(default=None, sa_type=sa.Text())
    answered_at: dt.datetime | None = utc_field(nullable=True)
    answered_by: str | None = Field(default=None, max_length=200)
    amendment_id: int | None = Field(default=None, foreign_key="trading_amendment.id")


class Notification(SQLModel, table=True):
    """A message to a bidder organisation (one row per bidder and event: the job is idempotent)."""

    __tablename__ = "trading_notification"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "kind", "ref_id", name="uq_trading_notification_org_kind_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="core_organisation.id", index=True)
    tender_id: int = Field(foreign_key="trading_tender.id")
    kind: str = Field(max_length=20)  # clarification | amendment
    ref_id: int
    title_zh: str = Field(max_length=400)
    title_en: str = Field(max_length=400)
    created_at: dt.datetime = utc_field(default_now=True)
    read_at: dt.datetime | None = utc_field(nullable=True)


class OcdsRelease(SQLModel, table=True):
    """Every public change as an OCDS 1.1 release (a full snapshot); ``id`` is the feed cursor."""

    __tablename__ = "trading_ocds_release"

    id: int | None = Field(default=None, primary_key=True)
    ocid: str = Field(max_length=80, index=True)
    release_id: str = Field(max_length=120, unique=True)
    tender_id: int = Field(foreign_key="trading_tender.id", index=True)
    tags: list[str] = json_field(default_factory=list)
    summary_zh: str = Field(max_length=400)
    summary_en: str = Field(max_length=400)
    date: dt.datetime = utc_field()
    data: dict[str, Any] = json_field()


class Mandate(SQLModel, table=True):
    """A tenderee's mandate (委托代理) to an agency: the agency may run the tenderee's tenders
    (create, edit, publish, amend, clarify, cancel, close) while the mandate is live. Scoped to
    one tender when ``tender_id`` is set, else to every tender of the tenderee. Ended, never
    deleted: who granted and who ended it stay on record (and in the audit chain)."""

    __tablename__ = "trading_mandate"
    __table_args__ = (
        sa.Index("ix_trading_mandate_pair_live", "tenderee_org_id", "agency_org_id", "ended_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenderee_org_id: int = Field(foreign_key="core_organisation.id", index=True)
    agency_org_id: int = Field(foreign_key="core_organisation.id", index=True)
    tender_id: int | None = Field(default=None, foreign_key="trading_tender.id")
    note: str = Field(default="", max_length=500)
    granted_at: dt.datetime = utc_field(default_now=True)
    granted_by_user_id: int | None = Field(default=None, foreign_key="core_user.id")
    granted_by: str = Field(max_length=200)
    ended_at: dt.datetime | None = utc_field(nullable=True)
    ended_by_user_id: int | None = Field(default=None, foreign_key="core_user.id")
    ended_by: str | None = Field(default=None, max_length=200)
    end_reason: str | None = Field(default=None, max_length=500)


from trading.bids import models as _bid_models  # noqa: E402,F401  (the bid tables)
from trading.opening import models as _opening_models  # noqa: E402,F401  (the opening tables)
