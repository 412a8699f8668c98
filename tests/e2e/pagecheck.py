"""Checks every page of TenderHall must pass, usable on one page or on a whole crawl.

On a Playwright page that has loaded a URL:

- :func:`overflow` — the page is no wider than the window (names the widest offending element);
- :func:`axe` — axe-core finds no violation of impact serious or critical;
- :func:`raw_codes` — no enum code (``FALSE_MATERIALS``, ``pending``, ``bidder`` …) is shown as text;
- :class:`Watch` — no console error, uncaught exception, failed request or response >= 400;
- :func:`check_loaded` — all of the above at each width, with a full-page screenshot;
- :func:`crawl` — every page reachable by same-origin links from some start pages, one or two
  samples per route pattern, each checked in Chinese and English at each width.

Problems are collected, never raised, so a run lists everything at once (:func:`report`).

What the code scan takes for a code (and what it leaves alone, to stay free of false positives):
the codes are ``tenderhall.labels.all_codes()`` (until it exists: the values of the ``StrEnum`` s
of the domain models that contain an underscore or are a word of 4+ letters, and the credit
catalog's type codes). A code with an underscore or a capital letter is flagged wherever it stands
as a whole word. A lower-case word code is flagged in English mode only when it is the whole text
of an element (``<td>pending</td>``: English prose says "pending" too), in Chinese mode wherever
it stands as a whole word in any case (Chinese pages show no English words). Words inside other
words never match (``bidder1``, ``OpenAPI``, ``TenderHall``), nor do product and format names
(``API``, ``PDF``, ``OCDS``: not codes). Text in ``<code>``, ``<kbd>``, ``<samp>``, ``<pre>`` or an
element with ``translate="no"`` is an identifier shown on purpose (a username such as ``admin``,
a command) and is not scanned.
"""

from __future__ import annotations

import enum
import importlib
import re
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

WIDTHS = (1366, 390)
LANGUAGES = ("zh", "en")
LOCALES = {"zh": "zh-CN", "en": "en-US"}
SERIOUS = ("serious", "critical")

#: Never followed: signing out, switching language (the crawl sets it), the API docs (own test),
#: live event streams (they never end).
SKIP_PREFIXES = ("/logout", "/lang/", "/schema", "/events/")

_ENUM_MODULES = ("trading.models", "credit.models", "tenderhall.auth.models", "tenderhall.jobs.models")


@dataclass(frozen=True)
class Problem:
    """One thing wrong on one page: where (page, width, language) and what (kind, detail)."""

    page: str
    kind: str  # status | overflow | console | request | axe | code | error
    detail: str
    width: int | None = None
    lang: str | None = None

    def line(self) -> str:
        where = " ".join(x for x in (str(self.width or ""), self.lang or "") if x)
        return f"{self.page} [{where or '-'}] {self.kind}: {self.detail}"


# ---------------------------------------------------------------- codes


def _fallback_codes() -> set[str]:
    codes: set[str] = set()
    for name in _ENUM_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.StrEnum) and value is not enum.StrEnum:
                for member in value:
                    v = str(member.value)
                    if "_" in v or (v.isalpha() and len(v) >= 4):
                        codes.add(v)
    try:
        from credit.service.catalog import DEFAULT_CATALOG

        codes.update(t.code for t in DEFAULT_CATALOG)
    except ImportError:
        pass
    return codes


def known_codes() -> set[str]:
    """The codes no page may show: ``tenderhall.labels.all_codes()``, else the local fallback."""
    try:
        labels = importlib.import_module("tenderhall.labels")
        return {str(c) for c in labels.all_codes()}
    except (ImportError, AttributeError):
        return _fallback_codes()


_TEXT_JS = """() => {
  const skip = 'code,kbd,samp,pre,script,style,noscript,template,[translate=no]';
  const out = [];
  const visible = (el) => {
    const box = el.closest('select') || el;
    return box.checkVisibility ? box.checkVisibility({visibilityProperty: true, opacityProperty: true})
                               : box.offsetParent !== null;
  };
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = (el.getAttribute('class') || '').trim().split(/\\s+/).filter(Boolean).slice(0, 2);
    if (cls.length) s += '.' + cls.join('.');
    return s;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest(skip) || !visible(el)) continue;
    out.push({text, whole: (el.textContent || '').trim() === text, where: describe(el)});
  }
  for (const el of document.querySelectorAll('[placeholder]')) {
    if (!el.closest(skip) && visible(el)) {
      const text = el.getAttribute('placeholder').trim();
      if (text) out.push({text, whole: true, where: describe(el) + '[placeholder]'});
    }
  }
  return out;
}"""


def scan_codes(texts: Iterable[dict[str, Any]], codes: set[str], lang: str) -> list[str]:
    """The raw codes in visible texts (``{"text", "whole", "where"}`` as the page gives them),
    by the rules in the module docstring; one finding per (code, element kind)."""
    strong = {c for c in codes if "_" in c or c != c.lower()}
    words = {c for c in codes if c not in strong}
    found: dict[tuple[str, str], str] = {}
    strong_re = (
        re.compile(
            r"(?<![\w-])(" + "|".join(map(re.escape, sorted(strong, key=len, reverse=True))) + r")(?![\w-])"
        )
        if strong
        else None
    )
    words_lower = {w.lower() for w in words}
    for t in texts:
        text, where = t["text"], t["where"]
        if strong_re:
            for m in strong_re.finditer(text):
                found.setdefault((m.group(1), where), text)
        if lang == "zh":
            for m in re.finditer(r"(?<![\w-])[A-Za-z]+(?![\w-])", text):
                if m.group(0).lower() in words_lower:
                    found.setdefault((m.group(0), where), text)
        elif t["whole"] and text in words:
            found.setdefault((text, where), text)
    return [f"{code!r} in {where}: {_short(text)!r}" for (code, where), text in found.items()]


def raw_codes(page: Any, lang: str, codes: set[str] | None = None) -> list[str]:
    """Raw enum codes shown as visible text on the loaded page (see :func:`scan_codes`)."""
    return scan_codes(page.evaluate(_TEXT_JS), known_codes() if codes is None else codes, lang)


# ---------------------------------------------------------------- layout and accessibility

_OVERFLOW_JS = """() => {
  const doc = document.documentElement, vw = window.innerWidth;
  if (doc.scrollWidth <= vw) return null;
  const clips = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== 'visible') return true;
    }
    return false;
  };
  let widest = null, best = -1;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 0.5 && r.width > best && !clips(el)) { widest = el; best = r.width; }
  }
  let name = 'unknown element';
  if (widest) {
    name = widest.tagName.toLowerCase() + (widest.id ? '#' + widest.id : '');
    const cls = (widest.getAttribute('class') || '').trim().split(/\\s+/).filter(Boolean).slice(0, 3);
    if (cls.length) name += '.' + cls.join('.');
    const text = (widest.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    if (text) name += ' "' + text + '"';
    const right = Math.round(widest.getBoundingClientRect().right);
    name += ' (' + Math.round(best) + 'px wide, right edge ' + right + 'px)';
  }
  return {scroll: doc.scrollWidth, inner: vw, element: name};
}"""


def overflow(page: Any) -> str | None:
    """``None`` if the page fits the window; else how wide it is and the widest element sticking
    out (elements inside a scrolling or clipping box do not count: they do not widen the page)."""
    found = page.evaluate(_OVERFLOW_JS)
    if found is None:
        return None
    return f"page is {found['scroll']}px wide in a {found['inner']}px window; widest: {found['element']}"


def axe(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """axe-core's violations of the given impacts on the loaded page, one line per rule."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("() => typeof window.axe === 'object'"):  # once per page load
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    out = []
    for v in results["violations"]:
        if v.get("impact") in impacts:
            targets = [
                ", ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                for n in v["nodes"]
            ]
            more = f" (+{len(targets) - 3} more)" if len(targets) > 3 else ""
            out.append(f"{v['id']} ({v['impact']}): {v['help']} — {'; '.join(targets[:3])}{more}")
    return out


# ---------------------------------------------------------------- console and network


class Watch:
    """Records a page's console errors, uncaught exceptions, failed requests and responses
    >= 400 (the page and its assets) from the moment it is attached; :meth:`take` empties it."""

    def __init__(self, page: Any) -> None:
        self.found: list[tuple[str, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.found.append(("console", f"uncaught: {_short(str(exc))}")))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            self.found.append(("console", _short(msg.text + (f" ({_path(where)})" if where else ""))))

    def _failed(self, req: Any) -> None:
        # a page's event stream or refresh is cut off when the browser leaves it: not a failure
        if req.failure == "net::ERR_ABORTED" and req.resource_type in ("eventsource", "fetch"):
            return
        self.found.append(("request", f"{req.method} {_path(req.url)} failed: {req.failure}"))

    def _response(self, resp: Any) -> None:
        if resp.status >= 400:
            self.found.append(("request", f"{resp.request.method} {_path(resp.url)} answered {resp.status}"))

    def take(self) -> list[tuple[str, str]]:
        found, self.found = self.found, []
        return found

    @classmethod
    def of(cls, page: Any) -> Watch:
        """The page's one Watch (attached on first use: listeners are never added twice)."""
        w = _WATCHES.get(page)
        if w is None:
            w = _WATCHES[page] = cls(page)
        return w


_WATCHES: weakref.WeakKeyDictionary[Any, Watch] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- one page


def slug(url: str) -> str:
    """A file name for a page: its path and query, non-alphanumerics as ``_``."""
    parts = urlsplit(url)
    s = (parts.path.strip("/") or "home") + (f"_{parts.query}" if parts.query else "")
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:120] or "home"


def check_loaded(
    page: Any,
    label: str,
    lang: str,
    *,
    widths: Iterable[int] = WIDTHS,
    shots: Path | None = None,
    codes: set[str] | None = None,
) -> list[Problem]:
    """Every check on a loaded page at each width (the window is resized, not reloaded): overflow,
    axe, raw codes, and a full-page screenshot ``<shots>/<width>-<lang>-<slug>.png``."""
    codes = known_codes() if codes is None else codes
    problems: list[Problem] = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        if (o := overflow(page)) is not None:
            problems.append(Problem(label, "overflow", o, width, lang))
        problems += [Problem(label, "axe", v, width, lang) for v in axe(page)]
        if width == max(widths):  # the text does not change with the width
            problems += [Problem(label, "code", c, width, lang) for c in raw_codes(page, lang, codes)]
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{width}-{lang}-{slug(label)}.png"), full_page=True)
    return problems


def check_page(page: Any, url: str, lang: str, **kwargs: Any) -> list[Problem]:
    """Load ``url`` (the page's language already set) and run :func:`check_loaded`, plus the
    page's status, console errors and failed requests."""
    watch = Watch.of(page)
    watch.take()  # what the page before this one left behind
    label = _path(url)
    problems: list[Problem] = []
    resp = page.goto(url, wait_until="load")
    if resp is None or resp.status != 200:
        problems.append(
            Problem(label, "status", f"answered {resp.status if resp else 'nothing'}", None, lang)
        )
    problems += check_loaded(page, label, lang, **kwargs)
    problems += [Problem(label, kind, text, None, lang) for kind, text in watch.take()]
    return problems


# ---------------------------------------------------------------- crawl


#: Query keys that only page through a list: the next page looks like the first.
PAGING_KEYS = frozenset({"cursor", "page", "after", "before", "offset"})


def pattern(url: str) -> str:
    """A URL's route pattern: numeric and code-like path segments become ``{}``, the query keeps
    its keys only, paging keys dropped (``/tenders/12?state=x&page=2`` → ``/tenders/{}?state``)."""
    parts = urlsplit(url)
    segs = ["{}" if re.fullmatch(r"\d+|[0-9A-Z]{18}|[0-9a-f]{16,}", s) else s for s in parts.path.split("/")]
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)} - PAGING_KEYS)
    return "/".join(segs) + ("?" + "&".join(keys) if keys else "")


def followable(url: str, origin: str) -> bool:
    """Same origin, not a sign-out, a language switch, the API docs or an event stream."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
        return False
    return not any(parts.path.startswith(p) for p in SKIP_PREFIXES)


_LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]'), a => a.href)"


@dataclass
class Crawl:
    """What a crawl saw: the pages checked, the files checked by status, the problems."""

    pages: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


def crawl(
    pages: dict[str, Any],
    starts: Iterable[str],
    origin: str,
    *,
    shots: Path | None = None,
    samples: int | Callable[[str], int] = 2,
    limit: int = 80,
    progress: Callable[[str], None] = lambda _: None,  # told each page before it is checked
) -> Crawl:
    """Follow same-origin links breadth-first from ``starts`` and check each page found.

    ``pages`` maps a language to a Playwright page whose context is in that language (and signed
    in as the role under test). Links are read from the Chinese page. At most ``samples`` URLs of
    each :func:`pattern` (or ``samples(pattern)``) and ``limit`` pages in all are checked; a file,
    a feed or the API (anything that answers with something other than HTML) is only fetched
    and must answer 200."""
    t0 = time.monotonic()
    out = Crawl()
    codes = known_codes()
    queue = list(dict.fromkeys(urldefrag(urljoin(origin + "/", s))[0] for s in starts))
    seen: set[str] = set(queue)
    per_pattern: Counter[str] = Counter()
    request = pages[LANGUAGES[0]].context.request
    while queue:
        url = queue.pop(0)
        label = _path(url)
        key = pattern(url)
        if per_pattern[key] >= (samples(key) if callable(samples) else samples):
            continue
        per_pattern[key] += 1
        if not _is_html(request, url, out, label):
            continue
        if len(out.pages) >= limit:
            out.problems.append(Problem(label, "error", f"not checked: the crawl stops at {limit} pages"))
            continue
        out.pages.append(label)
        progress(label)
        for lang in LANGUAGES:
            page = pages[lang]
            try:
                out.problems += check_page(page, url, lang, shots=shots, codes=codes)
            except Exception as exc:  # noqa: BLE001 - a page that breaks the checker is a problem of the page
                out.problems.append(
                    Problem(label, "error", _short(f"{type(exc).__name__}: {exc}", 300), None, lang)
                )
                continue
            if lang == LANGUAGES[0]:
                for href in page.evaluate(_LINKS_JS):
                    link = urldefrag(href)[0]
                    if link not in seen and followable(link, origin):
                        seen.add(link)
                        queue.append(link)
    out.seconds = time.monotonic() - t0
    return out


def _is_html(request: Any, url: str, out: Crawl, label: str) -> bool:
    """Fetch ``url``: HTML → ``True`` (the caller loads it in the browser); anything else is a
    file, recorded, and must answer 200."""
    resp = request.get(url, max_redirects=5)
    try:
        if "text/html" in resp.headers.get("content-type", ""):
            return True
        out.files.append(label)
        if resp.status != 200:
            out.problems.append(
                Problem(label, "status", f"answered {resp.status} ({resp.headers.get('content-type', '')})")
            )
        return False
    finally:
        resp.dispose()


# ---------------------------------------------------------------- report


def report(title: str, problems: list[Problem], crawled: Crawl | None = None) -> str:
    """A readable list: counts by kind and by page, then each problem grouped by page."""
    lines = [title]
    if crawled is not None:
        lines.append(
            f"{len(crawled.pages)} pages checked, {len(crawled.files)} files fetched, {crawled.seconds:.0f} s"
        )
    lines.append(f"{len(problems)} problems")
    if problems:
        by_kind = Counter(p.kind for p in problems)
        lines.append("by kind: " + ", ".join(f"{k} {n}" for k, n in by_kind.most_common()))
        by_page: dict[str, list[Problem]] = defaultdict(list)
        for p in problems:
            by_page[p.page].append(p)
        lines.append("by page:")
        lines += [
            f"  {len(ps):4d}  {page}" for page, ps in sorted(by_page.items(), key=lambda kv: -len(kv[1]))
        ]
        for page, ps in by_page.items():
            lines.append("")
            lines.append(page)
            lines += [f"  [{p.width or '-'} {p.lang or '-'}] {p.kind}: {p.detail}" for p in ps]
    return "\n".join(lines) + "\n"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _short(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
