"""The credit JSON API under ``/api/credit`` (Bearer tokens; the public parts need none)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.orm import Session
from sqlmodel import col

from credit import schemas as S
from credit.config import credit_config
from credit.exceptions import RecordNotFound
from credit.models import Defence, RepairApplication, Status, Violation, ViolationType
from credit.service import (
    catalog,
    decisions,
    defence,
    deliveries,
    disclosure,
    feed,
    publication,
    receivers,
    repair,
    search,
    violations,
)
from credit.service.standing import Standing, standing
from credit.service.subjects import ID_PURPOSE, Subject, subject_keys_of
from tenderhall.auth.guards import requires
from tenderhall.auth.models import STAFF_ROLES, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import Forbidden, InvalidInput
from tenderhall.filenames import safe_filename
from tenderhall.keys import secret_box
from tenderhall.settings import Settings

SUPERVISORS = (Role.supervisor, Role.admin)


# --- conversions ---------------------------------------------------------------------------------


def public_out(r: search.PublicRecord) -> S.PublicRecordOut:
    return S.PublicRecordOut(
        id=r.id,
        subject_kind=r.subject_kind,
        subject_name=r.subject_name,
        credit_code=r.credit_code,
        id_number_masked=r.id_number_masked,
        type_code=r.type_code,
        type_name_zh=r.type_name_zh,
        type_name_en=r.type_name_en,
        severity=r.severity,
        points=r.points,
        facts=r.facts,
        decision_number=r.decision_number,
        decision_reasons=r.decision_reasons,
        decided_at=r.decided_at,
        published_at=r.published_at,
        public_until=r.public_until,
        url=f"/credit/records/{r.id}",
    )


def violation_out(
    v: Violation, principal: Principal, settings: Settings, *, created: bool = False
) -> S.ViolationOut:
    id_number = v.subject_id_masked
    if v.subject_id_enc and principal.role in SUPERVISORS:
        id_number = secret_box(settings).open(v.subject_id_enc, ID_PURPOSE).decode()
    return S.ViolationOut(
        id=v.id,  # type: ignore[arg-type]
        status=str(v.status),
        outcome=str(v.outcome) if v.outcome else None,
        subject_kind=str(v.subject_kind),
        subject_key=v.subject_key,
        subject_name=v.subject_name,
        credit_code=v.subject_credit_code,
        user_id=v.subject_user_id,
        id_number=id_number,
        type_code=v.type_code,
        severity=str(v.severity),
        points=v.points,
        facts=v.facts,
        evidence=v.evidence,
        occurred_at=v.occurred_at,
        decision_number=v.decision_number,
        decision_reasons=v.decision_reasons,
        publication_days=v.publication_days,
        notified_at=v.notified_at,
        defence_due_at=v.defence_due_at,
        decided_at=v.decided_at,
        public_until=v.public_until,
        published_at=v.published_at,
        expired_at=v.expired_at,
        repaired_at=v.repaired_at,
        revoked_at=v.revoked_at,
        created_at=v.created_at,
        created=created,
    )


def standing_out(st: Standing) -> S.StandingOut:
    assert st.at is not None
    return S.StandingOut(
        subject_key=st.subject_key,
        tier=st.tier,
        points=st.points,
        blacklisted=st.blacklisted,
        listing_until=st.listing_until,
        explanation_zh=st.explanation_zh,
        explanation_en=st.explanation_en,
        at=st.at,
        records=[S.StandingRecordOut(**r.__dict__) for r in st.records],
    )


def type_out(t: ViolationType) -> S.ViolationTypeOut:
    return S.ViolationTypeOut(
        code=t.code,
        name_zh=t.name_zh,
        name_en=t.name_en,
        severity=str(t.severity),
        points=t.points,
        publish_min_days=t.publish_min_days,
        publish_max_days=t.publish_max_days,
        blacklist_at_once=t.blacklist_at_once,
        active=t.active,
    )


def defence_out(d: Defence) -> S.DefenceOut:
    return S.DefenceOut(
        id=d.id,  # type: ignore[arg-type]
        violation_id=d.violation_id,
        text=d.text,
        file_sha256=d.file_sha256,
        submitted_at=d.submitted_at,
    )


def repair_out(a: RepairApplication) -> S.RepairOut:
    return S.RepairOut(
        id=a.id,  # type: ignore[arg-type]
        violation_id=a.violation_id,
        rectification=a.rectification,
        commitment=a.commitment,
        evidence=a.evidence,
        status=str(a.status),
        reasons=a.reasons,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
    )


def change_out(c: Any) -> S.ChangeOut:
    return S.ChangeOut(
        id=c.id, kind=str(c.kind), violation_id=c.violation_id, occurred_at=c.occurred_at, record=c.payload
    )


def delivery_out(d: deliveries.DeliveryRow) -> S.DeliveryOut:
    return S.DeliveryOut(**d.__dict__)


# --- public ------------------------------------------------------------------------------------


class PublicCreditAPI(Controller):
    """No sign-in needed: what the public may see."""

    path = "/api/credit"
    tags = ("credit · public",)

    @get("/records", summary="Search published violation records (keyset-paged)")
    async def search(
        self,
        session: RequestSession,
        q: str = "",
        credit_code: str = "",
        type: str = "",
        severity: str = "",
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        cursor: str = "",
        limit: int = 20,
    ) -> S.RecordPageOut:
        query = search.SearchQuery(q, credit_code, type, severity, date_from, date_to, cursor, limit)
        page = await run(session, search.search_public, query)
        return S.RecordPageOut(items=[public_out(r) for r in page.items], next_cursor=page.next_cursor)

    @get("/records/{record_id:int}", summary="One published record")
    async def record(self, session: RequestSession, record_id: int) -> S.PublicRecordOut:
        return public_out(await run(session, search.public_record, record_id))

    @get("/changes", summary="Change feed: published, changed, repaired, expired, revoked (cursor-paged)")
    async def changes(self, session: RequestSession, after: str = "0", limit: int = 100) -> S.ChangePageOut:
        try:
            start = int(after or 0)
        except ValueError:
            raise InvalidInput("游标应为整数", "The cursor 'after' must be an integer") from None
        rows, nxt = await run(session, lambda s: feed.changes(s, after=start, limit=limit))
        return S.ChangePageOut(entries=[change_out(c) for c in rows], next_cursor=str(nxt))

    @get("/blacklist", summary="Subjects blacklisted now (with at least one published record)")
    async def blacklist(self, session: RequestSession, settings: Settings) -> list[S.BlacklistEntryOut]:
        rows = await run(session, lambda s: disclosure.blacklist(s, settings=settings))
        return [
            S.BlacklistEntryOut(
                subject_kind=e.subject_kind,
                name=e.name,
                credit_code=e.credit_code,
                id_number_masked=e.id_number_masked,
                tier=e.standing.tier,
                points=e.standing.points,
                listing_until=e.standing.listing_until,
                explanation_zh=e.standing.explanation_zh,
                explanation_en=e.standing.explanation_en,
            )
            for e in rows
        ]

    @get("/standing", summary="Credit standing of a company (public) or an expert (staff only)")
    async def standing(
        self,
        session: RequestSession,
        settings: Settings,
        principal: Principal,
        credit_code: str | None = None,
        expert_user_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> S.StandingOut:
        if credit_code:
            subject = Subject.company(credit_code)
        elif expert_user_id is not None:
            if principal.role not in STAFF_ROLES:
                raise Forbidden("专家信用状况仅对工作人员开放", "An expert's standing is for staff only")
            subject = Subject.expert(expert_user_id)
        else:
            raise InvalidInput("请提供 credit_code 或 expert_user_id", "Give credit_code or expert_user_id")
        if at is not None and at.tzinfo is None:
            raise InvalidInput("时间须带时区", "'at' must carry a time zone")
        st = await run(session, lambda s: standing(s, subject, at, settings=settings))
        return standing_out(st)

    @get("/types", summary="The catalog of violation types")
    async def types(self, session: RequestSession) -> list[S.ViolationTypeOut]:
        return [type_out(t) for t in await run(session, catalog.list_types)]


# --- supervisors -------------------------------------------------------------------------------


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
        rows = await run(session, lambda s: list_records(s, status=status, limit=limit))
        return [violation_out(v, principal, settings) for v in rows]

    @get("/{violation_id:int}", guards=[requires()], summary="A record as supervisors and its subject see it")
    async def detail(
        self, session: RequestSession, principal: Principal, settings: Settings, violation_id: int
    ) -> S.ViolationOut:
        v = await run(session, violations.get_violation, violation_id)
        if not violations.visible_to(principal, v):
            raise RecordNotFound(
                f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
            )
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

    @get("/{violation_id:int}/defences", guards=[requires()])
    async def defences(
        self, session: RequestSession, principal: Principal, violation_id: int
    ) -> list[S.DefenceOut]:
        def go(s: Session) -> list[Defence]:
            v = violations.get_violation(s, violation_id)
            if not violations.visible_to(principal, v):
                raise RecordNotFound(
                    f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
                )
            return list_defences(s, violation_id)

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
            v = violations.get_violation(s, violation_id)
            if not violations.visible_to(principal, v):
                raise RecordNotFound(
                    f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
                )
            return list_repairs(s, violation_id)

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


class SubjectCreditAPI(Controller):
    path = "/api/credit/mine"
    tags = ("credit · subjects",)

    @get("/", guards=[requires()], summary="My own records (a company by its credit code, an expert by id)")
    async def mine(
        self, session: RequestSession, principal: Principal, settings: Settings
    ) -> list[S.ViolationOut]:
        rows = await run(session, lambda s: records_of(s, principal))
        return [violation_out(v, principal, settings) for v in rows]


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
        request.stream(), max_bytes=credit_config(settings).evidence_max_bytes
    )
    return S.UploadOut(sha256=ref.sha256, size=ref.size, name=clean)


# --- admins --------------------------------------------------------------------------------------


class AdminCreditAPI(Controller):
    path = "/api/credit"
    tags = ("credit · admin",)

    @put("/types/{code:str}", guards=[requires(Role.admin)], summary="Create or edit a catalog entry")
    async def save_type(
        self, session: RequestSession, principal: Principal, code: str, data: S.ViolationTypeIn
    ) -> S.ViolationTypeOut:
        fields = {k: v for k, v in msgspec_asdict(data).items() if v is not None}
        t = await run(session, lambda s: catalog.save_type(s, principal, code, **fields))
        return type_out(t)

    @get("/receivers", guards=[requires(*SUPERVISORS)])
    async def receivers(self, session: RequestSession) -> list[S.ReceiverOut]:
        return [receiver_out(r) for r in await run(session, receivers.list_receivers)]

    @post("/receivers", guards=[requires(Role.admin)])
    async def add_receiver(
        self, session: RequestSession, principal: Principal, data: S.ReceiverIn
    ) -> S.ReceiverOut:
        r = await run(
            session,
            lambda s: receivers.save_receiver(
                s,
                principal,
                name=data.name,
                url=data.url,
                events=data.events,
                active=data.active,
                key_id=data.key_id,
            ),
        )
        return receiver_out(r)

    @put("/receivers/{receiver_id:int}", guards=[requires(Role.admin)])
    async def edit_receiver(
        self, session: RequestSession, principal: Principal, receiver_id: int, data: S.ReceiverIn
    ) -> S.ReceiverOut:
        r = await run(
            session,
            lambda s: receivers.save_receiver(
                s,
                principal,
                name=data.name,
                url=data.url,
                events=data.events,
                active=data.active,
                key_id=data.key_id,
                receiver_id=receiver_id,
            ),
        )
        return receiver_out(r)

    @get("/deliveries", guards=[requires(*SUPERVISORS)], summary="Delivery log; status=dead for dead letters")
    async def deliveries(
        self, session: RequestSession, status: str = "", limit: int = 200
    ) -> list[S.DeliveryOut]:
        rows = await run(
            session, lambda s: deliveries.list_deliveries(s, status=status or None, limit=min(limit, 1000))
        )
        return [delivery_out(d) for d in rows]

    @post("/deliveries/{delivery_id:int}/resend", guards=[requires(Role.admin)], status_code=HTTP_200_OK)
    async def resend(self, session: RequestSession, principal: Principal, delivery_id: int) -> dict[str, Any]:
        d = await run(session, lambda s: deliveries.resend(s, principal, delivery_id))
        return {"id": d.id, "status": str(d.status)}


def msgspec_asdict(obj: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.structs.asdict(obj)


def receiver_out(r: Any) -> S.ReceiverOut:
    return S.ReceiverOut(
        id=r.id, name=r.name, url=r.url, events=list(r.events), active=r.active, key_id=r.key_id
    )


# --- small queries used by the API and the pages ------------------------------------------------


def list_records(s: Session, *, status: str = "", limit: int = 100, subject_q: str = "") -> list[Violation]:
    stmt = sa.select(Violation).order_by(col(Violation.id).desc()).limit(min(max(limit, 1), 500))
    if status:
        if status not in Status.__members__:
            raise InvalidInput(f"未知状态：{status}", f"Unknown status: {status}")
        stmt = stmt.where(col(Violation.status) == status)
    if subject_q:
        stmt = stmt.where(
            sa.or_(
                col(Violation.subject_name).contains(subject_q),
                col(Violation.subject_credit_code) == subject_q.upper(),
            )
        )
    return list(s.execute(stmt).scalars())


def records_of(s: Session, principal: Principal) -> list[Violation]:
    keys = subject_keys_of(principal)
    if not keys:
        return []
    return list(
        s.execute(
            sa.select(Violation)
            .where(col(Violation.subject_key).in_(keys), col(Violation.status) != Status.draft)
            .order_by(col(Violation.id).desc())
        ).scalars()
    )


def list_defences(s: Session, violation_id: int) -> list[Defence]:
    return list(
        s.execute(
            sa.select(Defence).where(col(Defence.violation_id) == violation_id).order_by(col(Defence.id))
        ).scalars()
    )


def list_repairs(s: Session, violation_id: int) -> list[RepairApplication]:
    return list(
        s.execute(
            sa.select(RepairApplication)
            .where(col(RepairApplication.violation_id) == violation_id)
            .order_by(col(RepairApplication.id))
        ).scalars()
    )


API_ROUTES = [
    PublicCreditAPI,
    SupervisorCreditAPI,
    RepairDecisionAPI,
    SubjectCreditAPI,
    AdminCreditAPI,
    upload_evidence,
]
