"""The credit service: plain synchronous functions taking the session first (no commits, no HTTP
except the push worker in :mod:`credit.service.push`).

Other modules call :func:`standing`, :func:`may_bid` and :func:`may_be_drawn`.
"""

from credit.service.catalog import DEFAULT_CATALOG, ensure_default_catalog, get_type, list_types, save_type
from credit.service.decisions import decide, revoke
from credit.service.defence import notify, submit_defence
from credit.service.publication import amend, expire_due, publish
from credit.service.repair import apply_repair, decide_repair
from credit.service.standing import Eligibility, Standing, StandingRecord, may_be_drawn, may_bid, standing
from credit.service.subjects import Subject
from credit.service.violations import create_violation, get_violation

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
