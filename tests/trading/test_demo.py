"""The demo seeds tenders at every stage this issue reaches; every release it emits validates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenderhall.auth.models import OrgKind, Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.trading.ocds_check import check_release_package
from trading import demo, ocds
from trading.models import Notification, Tender, TenderState


def _ctx(db: Database, settings: Settings) -> dict[str, Any]:
    with db.unit_of_work() as s:
        tenderee = factories.organisation(s, kind=OrgKind.tenderee)
        agency = factories.organisation(s, kind=OrgKind.agency)
        bidders = [factories.organisation(s, kind=OrgKind.bidder) for _ in range(4)]
        tenderee_user = factories.user(s, Role.tenderee, organisation_id=tenderee.id)
        agency_user = factories.user(s, Role.agency, organisation_id=agency.id)
        factories.custodians(s, tenderee_user, agency_user)
        return {
            "settings": settings,
            "organisations": {
                "tenderee": tenderee.id,
                "agency": agency.id,
                "bidders": [b.id for b in bidders],
            },
            "users": {
                "tenderee": tenderee_user.id,
                "agency": agency_user.id,
                "bidders": [factories.user(s, Role.bidder, organisation_id=b.id).id for b in bidders],
            },
        }


def test_demo_reaches_every_stage_once_and_its_releases_validate(
    db: Database, settings: Settings, shared_dir: Path
) -> None:
    ctx = _ctx(db, settings)
    with db.unit_of_work() as s:
        demo.seed(s, ctx)
    with db.unit_of_work() as s:
        demo.seed(s, dict(ctx))  # a second run adds nothing
    with db.unit_of_work() as s:
        states = {t.state for t in s.execute(sa.select(Tender)).scalars()}
        assert states == {
            TenderState.draft,
            TenderState.published,
            TenderState.amended,
            TenderState.cancelled,
            TenderState.failed,
            TenderState.closed,
        }
        assert s.execute(sa.select(sa.func.count()).select_from(Tender)).scalar_one() == len(ctx["tenders"])
        assert {t.category for t in s.execute(sa.select(Tender)).scalars()} == {"works", "goods", "services"}
        sent = s.execute(
            sa.select(Notification.tender_id, Notification.kind, sa.func.count())
            .group_by(Notification.tender_id, Notification.kind)
            .order_by(Notification.tender_id, Notification.kind)
        ).all()
        t1, t2 = ctx["tenders"]["open_works"], ctx["tenders"]["amended_goods"]
        # each bidder that downloaded the documents is told once, even after a second run
        assert [tuple(row) for row in sent] == [
            (t1, "clarification", 3),
            (t2, "amendment", 3),
            (t2, "clarification", 3),
        ]
        published = s.execute(sa.select(Tender).where(Tender.id == ctx["tenders"]["open_works"])).scalar_one()
        assert published.announcement_sha256 is not None
        check_release_package(
            shared_dir, ocds.release_package(settings, ocds.list_releases(s, limit=1000), "u:x")
        )


def test_the_demo_tenders_are_in_qianjiangs_regions(db: Database, settings: Settings) -> None:
    from trading.regions import Region

    ctx = _ctx(db, settings)
    with db.unit_of_work() as s:
        demo.seed(s, ctx)
    with db.unit_of_work() as s:
        used = {t.region for t in s.execute(sa.select(Tender)).scalars()}
    assert used <= {r.value for r in Region} and len(used) >= 5
