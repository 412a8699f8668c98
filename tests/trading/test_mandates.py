"""Mandates (委托代理): an agency runs a tenderee's tenders only under a live mandate from it; the
tenderee sees and acts on every tender in its name; a tender's tenderee never changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role, User
from tenderhall.db import Database
from tenderhall.errors import Forbidden
from tenderhall.settings import Settings
from tests import factories
from tests.trading.conftest import World, tender_fields
from tests.trading.test_demo import _ctx as demo_ctx
from trading import demo
from trading.exceptions import MandateExists, MandateNotFound, NoMandate, NotYourTender, TendereeFixed
from trading.models import Tender, TenderState
from trading.service import amendments, closing, drafting, mandates, publication, views


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def _body(tenderee_id: int) -> dict[str, Any]:
    import datetime as dt

    from tenderhall.db import utcnow

    return {
        "title": "城市道路照明改造工程",
        "category": "works",
        "method": "open",
        "budget_fen": 500_000_000,
        "duration_days": 120,
        "evaluation_method": "comprehensive",
        "bid_deadline_at": (utcnow() + dt.timedelta(days=25)).isoformat(),
        "tenderee_org_id": tenderee_id,
    }


def _tenderee_with_user(db: Database) -> tuple[int, dict[str, str]]:
    user, headers, _ = factories.signed_in(db, Role.tenderee)
    return user.organisation_id, headers  # type: ignore[return-value]


# --- the probe's findings, over HTTP ------------------------------------------------------------


def test_an_unrelated_agency_cannot_create_or_publish_a_tender_in_another_tenderees_name(
    db: Database, client: Any
) -> None:
    victim, _ = _tenderee_with_user(db)
    _, agency, _ = factories.signed_in(db, Role.agency)
    r = client.post("/api/trading/tenders", json=_body(victim), headers=agency)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "no_mandate"
    assert (
        r.json()["detail_zh"] == "该招标人未委托贵单位代理招标（无有效委托），不能以其名义创建或修改招标项目"
    )
    with db.unit_of_work() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Tender)).scalar_one() == 0


def test_an_agency_cannot_move_a_tender_to_another_tenderee_and_the_real_tenderee_keeps_it(
    db: Database, client: Any
) -> None:
    agency_user, agency, _ = factories.signed_in(db, Role.agency)
    real, real_headers = _tenderee_with_user(db)
    other, _ = _tenderee_with_user(db)
    with db.unit_of_work() as s:
        # the agency holds mandates from both: still it may not move one's tender to the other
        factories.mandate(s, real, agency_user.organisation_id)  # type: ignore[arg-type]
        factories.mandate(s, other, agency_user.organisation_id)  # type: ignore[arg-type]
    t = client.post("/api/trading/tenders", json=_body(real), headers=agency).json()
    moved = client.put(
        f"/api/trading/tenders/{t['id']}", json={**_body(other), "version": t["version"]}, headers=agency
    )
    assert moved.status_code == 409, moved.text
    assert moved.json()["code"] == "tenderee_fixed"
    assert client.get(f"/api/trading/tenders/{t['id']}", headers=real_headers).status_code == 200


def test_a_drafts_tenderee_cannot_be_changed_to_one_that_gave_the_agency_no_mandate(
    db: Database, settings: Settings, world: World
) -> None:
    with db.unit_of_work() as s:
        other = factories.organisation(s, kind=OrgKind.tenderee).id
        t = drafting.create_tender(s, world.agency, settings, tender_fields(world))
        with pytest.raises(TendereeFixed):
            drafting.update_draft(
                s,
                world.agency,
                settings,
                t.id,
                tender_fields(world, tenderee_org_id=other),  # type: ignore[arg-type]
            )
        assert views.tender_view(s, world.tenderee, t.id).id == t.id  # type: ignore[arg-type]


# --- rights under a mandate -----------------------------------------------------------------------


def test_the_tenderee_sees_and_publishes_a_draft_its_agency_made(
    db: Database, settings: Settings, world: World
) -> None:
    with db.unit_of_work() as s:
        t = drafting.create_tender(s, world.agency, settings, tender_fields(world))
        assert views.tender_view(s, world.tenderee, t.id).state == "draft"  # type: ignore[arg-type]
        assert [x.id for x in mandates.tenders_managed_by(s, world.tenderee)] == [t.id]
        publication.publish_tender(s, world.tenderee, settings, t.id)  # type: ignore[arg-type]
        assert t.state == TenderState.published


def test_an_agency_loses_its_rights_when_the_mandate_ends_and_the_tenderee_keeps_them(
    db: Database, settings: Settings, world: World
) -> None:
    with db.unit_of_work() as s:
        t = drafting.create_tender(s, world.agency, settings, tender_fields(world))
        (m,) = [x for x in mandates.mandates_for(s, world.tenderee) if x.live]
        mandates.end_mandate(s, world.tenderee, m.id, "合同到期")
        with pytest.raises(NotYourTender):
            publication.publish_tender(s, world.agency, settings, t.id)  # type: ignore[arg-type]
        with pytest.raises(NoMandate):
            drafting.create_tender(s, world.agency, settings, tender_fields(world))
        assert mandates.tenders_managed_by(s, world.agency) == []
        closing.cancel_tender(s, world.tenderee, settings, t.id, "改为自行招标")  # type: ignore[arg-type]


def test_an_agency_without_a_mandate_cannot_act_on_a_tender_naming_it(
    db: Database, settings: Settings, world: World, make_tender: Callable[..., int]
) -> None:
    tid = make_tender()
    with db.unit_of_work() as s:
        for act in (
            lambda: closing.cancel_tender(s, world.other_agency, settings, tid, "x"),
            lambda: amendments.amend_tender(
                s, world.other_agency, settings, tid, "x", {"title": "y"}, expected_version=None
            ),
        ):
            with pytest.raises(NotYourTender):
                act()


def test_a_mandate_scoped_to_one_tender_covers_that_tender_only(
    db: Database, settings: Settings, world: World
) -> None:
    with db.unit_of_work() as s:
        own = drafting.create_tender(s, world.tenderee, settings, tender_fields(world))
        second = drafting.create_tender(s, world.tenderee, settings, tender_fields(world))
        mandates.grant_mandate(s, world.tenderee, world.other_agency.organisation_id, tender_id=own.id)  # type: ignore[arg-type]
        # the tenderee names the agency on the mandated tender: allowed; on the other: refused
        drafting.update_draft(
            s,
            world.tenderee,
            settings,
            own.id,
            tender_fields(world, agency_org_id=world.other_agency.organisation_id),  # type: ignore[arg-type]
        )
        with pytest.raises(NoMandate):
            drafting.update_draft(
                s,
                world.tenderee,
                settings,
                second.id,  # type: ignore[arg-type]
                tender_fields(world, agency_org_id=world.other_agency.organisation_id),
            )
        publication.publish_tender(s, world.other_agency, settings, own.id)  # type: ignore[arg-type]
        with pytest.raises(NoMandate):  # a scoped mandate does not let it create tenders
            drafting.create_tender(s, world.other_agency, settings, tender_fields(world))


def test_granting_and_ending_are_audited_and_only_the_granting_tenderee_may_end(
    db: Database, world: World
) -> None:
    with db.unit_of_work() as s:
        m = mandates.grant_mandate(s, world.tenderee, world.other_agency.organisation_id, note="年度委托")  # type: ignore[arg-type]
        with pytest.raises(MandateExists):
            mandates.grant_mandate(s, world.tenderee, world.other_agency.organisation_id)  # type: ignore[arg-type]
        with pytest.raises(Forbidden):
            mandates.end_mandate(s, world.other_agency, m.id)  # type: ignore[arg-type]
        stranger_org = factories.organisation(s, kind=OrgKind.tenderee)
        stranger = world.tenderee.__class__(
            user_id=world.tenderee.user_id, username="x", role=Role.tenderee, organisation_id=stranger_org.id
        )
        with pytest.raises(MandateNotFound):
            mandates.end_mandate(s, stranger, m.id)  # type: ignore[arg-type]
        mandates.end_mandate(s, world.tenderee, m.id, "合同到期")  # type: ignore[arg-type]
    with db.transaction(writes=False) as s:  # events take their place in the chain at commit
        events = s.execute(
            sa.select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.object_type == "mandate", AuditEvent.object_id == str(m.id))
            .order_by(AuditEvent.seq)
        ).all()
        assert [e.action for e in events] == ["trading.mandate.grant", "trading.mandate.end"]
        assert all(world.tenderee.username in e.actor for e in events)
        assert m.ended_by and world.tenderee.username in m.ended_by


# --- API and page ---------------------------------------------------------------------------------


def test_a_tenderee_grants_a_mandate_on_the_page_and_ends_it_through_the_api(
    db: Database, client: Any
) -> None:
    tenderee_user, tenderee_api, cookies = factories.signed_in(db, Role.tenderee)
    agency_user, agency_api, _ = factories.signed_in(db, Role.agency)
    client.cookies.update(cookies)
    page = client.get("/manage/mandates")
    assert page.status_code == 200
    assert 'id="mandate-form"' in page.text
    unconfirmed = client.post(
        "/manage/mandates",
        data={"_csrf_token": _csrf(page.text), "agency_org_id": str(agency_user.organisation_id)},
        follow_redirects=False,
    )
    assert unconfirmed.status_code == 422
    granted = client.post(
        "/manage/mandates",
        data={
            "_csrf_token": _csrf(page.text),
            "agency_org_id": str(agency_user.organisation_id),
            "note": "全部项目",
            "confirmed": "yes",
        },
        follow_redirects=False,
    )
    assert granted.status_code in (302, 303), granted.text
    client.cookies.clear()
    (m,) = client.get("/api/trading/mandates", headers=agency_api).json()
    assert m["live"] and m["tenderee_org_id"] == tenderee_user.organisation_id
    # now the agency may create in the tenderee's name
    r = client.post("/api/trading/tenders", json=_body(tenderee_user.organisation_id), headers=agency_api)  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    assert client.post(f"/api/trading/mandates/{m['id']}/end", json={}, headers=agency_api).status_code == 403
    ended = client.post(f"/api/trading/mandates/{m['id']}/end", json={"reason": "到期"}, headers=tenderee_api)
    assert ended.status_code == 200, ended.text
    assert ended.json()["live"] is False
    assert client.get(f"/api/trading/tenders/{r.json()['id']}", headers=agency_api).status_code == 404
    assert client.get(f"/api/trading/tenders/{r.json()['id']}", headers=tenderee_api).status_code == 200


def test_the_demo_agency_runs_the_demo_tenders_under_a_mandate(db: Database, settings: Settings) -> None:
    ctx = demo_ctx(db, settings)
    with db.unit_of_work() as s:
        demo.seed(s, ctx)
    with db.unit_of_work() as s:
        demo.seed(s, dict(ctx))
        agency = demo._principal(s, ctx["users"]["agency"])
        live = mandates.live_mandate(s, ctx["organisations"]["tenderee"], agency.organisation_id, None)  # type: ignore[arg-type]
        assert live is not None
        assert (live.tenderee_org_id, live.agency_org_id) == (
            ctx["organisations"]["tenderee"],
            agency.organisation_id,
        )
        assert len(mandates.mandates_for(s, agency)) == 1
        assert ctx["tenders"]["draft_works"] in {t.id for t in mandates.tenders_managed_by(s, agency)}
        u = s.get(User, ctx["users"]["agency"])
        assert u is not None


def test_after_opening_only_the_tenders_managers_and_supervisors_see_who_downloaded(
    db: Database, world: World, make_tender: Callable[..., int]
) -> None:
    from trading.service import documents

    tid = make_tender()
    with db.unit_of_work() as s:
        t = s.get(Tender, tid)
        assert t is not None
        t.state = TenderState.opening
        s.flush()
        for stranger in (world.bidders[0], world.other_agency):
            with pytest.raises(NotYourTender):
                documents.downloads(s, stranger, tid)
        for allowed in (world.tenderee, world.agency, world.supervisor):
            assert documents.downloads(s, allowed, tid) == []


def test_the_tender_form_offers_an_agency_only_the_tenderees_that_mandated_it(
    db: Database, client: Any
) -> None:
    agency_user, _, cookies = factories.signed_in(db, Role.agency)
    with db.unit_of_work() as s:
        mandating = factories.organisation(s, kind=OrgKind.tenderee, name="委托我们的招标人")
        factories.organisation(s, kind=OrgKind.tenderee, name="没有委托的招标人")
        factories.mandate(s, mandating.id, agency_user.organisation_id)  # type: ignore[arg-type]
    client.cookies.update(cookies)
    form = client.get("/manage/tenders/new")
    assert form.status_code == 200
    assert "委托我们的招标人" in form.text
    assert "没有委托的招标人" not in form.text
    assert 'id="no-mandate"' not in form.text
