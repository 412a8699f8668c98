"""Tenders and lots: the state machine and every transition this issue drives.

Each transition is a function that checks its rule, writes an audit event and, where the change is
public, an Open Contracting release — all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden, InvalidInput, RuleViolation
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI
from trading import live, ocds
from trading.exceptions import (
    ClarificationCutoff,
    DeadlineTooSoon,
    NoMandate,
    NotYourTender,
    PublishedTenderLocked,
    StaleVersion,
    TendereeFixed,
    TenderNotFound,
    WrongState,
)
from trading.models import (
    CATEGORY_LABELS,
    EVALUATION_LABELS,
    METHOD_LABELS,
    OPEN_STATES,
    STATE_LABELS,
    TRANSITIONS,
    Amendment,
    Category,
    Document,
    EvaluationMethod,
    Lot,
    LotState,
    Tender,
    TenderState,
)
from trading.schemas import AMENDABLE_FIELDS, LotFields, TenderFields
from trading.service import search_index
from trading.service.mandates import acts_for, live_mandate, require_mandate
from trading.service.procedures import parse_method, procedure_settings

MANAGER_ROLES = frozenset({Role.tenderee, Role.agency})


# --- loading and rights ----------------------------------------------------------------------


def get_tender(session: Session, tender_id: int) -> Tender:
    tender = session.get(Tender, tender_id)
    if tender is None:
        raise TenderNotFound(f"找不到招标项目 {tender_id}", f"Tender {tender_id} does not exist")
    return tender


def get_public_tender(session: Session, tender_id: int) -> Tender:
    """A tender the public may see (anything but a draft)."""
    tender = get_tender(session, tender_id)
    if tender.state == TenderState.draft:
        raise TenderNotFound(f"找不到招标项目 {tender_id}", f"Tender {tender_id} does not exist")
    return tender


def can_manage(session: Session, actor: Principal, tender: Tender) -> bool:
    """The tender's tenderee, or its agency under a live mandate from the tenderee."""
    return acts_for(session, actor, tender)


def require_manager(session: Session, actor: Principal, tender: Tender) -> None:
    if not can_manage(session, actor, tender):
        raise NotYourTender(
            "只有该项目的招标人或受其有效委托的招标代理可以执行此操作",
            "Only this tender's tenderee, or an agency holding its live mandate, may do this",
        )


def lots_of(session: Session, tender_id: int) -> list[Lot]:
    return list(
        session.execute(
            sa.select(Lot).where(col(Lot.tender_id) == tender_id).order_by(col(Lot.number))
        ).scalars()
    )


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


# --- the state machine -----------------------------------------------------------------------


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
    """Generic checked transition for the later stages (opening, evaluating, publicised, awarded,
    contracted, in performance, completed), driven by the issues that build them."""
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


# --- fields ----------------------------------------------------------------------------------


def _enum(cls: Any, value: str, zh: str, en: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        options = ", ".join(m.value for m in cls)
        raise InvalidInput(f"{zh}无效：{value!r}", f"Unknown {en} {value!r} (one of: {options})") from None


def _check_money(value: int | None, zh: str, en: str, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidInput(f"{zh}不能为空", f"{en} is required")
        return
    if not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{zh}必须为正的整数（单位：分）", f"{en} must be a positive integer (fen)")


def _aware(value: dt.datetime, what_zh: str, what_en: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{what_zh}须带时区", f"{what_en} must carry a time zone")
    return value.astimezone(dt.UTC)


def _validate_fields(
    session: Session,
    actor: Principal,
    settings: Settings,
    f: TenderFields,
    *,
    current: Tender | None = None,
) -> dict[str, Any]:
    title = (f.title or "").strip()
    if not title:
        raise InvalidInput("项目名称不能为空", "The title is required")
    if len(title) > 300:
        raise InvalidInput("项目名称不能超过300字", "The title is limited to 300 characters")
    category = _enum(Category, f.category, "项目类别", "category")
    method = parse_method(f.method)
    procedure_settings(session, settings, method)
    evaluation = _enum(EvaluationMethod, f.evaluation_method, "评标办法", "evaluation method")
    _check_money(f.budget_fen, "预算金额", "The budget", required=True)
    _check_money(f.ceiling_price_fen, "最高投标限价", "The ceiling price")
    if f.ceiling_price_fen is not None and f.ceiling_price_fen > f.budget_fen:
        raise RuleViolation(
            "规则：最高投标限价不得高于预算金额", "Rule: the ceiling price may not exceed the budget"
        )
    if f.bid_bond_fen is not None:
        if f.bid_bond_fen < 0:
            raise InvalidInput("投标保证金不能为负", "The bid bond cannot be negative")
        if f.bid_bond_fen * 50 > f.budget_fen:
            raise RuleViolation(
                "规则：投标保证金不得超过估算价的2%",
                "Rule: the bid bond may not exceed 2% of the estimated price",
            )
    if not isinstance(f.duration_days, int) or f.duration_days <= 0:
        raise InvalidInput("工期/服务期必须为正整数（天）", "The duration must be a positive number of days")
    deadline = _aware(f.bid_deadline_at, "投标截止时间", "The bid deadline")

    tenderee_id, agency_id = f.tenderee_org_id, f.agency_org_id
    if current is not None:
        # the tenderee of a tender never changes (decision 0141): a draft in the wrong name is
        # cancelled and made again by, or under a mandate from, the right tenderee
        if tenderee_id not in (None, current.tenderee_org_id):
            raise TendereeFixed(
                "规则：招标项目创建后不能更换招标人；如招标人有误，请终止本草稿并由正确的招标人（或受其委托的代理）重新创建",
                "Rule: a tender's tenderee cannot be changed after creation; if it is wrong, cancel this "
                "draft and have the right tenderee (or an agency it mandates) create it again",
            )
        tenderee_id = current.tenderee_org_id
    if actor.role == Role.tenderee:
        if tenderee_id not in (None, actor.organisation_id):
            raise Forbidden(
                "招标人只能为本单位创建项目", "A tenderee creates tenders for its own organisation only"
            )
        tenderee_id = actor.organisation_id
    elif actor.role == Role.agency:
        if agency_id not in (None, actor.organisation_id):
            raise Forbidden("招标代理只能以本单位名义代理", "An agency acts in its own name only")
        agency_id = actor.organisation_id
    else:
        raise Forbidden("只有招标人或招标代理可以创建招标项目", "Only tenderees and agencies create tenders")
    if tenderee_id is None:
        raise InvalidInput("请选择招标人", "Choose the tenderee")
    tenderee = session.get(Organisation, tenderee_id)
    if tenderee is None or tenderee.kind != OrgKind.tenderee:
        raise InvalidInput(
            f"招标人单位 {tenderee_id} 不存在或不是招标人", f"Organisation {tenderee_id} is not a tenderee"
        )
    if agency_id is not None:
        agency = session.get(Organisation, agency_id)
        if agency is None or agency.kind != OrgKind.agency:
            raise InvalidInput(
                f"代理单位 {agency_id} 不存在或不是招标代理", f"Organisation {agency_id} is not an agency"
            )
        # an agency runs a tender only under a live mandate from its tenderee: the agency itself
        # creating one, or the tenderee naming it (decision 0140)
        covering = current.id if current is not None else None
        if live_mandate(session, tenderee_id, agency_id, covering) is None:
            if actor.role == Role.agency:
                require_mandate(session, agency_id, tenderee_id)
            raise NoMandate(
                f"贵单位尚未委托 {agency.name} 代理招标：请先在“委托代理”页面授予委托",
                f"Your organisation has not given {agency.name} a mandate: grant one on the mandates page",
            )
    for i, lot in enumerate(f.lots, 1):
        if not (lot.title or "").strip():
            raise InvalidInput(f"第{i}标段名称不能为空", f"Lot {i} needs a title")
        _check_money(lot.budget_fen, f"第{i}标段预算", f"Lot {i}'s budget", required=True)
        _check_money(lot.ceiling_price_fen, f"第{i}标段最高限价", f"Lot {i}'s ceiling price")
    bond_waived = f.bond_waived or (category == Category.works and f.government_investment)
    bond_rule = f.bond_rule.strip() or (
        "政府投资工程免收投标保证金和履约保证金"
        if category == Category.works and f.government_investment
        else ""
    )
    return {
        "title": title,
        "description": f.description or "",
        "announcement": f.announcement or "",
        "category": category,
        "method": method,
        "evaluation_method": evaluation,
        "government_investment": bool(f.government_investment),
        "funding_source": (f.funding_source or "").strip(),
        "region": (f.region or "").strip(),
        "tenderee_org_id": tenderee_id,
        "agency_org_id": agency_id,
        "budget_fen": f.budget_fen,
        "ceiling_price_fen": f.ceiling_price_fen,
        "duration_days": f.duration_days,
        "bid_deadline_at": deadline,
        "opening_custodians": list(f.opening_custodians),
        "bid_bond_fen": None if bond_waived else f.bid_bond_fen,
        "bond_waived": bond_waived,
        "bond_rule": bond_rule,
    }


def _lot_rows(tender: Tender, fields: TenderFields) -> list[LotFields]:
    if fields.lots:
        return fields.lots
    return [
        LotFields(
            title=tender.title,
            budget_fen=tender.budget_fen,
            ceiling_price_fen=tender.ceiling_price_fen,
            duration_days=tender.duration_days,
            bid_bond_fen=tender.bid_bond_fen,
        )
    ]


def _new_reference(now: dt.datetime) -> str:
    return f"TH-{now.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(3).upper()}"


def create_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    fields: TenderFields,
    *,
    now: dt.datetime | None = None,
) -> Tender:
    now = now or utcnow()
    values = _validate_fields(session, actor, settings, fields)
    reference = _new_reference(now)
    tender = Tender(
        reference=reference,
        ocid=settings.trading.ocid_prefix + reference,
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
        **values,
    )
    session.add(tender)
    session.flush()
    for n, lf in enumerate(_lot_rows(tender, fields), 1):
        session.add(_lot_from(tender.id, n, lf))  # type: ignore[arg-type]
    session.flush()
    record(
        session,
        actor,
        "trading.tender.create",
        "tender",
        tender.id,
        f"创建招标项目草稿：{tender.title}",
        {"reference": reference, "method": tender.method, "category": tender.category},
    )
    return tender


def _lot_from(tender_id: int, number: int, lf: LotFields) -> Lot:
    return Lot(
        tender_id=tender_id,
        number=number,
        title=lf.title.strip(),
        description=lf.description or "",
        budget_fen=lf.budget_fen,
        ceiling_price_fen=lf.ceiling_price_fen,
        duration_days=lf.duration_days,
        bid_bond_fen=lf.bid_bond_fen,
    )


def update_draft(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    fields: TenderFields,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    """Edit a draft. A published tender changes only through an amendment (变更公告)."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    if tender.state != TenderState.draft:
        raise PublishedTenderLocked(
            "规则：已发布的招标项目只能通过变更公告修改，不能直接编辑",
            "Rule: a published tender can only be changed through an amendment, not edited",
        )
    check_version(tender, expected_version)
    values = _validate_fields(session, actor, settings, fields, current=tender)
    for k, v in values.items():
        setattr(tender, k, v)
    tender.updated_at = now
    if fields.lots:
        existing = {lot.number: lot for lot in lots_of(session, tender_id)}
        for n, lf in enumerate(fields.lots, 1):
            lot = existing.pop(n, None)
            if lot is None:
                session.add(_lot_from(tender_id, n, lf))
            else:
                lot.title, lot.description, lot.budget_fen = (
                    lf.title.strip(),
                    lf.description or "",
                    lf.budget_fen,
                )
                lot.ceiling_price_fen, lot.duration_days, lot.bid_bond_fen = (
                    lf.ceiling_price_fen,
                    lf.duration_days,
                    lf.bid_bond_fen,
                )
        for lot in existing.values():
            session.execute(sa.update(Document).where(col(Document.lot_id) == lot.id).values(lot_id=None))
            session.delete(lot)
    flush_versioned(session, tender)
    record(
        session, actor, "trading.tender.update", "tender", tender.id, f"修改招标项目草稿：{tender.title}", {}
    )
    return tender


# --- publication and deadlines ---------------------------------------------------------------


def _ceil_hour(t: dt.datetime) -> dt.datetime:
    base = t.replace(minute=0, second=0, microsecond=0)
    return base if base == t else base + dt.timedelta(hours=1)


def _min_deadline_rule(
    session: Session, settings: Settings, tender: Tender, deadline: dt.datetime, start: dt.datetime
) -> None:
    rules = procedure_settings(session, settings, tender.method)
    earliest = start + dt.timedelta(days=rules.min_tender_days)
    if deadline < earliest:
        mz, me = METHOD_LABELS[tender.method]
        raise DeadlineTooSoon(
            f"规则：{mz}自发布至投标截止不得少于{rules.min_tender_days}日；投标截止时间最早为"
            f"{earliest.astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
            f"Rule: a {me.lower()} needs at least {rules.min_tender_days} days from publication to the bid "
            f"deadline; the earliest deadline is {earliest.astimezone(SHANGHAI):%Y-%m-%d %H:%M} "
            "(Beijing time)",
            extra={"rule": "min_tender_days", "min_days": rules.min_tender_days},
        )


def _schedule_close(session: Session, tender: Tender) -> None:
    enqueue(
        session,
        "trading.close_tender",
        dedup_key=f"trading.close:{tender.id}:{int(tender.bid_deadline_at.timestamp())}",
        run_at=tender.bid_deadline_at,
        tender_id=tender.id,
    )


def _schedule_announcement(session: Session, tender: Tender) -> None:
    """Render the 招标公告 PDF after commit (CPU work stays out of the request)."""
    enqueue(
        session,
        "trading.render_announcement",
        dedup_key=f"trading.announce:{tender.id}:{tender.amendment_count}",
        tender_id=tender.id,
    )


def publish_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    check_version(tender, expected_version)
    if tender.state != TenderState.draft:
        transition(tender, TenderState.published, now)  # raises the state rule
    _min_deadline_rule(session, settings, tender, tender.bid_deadline_at, now)
    if not lots_of(session, tender_id):
        raise RuleViolation("规则：招标项目至少需要一个标段", "Rule: a tender needs at least one lot")
    transition(tender, TenderState.published, now)
    tender.published_at = now
    flush_versioned(session, tender)
    search_index.index_tender(session, tender)
    record(
        session,
        actor,
        "trading.tender.publish",
        "tender",
        tender.id,
        f"发布招标公告：{tender.title}",
        {"deadline": tender.bid_deadline_at.isoformat()},
    )
    ocds.emit_release(
        session,
        settings,
        tender,
        ["tender"],
        f"发布招标公告：{tender.title}",
        f"Tender notice published: {tender.title}",
        now,
    )
    _schedule_close(session, tender)
    _schedule_announcement(session, tender)
    return tender


def deadline_after_change(
    session: Session,
    settings: Settings,
    tender: Tender,
    requested: dt.datetime | None,
    now: dt.datetime,
) -> dt.datetime:
    """The deadline a clarification or amendment issued ``now`` must have.

    Less than ``clarification_cutoff_days`` before the deadline, the deadline moves so that that many
    days remain: automatically when no new deadline is given; a given one that leaves fewer days is
    refused, naming the rule.
    """
    rules = procedure_settings(session, settings, tender.method)
    required = now + dt.timedelta(days=rules.clarification_cutoff_days)
    deadline = requested if requested is not None else tender.bid_deadline_at
    if requested is not None:
        deadline = _aware(requested, "投标截止时间", "The bid deadline")
        if tender.published_at is not None:
            _min_deadline_rule(session, settings, tender, deadline, tender.published_at)
    if deadline < required:
        if requested is not None:
            raise ClarificationCutoff(
                f"规则：澄清或修改发出时距投标截止不足{rules.clarification_cutoff_days}日的，须顺延投标截止时间，"
                f"使其距澄清发出之日不少于{rules.clarification_cutoff_days}日；新的截止时间最早为"
                f"{_ceil_hour(required).astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
                f"Rule: a clarification or amendment issued less than {rules.clarification_cutoff_days} days "
                f"before the deadline must move the deadline so that {rules.clarification_cutoff_days} days "
                f"remain; the earliest new deadline is "
                f"{_ceil_hour(required).astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Beijing time)",
                extra={"rule": "clarification_cutoff_days", "days": rules.clarification_cutoff_days},
            )
        deadline = _ceil_hour(required)
    return deadline


def _coerce_change(name: str, value: Any) -> Any:
    if name == "bid_deadline_at":
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"投标截止时间格式无效：{value!r}", f"Bad deadline {value!r}") from None
        if not isinstance(value, dt.datetime):
            raise InvalidInput("投标截止时间格式无效", "The deadline must be a date-time")
        return _aware(value, "投标截止时间", "The bid deadline")
    if name.endswith("_fen"):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise InvalidInput(f"{name} 必须为正整数（分）", f"{name} must be a positive integer (fen)")
        return value
    if name == "duration_days":
        if not isinstance(value, int) or value <= 0:
            raise InvalidInput("工期必须为正整数", "The duration must be a positive integer")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{name} 必须为文本", f"{name} must be text")
    value = value.strip()
    if name == "title" and not value:
        raise InvalidInput("项目名称不能为空", "The title is required")
    return value


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime) else v


def amend_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    reason: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    documents: list[Document] | None = None,
    now: dt.datetime | None = None,
) -> Amendment:
    """Publish an amendment (变更公告): changed fields and/or documents, the deadline moved if the
    cut-off rule requires; bidders who downloaded the documents are notified through a job."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    if tender.state not in OPEN_STATES:
        transition(tender, TenderState.amended, now)  # raises the state rule
    check_version(tender, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("变更须说明理由", "An amendment needs a reason")
    unknown = sorted(set(changes) - set(AMENDABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"以下字段不能变更：{', '.join(unknown)}", f"These fields cannot be amended: {', '.join(unknown)}"
        )
    new_values = {k: _coerce_change(k, v) for k, v in changes.items()}
    diff = {
        k: [_jsonable(getattr(tender, k)), _jsonable(v)]
        for k, v in new_values.items()
        if getattr(tender, k) != v
    }
    if not diff and not documents:
        raise InvalidInput("变更内容为空", "The amendment changes nothing")
    budget = new_values.get("budget_fen", tender.budget_fen)
    ceiling = new_values.get("ceiling_price_fen", tender.ceiling_price_fen)
    if ceiling is not None and ceiling > budget:
        raise RuleViolation(
            "规则：最高投标限价不得高于预算金额", "Rule: the ceiling price may not exceed the budget"
        )
    before = tender.bid_deadline_at
    after = deadline_after_change(session, settings, tender, new_values.pop("bid_deadline_at", None), now)
    if after != before:
        diff["bid_deadline_at"] = [before.isoformat(), after.isoformat()]
    for k, v in new_values.items():
        setattr(tender, k, v)
    tender.bid_deadline_at = after
    tender.amendment_count += 1
    transition(tender, TenderState.amended, now)
    flush_versioned(session, tender)
    if "title" in diff:
        search_index.index_tender(session, tender)
    amendment = Amendment(
        tender_id=tender.id,  # type: ignore[arg-type]
        number=tender.amendment_count,
        reason=reason,
        changes={
            **diff,
            **({"documents": [f"{d.name} v{d.version}" for d in documents]} if documents else {}),
        },
        deadline_before=before,
        deadline_after=after,
        created_by=actor.audit_name,
        created_at=now,
    )
    session.add(amendment)
    session.flush()
    for d in documents or []:
        d.amendment_id = amendment.id
    session.flush()
    record(
        session,
        actor,
        "trading.tender.amend",
        "tender",
        tender.id,
        f"发布第{amendment.number}号变更公告：{reason}",
        {"amendment_id": amendment.id, "changes": amendment.changes},
    )
    ocds.emit_release(
        session,
        settings,
        tender,
        ["tenderAmendment"],
        f"第{amendment.number}号变更公告",
        f"Amendment no. {amendment.number}",
        now,
    )
    if after != before:
        _schedule_close(session, tender)
    _schedule_announcement(session, tender)
    enqueue(
        session,
        "trading.notify_bidders",
        dedup_key=f"trading.notify:amendment:{amendment.id}",
        kind="amendment",
        ref_id=amendment.id,
    )
    return amendment


# --- closing, cancelling, failing, re-tendering ----------------------------------------------


def close_tender(
    session: Session, actor: Principal, settings: Settings, tender_id: int, *, now: dt.datetime | None = None
) -> bool:
    """Close at the deadline (the timed job). Idempotent: False when there is nothing to do
    (already closed, cancelled, or the deadline was moved later)."""
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    if tender.state not in OPEN_STATES or tender.bid_deadline_at > now:
        return False
    transition(tender, TenderState.closed, now)
    tender.closed_at = now
    flush_versioned(session, tender)
    record(
        session,
        actor,
        "trading.tender.close",
        "tender",
        tender.id,
        f"投标截止：{tender.title}",
        {"deadline": tender.bid_deadline_at.isoformat()},
    )
    ocds.emit_release(session, settings, tender, ["tenderUpdate"], "投标截止", "Bid deadline passed", now)
    return True


def close_due(
    session: Session, actor: Principal, settings: Settings, *, now: dt.datetime | None = None
) -> list[int]:
    """Safety net for the timed close: every open tender whose deadline has passed."""
    now = now or utcnow()
    ids = (
        session.execute(
            sa.select(col(Tender.id)).where(
                col(Tender.state).in_([s.value for s in OPEN_STATES]), col(Tender.bid_deadline_at) <= now
            )  # type: ignore[attr-defined]
        )
        .scalars()
        .all()
    )
    return [i for i in ids if close_tender(session, actor, settings, i, now=now)]  # type: ignore[misc,arg-type]


def cancel_tender(
    session: Session,
    actor: Principal,
    settings: Settings,
    tender_id: int,
    reason: str,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Tender:
    now = now or utcnow()
    tender = get_tender(session, tender_id)
    require_manager(session, actor, tender)
    check_version(tender, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("终止招标须说明理由", "Cancelling a tender needs a reason")
    was = transition(tender, TenderState.cancelled, now)
    tender.cancelled_at = now
    tender.cancel_reason = reason
    for lot in lots_of(session, tender_id):
        if lot.state == LotState.active:
            lot.state = LotState.cancelled
    flush_versioned(session, tender)
    record(
        session,
        actor,
        "trading.tender.cancel",
        "tender",
        tender.id,
        f"终止招标：{reason}",
        {"from": was.value},
    )
    if was != TenderState.draft:
        ocds.emit_release(
            session,
            settings,
            tender,
            ["tenderCancellation"],
            f"终止招标：{reason}",
            f"Tender cancelled: {reason}",
            now,
        )
    return tender


FAILABLE_STATES = frozenset({TenderState.closed, TenderState.opening, TenderState.evaluating})


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

    ``valid_bids`` is the count of valid bids for the lot (the opening issue will supply it)."""
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
        raise InvalidInput("有效投标数不能为负", "The number of valid bids cannot be negative")
    if valid_bids >= rules.min_valid_bids:
        raise RuleViolation(
            f"规则：有效投标不少于{rules.min_valid_bids}家时不能流标（本标段有效投标{valid_bids}家）",
            f"Rule: a lot with at least {rules.min_valid_bids} valid bids cannot fail "
            f"(this lot has {valid_bids})",
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
    reference = _new_reference(now)
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
        bid_deadline_at=_ceil_hour(now + dt.timedelta(days=rules.min_tender_days + 1)),
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


def labels(tender: Tender) -> dict[str, tuple[str, str]]:
    return {
        "state": STATE_LABELS[TenderState(tender.state)],
        "category": CATEGORY_LABELS[Category(tender.category)],
        "method": METHOD_LABELS[parse_method(tender.method)],
        "evaluation": EVALUATION_LABELS[EvaluationMethod(tender.evaluation_method)],
    }
