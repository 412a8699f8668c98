"""Custodians are the tender's roles resolved to users with live certificates; too few is a 409."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database
from tenderhall.errors import RuleViolation
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tests.factories import principal
from trading.opening.certificates import register_certificate
from trading.opening.custodians import resolve_custodians

CODE = make_credit_code("91350100M00030002")


@pytest.fixture(scope="module")
def devca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("devca"))
    ca.init()
    return ca


def _tender(tenderee: Any, agency: Any) -> Any:
    return SimpleNamespace(
        opening_custodians=["supervisor", "tenderee", "agency"],
        tenderee_org_id=tenderee.organisation_id,
        agency_org_id=agency.organisation_id if agency else None,
    )


def test_each_role_resolves_to_a_user_with_a_certificate(db: Database, devca: DevCA) -> None:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, devca.cert_path.read_bytes())
        sup = principal(s, Role.supervisor, None)
        tee = principal(s, Role.tenderee, OrgKind.tenderee)
        agy = principal(s, Role.agency, OrgKind.agency)
        for p in (sup, tee, agy):
            register_certificate(s, p, devca.issue("custodian", name=p.username, credit_code=CODE).pem)
        found = resolve_custodians(s, _tender(tee, agy), 2)
        assert [(c.role, c.user.id) for c in found] == [
            (Role.supervisor, sup.user_id),
            (Role.tenderee, tee.user_id),
            (Role.agency, agy.user_id),
        ]


def test_too_few_custodians_with_certificates_is_refused_naming_who_must_register(
    db: Database, devca: DevCA
) -> None:
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, devca.cert_path.read_bytes())
        tee = principal(s, Role.tenderee, OrgKind.tenderee)
        agy = principal(s, Role.agency, OrgKind.agency)
        register_certificate(s, tee, devca.issue("custodian", name=tee.username, credit_code=CODE).pem)
        with pytest.raises(RuleViolation) as err:
            resolve_custodians(s, _tender(tee, agy), 2)
        assert err.value.status == 409
        assert "招标代理人员" in err.value.zh and "agency" in err.value.en
        assert "agency" in err.value.extra["missing_roles"]
        # a tender without an agency skips that role
        with pytest.raises(RuleViolation):
            resolve_custodians(s, _tender(tee, None), 2)
