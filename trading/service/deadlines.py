"""The bid deadline: the minimum tender period, the clarification cut-off, and the timed close."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tenderhall.jobs.outbox import enqueue
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time
from trading.exceptions import ClarificationCutoff, DeadlineTooSoon
from trading.models import METHOD_LABELS, Tender
from trading.service.procedures import procedure_settings
from trading.service.tender_fields import aware


def ceil_hour(t: dt.datetime) -> dt.datetime:
    base = t.replace(minute=0, second=0, microsecond=0)
    return base if base == t else base + dt.timedelta(hours=1)


def min_deadline_rule(
    session: Session, settings: Settings, tender: Tender, deadline: dt.datetime, start: dt.datetime
) -> None:
    rules = procedure_settings(session, settings, tender.method)
    earliest = start + dt.timedelta(days=rules.min_tender_days)
    if deadline < earliest:
        mz, me = METHOD_LABELS[tender.method]
        raise DeadlineTooSoon(
            f"规则：{mz}自发布至投标截止不得少于{rules.min_tender_days}日；投标截止时间最早为"
            f"{local_time(earliest)}",
            f"Rule: a {me.lower()} needs at least {rules.min_tender_days} days from publication to the bid "
            f"deadline; the earliest deadline is {local_time(earliest)} "
            "(Beijing time)",
            extra={"rule": "min_tender_days", "min_days": rules.min_tender_days, "field": "bid_deadline_at"},
        )


def deadline_after_change(
    session: Session,
    settings: Settings,
    tender: Tender,
    requested: dt.datetime | None,
    now: dt.datetime,
) -> dt.datetime:
    """The deadline a clarification or amendment issued ``now`` must have.

    Less than ``clarification_cutoff_days`` before the deadline, the deadline moves so that that many
    days remain: automatically when no new deadline is given; a given one that leaves fewer days is
    refused, naming the rule.
    """
    rules = procedure_settings(session, settings, tender.method)
    required = now + dt.timedelta(days=rules.clarification_cutoff_days)
    deadline = requested if requested is not None else tender.bid_deadline_at
    if requested is not None:
        deadline = aware(requested, "投标截止时间", "The bid deadline")
        if tender.published_at is not None:
            min_deadline_rule(session, settings, tender, deadline, tender.published_at)
    if deadline < required:
        if requested is not None:
            raise ClarificationCutoff(
                f"规则：澄清或修改发出时距投标截止不足{rules.clarification_cutoff_days}日的，须顺延投标截止时间，"
                f"使其距澄清发出之日不少于{rules.clarification_cutoff_days}日；新的截止时间最早为"
                f"{local_time(ceil_hour(required))}",
                f"Rule: a clarification or amendment issued less than {rules.clarification_cutoff_days} days "
                f"before the deadline must move the deadline so that {rules.clarification_cutoff_days} days "
                f"remain; the earliest new deadline is "
                f"{local_time(ceil_hour(required))} (Beijing time)",
                extra={
                    "rule": "clarification_cutoff_days",
                    "days": rules.clarification_cutoff_days,
                    "field": "bid_deadline_at",
                },
            )
        deadline = ceil_hour(required)
    return deadline


def schedule_close(session: Session, tender: Tender) -> None:
    enqueue(
        session,
        "trading.close_tender",
        dedup_key=f"trading.close:{tender.id}:{int(tender.bid_deadline_at.timestamp())}",
        run_at=tender.bid_deadline_at,
        tender_id=tender.id,
    )
