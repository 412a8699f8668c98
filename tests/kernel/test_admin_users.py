"""User administration in the service: the directory's search, filters and sorts; a new account
from the form (every field's error at once); disable, enable, change role and reset TOTP, each
audited, none locking the platform out of its last administrator."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import col

from tenderhall.audit.models import AuditEvent
from tenderhall.auth.models import OrgKind, Role, User, UserSession
from tenderhall.auth.principal import SYSTEM, Principal
from tenderhall.auth.schemas import NewUserForm
from tenderhall.auth.service import accounts, password_login, passwords, totp, users
from tenderhall.auth.service.sessions import principal_for
from tenderhall.db import Database
from tenderhall.errors import AppError, RuleViolation
from tenderhall.settings import Settings
from tenderhall.web.forms import FieldError, FieldErrors
from tests import factories

PASSWORD = "Quiet-Lantern-47"


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        return list(
            s.execute(sa.select(AuditEvent).where(col(AuditEvent.action) == action).order_by(AuditEvent.seq))
            .scalars()
            .all()
        )


def admin(db: Database, username: str = "root") -> Principal:
    with db.unit_of_work() as s:
        u = factories.user(s, Role.admin, username=username)
        return principal_for(u, None)


def staff(db: Database, role: Role = Role.supervisor, username: str = "wang") -> int:
    """A staff user with a password, TOTP and a live cookie session and API token."""
    with db.unit_of_work() as s:
        u = users.create_user(s, SYSTEM, username, "王监管", role, password=PASSWORD)
        factories.token_for(s, u, kind="cookie")
        factories.token_for(s, u, kind="api")
        return int(u.id)  # type: ignore[arg-type]


def live_sessions(db: Database, user_id: int) -> int:
    with db.unit_of_work() as s:
        return len(
            s.execute(
                sa.select(UserSession).where(
                    col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)
                )
            ).all()
        )


def field_errors(exc: pytest.ExceptionInfo[FieldErrors]) -> dict[str, FieldError]:
    return {e.field: e for e in exc.value.errors}


# --- the directory ---------------------------------------------------------------------------------


def _names(db: Database, stmt: Any) -> list[str]:
    with db.unit_of_work() as s:
        return [u.username for u, _ in s.execute(stmt).all()]


def test_directory_searches_username_name_organisation_and_filters_role_state_and_totp(
    db: Database, settings: Settings
) -> None:
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.tenderee, name="福州市水利局")
        factories.user(s, Role.tenderee, organisation_id=org.id, username="li.water")
        u = factories.user(s, Role.expert, username="chen.expert")
        u.display_name = "陈专家"
        off = factories.user(s, Role.supervisor, username="off.sup")
        off.is_active = False
        sup = users.create_user(s, SYSTEM, "totp.sup", "有口令", Role.supervisor)
        totp.enable_totp(s, SYSTEM, settings, sup.id)  # type: ignore[arg-type]
    stmt = accounts.users_statement
    assert _names(db, stmt("水利")) == ["li.water"]
    assert _names(db, stmt(org.credit_code.lower())) == ["li.water"]
    assert _names(db, stmt("陈专")) == ["chen.expert"]
    assert _names(db, stmt("CHEN")) == ["chen.expert"]
    assert _names(db, stmt("%")) == []  # a wildcard typed is a character searched for
    assert sorted(_names(db, stmt(role=Role.supervisor))) == ["off.sup", "totp.sup"]
    assert _names(db, stmt(active=False)) == ["off.sup"]
    assert _names(db, stmt(totp=True)) == ["totp.sup"]
    assert "totp.sup" not in _names(db, stmt(totp=False))


def test_directory_sorts_roles_in_their_order_not_by_code(db: Database) -> None:
    with db.unit_of_work() as s:
        factories.user(s, Role.admin, username="a1")
        factories.user(s, Role.expert, username="e1")
        factories.user(s, Role.supervisor, username="s1")
    ordered = accounts.users_statement().order_by(accounts.USER_SORTS["role"])
    assert _names(db, ordered) == ["e1", "s1", "a1"]  # expert < supervisor < admin (enum order)


# --- a new account from the form ------------------------------------------------------------------


def test_form_errors_are_all_reported_beside_their_fields_and_nothing_is_written(
    db: Database, settings: Settings
) -> None:
    root = admin(db)
    with db.unit_of_work() as s:
        factories.user(s, Role.expert, username="taken")
    form = NewUserForm(
        username="Taken",
        display_name=" ",
        role="tenderee",
        credit_code="",
        pw_mode="typed",
        password="short",
        password2="short",
    )
    with pytest.raises(FieldErrors) as exc, db.unit_of_work() as s:
        accounts.create_from_form(s, root, settings, form)
    errs = field_errors(exc)
    assert set(errs) == {"username", "display_name", "credit_code", "password"}
    assert "taken" in errs["username"].en and errs["username"].zh
    assert "organisation" in errs["credit_code"].en
    assert "8 characters" in errs["password"].en
    assert events(db, "auth.user.create") == []


def test_form_refuses_differing_passwords_beside_the_second_and_an_unknown_credit_code(
    db: Database, settings: Settings
) -> None:
    root = admin(db)
    form = NewUserForm(
        username="li",
        display_name="李",
        role="agency",
        credit_code=factories.credit_code(),
        pw_mode="typed",
        password=PASSWORD,
        password2=PASSWORD + "x",
    )
    with pytest.raises(FieldErrors) as exc, db.unit_of_work() as s:
        accounts.create_from_form(s, root, settings, form)
    errs = field_errors(exc)
    assert set(errs) == {"credit_code", "password2"}
    assert "register it first" in errs["credit_code"].en


def test_created_staff_gets_a_generated_password_shown_once_and_a_totp_enrolment(
    db: Database, settings: Settings
) -> None:
    root = admin(db)
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.agency)
    form = NewUserForm(
        username="Zhao.Agency", display_name="赵代理", role="agency", credit_code=org.credit_code.lower()
    )
    with db.unit_of_work() as s:
        made = accounts.create_from_form(s, root, settings, form)
        assert made.user.organisation_id == org.id
    assert made.password is not None and len(made.password) >= 16
    assert made.totp is not None
    with db.unit_of_work() as s:
        stored = users.get_user(s, "zhao.agency")
        assert passwords.verify_password(stored.password_hash, made.password)
        assert made.password not in (stored.password_hash or "")
        code = pyotp.TOTP(made.totp.secret).now()
        out = password_login.login_with_password(s, settings, "zhao.agency", made.password, code, "10.0.0.9")
    assert out.error is None
    (created,) = events(db, "auth.user.create")
    assert created.actor == root.audit_name
    assert made.password not in str(created.data)


def test_a_bidder_is_created_without_a_password(db: Database, settings: Settings) -> None:
    root = admin(db)
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.bidder)
    typed = NewUserForm(
        username="b1", display_name="投标人", role="bidder", credit_code=org.credit_code, password="x" * 12
    )
    with pytest.raises(FieldErrors) as exc, db.unit_of_work() as s:
        accounts.create_from_form(s, root, settings, typed)
    assert set(field_errors(exc)) == {"password"}
    with db.unit_of_work() as s:
        made = accounts.create_from_form(
            s,
            root,
            settings,
            NewUserForm(username="b1", display_name="投标人", role="bidder", credit_code=org.credit_code),
        )
        assert made.user.password_hash is None
    assert made.password is None and made.totp is None


# --- disable, enable ------------------------------------------------------------------------------


def test_disabling_a_user_ends_their_sessions_and_tokens_and_is_audited(
    db: Database, settings: Settings
) -> None:
    root = admin(db)
    uid = staff(db)
    assert live_sessions(db, uid) == 2
    with db.unit_of_work() as s:
        users.set_active(s, root, uid, False)
    assert live_sessions(db, uid) == 0
    (ev,) = events(db, "auth.user.deactivate")
    assert ev.actor == root.audit_name and ev.object_id == str(uid)
    assert ev.data["sessions_ended"] == 2
    with db.unit_of_work() as s:
        out = password_login.login_with_password(s, settings, "wang", PASSWORD, None, "10.0.0.2")
    assert out.error is not None and out.error.code == "inactive"
    with db.unit_of_work() as s:
        users.set_active(s, root, uid, True)
        assert s.get(User, uid).is_active  # type: ignore[union-attr]
    assert len(events(db, "auth.user.activate")) == 1


def test_an_admin_cannot_disable_themselves(db: Database) -> None:
    root = admin(db)
    admin(db, "second")
    with pytest.raises(RuleViolation) as exc, db.unit_of_work() as s:
        users.set_active(s, root, root.user_id, False)  # type: ignore[arg-type]
    assert exc.value.code == "own_account"
    assert "your own account" in exc.value.en and "自己" in exc.value.zh
    assert events(db, "auth.user.deactivate") == []


def test_the_last_active_admin_can_be_neither_disabled_nor_given_another_role(db: Database) -> None:
    with db.unit_of_work() as s:
        only = factories.user(s, Role.admin, username="only")
        retired = factories.user(s, Role.admin, username="retired")
        retired.is_active = False
        only_id = int(only.id)  # type: ignore[arg-type]
    for act in (
        lambda s: users.set_active(s, SYSTEM, only_id, False),
        lambda s: users.change_role(s, SYSTEM, only_id, Role.supervisor),
    ):
        with pytest.raises(RuleViolation) as exc, db.unit_of_work() as s:
            act(s)
        assert exc.value.code == "last_admin"
        assert "only active administrator" in exc.value.en and "唯一" in exc.value.zh
    second = admin(db, "second")
    with db.unit_of_work() as s:
        users.set_active(s, second, only_id, False)  # another active admin remains: allowed


# --- change role, reset TOTP -------------------------------------------------------------------------


def test_changing_a_role_ends_sessions_is_audited_and_needs_an_organisation_where_the_role_does(
    db: Database,
) -> None:
    root = admin(db)
    uid = staff(db, Role.supervisor)
    with pytest.raises(AppError) as exc, db.unit_of_work() as s:
        users.change_role(s, root, uid, Role.tenderee)
    assert exc.value.code == "organisation_required"
    with db.unit_of_work() as s:
        users.change_role(s, root, uid, Role.expert)
    with db.unit_of_work() as s:
        assert Role(s.get(User, uid).role) == Role.expert  # type: ignore[union-attr]
    assert live_sessions(db, uid) == 0
    (ev,) = events(db, "auth.user.change_role")
    assert (ev.data["from"], ev.data["to"]) == ("supervisor", "expert")
    assert ev.actor == root.audit_name


def test_an_admin_cannot_change_their_own_role(db: Database) -> None:
    root = admin(db)
    admin(db, "second")
    with pytest.raises(RuleViolation) as exc, db.unit_of_work() as s:
        users.change_role(s, root, root.user_id, Role.supervisor)  # type: ignore[arg-type]
    assert exc.value.code == "own_account"


def test_resetting_totp_voids_the_old_codes_ends_sessions_and_gives_a_new_secret(
    db: Database, settings: Settings
) -> None:
    root = admin(db)
    uid = staff(db)
    with db.unit_of_work() as s:
        old = totp.enable_totp(s, SYSTEM, settings, uid).secret
    with db.unit_of_work() as s:
        new = totp.reset_totp(s, root, settings, uid)
    assert new.secret != old
    assert live_sessions(db, uid) == 0
    with db.unit_of_work() as s:
        refused = password_login.login_with_password(
            s, settings, "wang", PASSWORD, pyotp.TOTP(old).now(), "10.0.0.3"
        )
    assert refused.error is not None and refused.error.code == "bad_totp"
    with db.unit_of_work() as s:
        ok = password_login.login_with_password(
            s, settings, "wang", PASSWORD, pyotp.TOTP(new.secret).now(), "10.0.0.3"
        )
    assert ok.error is None
    (ev,) = events(db, "auth.user.reset_totp")
    assert ev.data == {"username": "wang", "had_totp": True, "sessions_ended": 2}
    assert new.secret not in str(ev.data)
