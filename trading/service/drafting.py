"""Drafting a tender: create it, edit it while it is a draft (its lots with it)."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI
from trading.exceptions import PublishedTenderLocked
from trading.models import Document, Lot, Tender, TenderState
from trading.schemas import LotFields, TenderFields
from trading.service.checks import RuleCheck
from trading.service.tender_access import get_tender, lots_of, require_manager
from trading.service.tender_fields import validate_fields
from trading.service.tender_states import check_version, flush_versioned


def _lot_rows(tender: Tender, fields: TenderFields) -> list[LotFields]:
    if fields.lots:
        return fields.lots
    return [
        LotFields(
            title=tender.title,
            budget_fen=tender.budget_fen,
            ceiling_price_fen=tender.ceiling_price_fen,
            duration_days=tender.duration_days,
            bid_bond_fen=tender.bid_bond_fen,
        )
    ]


def new_reference(now: dt.datetime) -> str:
    return f"TH-{now.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(3).upper()}"


def create_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    fields: TenderFields,
    *,
    now: dt.datetime | None = None,
    check: RuleCheck | None = None,
) -> Tender:
    """A new draft; ``check`` holds what the form could not read (raised with the rules' findings)."""
    now = now or utcnow()
    values = validate_fields(session, actor, settings, fields, check=check)
    reference = new_reference(now)
    tender = Tender(
        reference=reference,
        ocid=settings.trading.ocid_prefix + reference,
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
        **values,
    )
    session.add(tender)
    session.flush()
    for n, lf in enumerate(_lot_rows(tender, fields), 1):
        session.add(_lot_from(tender.id, n, lf))  # type: ignore[arg-type]
    session.flush()
    record(
        session,
        actor,
        "trading.tender.create",
        "tender",
        tender.id,
        f"创建招标项目草稿：{tender.title}",
        {"reference": reference, "method": tender.method, "category": tender.category},
    )
    return tender


def _lot_from(tender_id: int, number: int, lf: LotFields) -> Lot:
    return Lot(
        tender_id=tender_id,
        number=number,
        title=lf.title.strip(),
        description=lf.description or "",
        budget_fen=lf.budget_fen or 0,
        ceiling_price_fen=lf.ceiling_price_fen,
        duration_days=lf.duration_days,
        bid_bond_fen=lf.bid_bond_fen,
    )


def update_draft(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    fields: TenderFields,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    check: RuleCheck | None = None,
) -> Tender:
    """Edit a draft. A published tender changes only through an amendment (变更公告)."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    if tender.state != TenderState.draft:
        raise PublishedTenderLocked(
            "规则：已发布的招标项目只能通过变更公告修改，不能直接编辑",
            "Rule: a published tender can only be changed through an amendment, not edited",
        )
    check_version(tender, expected_version)
    values = validate_fields(session, actor, settings, fields, current=tender, check=check)
    for k, v in values.items():
        setattr(tender, k, v)
    tender.updated_at = now
    if fields.lots:
        existing = {lot.number: lot for lot in lots_of(session, tender_id)}
        for n, lf in enumerate(fields.lots, 1):
            lot = existing.pop(n, None)
            if lot is None:
                session.add(_lot_from(tender_id, n, lf))
            else:
                lot.title, lot.description, lot.budget_fen = (
                    lf.title.strip(),
                    lf.description or "",
                    lf.budget_fen or 0,
                )
                lot.ceiling_price_fen, lot.duration_days, lot.bid_bond_fen = (
                    lf.ceiling_price_fen,
                    lf.duration_days,
                    lf.bid_bond_fen,
                )
        for lot in existing.values():
            session.execute(sa.update(Document).where(col(Document.lot_id) == lot.id).values(lot_id=None))
            session.delete(lot)
    flush_versioned(session, tender)
    record(
        session, actor, "trading.tender.update", "tender", tender.id, f"修改招标项目草稿：{tender.title}", {}
    )
    return tender
