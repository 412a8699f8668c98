"""Organisations (the kernel's ``core_organisation``) and bidder registration.

A bidder registers once (company + its first user) and takes part in any tender. Bidders sign in
with their CA certificate (DOMAIN.md section 1), so no password is set here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth import service as auth_service
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.errors import InvalidInput
from trading.schemas import OrganisationIn, RegisterBidderIn


def create_organisation(session: Session, actor: Principal, data: OrganisationIn) -> Organisation:
    """An organisation under its validated credit code, through the kernel's auth service."""
    try:
        kind = OrgKind(data.kind)
    except ValueError:
        raise InvalidInput(
            f"单位类型无效：{data.kind!r}", f"Unknown organisation kind {data.kind!r}"
        ) from None
    return auth_service.create_organisation(
        session,
        actor,
        data.credit_code,
        (data.name or "").strip(),
        kind,
        region=(data.region or "").strip() or None,
        address=(data.address or "").strip() or None,
        contact_phone=(data.contact_phone or "").strip() or None,
    )


def register_bidder(session: Session, actor: Principal, data: RegisterBidderIn) -> tuple[Organisation, User]:
    """Register a bidder company with its first user (role bidder, signs in with its CA certificate)."""
    if not (data.username or "").strip():
        raise InvalidInput("用户名不能为空", "The username is required")
    if not (data.display_name or "").strip():
        raise InvalidInput("联系人姓名不能为空", "The contact's name is required")
    org = create_organisation(
        session,
        actor,
        OrganisationIn(
            credit_code=data.credit_code,
            name=data.name,
            kind=OrgKind.bidder.value,
            region=data.region,
            address=data.address,
            contact_phone=data.contact_phone,
        ),
    )
    user = auth_service.create_user(
        session, actor, data.username, data.display_name, Role.bidder, organisation_id=org.id
    )
    record(
        session,
        actor,
        "trading.bidder.register",
        "organisation",
        org.id,
        f"投标人注册：{org.name}",
        {"user_id": user.id, "username": user.username},
    )
    return org, user


def list_organisations(session: Session, kind: OrgKind | None = None) -> list[Organisation]:
    stmt = sa.select(Organisation).order_by(Organisation.name)
    if kind is not None:
        stmt = stmt.where(col(Organisation.kind) == kind)
    return list(session.execute(stmt).scalars())
