"""Demo identities: every role, TOTP for staff, bidders' PKCS#12 files that sign in; idempotent."""

from __future__ import annotations

from pathlib import Path

import pyotp
import sqlalchemy as sa
from litestar.testing import TestClient

from tenderhall.auth.certclient import certificate_login
from tenderhall.auth.demo_support import DEMO_PASSWORD, seed_identities
from tenderhall.auth.models import Organisation, Role, User
from tenderhall.auth.service import password_login
from tenderhall.auth.tasks import purge_expired_job
from tenderhall.db import Database
from tenderhall.identifiers import is_valid_credit_code
from tenderhall.pki.models import TrustedCA
from tenderhall.settings import Settings


def test_demo_identities_cover_every_role_and_a_second_run_reuses_them(
    client: TestClient,
    db: Database,
    settings: Settings,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    with db.unit_of_work() as s:
        first = seed_identities(s, settings, tmp_path / "demo")
    with db.unit_of_work() as s:
        second = seed_identities(s, settings, tmp_path / "demo")
        roles = {Role(r) for r in s.execute(sa.select(User.role)).scalars()}
        codes = s.execute(sa.select(Organisation.credit_code)).scalars().all()
        assert s.execute(sa.select(sa.func.count()).select_from(TrustedCA)).scalar_one() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 4 + 7 + 4
    assert roles == set(Role)
    assert len(codes) == 7
    assert all(is_valid_credit_code(c) for c in codes)
    assert first["users"] == second["users"]
    assert first["totp_secrets"] == second["totp_secrets"]
    assert first["certificates"] == second["certificates"]
    assert len(first["users"]["experts"]) == 7
    assert set(first["totp_secrets"]) >= {"admin", "supervisor", "tenderee", "agency", "expert1"}

    secret = first["totp_secrets"]["supervisor"]
    with db.unit_of_work() as s:
        assert password_login.login_with_password(
            s, settings, "supervisor", DEMO_PASSWORD, pyotp.TOTP(secret).now(), "1.1.1.1"
        ).ok
    with db.unit_of_work() as s:  # bidders have no password: they sign in with their certificate
        assert s.execute(sa.select(User.password_hash).where(User.username == "bidder1")).scalar_one() is None
        assert not password_login.login_with_password(
            s, settings, "bidder1", DEMO_PASSWORD, None, "1.1.1.1"
        ).ok
    assert all(row["password"].startswith("-") for row in first["logins"] if row["role"] == "bidder")
    p12 = Path(first["certificates"]["bidder2"]["sign"])
    result = certificate_login(p12, DEMO_PASSWORD, "http://testserver.local", client=client)
    assert result.credit_code == first["credit_codes"]["bidders"][1]
    assert result.username == "bidder2"


def test_housekeeping_job_runs_on_an_empty_database(db: Database, settings: Settings) -> None:
    from tenderhall.jobs.execution import execute
    from tenderhall.jobs.outbox import REGISTRY, enqueue

    assert REGISTRY["auth.purge_expired"].fn is purge_expired_job
    with db.unit_of_work() as s:
        job_id = enqueue(s, "auth.purge_expired").id
    assert execute(db, settings, job_id) == "done"
