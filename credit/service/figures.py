"""The credit figures other pages show: how many records are on public disclosure now, how many
subjects are blacklisted, and the latest disclosures (the portal's home page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.models import Status, Violation
from credit.service.disclosure import blacklist
from credit.service.search import PublicRecord, SearchQuery, search_public
from tenderhall.db import utcnow
from tenderhall.settings import Settings


@dataclass(frozen=True)
class DisclosureFigures:
    on_disclosure: int  # records published and still inside their publication period
    blacklisted: int  # subjects on the public blacklist


def on_disclosure(session: Session, at: dt.datetime) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                col(Violation.status) == Status.published,
                sa.or_(col(Violation.public_until).is_(None), col(Violation.public_until) > at),
            )
        ).scalar_one()
    )


def disclosure_figures(
    session: Session, settings: Settings, at: dt.datetime | None = None
) -> DisclosureFigures:
    at = at or utcnow()
    return DisclosureFigures(on_disclosure(session, at), len(blacklist(session, settings=settings, at=at)))


def latest_disclosures(session: Session, limit: int = 8) -> list[PublicRecord]:
    """The newest published records, as the public disclosure lists them."""
    return search_public(session, SearchQuery(limit=limit)).items
