"""``PdfDocument``: the base of every formal document (announcements, receipts, notices).

    doc = PdfDocument(settings, "招标公告", "Tender notice", doc_no="TH-2026-0001")
    doc.heading("一、项目概况")
    doc.key_values([("项目名称", tender.title), ("预算", yuan(tender.budget_fen))])
    doc.paragraph(tender.announcement)          # plain text: escaped, newlines kept
    doc.table([["标段", "最高投标限价"], ["一标段", "1,000,000.00"]], col_widths=[60, 100])
    pdf_bytes = doc.render()                     # signed by the platform (embedded PAdES)

Every page carries the platform name 公共资源交易平台, the title and document number in the header,
and the generation time (Asia/Shanghai) and 第 X 页 / 共 Y 页 in the footer. Text passed to the
builder is plain text, never markup: ``<``, ``&`` and scripts are printed as written. For custom
flowables use :func:`styles` and :meth:`PdfDocument.add`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tenderhall.db import utcnow
from tenderhall.pdf.fonts import register_font
from tenderhall.pdf.sign import sign_pdf
from tenderhall.settings import Settings
from tenderhall.web.i18n import SHANGHAI

PLATFORM_NAME_ZH = "公共资源交易平台"
PLATFORM_NAME_EN = "TenderHall Public Resource Trading Platform"
MARGIN = 20 * mm
HEADER_H = 14 * mm
FOOTER_H = 12 * mm


@dataclass(frozen=True)
class PdfStyles:
    font: str
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading1: ParagraphStyle
    heading2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_header: ParagraphStyle
    key: ParagraphStyle


def styles(settings: Settings) -> PdfStyles:
    """Paragraph styles set in the platform's CJK font (CJK line breaking on)."""
    font = register_font(settings)

    def style(name: str, size: float, leading: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **kw)

    return PdfStyles(
        font=font,
        title=style("th-title", 20, 28, alignment=TA_CENTER, spaceAfter=2 * mm),
        subtitle=style("th-subtitle", 11, 15, alignment=TA_CENTER, textColor=colors.HexColor("#444444")),
        heading1=style("th-h1", 14, 20, spaceBefore=4 * mm, spaceAfter=2 * mm),
        heading2=style("th-h2", 12, 17, spaceBefore=3 * mm, spaceAfter=1.5 * mm),
        body=style("th-body", 10.5, 16, spaceAfter=1.5 * mm),
        small=style("th-small", 8, 11, textColor=colors.HexColor("#555555")),
        cell=style("th-cell", 9.5, 13),
        cell_header=style("th-cell-h", 9.5, 13, textColor=colors.white),
        key=style("th-key", 9.5, 13, textColor=colors.HexColor("#333333")),
    )


def plain(text: object) -> str:
    """Plain text -> reportlab paragraph markup: escaped, newlines kept."""
    return escape("" if text is None else str(text)).replace("\r\n", "\n").replace("\n", "<br/>")


def _furniture_canvas(font: str, title: str, doc_no: str | None, generated: str) -> type[rl_canvas.Canvas]:
    """A canvas that holds pages back until the end so each footer can say 共 Y 页."""

    class FurnitureCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("initialFontName", font)  # no stray unembedded Helvetica
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # reportlab API name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._draw(total)
                super().showPage()
            super().save()

        def _draw(self, total: int) -> None:
            width, height = self._pagesize
            self.saveState()
            self.setStrokeColor(colors.HexColor("#8a1c1c"))
            self.setLineWidth(0.8)
            top = height - MARGIN + 4 * mm
            self.setFont(font, 10)
            self.setFillColor(colors.HexColor("#8a1c1c"))
            self.drawString(MARGIN, top, PLATFORM_NAME_ZH)
            self.setFillColor(colors.HexColor("#333333"))
            self.setFont(font, 8.5)
            self.drawRightString(width - MARGIN, top, title[:60])
            if doc_no:
                self.drawRightString(width - MARGIN, top - 4 * mm, f"文号 No. {doc_no}"[:80])
            self.line(MARGIN, top - 6 * mm, width - MARGIN, top - 6 * mm)
            bottom = MARGIN - 8 * mm
            self.line(MARGIN, bottom + 4.5 * mm, width - MARGIN, bottom + 4.5 * mm)
            self.setFont(font, 8)
            self.drawString(MARGIN, bottom, f"生成时间 Generated: {generated}（北京时间 Asia/Shanghai）")
            self.drawRightString(width - MARGIN, bottom, f"第 {self._pageNumber} 页 / 共 {total} 页")
            self.restoreState()

    return FurnitureCanvas


class PdfDocument:
    """Builder for a formal platform document; :meth:`render` returns signed PDF bytes."""

    def __init__(
        self,
        settings: Settings,
        title_zh: str,
        title_en: str | None = None,
        doc_no: str | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        self.settings = settings
        self.title_zh = title_zh
        self.title_en = title_en
        self.doc_no = doc_no
        self.generated_at = now or utcnow()
        self.styles = styles(settings)
        self.story: list[Flowable] = [Paragraph(plain(title_zh), self.styles.title)]
        if title_en:
            self.story.append(Paragraph(plain(title_en), self.styles.subtitle))
        if doc_no:
            self.story.append(Paragraph(plain(f"文号 No. {doc_no}"), self.styles.subtitle))
        self.story.append(Spacer(1, 5 * mm))

    # --- content ---------------------------------------------------------------------------------

    def add(self, flowable: Flowable) -> PdfDocument:
        """Append any reportlab flowable (use :func:`styles` for its text)."""
        self.story.append(flowable)
        return self

    def heading(self, text: str, level: int = 1) -> PdfDocument:
        return self.add(Paragraph(plain(text), self.styles.heading1 if level <= 1 else self.styles.heading2))

    def paragraph(self, text: str, *, small: bool = False) -> PdfDocument:
        return self.add(Paragraph(plain(text), self.styles.small if small else self.styles.body))

    def spacer(self, height_mm: float = 4) -> PdfDocument:
        return self.add(Spacer(1, height_mm * mm))

    def table(
        self,
        rows: Sequence[Sequence[object]],
        col_widths: Sequence[float] | None = None,
        header: bool = True,
    ) -> PdfDocument:
        """A table of plain-text cells; ``col_widths`` in millimetres (default: equal shares)."""
        if not rows:
            return self
        ncols = max(len(r) for r in rows)
        width = A4[0] - 2 * MARGIN
        widths = [w * mm for w in col_widths] if col_widths else [width / ncols] * ncols
        data = []
        for i, row in enumerate(rows):
            style = self.styles.cell_header if header and i == 0 else self.styles.cell
            cells = [Paragraph(plain(c), style) for c in row]
            cells += [Paragraph("", style)] * (ncols - len(cells))
            data.append(cells)
        t = Table(data, colWidths=widths, repeatRows=1 if header else 0)
        commands: list[tuple[Any, ...]] = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#8a1c1c")))
        t.setStyle(TableStyle(commands))
        return self.add(t).spacer(2)

    def key_values(self, pairs: Sequence[tuple[object, object]], key_width_mm: float = 45) -> PdfDocument:
        """Label / value lines (a two-column table without a header)."""
        width = A4[0] - 2 * MARGIN
        data = [
            [Paragraph(plain(k), self.styles.key), Paragraph(plain(v), self.styles.cell)] for k, v in pairs
        ]
        if not data:
            return self
        t = Table(data, colWidths=[key_width_mm * mm, width - key_width_mm * mm])
        t.setStyle(
            TableStyle(
                [
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3efe9")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return self.add(t).spacer(2)

    # --- output ----------------------------------------------------------------------------------

    def render_unsigned(self) -> bytes:
        buf = io.BytesIO()
        generated = self.generated_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        title = self.title_zh + (f" / {self.title_en}" if self.title_en else "")
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + HEADER_H - 8 * mm,
            bottomMargin=MARGIN + FOOTER_H - 10 * mm,
            title=title,
            author=PLATFORM_NAME_ZH,
            subject=self.doc_no or "",
            creator=PLATFORM_NAME_EN,
        )
        doc.build(
            list(self.story), canvasmaker=_furniture_canvas(self.styles.font, title, self.doc_no, generated)
        )
        return buf.getvalue()

    def render(self) -> bytes:
        """The PDF with the platform's PAdES signature embedded."""
        return sign_pdf(self.render_unsigned(), self.settings)
