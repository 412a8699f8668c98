"""Violation records through the API: supervisors file, notify, decide, publish, correct and
revoke them; a record's subject reads its own."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.orm import Session

from credit import schemas as S
from credit.api.convert import SUPERVISORS, violation_out
from credit.models import Violation
from credit.service import decisions, defence, publication, violations
from tenderhall.auth.guards import requires
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.settings import Settings


class SupervisorCreditAPI(Controller):
    path = "/api/credit/violations"
    tags = ("credit · supervision",)

    @post("/", guards=[requires(*SUPERVISORS)], summary="Record a violation (draft); same facts twice: 200")
    async def create(
        self, session: RequestSession, principal: Principal, settings: Settings, data: S.ViolationCreate
    ) -> Response[S.ViolationOut]:
        def go(s: Session) -> tuple[Violation, bool]:
            return violations.create_violation(
                s,
                principal,
                settings,
                subject_kind=data.subject_kind,
                type_code=data.type_code,
                facts=data.facts,
                credit_code=data.credit_code,
                subject_name=data.subject_name,
                user_id=data.user_id,
                id_number=data.id_number,
                evidence=[e.as_dict() for e in data.evidence],
                occurred_at=data.occurred_at,
            )

        v, created = await run(session, go)
        return Response(
            violation_out(v, principal, settings, created=created),
            status_code=HTTP_201_CREATED if created else HTTP_200_OK,
        )

    @get("/", guards=[requires(*SUPERVISORS)], summary="All records, newest first (supervisors)")
    async def list_all(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        status: str = "",
        limit: int = 100,
    ) -> list[S.ViolationOut]:
        rows = await run(session, lambda s: violations.list_records(s, status=status, limit=limit))
        return [violation_out(v, principal, settings) for v in rows]

    @get("/{violation_id:int}", guards=[requires()], summary="A record as supervisors and its subject see it")
    async def detail(
        self, session: RequestSession, principal: Principal, settings: Settings, violation_id: int
    ) -> S.ViolationOut:
        v = await run(session, violations.get_visible, principal, violation_id)
        return violation_out(v, principal, settings)

    @post("/{violation_id:int}/notify", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def notify(
        self, session: RequestSession, principal: Principal, settings: Settings, violation_id: int
    ) -> S.ViolationOut:
        v = await run(session, lambda s: defence.notify(s, principal, violation_id, settings))
        return violation_out(v, principal, settings)

    @post("/{violation_id:int}/decide", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def decide(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        violation_id: int,
        data: S.DecisionIn,
    ) -> S.ViolationOut:
        v = await run(
            session,
            lambda s: decisions.decide(
                s,
                principal,
                violation_id,
                outcome=data.outcome,
                reasons=data.reasons,
                decision_number=data.decision_number,
                publication_days=data.publication_days,
                decision_doc_sha256=data.decision_doc_sha256,
            ),
        )
        return violation_out(v, principal, settings)

    @post("/{violation_id:int}/publish", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def publish(
        self, session: RequestSession, principal: Principal, settings: Settings, violation_id: int
    ) -> S.ViolationOut:
        v = await run(session, lambda s: publication.publish(s, principal, violation_id))
        return violation_out(v, principal, settings)

    @post("/{violation_id:int}/amend", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def amend(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        violation_id: int,
        data: S.AmendIn,
    ) -> S.ViolationOut:
        v = await run(
            session,
            lambda s: publication.amend(
                s,
                principal,
                violation_id,
                reason=data.reason,
                facts=data.facts,
                decision_number=data.decision_number,
            ),
        )
        return violation_out(v, principal, settings)

    @post("/{violation_id:int}/revoke", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def revoke(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        violation_id: int,
        data: S.RevokeIn,
    ) -> S.ViolationOut:
        v = await run(session, lambda s: decisions.revoke(s, principal, violation_id, reason=data.reason))
        return violation_out(v, principal, settings)


class SubjectCreditAPI(Controller):
    path = "/api/credit/mine"
    tags = ("credit · subjects",)

    @get("/", guards=[requires()], summary="My own records (a company by its credit code, an expert by id)")
    async def mine(
        self, session: RequestSession, principal: Principal, settings: Settings
    ) -> list[S.ViolationOut]:
        rows = await run(session, lambda s: violations.records_of(s, principal))
        return [violation_out(v, principal, settings) for v in rows]
