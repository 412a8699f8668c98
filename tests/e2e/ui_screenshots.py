"""Screenshots of each design-system component for docs/ui.md:
``uv run python -m tests.e2e.ui_screenshots`` writes docs/ui/<section>-<width>.png (Debian
chromium, headless), and stops with an error if a component overflows a 390 px screen."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tenderhall.web.gallery import SECTIONS, render_gallery
from tests.e2e.conftest import CHROMIUM_FLAGS

OUT = Path(__file__).resolve().parents[2] / "docs" / "ui"


def main() -> int:
    exe = shutil.which("chromium")
    if exe is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    html = render_gallery("zh")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        for width in (1366, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(html)
            page.locator("#gallery-confirm summary").click()
            if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                problems.append(f"the gallery overflows at {width} px")
            for name in SECTIONS:
                page.locator(f"#c-{name}").screenshot(path=str(OUT / f"{name}-{width}.png"))
            page.close()
        browser.close()
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"wrote {len(SECTIONS) * 2} screenshots to {OUT}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
