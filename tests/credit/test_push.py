"""Push to external credit platforms, end to end against the real receiver on 127.0.0.1: outages
(down for days, 500, timeouts, garbage), a worker killed mid-delivery, dead letters re-sent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from credit.models import Delivery, DeliveryAttempt, DeliveryStatus
from credit.receiver import ReceiverServer
from credit.service import amend, expire_due, revoke
from credit.service.deliveries import resend
from credit.service.push import claim, push_due, send
from credit.service.receivers import save_receiver
from tenderhall.db import Database
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from tests import factories
from tests.credit.conftest import SUPERVISOR, T0, upheld, with_credit

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Settings with a short push timeout, so that a receiver that answers late times out quickly."""
    return with_credit(settings, push_timeout_seconds=0.5)


def _receiver(tmp_path: Path, settings: Settings, **kw: object) -> ReceiverServer:
    return ReceiverServer(
        tmp_path / "receiver.db", public_key_pem=platform_signer(settings).public_key_pem, **kw
    ).start()  # type: ignore[arg-type]


def _deliveries(db: Database) -> list[Delivery]:
    with db.unit_of_work() as s:
        rows = list(s.execute(sa.select(Delivery).order_by(Delivery.id)).scalars())
        for r in rows:
            s.expunge(r)
    return rows


def _events_for_three_subjects(db: Database, settings: Settings) -> None:
    """Subject A: published, changed, revoked; B: published, expired; C: published."""
    with db.unit_of_work() as s:
        a = upheld(s, settings, code=factories.credit_code(), publish_it=True, decided_at=T0)
        b = upheld(
            s, settings, code=factories.credit_code(), publish_it=True, decided_at=T0, publication_days=90
        )
        upheld(
            s, settings, code=factories.credit_code(), type_code="BID_RIGGING", publish_it=True, decided_at=T0
        )
        amend(s, SUPERVISOR, a.id, reason="更正文号", decision_number="榕罚〔2026〕100号", now=T0 + DAY)
        revoke(s, SUPERVISOR, a.id, reason="复议撤销", now=T0 + 2 * DAY)
        assert expire_due(s, SUPERVISOR, now=b.public_until) == 1


def test_every_event_arrives_once_in_order_per_subject_through_outages(
    db: Database, fast: Settings, tmp_path: Path
) -> None:
    rx = _receiver(tmp_path, fast)
    port = rx.port
    rx.stop()  # the receiver is down: its port refuses connections
    with db.unit_of_work() as s:
        save_receiver(s, SUPERVISOR, name="省公共信用信息平台", url=f"http://127.0.0.1:{port}/events")
    _events_for_three_subjects(db, fast)
    start = T0 + 100 * DAY
    # down for twelve days: every attempt fails, nothing is lost, nothing is given up yet
    for days in (0, 1, 3, 7, 12):
        report = push_due(db.unit_of_work, fast, now=start + days * DAY)
        assert report.delivered == 0
        assert report.attempted == 3
    rows = _deliveries(db)
    assert len(rows) == 6
    assert all(r.status == DeliveryStatus.pending for r in rows)
    heads = {r.subject_key: r for r in sorted(rows, key=lambda r: r.change_id, reverse=True)}
    assert sorted(r.attempts for r in rows) == [0, 0, 0, 5, 5, 5]
    assert all(r.attempts == 5 for r in heads.values())
    # it comes back answering 500, then garbage, then too late (it stores, the ack is lost)
    rx = _receiver(tmp_path, fast, port=port, mode="500")
    try:
        assert push_due(db.unit_of_work, fast, now=start + 12 * DAY + 6 * HOUR).delivered == 0
        rx.set_mode("garbage")
        assert push_due(db.unit_of_work, fast, now=start + 12 * DAY + 12 * HOUR).delivered == 0
        rx.set_mode("timeout", delay_seconds=1.5)
        report = push_due(db.unit_of_work, fast, now=start + 12 * DAY + 18 * HOUR)
        assert report.delivered == 0
        assert report.errors == ["timeout"] * 3
        assert len(rx.store.all()) == 3  # received, but not acknowledged
        rx.set_mode("ok")
        report = push_due(db.unit_of_work, fast, now=start + 13 * DAY + 12 * HOUR)
        assert report.delivered == 6
        received = httpx.get(f"{rx.url}/events").json()
    finally:
        rx.stop()
    rows = _deliveries(db)
    assert all(r.status == DeliveryStatus.delivered for r in rows)
    # once in effect: one stored event per idempotency key, the timed-out three arrived twice
    assert sorted(e["idempotency_key"] for e in received) == sorted(r.idempotency_key for r in rows)
    assert sorted(e["times_received"] for e in received) == [1, 1, 1, 2, 2, 2]
    # in order per subject: first arrivals of each subject's events follow the change order
    by_subject: dict[str, list[int]] = {}
    for e in received:
        by_subject.setdefault(e["subject_key"], []).append(e["event_id"])
    assert sorted(len(v) for v in by_subject.values()) == [1, 2, 3]
    assert all(ids == sorted(ids) for ids in by_subject.values())
    kinds = [e["type"] for e in received if len(by_subject[e["subject_key"]]) == 3]
    assert kinds == ["credit.record.published", "credit.record.changed", "credit.record.revoked"]
    with db.unit_of_work() as s:
        attempts = s.execute(sa.select(sa.func.count()).select_from(DeliveryAttempt)).scalar()
    assert attempts == 3 * 5 + 3 * 3 + 6


def test_a_worker_killed_mid_delivery_resumes_after_its_lease(
    db: Database, fast: Settings, tmp_path: Path
) -> None:
    rx = _receiver(tmp_path, fast)
    try:
        with db.unit_of_work() as s:
            save_receiver(s, SUPERVISOR, name="省平台", url=f"{rx.url}/events")
            upheld(s, fast, code=factories.credit_code(), publish_it=True, decided_at=T0)
        now = T0 + DAY
        # the worker claims and sends, then dies before recording the acknowledgement
        with db.unit_of_work() as s:
            claimed = claim(s, fast, now=now, limit=10)
        assert len(claimed) == 1
        with httpx.Client() as client:
            ok, _, _ = send(client, claimed[0], platform_signer(fast), 5)
        assert ok
        # while its lease runs, nobody else sends it
        assert push_due(db.unit_of_work, fast, now=now + dt.timedelta(seconds=60)).attempted == 0
        report = push_due(db.unit_of_work, fast, now=claimed[0].lease_until)
        assert report.delivered == 1
        received = rx.store.all()
    finally:
        rx.stop()
    assert len(received) == 1
    assert received[0]["times_received"] == 2
    assert _deliveries(db)[0].status == DeliveryStatus.delivered


def test_a_receiver_down_past_the_give_up_period_makes_dead_letters_that_can_be_resent(
    db: Database, fast: Settings, tmp_path: Path
) -> None:
    rx = _receiver(tmp_path, fast)
    port = rx.port
    rx.stop()
    code = factories.credit_code()
    with db.unit_of_work() as s:
        save_receiver(s, SUPERVISOR, name="省平台", url=f"http://127.0.0.1:{port}/events")
        v = upheld(s, fast, code=code, publish_it=True, decided_at=T0)
        amend(s, SUPERVISOR, v.id, reason="更正", facts="更正后的事实", now=T0 + HOUR)
    start = T0 + DAY
    push_due(db.unit_of_work, fast, now=start)
    report = push_due(db.unit_of_work, fast, now=start + 14 * DAY)
    assert report.dead == 1
    first, second = _deliveries(db)
    assert (first.status, second.status, second.attempts) == (DeliveryStatus.dead, DeliveryStatus.pending, 0)
    # the dead letter still holds back the subject's later event
    assert push_due(db.unit_of_work, fast, now=start + 15 * DAY).attempted == 0
    rx = _receiver(tmp_path, fast, port=port)
    try:
        with db.unit_of_work() as s:
            resend(s, SUPERVISOR, first.id, now=start + 20 * DAY)
        assert push_due(db.unit_of_work, fast, now=start + 20 * DAY).delivered == 2
        got = [e["type"] for e in rx.store.all()]
    finally:
        rx.stop()
    assert got == ["credit.record.published", "credit.record.changed"]


def test_a_bad_signature_is_refused_by_the_receiver(tmp_path: Path) -> None:
    fast = Settings(key_dir=tmp_path / "keys")
    rx = _receiver(tmp_path, fast)
    try:
        body = b'{"idempotency_key":"k1"}'
        sig = platform_signer(fast).sign(body + b" ")
        import base64

        r = httpx.post(
            f"{rx.url}/events",
            content=body,
            headers={"Idempotency-Key": "k1", "X-TenderHall-Signature": base64.b64encode(sig).decode()},
        )
        assert r.status_code == 403
        assert rx.store.all() == []
    finally:
        rx.stop()


def test_the_receiver_command_runs_as_a_real_server_and_stores_a_signed_event(tmp_path: Path) -> None:
    fast = Settings(key_dir=tmp_path / "keys")
    import base64
    import json
    import os
    import subprocess
    import sys

    key = tmp_path / "platform.pem"
    key.write_text(platform_signer(fast).public_key_pem)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenderhall.cli",
            "credit",
            "receiver",
            "--port",
            "0",
            "--db",
            str(tmp_path / "r.db"),
            "--public-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TENDERHALL_KEY_DIR": str(tmp_path / "keys")},
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ")[1].split(" ")[0]
        body = json.dumps(
            {"idempotency_key": "k-1", "event_id": 1, "type": "credit.record.published"}
        ).encode()
        headers = {
            "Idempotency-Key": "k-1",
            "X-TenderHall-Signature": base64.b64encode(platform_signer(fast).sign(body)).decode(),
        }
        first = httpx.post(url, content=body, headers=headers)
        second = httpx.post(url, content=body, headers=headers)
        assert first.json() == {"status": "ok", "idempotency_key": "k-1"}
        assert second.json()["status"] == "duplicate"
        stored = httpx.get(url).json()
        assert [(e["idempotency_key"], e["times_received"]) for e in stored] == [("k-1", 2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_delivery_log_lists_one_records_deliveries_and_counts_them_by_status(
    db: Database, settings: Settings
) -> None:
    from credit.service.deliveries import count_by_status, list_deliveries

    with db.unit_of_work() as s:
        save_receiver(s, SUPERVISOR, name="省平台", url="http://127.0.0.1:9/events")
    _events_for_three_subjects(db, settings)  # 3 + 2 + 1 deliveries, all pending
    with db.unit_of_work() as s:
        every = list_deliveries(s, limit=1000)
        first = s.get(Delivery, every[-1].id)
        assert first is not None
        first.status = DeliveryStatus.delivered
        s.add(first)
    with db.unit_of_work() as s:
        by_record = {
            vid: [d.id for d in list_deliveries(s, violation_id=vid)]
            for vid in {d.violation_id for d in every}
        }
        counts = count_by_status(s)
    assert sorted(len(ids) for ids in by_record.values()) == [1, 2, 3]
    assert by_record == {vid: [d.id for d in every if d.violation_id == vid] for vid in by_record}
    assert counts == {"pending": 5, "delivered": 1}


def test_the_back_off_doubles_from_the_base_the_settings_give_up_to_their_cap() -> None:
    from credit.service.push import backoff

    settings = with_credit(Settings(), push_base_backoff_seconds=10.0, push_max_backoff_seconds=35.0)
    assert [backoff(n, settings).total_seconds() for n in (1, 2, 3, 4)] == [10.0, 20.0, 35.0, 35.0]
    assert backoff(1, Settings()).total_seconds() == 30.0  # the default base


def test_one_round_claims_as_many_deliveries_as_the_push_batch_setting_and_leases_them_for_its_lease(
    db: Database, fast: Settings, tmp_path: Path
) -> None:
    rx = _receiver(tmp_path, fast)
    port = rx.port
    rx.stop()  # refused connections: every attempt fails at once
    with db.unit_of_work() as s:
        save_receiver(s, SUPERVISOR, name="省平台", url=f"http://127.0.0.1:{port}/events")
    _events_for_three_subjects(db, fast)  # three subjects: three deliveries due at once
    small = with_credit(fast, push_batch=2, push_lease_seconds=45)
    start = T0 + 100 * DAY
    assert push_due(db.unit_of_work, small, now=start, rounds=1).attempted == 2
    with db.unit_of_work() as s:
        leased = claim(s, small, now=start + DAY, limit=small.credit.push_batch)
    assert len(leased) == 2
    assert {c.lease_until for c in leased} == {start + DAY + dt.timedelta(seconds=45)}
