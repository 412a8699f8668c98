"""The demo registers its custodians' dev-CA certificates once, so its tenders can be published."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tenderhall.auth.demo_support import DEMO_PASSWORD
from tenderhall.auth.models import OrgKind, Role
from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tests.factories import principal
from trading.demo import _principal
from trading.opening.demo import register_demo_custodians
from trading.opening.models import CustodianCertificate

CODE = make_credit_code("91350100M00030003")


def test_demo_custodians_register_their_certificates_once(db: Database, tmp_path: Path) -> None:
    ca = DevCA(tmp_path / "devca")
    ca.init()
    with db.unit_of_work() as s:
        truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes())
        sup = principal(s, Role.supervisor, None)
        tee = principal(s, Role.tenderee, OrgKind.tenderee)
        certificates = {}
        for p in (sup, tee):
            out = tmp_path / f"{p.username}-custodian.p12"
            ca.issue("custodian", name=p.username, credit_code=CODE, out=out, password=DEMO_PASSWORD)
            certificates[p.username] = {"custodian": str(out), "password": DEMO_PASSWORD}
        ctx = {"users": {"supervisor": sup.user_id, "tenderee": tee.user_id}, "certificates": certificates}
        register_demo_custodians(s, ctx, _principal)
        register_demo_custodians(s, ctx, _principal)
        rows = s.scalars(sa.select(CustodianCertificate)).all()
        assert sorted(r.user_id for r in rows) == sorted([sup.user_id, tee.user_id])
