"""Loading a tender and the right to manage it.

The tenderee of a tender manages it, or an agency under a live mandate from that tenderee
(decision 0140); the public sees every tender but a draft.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.principal import Principal
from trading.exceptions import NotYourTender, TenderNotFound
from trading.models import Lot, Tender, TenderState
from trading.service.mandates import acts_for


def get_tender(session: Session, tender_id: int) -> Tender:
    tender = session.get(Tender, tender_id)
    if tender is None:
        raise TenderNotFound(f"找不到招标项目 {tender_id}", f"Tender {tender_id} does not exist")
    return tender


def get_public_tender(session: Session, tender_id: int) -> Tender:
    """A tender the public may see (anything but a draft)."""
    tender = get_tender(session, tender_id)
    if tender.state == TenderState.draft:
        raise TenderNotFound(f"找不到招标项目 {tender_id}", f"Tender {tender_id} does not exist")
    return tender


def can_manage(session: Session, actor: Principal, tender: Tender) -> bool:
    """The tender's tenderee, or its agency under a live mandate from the tenderee."""
    return acts_for(session, actor, tender)


def require_manager(session: Session, actor: Principal, tender: Tender) -> None:
    if not can_manage(session, actor, tender):
        raise NotYourTender(
            "只有该项目的招标人或受其有效委托的招标代理可以执行此操作",
            "Only this tender's tenderee, or an agency holding its live mandate, may do this",
        )


def lots_of(session: Session, tender_id: int) -> list[Lot]:
    return list(
        session.execute(
            sa.select(Lot).where(col(Lot.tender_id) == tender_id).order_by(col(Lot.number))
        ).scalars()
    )
