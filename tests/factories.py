"""Small typed factories for tests. They write rows directly; use the services under test for the
behaviour being tested, and these for everything around it."""

from __future__ import annotations

import itertools
import secrets
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tenderhall.auth.middleware import hash_token
from tenderhall.auth.models import Organisation, OrgKind, Role, User, UserSession
from tenderhall.auth.principal import SYSTEM, Principal
from tenderhall.auth.service.sessions import principal_for
from tenderhall.db import Database, utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA, Issued
from tests import logscan
from trading.opening.certificates import register_certificate

_seq = itertools.count(1)


def credit_code(n: int | None = None) -> str:
    """A valid unified social credit code, distinct per call."""
    n = next(_seq) if n is None else n
    return make_credit_code(f"9135010{n:010d}")


def organisation(
    s: Session, *, kind: OrgKind = OrgKind.bidder, name: str | None = None, code: str | None = None
) -> Organisation:
    org = Organisation(credit_code=code or credit_code(), name=name or f"测试公司{next(_seq)}", kind=kind)
    s.add(org)
    s.flush()
    return org


def user(s: Session, role: Role, *, organisation_id: int | None = None, username: str | None = None) -> User:
    u = User(
        username=username or f"{role.value}{next(_seq)}",
        display_name=f"{role.value} 测试",
        role=role,
        organisation_id=organisation_id,
    )
    s.add(u)
    s.flush()
    return u


def token_for(s: Session, u: User, *, kind: str = "api", hours: int = 2) -> str:
    """A live session token for ``u``: kind "api" (Bearer, /api/…) or "cookie" (th_session, pages)."""
    import datetime as dt

    token = secrets.token_urlsafe(32)
    logscan.remember("session cookie" if kind == "cookie" else "API token", token)
    s.add(
        UserSession(
            token_hash=hash_token(token),
            kind=kind,
            user_id=u.id,  # type: ignore[arg-type]
            organisation_id=u.organisation_id,
            expires_at=utcnow() + dt.timedelta(hours=hours),
        )
    )
    s.flush()
    return token


def signed_in(
    db: Database, role: Role, *, org_kind: OrgKind | None = None
) -> tuple[User, dict[str, str], dict[str, str]]:
    """A user of ``role`` (with an organisation for bidder/tenderee/agency) and both credentials:
    ``(user, api_headers, page_cookies)``."""
    kinds = {Role.bidder: OrgKind.bidder, Role.tenderee: OrgKind.tenderee, Role.agency: OrgKind.agency}
    with db.unit_of_work() as s:
        org_id = None
        k = org_kind or kinds.get(role)
        if k is not None:
            org_id = organisation(s, kind=k).id
        u = user(s, role, organisation_id=org_id)
        api = token_for(s, u, kind="api")
        cookie = token_for(s, u, kind="cookie")
        s.expunge(u)
    return u, {"Authorization": f"Bearer {api}"}, {"th_session": cookie}


def mandate(s: Session, tenderee_org_id: int, agency_org_id: int, *, tender_id: int | None = None) -> int:
    """A live mandate (委托代理) from the tenderee to the agency; returns its id."""
    from trading.models import Mandate

    m = Mandate(
        tenderee_org_id=tenderee_org_id,
        agency_org_id=agency_org_id,
        tender_id=tender_id,
        granted_by="test",
    )
    s.add(m)
    s.flush()
    return m.id  # type: ignore[return-value]


def principal(s: Session, role: Role, kind: OrgKind | None) -> Principal:
    """A new user of ``role`` (in a new organisation of ``kind``, if given) as a principal."""
    org = organisation(s, kind=kind) if kind else None
    u = user(s, role, organisation_id=org.id if org else None)
    return Principal(
        user_id=u.id,
        username=u.username,
        role=role,
        display_name=u.display_name,
        organisation_id=org.id if org else None,
        credit_code=org.credit_code if org else None,
    )


_custodian_ca: DevCA | None = None
_custodian_certs: dict[str, Issued] = {}


def custodian_ca() -> DevCA:
    """One development CA per test process for custodians' encryption certificates."""
    global _custodian_ca
    if _custodian_ca is None:
        _custodian_ca = DevCA(Path(tempfile.mkdtemp(prefix="th-custodian-ca-")))
        _custodian_ca.init(name="TenderHall Test Custodian CA")
    return _custodian_ca


def custodians(s: Session, *staff: User | Principal) -> None:
    """Register custodian certificates for ``staff`` (tenderee or agency users) and for a new
    supervisor, so that their tenders can be published (each lot's opening key needs k = 2)."""
    for u in [*staff, user(s, Role.supervisor)]:
        custodian(s, principal_for(u, None) if isinstance(u, User) else u)


def custodian_key(slot: str) -> Any:
    """The unwrapping key (an envelope decryptor) of the custodian certificate made for ``slot``
    (a role, by default)."""
    from tenderhall.crypto.envelope import PrivateKeyDecryptor

    issued = _custodian_certs[slot]
    return PrivateKeyDecryptor(issued.key, issued.certificate)  # type: ignore[arg-type]


def custodian(s: Session, p: Principal, *, slot: str | None = None) -> Issued:
    """Register a custodian encryption certificate for ``p`` (its CA trusted in this database),
    so tenders naming ``p``'s role can be published. Certificates are made once per process per
    ``slot`` (default: the role) and returned with their private key, for unwrapping shares."""
    ca = custodian_ca()
    truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())
    key = slot or str(p.role)
    if key not in _custodian_certs:
        code = make_credit_code("91350100M00030009")  # the centre's code: staff need no company
        _custodian_certs[key] = ca.issue("custodian", name=f"custodian {key}", credit_code=code)
    issued = _custodian_certs[key]
    register_certificate(s, p, issued.pem)
    return issued
