"""Administration through the API: the violation catalog, push receivers and the delivery log."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post, put
from litestar.status_codes import HTTP_200_OK

from credit import schemas as S
from credit.api.convert import SUPERVISORS, delivery_out, receiver_out, type_out
from credit.service import catalog, deliveries, receivers
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run


class AdminCreditAPI(Controller):
    path = "/api/credit"
    tags = ("credit · admin",)

    @put("/types/{code:str}", guards=[requires(Role.admin)], summary="Create or edit a catalog entry")
    async def save_type(
        self, session: RequestSession, principal: Principal, code: str, data: S.ViolationTypeIn
    ) -> S.ViolationTypeOut:
        fields = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        t = await run(session, lambda s: catalog.save_type(s, principal, code, **fields))
        return type_out(t)

    @get("/receivers", guards=[requires(*SUPERVISORS)])
    async def receivers(self, session: RequestSession) -> list[S.ReceiverOut]:
        return [receiver_out(r) for r in await run(session, receivers.list_receivers)]

    @post("/receivers", guards=[requires(Role.admin)])
    async def add_receiver(
        self, session: RequestSession, principal: Principal, data: S.ReceiverIn
    ) -> S.ReceiverOut:
        r = await run(
            session,
            lambda s: receivers.save_receiver(
                s,
                principal,
                name=data.name,
                url=data.url,
                events=data.events,
                active=data.active,
                key_id=data.key_id,
            ),
        )
        return receiver_out(r)

    @put("/receivers/{receiver_id:int}", guards=[requires(Role.admin)])
    async def edit_receiver(
        self, session: RequestSession, principal: Principal, receiver_id: int, data: S.ReceiverIn
    ) -> S.ReceiverOut:
        r = await run(
            session,
            lambda s: receivers.save_receiver(
                s,
                principal,
                name=data.name,
                url=data.url,
                events=data.events,
                active=data.active,
                key_id=data.key_id,
                receiver_id=receiver_id,
            ),
        )
        return receiver_out(r)

    @get("/deliveries", guards=[requires(*SUPERVISORS)], summary="Delivery log; status=dead for dead letters")
    async def deliveries(
        self, session: RequestSession, status: str = "", limit: int = 200
    ) -> list[S.DeliveryOut]:
        rows = await run(
            session, lambda s: deliveries.list_deliveries(s, status=status or None, limit=min(limit, 1000))
        )
        return [delivery_out(d) for d in rows]

    @post("/deliveries/{delivery_id:int}/resend", guards=[requires(Role.admin)], status_code=HTTP_200_OK)
    async def resend(self, session: RequestSession, principal: Principal, delivery_id: int) -> dict[str, Any]:
        d = await run(session, lambda s: deliveries.resend(s, principal, delivery_id))
        return {"id": d.id, "status": str(d.status)}
