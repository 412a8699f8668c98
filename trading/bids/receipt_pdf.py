"""The receipt PDF (投标文件递交回执 / 撤回回执): one page for people, signed by the platform like
every formal document (embedded PAdES, :mod:`tenderhall.pdf.sign`). The JSON receipt and its
detached signature are what a machine checks; the PDF repeats their facts and says how."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI
from trading.bids.receipts import ReceiptFacts, rfc3339

TITLES = {
    "submitted": ("投标文件递交回执", "Bid Submission Receipt"),
    "replaced": ("投标文件递交回执（替换）", "Bid Submission Receipt (replacement)"),
    "withdrawn": ("投标文件撤回回执", "Bid Withdrawal Receipt"),
}
KIND_LABELS = {
    "submitted": "递交 submitted",
    "replaced": "替换（以本文件替换此前递交的文件）replaced",
    "withdrawn": "撤回 withdrawn",
}
#: TrueType monospace fonts tried for hashes (embedded); without one the CJK font is used.
MONO_FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
]
_mono_lock = threading.Lock()


@lru_cache(maxsize=1)
def _register_mono() -> str | None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    for candidate in MONO_FONTS:
        if Path(candidate).is_file():
            try:
                pdfmetrics.registerFont(TTFont("TenderHallMono", candidate))
            except TTFError:
                continue
            return "TenderHallMono"
    return None


def mono_font(fallback: str) -> str:
    """The reportlab name of an embeddable monospace font, or ``fallback``."""
    with _mono_lock:
        return _register_mono() or fallback


def grouped(hex_digest: str, size: int = 8) -> str:
    """``3f2a9c1d 8e01…``: groups of ``size`` hex digits, so a long hash wraps between groups and
    a person can compare it group by group."""
    return " ".join(hex_digest[i : i + size] for i in range(0, len(hex_digest), size))


def _shanghai(facts: ReceiptFacts) -> str:
    return facts.received_at.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M:%S.%f（北京时间）")


def render_receipt_pdf(settings: Settings, facts: ReceiptFacts, receipt_sha256: str) -> bytes:
    """The signed PDF of a receipt (CPU only: no database). ``receipt_sha256`` is the hex SHA-256
    of the receipt's JSON (:attr:`~trading.bids.receipts.IssuedReceipt.sha256`)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    from tenderhall.pdf import PdfDocument, plain
    from tenderhall.pdf.document import MARGIN

    title_zh, title_en = TITLES[facts.kind]
    doc = PdfDocument(settings, title_zh, title_en, f"{facts.tender_reference}-B{facts.bid_id}")
    st = doc.styles
    mono = ParagraphStyle("th-mono", parent=st.cell, fontName=mono_font(st.font), fontSize=9, leading=13)

    def cell(text: object) -> Paragraph:
        return Paragraph(plain(text), st.cell)

    def code(text: str) -> Paragraph:
        return Paragraph(plain(text), mono)

    rows: list[tuple[str, Paragraph]] = [
        ("投标人 Bidder", cell(facts.bidder_name)),
        ("统一社会信用代码", code(facts.bidder_credit_code)),
        ("招标编号 Tender", cell(facts.tender_reference)),
        ("标段 Lot", cell(f"第 {facts.lot_number} 标段")),
        ("投标编号 Bid id", code(str(facts.bid_id))),
        ("递交记录 Attempt", code(str(facts.attempt_id))),
        ("事项 Kind", cell(KIND_LABELS[facts.kind])),
        (
            "撤回的文件 SHA-256" if facts.kind == "withdrawn" else "投标文件 SHA-256",
            code(grouped(facts.sealed_sha256)),
        ),
        ("文件大小 Size", cell(f"{facts.sealed_size:,} 字节 bytes")),
    ]
    if facts.replaces_sha256:
        rows.append(("被替换文件 SHA-256", code(grouped(facts.replaces_sha256))))
    rows += [
        ("接收时间（北京时间）", cell(_shanghai(facts))),
        ("接收时间 UTC", code(rfc3339(facts.received_at))),
        ("回执 JSON 的 SHA-256", code(grouped(receipt_sha256))),
    ]
    key_w = 42 * mm
    table = Table(
        [[Paragraph(plain(k), st.key), v] for k, v in rows],
        colWidths=[key_w, A4[0] - 2 * MARGIN - key_w],
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3efe9")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    what = "撤回" if facts.kind == "withdrawn" else "递交"
    doc.paragraph(
        f"本平台已于下列时间收到上述投标人对下列招标项目的投标文件{what}。"
        "接收时间为平台收到文件最后一个字节的服务器时间。投标文件已加密，开标前任何人（包括平台）无法读取其内容。"
    )
    doc.add(table)
    doc.spacer(2)
    doc.heading("如何核验 How to verify", level=2)
    cert_url = f"{settings.base_url.rstrip('/')}/.well-known/tenderhall-signing-cert.pem"
    doc.paragraph(
        "本回执另有机器可核验的文件：receipt.json（回执内容）与 receipt.p7s（平台的分离式 CMS 签名），"
        "配置了时间戳服务时还有 receipt.tsr（RFC 3161 时间戳）。回执 JSON 的 SHA-256 应与上表一致。"
        f"平台证书：{cert_url}"
    )
    for line in (
        "sha256sum receipt.json",
        "openssl cms -verify -binary -inform DER -in receipt.p7s -content receipt.json "
        "-CAfile platform.pem -out /dev/null",
        "tenderhall bid receipt verify receipt.json --signature receipt.p7s --platform-cert platform.pem "
        "--sealed bid.thbid [--timestamp receipt.tsr --tsa-cert tsa-ca.pem]",
    ):
        doc.add(Paragraph(plain(line), mono))
        doc.spacer(1)
    doc.paragraph(
        "The platform received the sealed bid above at the time shown (the server time of its last byte). "
        "receipt.json is signed by the platform (receipt.p7s); check it with the commands above and the "
        "platform certificate. 本 PDF 亦带有平台的电子签名。",
        small=True,
    )
    return doc.render()


__all__ = ["render_receipt_pdf"]
