"""Evidence links: to any object in the platform (a table row, e.g. a site-attendance anomaly or a
collusion flag) and to uploaded files in the blob store. A link that points nowhere is refused.

Evidence is a list of dicts:
``{"type": "object", "object_type": "<table name>", "object_id": "<primary key>", "label": "…"}``
or ``{"type": "file", "sha256": "<hex>", "name": "…", "size": N}``.
Domains may register a label/URL for their object types with :func:`register_object_type`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from credit.exceptions import BadEvidence, EvidenceNotFound
from credit.models import EvidenceKind
from tenderhall import labels
from tenderhall.db import metadata
from tenderhall.filenames import safe_filename
from tenderhall.settings import Settings

#: Tables that may never be cited (secrets and session data).
FORBIDDEN_TABLES = frozenset(
    {"core_user_session", "core_login_attempt", "core_login_nonce", "core_outbox", "core_scheduler_lease"}
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ObjectType:
    table: str
    label_zh: str
    label_en: str
    url: Callable[[str], str] | None = None


OBJECT_TYPES: dict[str, ObjectType] = {}

#: The platform objects a supervisor cites by what they are (the new-record form offers those
#: whose table exists); the table names stay out of every page.
KIND_TABLES: dict[EvidenceKind, str] = {
    EvidenceKind.tender: "trading_tender",
    EvidenceKind.lot: "trading_lot",
    EvidenceKind.document: "trading_document",
    EvidenceKind.organisation: "core_organisation",
    EvidenceKind.user: "core_user",
    EvidenceKind.record: "credit_violation",
    EvidenceKind.anomaly: "supervision_anomaly",
}
_KIND_OF_TABLE = {t: k for k, t in KIND_TABLES.items()}


def available_kinds() -> list[EvidenceKind]:
    """The kinds of object that can be cited now (their table exists on this platform)."""
    return [k for k, t in KIND_TABLES.items() if t in metadata.tables]


def table_of(kind: str) -> str | None:
    """The table of an evidence kind (``tender`` → its table), None for an unknown kind."""
    try:
        return KIND_TABLES[EvidenceKind(kind)]
    except ValueError:
        return None


def register_object_type(
    table: str, label_zh: str, label_en: str, url: Callable[[str], str] | None = None
) -> None:
    """Let a domain give its evidence objects a readable label and a link (optional)."""
    OBJECT_TYPES[table] = ObjectType(table, label_zh, label_en, url)


def blob_exists(settings: Settings, sha256: str) -> bool:
    from tenderhall.blobs import BlobStore

    return bool(BlobStore(settings.blob_dir).exists(sha256))


def validate_evidence(
    session: Session, settings: Settings, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Check that every link resolves; return the normalised list."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items or []):
        kind = str(item.get("type") or "")
        if kind == "object":
            table = str(item.get("object_type") or "")
            oid = str(item.get("object_id") or "").strip()
            tbl = metadata.tables.get(table)
            if tbl is None or table in FORBIDDEN_TABLES:
                raise BadEvidence(
                    f"第{i + 1}项证据的对象类型 {table!r} 不是平台中的对象",
                    f"Evidence #{i + 1}: {table!r} is not a kind of object on the platform",
                    extra={"field": "evidence_kind"},
                )
            zh, en = _names(table)
            pk = list(tbl.primary_key.columns)
            if len(pk) != 1 or not oid:
                raise BadEvidence(
                    f"第{i + 1}项证据缺少{zh}编号",
                    f"Evidence #{i + 1}: give the number of the {en.lower()}",
                    extra={"field": "evidence_object_id"},
                )
            col = pk[0]
            try:
                key: Any = int(oid) if col.type.python_type is int else oid
            except (ValueError, NotImplementedError):
                raise EvidenceNotFound(
                    f"第{i + 1}项证据指向不存在的对象：没有编号为 {oid} 的{zh}",
                    f"Evidence #{i + 1} points nowhere: there is no {en.lower()} numbered {oid}",
                    extra={"field": "evidence_object_id"},
                ) from None
            found = session.execute(sa.select(col).where(col == key)).first()
            if found is None:
                raise EvidenceNotFound(
                    f"第{i + 1}项证据指向不存在的对象：没有编号为 {oid} 的{zh}",
                    f"Evidence #{i + 1} points nowhere: there is no {en.lower()} numbered {oid}",
                    extra={"field": "evidence_object_id"},
                )
            out.append(
                {
                    "type": "object",
                    "object_type": table,
                    "object_id": oid,
                    "label": str(item.get("label") or "")[:200],
                }
            )
        elif kind == "file":
            sha = str(item.get("sha256") or "").lower()
            if not _SHA256.match(sha):
                raise BadEvidence(
                    f"第{i + 1}项证据的文件摘要格式错误",
                    f"Evidence #{i + 1}: malformed SHA-256",
                    extra={"field": "evidence_file"},
                )
            if not blob_exists(settings, sha):
                raise EvidenceNotFound(
                    f"第{i + 1}项证据文件不存在（SHA-256 {sha[:12]}…）",
                    f"Evidence #{i + 1} points nowhere: no uploaded file with SHA-256 {sha[:12]}…",
                    extra={"field": "evidence_file"},
                )
            out.append(
                {
                    "type": "file",
                    "sha256": sha,
                    "name": safe_filename(str(item["name"]), max_length=200) if item.get("name") else "",
                    "size": int(item.get("size") or 0),
                }
            )
        else:
            raise BadEvidence(
                f"第{i + 1}项证据类型无效（应为 object 或 file）",
                f"Evidence #{i + 1}: type must be 'object' or 'file'",
            )
    return out


def _names(table: str) -> tuple[str, str]:
    """What a person calls an object of ``table`` (Chinese, English); never the table's name."""
    ot = OBJECT_TYPES.get(table)
    if ot is not None:
        return ot.label_zh, ot.label_en
    kind = _KIND_OF_TABLE.get(table)
    if kind is not None:
        return labels.label(kind, lang="zh"), labels.label(kind, lang="en")
    if table == "credit_violation_type":
        return "违规类型", "Violation type"
    return "平台对象", "Platform object"


def describe(item: dict[str, Any], lang: str = "zh") -> tuple[str, str | None]:
    """(label, url or None) for showing an evidence link."""
    if item.get("type") == "file":
        return (item.get("name") or item.get("sha256", "")[:12], None)
    ot = OBJECT_TYPES.get(item.get("object_type", ""))
    zh, en = _names(str(item.get("object_type", "")))
    base = en if lang == "en" else zh
    label = f"{base} #{item.get('object_id')}"
    oid = str(item.get("object_id"))
    if ot and ot.url:
        return label, ot.url(oid)
    if item.get("object_type") == "credit_violation":
        return label, f"/credit/manage/{oid}"
    return label, None
