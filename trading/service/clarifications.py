"""Clarifications (澄清与答疑): bidders ask without revealing themselves to the tenderee; answers and
the tenderee's own clarifications are published, move the deadline under the cut-off rule and
notify the bidders who downloaded the documents."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden, InvalidInput, NotFound
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from trading import ocds
from trading.exceptions import WrongState
from trading.models import OPEN_STATES, Clarification, Lot, Tender
from trading.schemas import QuestionOut
from trading.service.amendments import amend_tender
from trading.service.deadlines import deadline_after_change
from trading.service.tender_access import get_tender, require_manager
from trading.service.tender_states import state_label


def _require_open(tender: Tender, zh: str, en: str) -> None:
    if tender.state not in OPEN_STATES:
        z, e = state_label(tender.state)
        raise WrongState(
            f"状态规则：{zh}只能在投标截止前进行（当前为“{z}”）",
            f"State rule: {en} only before the bid deadline (now '{e}')",
        )


def ask_question(
    session: Session,
    actor: Principal,
    tender_id: int,
    question: str,
    *,
    lot_id: int | None = None,
    now: dt.datetime | None = None,
) -> Clarification:
    now = now or utcnow()
    if actor.role != Role.bidder or actor.organisation_id is None:
        raise Forbidden("只有投标人可以提问", "Only bidders ask questions")
    tender = get_tender(session, tender_id)
    _require_open(tender, "提问", "questions are accepted")
    text = (question or "").strip()
    if not text:
        raise InvalidInput("问题不能为空", "The question is empty")
    if lot_id is not None:
        lot = session.get(Lot, lot_id)
        if lot is None or lot.tender_id != tender_id:
            raise InvalidInput(f"标段 {lot_id} 不属于该项目", f"Lot {lot_id} is not part of this tender")
    c = Clarification(
        tender_id=tender_id,
        lot_id=lot_id,
        question=text[:10000],
        asked_by_org_id=actor.organisation_id,
        asked_at=now,
    )
    session.add(c)
    session.flush()
    # the event names no company: the tenderee must not learn who asked
    record(
        session,
        "bidder (anonymous to the tenderee)",
        "trading.clarification.ask",
        "clarification",
        c.id,
        "投标人提出澄清问题",
        {"tender_id": tender_id},
    )
    return c


def questions_for_manager(session: Session, actor: Principal, tender_id: int) -> list[QuestionOut]:
    """The tenderee's view of the questions: the text, never who asked."""
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    rows = session.execute(
        sa.select(Clarification)
        .where(col(Clarification.tender_id) == tender_id)
        .order_by(col(Clarification.id))
    ).scalars()
    return [
        QuestionOut(
            id=c.id,  # type: ignore[arg-type]
            question=c.question,
            asked_at=c.asked_at,
            answer=c.answer,  # type: ignore[arg-type]
            answered_at=c.answered_at,
        )
        for c in rows
    ]


def public_clarifications(session: Session, tender_id: int) -> list[Clarification]:
    return list(
        session.execute(
            sa.select(Clarification)
            .where(col(Clarification.tender_id) == tender_id, col(Clarification.answered_at).is_not(None))  # type: ignore[union-attr]
            .order_by(col(Clarification.answered_at))
        ).scalars()
    )


def _publish(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender: Tender,
    c: Clarification,
    text: str,
    new_deadline_at: dt.datetime | None,
    now: dt.datetime,
) -> Clarification:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("澄清内容不能为空", "The clarification text is empty", extra={"field": "text"})
    deadline = deadline_after_change(session, settings, tender, new_deadline_at, now)  # may refuse
    c.answer = text
    c.answered_at = now
    c.answered_by = actor.audit_name
    session.flush()
    record(
        session,
        actor,
        "trading.clarification.publish",
        "clarification",
        c.id,
        "发布澄清/答疑",
        {"tender_id": tender.id, "deadline_moved": deadline != tender.bid_deadline_at},
    )
    if deadline != tender.bid_deadline_at:
        amendment = amend_tender(
            session,
            actor,
            settings,
            tender.id,  # type: ignore[arg-type]
            f"因澄清（编号{c.id}）顺延投标截止时间",  # type: ignore[arg-type]
            {"bid_deadline_at": deadline},
            expected_version=None,
            now=now,
        )
        c.amendment_id = amendment.id
        session.flush()
    else:
        ocds.emit_release(
            session, settings, tender, ["tenderUpdate"], "发布澄清/答疑", "Clarification published", now
        )
    enqueue(
        session,
        "trading.notify_bidders",
        dedup_key=f"trading.notify:clarification:{c.id}",
        kind="clarification",
        ref_id=c.id,
    )
    return c


def answer_question(
    session: Session,
    actor: Principal,
    settings: Settings,
    clarification_id: int,
    answer: str,
    *,
    new_deadline_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Clarification:
    now = now or utcnow()
    c = session.get(Clarification, clarification_id)
    if c is None:
        raise NotFound(f"找不到问题 {clarification_id}", f"Question {clarification_id} does not exist")
    tender = get_tender(session, c.tender_id)
    require_manager(session, actor, tender)
    _require_open(tender, "答疑", "answers are published")
    if c.answered_at is not None:
        raise WrongState("状态规则：该问题已答复", "State rule: this question has been answered already")
    return _publish(session, actor, settings, tender, c, answer, new_deadline_at, now)


def tender_of_question(session: Session, actor: Principal, clarification_id: int) -> int:
    """The tender a question belongs to, for its manager (anyone else: refused)."""
    c = session.get(Clarification, clarification_id)
    if c is None:
        raise NotFound(f"找不到问题 {clarification_id}", f"Question {clarification_id} does not exist")
    require_manager(session, actor, get_tender(session, c.tender_id))
    return c.tender_id


def issue_clarification(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    text: str,
    *,
    new_deadline_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Clarification:
    """A clarification the tenderee issues on its own (主动澄清)."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    _require_open(tender, "澄清", "clarifications are issued")
    c = Clarification(tender_id=tender_id, question="")
    session.add(c)
    session.flush()
    return _publish(session, actor, settings, tender, c, text, new_deadline_at, now)
