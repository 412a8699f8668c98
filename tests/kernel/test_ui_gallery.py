"""The design system's gallery (docs/ui.md) shows every component of ui.html."""

from __future__ import annotations

import re

from tenderhall.web.gallery import SECTIONS, macro_names, render_gallery


def test_every_public_macro_of_the_design_system_appears_in_the_gallery() -> None:
    source = (render_gallery.__globals__["WEB"] / "templates" / "ui_gallery.html").read_text(encoding="utf-8")
    used = set(re.findall(r"ui\.(\w+)\(", source))
    assert set(macro_names()) - used == set()


def test_the_gallery_renders_each_section_with_errors_beside_their_fields_in_one_language() -> None:
    zh, en = render_gallery("zh"), render_gallery("en")
    for name in SECTIONS:
        assert f'id="c-{name}"' in zh
    assert 'id="err-title"' in zh and "请填写项目名称" in zh and "Enter the tender" not in zh
    assert "Enter the tender&#39;s title" in en and "请填写项目名称" not in en
    assert 'aria-invalid="true"' in zh and 'value="-5"' in zh
    assert "3,200.00 万元" in zh and "¥480,000.00" in zh
    assert "2026-12-02 15:30" in zh  # 07:30 UTC is 15:30 Beijing time


def test_a_confirmation_drawn_again_after_a_refusal_is_open_and_can_send_files() -> None:
    zh = render_gallery("zh")
    closed = re.search(r'<details class="confirm" id="gallery-confirm">', zh)
    reopened = re.search(
        r'<details class="confirm" id="gallery-confirm-open" open>\s*<summary[^>]*>[^<]*</summary>\s*'
        r'<form [^>]*enctype="multipart/form-data"',
        zh,
    )
    assert closed and reopened
