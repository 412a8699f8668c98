"""Uploaded file names: the last path component, refused when it holds an invisible character.

A name with CR/LF splits a log line or a ``Content-Disposition`` header; one with a bidirectional
override (U+202E, "invoice‮fdp.exe" shows as "invoiceexe.pdf") lies about its type to the person
who downloads it. Every upload's name passes :func:`safe_filename`, which refuses (rather than
silently alters) any character of Unicode category Cc (controls, CR/LF, NUL) or Cf (format:
bidi embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, marks, zero-width joiners):
the uploader sees what is wrong and renames the file; what is stored is what they named it.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from tenderhall.errors import InvalidInput


def bad_character(text: str) -> str | None:
    """The first control or format character in ``text`` (``None`` when there is none)."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf"):
            return ch
    return None


def safe_filename(raw: str, *, max_length: int = 255) -> str:
    """The base name of ``raw`` (no directories, no surrounding spaces), at most ``max_length``
    characters. 422 for an empty name, ``.``/``..``, or an invisible character anywhere."""
    ch = bad_character(raw or "")
    if ch is not None:
        code = f"U+{ord(ch):04X}"
        raise InvalidInput(
            f"文件名含有控制字符或不可见的格式字符（{code}，如换行或文字方向控制符），请重命名后再上传",
            f"The file name contains a control or invisible format character ({code}, such as a line "
            "break or a text-direction override): rename the file and upload it again",
            extra={"field": "filename", "character": code},
        )
    name = PureWindowsPath(PurePosixPath(raw or "").name).name.strip()
    if not name or name in (".", ".."):
        raise InvalidInput("文件名不能为空", "The file needs a name", extra={"field": "filename"})
    return name[:max_length]
