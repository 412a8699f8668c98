"""Every page of the demo passes the page checks (tests/e2e/pagecheck.py), for every role.

For the public visitor and each demo user (bidder, tenderee, agency, expert, supervisor, admin),
the crawl follows same-origin links from the home page and the navigation and checks each page at
1366 and 390 px, in Chinese and in English: no horizontal overflow, no console error or failed
request, no serious or critical axe-core violation, no raw enum code as text. A full-page
screenshot of each is kept under ``var/screenshots/<role>/``. All problems of a role are reported
at once (also written to ``var/pagecheck/<role>.txt``); ``make pagecheck`` runs the crawl and
prints them.

The checker itself is proven on a small site served here: each kind of problem is caught, and a
page free of them passes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tenderhall import registry
from tests.e2e import pagecheck
from tests.e2e.conftest import ROOT, LiveServer, cli

pytestmark = pytest.mark.e2e

#: role → the demo user signed in (None: the public visitor)
ROLES: dict[str, str | None] = {
    "public": None,
    "bidder": "bidder1",
    "tenderee": "tenderee",
    "agency": "agency",
    "expert": "expert1",
    "supervisor": "supervisor",
    "admin": "admin",
}
SCREENSHOTS = ROOT / "var" / "screenshots"
REPORTS = ROOT / "var" / "pagecheck"


def _sign_in(server: LiveServer, page: Any, role: str, username: str) -> None:
    if role != "bidder":
        server.sign_in(page, username)
    else:  # bidders have no password: a certificate sign-in's token, pasted on the page
        p12 = server.workdir / "var" / "demo" / f"{username}-sign.p12"
        token = cli(
            server.env,
            "user",
            "cert-login",
            "--p12",
            str(p12),
            "--password",
            "demo-password",
            "--url",
            server.url,
        ).strip()
        page.goto(server.url + "/login/certificate")
        page.fill("#token", token)
        page.locator("#certificate-token-form [type=submit]").click()
        page.wait_for_load_state()
    assert page.locator(".user-box .who").count() == 1, f"{username} is not signed in: {page.url}"


@pytest.fixture
def role_pages(
    request: pytest.FixtureRequest, demo_server: LiveServer, browser: Any
) -> Iterator[dict[str, Any]]:
    """A Chinese and an English page signed in as the role (one sign-in, its cookies copied)."""
    role = request.param
    zh = browser.new_context(viewport={"width": 1366, "height": 900}, locale=pagecheck.LOCALES["zh"])
    contexts = [zh]
    try:
        zh_page = zh.new_page()
        username = ROLES[role]
        landed = "/"
        if username is not None:
            _sign_in(demo_server, zh_page, role, username)
            landed = zh_page.url
        en = browser.new_context(
            viewport={"width": 1366, "height": 900},
            locale=pagecheck.LOCALES["en"],
            storage_state=zh.storage_state(),
        )
        contexts.append(en)
        en_page = en.new_page()
        en_page.goto(demo_server.url + "/lang/en?next=/")
        assert en_page.locator("html").get_attribute("lang") == "en"
        yield {"zh": zh_page, "en": en_page, "role": role, "starts": ["/", landed]}
    finally:
        for ctx in contexts:
            ctx.close()


def _public_patterns() -> set[str]:
    """The route patterns anyone may open (from the access matrix), as :func:`pagecheck.pattern`
    writes them: a signed-in role checks one sample of each (the public crawl checks two)."""
    from tests.test_route_access import PUBLIC, RULES

    return {
        re.sub(r"\{[^}]*\}", "{}", path)
        for (method, path), rule in RULES.items()
        if method == "GET" and rule.who == PUBLIC
    }


@pytest.mark.parametrize("role_pages", list(ROLES), indirect=True)
def test_every_page_a_role_can_reach_passes_the_page_checks(
    role_pages: dict[str, Any], demo_server: LiveServer
) -> None:
    role = role_pages["role"]
    public = _public_patterns()
    crawled = pagecheck.crawl(
        {lang: role_pages[lang] for lang in pagecheck.LANGUAGES},
        role_pages["starts"],
        demo_server.url,
        shots=SCREENSHOTS / role,
        samples=2 if ROLES[role] is None else (lambda key: 1 if key.split("?")[0] in public else 2),
    )
    text = pagecheck.report(f"== {role} ({ROLES[role] or 'not signed in'})", crawled.problems, crawled)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{role}.txt").write_text(text)
    assert crawled.pages, "the crawl found no page"
    assert not crawled.problems, "\n" + text


# ---------------------------------------------------------------- the checker, on a site of its own

_HEAD = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>t</title></head><body><main>'
SITE: dict[str, tuple[int, str, bytes]] = {
    "/": (
        200,
        "text/html",
        (
            _HEAD.format(lang="zh-CN") + "<h1>目录</h1>"
            '<a href="/bad">bad</a> <a href="/clean#top">clean</a> '
            '<a href="/item/1">1</a> <a href="/item/2">2</a> <a href="/item/3">3</a> '
            '<a href="/notice.pdf">pdf</a> <a href="/gone.csv">csv</a> '
            '<a href="/logout">out</a> <a href="/schema/swagger">api</a> <a href="/lang/en">en</a> '
            '<a href="/events/jobs">live</a> <a href="http://elsewhere.invalid/">away</a>'
            "</main></body></html>"
        ).encode(),
    ),
    "/bad": (
        200,
        "text/html",
        (
            _HEAD.format(lang="zh-CN") + "<h1>坏页面</h1>"
            '<div style="width:3000px" id="too-wide">宽</div>'
            "<script>console.error('broken on purpose')</script>"
            '<img src="/missing.png" alt="缺图">'
            '<form><input type="text" name="q"></form>'
            "<table><tr><th>类型</th></tr><tr><td>FALSE_MATERIALS</td></tr></table>"
            "<p>状态 pending</p>"
            "</main></body></html>"
        ).encode(),
    ),
    "/clean": (
        200,
        "text/html",
        (
            _HEAD.format(lang="zh-CN") + "<h1>TenderHall 公共资源交易平台</h1>"
            "<p>下载 PDF，调用 API，用户 bidder1，用户名 <code>admin</code>，"
            "统一社会信用代码 91350100MA2Y00030H，OCDS 数据。</p>"
            '<form><label for="q">关键词</label><input id="q" name="q"></form>'
            '<p hidden>pending</p><span style="display:none">FALSE_MATERIALS</span>'
            "</main></body></html>"
        ).encode(),
    ),
    "/en": (
        200,
        "text/html",
        (
            _HEAD.format(lang="en") + "<h1>Tender notices</h1>"
            "<p>The review is pending. Open tenders of the agency.</p>"
            "<table><tr><th>State</th></tr><tr><td>Pending</td></tr></table>"
            "</main></body></html>"
        ).encode(),
    ),
    "/en-raw": (
        200,
        "text/html",
        (
            _HEAD.format(lang="en") + "<h1>Records</h1>"
            "<table><tr><th>State</th></tr><tr><td>pending</td></tr></table>"
            "</main></body></html>"
        ).encode(),
    ),
    "/notice.pdf": (200, "application/pdf", b"%PDF-1.4\n%%EOF\n"),
    "/favicon.ico": (200, "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
}
for _i in (1, 2, 3):
    SITE[f"/item/{_i}"] = (
        200,
        "text/html",
        (_HEAD.format(lang="zh-CN") + f"<h1>第 {_i} 项</h1></main></body></html>").encode(),
    )


class _SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, ctype, body = SITE.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", ctype + ("; charset=utf-8" if ctype.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site_page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


def _kinds(problems: list[pagecheck.Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.kind, []).append(f"{p.width} {p.detail}")
    return out


def test_the_page_checker_catches_each_kind_of_problem(site: str, site_page: Any, tmp_path: Path) -> None:
    problems = pagecheck.check_page(site_page, site + "/bad", "zh", shots=tmp_path)
    kinds = _kinds(problems)
    assert {"overflow", "console", "request", "axe", "code"} <= set(kinds), kinds
    assert len(kinds["overflow"]) == 2 and all("div#too-wide" in o for o in kinds["overflow"]), kinds
    assert any("broken on purpose" in c for c in kinds["console"]), kinds
    assert any("/missing.png answered 404" in r for r in kinds["request"]), kinds
    assert any(a.split(" ", 1)[1].startswith("label (critical)") for a in kinds["axe"]), kinds
    assert any("'FALSE_MATERIALS' in td" in c for c in kinds["code"]), kinds
    assert any("'pending' in p" in c for c in kinds["code"]), kinds  # English word on a Chinese page
    assert sorted(f.name for f in tmp_path.iterdir()) == ["1366-zh-bad.png", "390-zh-bad.png"]

    raw = pagecheck.check_page(site_page, site + "/en-raw", "en")
    assert [p.detail for p in raw if p.kind == "code"] == ["'pending' in td: 'pending'"]


def test_the_page_checker_passes_a_clean_page_of_either_language(site: str, site_page: Any) -> None:
    """Names, formats, identifiers in <code>, hidden text and English prose are not problems."""
    assert pagecheck.check_page(site_page, site + "/clean", "zh") == []
    assert pagecheck.check_page(site_page, site + "/en", "en") == []


def test_the_crawl_follows_same_origin_links_once_per_pattern_and_fetches_files(
    site: str, browser: Any, tmp_path: Path
) -> None:
    contexts = [browser.new_context(viewport={"width": 1366, "height": 900}) for _ in pagecheck.LANGUAGES]
    try:
        pages = {lang: ctx.new_page() for lang, ctx in zip(pagecheck.LANGUAGES, contexts, strict=True)}
        crawled = pagecheck.crawl(pages, ["/"], site, shots=tmp_path, samples=2)
    finally:
        for ctx in contexts:
            ctx.close()
    assert crawled.pages == ["/", "/bad", "/clean", "/item/1", "/item/2"]
    assert crawled.files == ["/notice.pdf", "/gone.csv"]
    statuses = [p for p in crawled.problems if p.kind == "status"]
    assert [(p.page, p.detail.split(" (")[0]) for p in statuses] == [("/gone.csv", "answered 404")]
    assert {p.page for p in crawled.problems} == {"/bad", "/gone.csv"}
    text = pagecheck.report("== site", crawled.problems, crawled)
    assert "5 pages checked, 2 files fetched" in text and "\n/bad\n" in text
    assert (tmp_path / "390-en-item_2.png").exists()


def test_the_demo_says_each_step_as_it_starts_and_ends(demo_server: LiveServer) -> None:
    """`tenderhall demo` run without a terminal (as by `make demo` in a log) still shows progress."""
    out = demo_server.demo_output
    steps = re.findall(r"^\[(\d+)/(\d+)\] (.+) …$", out, re.M)
    done = re.findall(r"^\[(\d+)/(\d+)\] (.+): done in \d+\.\d s$", out, re.M)
    assert steps and steps == done, out[:3000]
    assert [int(n) for n, _, _ in steps] == list(range(1, int(steps[0][1]) + 1))
    names = [what for _, _, what in steps]
    assert names[0] == "applying database migrations"
    assert "organisations, users" in names[1]
    domains = [seed.__module__.split(".")[0] for seed in registry.all_demo_seeders()]
    assert [n.split(" — ")[0] for n in names[2:]] == [f"demo data: {d}" for d in domains]
    assert out.index(steps[-1][2] + ": done") < out.index("demo data is ready")
