"""PDFs for every formal document: a CJK font that renders, page furniture, and the platform's
embedded PAdES signature. See :mod:`tenderhall.pdf.document` for the builder."""

from tenderhall.pdf.document import PdfDocument, PdfStyles, plain, styles
from tenderhall.pdf.fonts import register_font, resolve_font
from tenderhall.pdf.sign import sign_pdf, verify_pdf

__all__ = [
    "PdfDocument",
    "PdfStyles",
    "plain",
    "register_font",
    "resolve_font",
    "sign_pdf",
    "styles",
    "verify_pdf",
]
