"""The catalog of violation types: seeded with DOMAIN.md's defaults, editable by admins (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import UnknownViolationType
from credit.models import Severity, ViolationType
from credit.service.checks import Checks
from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.errors import Conflict, InvalidInput

#: Publication periods of 《信用修复管理办法》: general 3 months–1 year, serious 1–3 years.
GENERAL_DAYS = (90, 365)
SERIOUS_DAYS = (365, 1095)


@dataclass(frozen=True)
class TypeSpec:
    code: str
    name_zh: str
    name_en: str
    severity: Severity
    points: int

    def row(self) -> dict[str, Any]:
        lo, hi = {Severity.general: GENERAL_DAYS, Severity.serious: SERIOUS_DAYS}.get(self.severity, (0, 0))
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "severity": self.severity.value,
            "points": self.points,
            "publish_min_days": lo,
            "publish_max_days": hi,
            "blacklist_at_once": self.severity == Severity.serious,
            "active": True,
        }


DEFAULT_CATALOG: tuple[TypeSpec, ...] = (
    TypeSpec("BID_RIGGING", "围标串标", "Bid rigging", Severity.serious, 12),
    TypeSpec(
        "QUALIFICATION_LENDING", "出借/借用资质", "Lending or borrowing qualifications", Severity.serious, 12
    ),
    TypeSpec("ILLEGAL_SUBCONTRACTING", "转包/违法分包", "Illegal subcontracting", Severity.serious, 12),
    TypeSpec("FALSE_MATERIALS", "提供虚假材料", "False materials", Severity.serious, 12),
    TypeSpec(
        "REFUSE_AWARD",
        "无正当理由放弃中标或拒签合同",
        "Refusing the award or the contract without cause",
        Severity.general,
        6,
    ),
    TypeSpec("PROXY_CLOCK_IN", "代打卡（经确认）", "Proxy clock-in confirmed", Severity.general, 6),
    TypeSpec(
        "PERSONNEL_ABSENT",
        "关键人员缺勤超出规定",
        "Key personnel absent beyond the rules",
        Severity.general,
        3,
    ),
    TypeSpec("BOND_NOT_REFUNDED", "未按时退还保证金", "Bond not refunded on time", Severity.general, 3),
    TypeSpec("MINOR_PROCEDURAL", "轻微程序性违规", "Minor procedural breach", Severity.minor, 1),
)


def list_types(session: Session, *, include_inactive: bool = True) -> list[ViolationType]:
    stmt = sa.select(ViolationType).order_by(col(ViolationType.id))
    if not include_inactive:
        stmt = stmt.where(col(ViolationType.active).is_(True))
    return list(session.execute(stmt).scalars())


def get_type(session: Session, code: str) -> ViolationType:
    vt = session.execute(sa.select(ViolationType).where(col(ViolationType.code) == code)).scalar_one_or_none()
    if vt is None:
        raise UnknownViolationType(
            f"违规类型 {code!r} 不在目录中", f"Violation type {code!r} is not in the catalog"
        )
    return vt


def ensure_default_catalog(session: Session) -> int:
    """Insert any default type missing from the catalog (the migration seeds it; demo calls this)."""
    have = set(session.execute(sa.select(col(ViolationType.code))).scalars())
    added = 0
    for spec in DEFAULT_CATALOG:
        if spec.code not in have:
            session.add(ViolationType(**{**spec.row(), "severity": spec.severity}))
            added += 1
    session.flush()
    return added


def _check_type(vt: ViolationType, check: Checks) -> None:
    if vt.points < 0:
        check.add("points", "分值不能为负数", "Points cannot be negative")
    if vt.publish_min_days < 0 or vt.publish_max_days < vt.publish_min_days:
        check.add(
            "publish_max_days",
            "公示期范围无效：最短天数须不大于最长天数",
            "The publication period range is invalid: the minimum must not exceed the maximum",
        )
    elif vt.severity == Severity.minor and vt.publish_max_days != 0:
        check.add(
            "publish_max_days",
            "轻微违规不予公示，公示期须为 0",
            "Minor violations are never published: the period must be 0",
        )
    elif vt.severity != Severity.minor and vt.publish_max_days == 0:
        check.add(
            "publish_max_days",
            "一般和严重违规须设定公示期",
            "General and serious violations need a publication period",
        )


EDITABLE = (
    "name_zh",
    "name_en",
    "severity",
    "points",
    "publish_min_days",
    "publish_max_days",
    "blacklist_at_once",
    "active",
)


FIELD_NAMES = {
    "name_zh": ("中文名称", "the Chinese name"),
    "name_en": ("英文名称", "the English name"),
    "severity": ("严重程度", "the severity"),
    "points": ("分值", "the points"),
}


def save_type(
    session: Session, actor: Principal, code: str, *, check: Checks | None = None, **fields: Any
) -> ViolationType:
    """Create or edit one catalog entry (admins). Records already created keep their points.
    Every problem is reported at once, each naming its field (with the problems already in
    ``check``, a page's own findings such as a number that is not one)."""
    check = check or Checks()
    code = code.strip().upper()
    if not code or len(code) > 40 or not code.replace("_", "").isalnum():
        check.add(
            "code", "类型代码只能包含字母、数字和下划线", "A type code uses letters, digits and '_' only"
        )
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(
            f"未知字段：{', '.join(sorted(unknown))}", f"Unknown fields: {', '.join(sorted(unknown))}"
        )
    vt = session.execute(sa.select(ViolationType).where(col(ViolationType.code) == code)).scalar_one_or_none()
    before: dict[str, Any] = {}
    if vt is None:
        for f in ("name_zh", "name_en", "severity", "points"):
            if fields.get(f) in (None, "") and not check.has(f):
                zh, en = FIELD_NAMES[f]
                check.add(f, f"新类型须填写{zh}", f"A new type needs {en}")
        vt = ViolationType(code=code, name_zh="", name_en="", severity=Severity.minor, points=0)
        action = "credit.type.create"
    else:
        before = {f: getattr(vt, f) for f in EDITABLE}
        action = "credit.type.update"
    for f, v in fields.items():
        if v is None:
            continue
        if f == "severity":
            try:
                v = Severity(v)
            except ValueError:
                check.add("severity", "请选择严重程度", "Choose a severity")
                continue
        setattr(vt, f, v)
    if not check:
        _check_type(vt, check)
    check.done()  # the caller's transaction rolls back the edits made to ``vt`` above
    vt.updated_at = utcnow()
    session.add(vt)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # pragma: no cover - racing creates of the same code
        raise Conflict(f"类型代码 {code} 已存在", f"Type code {code} exists already") from None
    after = {f: getattr(vt, f) for f in EDITABLE}
    changed = {f: [before.get(f), after[f]] for f in EDITABLE if before.get(f) != after[f]}
    record(
        session, actor, action, "credit_violation_type", vt.code, f"{action} {vt.code}", {"changes": changed}
    )
    return vt
