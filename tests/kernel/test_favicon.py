"""The platform has an icon: every page links the SVG emblem, and the /favicon.ico browsers ask
for on their own leads to it instead of a 404."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from litestar.testing import TestClient


def test_favicon_ico_leads_to_the_svg_emblem(client: TestClient[Any]) -> None:
    r = client.get("/favicon.ico", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == "/static/favicon.svg"
    svg = client.get("/favicon.ico")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 32 32"


def test_every_page_links_the_icon(client: TestClient[Any]) -> None:
    for path in ("/", "/login", "/does-not-exist"):
        page = client.get(path, headers={"accept": "text/html"})
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text, path
