"""Credit standing: the question the rest of the platform asks before accepting a bid or drawing
an expert (一处受罚，处处受限). See :func:`standing`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import Blacklisted
from credit.models import Outcome, Violation, ViolationType
from credit.service.subjects import Subject
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from tenderhall.web.i18n import local_time

TIER_LABELS = {
    "A": ("A 信用良好", "A good standing"),
    "B": ("B 一般关注", "B under general attention"),
    "C": ("C 重点关注", "C under close attention"),
    "D": ("D 谨慎交易（黑名单）", "D trade with caution (blacklisted)"),
}


@dataclass(frozen=True)
class StandingRecord:
    """One upheld record behind a standing, with the moments it stops counting / listing."""

    id: int
    type_code: str
    type_name_zh: str
    type_name_en: str
    severity: str
    points: int
    decided_at: dt.datetime
    counts: bool  # its points count at the moment asked
    counts_until: dt.datetime  # end of the rolling window (or repair / revocation)
    lists: bool  # it blacklists by itself at the moment asked
    listed_until: dt.datetime | None


@dataclass(frozen=True)
class Standing:
    """A subject's credit standing at one moment.

    - ``tier``: "A" (0 points), "B" (1–5), "C" (6–11), "D" (≥ 12, or any record of a type that
      blacklists at once, i.e. the serious ones, while its listing lasts); thresholds are settings.
    - ``points``: sum of the points of upheld records decided within the rolling window
      (settings.credit.score_window_days, 365) before ``at``; a record decided at T counts for
      T ≤ at < T + window (so exactly one window later it no longer counts), and stops counting
      when it is repaired or revoked.
    - ``blacklisted``: tier D. ``listing_until``: when the listing ends if nothing new happens
      (None when not blacklisted).
    - ``records``: the upheld records behind the figures (including ones that no longer count,
      flagged with ``counts=False``, for explanation).
    - ``explanation_zh`` / ``explanation_en``: one sentence a person can read.
    """

    subject_key: str
    tier: str
    points: int
    blacklisted: bool
    listing_until: dt.datetime | None
    records: list[StandingRecord] = field(default_factory=list)
    explanation_zh: str = ""
    explanation_en: str = ""
    at: dt.datetime | None = None

    @property
    def tier_label_zh(self) -> str:
        return TIER_LABELS[self.tier][0]

    @property
    def tier_label_en(self) -> str:
        return TIER_LABELS[self.tier][1]


def _min_time(*ts: dt.datetime | None) -> dt.datetime:
    return min(t for t in ts if t is not None)


def standing(
    session: Session,
    subject: Subject | str,
    at: dt.datetime | None = None,
    *,
    settings: Settings,
) -> Standing:
    """Return the credit standing of ``subject`` at ``at`` (default: now).

    For other modules: call this (or :func:`may_bid` / :func:`may_be_drawn`) before accepting a bid
    or drawing an expert; refuse when ``.blacklisted`` is true and show ``.explanation_zh`` /
    ``.explanation_en``. ``subject`` is a :class:`credit.service.subjects.Subject`
    (``Subject.company(code)``, ``Subject.expert(user_id)``, ``Subject.person(id_number, settings)``)
    or a subject key string (``"code:<credit code>"``). The answer is computed from timestamps, so
    ``at`` may be any past or future moment (a future ``at`` assumes nothing new happens). Pure
    read: no audit event, no writes.
    """
    cfg = settings.credit
    at = at or utcnow()
    key = subject.key if isinstance(subject, Subject) else subject
    window = dt.timedelta(days=cfg.score_window_days)
    rows = session.execute(
        sa.select(Violation, col(ViolationType.name_zh), col(ViolationType.name_en))
        .join(ViolationType, col(ViolationType.id) == col(Violation.type_id))
        .where(
            col(Violation.subject_key) == key,
            col(Violation.outcome) == Outcome.upheld,
            col(Violation.decided_at) <= at,
        )
        .order_by(col(Violation.decided_at), col(Violation.id))
    ).all()
    recs: list[StandingRecord] = []
    for v, name_zh, name_en in rows:
        assert v.decided_at is not None
        assert v.id is not None
        counts_until = _min_time(v.decided_at + window, v.repaired_at, v.revoked_at)
        listed_until = (
            _min_time(v.public_until, v.repaired_at, v.revoked_at)
            if (v.blacklists and v.public_until is not None)
            else None
        )
        recs.append(
            StandingRecord(
                id=v.id,
                type_code=v.type_code,
                type_name_zh=name_zh,
                type_name_en=name_en,
                severity=str(v.severity),
                points=v.points,
                decided_at=v.decided_at,
                counts=at < counts_until,
                counts_until=counts_until,
                lists=listed_until is not None and at < listed_until,
                listed_until=listed_until,
            )
        )
    counting = [r for r in recs if r.counts]
    points = sum(r.points for r in counting)
    listing = [r for r in recs if r.lists]
    if points >= cfg.tier_d_min or listing:
        tier = "D"
    elif points >= cfg.tier_c_min:
        tier = "C"
    elif points >= cfg.tier_b_min:
        tier = "B"
    else:
        tier = "A"
    listing_until: dt.datetime | None = None
    if tier == "D":
        ends = [r.listed_until for r in listing if r.listed_until is not None]
        if points >= cfg.tier_d_min:
            # when enough records leave the window for the points to fall below the D threshold
            remaining = points
            for r in sorted(counting, key=lambda r: r.counts_until):
                remaining -= r.points
                if remaining < cfg.tier_d_min:
                    ends.append(r.counts_until)
                    break
        listing_until = max(ends) if ends else None
    zh, en = _explain(tier, points, counting, listing, listing_until, cfg.score_window_days)
    return Standing(key, tier, points, tier == "D", listing_until, recs, zh, en, at)


def _explain(
    tier: str,
    points: int,
    counting: list[StandingRecord],
    listing: list[StandingRecord],
    until: dt.datetime | None,
    window_days: int,
) -> tuple[str, str]:
    label_zh, label_en = TIER_LABELS[tier]
    if not counting and not listing:
        return (
            f"信用等级 {label_zh}：近{window_days}天内无成立的失信记录。",
            f"Tier {label_en}: no upheld violation in the last {window_days} days.",
        )
    parts_zh = "；".join(f"#{r.id} {r.type_name_zh} {r.points}分" for r in counting)
    parts_en = "; ".join(f"#{r.id} {r.type_name_en} {r.points} pts" for r in counting)
    zh = f"信用等级 {label_zh}：近{window_days}天内成立的失信记录共 {points} 分（{parts_zh}）。"
    en = f"Tier {label_en}: {points} points from upheld records in the last {window_days} days ({parts_en})."
    if listing:
        ids = ", ".join(f"#{r.id}" for r in listing)
        zh += f"严重失信记录 {ids} 列入黑名单。"
        en += f" Serious record(s) {ids} blacklist the subject."
    if until is not None:
        zh += f"列入黑名单至 {local_time(until, '%Y-%m-%d %H:%M:%S')}（北京时间）。"
        en += f" Listed until {local_time(until, '%Y-%m-%d %H:%M:%S')} Beijing time."
    return zh, en


@dataclass(frozen=True)
class Eligibility:
    """The answer to "may this company bid?" / "may this expert be drawn?"."""

    allowed: bool
    reason_zh: str
    reason_en: str
    standing: Standing

    def raise_if_refused(self) -> None:
        if not self.allowed:
            raise Blacklisted(
                self.reason_zh,
                self.reason_en,
                extra={
                    "tier": self.standing.tier,
                    "listing_until": self.standing.listing_until.isoformat()
                    if self.standing.listing_until
                    else None,
                },
            )


def may_bid(
    session: Session, credit_code: str, at: dt.datetime | None = None, *, settings: Settings
) -> Eligibility:
    """May the company with ``credit_code`` submit a bid at ``at``? (InvalidCreditCode if malformed.)
    Call ``.raise_if_refused()`` to turn a refusal into a 403 with the reason."""
    s = standing(session, Subject.company(credit_code), at, settings=settings)
    if s.blacklisted:
        return Eligibility(
            False,
            f"该企业已被列入失信黑名单，不得投标。{s.explanation_zh}",
            f"The company is blacklisted and may not bid. {s.explanation_en}",
            s,
        )
    return Eligibility(True, s.explanation_zh, s.explanation_en, s)


def may_be_drawn(
    session: Session, expert_user_id: int, at: dt.datetime | None = None, *, settings: Settings
) -> Eligibility:
    """May the expert (core_user id) be drawn for a committee at ``at``?"""
    s = standing(session, Subject.expert(expert_user_id), at, settings=settings)
    if s.blacklisted:
        return Eligibility(
            False,
            f"该专家已被列入失信黑名单，不得抽取。{s.explanation_zh}",
            f"The expert is blacklisted and may not be drawn. {s.explanation_en}",
            s,
        )
    return Eligibility(True, s.explanation_zh, s.explanation_en, s)
