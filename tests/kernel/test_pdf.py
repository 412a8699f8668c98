"""PDF base: Chinese text renders (checked on a rasterised page), the CJK font is embedded, page
furniture, the platform signature verifies, user text is escaped, and the CJK font resolution and
build from Noto Sans CJK."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tenderhall.pdf import PdfDocument, resolve_font, verify_pdf
from tenderhall.pdf import fonts as pdf_fonts
from tenderhall.settings import Settings
from tests.conftest import need_command

DPI = 72
MM = DPI / 25.4


def need_tool(name: str) -> str:
    return need_command(name, "the rendered PDF cannot be checked", package="poppler-utils")


@pytest.fixture
def pdf_settings(tmp_path: Path) -> Settings:
    return Settings(key_dir=tmp_path / "keys", blob_dir=tmp_path / "blobs")


def _page_png(pdf: bytes, tmp_path: Path, page: int = 1) -> Image.Image:
    pdftoppm = need_tool("pdftoppm")
    src = tmp_path / f"doc-{id(pdf)}.pdf"
    src.write_bytes(pdf)
    out = tmp_path / f"page-{id(pdf)}"
    subprocess.run(
        [
            pdftoppm,
            "-r",
            str(DPI),
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            "-singlefile",
            str(src),
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return Image.open(f"{out}.png").convert("L")


def _title_region(img: Image.Image) -> Image.Image:
    """Where the big centred title sits on page 1 (about 26–38 mm from the top)."""
    w = img.width
    return img.crop((int(w * 0.25), int(24 * MM), int(w * 0.75), int(40 * MM)))


def _dark_pixels(img: Image.Image) -> int:
    return sum(img.histogram()[:128])


def _text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    pdftotext = need_tool("pdftotext")
    src = tmp_path / f"text-{id(pdf)}.pdf"
    src.write_bytes(pdf)
    args = [pdftotext, "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(src), "-"], check=True, capture_output=True).stdout.decode()


def _doc(settings: Settings, title: str = "招标公告") -> PdfDocument:
    doc = PdfDocument(settings, title, "Tender notice", doc_no="TH-2026-0001")
    doc.heading("一、项目概况")
    doc.key_values([("项目名称", "某市第一中学教学楼改造工程"), ("最高投标限价", "1,234,567.89 元")])
    doc.paragraph("本项目采用综合评估法。投标人须使用CA数字证书加密并签名投标文件。")
    doc.table([["标段", "名称"], ["1", "土建工程"]], col_widths=[30, 100])
    return doc


def test_chinese_title_is_visible_when_the_page_is_rasterised(pdf_settings: Settings, tmp_path: Path) -> None:
    notice = _title_region(_page_png(_doc(pdf_settings, "招标公告").render(), tmp_path))
    award = _title_region(_page_png(_doc(pdf_settings, "中标通知").render(), tmp_path))
    assert _dark_pixels(notice) > 150, "the title region is blank: the CJK font did not render"
    # missing glyphs would draw identical boxes; real glyphs differ between two titles
    assert notice.tobytes() != award.tobytes()


def test_the_cjk_font_is_embedded(pdf_settings: Settings) -> None:
    pdf = _doc(pdf_settings).render()
    assert b"/FontFile2" in pdf  # an embedded TrueType font program
    pdffonts = need_tool("pdffonts")
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        listing = subprocess.run([pdffonts, f.name], check=True, capture_output=True).stdout.decode()
    cjk = [line for line in listing.splitlines() if "TrueType" in line]
    assert cjk, listing
    assert all(" yes " in line for line in cjk), listing  # embedded


def test_every_page_carries_the_platform_furniture(pdf_settings: Settings, tmp_path: Path) -> None:
    doc = PdfDocument(
        pdf_settings, "评标报告", doc_no="PB-7", now=dt.datetime(2026, 3, 1, 0, 0, 0, tzinfo=dt.UTC)
    )
    for i in range(90):
        doc.paragraph(f"第{i + 1}条　评标委员会应当按照招标文件确定的评标标准和方法评审。")
    pdf = doc.render()
    pages = [_text(pdf, tmp_path, page=n) for n in (1, 2, 3)]
    for n, text in enumerate(pages, start=1):
        assert "公共资源交易平台" in text
        assert "评标报告" in text
        assert "PB-7" in text
        assert "2026-03-01 08:00:00" in text  # generation time shown in Asia/Shanghai
        assert f"第{n}页/共3页" in "".join(text.split())  # pdftotext drops spaces between CJK


def test_the_platform_signature_verifies_and_breaks_when_a_byte_changes(pdf_settings: Settings) -> None:
    pdf = _doc(pdf_settings).render()
    assert verify_pdf(pdf, pdf_settings)
    i = pdf.index(b"TenderHall Public Resource Trading Platform")  # inside the signed byte range
    tampered = pdf[:i] + b"X" + pdf[i + 1 :]
    assert not verify_pdf(tampered, pdf_settings)
    other = Settings(key_dir=pdf_settings.key_dir.parent / "other-keys")
    assert not verify_pdf(pdf, other)  # not trusted under another platform's certificate


def test_unsigned_pdf_does_not_verify(pdf_settings: Settings) -> None:
    assert not verify_pdf(_doc(pdf_settings).render_unsigned(), pdf_settings)


def test_user_text_is_printed_as_written_never_interpreted(pdf_settings: Settings, tmp_path: Path) -> None:
    evil = "<script>alert('x')</script> & <b>不是粗体</b> <font size=60>大</font> a < b <para"
    doc = PdfDocument(pdf_settings, "<i>标题</i> & 公告", doc_no="<1>")
    doc.paragraph(evil)
    doc.key_values([("<k>", "v & w")])
    doc.table([["<th>", "&amp;"], ["<td>", "x<y"]])
    text = _text(doc.render(), tmp_path)
    assert "<script>alert('x')</script> & <b>不是粗体</b>" in text
    assert "<font size=60>大</font> a < b <para" in text
    assert "<i>标题</i> & 公告" in text
    assert "&amp;" in text
    assert "x<y" in text


async def test_rendering_works_inside_a_running_event_loop(pdf_settings: Settings) -> None:
    pdf = _doc(pdf_settings).render()  # e.g. a service called through AsyncSession.run_sync
    assert verify_pdf(pdf, pdf_settings)


def test_the_font_setting_comes_first_and_must_be_truetype(tmp_path: Path) -> None:
    system = next((Path(p) for p, _ in pdf_fonts.SYSTEM_FONTS if Path(p).is_file()), None)
    if system is not None:
        chosen = resolve_font(Settings(key_dir=tmp_path, pdf_font=system))
        assert chosen.origin == "setting"
        assert chosen.path == system
    noto = pdf_fonts.noto_source()
    assert noto is not None, "manimgx_fonts_cjk is a dependency and must be installed"
    with pytest.raises(pdf_fonts.FontError, match="TENDERHALL_PDF_FONT"):
        resolve_font(Settings(key_dir=tmp_path, pdf_font=noto))  # CFF2 outlines: not embeddable
    with pytest.raises(pdf_fonts.FontError):
        resolve_font(Settings(key_dir=tmp_path, pdf_font=tmp_path / "missing.ttf"))


def test_without_a_system_font_the_built_font_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_fonts, "SYSTEM_FONTS", [("/nonexistent/font.ttc", 0)])
    monkeypatch.setattr(pdf_fonts, "built_font", lambda: tmp_path / "built.ttf")
    chosen = resolve_font(Settings(key_dir=tmp_path))
    assert chosen.origin == "built"
    assert chosen.path == tmp_path / "built.ttf"


def test_gb2312_character_set_is_complete() -> None:
    chars = pdf_fonts.gb2312_chars()
    hanzi = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
    assert len(hanzi) == 6763
    needed = pdf_fonts.needed_codepoints()
    assert {ord(c) for c in "招标公告，。（）￥A é"} <= needed


@pytest.fixture(scope="module")
def small_built_font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TrueType font built from Noto Sans CJK SC (CFF2, variable), limited to a few characters
    so that the test stays fast; the full build is the same code with the GB2312 set."""
    source = pdf_fonts.noto_source()
    assert source is not None
    chars = {ord(c) for c in "招标公告中通知ABCXYZ abc0123456789，。/第页共"}
    out = tmp_path_factory.mktemp("font") / "small.ttf"
    return pdf_fonts.build_truetype_cjk(source, out, chars=chars)


def test_font_built_from_noto_is_static_truetype_named_for_tenderhall(small_built_font: Path) -> None:
    from fontTools.ttLib import TTFont

    with TTFont(str(small_built_font)) as f:
        assert "glyf" in f
        assert "loca" in f
        assert "CFF2" not in f
        assert "CFF " not in f
        assert "fvar" not in f
        assert f.sfntVersion == "\x00\x01\x00\x00"
        assert f["name"].getDebugName(6) == pdf_fonts.BUILT_PS_NAME
        assert f["OS/2"].usWeightClass == 400
        cmap = f.getBestCmap()
        assert all(ord(c) in cmap for c in "招标公告")
        assert f["glyf"][cmap[ord("招")]].numberOfContours > 0


def test_font_built_from_noto_renders_chinese_in_a_pdf(small_built_font: Path, tmp_path: Path) -> None:
    settings = Settings(key_dir=tmp_path / "keys", pdf_font=small_built_font)
    doc = PdfDocument(settings, "招标公告")
    doc.paragraph("中标通知 ABC 123")
    pdf = doc.render()
    assert b"/FontFile2" in pdf
    assert b"TenderHallCJK-Regular" in pdf
    notice = _title_region(_page_png(pdf, tmp_path))
    assert _dark_pixels(notice) > 150


def test_the_built_font_is_cached_by_source_hash_and_reused(
    small_built_font: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = pdf_fonts.noto_source()
    assert source is not None
    target = pdf_fonts.built_font_path(source, tmp_path)
    assert pdf_fonts._sha256_file(source)[:16] in target.name
    shutil.copyfile(small_built_font, target)

    def no_rebuild(*_: object, **__: object) -> Path:
        raise AssertionError("the cached font was rebuilt")

    monkeypatch.setattr(pdf_fonts, "build_truetype_cjk", no_rebuild)
    assert pdf_fonts.built_font(source, tmp_path) == target
