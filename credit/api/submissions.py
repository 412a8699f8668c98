"""What a record's subject submits through the API (defences, repair applications, evidence
files) and the supervisors' decision on a repair application."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.orm import Session

from credit import schemas as S
from credit.api.convert import SUPERVISORS, defence_out, repair_out
from credit.models import Defence, RepairApplication
from credit.service import defence, repair, violations
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.filenames import safe_filename
from tenderhall.settings import Settings


class SubmissionsAPI(Controller):
    """A record's defences and repair applications: read by supervisors and the subject, submitted
    by the subject."""

    path = "/api/credit/violations"
    tags = ("credit · supervision",)

    @get("/{violation_id:int}/defences", guards=[requires()])
    async def defences(
        self, session: RequestSession, principal: Principal, violation_id: int
    ) -> list[S.DefenceOut]:
        def go(s: Session) -> list[Defence]:
            violations.get_visible(s, principal, violation_id)
            return defence.list_defences(s, violation_id)

        return [defence_out(d) for d in await run(session, go)]

    @post("/{violation_id:int}/defence", guards=[requires()], summary="The subject states its defence")
    async def defence(
        self, session: RequestSession, principal: Principal, violation_id: int, data: S.DefenceIn
    ) -> S.DefenceOut:
        d = await run(
            session,
            lambda s: defence.submit_defence(
                s, principal, violation_id, data.text, file_sha256=data.file_sha256, file_name=data.file_name
            ),
        )
        return defence_out(d)

    @get("/{violation_id:int}/repairs", guards=[requires()])
    async def repairs(
        self, session: RequestSession, principal: Principal, violation_id: int
    ) -> list[S.RepairOut]:
        def go(s: Session) -> list[RepairApplication]:
            violations.get_visible(s, principal, violation_id)
            return repair.list_repairs(s, violation_id)

        return [repair_out(a) for a in await run(session, go)]

    @post("/{violation_id:int}/repairs", guards=[requires()], summary="The subject applies for credit repair")
    async def apply_repair(
        self,
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        violation_id: int,
        data: S.RepairIn,
    ) -> S.RepairOut:
        a = await run(
            session,
            lambda s: repair.apply_repair(
                s,
                principal,
                violation_id,
                rectification=data.rectification,
                commitment=data.commitment,
                evidence=[e.as_dict() for e in data.evidence],
                settings=settings,
            ),
        )
        return repair_out(a)


class RepairDecisionAPI(Controller):
    path = "/api/credit/repairs"
    tags = ("credit · supervision",)

    @post("/{repair_id:int}/decision", guards=[requires(*SUPERVISORS)], status_code=HTTP_200_OK)
    async def decide(
        self, session: RequestSession, principal: Principal, repair_id: int, data: S.RepairDecisionIn
    ) -> S.RepairOut:
        a = await run(
            session,
            lambda s: repair.decide_repair(
                s, principal, repair_id, approve=data.approve, reasons=data.reasons
            ),
        )
        return repair_out(a)


@post(
    "/api/credit/evidence",
    guards=[requires(Role.supervisor, Role.admin, Role.bidder, Role.agency)],
    tags=["credit · supervision"],
    summary="Upload an evidence file (raw body); returns its SHA-256",
)
async def upload_evidence(
    request: Request[Any, Any, Any], settings: Settings, name: str = "evidence"
) -> S.UploadOut:
    from tenderhall.blobs import BlobStore

    clean = safe_filename(name, max_length=200)
    ref = await BlobStore(settings.blob_dir).write_async_stream(
        request.stream(), max_bytes=settings.credit.evidence_max_bytes
    )
    return S.UploadOut(sha256=ref.sha256, size=ref.size, name=clean)
