"""A CJK font that reportlab can embed, so Chinese text shows when a PDF is turned into an image.

reportlab embeds only TrueType (``glyf``) outlines. Resolution order:

1. ``settings.pdf_font`` (TENDERHALL_PDF_FONT): a .ttf or .ttc file with TrueType outlines;
2. a system TrueType CJK font (:data:`SYSTEM_FONTS`, e.g. Debian's fonts-wqy-zenhei);
3. otherwise one is BUILT once from the PyPI package ``manimgx_fonts_cjk`` (Noto Sans CJK, a CFF2
   variable font in a collection): the SC face is subset to what TenderHall prints (ASCII,
   Latin-1, general and CJK punctuation, full-width forms, every GB2312 code point), instantiated
   at wght=400, its cubic CFF2 outlines converted to quadratic ``glyf`` outlines, and the result
   cached under ``$XDG_CACHE_HOME/tenderhall/fonts/`` (default ``~/.cache``), keyed by the source's
   SHA-256 and the builder version. Characters outside that set (rare GBK-only hanzi) show as
   blanks with the built font; a system font such as WenQuanYi Zen Hei covers more.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tenderhall.errors import AppError
from tenderhall.settings import Settings

log = logging.getLogger("tenderhall.pdf")

#: TrueType CJK fonts tried in order when ``settings.pdf_font`` is not set: (path, face index).
SYSTEM_FONTS: list[tuple[str, int]] = [
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
]
BUILDER_VERSION = "1"
BUILT_FAMILY = "TenderHall CJK"
BUILT_PS_NAME = "TenderHallCJK-Regular"
FONT_NAME = "TenderHallCJK"  # reportlab name of the registered font


class FontError(AppError):
    status = 500
    code = "pdf_font"


@dataclass(frozen=True)
class FontSource:
    path: Path
    index: int  # face index within a .ttc (0 for a .ttf)
    origin: str  # "setting" | "system" | "built"


# --- character set -------------------------------------------------------------------------------


def gb2312_chars() -> list[str]:
    """Every character of GB2312 (symbols, letters, kana, and the 6,763 hanzi), by encoding each
    two-byte code point."""
    out = []
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return out


def needed_codepoints() -> set[int]:
    cps: set[int] = set(range(0x20, 0x7F))  # ASCII
    cps |= set(range(0xA0, 0x100))  # Latin-1
    cps |= set(range(0x2000, 0x2070))  # general punctuation (— ‘ ’ “ ” … ‰)
    cps |= set(range(0x2100, 0x2150))  # letterlike (℃ № ™)
    cps |= set(range(0x2190, 0x2200))  # arrows
    cps |= set(range(0x2460, 0x24A0))  # circled numbers ①
    cps |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation
    cps |= set(range(0xFF00, 0xFFF0))  # half-width and full-width forms
    cps |= {0x00D7, 0x00F7, 0x2236, 0x3007}
    cps |= {ord(c) for c in gb2312_chars()}
    return cps


# --- building ------------------------------------------------------------------------------------


def noto_source() -> Path | None:
    try:
        import manimgx_fonts_cjk
    except ImportError:
        return None
    path = Path(manimgx_fonts_cjk.__file__).parent / "NotoSansCJK-VF.otf.ttc"
    return path if path.is_file() else None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tenderhall" / "fonts"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _pick_face(source: Path, family_contains: str) -> int:
    from fontTools.ttLib import TTCollection

    coll = TTCollection(str(source), lazy=True)
    try:
        for i, font in enumerate(coll.fonts):
            if family_contains in (font["name"].getDebugName(1) or ""):
                return i
    finally:
        coll.close()
    raise FontError(
        f"字体文件 {source.name} 中没有 {family_contains} 字形",
        f"The font file {source.name} has no face named like {family_contains!r}",
    )


def build_truetype_cjk(
    source: Path, out: Path, *, chars: Iterable[int] | None = None, face: str = "SC", weight: float = 400
) -> Path:
    """Build a static TrueType CJK font at ``out`` from a CFF/CFF2 (variable) OpenType source."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable
    from fontTools.varLib import instancer

    index = _pick_face(source, face) if source.suffix.lower() in (".ttc", ".otc") else 0
    font = TTFont(str(source), fontNumber=index, lazy=False)
    codepoints = sorted(needed_codepoints() if chars is None else set(chars))

    # 1. subset first: instancing and converting 65,535 glyphs would take minutes
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = True  # dropping CFF2 hints leaves private dicts the instancer cannot read
    options.drop_tables += ["DSIG", "VORG", "vhea", "vmtx", "VVAR", "BASE", "STAT", "MVAR"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)

    # 2. a static instance at the chosen weight
    if "fvar" in font:
        font = instancer.instantiateVariableFont(font, {"wght": weight})

    # 3. cubic CFF/CFF2 outlines -> quadratic glyf
    cff_tag = "CFF2" if "CFF2" in font else "CFF "
    if cff_tag not in font:
        raise FontError("字体没有 CFF 轮廓", "The source font has no CFF outlines to convert")
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in glyph_order:
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, 1.0, reverse_direction=True))
        glyphs[name] = tt_pen.glyph()
    font["loca"] = newTable("loca")
    glyf = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    font["glyf"] = glyf
    del font[cff_tag]
    for tag in ("VORG", "HVAR", "VVAR", "MVAR", "avar", "fvar", "STAT", "gvar"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, g in glyphs.items():
        if hasattr(g, "xMin"):
            hmtx[name] = (hmtx[name][0], g.xMin)
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.numGlyphs = len(glyph_order)
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    maxp.maxComponentElements = max((len(getattr(g, "components", [])) for g in glyphs.values()), default=0)
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 3.0  # no glyph names
    post.extraNames = []
    post.mapping = {}
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"

    # 4. a name of its own, so nobody mistakes the subset for the original family
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (16, 17, 21, 22, 25) or rec.nameID >= 256:
            names.removeNames(nameID=rec.nameID)
    for name_id, value in (
        (1, BUILT_FAMILY),
        (2, "Regular"),
        (4, f"{BUILT_FAMILY} Regular"),
        (6, BUILT_PS_NAME),
    ):
        names.setName(value, name_id, 3, 1, 0x409)
        names.setName(value, name_id, 1, 0, 0)
    if "OS/2" in font:
        font["OS/2"].usWeightClass = int(weight)

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".build-", suffix=".ttf")
    os.close(fd)
    try:
        font.save(tmp)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def built_font_path(source: Path, directory: Path | None = None) -> Path:
    """Where the font built from ``source`` is cached (keyed by the source's SHA-256)."""
    return (directory or cache_dir()) / f"tenderhall-cjk-{_source_hash(source)[:16]}-v{BUILDER_VERSION}.ttf"


@lru_cache(maxsize=4)
def _source_hash(source: Path) -> str:
    return _sha256_file(source)


def built_font(source: Path | None = None, directory: Path | None = None) -> Path:
    """The TrueType font built from Noto Sans CJK SC, building it on first use (one process builds;
    others wait on a file lock and reuse it)."""
    src = source or noto_source()
    if src is None:
        raise FontError(
            "找不到可用的中文字体：请安装 fonts-wqy-zenhei，或设置 TENDERHALL_PDF_FONT 指向 TrueType 字体",
            "No CJK font found: install fonts-wqy-zenhei, or set TENDERHALL_PDF_FONT to a TrueType font",
        )
    out = built_font_path(src, directory)
    folder = out.parent
    folder.mkdir(parents=True, exist_ok=True)
    if out.is_file():
        return out
    with (folder / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not out.is_file():
                started = time.perf_counter()
                build_truetype_cjk(src, out)
                log.info("built CJK font %s in %.1f s", out.name, time.perf_counter() - started)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


# --- resolution and registration -----------------------------------------------------------------


def has_truetype_outlines(path: Path, index: int = 0) -> bool:
    from fontTools.ttLib import TTFont

    try:
        with TTFont(str(path), fontNumber=index, lazy=True) as f:
            return "glyf" in f and "cmap" in f
    except Exception:  # noqa: BLE001 - any unreadable file is simply not usable
        return False


def resolve_font(settings: Settings) -> FontSource:
    """Pick the CJK font for PDFs (see the module docstring for the order)."""
    if settings.pdf_font is not None:
        path = Path(settings.pdf_font)
        if not path.is_file() or not has_truetype_outlines(path):
            raise FontError(
                f"TENDERHALL_PDF_FONT 指向的 {path} 不是 TrueType（glyf）字体文件",
                f"TENDERHALL_PDF_FONT: {path} is not a TrueType (glyf) font file; reportlab embeds "
                "only TrueType outlines",
            )
        return FontSource(path, 0, "setting")
    for candidate, index in SYSTEM_FONTS:
        path = Path(candidate)
        if path.is_file() and has_truetype_outlines(path, index):
            return FontSource(path, index, "system")
    return FontSource(built_font(), 0, "built")


_register_lock = threading.Lock()


@lru_cache(maxsize=8)
def _register(path: str, index: int) -> str:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = f"{FONT_NAME}-{hashlib.sha256(f'{path}#{index}'.encode()).hexdigest()[:8]}"
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(name, bold, italic, name)  # one face: <b> and <i> fall back to it
    return name


def register_font(settings: Settings) -> str:
    """Register the CJK font with reportlab (embedded as a subset) and return its name."""
    source = resolve_font(settings)
    with _register_lock:
        return _register(str(source.path), source.index)
