"""Trading fixtures: a small world of organisations and principals, and tender fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests import factories
from trading.schemas import LotFields, TenderFields
from trading.service import drafting, mandates, publication


@dataclass
class World:
    tenderee: Principal
    agency: Principal
    other_agency: Principal
    bidders: list[Principal]
    supervisor: Principal
    tenderee_org_id: int
    agency_org_id: int


def _principal(s: Any, role: Role, kind: OrgKind | None) -> Principal:
    return factories.principal(s, role, kind)


@pytest.fixture
def world(db: Database) -> World:
    with db.unit_of_work() as s:
        tenderee = _principal(s, Role.tenderee, OrgKind.tenderee)
        agency = _principal(s, Role.agency, OrgKind.agency)
        other = _principal(s, Role.agency, OrgKind.agency)
        bidders = [_principal(s, Role.bidder, OrgKind.bidder) for _ in range(3)]
        sup = _principal(s, Role.supervisor, None)
        # the agency runs the tenderee's tenders under a mandate; the other agency has none
        mandates.grant_mandate(s, tenderee, agency.organisation_id)  # type: ignore[arg-type]
        for custodian in (tenderee, agency, sup):  # the opening key's share holders
            factories.custodian(s, custodian)
    return World(tenderee, agency, other, bidders, sup, tenderee.organisation_id, agency.organisation_id)  # type: ignore[arg-type]


def tender_fields(
    world: World, *, days: float = 30, now: dt.datetime | None = None, **over: Any
) -> TenderFields:
    now = now or utcnow()
    base: dict[str, Any] = {
        "title": "市政道路改造工程施工",
        "category": "works",
        "method": "open",
        "budget_fen": 1_000_000_000,
        "ceiling_price_fen": 950_000_000,
        "duration_days": 180,
        "evaluation_method": "comprehensive",
        "bid_deadline_at": now + dt.timedelta(days=days),
        "tenderee_org_id": world.tenderee_org_id,
        "region": "园林街道",
        "description": "道路改造",
        "lots": [
            LotFields(title="第一标段", budget_fen=600_000_000),
            LotFields(title="第二标段", budget_fen=400_000_000),
        ],
    }
    base.update(over)
    return TenderFields(**base)


@pytest.fixture
def make_tender(db: Database, settings: Settings, world: World) -> Callable[..., int]:
    """Create (and by default publish) a tender as the agency; returns its id."""

    def make(*, publish: bool = True, now: dt.datetime | None = None, **over: Any) -> int:
        now = now or utcnow()
        with db.unit_of_work() as s:
            t = drafting.create_tender(
                s, world.agency, settings, tender_fields(world, now=now, **over), now=now
            )
            if publish:
                publication.publish_tender(s, world.agency, settings, t.id, now=now)  # type: ignore[arg-type]
            return t.id  # type: ignore[return-value]

    return make
