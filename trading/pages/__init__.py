"""Web pages: the public portal, bidders' own pages, the staff pages under /manage for tenderees
and agencies, mandates, and the admin pages. Everything works without JavaScript."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from tenderhall.settings import Settings
from trading.pages.acts import ACT_PAGES
from trading.pages.admin import ADMIN_PAGES
from trading.pages.manage import MANAGE_FORM_PAGES
from trading.pages.mandates import MANDATE_PAGES
from trading.pages.portal import PORTAL_PAGES
from trading.pages.uploads import upload_page


def pages(settings: Settings) -> list[HTTPRouteHandler]:
    """Every trading page; the upload form's body limit comes from ``settings``."""
    return [
        *PORTAL_PAGES,
        *MANAGE_FORM_PAGES,
        *ACT_PAGES,
        upload_page(settings),
        *MANDATE_PAGES,
        *ADMIN_PAGES,
    ]
