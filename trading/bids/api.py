"""Sealed-bid submission: resumable streamed uploads (/api/lots/{id}/uploads, /api/uploads/{id}),
the bidder's bids, their receipts (JSON + detached CMS + optional RFC 3161 token, and PDF), and
withdrawal (decision 0277)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, head, patch, post

from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run, utcnow
from tenderhall.errors import AppError, Conflict, InvalidInput
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from trading.bids import service
from trading.bids.models import Bid, BidReceipt, Upload
from trading.bids.receipt_pdf import render_receipt_pdf
from trading.bids.receipts import parse_receipt
from trading.sealing.format import MAGIC, SealedFormatError
from trading.sealing.reader import inspect_file

BIDDERS = [requires(Role.bidder)]
OFFSET = "Upload-Offset"


class UploadIn(msgspec.Struct):
    size: int


def _upload_out(up: Upload, offset: int) -> dict[str, Any]:
    return {
        "id": up.id,
        "lot_id": up.lot_id,
        "size": up.size,
        "offset": offset,
        "url": f"/api/uploads/{up.id}",
    }


def _receipt_out(r: BidReceipt) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "receipt_json": r.receipt_json.decode(),
        "signature": base64.b64encode(r.signature).decode(),
        "timestamp_token": base64.b64encode(r.timestamp_token).decode() if r.timestamp_token else None,
    }


def _bid_out(b: Bid) -> dict[str, Any]:
    return {
        "id": b.id,
        "lot_id": b.lot_id,
        "state": str(b.state),
        "sealed_sha256": b.sealed_sha256,
        "sealed_size": b.sealed_size,
        "received_at": b.received_at.isoformat(),
        "replaces_bid_id": b.replaces_bid_id,
    }


def _offset(settings: Settings, upload_id: int) -> int:
    path = service.part_path(settings, upload_id)
    return path.stat().st_size if path.exists() else 0


class BidsApi(Controller):
    path = "/api"
    tags = ["bids"]  # noqa: RUF012 - Litestar reads it per controller

    @post("/lots/{lot_id:int}/uploads", guards=BIDDERS, summary="Open a resumable upload of a sealed bid")
    async def start(
        self, session: RequestSession, principal: Principal, settings: Settings, lot_id: int, data: UploadIn
    ) -> dict[str, Any]:
        try:
            up = await run(session, service.start_upload, principal, settings, lot_id, data.size)
        except AppError as exc:
            await run(session, service.record_refusal, principal, lot_id, "submit", exc)
            raise
        return _upload_out(up, 0)

    @get("/uploads/{upload_id:int}", guards=BIDDERS, summary="An upload's size and offset so far")
    async def status(
        self, session: RequestSession, principal: Principal, settings: Settings, upload_id: int
    ) -> dict[str, Any]:
        up = await run(session, service.own_upload, principal, upload_id)
        return _upload_out(up, _offset(settings, upload_id))

    @head("/uploads/{upload_id:int}", guards=BIDDERS, summary="An upload's offset (Upload-Offset header)")
    async def offset(
        self, session: RequestSession, principal: Principal, settings: Settings, upload_id: int
    ) -> Response[None]:
        up = await run(session, service.own_upload, principal, upload_id)
        return Response(
            None, headers={OFFSET: str(_offset(settings, upload_id)), "Upload-Length": str(up.size)}
        )

    @patch(
        "/uploads/{upload_id:int}",
        guards=BIDDERS,
        request_max_body_size=None,  # the upload's declared size is enforced while streaming
        summary="Append bytes at Upload-Offset (raw body); the last byte submits the bid",
    )
    async def append(
        self,
        request: Request[Any, Any, Any],
        session: RequestSession,
        principal: Principal,
        settings: Settings,
        upload_id: int,
    ) -> Response[dict[str, Any]]:
        up = await run(session, service.own_upload, principal, upload_id)
        path = service.part_path(settings, upload_id)
        have = _offset(settings, upload_id)
        try:
            claimed = int(request.headers.get(OFFSET, ""))
        except ValueError:
            raise InvalidInput(
                f"请求缺少 {OFFSET} 头", f"The request needs an {OFFSET} header", extra={"field": OFFSET}
            ) from None
        if claimed != have:
            raise Conflict(
                f"上传位置不符：已收到 {have} 字节",
                f"Wrong offset: {have} bytes have arrived",
                extra={"offset": have},
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        f = await anyio.to_thread.run_sync(lambda: path.open("ab"))
        try:
            async for chunk in request.stream():
                if have + len(chunk) > up.size:
                    raise InvalidInput(
                        f"上传超过声明的大小（{up.size} 字节）",
                        f"The upload is larger than its declared size ({up.size} bytes)",
                        status=413,
                    )
                await anyio.to_thread.run_sync(f.write, bytes(chunk))
                before, have = have, have + len(chunk)
                if before < len(MAGIC) <= have:
                    await anyio.to_thread.run_sync(_check_magic, path, f)
        except SealedFormatError as exc:  # not a sealed bid at all: nothing is kept
            await anyio.to_thread.run_sync(f.close)
            service.discard_part(settings, upload_id)
            refused = service.sealed_refusal(exc)
            await run(session, service.record_refusal, principal, up.lot_id, "submit", refused)
            raise refused from exc
        except BaseException:  # a dropped connection keeps every whole chunk: a resume continues
            await anyio.to_thread.run_sync(f.close)
            await anyio.to_thread.run_sync(_truncate, path, have)
            raise
        finally:
            if not f.closed:
                await anyio.to_thread.run_sync(f.close)
        if have < up.size:
            return Response({"offset": have, "size": up.size}, headers={OFFSET: str(have)}, status_code=200)
        received_at = utcnow()  # the last byte is in
        return await self._finish(session, principal, settings, up, received_at)

    async def _finish(
        self, session: RequestSession, principal: Principal, settings: Settings, up: Upload, received_at: Any
    ) -> Response[dict[str, Any]]:
        path = service.part_path(settings, up.id or 0)
        try:
            try:
                info = await anyio.to_thread.run_sync(inspect_file, path)
            except SealedFormatError as exc:
                raise service.sealed_refusal(exc) from exc
            bid, receipt, repeat = await run(
                session, service.accept, principal, settings, up.id, info, received_at
            )
        except AppError as exc:
            service.discard_part(settings, up.id or 0)
            await run(session, service.record_refusal, principal, up.lot_id, "submit", exc)
            raise
        body = {"bid": _bid_out(bid), "receipt": _receipt_out(receipt), "repeat": repeat}
        return Response(body, headers={OFFSET: str(up.size)}, status_code=200 if repeat else 201)

    @get("/bids", guards=BIDDERS, summary="My company's bids")
    async def mine(self, session: RequestSession, principal: Principal) -> list[dict[str, Any]]:
        return [_bid_out(b) for b in await run(session, service.my_bids, principal)]

    @get("/bids/{bid_id:int}", guards=BIDDERS, summary="One of my bids with its receipts")
    async def one(self, session: RequestSession, principal: Principal, bid_id: int) -> dict[str, Any]:
        bid, receipts = await run(session, service.own_bid, principal, bid_id)
        return {**_bid_out(bid), "receipts": [_receipt_out(r) for r in receipts]}

    @get("/bids/{bid_id:int}/receipt.pdf", guards=BIDDERS, summary="The latest receipt of my bid, as PDF")
    async def receipt_pdf(
        self, session: RequestSession, principal: Principal, settings: Settings, bid_id: int
    ) -> Response[bytes]:
        bid, receipts = await run(session, service.own_bid, principal, bid_id)
        latest = receipts[-1]
        facts = parse_receipt(latest.receipt_json)
        sha256 = hashlib.sha256(latest.receipt_json).hexdigest()
        pdf = await anyio.to_thread.run_sync(lambda: render_receipt_pdf(settings, facts, sha256))
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="bid-{bid.id}-receipt.pdf"'},
        )

    @get("/platform-certificate", summary="The platform's certificate (to verify receipts offline)")
    async def platform_certificate(self, settings: Settings) -> dict[str, str]:
        return {"certificate_pem": platform_signer(settings).certificate_pem}

    @post("/bids/{bid_id:int}/withdraw", guards=BIDDERS, summary="Withdraw my bid before the deadline")
    async def withdraw(
        self, session: RequestSession, principal: Principal, settings: Settings, bid_id: int
    ) -> dict[str, Any]:
        try:
            bid, receipt = await run(session, service.withdraw, principal, settings, bid_id)
        except AppError as exc:
            lot_id = await run(session, service.lot_of_bid, bid_id)
            if lot_id is not None:
                await run(session, service.record_refusal, principal, lot_id, "withdraw", exc)
            raise
        return {"bid": _bid_out(bid), "receipt": _receipt_out(receipt)}


def _check_magic(path: Any, f: Any) -> None:
    f.flush()
    with open(path, "rb") as r:
        start = r.read(len(MAGIC))
    if start != MAGIC:
        raise SealedFormatError("bad_version" if start[:5] == MAGIC[:5] else "not_sealed")


def _truncate(path: Any, size: int) -> None:
    """Keep only the bytes before the refused chunk (or none, for a file that is not sealed)."""
    if path.exists():
        with open(path, "r+b") as f:
            f.truncate(size)
