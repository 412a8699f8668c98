"""Demo identities: organisations, users of every role, a development CA in the trust store, and
certificates as PKCS#12 files. Called by ``tenderhall demo`` (tenderhall/demo.py); idempotent: a
second run reuses what exists.

The returned dict (the demo's ``ctx``) holds:

- ``organisations``: ``{"authority": id, "tenderee": id, "agency": id, "bidders": [id, …]}``
- ``credit_codes``: the same keys, credit codes instead of ids
- ``users``: ``{"admin": id, "supervisor": id, "tenderee": id, "agency": id, "experts": [id…],
  "bidders": [id…]}`` (bidder i belongs to organisation ``bidders[i]``)
- ``usernames``: the same keys with usernames
- ``totp_secrets``: ``{username: base32 secret}`` for staff (print current codes with pyotp)
- ``certificates``: ``{username: {"sign": path, "enc": path, "password": …}}`` for bidders and
  ``{username: {"custodian": path, "password": …}}`` for the supervisor, tenderee and agency
  (opening-key custodians)
- ``ca``: ``{"id": trust-store id, "certificate": path of the dev CA's PEM}``
- ``logins``: rows ``{"role", "username", "password", "second_factor"}`` for the summary table
  (bidders have no password: they sign in with their certificate only)
- ``notes``: lines the demo prints after the table
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.auth.service import totp, users
from tenderhall.db import utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.pki.devca import DevCA, DevCAError, Kind, load_p12
from tenderhall.pki.truststore import import_ca
from tenderhall.settings import Settings

DEMO_PASSWORD = "demo-password"  # noqa: S105 - the documented demo password, never for production
ACTOR = Principal.system("demo")

AUTHORITY = ("12429005MB0100017", "潜江市公共资源交易中心", "Qianjiang Public Resource Trading Centre")
TENDEREE = (
    "91429005MA2Y00013",
    "潜江市城市建设投资开发有限公司",
    "Qianjiang Urban Construction Investment Co., Ltd.",
)
AGENCY = ("91429005MA2Y00021", "湖北楚信工程招标代理有限公司", "Hubei Chuxin Tendering Agency Co., Ltd.")
BIDDERS = [
    (
        "91429005MA2Y00030",
        "湖北江汉建设工程有限公司",
        "Hubei Jianghan Construction Engineering Co., Ltd.",
    ),
    (
        "91429005MA2Y00048",
        "湖北汉江路桥建设集团有限公司",
        "Hubei Hanjiang Road and Bridge Construction Group Co., Ltd.",
    ),
    ("91429005MA2Y00056", "潜江东荆市政工程有限公司", "Qianjiang Dongjing Municipal Engineering Co., Ltd."),
    ("91429005MA2Y00064", "湖北章华建筑安装工程有限公司", "Hubei Zhanghua Building Installation Co., Ltd."),
]
EXPERTS = ["陈建国", "林晓燕", "黄志强", "郑丽华", "王海峰", "刘文静", "张明辉"]


def _org(session: Session, first17: str, name: str, name_en: str, kind: OrgKind) -> Organisation:
    code = make_credit_code(first17)
    org = session.execute(
        sa.select(Organisation).where(col(Organisation.credit_code) == code)
    ).scalar_one_or_none()
    if org is None:
        org = users.create_organisation(session, ACTOR, code, name, kind, name_en=name_en, region="潜江市")
    return org


def _user(
    session: Session, settings: Settings, username: str, display_name: str, role: Role, org_id: int | None
) -> tuple[User, str | None]:
    user = session.execute(sa.select(User).where(col(User.username) == username)).scalar_one_or_none()
    if user is None:
        # bidders sign in with their certificate only: they get no password at all
        password = None if role == Role.bidder else DEMO_PASSWORD
        user = users.create_user(
            session, ACTOR, username, display_name, role, password=password, organisation_id=org_id
        )
    secret = None
    if totp.totp_required(settings, user):
        secret = totp.totp_secret(settings, user)
        if secret is None:
            secret = totp.enable_totp(session, ACTOR, settings, user.id).secret  # type: ignore[arg-type]
    return user, secret


def _p12(
    ca: DevCA,
    out: Path,
    kind: Kind,
    *,
    name: str,
    credit_code: str | None = None,
    organisation: str | None = None,
) -> Path:
    """Reuse a PKCS#12 file that still opens, was issued by this CA and is valid; else issue anew."""
    if out.exists():
        try:
            _, cert, _ = load_p12(out, DEMO_PASSWORD)
            if cert.issuer == ca.certificate.subject and cert.not_valid_after_utc > utcnow():
                cert.verify_directly_issued_by(ca.certificate)
                return out
        except (DevCAError, ValueError, TypeError, InvalidSignature):
            pass
    ca.issue(
        kind, name=name, credit_code=credit_code, organisation=organisation, out=out, password=DEMO_PASSWORD
    )
    return out


def seed_identities(session: Session, settings: Settings, out_dir: Path) -> dict[str, Any]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    authority = _org(session, *AUTHORITY, OrgKind.authority)
    tenderee = _org(session, *TENDEREE, OrgKind.tenderee)
    agency = _org(session, *AGENCY, OrgKind.agency)
    bidders = [_org(session, code, name, en, OrgKind.bidder) for code, name, en in BIDDERS]

    secrets_: dict[str, str] = {}

    def user(username: str, display: str, role: Role, org_id: int | None) -> User:
        u, secret = _user(session, settings, username, display, role, org_id)
        if secret:
            secrets_[username] = secret
        return u

    admin = user("admin", "系统管理员 赵磊", Role.admin, authority.id)
    supervisor = user("supervisor", "监管人员 吴静", Role.supervisor, authority.id)
    tenderee_u = user("tenderee", "招标人 孙浩", Role.tenderee, tenderee.id)
    agency_u = user("agency", "招标代理 周敏", Role.agency, agency.id)
    experts = [user(f"expert{i + 1}", name, Role.expert, None) for i, name in enumerate(EXPERTS)]
    bidder_users = [
        user(f"bidder{i + 1}", f"{org.name} 投标专员", Role.bidder, org.id) for i, org in enumerate(bidders)
    ]

    ca = DevCA(settings.key_dir / "devca")
    ca.init()
    ca_row = import_ca(session, ACTOR, ca.cert_path.read_bytes(), "TenderHall 开发测试根 CA")

    certificates: dict[str, dict[str, str]] = {}
    for u, org in zip(bidder_users, bidders, strict=True):
        sign = _p12(
            ca, out_dir / f"{u.username}-sign.p12", "bidder-sign", name=org.name, credit_code=org.credit_code
        )
        enc = _p12(
            ca, out_dir / f"{u.username}-enc.p12", "bidder-enc", name=org.name, credit_code=org.credit_code
        )
        certificates[u.username] = {"sign": str(sign), "enc": str(enc), "password": DEMO_PASSWORD}
    for u, org in ((supervisor, authority), (tenderee_u, tenderee), (agency_u, agency)):
        path = _p12(
            ca,
            out_dir / f"{u.username}-custodian.p12",
            "custodian",
            name=u.display_name,
            organisation=org.name,
            credit_code=org.credit_code,
        )
        certificates[u.username] = {"custodian": str(path), "password": DEMO_PASSWORD}

    logins: list[dict[str, str]] = []
    for u in (admin, supervisor, tenderee_u, agency_u, *experts):
        secret = secrets_.get(u.username)
        factor = f"TOTP {pyotp.TOTP(secret).now()} (now)" if secret else "-"
        logins.append(
            {
                "role": str(Role(u.role).value),
                "username": u.username,
                "password": DEMO_PASSWORD,
                "second_factor": factor,
            }
        )
    for u in bidder_users:
        logins.append(
            {
                "role": "bidder",
                "username": u.username,
                "password": "- (certificate only)",
                "second_factor": f"certificate {certificates[u.username]['sign']} (p12 password "
                f"{DEMO_PASSWORD})",
            }
        )
    notes = [
        "Staff sign in at /login with password + TOTP: "
        "`uv run tenderhall user totp-code USERNAME` prints the current code.",
        f"Bidders sign in with their certificate: `uv run tenderhall user cert-login --p12 "
        f"{certificates[bidder_users[0].username]['sign']} --password {DEMO_PASSWORD} "
        f"--url {settings.base_url}`",
        f"PKCS#12 files (password {DEMO_PASSWORD}) are in {out_dir}; the development CA is in {ca.folder}.",
    ]

    def ids(rows: list[Any]) -> list[int]:
        return [r.id for r in rows]

    return {
        "organisations": {
            "authority": authority.id,
            "tenderee": tenderee.id,
            "agency": agency.id,
            "bidders": ids(bidders),
        },
        "credit_codes": {
            "authority": authority.credit_code,
            "tenderee": tenderee.credit_code,
            "agency": agency.credit_code,
            "bidders": [o.credit_code for o in bidders],
        },
        "users": {
            "admin": admin.id,
            "supervisor": supervisor.id,
            "tenderee": tenderee_u.id,
            "agency": agency_u.id,
            "experts": ids(experts),
            "bidders": ids(bidder_users),
        },
        "usernames": {
            "admin": admin.username,
            "supervisor": supervisor.username,
            "tenderee": tenderee_u.username,
            "agency": agency_u.username,
            "experts": [u.username for u in experts],
            "bidders": [u.username for u in bidder_users],
        },
        "totp_secrets": secrets_,
        "certificates": certificates,
        "ca": {"id": ca_row.id, "certificate": str(ca.cert_path)},
        "logins": logins,
        "notes": notes,
    }
