"""The announcement PDF (招标公告): Chinese, the platform's CJK font, signed by the platform.

Rendered by the job ``trading.render_announcement`` (queue ``cpu``: a worker process, never a
request) after publication and each amendment, and stored in the blob store
(``col(Tender.announcement_sha256)``). The job reads its inputs in one transaction
(:func:`announcement_inputs`), renders with none open (:func:`render_announcement_pdf`) and records
the result in a second that re-checks the tender (:func:`record_announcement`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI
from trading.live import announcement_ready
from trading.models import (
    CATEGORY_LABELS,
    EVALUATION_LABELS,
    METHOD_LABELS,
    Amendment,
    Category,
    Document,
    EvaluationMethod,
    Lot,
    Method,
    Tender,
)


def _yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    return f"{fen // 100:,}.{fen % 100:02d} 元"


def _local(t: dt.datetime | None) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M") if t else "—"


@dataclass(frozen=True)
class AnnouncementInputs:
    """Everything the announcement shows, read in one transaction (detached rows, loaded)."""

    tender: Tender
    tenderee: Organisation | None
    agency: Organisation | None
    lots: Sequence[Lot]
    docs: Sequence[Document]
    amendments: Sequence[Amendment]
    amendment_count: int  # as read: the announcement is current while the tender's is the same


def announcement_inputs(session: Session, tender_id: int) -> AnnouncementInputs | None:
    """The inputs of the tender's current announcement; None for a draft or a missing tender."""
    from trading.models import TenderState

    tender = session.get(Tender, tender_id)
    if tender is None or tender.state == TenderState.draft:
        return None
    tenderee = session.get(Organisation, tender.tenderee_org_id)
    agency = session.get(Organisation, tender.agency_org_id) if tender.agency_org_id else None
    lots = (
        session.execute(sa.select(Lot).where(col(Lot.tender_id) == tender.id).order_by(col(Lot.number)))
        .scalars()
        .all()
    )
    docs = (
        session.execute(
            sa.select(Document)
            .where(col(Document.tender_id) == tender.id, col(Document.superseded_at).is_(None))  # type: ignore[union-attr]
            .order_by(col(Document.name))
        )
        .scalars()
        .all()
    )
    amendments = (
        session.execute(
            sa.select(Amendment).where(col(Amendment.tender_id) == tender.id).order_by(col(Amendment.number))
        )
        .scalars()
        .all()
    )
    return AnnouncementInputs(tender, tenderee, agency, lots, docs, amendments, tender.amendment_count)


def render_announcement_pdf(settings: Settings, inputs: AnnouncementInputs) -> bytes:
    """The PDF of ``inputs`` (CPU only: no database)."""
    from tenderhall.pdf import PdfDocument

    tender, tenderee, agency = inputs.tender, inputs.tenderee, inputs.agency
    lots, docs, amendments = inputs.lots, inputs.docs, inputs.amendments
    doc = PdfDocument(settings, "招标公告", "Tender Notice", tender.reference)
    doc.heading(tender.title)
    doc.key_values(
        [
            ("招标编号", tender.reference),
            ("开放合同编号 (OCID)", tender.ocid),
            ("招标人", tenderee.name if tenderee else "—"),
            ("招标代理机构", agency.name if agency else "—"),
            ("项目类别", CATEGORY_LABELS[Category(tender.category)][0]),
            ("招标方式", METHOD_LABELS[Method(tender.method)][0]),
            (
                "资金来源",
                ("政府投资" if tender.government_investment else "非政府投资")
                + (f"（{tender.funding_source}）" if tender.funding_source else ""),
            ),
            ("项目地点", tender.region or "—"),
            ("预算金额", _yuan(tender.budget_fen)),
            ("最高投标限价", _yuan(tender.ceiling_price_fen)),
            ("工期/服务期", f"{tender.duration_days} 日历天"),
            ("评标办法", EVALUATION_LABELS[EvaluationMethod(tender.evaluation_method)][0]),
            (
                "投标保证金",
                "免收" + (f"（{tender.bond_rule}）" if tender.bond_rule else "")
                if tender.bond_waived
                else _yuan(tender.bid_bond_fen),
            ),
            ("公告发布时间", _local(tender.published_at)),
            ("投标截止时间（开标时间）", _local(tender.bid_deadline_at)),
            (
                "开标方式",
                "不见面开标：投标人在线解密，开标密钥由"
                + "、".join(
                    {"supervisor": "监管人员", "tenderee": "招标人", "agency": "招标代理"}.get(c, c)
                    for c in tender.opening_custodians
                )
                + "分持",
            ),
        ]
    )
    if tender.description:
        doc.heading("一、项目概况", level=2).paragraph(tender.description)
    doc.heading("二、标段划分", level=2)
    doc.table(
        [["标段", "名称", "预算金额", "最高投标限价", "工期（天）"]]
        + [
            [
                str(x.number),
                x.title,
                _yuan(x.budget_fen),
                _yuan(x.ceiling_price_fen),
                str(x.duration_days or "—"),
            ]
            for x in lots
        ],
        col_widths=[14, 66, 32, 32, 26],
    )
    if tender.announcement:
        doc.heading("三、公告正文", level=2).paragraph(tender.announcement)
    doc.heading("四、招标文件", level=2)
    if docs:
        doc.table(
            [["文件", "版本", "SHA-256"]] + [[d.name, str(d.version), d.sha256] for d in docs],
            col_widths=[55, 14, 101],
        )
    else:
        doc.paragraph("招标文件请登录平台下载。")
    if amendments:
        doc.heading("五、变更记录", level=2)
        doc.table(
            [["序号", "时间", "理由"]]
            + [[str(a.number), _local(a.created_at), a.reason] for a in amendments],
            col_widths=[14, 40, 116],
        )
    doc.paragraph(
        "投标人须在投标截止时间前通过本平台提交加密投标文件；逾期送达的投标文件将被拒收。"
        "本公告在本平台及开放合同数据（OCDS）中同时发布。",
        small=True,
    )
    return doc.render()


def record_announcement(session: Session, inputs: AnnouncementInputs, sha256: str) -> bool:
    """Record a rendered announcement if it is still the tender's current one: not a draft again,
    no amendment since its inputs were read (the amendment's own job renders the newer one).
    A Core UPDATE leaves the tender's optimistic version untouched. Returns whether it recorded."""
    from trading.models import TenderState

    tender_id = inputs.tender.id
    now = session.execute(
        sa.select(col(Tender.state), col(Tender.amendment_count), col(Tender.announcement_sha256)).where(
            col(Tender.id) == tender_id
        )
    ).first()
    if now is None or now.state == TenderState.draft or now.amendment_count != inputs.amendment_count:
        return False
    if now.announcement_sha256 != sha256:
        session.execute(
            sa.update(Tender).where(col(Tender.id) == tender_id).values(announcement_sha256=sha256)
        )  # type: ignore[arg-type]
        if tender_id is not None:  # it is: its row was found above
            announcement_ready(session, tender_id, sha256)
    return True


def store_announcement(session: Session, settings: Settings, tender_id: int) -> str | None:
    """Render the tender's current 招标公告 into the blob store in the caller's transaction (the
    CLI, the demo; the job does it in two transactions around the rendering). Idempotent: same
    content, same address."""
    from tenderhall.blobs import BlobStore

    inputs = announcement_inputs(session, tender_id)
    if inputs is None:
        return None
    ref = BlobStore(settings.blob_dir).write_bytes(render_announcement_pdf(settings, inputs))
    record_announcement(session, inputs, ref.sha256)
    return ref.sha256
