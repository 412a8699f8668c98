"""Every credit route: the JSON API and the web pages (picked up by tenderhall.registry)."""

from __future__ import annotations

from credit import desk  # noqa: F401 - registers the credit sections of the desks
from credit.api import API_ROUTES
from credit.pages import PAGE_ROUTES

ROUTES = [*API_ROUTES, *PAGE_ROUTES]
