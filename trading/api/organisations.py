"""Organisations: a bidder company registers itself; an admin registers the others."""

from __future__ import annotations

from litestar import Controller, post

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Organisation, Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from trading.schemas import OrganisationIn, OrganisationOut, RegisterBidderIn, RegisteredOut
from trading.service import organisations


def _org_out(o: Organisation) -> OrganisationOut:
    return OrganisationOut(id=o.id, credit_code=o.credit_code, name=o.name, kind=str(o.kind), region=o.region)  # type: ignore[arg-type]


class OrganisationsApi(Controller):
    path = "/api/trading"
    tags = ["trading"]  # noqa: RUF012 - Litestar reads it per controller

    @post("/organisations/register", summary="Register a bidder company and its first user (public)")
    async def register(
        self, session: RequestSession, principal: Principal, data: RegisterBidderIn
    ) -> RegisteredOut:
        org, user = await run(session, organisations.register_bidder, principal, data)
        return RegisteredOut(organisation=_org_out(org), user_id=user.id, username=user.username)  # type: ignore[arg-type]

    @post("/organisations", guards=[requires(Role.admin)], summary="Register a tenderee, agency or authority")
    async def create_org(
        self, session: RequestSession, principal: Principal, data: OrganisationIn
    ) -> OrganisationOut:
        return _org_out(await run(session, organisations.create_organisation, principal, data))
