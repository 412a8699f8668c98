"""Failed lots (流标) and the re-tender that follows them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import InvalidInput, RuleViolation
from tenderhall.settings import Settings
from trading import ocds
from trading.exceptions import TenderNotFound, WrongState
from trading.models import Lot, LotState, Tender, TenderState
from trading.service.deadlines import ceil_hour
from trading.service.drafting import new_reference
from trading.service.procedures import procedure_settings
from trading.service.tender_access import get_tender, lots_of, require_manager
from trading.service.tender_states import flush_versioned, state_label, transition

FAILABLE_STATES = frozenset({TenderState.closed, TenderState.opening, TenderState.evaluating})


def tender_of_lot(session: Session, actor: Principal, lot_id: int) -> int:
    """The tender a lot belongs to, for its manager (anyone else: refused)."""
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise TenderNotFound(f"找不到标段 {lot_id}", f"Lot {lot_id} does not exist")
    require_manager(session, actor, get_tender(session, lot.tender_id))
    return lot.tender_id


def mark_lot_failed(
    session: Session,
    actor: Principal,
    settings: Settings,
    lot_id: int,
    reason: str,
    *,
    valid_bids: int,
    now: dt.datetime | None = None,
) -> Lot:
    """流标: a lot with fewer valid bids than the procedure's minimum fails after the deadline.
    When every lot has failed (or was cancelled) the tender fails and offers a re-tender.

    ``valid_bids`` is the lot's count of valid bids, given by the caller (bid opening will count them)."""
    now = now or utcnow()
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise TenderNotFound(f"找不到标段 {lot_id}", f"Lot {lot_id} does not exist")
    tender = get_tender(session, lot.tender_id)
    require_manager(session, actor, tender)
    if tender.state not in FAILABLE_STATES:
        sz, se = state_label(tender.state)
        raise WrongState(
            f"状态规则：只有投标截止后（已截标、开标中、评标中）才能宣布流标，当前为“{sz}”",
            f"State rule: a lot can fail only after the deadline (closed, opening, evaluating); now '{se}'",
        )
    if lot.state != LotState.active:
        raise WrongState(
            f"状态规则：第{lot.number}标段已不在进行中", f"State rule: lot {lot.number} is no longer active"
        )
    rules = procedure_settings(session, settings, tender.method)
    if valid_bids < 0:
        raise InvalidInput(
            "有效投标数不能为负", "The number of valid bids cannot be negative", extra={"field": "valid_bids"}
        )
    if valid_bids >= rules.min_valid_bids:
        raise RuleViolation(
            f"规则：有效投标不少于{rules.min_valid_bids}家时不能流标（本标段有效投标{valid_bids}家）",
            f"Rule: a lot with at least {rules.min_valid_bids} valid bids cannot fail "
            f"(this lot has {valid_bids})",
            extra={"field": "valid_bids"},
        )
    reason = (reason or "").strip() or f"有效投标不足{rules.min_valid_bids}家"
    lot.state = LotState.failed
    lot.failed_reason = reason
    lot.failed_at = now
    tender.updated_at = now
    remaining = [x for x in lots_of(session, tender.id) if x.state == LotState.active]  # type: ignore[arg-type]
    if not remaining:
        transition(tender, TenderState.failed, now)
        tender.failed_reason = reason
    flush_versioned(session, tender)
    record(
        session,
        actor,
        "trading.lot.fail",
        "lot",
        lot.id,
        f"第{lot.number}标段流标：{reason}",
        {"tender_id": tender.id, "valid_bids": valid_bids, "tender_failed": not remaining},
    )
    ocds.emit_release(
        session,
        settings,
        tender,
        ["tenderUpdate"],
        f"第{lot.number}标段流标",
        f"Lot {lot.number} failed",
        now,
    )
    return lot


def retender(
    session: Session, actor: Principal, settings: Settings, tender_id: int, *, now: dt.datetime | None = None
) -> Tender:
    """Start a re-tender of the failed lots: a new draft copying the tender, linked to it."""
    now = now or utcnow()
    old = get_tender(session, tender_id)
    require_manager(session, actor, old)
    failed = [
        x for x in lots_of(session, tender_id) if x.state == LotState.failed and x.retendered_as_id is None
    ]
    if not failed:
        raise RuleViolation(
            "规则：只有流标且尚未重新招标的标段才能重新招标",
            "Rule: only failed lots not yet re-tendered can be re-tendered",
        )
    rules = procedure_settings(session, settings, old.method)
    reference = new_reference(now)
    new = Tender(
        reference=reference,
        ocid=settings.trading.ocid_prefix + reference,
        title=old.title if "重新招标" in old.title else f"{old.title}（重新招标）",
        description=old.description,
        announcement=old.announcement,
        category=old.category,
        method=old.method,
        government_investment=old.government_investment,
        funding_source=old.funding_source,
        region=old.region,
        tenderee_org_id=old.tenderee_org_id,
        agency_org_id=old.agency_org_id,
        budget_fen=sum(x.budget_fen for x in failed),
        ceiling_price_fen=old.ceiling_price_fen if len(failed) == len(lots_of(session, tender_id)) else None,
        duration_days=old.duration_days,
        evaluation_method=old.evaluation_method,
        bid_deadline_at=ceil_hour(now + dt.timedelta(days=rules.min_tender_days + 1)),
        opening_custodians=list(old.opening_custodians),
        bid_bond_fen=old.bid_bond_fen,
        bond_waived=old.bond_waived,
        bond_rule=old.bond_rule,
        retender_of_id=old.id,
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
    )
    if new.ceiling_price_fen is not None and new.ceiling_price_fen > new.budget_fen:
        new.ceiling_price_fen = None
    session.add(new)
    session.flush()
    for n, lot in enumerate(failed, 1):
        session.add(
            Lot(
                tender_id=new.id,  # type: ignore[arg-type]
                number=n,
                title=lot.title,
                description=lot.description,  # type: ignore[arg-type]
                budget_fen=lot.budget_fen,
                ceiling_price_fen=lot.ceiling_price_fen,
                duration_days=lot.duration_days,
                bid_bond_fen=lot.bid_bond_fen,
            )
        )
        lot.retendered_as_id = new.id
    session.flush()
    record(
        session,
        actor,
        "trading.tender.retender",
        "tender",
        new.id,
        f"重新招标：{new.title}",
        {"retender_of": old.id, "lots": [x.number for x in failed]},
    )
    return new
