"""The supervisors' record pages through the HTTP app: every irreversible act (notify, decide,
publish, correct, revoke, decide a repair) is refused without its confirmation and changes nothing,
its panel saying what will happen and to whom; every form refused comes back (422) with each
problem beside its field, the values as typed, and the messages in the page's language only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from credit.models import Change, RepairApplication, Status, Violation
from credit.service import notify
from credit.service.repair import apply_repair
from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.settings import Settings
from tests import factories
from tests.credit.conftest import SUPERVISOR, T0, bidder, new_record, upheld

NAME = "闽江建设有限公司"


def _csrf(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def _draft(s: Session, settings: Settings) -> Violation:
    return new_record(s, settings, now=T0, name=NAME)


def _notified(s: Session, settings: Settings) -> Violation:
    v = new_record(s, settings, now=T0, name=NAME)
    notify(s, SUPERVISOR, v.id, settings, now=T0)  # type: ignore[arg-type]
    return v


def _decided(s: Session, settings: Settings) -> Violation:
    return upheld(s, settings, name=NAME)


def _published(s: Session, settings: Settings) -> Violation:
    return upheld(s, settings, name=NAME, publish_it=True)


#: act, the record's state before it, the form as the panel sends it, the state after it
ACTS: list[tuple[str, Callable[[Session, Settings], Violation], dict[str, str], str]] = [
    ("notify", _draft, {}, Status.notified),
    (
        "decide",
        _notified,
        {"outcome": "upheld", "reasons": "经调查属实", "decision_number": "榕公管罚〔2026〕7号"},
        Status.decided,
    ),
    ("publish", _decided, {}, Status.published),
    ("amend", _published, {"reason": "笔误", "amend_facts": "更正后的事实"}, Status.published),
    ("revoke", _published, {"revoke_reason": "复议撤销"}, Status.revoked),
]


def _supervisor(db: Database, client: Any) -> None:
    _, _, cookies = factories.signed_in(db, Role.supervisor)
    client.cookies.update(cookies)


def _state(db: Database, vid: int) -> tuple[str, str, int]:
    with db.unit_of_work() as s:
        v = s.get(Violation, vid)
        assert v is not None
        entries = s.execute(
            sa.select(sa.func.count()).select_from(Change).where(Change.violation_id == vid)
        ).scalar_one()
        return v.status, v.facts, entries


@pytest.mark.parametrize(("act", "before", "data", "after"), ACTS, ids=[a[0] for a in ACTS])
def test_an_irreversible_act_without_its_confirmation_is_refused_and_changes_nothing(
    db: Database,
    client: Any,
    settings: Settings,
    act: str,
    before: Callable[[Session, Settings], Violation],
    data: dict[str, str],
    after: str,
) -> None:
    with db.unit_of_work() as s:
        vid = before(s, settings).id
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    assert f'id="{act}-confirm"' in page.text
    was = _state(db, vid)
    refused = client.post(
        f"/credit/manage/{vid}/{act}", data={"_csrf_token": _csrf(page.text), **data}, follow_redirects=False
    )
    assert refused.status_code == 422, refused.text[:500]
    assert "请在确认框中阅读后果" in refused.text
    assert f'id="{act}-confirm" open' in refused.text  # the panel is shown again, open
    assert _state(db, vid) == was
    done = client.post(
        f"/credit/manage/{vid}/{act}",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes", **data},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:2000]
    assert _state(db, vid)[0] == after
    assert _state(db, vid) != was


def _consequence(html: str, panel: str) -> str:
    m = re.search(rf'id="{panel}".*?<p class="consequence">(.*?)</p>', html, re.S)
    assert m, f"no confirmation panel {panel}"
    return m.group(1)


def test_each_confirmation_says_what_will_happen_and_to_whom(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        draft, notified, decided, published = (
            f(s, settings).id for f in (_draft, _notified, _decided, _published)
        )
    _supervisor(db, client)
    notify_text = _consequence(client.get(f"/credit/manage/{draft}").text, "notify-confirm")
    assert NAME in notify_text and "申辩" in notify_text and "不能撤回" in notify_text
    decide_text = _consequence(client.get(f"/credit/manage/{notified}").text, "decide-confirm")
    assert NAME in decide_text and "不能修改" in decide_text
    publish_text = _consequence(client.get(f"/credit/manage/{decided}").text, "publish-confirm")
    assert NAME in publish_text and "门户公开" in publish_text and "外部信用平台" in publish_text
    page = client.get(f"/credit/manage/{published}").text
    amend_text = _consequence(page, "amend-confirm")
    assert NAME in amend_text and "外部信用平台" in amend_text
    revoke_text = _consequence(page, "revoke-confirm")
    assert NAME in revoke_text and "不能恢复" in revoke_text
    en = client.get(f"/credit/manage/{decided}", params={"lang": "en"}).text
    en_text = _consequence(en, "publish-confirm")
    assert "becomes public on the portal" in en_text
    assert "门户" not in en_text


def _with_repair(db: Database, settings: Settings) -> tuple[int, int]:
    with db.unit_of_work() as s:
        v = upheld(s, settings, name=NAME, publish_it=True)
        code = v.subject_credit_code
        assert code is not None
        app = apply_repair(
            s,
            bidder(code),
            v.id,  # type: ignore[arg-type]
            rectification="已全面整改",
            commitment="本公司承诺守法经营",
            evidence=[],
            settings=settings,
        )
        return v.id, app.id  # type: ignore[return-value]


def _repair_status(db: Database, rid: int) -> str:
    with db.unit_of_work() as s:
        app = s.get(RepairApplication, rid)
        assert app is not None
        return app.status


def test_a_repair_decision_without_its_confirmation_is_refused_and_changes_nothing(
    db: Database, client: Any, settings: Settings
) -> None:
    vid, rid = _with_repair(db, settings)
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    assert f'id="repair-{rid}-approve"' in page.text
    assert NAME in _consequence(page.text, f"repair-{rid}-approve")
    refused = client.post(
        f"/credit/manage/repairs/{rid}",
        data={"_csrf_token": _csrf(page.text), "decision": "approve"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert f'id="repair-{rid}-approve" open' in refused.text
    assert _repair_status(db, rid) == "pending"
    assert _state(db, vid)[0] == Status.published
    done = client.post(
        f"/credit/manage/repairs/{rid}",
        data={"_csrf_token": _csrf(page.text), "decision": "approve", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert _repair_status(db, rid) == "approved"


def _errors(html: str) -> dict[str, str]:
    """Each field's error text, by field name."""
    return {
        m.group(1): re.sub(r"<[^>]+>", "", m.group(2))
        for m in re.finditer(r'<p class="field-error" id="err-([\w-]+)">(.*?)</p>', html, re.S)
    }


def test_a_refused_new_record_shows_every_problem_beside_its_field_with_the_values_kept(
    db: Database, client: Any
) -> None:
    _supervisor(db, client)
    page = client.get("/credit/manage/new")
    form = {
        "_csrf_token": _csrf(page.text),
        "subject_kind": "company",
        "credit_code": "91350100M000100",
        "subject_name": "未登记的某公司",
        "user_id": "abc",
        "type_code": "",
        "facts": "",
        "evidence_kind": "",
        "evidence_object_id": "12",
    }
    refused = client.post("/credit/manage/new", data=form, follow_redirects=False)
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert {"facts", "type_code", "user_id", "evidence_kind", "credit_code"} <= set(errors), errors
    assert "请填写违规事实" in errors["facts"]
    assert 'value="abc"' in refused.text
    assert 'value="91350100M000100"' in refused.text
    assert 'value="未登记的某公司"' in refused.text
    assert "The facts of the violation are required" not in refused.text  # Chinese page, Chinese only
    assert 'id="error-summary"' in refused.text
    with db.unit_of_work() as s:
        assert (
            s.execute(sa.select(Violation).where(Violation.subject_name == "未登记的某公司")).first() is None
        )
    en = client.post("/credit/manage/new?lang=en", data=form, follow_redirects=False)
    assert en.status_code == 422
    en_errors = _errors(en.text)
    assert "The facts of the violation are required" in en_errors["facts"]
    assert not any(re.search(r"[\u4e00-\u9fff]", text) for text in en_errors.values()), en_errors


def test_a_refused_decision_shows_every_problem_beside_its_field_with_the_values_kept(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        vid = _notified(s, settings).id
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    refused = client.post(
        f"/credit/manage/{vid}/decide",
        data={
            "_csrf_token": _csrf(page.text),
            "confirmed": "yes",
            "outcome": "upheld",
            "decision_number": "",
            "publication_days": "两年",
            "reasons": "",
        },
        follow_redirects=False,
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert set(errors) == {"decision_number", "publication_days", "reasons"}, errors
    assert "决定书文号" in errors["decision_number"]
    assert 'value="两年"' in refused.text
    assert re.search(r'<option value="upheld" selected>', refused.text)
    assert 'id="decide-confirm" open' in refused.text
    assert "A decision needs its reasons" not in refused.text
    assert _state(db, vid)[0] == Status.notified


def test_a_refused_correction_shows_its_problems_beside_the_correction_fields(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        vid = _published(s, settings).id
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    refused = client.post(
        f"/credit/manage/{vid}/amend",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes", "reason": "", "amend_number": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert set(errors) == {"reason", "amend_facts"}, errors
    assert 'id="amend-confirm" open' in refused.text


def test_a_revocation_without_a_reason_is_refused_beside_the_reason_field(
    db: Database, client: Any, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        vid = _published(s, settings).id
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    refused = client.post(
        f"/credit/manage/{vid}/revoke",
        data={"_csrf_token": _csrf(page.text), "confirmed": "yes", "revoke_reason": "  "},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "撤销理由" in _errors(refused.text)["revoke_reason"]
    assert 'id="revoke-confirm" open' in refused.text
    assert _state(db, vid)[0] == Status.published


def test_a_repair_refused_without_reasons_is_sent_back_beside_the_reasons_field(
    db: Database, client: Any, settings: Settings
) -> None:
    vid, rid = _with_repair(db, settings)
    _supervisor(db, client)
    page = client.get(f"/credit/manage/{vid}")
    refused = client.post(
        f"/credit/manage/repairs/{rid}",
        data={
            "_csrf_token": _csrf(page.text),
            "confirmed": "yes",
            "decision": "refuse",
            "reasons_refuse": "",
        },
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "reasons_refuse" in _errors(refused.text)
    assert f'id="repair-{rid}-refuse" open' in refused.text
    assert _repair_status(db, rid) == "pending"


def _bidder_with_org(db: Database, client: Any) -> str:
    from tenderhall.auth.models import Organisation

    user, _, cookies = factories.signed_in(db, Role.bidder)
    client.cookies.update(cookies)
    with db.unit_of_work() as s:
        org = s.get(Organisation, user.organisation_id)
        assert org is not None and org.credit_code
        return org.credit_code


def test_an_empty_defence_comes_back_with_the_error_beside_the_text(
    db: Database, client: Any, settings: Settings
) -> None:
    from credit.models import Defence
    from credit.service import create_violation

    code = _bidder_with_org(db, client)
    with db.unit_of_work() as s:
        v, _ = create_violation(
            s,
            SUPERVISOR,
            settings,
            subject_kind="company",
            credit_code=code,
            type_code="REFUSE_AWARD",
            facts="拒签",
        )
        notify(s, SUPERVISOR, v.id, settings)  # type: ignore[arg-type]
        vid = v.id
    page = client.get(f"/credit/mine/{vid}")
    refused = client.post(
        f"/credit/mine/{vid}/defence",
        data={"_csrf_token": _csrf(page.text), "text": "  "},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "请填写申辩意见" in _errors(refused.text)["text"]
    assert 'id="defence-form"' in refused.text
    with db.unit_of_work() as s:
        assert s.execute(sa.select(Defence).where(Defence.violation_id == vid)).first() is None


def test_a_repair_application_shows_every_missing_part_beside_its_field_with_the_text_kept(
    db: Database, client: Any, settings: Settings
) -> None:
    code = _bidder_with_org(db, client)
    with db.unit_of_work() as s:
        vid = upheld(s, settings, code=code, publish_it=True).id
    page = client.get(f"/credit/mine/{vid}")
    assert 'id="repair-form"' in page.text
    refused = client.post(
        f"/credit/mine/{vid}/repair",
        data={"_csrf_token": _csrf(page.text), "rectification": "已更换项目负责人", "commitment": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert set(_errors(refused.text)) == {"commitment", "commitment_accepted"}
    assert "已更换项目负责人</textarea>" in refused.text
    assert "Tick the box" not in refused.text
    with db.unit_of_work() as s:
        assert (
            s.execute(sa.select(RepairApplication).where(RepairApplication.violation_id == vid)).first()
            is None
        )


def test_a_receiver_form_shows_every_problem_beside_its_field_with_the_values_kept(
    db: Database, client: Any
) -> None:
    _, _, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    page = client.get("/credit/manage/deliveries")
    refused = client.post(
        "/credit/manage/receivers",
        data={"_csrf_token": _csrf(page.text), "name": "", "url": "ftp://credit.example", "receiver_id": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert {"name", "url", "receiver_id"} <= set(errors), errors
    assert 'value="ftp://credit.example"' in refused.text
    assert "must be an http(s)" not in refused.text


def test_a_catalog_form_shows_every_problem_beside_its_field_with_the_values_kept(
    db: Database, client: Any
) -> None:
    _, _, cookies = factories.signed_in(db, Role.admin)
    client.cookies.update(cookies)
    page = client.get("/credit/manage/catalog")
    refused = client.post(
        "/credit/manage/catalog",
        data={"_csrf_token": _csrf(page.text), "code": "NEW_TYPE", "name_zh": "新类型", "points": "三"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert {"points", "name_en", "severity"} <= set(errors), errors
    assert 'value="三"' in refused.text and 'value="新类型"' in refused.text
    en = client.post(
        "/credit/manage/catalog?lang=en",
        data={"_csrf_token": _csrf(page.text), "code": "NEW_TYPE", "points": "三"},
        follow_redirects=False,
    )
    assert not any(re.search(r"[\u4e00-\u9fff]", t) for t in _errors(en.text).values())
