"""Demo tenders (``tenderhall demo``): works, goods and services at every stage trading
has so far (drafted to closed, amended, cancelled, failed, re-tendered).

Reads from ``ctx`` (written by the kernel's demo identities):
  ``ctx["settings"]``; ``ctx["organisations"]["tenderee" | "agency" | "bidders"]`` (ids);
  ``ctx["users"]["tenderee" | "agency" | "bidders"]`` (user ids; bidder i belongs to bidder org i).
Writes ``ctx["tenders"]``: ``{label: tender id}`` for the later domains (labels: "open_works",
"amended_goods", "consultation_services", "cancelled_works", "failed_goods", "retender_goods",
"closed_services", "draft_works", plus "extra_<n>" for search variety).

Idempotent: when the demo tenderee already has tenders, nothing is added.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation, Role, User
from tenderhall.auth.principal import SYSTEM, Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from trading.models import Lot, Tender
from trading.opening.demo import register_demo_custodians
from trading.pdf import store_announcement
from trading.schemas import LotFields, TenderFields
from trading.service import (
    amendments,
    clarifications,
    closing,
    documents,
    drafting,
    mandates,
    notifications,
    publication,
    retendering,
)

WAN = 1_000_000  # 1 万元 in fen


def _principal(session: Session, user_id: int) -> Principal:
    u = session.get(User, user_id)
    assert u is not None
    org = session.get(Organisation, u.organisation_id) if u.organisation_id else None
    return Principal(
        user_id=u.id,
        username=u.username,
        role=Role(u.role),
        display_name=u.display_name,
        organisation_id=u.organisation_id,
        credit_code=org.credit_code if org else None,
    )


def _doc(
    session: Session,
    settings: Settings,
    actor: Principal,
    tid: int,
    name: str,
    filename: str,
    text: str,
    doc_type: str,
    now: dt.datetime,
    reason: str | None = None,
) -> int:
    ref = BlobStore(settings.blob_dir).write_bytes(text.encode("utf-8"))
    d = documents.add_document(
        session,
        actor,
        settings,
        tid,
        name=name,
        filename=filename,
        sha256=ref.sha256,
        size=ref.size,
        document_type=doc_type,
        amendment_reason=reason,
        now=now,
    )
    return d.id  # type: ignore[return-value]


def _fields(
    tenderee_id: int,
    title: str,
    category: str,
    method: str,
    budget_wan: int,
    deadline: dt.datetime,
    region: str,
    *,
    lots: list[tuple[str, int]] | None = None,
    gov: bool = True,
    evaluation: str = "comprehensive",
    description: str = "",
    duration: int = 180,
) -> TenderFields:
    return TenderFields(
        title=title,
        category=category,
        method=method,
        budget_fen=budget_wan * WAN,
        ceiling_price_fen=int(budget_wan * WAN * 0.97),
        duration_days=duration,
        evaluation_method=evaluation,
        bid_deadline_at=deadline,
        tenderee_org_id=tenderee_id,
        region=region,
        government_investment=gov,
        funding_source="财政资金" if gov else "自筹资金",
        description=description,
        announcement=f"{title}已具备招标条件，现进行公开招标，欢迎符合资格条件的投标人参加投标。",
        bid_bond_fen=None if (gov and category == "works") else int(budget_wan * WAN * 0.01),
        lots=[LotFields(title=t, budget_fen=b * WAN) for t, b in (lots or [])],
    )


def seed(session: Session, ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    orgs, users = ctx["organisations"], ctx["users"]
    tenderee_id: int = orgs["tenderee"]
    tenderee = _principal(session, users["tenderee"])
    if mandates.live_mandate(session, tenderee_id, orgs["agency"], None) is None:
        # the demo agency runs the demo tenderee's tenders under a mandate (委托代理)
        mandates.grant_mandate(session, tenderee, orgs["agency"], note="演示：委托代理全部招标项目")
    register_demo_custodians(session, ctx, _principal)
    if session.execute(
        sa.select(col(Tender.id)).where(col(Tender.tenderee_org_id) == tenderee_id).limit(1)
    ).first():
        ctx.setdefault("tenders", {})
        return
    agency = _principal(session, users["agency"])
    bidders = [_principal(session, uid) for uid in users["bidders"]]
    now = utcnow()
    day = dt.timedelta(days=1)
    out: dict[str, int] = {}

    def make(label: str, actor: Principal, f: TenderFields, published: dt.datetime | None) -> int:
        t = drafting.create_tender(session, actor, settings, f, now=published or now)
        if published is not None:
            publication.publish_tender(session, actor, settings, t.id, now=published)  # type: ignore[arg-type]
        out[label] = t.id  # type: ignore[assignment]
        return t.id  # type: ignore[return-value]

    # 1. works, open tender, live: two lots, documents, a bidder's question answered
    t1 = make(
        "open_works",
        agency,
        _fields(
            tenderee_id,
            "园林街道东风路片区市政道路提升改造工程施工",
            "works",
            "open",
            4800,
            now + 22 * day,
            "园林街道",
            lots=[("第一标段：东风路段", 2600), ("第二标段：章华路段", 2200)],
            description="道路提升改造约3.2公里，含排水管网、照明及交通设施。",
        ),
        None,
    )
    _doc(
        session,
        settings,
        agency,
        t1,
        "招标文件",
        "招标文件-东风路道路.txt",
        "第一章 招标公告\n第二章 投标人须知\n第三章 评标办法（综合评估法）\n",
        "biddingDocuments",
        now - 3 * day,
    )
    _doc(
        session,
        settings,
        agency,
        t1,
        "工程量清单",
        "工程量清单.txt",
        "序号,项目,单位,工程量\n1,沥青路面,m2,18500\n",
        "billOfQuantity",
        now - 3 * day,
    )
    publication.publish_tender(session, agency, settings, t1, now=now - 3 * day)
    for b in bidders[:3]:
        for d in documents.documents_of(session, t1):
            documents.document_for_download(session, b, d.id, now=now - 2 * day)  # type: ignore[arg-type]
    q = clarifications.ask_question(session, bidders[0], t1, "第二标段是否允许夜间施工？", now=now - 2 * day)
    clarifications.answer_question(
        session,
        agency,
        settings,
        q.id,  # type: ignore[arg-type]
        "允许，须办理夜间施工许可。",  # type: ignore[arg-type]
        now=now - 1 * day,
    )
    notifications.notify_bidders(session, "clarification", q.id)  # type: ignore[arg-type]

    # 2. goods, amended: the budget changed and a late clarification moved the deadline
    t2 = make(
        "amended_goods",
        tenderee,
        _fields(
            tenderee_id,
            "市第一中学智慧教室设备采购",
            "goods",
            "open",
            360,
            now + 8 * day,
            "杨市街道",
            evaluation="lowest_price",
            gov=False,
            duration=45,
        ),
        now - 14 * day,
    )
    _doc(
        session,
        settings,
        tenderee,
        t2,
        "招标文件",
        "智慧教室-招标文件.txt",
        "技术参数：交互式平板 86 英寸 ×40 台\n",
        "biddingDocuments",
        now - 14 * day,
        reason="上传招标文件",
    )
    for b in bidders[1:4]:
        for d in documents.documents_of(session, t2):
            documents.document_for_download(session, b, d.id, now=now - 13 * day)  # type: ignore[arg-type]
    cur = session.get(Tender, t2)
    assert cur is not None
    a = amendments.amend_tender(
        session,
        tenderee,
        settings,
        t2,
        "增加录播设备，预算调整",
        {"budget_fen": 395 * WAN},
        expected_version=cur.version,
        now=now - 10 * day,
    )
    notifications.notify_bidders(session, "amendment", a.id)  # type: ignore[arg-type]
    c = clarifications.issue_clarification(
        session, tenderee, settings, t2, "交互式平板屏幕尺寸允许 86 英寸及以上。", now=now - 1 * day
    )
    notifications.notify_bidders(session, "clarification", c.id)  # type: ignore[arg-type]

    # 3. services, competitive consultation (10-day minimum)
    make(
        "consultation_services",
        agency,
        _fields(
            tenderee_id,
            "2027年度市政府办公楼物业管理服务",
            "services",
            "competitive_consultation",
            290,
            now + 9 * day,
            "园林街道",
            duration=365,
        ),
        now - 2 * day,
    )

    # 4. works, cancelled with a published reason
    t4 = make(
        "cancelled_works",
        agency,
        _fields(
            tenderee_id, "东荆河沿岸滨河步道景观提升工程", "works", "open", 1500, now + 20 * day, "周矶街道"
        ),
        now - 5 * day,
    )
    closing.cancel_tender(session, agency, settings, t4, "项目规划调整，终止本次招标", now=now - 1 * day)

    # 5. goods, invited tender failed (流标) at the deadline, then re-tendered as a draft
    t5 = make(
        "failed_goods",
        agency,
        _fields(
            tenderee_id,
            "市急救中心救护车采购",
            "goods",
            "invited",
            680,
            now - 3 * day,
            "广华街道",
            lots=[("A包：负压救护车", 420), ("B包：监护型救护车", 260)],
            gov=True,
            duration=90,
        ),
        now - 24 * day,
    )
    closing.close_tender(session, SYSTEM, settings, t5, now=now - 3 * day)
    for lot in (
        session.execute(sa.select(Lot).where(col(Lot.tender_id) == t5).order_by(col(Lot.number)))
        .scalars()
        .all()
    ):
        retendering.mark_lot_failed(
            session,
            agency,
            settings,
            lot.id,  # type: ignore[arg-type]
            "有效投标人不足3家",
            valid_bids=2,  # type: ignore[arg-type]
            now=now - 3 * day,
        )
    out["retender_goods"] = retendering.retender(session, agency, settings, t5, now=now - 2 * day).id  # type: ignore[assignment]

    # 6. services, closed at its deadline (bid opening is not built yet)
    t6 = make(
        "closed_services",
        agency,
        _fields(
            tenderee_id,
            "城区生活垃圾分类收运服务项目",
            "services",
            "open",
            950,
            now - 1 * day,
            "潜江经济开发区",
            duration=730,
        ),
        now - 22 * day,
    )
    closing.close_tender(session, SYSTEM, settings, t6, now=now - 1 * day)

    # 7. a draft (not public)
    make(
        "draft_works",
        agency,
        _fields(tenderee_id, "汉江大桥桥面铺装维修工程", "works", "open", 2100, now + 30 * day, "竹根滩镇"),
        None,
    )

    # search variety
    extras = [
        ("渔洋镇村级污水管网建设工程", "works", "open", 3200, "渔洋镇"),
        ("区属学校教学用计算机采购", "goods", "open", 240, "杨市街道"),
        ("市档案馆数字化加工服务", "services", "open", 180, "园林街道"),
        ("社区卫生服务中心医疗设备采购", "goods", "inquiry", 85, "周矶街道"),
        ("市政道路绿化养护服务（2027年）", "services", "open", 420, "广华街道"),
        ("老旧小区改造配套设施工程", "works", "open", 2750, "潜江经济开发区"),
    ]
    for i, (title, cat, method, budget, region) in enumerate(extras):
        days = 3 if method == "inquiry" else 21
        make(
            f"extra_{i}",
            agency,
            _fields(
                tenderee_id, title, cat, method, budget, now + (days + i) * day, region, gov=cat == "works"
            ),
            now - i * day / 2,
        )

    for label, tid in out.items():
        if label != "draft_works" and label != "retender_goods":
            store_announcement(session, settings, tid)
    ctx["tenders"] = out
    ctx.setdefault("notes", []).append(
        f"Trading: {len(out)} demo tenders; public portal at {settings.base_url}/tenders, "
        f"staff pages at {settings.base_url}/manage/tenders, OCDS at {settings.base_url}/api/ocds/releases"
    )
