"""Every stored release validates as a release package; records validate as record packages;
every code comes from the OCDS codelists."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.settings import Settings
from tests.trading.conftest import World
from tests.trading.ocds_check import check_record_package, check_release_package
from trading import ocds
from trading.models import Lot, OcdsRelease, Tender
from trading.service import clarifications, closing, documents, retendering


def _scenario(db: Database, settings: Settings, world: World, make_tender: Callable[..., int]) -> list[int]:
    t0 = utcnow()
    a = make_tender(
        now=t0,
        days=25,
        title="货物采购 <b>办公设备</b>",
        category="goods",
        method="open",
        evaluation_method="lowest_price",
    )
    b = make_tender(now=t0, days=30, category="services", method="competitive_consultation")
    c = make_tender(now=t0, days=21, method="invited")
    with db.unit_of_work() as s:
        ta = s.get(Tender, a)
        documents.add_document(
            s,
            world.agency,
            settings,
            a,
            name="招标文件",
            filename="zbwj.pdf",
            sha256="a" * 64,
            size=10,
            amendment_reason="补充招标文件",
            expected_version=ta.version,
            now=t0,
        )  # type: ignore[union-attr]
        clarifications.issue_clarification(
            s, world.agency, settings, a, "开标地点改为线上", now=t0 + dt.timedelta(days=15)
        )
        closing.cancel_tender(
            s, world.agency, settings, b, "项目预算调整，终止招标", now=t0 + dt.timedelta(days=1)
        )
        after = t0 + dt.timedelta(days=22)
        closing.close_tender(s, SYSTEM, settings, c, now=after)
        for lot in s.execute(sa.select(Lot).where(Lot.tender_id == c)).scalars().all():
            retendering.mark_lot_failed(
                s, world.agency, settings, lot.id, "有效投标不足", valid_bids=1, now=after
            )  # type: ignore[arg-type]
    return [a, b, c]


def test_every_emitted_release_and_record_validates_against_the_schema_and_codelists(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int], shared_dir: Path
) -> None:
    ids = _scenario(db, settings, world, make_tender)
    with db.unit_of_work() as s:
        rels = ocds.list_releases(s, limit=1000)
        tags = {t for r in rels for t in r.tags}
        assert {"tender", "tenderAmendment", "tenderUpdate", "tenderCancellation"} <= tags
        for r in rels:  # each release on its own, and all together
            check_release_package(shared_dir, ocds.release_package(settings, [r], "https://x/one"))
        check_release_package(shared_dir, ocds.release_package(settings, rels, "https://x/all"))
        statuses = {}
        for tid in ids:
            t = s.get(Tender, tid)
            assert t is not None
            mine = [r for r in rels if r.tender_id == tid]
            pkg = ocds.record_package(settings, t.ocid, mine, f"https://x/{t.ocid}")
            check_record_package(shared_dir, pkg)
            statuses[tid] = pkg["records"][0]["compiledRelease"]["tender"]["status"]
        assert list(statuses.values()) == ["active", "cancelled", "unsuccessful"]
        first = (
            s.execute(sa.select(OcdsRelease).where(OcdsRelease.tender_id == ids[0]).order_by(OcdsRelease.id))
            .scalars()
            .first()
        )
        assert first is not None
        data = first.data
        assert data["tender"]["value"] == {"amount": 10_000_000, "currency": "CNY"}
        assert data["tender"]["procurementMethodDetails"] == "公开招标"
        assert data["date"].endswith("Z")
        assert data["tender"]["tenderPeriod"]["endDate"].endswith("Z")
        roles = {p["name"]: p["roles"] for p in data["parties"]}
        assert sorted(functools.reduce(operator.iadd, roles.values(), [])) == ["buyer", "procuringEntity"]


def test_the_validation_catches_a_broken_package(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int], shared_dir: Path
) -> None:
    import copy

    import pytest

    tid = make_tender()
    with db.unit_of_work() as s:
        good = ocds.release_package(settings, ocds.list_releases(s), "https://x/p")
    check_release_package(shared_dir, good)
    no_publisher = {k: v for k, v in good.items() if k != "publisher"}
    bad_amount = copy.deepcopy(good)
    bad_amount["releases"][0]["tender"]["value"]["amount"] = "100"
    bad_status = copy.deepcopy(good)
    bad_status["releases"][0]["tender"]["status"] = "published"
    with db.unit_of_work() as s:
        tender = s.get(Tender, tid)
        assert tender is not None
        assert [r["ocid"] for r in good["releases"]] == [tender.ocid]
    for broken, names in (
        (no_publisher, "'publisher' is a required property"),
        (bad_amount, "'100' is not of type 'number'"),
        (bad_status, "'published'"),
    ):
        with pytest.raises(AssertionError, match=names):
            check_release_package(shared_dir, broken)
