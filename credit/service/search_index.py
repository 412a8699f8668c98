"""The name-search table ``credit_public_name`` (:class:`credit.models.PublicName`, decision
0230): one narrow row for each published record, holding the fields a name search filters on
(subject name, decision time, type, severity).

Every service that moves a record into or out of publication, or changes one of those fields of
a published record, calls :func:`refresh_public_names` with the records it changed (decision
0231): today ``publish``, ``revoke``, ``expire_due`` and an approved ``decide_repair``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from credit.models import PublicName, Status, Violation, pk


def refresh_public_names(session: Session, violations: list[Violation]) -> None:
    """Rewrite the rows of ``violations`` in ``credit_public_name`` (same transaction): a row for
    each one that is published, with its current values, and none for the others."""
    if not violations:
        return
    session.flush()  # the records' own changes first (and their ids)
    table: sa.Table = PublicName.__table__  # type: ignore[attr-defined]
    session.execute(table.delete().where(table.c.violation_id.in_([pk(v) for v in violations])))
    rows = [
        {
            "violation_id": pk(v),
            "subject_name": v.subject_name,
            "decided_at": v.decided_at,
            "type_code": v.type_code,
            "severity": str(v.severity),
        }
        for v in violations
        if v.status == Status.published
    ]
    if rows:
        session.execute(table.insert(), rows)
