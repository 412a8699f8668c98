"""The disclosure notice PDF of a published record (失信行为公示, in Chinese, signed by the platform)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import RecordNotFound
from credit.models import Status, Violation
from credit.service.catalog import get_type
from tenderhall.blobs import BlobStore
from tenderhall.pdf import PdfDocument
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time

SEVERITY_ZH = {"minor": "轻微", "general": "一般", "serious": "严重"}
KIND_ZH = {"company": "企业", "agency": "招标代理机构", "expert": "评标专家", "person": "个人"}


def notice_number(v: Violation) -> str:
    year = (v.decided_at or v.created_at).astimezone(dt.UTC).year
    return f"TH-XY-{year}-{v.id:06d}"


@dataclass(frozen=True)
class NoticeInputs:
    """What the notice shows, read in one transaction (detached, loaded)."""

    violation: Violation
    violation_type: Any


def notice_inputs(session: Session, settings: Settings, violation_id: int) -> NoticeInputs | None:
    """The inputs of the record's notice, or None when no notice is wanted (not published) or it
    is stored already."""
    v = session.get(Violation, violation_id)
    if v is None or v.published_at is None or _stored(settings, v.notice_pdf_sha256):
        return None
    return NoticeInputs(v, get_type(session, v.type_code))


def _stored(settings: Settings, sha256: str | None) -> bool:
    return sha256 is not None and BlobStore(settings.blob_dir).exists(sha256)


def record_notice(session: Session, settings: Settings, violation_id: int, sha256: str) -> bool:
    """Record a rendered notice if the record still wants one (published, none stored meanwhile);
    returns whether it recorded."""
    row = session.execute(
        sa.select(col(Violation.published_at), col(Violation.notice_pdf_sha256)).where(
            col(Violation.id) == violation_id
        )
    ).first()
    if row is None or row.published_at is None or _stored(settings, row.notice_pdf_sha256):
        return False
    session.execute(
        sa.update(Violation).where(col(Violation.id) == violation_id).values(notice_pdf_sha256=sha256)
    )  # type: ignore[arg-type]
    return True


def render_notice(session: Session, settings: Settings, v: Violation) -> bytes:
    """Build the notice for ``v`` (published or archived after publication)."""
    return render_notice_pdf(settings, NoticeInputs(v, get_type(session, v.type_code)))


def render_notice_pdf(settings: Settings, inputs: NoticeInputs) -> bytes:
    """The PDF of ``inputs`` (CPU only: no database)."""
    v, vt = inputs.violation, inputs.violation_type
    doc = PdfDocument(settings, "失信行为信息公示", "Disclosure of a credit violation", notice_number(v))
    doc.heading("一、当事人")
    subject = [("主体类型", KIND_ZH.get(str(v.subject_kind), str(v.subject_kind))), ("名称", v.subject_name)]
    if v.subject_credit_code:
        subject.append(("统一社会信用代码", v.subject_credit_code))
    if v.subject_id_masked:
        subject.append(("身份证号码", v.subject_id_masked))
    doc.key_values(subject)
    doc.heading("二、失信行为")
    doc.key_values(
        [
            ("违规类型", f"{vt.name_zh}（{vt.code}）"),
            ("严重程度", SEVERITY_ZH.get(str(v.severity), str(v.severity))),
            ("记分", f"{v.points} 分"),
        ]
    )
    doc.paragraph(v.facts)
    doc.heading("三、处理决定")
    doc.key_values(
        [
            ("决定书文号", v.decision_number or ""),
            ("决定日期", local_time(v.decided_at, "%Y年%m月%d日")),
            ("公示日期", local_time(v.published_at, "%Y年%m月%d日")),
            ("公示期限至", local_time(v.public_until, "%Y年%m月%d日 %H:%M")),
        ]
    )
    if v.decision_reasons:
        doc.paragraph("决定理由：" + v.decision_reasons)
    doc.heading("四、说明")
    doc.paragraph(
        "根据《信用修复管理办法》，一般失信行为信息公示期为三个月至一年，严重失信行为信息公示期为一年至三年。"
        "公示期满自动停止公示。当事人在最短公示期满后，已纠正失信行为并作出信用承诺的，可以申请信用修复。"
    )
    if str(v.status) != str(Status.published):
        doc.paragraph(f"本记录当前状态：{v.status}（已停止公示，存档备查）。", small=True)
    return doc.render()


def ensure_notice(session: Session, settings: Settings, v: Violation) -> str:
    """Render and store the notice once (idempotent); returns its SHA-256."""
    store = BlobStore(settings.blob_dir)
    if v.notice_pdf_sha256 and store.exists(v.notice_pdf_sha256):
        return v.notice_pdf_sha256
    ref = store.write_bytes(render_notice(session, settings, v))
    v.notice_pdf_sha256 = ref.sha256
    session.add(v)
    session.flush()
    return ref.sha256


def stored_notice(session: Session, settings: Settings, violation_id: int) -> tuple[str, str]:
    """The SHA-256 and number of a record's stored notice, rendered and stored now if it is not
    stored yet."""
    v = session.get(Violation, violation_id)
    if v is None:
        raise RecordNotFound(
            f"信用记录 #{violation_id} 不存在", f"Credit record #{violation_id} does not exist"
        )
    return ensure_notice(session, settings, v), notice_number(v)
