"""Mandates (委托代理): a tenderee lets an agency run its tenders; the rights every tender action
checks.

Who may act on a tender: its tenderee (a tenderee user of that organisation), and its agency only
while a live mandate from that tenderee covers the tender (one for all its tenders, or one scoped
to this tender). Granting and ending are the tenderee's acts, audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Forbidden, InvalidInput
from trading.exceptions import MandateExists, MandateNotFound, NoMandate
from trading.models import Mandate, Tender
from trading.schemas import MandateOut


def live_mandate(
    session: Session, tenderee_org_id: int, agency_org_id: int, tender_id: int | None
) -> Mandate | None:
    """The live mandate from the tenderee to the agency covering ``tender_id`` (a general one
    when ``tender_id`` is None, which is what creating a tender needs)."""
    scope = col(Mandate.tender_id).is_(None)
    if tender_id is not None:
        scope = sa.or_(scope, col(Mandate.tender_id) == tender_id)  # type: ignore[assignment]
    return (
        session.execute(
            sa.select(Mandate)
            .where(
                col(Mandate.tenderee_org_id) == tenderee_org_id,
                col(Mandate.agency_org_id) == agency_org_id,
                col(Mandate.ended_at).is_(None),
                scope,
            )
            .order_by(col(Mandate.id))
            .limit(1)
        )
        .scalars()
        .first()
    )


def acts_for(session: Session, actor: Principal, tender: Tender) -> bool:
    """May ``actor`` manage ``tender``: its tenderee, or its agency under a live mandate."""
    org = actor.organisation_id
    if org is None:
        return False
    if actor.role == Role.tenderee:
        return org == tender.tenderee_org_id
    if actor.role == Role.agency:
        return org == tender.agency_org_id and (
            live_mandate(session, tender.tenderee_org_id, org, tender.id) is not None
        )
    return False


def require_mandate(session: Session, agency_org_id: int, tenderee_org_id: int) -> None:
    """Refuse an agency acting in a tenderee's name without a live general mandate."""
    if live_mandate(session, tenderee_org_id, agency_org_id, None) is None:
        raise NoMandate(
            "该招标人未委托贵单位代理招标（无有效委托），不能以其名义创建或修改招标项目",
            "This tenderee has not given your agency a live mandate: you cannot run tenders in its name",
        )


def _tenderee_of(actor: Principal) -> int:
    if actor.role != Role.tenderee or actor.organisation_id is None:
        raise Forbidden("只有招标人可以委托或终止委托代理", "Only a tenderee grants or ends mandates")
    return actor.organisation_id


def grant_mandate(
    session: Session,
    actor: Principal,
    agency_org_id: int,
    *,
    tender_id: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Mandate:
    now = now or utcnow()
    tenderee_id = _tenderee_of(actor)
    agency = session.get(Organisation, agency_org_id)
    if agency is None or agency.kind != OrgKind.agency:
        raise InvalidInput(
            f"单位 {agency_org_id} 不存在或不是招标代理机构", f"Organisation {agency_org_id} is not an agency"
        )
    if tender_id is not None:
        tender = session.get(Tender, tender_id)
        if tender is None or tender.tenderee_org_id != tenderee_id:
            raise InvalidInput(
                f"招标项目 {tender_id} 不存在或不属于贵单位", f"Tender {tender_id} is not one of yours"
            )
    existing = session.execute(
        sa.select(col(Mandate.id)).where(
            col(Mandate.tenderee_org_id) == tenderee_id,
            col(Mandate.agency_org_id) == agency_org_id,
            col(Mandate.ended_at).is_(None),
            col(Mandate.tender_id).is_(None) if tender_id is None else col(Mandate.tender_id) == tender_id,
        )
    ).first()
    if existing is not None:
        raise MandateExists(
            f"已有同范围的有效委托（#{existing[0]}）",
            f"A live mandate with this scope exists (#{existing[0]})",
        )
    m = Mandate(
        tenderee_org_id=tenderee_id,
        agency_org_id=agency_org_id,
        tender_id=tender_id,
        note=(note or "").strip()[:500],
        granted_at=now,
        granted_by_user_id=actor.user_id,
        granted_by=actor.audit_name[:200],
    )
    session.add(m)
    session.flush()
    scope_zh = f"招标项目 {tender_id}" if tender_id else "全部招标项目"
    record(
        session,
        actor,
        "trading.mandate.grant",
        "mandate",
        m.id,
        f"委托 {agency.name} 代理{scope_zh}",
        {"tenderee_org_id": tenderee_id, "agency_org_id": agency_org_id, "tender_id": tender_id},
    )
    return m


def end_mandate(
    session: Session, actor: Principal, mandate_id: int, reason: str = "", *, now: dt.datetime | None = None
) -> Mandate:
    now = now or utcnow()
    tenderee_id = _tenderee_of(actor)
    m = session.get(Mandate, mandate_id)
    if m is None or m.tenderee_org_id != tenderee_id:
        raise MandateNotFound(f"找不到委托 #{mandate_id}", f"Mandate #{mandate_id} does not exist")
    if m.ended_at is not None:
        raise MandateExists(f"委托 #{mandate_id} 已终止", f"Mandate #{mandate_id} has already ended")
    m.ended_at = now
    m.ended_by_user_id = actor.user_id
    m.ended_by = actor.audit_name[:200]
    m.end_reason = (reason or "").strip()[:500] or None
    session.flush()
    record(
        session,
        actor,
        "trading.mandate.end",
        "mandate",
        m.id,
        f"终止委托 #{m.id}" + (f"：{m.end_reason}" if m.end_reason else ""),
        {"tenderee_org_id": m.tenderee_org_id, "agency_org_id": m.agency_org_id, "tender_id": m.tender_id},
    )
    return m


def mandates_for(session: Session, actor: Principal) -> list[MandateOut]:
    """A tenderee's granted mandates, or an agency's held ones, newest first."""
    org = actor.organisation_id
    if org is None or actor.role not in (Role.tenderee, Role.agency):
        raise Forbidden("只有招标人和招标代理可以查看委托", "Only tenderees and agencies see mandates")
    side = Mandate.tenderee_org_id if actor.role == Role.tenderee else Mandate.agency_org_id
    rows = session.execute(
        sa.select(Mandate).where(col(side) == org).order_by(col(Mandate.id).desc()).limit(500)
    ).scalars()
    return [mandate_out(session, m) for m in rows]


def mandate_out(session: Session, m: Mandate) -> MandateOut:
    tenderee = session.get(Organisation, m.tenderee_org_id)
    agency = session.get(Organisation, m.agency_org_id)
    return MandateOut(
        id=m.id,  # type: ignore[arg-type]
        tenderee_org_id=m.tenderee_org_id,
        tenderee=tenderee.name if tenderee else "",
        agency_org_id=m.agency_org_id,
        agency=agency.name if agency else "",
        tender_id=m.tender_id,
        note=m.note,
        granted_at=m.granted_at,
        granted_by=m.granted_by,
        ended_at=m.ended_at,
        ended_by=m.ended_by,
        end_reason=m.end_reason,
        live=m.ended_at is None,
    )


def managed_tenders_select(actor: Principal) -> sa.Select[Any] | None:
    """The select of the tenders ``actor`` may manage (None: none at all): all of its
    tenderee's (its agencies' drafts included), or, for an agency, those it runs under a live
    mandate."""
    org = actor.organisation_id
    if org is None:
        return None
    stmt = sa.select(Tender)
    if actor.role == Role.tenderee:
        return stmt.where(col(Tender.tenderee_org_id) == org)
    if actor.role == Role.agency:
        covering = (
            sa.select(col(Mandate.id))
            .where(
                col(Mandate.tenderee_org_id) == col(Tender.tenderee_org_id),
                col(Mandate.agency_org_id) == org,
                col(Mandate.ended_at).is_(None),
                sa.or_(col(Mandate.tender_id).is_(None), col(Mandate.tender_id) == col(Tender.id)),
            )
            .exists()
        )
        return stmt.where(col(Tender.agency_org_id) == org, covering)
    return None


def tenders_managed_by(session: Session, actor: Principal, *, limit: int = 200) -> list[Tender]:
    """The tenders ``actor`` may manage, newest first."""
    stmt = managed_tenders_select(actor)
    if stmt is None:
        return []
    return list(session.execute(stmt.order_by(col(Tender.id).desc()).limit(limit)).scalars())


def mandating_organisations(session: Session, actor: Principal) -> list[Organisation]:
    """For an agency, the tenderees that gave it a live general mandate; for a tenderee, the
    agencies holding a live mandate from it (what the tender form offers)."""
    org = actor.organisation_id
    if org is None or actor.role not in (Role.tenderee, Role.agency):
        return []
    mine, theirs = (
        (Mandate.agency_org_id, Mandate.tenderee_org_id)
        if actor.role == Role.agency
        else (Mandate.tenderee_org_id, Mandate.agency_org_id)
    )
    stmt = sa.select(col(theirs)).where(col(mine) == org, col(Mandate.ended_at).is_(None))
    if actor.role == Role.agency:
        stmt = stmt.where(col(Mandate.tender_id).is_(None))
    return list(
        session.execute(
            sa.select(Organisation).where(col(Organisation.id).in_(stmt)).order_by(col(Organisation.name))
        ).scalars()
    )
