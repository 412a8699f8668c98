"""Read models: what the API and pages show of a tender (never the table rows themselves)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation
from tenderhall.auth.principal import Principal
from trading import live
from trading.exceptions import TenderNotFound
from trading.models import (
    Amendment,
    Category,
    DocumentType,
    EvaluationMethod,
    Lot,
    LotState,
    Method,
    OcdsRelease,
    Tender,
    TenderState,
)
from trading.schemas import AmendmentOut, ClarificationOut, DocumentOut, LotOut, TenderOut
from trading.service.clarifications import public_clarifications
from trading.service.documents import documents_of
from trading.service.tender_access import can_manage, get_tender
from trading.words import WORDS


def tender_view(session: Session, actor: Principal, tender_id: int) -> TenderOut:
    """The tender as ``actor`` may see it: drafts only for their tenderee and agency."""
    t = get_tender(session, tender_id)
    if t.state == TenderState.draft and not can_manage(session, actor, t):
        raise TenderNotFound(f"找不到招标项目 {tender_id}", f"Tender {tender_id} does not exist")
    return tender_out(session, t)


def tender_out(session: Session, t: Tender) -> TenderOut:
    tenderee = session.get(Organisation, t.tenderee_org_id)
    agency = session.get(Organisation, t.agency_org_id) if t.agency_org_id else None
    lots = (
        session.execute(sa.select(Lot).where(col(Lot.tender_id) == t.id).order_by(col(Lot.number)))
        .scalars()
        .all()
    )
    amendments = (
        session.execute(
            sa.select(Amendment).where(col(Amendment.tender_id) == t.id).order_by(col(Amendment.number))
        )
        .scalars()
        .all()
    )
    return TenderOut(
        id=t.id,  # type: ignore[arg-type]
        reference=t.reference,
        ocid=t.ocid,
        title=t.title,
        category=Category(t.category),
        method=Method(t.method),
        region=t.region,
        state=TenderState(t.state),
        budget_fen=t.budget_fen,
        published_at=t.published_at,
        bid_deadline_at=t.bid_deadline_at,
        tenderee=tenderee.name if tenderee else "",
        description=t.description,
        announcement=t.announcement,
        announcement_pdf_ready=t.announcement_sha256 is not None,
        government_investment=t.government_investment,
        funding_source=t.funding_source,
        ceiling_price_fen=t.ceiling_price_fen,
        duration_days=t.duration_days,
        evaluation_method=EvaluationMethod(t.evaluation_method),
        opening_custodians=list(t.opening_custodians),
        bid_bond_fen=t.bid_bond_fen,
        bond_waived=t.bond_waived,
        bond_rule=t.bond_rule,
        agency=agency.name if agency else None,
        cancel_reason=t.cancel_reason,
        failed_reason=t.failed_reason,
        version=t.version,
        retender_of_id=t.retender_of_id,
        lots=[
            LotOut(
                id=x.id,  # type: ignore[arg-type]
                number=x.number,
                title=x.title,
                description=x.description,
                budget_fen=x.budget_fen,  # type: ignore[arg-type]
                ceiling_price_fen=x.ceiling_price_fen,
                duration_days=x.duration_days,
                bid_bond_fen=x.bid_bond_fen,
                state=LotState(x.state),
                failed_reason=x.failed_reason,
            )
            for x in lots
        ],
        documents=[
            DocumentOut(
                id=d.id,  # type: ignore[arg-type]
                name=d.name,
                filename=d.filename,
                version=d.version,  # type: ignore[arg-type]
                document_type=DocumentType(d.document_type),
                sha256=d.sha256,
                size=d.size,
                uploaded_at=d.uploaded_at,
                current=d.superseded_at is None,
                lot_id=d.lot_id,
            )
            for d in documents_of(session, t.id)  # type: ignore[arg-type]
        ],
        clarifications=[
            ClarificationOut(
                id=c.id,  # type: ignore[arg-type]
                question=c.question,
                answer=c.answer,
                asked_at=c.asked_at,  # type: ignore[arg-type]
                answered_at=c.answered_at,
                lot_id=c.lot_id,
            )
            for c in public_clarifications(session, t.id)  # type: ignore[arg-type]
        ],
        amendments=[
            AmendmentOut(
                id=a.id,  # type: ignore[arg-type]
                number=a.number,
                reason=a.reason,
                changes=a.changes,  # type: ignore[arg-type]
                deadline_before=a.deadline_before,
                deadline_after=a.deadline_after,
                created_at=a.created_at,
            )
            for a in amendments
        ],
    )


def timeline(session: Session, tender_id: int) -> list[OcdsRelease]:
    """The public history of a tender: its releases, oldest first."""
    return list(
        session.execute(
            sa.select(OcdsRelease)
            .where(col(OcdsRelease.tender_id) == tender_id)
            .order_by(col(OcdsRelease.id))
        ).scalars()
    )


def tender_page(session: Session, actor: Principal, tender_id: int) -> dict[str, Any]:
    """The public tender page: the tender as ``actor`` may see it, its public history, and the
    last event id before it was read (what commits after it reaches the page live)."""
    after = live.watch_from(session)
    return {
        "t": tender_view(session, actor, tender_id),
        "timeline": timeline(session, tender_id),
        "live_after": after,
        "words": WORDS,
    }
