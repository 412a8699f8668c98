"""No token, cookie, password, key, TOTP secret or full ID number reaches a log line or a
traceback: tracebacks are plain (no local variables), and both structlog events and standard
``logging`` records pass through the redaction of ``tenderhall.redaction``. The whole run's logs
are scanned for every secret the tests created by ``tests/logscan.py``."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest
import sqlalchemy as sa
import structlog

from tenderhall.auth.models import Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service import users
from tenderhall.db import Database
from tenderhall.redaction import redact_text
from tests import factories, logscan

TOKEN = secrets.token_urlsafe(32)
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\n"
    "OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n-----END PRIVATE KEY-----"
)
ID_NUMBER = "110105194912310021"

CASES = [
    ("bearer header", f"authorization: Bearer {TOKEN}", TOKEN),
    ("header tuple", f"(b'authorization', b'Bearer {TOKEN}')", TOKEN),
    ("cookie header", f"cookie: th_session={TOKEN}; th_csrf=abcdef0123456789", TOKEN),
    ("form body", "username=wang&password=correct+horse+battery&totp=123456", "correct+horse"),
    ("json body", '{"username": "wang", "password": "correct horse battery"}', "correct horse"),
    ("dict repr", "{'password': 'correct horse battery', 'x': 1}", "correct horse"),
    ("totp secret alone", f"otpauth://totp/TenderHall:wang?secret={TOTP}&issuer=TenderHall", TOTP),
    ("totp secret bare", f"enrolled {TOTP}", TOTP),
    ("opaque token bare", f"GET /invite/{TOKEN} 200", TOKEN),
    ("private key", f"key follows {PEM} end", "MIGHAgEAMBMG"),
    ("id number", f"subject {ID_NUMBER} recorded", ID_NUMBER),
    ("api key pair", "api_key=sk_live_0123456789", "sk_live_0123456789"),
    ("key share", "share=3:a1b2c3d4e5f60718293a4b5c6d7e8f90", "a1b2c3d4e5f60718293a"),
]


@pytest.mark.parametrize(("label", "text", "secret"), CASES, ids=[c[0] for c in CASES])
def test_secret_shaped_text_is_redacted(label: str, text: str, secret: str) -> None:
    assert secret not in redact_text(text)
    assert "[redacted" in redact_text(text)


def test_digests_and_identifiers_are_kept() -> None:
    sha = "e16fa5d9b51928755db85b917f0297babaf22c7a47e97d9212adab56e61ba04e"
    line = f"blob stored sha256={sha} job=credit.push_deliveries migration=20260301_credit_violation_catalog"
    assert redact_text(line) == line


def test_standard_logging_records_are_redacted_with_their_traceback(db: Database, settings: Any) -> None:
    from tenderhall.app import configure_logging

    configure_logging(settings)
    try:
        raise RuntimeError(f"upstream refused Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("headers %s", {"cookie": f"th_session={TOKEN}"})
    structlog.get_logger("tenderhall.test").warning("sealed", totp_secret=TOTP, subject=ID_NUMBER)
    text = logscan.log_text()
    assert "upstream refused" in text and "sealed" in text
    for secret in (TOKEN, TOTP, ID_NUMBER):
        assert secret not in text


def test_a_500_during_sign_in_logs_neither_the_password_nor_the_bearer_token(
    db: Database, client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    password = "Zebra-Stapler-" + secrets.token_hex(6)
    with db.unit_of_work() as s:
        org = factories.organisation(s)
        users.create_user(
            s, SYSTEM, "li.bidder", "李", Role.bidder, password=password, organisation_id=org.id
        )
    _, api, cookies = factories.signed_in(db, Role.bidder)
    token = api["Authorization"].removeprefix("Bearer ")
    with db.unit_of_work() as s:  # a real failure inside sign-in: its table is gone
        s.execute(sa.text("DROP TABLE core_login_attempt"))
    capfd.readouterr()
    r = client.post(
        "/api/auth/token",
        json={"username": "li.bidder", "password": password, "totp": "123456"},
        headers={**api, "Cookie": f"th_session={cookies['th_session']}"},
    )
    assert r.status_code == 500
    out = capfd.readouterr()
    logged = out.out + out.err + logscan.log_text()
    assert "unhandled error" in logged  # the failure was logged, with its traceback
    assert "Traceback" in logged
    for kind, secret in (("password", password), ("bearer token", token), ("cookie", cookies["th_session"])):
        assert secret not in logged, f"the {kind} reached the logs"
        assert secret not in r.text, f"the {kind} reached the error response"


def test_a_failed_jobs_recorded_error_carries_no_secret() -> None:
    from tenderhall.jobs.execution import describe_error

    error = describe_error(RuntimeError(f"push refused: Authorization: Bearer {TOKEN} for {ID_NUMBER}"))
    assert "push refused" in error
    assert TOKEN not in error and ID_NUMBER not in error
