"""Collect blobs that nothing references, after a grace period, each deletion audited.

A blob is *referenced* when its SHA-256 is the value of a column named ``sha256`` or ``*_sha256``
in any table (trading documents and announcements, credit decision documents, notices and
defence files, and whatever later domains store under that convention), or appears as a string
anywhere inside a JSON column (credit evidence lists cite files as ``{"type": "file", "sha256":
…}``; job arguments may name a blob). The audit chain's JSON is left out: it records hashes as
facts, and it is the one table that only grows. References are discovered from the metadata, so
a new table that follows the naming convention is covered without touching this module.

An unreferenced blob is kept for ``GRACE`` after it was last written: an evidence file is uploaded
first and cited in a later request, and a document's bytes are stored just before its row. The
deletions are recorded in the caller's transaction and the files removed only once it commits, so
a rolled-back collection deletes nothing and every deleted file has its audit event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import SYSTEM, Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import metadata, utcnow

#: How long an unreferenced blob is kept after it was written.
GRACE = dt.timedelta(hours=24)
#: JSON columns that hold no references (table, column).
NOT_REFERENCES = frozenset({("core_audit_event", "data")})

_SHA256 = re.compile(r"[0-9a-f]{64}")


def hash_columns() -> list[sa.Column[Any]]:
    """Every column whose values are blob hashes, by the naming convention."""
    return [
        c
        for t in metadata.sorted_tables
        for c in t.columns
        if c.name == "sha256" or c.name.endswith("_sha256")
    ]


def json_columns() -> list[sa.Column[Any]]:
    """Every JSON column that may cite a blob by its hash."""
    return [
        c
        for t in metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, sa.JSON) and (t.name, c.name) not in NOT_REFERENCES
    ]


def _hashes_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        v = value.lower()
        if _SHA256.fullmatch(v):
            yield v
    elif isinstance(value, dict):
        for v in value.values():
            yield from _hashes_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _hashes_in(v)


def referenced_blobs(session: Session) -> set[str]:
    """The hashes of every blob some row refers to."""
    refs: set[str] = set()
    for c in hash_columns():
        rows = session.execute(sa.select(c).where(c.is_not(None)).distinct()).scalars()
        refs.update(str(v).lower() for v in rows if v)
    for c in json_columns():
        rows = session.execute(sa.select(c).where(c.is_not(None)).execution_options(yield_per=1000)).scalars()
        for v in rows:
            refs.update(_hashes_in(v))
    return refs


def collect_unreferenced_blobs(
    session: Session,
    store: BlobStore,
    *,
    grace: dt.timedelta = GRACE,
    now: dt.datetime | None = None,
    actor: Principal | str = SYSTEM,
    limit: int = 10_000,
) -> list[str]:
    """Sweep stale temp files, then delete (after commit) every blob referenced nowhere and last
    written more than ``grace`` ago, at most ``limit`` per call; each deletion is audited.
    Returns the hashes of the blobs it deletes."""
    now = now or utcnow()
    store.sweep_temporary(now=now.timestamp())
    refs = referenced_blobs(session)
    cutoff = (now - grace).timestamp()
    doomed: list[tuple[str, float]] = []
    for sha, mtime in store.iter_blobs():
        if sha not in refs and mtime < cutoff:
            doomed.append((sha, mtime))
            if len(doomed) >= limit:
                break
    for sha, mtime in doomed:
        written = dt.datetime.fromtimestamp(mtime, dt.UTC).isoformat(timespec="seconds")
        record(
            session,
            actor,
            "storage.blob.collect",
            "blob",
            sha,
            f"删除未被任何记录引用的文件 {sha[:12]}…（写入于 {written}）"
            f" / Deleted a file no record refers to, written {written}",
            {"written_at": written},
        )
    if doomed:
        hashes = [sha for sha, _ in doomed]

        def delete_files(_session: Session) -> None:
            for sha in hashes:
                store.delete(sha)

        sa.event.listen(session, "after_commit", delete_files, once=True)
    return [sha for sha, _ in doomed]
