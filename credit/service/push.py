"""Push of change-feed events to external credit platforms.

Each change (published, changed, repaired, expired, revoked) becomes one :class:`Delivery` per
subscribed receiver, written in the transaction of the change. :func:`push_due` sends due
deliveries as JSON signed by the platform key (``X-TenderHall-Signature``: base64 DER
ECDSA-SHA256 over the exact body bytes; ``X-TenderHall-Key-Id``), with an ``Idempotency-Key``.

- Ordering: a delivery is not attempted while an earlier change for the same subject is still
  unacknowledged at that receiver (pending or dead), so a receiver sees each subject's events in
  order.
- Retries: exponential back-off (base × 2^(attempts−1), capped at push_max_backoff_seconds) until
  acknowledged; after push_give_up_days since the first attempt the delivery is dead (a dead
  letter, shown to admins, re-sendable). A dead delivery keeps holding back later events of its
  subject at that receiver until it is re-sent and acknowledged.
- Crash safety: claims are leases in short transactions and no transaction is open during the
  HTTP call. A worker killed mid-delivery leaves the lease to run out; the delivery is then sent
  again with the same idempotency key, which the receiver deduplicates (once in effect).
- Acknowledgement: a 2xx answer whose JSON body carries the same ``idempotency_key`` and
  ``status`` "ok" or "duplicate". Anything else (5xx, timeouts, refused connections, garbage) is a
  failed attempt, logged in ``credit_delivery_attempt``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from credit.models import Change, Delivery, DeliveryAttempt, DeliveryStatus, Receiver, pk
from tenderhall.db import skip_locked, utcnow
from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings

SIGNATURE_HEADER = "X-TenderHall-Signature"
KEY_ID_HEADER = "X-TenderHall-Key-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_ALG = "ecdsa-p256-sha256"


def canonical_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def fan_out(session: Session, change: Change, *, now: dt.datetime | None = None) -> int:
    """Create the deliveries of one change (same transaction) and wake the push job."""
    now = now or utcnow()
    n = 0
    for r in session.execute(sa.select(Receiver).where(col(Receiver.active).is_(True))).scalars():
        if r.events and str(change.kind) not in r.events:
            continue
        session.add(
            Delivery(
                receiver_id=pk(r),
                change_id=pk(change),
                subject_key=change.subject_key,  # type: ignore[arg-type]
                idempotency_key=f"tenderhall-credit-{change.id}-{r.id}",
                next_attempt_at=now,
            )
        )
        n += 1
    if n:
        session.flush()
        enqueue(session, "credit.push", dedup_key=f"credit.push:change:{change.id}")
    return n


def event_of(change: Change, idempotency_key: str, settings: Settings) -> dict[str, Any]:
    return {
        "type": f"credit.record.{change.kind!s}",
        "event_id": change.id,
        "idempotency_key": idempotency_key,
        "subject_key": change.subject_key,
        "occurred_at": change.occurred_at.isoformat(),
        "record": change.payload,
        "platform": settings.base_url,
    }


# --- delivery ---------------------------------------------------------------------------------------


@dataclass
class Claimed:
    delivery_id: int
    url: str
    idempotency_key: str
    body: bytes
    lease_until: dt.datetime


@dataclass
class PushReport:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, settings: Settings) -> dt.timedelta:
    cfg = settings.credit
    secs = min(cfg.push_base_backoff_seconds * (2 ** max(0, attempts - 1)), cfg.push_max_backoff_seconds)
    return dt.timedelta(seconds=secs)


def claim(session: Session, settings: Settings, *, now: dt.datetime, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, each the earliest unacknowledged one of its subject."""
    cfg = settings.credit
    earlier = aliased(Delivery)
    blocked = (
        sa.select(earlier.id)  # type: ignore[call-overload]
        .where(
            earlier.receiver_id == col(Delivery.receiver_id),
            earlier.subject_key == col(Delivery.subject_key),
            earlier.change_id < col(Delivery.change_id),
            earlier.status != DeliveryStatus.delivered,
        )
        .exists()
    )
    stmt = (
        sa.select(Delivery)
        .join(Receiver, col(Receiver.id) == col(Delivery.receiver_id))
        .where(
            col(Delivery.status) == DeliveryStatus.pending,
            col(Delivery.next_attempt_at) <= now,
            sa.or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= now),
            col(Receiver.active).is_(True),
            ~blocked,
        )
        .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
    else:
        stmt = skip_locked(stmt, session)
    rows = list(session.execute(stmt).scalars())
    out: list[Claimed] = []
    lease_until = now + dt.timedelta(seconds=cfg.push_lease_seconds)
    for d in rows:
        change = session.get(Change, d.change_id)
        receiver = session.get(Receiver, d.receiver_id)
        assert change is not None
        assert receiver is not None
        d.lease_until = lease_until
        d.attempts += 1
        if d.first_attempt_at is None:
            d.first_attempt_at = now
        session.add(d)
        out.append(
            Claimed(
                pk(d),
                receiver.url,
                d.idempotency_key,  # type: ignore[arg-type]
                canonical_body(event_of(change, d.idempotency_key, settings)),
                lease_until,
            )
        )
    session.flush()
    return out


def send(
    client: httpx.Client, c: Claimed, signer: Any, timeout: float
) -> tuple[bool, int | None, str | None]:
    """POST one signed event; (acknowledged, status code, error)."""
    headers = {
        "Content-Type": "application/json",
        IDEMPOTENCY_HEADER: c.idempotency_key,
        KEY_ID_HEADER: signer.key_id,
        SIGNATURE_HEADER: base64.b64encode(signer.sign(c.body)).decode(),
        "X-TenderHall-Signature-Alg": SIGNATURE_ALG,
    }
    try:
        resp = client.post(c.url, content=c.body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return False, None, "timeout"
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}"
    if not 200 <= resp.status_code < 300:
        return False, resp.status_code, f"HTTP {resp.status_code}"
    try:
        ack = resp.json()
    except ValueError:
        return False, resp.status_code, "unreadable acknowledgement (not JSON)"
    if (
        not isinstance(ack, dict)
        or ack.get("idempotency_key") != c.idempotency_key
        or ack.get("status") not in ("ok", "duplicate")
    ):
        return False, resp.status_code, "acknowledgement does not match the event"
    return True, resp.status_code, None


def record_result(
    session: Session,
    settings: Settings,
    c: Claimed,
    ok: bool,
    status_code: int | None,
    error: str | None,
    *,
    now: dt.datetime,
    duration_ms: int,
) -> DeliveryStatus:
    cfg = settings.credit
    d = session.get(Delivery, c.delivery_id)
    assert d is not None
    session.add(
        DeliveryAttempt(
            delivery_id=c.delivery_id,
            at=now,
            status_code=status_code,
            ok=ok,
            error=error,
            duration_ms=duration_ms,
        )
    )
    if d.status == DeliveryStatus.delivered:
        return d.status  # another worker finished it (our lease had run out)
    d.last_status_code = status_code
    d.lease_until = None
    if ok:
        d.status = DeliveryStatus.delivered
        d.delivered_at = now
        d.last_error = None
    else:
        d.last_error = (error or "")[:500]
        give_up = (d.first_attempt_at or now) + dt.timedelta(days=cfg.push_give_up_days)
        if now >= give_up:
            d.status = DeliveryStatus.dead
        else:
            d.next_attempt_at = now + backoff(d.attempts, settings)
    session.add(d)
    session.flush()
    return d.status


def failing_count(session: Session) -> int:
    """Deliveries not yet acknowledged whose last attempt failed (they retry on their back-off)."""
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Delivery)
            .where(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.last_error).is_not(None))
        ).scalar_one()
    )


def push_due(
    unit: Callable[[], AbstractContextManager[Session]],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    client: httpx.Client | None = None,
    signer: Any = None,
    rounds: int = 50,
    batch: int | None = None,
) -> PushReport:
    """Send every due delivery (several rounds, so that a subject's next event follows as soon as
    the previous one is acknowledged). ``unit()`` gives one transaction (e.g. ``db.unit_of_work``):
    each claim and each result is its own short transaction, none open during an HTTP call."""
    from tenderhall.signing import platform_signer

    cfg = settings.credit
    signer = signer or platform_signer(settings)
    own_client = client is None
    client = client or httpx.Client()
    report = PushReport()
    try:
        for _ in range(rounds):
            t = now or utcnow()
            with unit() as s:
                claimed = claim(s, settings, now=t, limit=batch or cfg.push_batch)
            if not claimed:
                break
            for c in claimed:
                started = time.monotonic()
                ok, code, err = send(client, c, signer, cfg.push_timeout_seconds)
                ms = int((time.monotonic() - started) * 1000)
                with unit() as s:
                    status = record_result(s, settings, c, ok, code, err, now=now or utcnow(), duration_ms=ms)
                report.attempted += 1
                if ok:
                    report.delivered += 1
                else:
                    report.failed += 1
                    report.errors.append(err or "")
                    if status == DeliveryStatus.dead:
                        report.dead += 1
            if report.failed and report.delivered == 0:
                break  # nothing got through this round: wait for the back-off
    finally:
        if own_client:
            client.close()
    return report
