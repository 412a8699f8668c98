"""Every credit route: the JSON API and the web pages (picked up by tenderhall.registry)."""

from __future__ import annotations

from credit.api import API_ROUTES
from credit.pages import PAGE_ROUTES

ROUTES = [*API_ROUTES, *PAGE_ROUTES]
