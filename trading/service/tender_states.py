"""The tender state machine: checked transitions and the versioned write every transition ends with.

``trading.models.TRANSITIONS`` is the table; ``transition`` refuses a move it does not list, naming
both states. A transition is saved with ``flush_versioned``, so two people changing one tender at the
same moment cannot both win: the second gets 409 Conflict. Every transition checks its rule, writes an
audit event and, where the change is public, an Open Contracting release, all in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from trading import live, ocds
from trading.exceptions import StaleVersion, WrongState
from trading.models import STATE_LABELS, TRANSITIONS, Tender, TenderState
from trading.service import search_index
from trading.service.tender_access import get_tender


def state_label(state: TenderState | str) -> tuple[str, str]:
    return STATE_LABELS[TenderState(state)]


def transition(tender: Tender, to: TenderState, now: dt.datetime) -> TenderState:
    """Move ``tender`` to ``to`` if the transitions table allows it; return the old state."""
    frm = TenderState(tender.state)
    if to not in TRANSITIONS[frm]:
        fz, fe = state_label(frm)
        tz, te = state_label(to)
        raise WrongState(
            f"状态规则：处于“{fz}”状态的招标项目不能转为“{tz}”",
            f"State rule: a tender in state '{fe}' cannot move to '{te}'",
            extra={"from": frm.value, "to": to.value},
        )
    tender.state = to
    tender.state_changed_at = now
    tender.updated_at = now
    live.tender_changed(tender)  # the tender page updates after the commit
    return frm


def check_version(tender: Tender, expected: int | None) -> None:
    if expected is not None and tender.version != expected:
        raise StaleVersion(
            f"该招标项目已被他人修改（当前版本 {tender.version}，您编辑的是版本 {expected}），请刷新后重试",
            f"The tender was changed by someone else (now version {tender.version}, you edited "
            f"version {expected}); reload and try again",
        )


def flush_versioned(session: Session, tender: Tender) -> None:
    """Flush the tender's UPDATE … WHERE version = seen; a lost race becomes 409 Conflict."""
    try:
        session.flush()
        search_index.sync_state(session, tender)
    except StaleDataError:
        raise StaleVersion(
            "该招标项目刚被他人同时修改，您的修改未保存，请刷新后重试",
            "The tender was changed by someone else at the same moment; your change was not saved. "
            "Reload and try again",
        ) from None


def transition_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    to: TenderState,
    *,
    summary_zh: str,
    summary_en: str,
    tags: list[str] | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    """A checked transition for the stages after the deadline (opening, evaluating, publicised,
    awarded, contracted, in performance, completed), for the modules that drive them."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    frm = transition(tender, to, now)
    flush_versioned(session, tender)
    record(
        session,
        actor,
        f"trading.tender.{to.value}",
        "tender",
        tender.id,
        summary_zh,
        {"from": frm.value, "to": to.value},
    )
    ocds.emit_release(session, settings, tender, tags or ["tenderUpdate"], summary_zh, summary_en, now)
    return tender
