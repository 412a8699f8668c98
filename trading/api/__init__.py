"""The trading JSON API (/api/trading/…) and the OCDS publication API (/api/ocds/…), one controller
per resource.

Handlers parse, call a service function through ``tenderhall.db.run`` and return a schema.
"""

from __future__ import annotations

from trading.api.clarifications import ClarificationsApi, NotificationsApi
from trading.api.documents import DocumentsApi
from trading.api.mandates import MandatesApi
from trading.api.ocds import OcdsApi
from trading.api.organisations import OrganisationsApi
from trading.api.procedures import ProceduresApi
from trading.api.tenders import TendersApi
from trading.bids.api import BidsApi
from trading.opening.api import OpeningApi

API_ROUTES = [
    OrganisationsApi,
    MandatesApi,
    TendersApi,
    DocumentsApi,
    ClarificationsApi,
    NotificationsApi,
    ProceduresApi,
    OcdsApi,
    OpeningApi,
    BidsApi,
]
