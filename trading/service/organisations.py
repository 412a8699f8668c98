"""Organisations (the kernel's ``core_organisation``) and bidder registration.

A bidder registers once (company + its first user) and takes part in any tender. Bidders sign in
with their CA certificate (DOMAIN.md section 1), so no password is set here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.errors import InvalidInput
from tenderhall.identifiers import validate_credit_code
from trading.exceptions import DuplicateOrganisation
from trading.schemas import OrganisationIn, RegisterBidderIn


def _required(value: str, zh: str, en: str) -> str:
    v = (value or "").strip()
    if not v:
        raise InvalidInput(f"{zh}不能为空", f"{en} is required")
    return v


def create_organisation(session: Session, actor: Principal, data: OrganisationIn) -> Organisation:
    code = validate_credit_code(data.credit_code)
    name = _required(data.name, "单位名称", "The organisation's name")
    try:
        kind = OrgKind(data.kind)
    except ValueError:
        raise InvalidInput(
            f"单位类型无效：{data.kind!r}", f"Unknown organisation kind {data.kind!r}"
        ) from None
    if session.execute(sa.select(Organisation.id).where(Organisation.credit_code == code)).first():
        raise DuplicateOrganisation(
            f"统一社会信用代码 {code} 已注册",
            f"An organisation with credit code {code} is already registered",
        )
    org = Organisation(
        credit_code=code,
        name=name,
        kind=kind,
        region=data.region.strip() or None,
        address=data.address.strip() or None,
        contact_phone=data.contact_phone.strip() or None,
    )
    session.add(org)
    session.flush()
    record(
        session,
        actor,
        "trading.organisation.create",
        "organisation",
        org.id,
        f"登记单位 {name}（{kind.value}）",
        {"credit_code": code, "kind": kind.value},
    )
    return org


def register_bidder(session: Session, actor: Principal, data: RegisterBidderIn) -> tuple[Organisation, User]:
    """Register a bidder company with its first user (role bidder)."""
    username = _required(data.username, "用户名", "The username").lower()
    display = _required(data.display_name, "联系人姓名", "The contact's name")
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
    if session.execute(sa.select(User.id).where(User.username == username)).first():
        raise DuplicateOrganisation(f"用户名 {username} 已被使用", f"The username {username} is taken")
    user = User(username=username, display_name=display, role=Role.bidder, organisation_id=org.id)
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "trading.bidder.register",
        "organisation",
        org.id,
        f"投标人注册：{org.name}",
        {"user_id": user.id, "username": username},
    )
    return org, user


def list_organisations(session: Session, kind: OrgKind | None = None) -> list[Organisation]:
    stmt = sa.select(Organisation).order_by(Organisation.name)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    return list(session.execute(stmt).scalars())
