"""Every route of the app has an explicit access rule, and answers as its rule says.

The table ``RULES`` maps each route (method, path template) of ``create_app`` to who may call it
and whether it is scoped to an object (a tender the caller manages, a credit record about the
caller, …). The test walks the app's route table: a route missing from ``RULES`` (or a rule for a
route that no longer exists) fails with the routes named. Then each route is called anonymously
and by a signed-in user of every role, on the caller's own object and on someone else's:

- anonymous on a guarded route: 401 on the API, a redirect to the login page on pages;
- a role the guard does not admit: 403;
- an admitted role: neither 401 nor 403 (on its own object of a scoped route, nor 404), and no
  server error;
- an admitted role on someone else's object (scoped routes): 403 or 404.

Objects are built with the services and factories: "own" belongs to the caller's organisation
(or to the caller), "other" to another organisation. One app, one database, many requests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.orm import Session

from credit.service import apply_repair, create_violation, decide, notify, publish, submit_defence
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests import factories
from trading.models import Lot, TenderState
from trading.schemas import LotFields, TenderFields
from trading.service import clarifications, documents, drafting, mandates, publication

PUBLIC = "public"  # no sign-in needed
LOGIN = "login"  # any signed-in user
ROLES = list(Role)
SUBJECTS = (Role.bidder, Role.agency, Role.expert)
MANAGERS = (Role.tenderee, Role.agency)
SUPERVISION = (Role.supervisor, Role.admin)
ALL_SUBJECT_ROLES = (Role.bidder, Role.tenderee, Role.agency, Role.expert)


@dataclass(frozen=True)
class Rule:
    """Who may call a route. ``who``: PUBLIC, LOGIN or the roles its guard admits.

    ``obj``: the object its path parameter names (a key of the world's object maps); ``scoped``: whether
    the answer depends on the caller's relation to that object. On a scoped route, ``owners``
    (roles that can own such an object) get their own object, ``sees_all`` roles any object, and
    every other admitted role is refused even someone else's. ``anon``: the anonymous status
    when it is not the default (401 / login redirect; any non-refusal on public routes)."""

    who: str | tuple[Role, ...]
    obj: str | None = None
    scoped: bool = False
    owners: tuple[Role, ...] = ()
    sees_all: tuple[Role, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    content: bytes | None = None
    query: dict[str, str] | None = None
    anon: int | None = None
    last: bool = False  # signs the caller out: run after everything else
    unchecked: bool = False  # sign-in endpoints: their answer depends on credentials, not roles
    admitted_may_get: tuple[int, ...] = ()  # a refusal past the guard that is not about access

    def admits(self, role: Role | None) -> bool:
        if self.who == PUBLIC:
            return True
        if role is None:
            return False
        return self.who == LOGIN or role in self.who


def _tender_json() -> dict[str, Any]:
    return {
        "title": "权限测试项目",
        "category": "works",
        "method": "open",
        "budget_fen": 100_000_000,
        "duration_days": 90,
        "evaluation_method": "comprehensive",
        "bid_deadline_at": (utcnow() + dt.timedelta(days=30)).isoformat(),
    }


TENDER_FORM = {
    "title": "权限测试项目",
    "category": "works",
    "method": "open",
    "budget_yuan": "1000000",
    "duration_days": "90",
    "evaluation_method": "comprehensive",
    "bid_deadline_at": "2099-01-01T10:00",
}
PDF = {"file": ("a.pdf", b"%PDF-1.4 test", "application/pdf")}


def _manage(obj: str, **kw: Any) -> Rule:
    """A route of a tender's managers: its tenderee and its mandated agency."""
    return Rule(MANAGERS, obj=obj, scoped=True, owners=MANAGERS, **kw)


def _subject(who: Any, **kw: Any) -> Rule:
    """A route about a credit record, for its subject."""
    return Rule(who, obj="violation", scoped=True, owners=ALL_SUBJECT_ROLES, **kw)


A = (Role.admin,)
S = SUPERVISION

RULES: dict[tuple[str, str], Rule] = {
    # --- kernel: sign-in, PKI, audit, jobs, health, language, schema, static -------------------
    ("POST", "/api/auth/token"): Rule(PUBLIC, json={}, unchecked=True),
    ("POST", "/api/custodian-certificates"): Rule(
        (Role.supervisor, Role.tenderee, Role.agency), json={"pem": "x"}, admitted_may_get=(422,)
    ),
    ("GET", "/api/custodian-certificates"): Rule((Role.supervisor, Role.tenderee, Role.agency)),
    ("DELETE", "/api/custodian-certificates/{certificate_id:int}"): Rule(
        (Role.supervisor, Role.tenderee, Role.agency),
        params={"certificate_id": "999999"},
        admitted_may_get=(404,),
    ),
    ("POST", "/api/lots/{lot_id:int}/uploads"): Rule(
        (Role.bidder,), params={"lot_id": "999999"}, json={"size": 1}, admitted_may_get=(404,)
    ),
    ("GET", "/api/uploads/{upload_id:int}"): Rule(
        (Role.bidder,), params={"upload_id": "999999"}, admitted_may_get=(404,)
    ),
    ("PATCH", "/api/uploads/{upload_id:int}"): Rule(
        (Role.bidder,), params={"upload_id": "999999"}, content=b"x", admitted_may_get=(404,)
    ),
    ("GET", "/api/bids"): Rule((Role.bidder,)),
    ("GET", "/api/bids/{bid_id:int}"): Rule(
        (Role.bidder,), params={"bid_id": "999999"}, admitted_may_get=(404,)
    ),
    ("GET", "/api/bids/{bid_id:int}/receipt.pdf"): Rule(
        (Role.bidder,), params={"bid_id": "999999"}, admitted_may_get=(404,)
    ),
    ("POST", "/api/bids/{bid_id:int}/withdraw"): Rule(
        (Role.bidder,), params={"bid_id": "999999"}, json={}, admitted_may_get=(404,)
    ),
    ("GET", "/api/platform-certificate"): Rule(PUBLIC),
    ("GET", "/api/lots/{lot_id:int}/my-share"): Rule(
        (Role.supervisor, Role.tenderee, Role.agency), params={"lot_id": "999999"}, admitted_may_get=(404,)
    ),
    ("GET", "/api/lots/{lot_id:int}/opening-certificate"): Rule(
        PUBLIC, params={"lot_id": "999999"}, admitted_may_get=(404,)
    ),
    ("POST", "/api/auth/certificate/nonce"): Rule(PUBLIC, unchecked=True),
    ("POST", "/api/auth/certificate/login"): Rule(PUBLIC, json={}, unchecked=True),
    ("POST", "/api/auth/logout"): Rule(LOGIN, last=True),
    ("GET", "/api/auth/me"): Rule(LOGIN),
    ("GET", "/api/auth/users"): Rule(A),
    ("POST", "/api/pki/cas"): Rule(A),
    ("GET", "/api/pki/cas"): Rule(A),
    ("POST", "/api/pki/crls"): Rule(A),
    ("POST", "/login"): Rule(PUBLIC, form={}, unchecked=True),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login/certificate"): Rule(PUBLIC, form={}, unchecked=True),
    ("POST", "/login/certificate/agent"): Rule(PUBLIC, json={}, unchecked=True),
    ("POST", "/logout"): Rule(PUBLIC, last=True),
    ("GET", "/login/certificate"): Rule(PUBLIC),
    ("GET", "/admin/users"): Rule(A),
    ("GET", "/admin/users/new"): Rule(A),
    # an empty form is answered with the form again, every error beside its field (422)
    ("POST", "/admin/users"): Rule(A, form={}),
    # acts on an account that does not exist: the admin's answer is 404, nobody's account changes
    ("GET", "/admin/users/{user_id:int}"): Rule(A, params={"user_id": "999999"}),
    ("POST", "/admin/users/{user_id:int}/disable"): Rule(A, params={"user_id": "999999"}, form={}),
    ("POST", "/admin/users/{user_id:int}/enable"): Rule(A, params={"user_id": "999999"}, form={}),
    ("POST", "/admin/users/{user_id:int}/role"): Rule(
        A, params={"user_id": "999999"}, form={"role": "expert"}
    ),
    ("POST", "/admin/users/{user_id:int}/reset-totp"): Rule(A, params={"user_id": "999999"}, form={}),
    # a malformed certificate is refused 403 certificate_rejected (pki.validation), past the guard
    ("POST", "/admin/trust-store"): Rule(A, form={"what": "ca", "pem": "x"}, admitted_may_get=(403,)),
    ("GET", "/admin/trust-store"): Rule(A),
    ("GET", "/.well-known/tenderhall-signing-key.pem"): Rule(PUBLIC),
    ("GET", "/.well-known/tenderhall-signing-cert.pem"): Rule(PUBLIC),
    ("GET", "/api/audit/tree-head"): Rule(PUBLIC),
    ("GET", "/api/audit/events/{seq:int}/proof"): Rule(PUBLIC, params={"seq": "0"}),
    ("GET", "/api/audit/consistency"): Rule(PUBLIC),
    ("GET", "/audit/tree-head"): Rule(PUBLIC),
    ("GET", "/api/jobs"): Rule(A),
    ("POST", "/api/jobs/{job_id:int}/retry"): Rule(A, params={"job_id": "999999"}),
    ("GET", "/admin/jobs"): Rule(A),
    ("POST", "/admin/jobs/{job_id:int}/retry"): Rule(A, params={"job_id": "999999"}),
    # one route for every topic; each topic follows its page (tests/kernel/test_events.py,
    # tests/trading/test_live.py): here the admins' jobs topic (answered 406 to a non-SSE client)
    ("GET", "/events/{topic:str}"): Rule(A, params={"topic": "jobs"}),
    ("GET", "/health"): Rule(PUBLIC),
    # for scrapers with the token or from an allowed address, whatever the role (test_metrics.py)
    ("GET", "/metrics"): Rule(PUBLIC, anon=403, admitted_may_get=(403,)),
    ("GET", "/lang/{code:str}"): Rule(PUBLIC, params={"code": "en"}),
    ("GET", "/favicon.ico"): Rule(PUBLIC),
    ("GET", "/desk"): Rule(LOGIN),
    ("GET", "/policies"): Rule(PUBLIC),
    ("GET", "/guide"): Rule(PUBLIC),
    ("GET", "/static/{file_path:path}"): Rule(PUBLIC, params={"file_path": "/tenderhall.css"}),
    ("GET", "/static/swagger-ui/{file_path:path}"): Rule(PUBLIC, params={"file_path": "/swagger-ui.css"}),
    ("GET", "/schema"): Rule(PUBLIC),
    ("GET", "/schema/openapi.json"): Rule(PUBLIC),
    ("GET", "/schema/swagger"): Rule(PUBLIC),
    ("GET", "/schema/oauth2-redirect.html"): Rule(PUBLIC),
    ("GET", "/schema/{path:str}"): Rule(PUBLIC, params={"path": "openapi.json"}),
    # --- credit: public ----------------------------------------------------------------------------
    ("GET", "/api/credit/blacklist"): Rule(PUBLIC),
    ("GET", "/api/credit/changes"): Rule(PUBLIC),
    ("GET", "/api/credit/records/{record_id:int}"): Rule(PUBLIC, obj="violation"),
    ("GET", "/api/credit/records"): Rule(PUBLIC),
    ("GET", "/api/credit/standing"): Rule(PUBLIC, query={"credit_code": factories.credit_code(1)}),
    ("GET", "/api/credit/types"): Rule(PUBLIC),
    ("GET", "/credit"): Rule(PUBLIC),
    ("GET", "/credit/records/{record_id:int}"): Rule(PUBLIC, obj="violation"),
    ("GET", "/credit/records/{record_id:int}/notice.pdf"): Rule(PUBLIC, obj="violation"),
    ("GET", "/credit/blacklist"): Rule(PUBLIC),
    ("GET", "/credit/companies/{code:str}"): Rule(PUBLIC, obj="credit_code"),
    ("GET", "/credit/stats"): Rule(PUBLIC),
    ("GET", "/credit/export.csv"): Rule(PUBLIC),
    ("GET", "/credit/feed.atom"): Rule(PUBLIC),
    # --- credit: a record's subject (and, reading, supervisors) ----------------------------------
    ("GET", "/api/credit/violations/{violation_id:int}"): _subject(LOGIN, sees_all=S),
    ("GET", "/api/credit/violations/{violation_id:int}/defences"): _subject(LOGIN, sees_all=S),
    ("GET", "/api/credit/violations/{violation_id:int}/repairs"): _subject(LOGIN, sees_all=S),
    ("POST", "/api/credit/violations/{violation_id:int}/defence"): _subject(LOGIN, json={"text": "申辩"}),
    ("POST", "/api/credit/violations/{violation_id:int}/repairs"): _subject(
        LOGIN, json={"rectification": "已整改", "commitment": "承诺"}
    ),
    ("GET", "/api/credit/mine"): Rule(LOGIN),
    ("GET", "/credit/mine"): Rule(SUBJECTS),
    ("GET", "/credit/mine/{violation_id:int}"): _subject(SUBJECTS),
    ("POST", "/credit/mine/{violation_id:int}/defence"): _subject(SUBJECTS, files={"text": (None, "申辩")}),
    ("POST", "/credit/mine/{violation_id:int}/repair"): _subject(
        SUBJECTS,
        files={
            "commitment_accepted": (None, "on"),
            "rectification": (None, "已整改"),
            "commitment": (None, "承诺"),
        },
    ),
    ("POST", "/api/credit/evidence"): Rule(
        (Role.supervisor, Role.admin, Role.bidder, Role.agency), content=b"x"
    ),
    # --- credit: supervisors and admins --------------------------------------------------------------
    ("GET", "/api/credit/violations"): Rule(S),
    ("POST", "/api/credit/violations"): Rule(S, json={}),
    ("POST", "/api/credit/violations/{violation_id:int}/notify"): Rule(S, obj="violation"),
    ("POST", "/api/credit/violations/{violation_id:int}/decide"): Rule(S, obj="violation", json={}),
    ("POST", "/api/credit/violations/{violation_id:int}/publish"): Rule(S, obj="violation"),
    ("POST", "/api/credit/violations/{violation_id:int}/amend"): Rule(S, obj="violation", json={}),
    ("POST", "/api/credit/violations/{violation_id:int}/revoke"): Rule(S, obj="violation", json={}),
    ("POST", "/api/credit/repairs/{repair_id:int}/decision"): Rule(S, obj="repair", json={}),
    ("GET", "/api/credit/receivers"): Rule(S),
    ("POST", "/api/credit/receivers"): Rule(A, json={}),
    ("PUT", "/api/credit/receivers/{receiver_id:int}"): Rule(A, params={"receiver_id": "999999"}, json={}),
    ("GET", "/api/credit/deliveries"): Rule(S),
    ("POST", "/api/credit/deliveries/{delivery_id:int}/resend"): Rule(A, params={"delivery_id": "999999"}),
    ("PUT", "/api/credit/types/{code:str}"): Rule(A, params={"code": "REFUSE_AWARD"}, json={}),
    ("GET", "/credit/manage"): Rule(S),
    ("GET", "/credit/manage/new"): Rule(S),
    ("POST", "/credit/manage/new"): Rule(S, files={"x": (None, "")}),
    ("GET", "/credit/manage/deliveries"): Rule(S),
    ("POST", "/credit/manage/deliveries/{delivery_id:int}/resend"): Rule(A, params={"delivery_id": "999999"}),
    ("POST", "/credit/manage/receivers"): Rule(A, files={"x": (None, "")}),
    ("GET", "/credit/manage/catalog"): Rule(S),
    ("POST", "/credit/manage/catalog"): Rule(A, files={"x": (None, "")}),
    ("POST", "/credit/manage/repairs/{repair_id:int}"): Rule(S, obj="repair", files={"x": (None, "")}),
    ("GET", "/credit/manage/{violation_id:int}"): Rule(S, obj="violation"),
    ("POST", "/credit/manage/{violation_id:int}/{action:str}"): Rule(
        S, obj="violation", params={"action": "notify"}, files={"x": (None, "")}
    ),
    # --- trading: public ---------------------------------------------------------------------------
    ("GET", "/api/trading/tenders"): Rule(PUBLIC),
    ("GET", "/api/trading/tenders/{tender_id:int}/announcement.pdf"): Rule(PUBLIC, obj="published"),
    ("GET", "/api/trading/procedure-settings"): Rule(PUBLIC),
    ("POST", "/api/trading/organisations/register"): Rule(PUBLIC, json={}),
    ("GET", "/api/ocds/changes"): Rule(PUBLIC),
    ("GET", "/api/ocds/records/{ocid:str}"): Rule(PUBLIC, obj="ocid"),
    ("GET", "/api/ocds/releases"): Rule(PUBLIC),
    ("GET", "/"): Rule(PUBLIC),
    ("GET", "/tenders"): Rule(PUBLIC),
    ("GET", "/tenders/{tender_id:int}/announcement.pdf"): Rule(PUBLIC, obj="published"),
    ("GET", "/register"): Rule(PUBLIC),
    # drafts and their documents: only the tender's managers (everyone else: not found)
    ("GET", "/api/trading/tenders/{tender_id:int}"): Rule(
        PUBLIC, obj="draft", scoped=True, owners=MANAGERS, anon=404
    ),
    ("GET", "/tenders/{tender_id:int}"): Rule(PUBLIC, obj="draft", scoped=True, owners=MANAGERS, anon=404),
    ("GET", "/api/trading/documents/{document_id:int}/download"): Rule(
        PUBLIC, obj="draft_doc", scoped=True, owners=MANAGERS, anon=404
    ),
    ("GET", "/documents/{document_id:int}"): Rule(
        PUBLIC, obj="draft_doc", scoped=True, owners=MANAGERS, anon=404
    ),
    # --- trading: bidders --------------------------------------------------------------------------
    ("POST", "/api/trading/tenders/{tender_id:int}/questions"): Rule(
        (Role.bidder,), obj="published", json={"question": "工期可否顺延？"}
    ),
    ("POST", "/tenders/{tender_id:int}/questions"): Rule(
        (Role.bidder,), obj="published", form={"question": "？"}
    ),
    ("GET", "/api/trading/notifications"): Rule((Role.bidder,)),
    ("GET", "/my/notifications"): Rule((Role.bidder,)),
    ("POST", "/my/notifications/read"): Rule((Role.bidder,), form={}),
    # --- trading: a tender's managers (its tenderee, its mandated agency) --------------------------
    ("POST", "/api/trading/tenders"): Rule(MANAGERS, json={}),
    ("PUT", "/api/trading/tenders/{tender_id:int}"): _manage("draft", json=_tender_json()),
    ("POST", "/api/trading/tenders/{tender_id:int}/publish"): _manage("draft", json={}),
    ("POST", "/api/trading/tenders/{tender_id:int}/amendments"): _manage(
        "published", json={"reason": "变更", "version": 1, "changes": {"title": "新名称"}}
    ),
    ("POST", "/api/trading/tenders/{tender_id:int}/cancel"): _manage("draft", json={"reason": "终止"}),
    ("POST", "/api/trading/lots/{lot_id:int}/fail"): _manage("lot", json={"reason": "流标", "valid_bids": 1}),
    ("POST", "/api/trading/tenders/{tender_id:int}/retender"): _manage("draft"),
    ("POST", "/api/trading/tenders/{tender_id:int}/documents"): _manage(
        "draft", query={"filename": "b.pdf"}, content=b"%PDF-1.4 upload"
    ),
    ("GET", "/api/trading/tenders/{tender_id:int}/questions"): _manage("published"),
    ("POST", "/api/trading/tenders/{tender_id:int}/clarifications"): _manage(
        "published", json={"text": "澄清"}
    ),
    ("POST", "/api/trading/clarifications/{clarification_id:int}/answer"): _manage(
        "question", json={"answer": "答复"}
    ),
    ("GET", "/api/trading/tenders/{tender_id:int}/downloads"): Rule(
        LOGIN, obj="opened", scoped=True, owners=MANAGERS, sees_all=S
    ),
    ("GET", "/manage/tenders"): Rule(MANAGERS),
    ("GET", "/manage/tenders/new"): Rule(MANAGERS),
    ("POST", "/manage/tenders"): Rule(MANAGERS, form={}),
    ("GET", "/manage/tenders/{tender_id:int}"): _manage("draft"),
    ("GET", "/manage/tenders/{tender_id:int}/edit"): _manage("draft"),
    ("POST", "/manage/tenders/{tender_id:int}/edit"): _manage("draft", form=TENDER_FORM),
    ("POST", "/manage/tenders/{tender_id:int}/publish"): _manage("draft", form={}),
    ("POST", "/manage/tenders/{tender_id:int}/amend"): _manage(
        "published", form={"reason": "变更", "title": "新"}
    ),
    ("POST", "/manage/tenders/{tender_id:int}/documents"): _manage("draft", files=PDF),
    ("POST", "/manage/tenders/{tender_id:int}/clarifications"): _manage("published", form={"text": "澄清"}),
    ("POST", "/manage/clarifications/{clarification_id:int}/answer"): _manage(
        "question", form={"answer": "答复"}
    ),
    ("POST", "/manage/tenders/{tender_id:int}/cancel"): _manage("draft", form={"reason": "终止"}),
    ("POST", "/manage/lots/{lot_id:int}/fail"): _manage("lot", form={"valid_bids": "1"}),
    ("POST", "/manage/tenders/{tender_id:int}/retender"): _manage("draft", form={}),
    # --- trading: mandates (granted and ended by the tenderee) -------------------------------------
    ("GET", "/api/trading/mandates"): Rule(MANAGERS),
    ("POST", "/api/trading/mandates"): Rule((Role.tenderee,), json={}),
    ("POST", "/api/trading/mandates/{mandate_id:int}/end"): Rule(
        (Role.tenderee,), obj="spare_mandate", scoped=True, owners=(Role.tenderee,), json={}
    ),
    ("GET", "/manage/mandates"): Rule(MANAGERS),
    ("POST", "/manage/mandates"): Rule((Role.tenderee,), form={}),
    ("POST", "/manage/mandates/{mandate_id:int}/end"): Rule(
        (Role.tenderee,), obj="spare_mandate2", scoped=True, owners=(Role.tenderee,), form={}
    ),
    # --- trading: admins -----------------------------------------------------------------------------
    ("POST", "/api/trading/organisations"): Rule(A, json={}),
    ("PUT", "/api/trading/procedure-settings/{method:str}"): Rule(A, params={"method": "open"}, json={}),
    ("GET", "/manage/procedures"): Rule(A),
    ("POST", "/manage/procedures/{method:str}"): Rule(A, params={"method": "open"}, form={}),
    ("GET", "/manage/organisations"): Rule(A),
    ("POST", "/manage/organisations"): Rule(A, form={}),
}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, but the automatic OPTIONS and HEAD."""
    out = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", None) or ["WEBSOCKET"]:
                if method not in ("OPTIONS", "HEAD"):
                    out.add((method, route.path))
    return out


# --- the world: own and someone else's objects ---------------------------------------------------


@dataclass
class Caller:
    role: Role
    user_id: int
    org_id: int | None
    credit_code: str | None
    api: str
    cookie: str


def _principal(u: User, org: Organisation | None) -> Principal:
    return Principal(
        user_id=u.id,
        username=u.username,
        role=Role(u.role),
        organisation_id=org.id if org else None,
        credit_code=org.credit_code if org else None,
    )


def _member(s: Session, role: Role, org: Organisation | None) -> tuple[User, Principal]:
    u = factories.user(s, role, organisation_id=org.id if org else None)
    return u, _principal(u, org)


def _tenders(
    s: Session, settings: Settings, tenderee: Principal, agency: Principal, asker: Principal
) -> dict[str, str]:
    def fields() -> TenderFields:
        return TenderFields(
            title="权限测试工程",
            category="works",
            method="open",
            budget_fen=100_000_000,
            duration_days=90,
            evaluation_method="comprehensive",
            bid_deadline_at=utcnow() + dt.timedelta(days=30),
            tenderee_org_id=tenderee.organisation_id,
            lots=[LotFields(title="第一标段", budget_fen=100_000_000)],
        )

    factories.custodians(s, agency)
    blob = BlobStore(settings.blob_dir).write_bytes(b"%PDF-1.4 tender documents")

    def doc(tid: int) -> int:
        d = documents.add_document(
            s, agency, settings, tid, name="招标文件", filename="a.pdf", sha256=blob.sha256, size=blob.size,
            amendment_reason="上传招标文件",
        )  # fmt: skip
        return d.id  # type: ignore[return-value]

    draft = drafting.create_tender(s, agency, settings, fields())
    draft_doc = doc(draft.id)  # type: ignore[arg-type]
    published = drafting.create_tender(s, agency, settings, fields())
    doc(published.id)  # type: ignore[arg-type]
    publication.publish_tender(s, agency, settings, published.id)  # type: ignore[arg-type]
    question = clarifications.ask_question(s, asker, published.id, "可否联合体投标？")  # type: ignore[arg-type]
    opened = drafting.create_tender(s, agency, settings, fields())
    publication.publish_tender(s, agency, settings, opened.id)  # type: ignore[arg-type]
    opened.state = TenderState.opening
    s.flush()
    lot = s.query(Lot).filter(Lot.tender_id == published.id).one()
    return {
        "draft": str(draft.id),
        "draft_doc": str(draft_doc),
        "published": str(published.id),
        "question": str(question.id),
        "opened": str(opened.id),
        "lot": str(lot.id),
        "ocid": published.ocid,
    }


T0 = dt.datetime(2026, 3, 2, 1, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SUP = Principal(user_id=None, username="sup", role=Role.supervisor)


def _record(s: Session, settings: Settings, subject: Principal, n: int) -> tuple[int, int]:
    """A published record about ``subject`` with a defence and a repair application."""
    if subject.role == Role.expert:
        who: dict[str, Any] = {"subject_kind": "expert", "user_id": subject.user_id}
    else:
        who = {"subject_kind": "company", "credit_code": subject.credit_code, "subject_name": "被记录单位"}
    v, _ = create_violation(
        s, SUP, settings, type_code="REFUSE_AWARD", facts=f"权限测试 {n}", now=T0, **who
    )  # fmt: skip
    notify(s, SUP, v.id, settings, now=T0)  # type: ignore[arg-type]
    submit_defence(s, subject, v.id, "申辩意见", now=T0 + DAY)  # type: ignore[arg-type]
    decide(
        s, SUP, v.id, outcome="upheld", reasons="属实", decision_number=f"权〔2026〕{n}号", now=T0 + 3 * DAY
    )  # type: ignore[arg-type]
    publish(s, SUP, v.id, now=T0 + 3 * DAY)  # type: ignore[arg-type]
    a = apply_repair(
        s, subject, v.id, rectification="已整改", commitment="承诺", settings=settings, now=T0 + 100 * DAY
    )  # type: ignore[arg-type]
    return v.id, a.id  # type: ignore[return-value]


@dataclass
class World:
    callers: dict[Role, Caller]
    own: dict[Role, dict[str, str]]  # per caller role: its own objects
    other: dict[str, str]  # someone else's objects


def build_world(db: Database, settings: Settings) -> World:
    with db.unit_of_work() as s:
        orgs = {
            k: factories.organisation(s, kind=k) for k in (OrgKind.bidder, OrgKind.tenderee, OrgKind.agency)
        }
        other_tenderee_org = factories.organisation(s, kind=OrgKind.tenderee)
        other_agency_org = factories.organisation(s, kind=OrgKind.agency)
        other_bidder_org = factories.organisation(s, kind=OrgKind.bidder)
        callers: dict[Role, Caller] = {}
        principals: dict[Role, Principal] = {}
        for role in ROLES:
            org = {Role.bidder: orgs[OrgKind.bidder], Role.tenderee: orgs[OrgKind.tenderee],
                   Role.agency: orgs[OrgKind.agency]}.get(role)  # fmt: skip
            u, p = _member(s, role, org)
            principals[role] = p
            callers[role] = Caller(
                role, u.id, p.organisation_id, p.credit_code,  # type: ignore[arg-type]
                factories.token_for(s, u, kind="api"), factories.token_for(s, u, kind="cookie"),
            )  # fmt: skip
        _, other_tenderee = _member(s, Role.tenderee, other_tenderee_org)
        _, other_agency = _member(s, Role.agency, other_agency_org)
        _, other_bidder = _member(s, Role.bidder, other_bidder_org)
        tenderee, agency = principals[Role.tenderee], principals[Role.agency]
        mandates.grant_mandate(s, tenderee, agency.organisation_id)  # type: ignore[arg-type]
        mandates.grant_mandate(s, other_tenderee, other_agency.organisation_id)  # type: ignore[arg-type]
        # mandates the tenderee may end during the run (its agency's own mandate stays live)
        spares = [factories.organisation(s, kind=OrgKind.agency) for _ in range(2)]
        own_spares = [mandates.grant_mandate(s, tenderee, o.id) for o in spares]  # type: ignore[arg-type]
        other_spares = [mandates.grant_mandate(s, other_tenderee, spares[0].id)]  # type: ignore[arg-type]
        own_tenders = _tenders(s, settings, tenderee, agency, other_bidder)
        other_tenders = _tenders(s, settings, other_tenderee, other_agency, other_bidder)
        own: dict[Role, dict[str, str]] = {}
        n = 0
        for role in ROLES:
            objs = dict(own_tenders)
            objs["credit_code"] = principals[role].credit_code or other_bidder.credit_code or ""
            if role in ALL_SUBJECT_ROLES:
                n += 1
                vid, rid = _record(s, settings, principals[role], n)
                objs["violation"], objs["repair"] = str(vid), str(rid)
            own[role] = objs
        for role in SUPERVISION:  # supervisors act on the bidder's record
            own[role]["violation"], own[role]["repair"] = (
                own[Role.bidder]["violation"],
                own[Role.bidder]["repair"],
            )
        own[Role.tenderee]["spare_mandate"] = str(own_spares[0].id)
        own[Role.tenderee]["spare_mandate2"] = str(own_spares[1].id)
        vid, rid = _record(s, settings, other_bidder, 99)
        other = {
            **other_tenders,
            "violation": str(vid),
            "repair": str(rid),
            "credit_code": other_bidder.credit_code or "",
            "spare_mandate": str(other_spares[0].id),
            "spare_mandate2": str(other_spares[0].id),
        }
    return World(callers, own, other)


# --- calling -----------------------------------------------------------------------------------------


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def url_for(path: str, rule: Rule, objects: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in rule.params:
            return rule.params[name].lstrip("/") if name == "file_path" else rule.params[name]
        assert rule.obj, f"{path}: give the rule an obj or params for {{{name}}}"
        return objects[rule.obj]

    return PARAM.sub(value, path)


@dataclass
class Call:
    client: TestClient  # type: ignore[type-arg]
    tokens: dict[str | None, str] = field(default_factory=dict)  # CSRF tokens per session cookie

    def csrf(self, cookie: str | None) -> str:
        """A form token for the session the client now carries (tokens are bound to the session)."""
        if cookie not in self.tokens:
            page = self.client.get("/login")
            m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert m, "the login page carries no CSRF token"
            self.tokens[cookie] = m.group(1)
        return self.tokens[cookie]

    def __call__(
        self, method: str, path: str, rule: Rule, caller: Caller | None, objects: dict[str, str]
    ) -> Any:
        url = url_for(path, rule, objects)
        is_api = path.startswith("/api/")
        headers: dict[str, str] = {}
        self.client.cookies.delete("th_session")
        if caller is not None:
            if is_api:
                headers["Authorization"] = f"Bearer {caller.api}"
            else:
                self.client.cookies.set("th_session", caller.cookie)
        if method != "GET" and not is_api:
            headers["x-csrftoken"] = self.csrf(caller.cookie if caller is not None else None)
        kw: dict[str, Any] = {"headers": headers, "follow_redirects": False, "params": rule.query}
        if method != "GET":
            if rule.json is not None:
                kw["json"] = rule.json
            elif rule.form is not None:
                kw["data"] = rule.form
            elif rule.files is not None:
                kw["files"] = rule.files
            elif rule.content is not None:
                kw["content"] = rule.content
        return self.client.request(method, url, **kw)


def _fails(method: str, path: str, who: str, got: Any, want: str) -> str:
    text = got.text
    if "<main" in text:  # a page: the message, not the markup
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text.split("<main", 1)[1]))
    return f"{method} {path} as {who}: got {got.status_code}, want {want}: {text[:240].strip()}"


def check_route(call: Call, world: World, method: str, path: str, rule: Rule) -> list[str]:
    problems: list[str] = []
    is_api = path.startswith("/api/")
    # anonymous
    r = call(method, path, rule, None, {**world.other, **world.own[Role.bidder]})
    if rule.unchecked:
        if r.status_code >= 500:
            problems.append(_fails(method, path, "anonymous", r, "no server error"))
    elif rule.anon is not None:
        if r.status_code != rule.anon:
            problems.append(_fails(method, path, "anonymous", r, str(rule.anon)))
    elif rule.who == PUBLIC:
        if r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(_fails(method, path, "anonymous", r, "public access"))
    elif is_api:
        if r.status_code != 401:
            problems.append(_fails(method, path, "anonymous", r, "401"))
    elif not (r.status_code in (302, 303) and r.headers.get("location", "").startswith("/login")):
        problems.append(_fails(method, path, "anonymous", r, "a redirect to /login"))
    # every role
    for role in ROLES:
        caller = world.callers[role]
        if not rule.admits(role):
            r = call(method, path, rule, caller, {**world.other, **world.own[role]})
            if r.status_code != 403:
                problems.append(_fails(method, path, role.value, r, "403"))
            continue
        if rule.unchecked:
            continue
        owns = not rule.scoped or role in rule.sees_all or role in rule.owners
        if owns:
            r = call(method, path, rule, caller, {**world.other, **world.own[role]})
            refused = {401, 403, 404} if rule.scoped else {401, 403}
            if r.status_code in refused - set(rule.admitted_may_get) or r.status_code >= 500:
                problems.append(_fails(method, path, f"{role.value} (own)", r, "allowed"))
        if rule.scoped and role not in rule.sees_all:
            r = call(method, path, rule, caller, world.other)
            if r.status_code not in (403, 404):
                problems.append(_fails(method, path, f"{role.value} (other's)", r, "403 or 404"))
    return problems


@pytest.fixture
def route_client(app: Litestar) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app, base_url="http://testserver.local") as c:
        yield c


def test_every_route_has_an_access_rule(app: Litestar) -> None:
    served = app_routes(app)
    missing = sorted(served - set(RULES))
    stale = sorted(set(RULES) - served)
    assert not missing, "routes without an access rule in tests/test_route_access.py RULES: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "rules for routes the app no longer serves: " + ", ".join(f"{m} {p}" for m, p in stale)


def test_every_route_answers_every_role_as_its_rule_says(
    app: Litestar,
    route_client: TestClient,
    db: Database,
    settings: Settings,  # type: ignore[type-arg]
) -> None:
    world = build_world(db, settings)
    call = Call(route_client)
    served = app_routes(app)
    order = sorted(served & set(RULES), key=lambda k: (RULES[k].last, k[1] == "/logout", k))
    problems: list[str] = []
    for method, path in order:
        problems += check_route(call, world, method, path, RULES[(method, path)])
    assert not problems, f"{len(problems)} answers differ from the access rules:\n" + "\n".join(problems)
