"""Credit demo data: a populated public disclosure site and blacklist.

Reads from ``ctx`` (filled by the kernel demo): ``settings``; ``users["supervisor"]``,
``users["experts"]``; ``organisations["bidders"]`` / ``credit_codes["bidders"]`` and
``organisations["agency"]`` / ``credit_codes["agency"]``. Missing keys are tolerated.

Writes ``ctx["credit"]``: ``records`` (label -> record id), ``blacklisted_credit_code``,
``to_decide`` (a notified record whose defence period has ended: decide it on
/credit/manage/<id>), ``to_answer`` (a record bidder1 may answer on /credit/mine/<id>),
``receiver_url`` (``tenderhall demo --serve`` runs the receiver itself: :func:`serve_alongside`).

Creates records in every state: draft, notified (defence open and defence over), decided (minor,
never published), dismissed, published general and serious (a blacklisted company), repaired,
expired and revoked, plus enough published history for the statistics charts. Idempotent: a
second run finds its records and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.models import Receiver, Violation, pk
from credit.receiver import ReceiverServer
from credit.service import catalog, decisions, defence, publication, repair, violations
from credit.service.receivers import save_receiver
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.settings import VAR_DIR, Settings

DEMO_TAG = "【演示】"
RECEIVER_URL = "http://127.0.0.1:8900/events"
RECEIVER_NAME = "省公共信用信息平台（演示）"
COMPANIES = [
    ("江汉建工集团有限公司", "91429005MA0001"),
    ("汉江路桥工程有限公司", "91429005MA0002"),
    ("楚天市政建设有限公司", "91429005MA0003"),
    ("东荆河水利水电工程有限公司", "91429005MA0004"),
    ("章华园林绿化有限公司", "91429005MA0005"),
    ("兴隆智能科技有限公司", "91429005MA0006"),
    ("泽口港航工程有限公司", "91429005MA0007"),
    ("广华石化设备有限公司", "91429005MA0008"),
    ("园林建材贸易有限公司", "91429005MA0009"),
    ("汉南水利工程有限公司", "91429005MA0010"),
]
FACTS = {
    "BID_RIGGING": "在“{p}”项目投标中，与其他投标人的投标文件由同一电脑编制（设备标识一致），"
    "报价呈等差排列。",
    "QUALIFICATION_LENDING": "在“{p}”项目中借用其他企业资质投标，项目经理社保关系不在投标单位。",
    "ILLEGAL_SUBCONTRACTING": "中标“{p}”项目后将主体工程整体转包给无资质个人。",
    "FALSE_MATERIALS": "在“{p}”项目投标文件中提供虚假业绩证明和伪造的中标通知书。",
    "REFUSE_AWARD": "被确定为“{p}”项目第一中标候选人后，无正当理由拒绝签订合同。",
    "PROXY_CLOCK_IN": "“{p}”项目项目经理由他人代为人脸打卡，经核查属实。",
    "PERSONNEL_ABSENT": "“{p}”项目关键岗位人员当月到岗天数少于规定要求。",
    "BOND_NOT_REFUNDED": "“{p}”项目合同签订后未在5日内退还投标保证金。",
    "MINOR_PROCEDURAL": "“{p}”项目开标时未按规定提交授权委托书原件。",
}
PROJECTS = [
    "城东污水处理厂提标改造",
    "东荆河堤防加固",
    "老城区管网改造",
    "章华大道配套道路",
    "市第一医院门诊楼",
    "城南新区学校",
    "汉江大桥养护",
    "智慧城市平台采购",
    "保障性住房一期",
    "公共资源交易中心设备",
]


def _code(prefix: str) -> str:
    return make_credit_code((prefix + "0000000000")[:17])


def _walk(
    s: Session,
    actor: Principal,
    settings: Settings,
    *,
    code: str,
    name: str,
    type_code: str,
    facts: str,
    decided_at: dt.datetime,
    outcome: str = "upheld",
    publish: bool = True,
    days: int | None = None,
    subject_kind: str = "company",
    **subject: Any,
) -> Violation:
    notified_at = decided_at - dt.timedelta(days=settings.credit.defence_days)
    v, _ = violations.create_violation(
        s,
        actor,
        settings,
        subject_kind=subject_kind,
        credit_code=code or None,
        subject_name=name,
        type_code=type_code,
        facts=DEMO_TAG + facts,
        now=notified_at - dt.timedelta(hours=2),
        **subject,
    )
    defence.notify(s, actor, v.id, settings, now=notified_at)  # type: ignore[arg-type]
    decisions.decide(
        s,
        actor,
        pk(v),
        outcome=outcome,
        reasons="经调查核实，事实清楚，证据确凿。"
        if outcome == "upheld"  # type: ignore[arg-type]
        else "现有证据不足以认定。",
        decision_number=f"榕公管信罚〔{decided_at.year}〕{v.id}号",
        publication_days=days,
        now=decided_at,
    )
    if publish and outcome == "upheld" and v.severity != "minor":
        publication.publish(s, actor, v.id, now=decided_at + dt.timedelta(hours=1))  # type: ignore[arg-type]
    return v


def seed(session: Session, ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or Settings()
    s = session
    catalog.ensure_default_catalog(s)
    done = s.execute(
        sa.select(col(Violation.id)).where(col(Violation.facts).startswith(DEMO_TAG)).limit(1)
    ).first()
    users = ctx.get("users", {})
    sup_id = users.get("supervisor")
    actor = (
        Principal(user_id=sup_id, username="supervisor", role=Role.supervisor, display_name="监管人员")
        if sup_id
        else Principal.system("credit-demo")
    )
    if done is not None:
        ctx.setdefault("credit", {})["note"] = "credit demo data already present"
        return
    if s.execute(sa.select(col(Receiver.id)).where(col(Receiver.url) == RECEIVER_URL)).first() is None:
        save_receiver(s, actor, name=RECEIVER_NAME, url=RECEIVER_URL)
    now = utcnow()
    day = dt.timedelta(days=1)
    rng = random.Random(20260401)
    companies = [(n, _code(p)) for n, p in COMPANIES]
    bidder_codes: list[str] = ctx.get("credit_codes", {}).get("bidders", [])
    out: dict[str, int] = {}

    def proj() -> str:
        return rng.choice(PROJECTS)

    # a blacklisted company: serious, published, two years
    name, code = companies[0]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="BID_RIGGING",
        facts=FACTS["BID_RIGGING"].format(p=proj()),
        decided_at=now - 40 * day,
        days=730,
    )
    out["serious_blacklisted"] = v.id  # type: ignore[assignment]
    # a general published record against a registered bidder (tier C, may still bid)
    if len(bidder_codes) > 1:
        v = _walk(
            s,
            actor,
            settings,
            code=bidder_codes[1],
            name="",
            type_code="REFUSE_AWARD",
            facts=FACTS["REFUSE_AWARD"].format(p=proj()),
            decided_at=now - 20 * day,
            days=180,
        )
        out["general_registered_bidder"] = v.id  # type: ignore[assignment]
    # repaired: general, published 200 days ago, repair approved
    name, code = companies[1]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="PERSONNEL_ABSENT",
        facts=FACTS["PERSONNEL_ABSENT"].format(p=proj()),
        decided_at=now - 200 * day,
        days=365,
    )
    owner = Principal(user_id=-1, username=f"demo {name}", role=Role.bidder, credit_code=code)
    app = repair.apply_repair(
        s,
        owner,
        pk(v),
        rectification="已补足项目关键岗位人员并完善考勤管理制度。",  # type: ignore[arg-type]
        commitment="本单位承诺今后严格遵守招标投标法律法规，接受社会监督。",
        settings=settings,
        now=now - 100 * day,
    )
    repair.decide_repair(s, actor, app.id, approve=True, reasons="整改到位，准予修复。", now=now - 95 * day)  # type: ignore[arg-type]
    out["repaired"] = v.id  # type: ignore[assignment]
    # a refused repair on a published record
    name, code = companies[2]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="BOND_NOT_REFUNDED",
        facts=FACTS["BOND_NOT_REFUNDED"].format(p=proj()),
        decided_at=now - 120 * day,
        days=365,
    )
    owner = Principal(user_id=-1, username=f"demo {name}", role=Role.bidder, credit_code=code)
    app = repair.apply_repair(
        s,
        owner,
        pk(v),
        rectification="已退还。",
        commitment="承诺按时退还。",
        settings=settings,  # type: ignore[arg-type]
        now=now - 10 * day,
    )
    repair.decide_repair(
        s,
        actor,
        pk(app),
        approve=False,
        reasons="未提供退还凭证，请补充银行回单。",  # type: ignore[arg-type]
        now=now - 8 * day,
    )
    out["published_repair_refused"] = v.id  # type: ignore[assignment]
    # expired: published for 90 days, 400 days ago
    name, code = companies[3]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="BOND_NOT_REFUNDED",
        facts=FACTS["BOND_NOT_REFUNDED"].format(p=proj()),
        decided_at=now - 400 * day,
        days=90,
    )
    publication.expire_due(s, actor, now=now)
    out["expired"] = v.id  # type: ignore[assignment]
    # revoked on appeal
    name, code = companies[4]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="REFUSE_AWARD",
        facts=FACTS["REFUSE_AWARD"].format(p=proj()),
        decided_at=now - 60 * day,
        days=180,
    )
    decisions.revoke(s, actor, v.id, reason="经行政复议（榕复〔2026〕12号）撤销原决定。", now=now - 30 * day)  # type: ignore[arg-type]
    out["revoked"] = v.id  # type: ignore[assignment]
    # minor: decided, never published
    name, code = companies[5]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="MINOR_PROCEDURAL",
        facts=FACTS["MINOR_PROCEDURAL"].format(p=proj()),
        decided_at=now - 15 * day,
    )
    out["minor_unpublished"] = v.id  # type: ignore[assignment]
    # dismissed
    name, code = companies[6]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="FALSE_MATERIALS",
        facts=FACTS["FALSE_MATERIALS"].format(p=proj()),
        decided_at=now - 12 * day,
        outcome="dismissed",
    )
    out["dismissed"] = v.id  # type: ignore[assignment]
    # decided (upheld, general) but not yet published
    name, code = companies[7]
    v = _walk(
        s,
        actor,
        settings,
        code=code,
        name=name,
        type_code="PROXY_CLOCK_IN",
        facts=FACTS["PROXY_CLOCK_IN"].format(p=proj()),
        decided_at=now - 2 * day,
        publish=False,
        days=180,
    )
    out["decided_unpublished"] = v.id  # type: ignore[assignment]
    # a person (project manager) by ID number, published: shown masked
    v = _walk(
        s,
        actor,
        settings,
        code="",
        name="陈某某",
        type_code="PROXY_CLOCK_IN",
        subject_kind="person",
        id_number="350102198001010011",
        facts=FACTS["PROXY_CLOCK_IN"].format(p=proj()),
        decided_at=now - 25 * day,
        days=180,
    )
    out["person_published"] = v.id  # type: ignore[assignment]
    # an expert on the platform: a minor record (tier B, may still be drawn)
    experts = users.get("experts") or []
    if experts:
        v = _walk(
            s,
            actor,
            settings,
            code="",
            name="",
            type_code="MINOR_PROCEDURAL",
            subject_kind="expert",
            user_id=experts[-1],
            facts="评标时未按规定关闭通讯工具。",
            decided_at=now - 30 * day,
        )
        out["expert_minor"] = v.id  # type: ignore[assignment]
    # notified, defence period over: a supervisor can decide it now (browser-test flow)
    name, code = companies[8]
    v, _ = violations.create_violation(
        s,
        actor,
        settings,
        subject_kind="company",
        credit_code=code,
        subject_name=name,
        type_code="FALSE_MATERIALS",
        facts=DEMO_TAG + FACTS["FALSE_MATERIALS"].format(p="市第一医院门诊楼"),
        evidence=[
            {
                "type": "object",
                "object_type": "credit_violation_type",
                "object_id": str(catalog.get_type(s, "FALSE_MATERIALS").id),
                "label": "违规类型目录",
            }
        ],
        now=now - 6 * day,
    )
    defence.notify(s, actor, v.id, settings, now=now - 5 * day)  # type: ignore[arg-type]
    out["to_decide"] = v.id  # type: ignore[assignment]
    # notified, defence period open, against the first demo bidder (bidder1 answers on /credit/mine)
    if bidder_codes:
        v, _ = violations.create_violation(
            s,
            actor,
            settings,
            subject_kind="company",
            credit_code=bidder_codes[0],
            type_code="PERSONNEL_ABSENT",
            facts=DEMO_TAG + FACTS["PERSONNEL_ABSENT"].format(p=proj()),
            now=now,
        )
        defence.notify(s, actor, v.id, settings, now=now)  # type: ignore[arg-type]
        out["to_answer"] = v.id  # type: ignore[assignment]
    # a draft against the demo agency
    agency_code = ctx.get("credit_codes", {}).get("agency")
    if agency_code:
        v, _ = violations.create_violation(
            s,
            actor,
            settings,
            subject_kind="agency",
            credit_code=agency_code,
            type_code="MINOR_PROCEDURAL",
            facts=DEMO_TAG + "代理机构未按时上传开标记录。",
            now=now,
        )
        out["draft"] = v.id  # type: ignore[assignment]
    # history for the statistics: published records across types and months
    general_types = ["REFUSE_AWARD", "PROXY_CLOCK_IN", "PERSONNEL_ABSENT", "BOND_NOT_REFUNDED"]
    for i in range(36):
        city = rng.choice(["潜江", "武汉", "仙桃", "天门", "孝感", "荆州"])
        brand = rng.choice(["宏远", "兴业", "鑫源", "建达", "恒通", "华景"])
        name = f"{city}{brand}{rng.choice(['建设', '工程', '科技', '贸易'])}有限公司"
        code = _code(f"914290{i:02d}MA1{i:03d}")
        tcode = (
            rng.choice(general_types)
            if i % 6
            else rng.choice(
                ["BID_RIGGING", "FALSE_MATERIALS", "QUALIFICATION_LENDING", "ILLEGAL_SUBCONTRACTING"]
            )
        )
        decided = now - dt.timedelta(days=rng.randint(5, 330), hours=rng.randint(0, 23))
        _walk(
            s,
            actor,
            settings,
            code=code,
            name=name,
            type_code=tcode,
            facts=FACTS[tcode].format(p=proj()),
            decided_at=decided,
            days=365 if tcode in general_types else 1095,
        )
    ctx["credit"] = {
        "records": out,
        "blacklisted_credit_code": companies[0][1],
        "to_decide": out.get("to_decide"),
        "to_answer": out.get("to_answer"),
        "receiver_url": RECEIVER_URL,
        "notes": [
            "Credit: public pages at /credit, blacklist at /credit/blacklist; a supervisor can decide record "
            f"#{out.get('to_decide')} at /credit/manage/{out.get('to_decide')}; pushes go to {RECEIVER_URL} "
            "(`make demo` runs that receiver in its own process; "
            "else run `uv run tenderhall credit receiver --port 8900`).",
        ],
    }
    notes = ctx.get("notes")
    if isinstance(notes, list):
        notes.extend(ctx["credit"]["notes"])


def serve_alongside(settings: Settings, *, path: Path | None = None) -> ReceiverServer:
    """The demo's receiving credit platform, started by ``tenderhall demo --serve`` (``make demo``)
    in its own process (a daemon thread), so that the demo's pushes are delivered: on the port of
    :data:`RECEIVER_URL`, or on a free one when that is taken (the demo receiver's address is then
    set to it). It verifies the platform's signatures with the platform's own public key."""
    from tenderhall.db import Database
    from tenderhall.signing import platform_signer

    if path is None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = VAR_DIR / "demo-credit-receiver.db"
    key = platform_signer(settings).public_key_pem
    port = int(RECEIVER_URL.split(":")[2].split("/")[0])
    try:
        rx = ReceiverServer(path, public_key_pem=key, port=port).start()
    except OSError:  # the port is taken (another demo, a receiver started by hand)
        rx = ReceiverServer(path, public_key_pem=key, port=0).start()
    url = f"{rx.url}/events"
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as s:  # where a run before left it on another port
            s.execute(
                sa.update(Receiver)
                .where(col(Receiver.name) == RECEIVER_NAME, col(Receiver.url) != url)
                .values(url=url)
            )
    finally:
        db.dispose()
    print(f"credit: the demo's receiving platform listens at {url}", flush=True)
    return rx
