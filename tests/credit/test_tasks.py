"""The credit jobs run through the kernel's execution wrapper (claim, work, complete), with the
settings passed in, never read from the environment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

import credit.tasks  # noqa: F401 - declares the credit jobs
from credit.models import Delivery, DeliveryStatus, Status, Violation
from credit.receiver import ReceiverServer
from credit.service.push import save_receiver
from tenderhall.db import Database, utcnow
from tenderhall.jobs.execution import execute
from tenderhall.jobs.models import OutboxJob
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from tests import factories
from tests.credit.conftest import SUPERVISOR, upheld


def _run_jobs(db: Database, settings: Settings, name: str) -> list[str]:
    with db.unit_of_work() as s:
        ids = (
            s.execute(sa.select(OutboxJob.id).where(OutboxJob.actor_name == name).order_by(OutboxJob.id))
            .scalars()
            .all()
        )
    return [execute(db, settings, i) for i in ids]


def test_publishing_enqueues_a_push_that_the_job_delivers_and_a_notice_pdf(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    rx = ReceiverServer(tmp_path / "rx.db", public_key_pem=platform_signer(settings).public_key_pem).start()
    try:
        with db.unit_of_work() as s:
            save_receiver(s, SUPERVISOR, name="省平台", url=f"{rx.url}/events")
            v = upheld(
                s,
                settings,
                code=factories.credit_code(),
                publish_it=True,
                decided_at=utcnow() - dt.timedelta(days=1),
            )
            vid = v.id
        assert _run_jobs(db, settings, "credit.push") == ["done"]
        assert _run_jobs(db, settings, "credit.notice") == ["done"]
        assert [e["event_id"] for e in rx.store.all()] == [1]
    finally:
        rx.stop()
    with db.unit_of_work() as s:
        assert s.execute(sa.select(Delivery.status)).scalar_one() == DeliveryStatus.delivered
        v = s.get(Violation, vid)
        assert v is not None
        assert v.notice_pdf_sha256
    from tenderhall.blobs import BlobStore

    assert BlobStore(settings.blob_dir).read_bytes(v.notice_pdf_sha256).startswith(b"%PDF")


def test_the_expire_job_takes_ended_publications_out_of_view(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        v = upheld(
            s,
            settings,
            code=factories.credit_code(),
            publish_it=True,
            publication_days=90,
            decided_at=utcnow() - dt.timedelta(days=91),
        )
        vid = v.id
        from tenderhall.jobs.outbox import enqueue

        enqueue(s, "credit.expire")
    assert _run_jobs(db, settings, "credit.expire") == ["done"]
    with db.unit_of_work() as s:
        v = s.get(Violation, vid)
        assert v is not None
        assert v.status == Status.expired
