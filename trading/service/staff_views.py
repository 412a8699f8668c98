"""What the staff pages (/manage) show: a tender for its manager, the tender form's choices, the
mandates page. Each checks the right to see it; none writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall import labels
from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.web.listing import Listing
from trading.models import AFTER_OPENING, Category, DocumentType, Tender, TenderState
from trading.service import clarifications, documents, mandates, organisations, views
from trading.service.tender_access import get_tender, require_manager
from trading.words import WORDS

MAX_LOT_ROWS = 5  # lot rows on the tender form


def form_choices(session: Session, actor: Principal, tender: Tender | None = None) -> dict[str, Any]:
    """The form's choices: an agency picks among the tenderees that mandated it, a tenderee among
    the agencies it mandated (a tender's fixed tenderee is always offered on its own edit form)."""
    offered = mandates.mandating_organisations(session, actor)
    tenderees = offered if actor.role == Role.agency else []
    if tender is not None and tender.tenderee_org_id not in {o.id for o in tenderees}:
        own = session.get(Organisation, tender.tenderee_org_id)
        tenderees = [own, *tenderees] if own is not None else tenderees
    return {
        "tenderees": tenderees,
        "agencies": offered if actor.role == Role.tenderee else [],
        "lot_rows": MAX_LOT_ROWS,
    }


#: The staff list's sortable columns (the first breaks ties).
MANAGED_SORTS = {
    "id": col(Tender.id),
    "updated": col(Tender.updated_at),
    "deadline": col(Tender.bid_deadline_at),
    "title": col(Tender.title),
    "state": col(Tender.state),
    "budget": col(Tender.budget_fen),
}


def managed_listing(query: Mapping[str, str]) -> Listing:
    return Listing.from_query(
        query, sorts=list(MANAGED_SORTS), default="updated", desc=True, filters=("state", "category")
    )


def managed_list(session: Session, actor: Principal, listing: Listing) -> tuple[list[Tender], Listing]:
    """One page of the tenders ``actor`` manages: searched by title or reference, filtered by
    state and category, sorted by a listed column."""
    stmt = mandates.managed_tenders_select(actor)
    if stmt is None:
        return [], listing
    if listing.q:
        like = "%" + listing.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(col(Tender.title).ilike(like, escape="\\"), col(Tender.reference).ilike(like, escape="\\"))
        )
    state, category = listing.filter("state"), listing.filter("category")
    if state in {s.value for s in TenderState}:
        stmt = stmt.where(col(Tender.state) == state)
    if category in {c.value for c in Category}:
        stmt = stmt.where(col(Tender.category) == category)
    rows, done = listing.fetch(session, stmt, MANAGED_SORTS)
    return rows, done


def edit_form(session: Session, actor: Principal, tender_id: int) -> dict[str, Any]:
    """A draft's edit form, for its manager."""
    t = get_tender(session, tender_id)
    require_manager(session, actor, t)
    return {
        "t": views.tender_out(session, t),
        "tenderee_id": t.tenderee_org_id,
        "agency_id": t.agency_org_id,
        **form_choices(session, actor, t),
    }


def managed_tender(session: Session, actor: Principal, tender_id: int) -> dict[str, Any]:
    """A tender's management page: the tender, its questions, its timeline, and (after opening)
    who downloaded the documents."""
    t = get_tender(session, tender_id)
    require_manager(session, actor, t)
    dls = documents.downloads(session, actor, tender_id) if TenderState(t.state) in AFTER_OPENING else None
    return {
        "t": views.tender_out(session, t),
        "questions": clarifications.questions_for_manager(session, actor, tender_id),
        "downloads": dls,
        "timeline": views.timeline(session, tender_id),
        "doc_types": labels.options(DocumentType),
        "words": WORDS,
    }


def mandates_page(session: Session, actor: Principal) -> dict[str, Any]:
    """A tenderee's or agency's mandates; a tenderee also gets the agencies it may mandate."""
    return {
        "rows": mandates.mandates_for(session, actor),
        "agencies": organisations.list_organisations(session, OrgKind.agency)
        if actor.role == Role.tenderee
        else [],
    }
