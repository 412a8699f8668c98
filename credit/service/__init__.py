"""The credit service: plain synchronous functions taking the session first (no commits, no HTTP
except the push worker in :mod:`credit.service.push`).

Other modules call :func:`standing`, :func:`may_bid` and :func:`may_be_drawn`.
"""

from credit.service.catalog import DEFAULT_CATALOG, ensure_default_catalog, get_type, list_types, save_type
from credit.service.records import (
    amend,
    apply_repair,
    create_violation,
    decide,
    decide_repair,
    expire_due,
    get_violation,
    notify,
    publish,
    revoke,
    submit_defence,
)
from credit.service.standing import Eligibility, Standing, StandingRecord, may_be_drawn, may_bid, standing
from credit.service.subjects import Subject

__all__ = [
    "DEFAULT_CATALOG",
    "Eligibility",
    "Standing",
    "StandingRecord",
    "Subject",
    "amend",
    "apply_repair",
    "create_violation",
    "decide",
    "decide_repair",
    "ensure_default_catalog",
    "expire_due",
    "get_type",
    "get_violation",
    "list_types",
    "may_be_drawn",
    "may_bid",
    "notify",
    "publish",
    "revoke",
    "save_type",
    "standing",
    "submit_defence",
]
