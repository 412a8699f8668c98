"""Organisations (the kernel's ``core_organisation``) and bidder registration.

A bidder registers once (company + its first user), proving with its signing certificate that the
credit code is its own, and takes part in any tender. Bidders sign in with their CA certificate
(DOMAIN.md section 1), so no password is set here.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth import certlogin
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service import users as auth_users
from tenderhall.errors import Forbidden, InvalidInput
from tenderhall.identifiers import validate_credit_code
from trading.schemas import OrganisationIn, RegisterBidderIn


def create_organisation(session: Session, actor: Principal, data: OrganisationIn) -> Organisation:
    """An organisation under its validated credit code, through the kernel's auth service."""
    try:
        kind = OrgKind(data.kind)
    except ValueError:
        raise InvalidInput(
            f"单位类型无效：{data.kind!r}", f"Unknown organisation kind {data.kind!r}"
        ) from None
    return auth_users.create_organisation(
        session,
        actor,
        data.credit_code,
        (data.name or "").strip(),
        kind,
        region=(data.region or "").strip() or None,
        address=(data.address or "").strip() or None,
        contact_phone=(data.contact_phone or "").strip() or None,
    )


def register_bidder(
    session: Session, actor: Principal, data: RegisterBidderIn, *, now: dt.datetime | None = None
) -> tuple[Organisation, User]:
    """Register a bidder company with its first user (role bidder, signs in with its CA
    certificate). Only the holder of a valid signing certificate whose subject carries the credit
    code can register that code (docs/decisions/0165-bidder-registration-bound-to-certificate.md),
    so nobody can take a company's code first."""
    code = validate_credit_code(data.credit_code)
    if not (data.username or "").strip():
        raise InvalidInput("用户名不能为空", "The username is required")
    if not (data.display_name or "").strip():
        raise InvalidInput("联系人姓名不能为空", "The contact's name is required")
    proof = certlogin.prove_registration(
        session, data.certificate_pem, data.signature, data.nonce, intermediates=data.intermediates, now=now
    )
    if proof.credit_code != code:
        raise Forbidden(
            f"证书属于统一社会信用代码为 {proof.credit_code} 的单位，与填写的 {code} 不符："
            "只能用本单位的签名证书注册本单位",
            f"The certificate is for the company with credit code {proof.credit_code}, not {code}: "
            "a company registers with its own signing certificate",
            code="certificate_not_for_company",
        )
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
    user = auth_users.create_user(
        session, actor, data.username, data.display_name, Role.bidder, organisation_id=org.id
    )
    record(
        session,
        actor,
        "trading.bidder.register",
        "organisation",
        org.id,
        f"投标人注册：{org.name}",
        {
            "user_id": user.id,
            "username": user.username,
            "certificate_fingerprint": proof.fingerprint,
            "certificate_serial": proof.serial,
            "ca_id": proof.ca_id,
        },
    )
    return org, user


def list_organisations(session: Session, kind: OrgKind | None = None) -> list[Organisation]:
    stmt = sa.select(Organisation).order_by(Organisation.name)
    if kind is not None:
        stmt = stmt.where(col(Organisation.kind) == kind)
    return list(session.execute(stmt).scalars())
