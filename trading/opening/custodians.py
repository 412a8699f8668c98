"""Who holds a lot's key shares: each of the tender's ``opening_custodians`` roles resolved to one
active user with a live custodian certificate (decision 0275)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.auth.models import Role, User
from tenderhall.errors import RuleViolation
from trading.models import Tender
from trading.opening.certificates import live_certificate
from trading.opening.models import CustodianCertificate

ROLE_NAMES = {
    Role.supervisor: ("监督人员", "a supervisor"),
    Role.tenderee: ("招标人人员", "a member of the tenderee's staff"),
    Role.agency: ("招标代理人员", "a member of the agency's staff"),
}


@dataclass(frozen=True)
class Custodian:
    role: Role
    user: User
    certificate: CustodianCertificate


def _candidates(session: Session, tender: Tender, role: Role) -> list[User] | None:
    """Active users who may hold ``role``'s share, in id order; None when the role does not apply."""
    stmt = sa.select(User).where(User.is_active.is_(True)).order_by(User.id)  # type: ignore[attr-defined,arg-type]
    if role == Role.supervisor:
        stmt = stmt.where(User.role == Role.supervisor)  # type: ignore[arg-type]
    elif role == Role.tenderee:
        stmt = stmt.where(User.organisation_id == tender.tenderee_org_id)  # type: ignore[arg-type]
    elif role == Role.agency:
        if tender.agency_org_id is None:
            return None
        stmt = stmt.where(User.organisation_id == tender.agency_org_id)  # type: ignore[arg-type]
    else:
        return None
    return list(session.scalars(stmt))


def resolve_custodians(session: Session, tender: Tender, threshold: int) -> list[Custodian]:
    """One custodian per applicable role (the first user by id with a live certificate). Fewer than
    ``threshold`` -> RuleViolation (409) naming the roles that must register a certificate."""
    found: list[Custodian] = []
    missing: list[Role] = []
    for name in tender.opening_custodians:
        role = Role(name)
        users = _candidates(session, tender, role)
        if users is None:
            continue
        for u in users:
            cert = live_certificate(session, u.id or 0)
            if cert is not None:
                found.append(Custodian(role, u, cert))
                break
        else:
            missing.append(role)
    if len(found) < threshold:
        zh = "、".join(ROLE_NAMES[r][0] for r in missing) or "开标密钥保管人"
        en = ", ".join(ROLE_NAMES[r][1] for r in missing) or "a custodian"
        raise RuleViolation(
            f"规则：开标密钥需要至少 {threshold} 名保管人持有加密证书，请 {zh} 先登记开标密钥保管证书",
            f"Rule: the opening key needs at least {threshold} custodians with an encryption certificate; "
            f"{en} must register a custodian certificate first",
            code="custodians_missing",
            extra={"missing_roles": [str(r) for r in missing]},
        )
    return found
