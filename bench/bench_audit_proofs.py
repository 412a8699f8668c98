"""Audit proofs at a million events: inclusion and consistency proofs from stored tree nodes, beside
the same proofs at 1,000 events and the old all-leaves method, all in the same run and database.

Environment: ``TENDERHALL_BENCH_DATABASE_URL`` (a PostgreSQL server URL: a temporary database is
created on it and dropped afterwards; default: a temporary SQLite file);
``TENDERHALL_BENCH_AUDIT_EVENTS`` (events loaded, default 1,000,000);
``TENDERHALL_BENCH_PROOFS`` (proofs per measurement, default 200).

The log is loaded as valid chained rows (bulk insert; the hashes are computed as ``record`` does),
then the nodes are built with ``extend_nodes`` (timed: the back-fill a migration of such a log
does). O(log n) proofs mean the figure at 1M is close to the one at 1,000 (ratio near 1, ~log2 of
the sizes: 20 against 10 subtrees at most). The old method (read every leaf of the tree, rebuild
it) is measured once per proof kind at the full size. The tree head after 1,000 more events
(incremental build and root from nodes) is compared with the old head (root over every leaf).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import Result
from bench.http_load import temporary_database

NAME = f"thbench_audit_{uuid.uuid4().hex[:8]}"


def database() -> AbstractContextManager[str]:
    """A fresh migrated database URL: temporary PostgreSQL database or SQLite file."""
    return temporary_database(NAME)


def load_events(db: Any, start: int, n: int, prev_hash: str, batch: int = 20_000) -> str:
    """Insert ``n`` valid chained events from seq ``start`` (as ``record`` would hash them)."""
    from tenderhall.audit.models import AuditEvent
    from tenderhall.audit.service import compute_hash

    table = AuditEvent.__table__  # type: ignore[attr-defined]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seq = start
    while seq < start + n:
        rows = []
        for i in range(seq, min(seq + batch, start + n)):
            row = {
                "seq": i,
                "occurred_at": base + dt.timedelta(milliseconds=i),
                "actor": "system",
                "action": "bench.change",
                "object_type": "thing",
                "object_id": str(i),
                "summary": f"变更 {i}",
                "data": json.loads(json.dumps({"i": i})),
                "prev_hash": prev_hash,
            }
            row["hash"] = prev_hash = compute_hash(prev_hash, _Row(row))
            rows.append(row)
        with db.unit_of_work() as s:
            s.execute(sa.insert(table), rows)
        seq += len(rows)
    return prev_hash


class _Row:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def _median_ms(fn: Callable[[int], object], args: list[int]) -> float:
    """The median time of ``fn(a)`` over ``args`` (the median: on a shared machine a few proofs
    land on a descheduled thread, which a mean would report as the proof's cost)."""
    times = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run() -> list[Result]:
    from tenderhall import registry
    from tenderhall.audit import merkle
    from tenderhall.audit.service import consistency_proof, inclusion_proof, leaf_hashes, sign_tree_head
    from tenderhall.audit.tree import extend_nodes
    from tenderhall.db import Database
    from tenderhall.settings import Settings
    from tenderhall.signing import platform_signer

    registry.import_all_models()
    n = int(os.environ.get("TENDERHALL_BENCH_AUDIT_EVENTS") or 1_000_000)
    proofs = int(os.environ.get("TENDERHALL_BENCH_PROOFS") or 200)
    small = 1000
    engine_name = "PostgreSQL" if os.environ.get("TENDERHALL_BENCH_DATABASE_URL") else "SQLite"
    rng = random.Random(6962)
    with database() as url, tempfile.TemporaryDirectory() as keys:
        db = Database(url)
        try:
            t = time.perf_counter()
            last = load_events(db, 0, n, "0" * 64)
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            with db.unit_of_work() as s:
                added = extend_nodes(s, n)
            build_s = time.perf_counter() - t
            if db.dialect == "postgresql":
                with db.sync_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql("VACUUM ANALYZE core_audit_event")
                    c.exec_driver_sql("VACUUM ANALYZE core_audit_node")

            seqs_big = [rng.randrange(n) for _ in range(proofs)]
            seqs_small = [rng.randrange(small) for _ in range(proofs)]
            firsts_big = [rng.randrange(1, n) for _ in range(proofs)]
            firsts_small = [rng.randrange(1, small) for _ in range(proofs)]
            with db.read_sessions() as s:
                inclusion_proof(s, 0, n)  # warm the caches alike for both sides
                inc_small, inc_big, con_small, con_big = [], [], [], []
                for _ in range(5):  # alternating rounds, so that machine load hits both sides alike
                    inc_small.append(_median_ms(lambda q: inclusion_proof(s, q, small), seqs_small))
                    inc_big.append(_median_ms(lambda q: inclusion_proof(s, q, n), seqs_big))
                    con_small.append(_median_ms(lambda m: consistency_proof(s, m, small), firsts_small))
                    con_big.append(_median_ms(lambda m: consistency_proof(s, m, n), firsts_big))
                # the old method, once: every leaf of the tree read and the tree rebuilt
                t = time.perf_counter()
                old_path = merkle.inclusion_proof(leaf_hashes(s, n), seqs_big[0])
                old_inc_ms = (time.perf_counter() - t) * 1000
                assert [p.hex() for p in old_path] == inclusion_proof(s, seqs_big[0], n).path
                t = time.perf_counter()
                old_con = merkle.consistency_proof(leaf_hashes(s, n), firsts_big[0])
                old_con_ms = (time.perf_counter() - t) * 1000
                assert [p.hex() for p in old_con] == consistency_proof(s, firsts_big[0], n).path
                s.rollback()

            # a tree head after 1,000 more events: incremental build + root from nodes, against
            # the old head's work (the root over every leaf)
            load_events(db, n, small, last)
            signer = platform_signer(Settings(database_url=url, key_dir=Path(keys)))
            t = time.perf_counter()
            with db.unit_of_work() as s:
                head = sign_tree_head(s, signer)
            head_ms = (time.perf_counter() - t) * 1000
            assert head is not None
            with db.read_sessions() as s:
                t = time.perf_counter()
                old_root = merkle.root(leaf_hashes(s, n + small)).hex()
                old_head_ms = (time.perf_counter() - t) * 1000
            assert old_root == head.root_hash
        finally:
            db.dispose()

    size = f"{n:,}"
    setup = (
        f"{engine_name}; load {n:,} events {load_s:.1f} s, build {added:,} nodes {build_s:.1f} s; "
        f"{proofs} random proofs x 5 alternating rounds, median per proof, best round"
    )
    return [
        Result(
            name=f"inclusion proof at {size} events",
            value=min(inc_big),
            unit="ms/proof",
            baseline_name=f"same, tree of {small:,} events",
            baseline_value=min(inc_small),
            higher_is_better=False,
            note=setup,
        ),
        Result(
            name=f"consistency proof at {size} events",
            value=min(con_big),
            unit="ms/proof",
            baseline_name=f"same, tree of {small:,} events",
            baseline_value=min(con_small),
            higher_is_better=False,
        ),
        Result(
            name=f"inclusion proof at {size} events",
            value=min(inc_big),
            unit="ms/proof",
            baseline_name="old all-leaves method, same size (once)",
            baseline_value=old_inc_ms,
            higher_is_better=False,
        ),
        Result(
            name=f"consistency proof at {size} events",
            value=min(con_big),
            unit="ms/proof",
            baseline_name="old all-leaves method, same size (once)",
            baseline_value=old_con_ms,
            higher_is_better=False,
        ),
        Result(
            name=f"sign tree head, {size} + {small:,} new events",
            value=head_ms,
            unit="ms",
            baseline_name="old head: root over every leaf",
            baseline_value=old_head_ms,
            higher_is_better=False,
        ),
    ]
