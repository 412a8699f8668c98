"""Every role's desk (/desk): sign-in lands there, each role sees the counts of what waits for it,
computed from the rows, and another organisation's items never count. The registry keeps one
section per key and refuses a tone the badges do not have."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.service import create_violation, notify
from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import Database, utcnow
from tenderhall.jobs.models import JobStatus, OutboxJob
from tenderhall.settings import Settings
from tenderhall.web import desk
from tenderhall.web.desk import DeskItem, add_desk_section
from tests import factories
from tests.kernel.test_auth_login import PASSWORD, _csrf_from, make_staff
from trading.desk import end_of_day
from trading.models import DocumentDownload, Notification
from trading.schemas import LotFields, TenderFields
from trading.service import clarifications, drafting, mandates, publication


def counts(page: Any) -> dict[str, int]:
    """The desk's figures: label -> count."""
    found = re.findall(
        r'<strong class="desk-count">(\d+)</strong><span class="desk-label">([^<]+)</span>', page.text
    )
    return {html.unescape(label): int(n) for n, label in found}


def principal_of(s: Session, role: Role, kind: OrgKind | None) -> Principal:
    return factories.principal(s, role, kind)


def sign_in_as(db: Database, client: Any, p: Principal) -> None:
    with db.unit_of_work() as s:
        from tenderhall.auth.models import User

        u = s.get(User, p.user_id)
        assert u is not None
        client.cookies.update({"th_session": factories.token_for(s, u, kind="cookie")})


def fields(
    tenderee_org_id: int, *, deadline: dt.datetime, title: str = "市政道路改造工程施工"
) -> TenderFields:
    return TenderFields(
        title=title,
        category="works",
        method="open",
        budget_fen=1_000_000_000,
        ceiling_price_fen=950_000_000,
        duration_days=180,
        evaluation_method="comprehensive",
        bid_deadline_at=deadline,
        tenderee_org_id=tenderee_org_id,
        region="园林街道",
        description="道路改造",
        lots=[LotFields(title="第一标段", budget_fen=1_000_000_000)],
    )


# --- the registry ------------------------------------------------------------------------------


def test_registering_a_section_again_under_its_key_replaces_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desk, "DESK", list(desk.DESK))
    add_desk_section({Role.expert}, lambda s, p: [], key="test.x", zh="一", en="One")
    add_desk_section({Role.expert}, lambda s, p: [], key="test.x", zh="二", en="Two")
    assert [(d.zh, d.en) for d in desk.DESK if d.key == "test.x"] == [("二", "Two")]


def test_a_desk_item_with_a_tone_the_badges_lack_is_refused() -> None:
    with pytest.raises(ValueError, match="tone"):
        DeskItem("草稿", "Drafts", 1, tone="loud")


# --- landing after sign-in ----------------------------------------------------------------------


def _sign_in(client: Any, secret: str, username: str, nxt: str | None) -> Any:
    page = client.get("/login" + (f"?next={nxt}" if nxt else ""))
    form = {"username": username, "password": PASSWORD, "totp": pyotp.TOTP(secret).now(),
            "_csrf_token": _csrf_from(page.text)}  # fmt: skip
    if nxt:
        form["next"] = nxt
    return client.post("/login", data=form, follow_redirects=False)


def test_signing_in_without_a_page_asked_for_lands_on_the_desk(
    client: Any, db: Database, settings: Settings
) -> None:
    secret = make_staff(db, settings, role=Role.admin, username="root")
    r = _sign_in(client, secret, "root", None)
    assert r.status_code == 303 and r.headers["location"] == "/desk"
    landed = client.get("/desk")
    assert landed.status_code == 200 and "我的工作台" in landed.text


def test_signing_in_from_the_home_page_lands_on_the_desk_and_from_another_page_returns_to_it(
    client: Any, db: Database, settings: Settings
) -> None:
    home = make_staff(db, settings, role=Role.supervisor, username="wang")
    assert _sign_in(client, home, "wang", "/").headers["location"] == "/desk"
    client.cookies.clear()
    other = make_staff(db, settings, role=Role.supervisor, username="li")  # a TOTP code counts once
    assert _sign_in(client, other, "li", "/credit/manage").headers["location"] == "/credit/manage"


def test_the_desk_asks_an_anonymous_visitor_to_sign_in(client: Any) -> None:
    r = client.get("/desk", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


# --- each role's counts ---------------------------------------------------------------------------


def test_the_admins_desk_counts_failing_and_given_up_jobs_and_accounts(db: Database, client: Any) -> None:
    _, _, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    with db.unit_of_work() as s:
        s.add(OutboxJob(actor_name="credit.push", args={}, status=JobStatus.running, attempts=2))
        s.add(OutboxJob(actor_name="credit.push", args={}, status=JobStatus.pending, attempts=1))
        s.add(OutboxJob(actor_name="trading.pdf", args={}, status=JobStatus.dead, attempts=5))
        s.add(OutboxJob(actor_name="trading.pdf", args={}, status=JobStatus.done, attempts=1))
        factories.user(s, Role.expert)
        off = factories.user(s, Role.expert)
        off.is_active = False
    shown = counts(client.get("/desk", params={"lang": "en"}))
    assert shown["Jobs failing (retrying)"] == 2
    assert shown["Jobs given up"] == 1
    assert shown["Disabled accounts"] == 1
    assert shown["Active accounts"] == 2  # the admin and one expert
    assert 'href="/admin/jobs?status=failed"' in client.get("/desk").text


def test_the_experts_desk_says_plainly_that_evaluation_tasks_are_not_there_yet(
    db: Database, client: Any
) -> None:
    _, _, cookies = factories.signed_in(db, Role.expert)
    client.cookies.update(cookies)
    zh = client.get("/desk")
    assert "评标任务将在评标模块上线后显示" in zh.text
    assert "评标任务" not in counts(zh)  # no made-up figure
    en = client.get("/desk", params={"lang": "en"})
    assert "Evaluation tasks will show once the evaluation module is live" in en.text


@pytest.fixture
def two_tenderees(db: Database, settings: Settings) -> dict[str, Any]:
    """A tenderee with its mandated agency, and another tenderee: each with tenders in every state
    the desk counts, so that a count including the other's would show."""
    now = utcnow()
    out: dict[str, Any] = {}
    with db.unit_of_work() as s:
        for name in ("ours", "theirs"):
            tenderee = principal_of(s, Role.tenderee, OrgKind.tenderee)
            agency = principal_of(s, Role.agency, OrgKind.agency)
            mandates.grant_mandate(s, tenderee, agency.organisation_id)  # type: ignore[arg-type]
            factories.custodians(s, agency)
            org = tenderee.organisation_id
            assert org is not None
            drafting.create_tender(s, agency, settings, fields(org, deadline=now + dt.timedelta(days=40)))
            drafting.create_tender(s, agency, settings, fields(org, deadline=now + dt.timedelta(days=41)))
            later = drafting.create_tender(
                s, agency, settings, fields(org, deadline=now + dt.timedelta(days=30))
            )
            publication.publish_tender(s, agency, settings, later.id, now=now)  # type: ignore[arg-type]
            out[name] = {"tenderee": tenderee, "agency": agency, "published": later.id}
        bidder = principal_of(s, Role.bidder, OrgKind.bidder)
        for name in ("ours", "theirs"):
            clarifications.ask_question(s, bidder, out[name]["published"], "工期能否延长？")
        clarifications.ask_question(s, bidder, out["ours"]["published"], "是否接受联合体投标？")
    return out


def test_a_tenderees_desk_counts_its_own_drafts_and_questions_never_another_organisations(
    db: Database, client: Any, two_tenderees: dict[str, Any]
) -> None:
    sign_in_as(db, client, two_tenderees["ours"]["tenderee"])
    shown = counts(client.get("/desk", params={"lang": "en"}))
    assert shown["Drafts"] == 2
    assert shown["Questions to answer"] == 2
    assert shown["Bid deadlines within 7 days"] == 0


def test_an_agencys_desk_counts_the_tenders_it_runs_under_its_mandate(
    db: Database, client: Any, two_tenderees: dict[str, Any]
) -> None:
    sign_in_as(db, client, two_tenderees["theirs"]["agency"])
    shown = counts(client.get("/desk"))
    assert shown["草稿"] == 2
    assert shown["待答复的问题"] == 1  # only the question on its own tenderee's tender


def test_a_draft_made_now_shows_in_the_tenderees_draft_count(
    db: Database, settings: Settings, client: Any
) -> None:
    with db.unit_of_work() as s:
        tenderee = principal_of(s, Role.tenderee, OrgKind.tenderee)
    sign_in_as(db, client, tenderee)
    assert counts(client.get("/desk", params={"lang": "en"}))["Drafts"] == 0
    with db.unit_of_work() as s:
        drafting.create_tender(
            s,
            tenderee,
            settings,
            fields(tenderee.organisation_id or 0, deadline=utcnow() + dt.timedelta(days=30)),
        )
    assert counts(client.get("/desk", params={"lang": "en"}))["Drafts"] == 1


def test_a_bidders_desk_counts_its_downloaded_tenders_closing_and_its_unread_notifications(
    db: Database, settings: Settings, client: Any
) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        tenderee = principal_of(s, Role.tenderee, OrgKind.tenderee)
        us = principal_of(s, Role.bidder, OrgKind.bidder)
        them = principal_of(s, Role.bidder, OrgKind.bidder)
        factories.custodians(s, tenderee)
        org = tenderee.organisation_id
        assert org is not None
        # a tender published long ago whose deadline is now within the week
        t0 = now - dt.timedelta(days=40)
        soon = drafting.create_tender(
            s, tenderee, settings, fields(org, deadline=now + dt.timedelta(days=3)), now=t0
        )
        publication.publish_tender(s, tenderee, settings, soon.id, now=t0)  # type: ignore[arg-type]
        last_minute = end_of_day(now) - dt.timedelta(seconds=1)  # still today in Beijing
        today = drafting.create_tender(s, tenderee, settings, fields(org, deadline=last_minute), now=t0)
        publication.publish_tender(s, tenderee, settings, today.id, now=t0)  # type: ignore[arg-type]
        far = drafting.create_tender(s, tenderee, settings, fields(org, deadline=now + dt.timedelta(days=30)))
        publication.publish_tender(s, tenderee, settings, far.id, now=now)  # type: ignore[arg-type]
        for tender_id, who in (
            (soon.id, us),
            (today.id, us),
            (far.id, us),
            (soon.id, them),
            (today.id, them),
        ):
            s.add(DocumentDownload(document_id=_document(s, tender_id), tender_id=tender_id,
                                   organisation_id=who.organisation_id))  # fmt: skip
        for n, who in enumerate((us, us, them)):
            s.add(Notification(organisation_id=who.organisation_id, tender_id=soon.id, kind="amendment",
                               ref_id=n, title_zh="变更", title_en="Amendment"))  # fmt: skip
    sign_in_as(db, client, us)
    shown = counts(client.get("/desk", params={"lang": "en"}))
    assert shown["Downloaded tenders closing today"] == 1
    assert shown["Downloaded tenders closing within 7 days"] == 2  # today's among them
    assert shown["Unread notifications"] == 2


def _document(s: Session, tender_id: int) -> int:
    """The tender's document (one per tender), made on first use."""
    from trading.models import Document

    found = s.execute(sa.select(col(Document.id)).where(col(Document.tender_id) == tender_id)).scalar()
    if found is not None:
        return int(found)
    d = Document(tender_id=tender_id, name="招标文件", filename="招标文件.pdf", size=1, sha256="0" * 64)
    s.add(d)
    s.flush()
    return d.id  # type: ignore[return-value]


def test_the_supervisors_desk_counts_records_in_their_defence_period_and_the_subject_sees_only_its_own(
    db: Database, settings: Settings, client: Any
) -> None:
    sup = Principal(user_id=None, username="sup", role=Role.supervisor)
    with db.unit_of_work() as s:
        us = principal_of(s, Role.bidder, OrgKind.bidder)
        them = principal_of(s, Role.bidder, OrgKind.bidder)
        for who, facts in ((us, "拒不签订合同"), (them, "拒不签订合同（另一家）")):
            v, _ = create_violation(
                s, sup, settings, subject_kind="company", type_code="REFUSE_AWARD", facts=facts,
                credit_code=who.credit_code, subject_name="被记录单位",
            )  # fmt: skip
            notify(s, sup, v.id, settings)  # type: ignore[arg-type]
        create_violation(s, sup, settings, subject_kind="company", type_code="REFUSE_AWARD", facts="草稿记录",
                         credit_code=them.credit_code, subject_name="被记录单位")  # fmt: skip
    _, _, cookies = factories.signed_in(db, Role.supervisor)
    client.cookies.update(cookies)
    shown = counts(client.get("/desk", params={"lang": "en"}))
    assert shown["Records in their defence period"] == 2
    assert shown["Drafts to notify"] == 1
    assert shown["Pushes failing (retrying)"] == 0
    client.cookies.clear()
    sign_in_as(db, client, us)
    mine = counts(client.get("/desk", params={"lang": "en"}))
    assert mine["Records open for your defence"] == 1
