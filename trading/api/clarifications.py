"""Questions and clarifications (澄清) before the deadline, and the notifications bidders get of them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings
from trading.api.common import STAFF
from trading.schemas import AnswerIn, ClarificationIn, NotificationOut, QuestionIn, QuestionOut
from trading.service import clarifications, notifications


class ClarificationsApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @post("/tenders/{tender_id:int}/questions", guards=[requires(Role.bidder)], summary="Ask a question")
    async def ask(
        self, session: RequestSession, principal: Principal, tender_id: int, data: QuestionIn
    ) -> dict[str, int]:
        c = await run(
            session, clarifications.ask_question, principal, tender_id, data.question, lot_id=data.lot_id
        )
        return {"id": c.id}  # type: ignore[dict-item]

    @get("/tenders/{tender_id:int}/questions", guards=STAFF, summary="Questions (the askers stay anonymous)")
    async def questions(
        self, session: RequestSession, principal: Principal, tender_id: int
    ) -> list[QuestionOut]:
        return await run(session, clarifications.questions_for_manager, principal, tender_id)

    @post("/clarifications/{clarification_id:int}/answer", guards=STAFF, status_code=200, summary="Answer")
    async def answer(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        clarification_id: int,
        data: AnswerIn,
    ) -> dict[str, Any]:
        c = await run(
            session,
            clarifications.answer_question,
            principal,
            settings,
            clarification_id,
            data.answer,
            new_deadline_at=data.new_deadline_at,
        )
        return {"id": c.id, "amendment_id": c.amendment_id}

    @post("/tenders/{tender_id:int}/clarifications", guards=STAFF, summary="Issue a clarification")
    async def clarify(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        tender_id: int,
        data: ClarificationIn,
    ) -> dict[str, Any]:
        c = await run(
            session,
            clarifications.issue_clarification,
            principal,
            settings,
            tender_id,
            data.text,
            new_deadline_at=data.new_deadline_at,
        )
        return {"id": c.id, "amendment_id": c.amendment_id}


class NotificationsApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @get("/notifications", guards=[requires(Role.bidder)], summary="The bidder's notifications")
    async def my_notifications(self, session: RequestSession, principal: Principal) -> list[NotificationOut]:
        return await run(session, notifications.notifications_for, principal)
