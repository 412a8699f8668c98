"""Public tender search over 100,000 tenders (SQLite and PostgreSQL) beside a bare Litestar JSON
endpoint, same run, same HTTP server set-up (``tenderhall.serving``: uvicorn, one process and
one per core, the same for both), same load generator.

Figures per database: p95 latency of sequential requests (lower is better; target <= 50 ms, reported
as the ratio to the bare endpoint and in the note) and throughput with concurrent clients
(target >= 0.25 x bare), in alternating windows beside the bare endpoint (``bench.http_load``).

Environment: ``TENDERHALL_BENCH_DATABASE_URL`` (PostgreSQL server URL; a temporary database is
created and dropped; default ``TENDERHALL_TEST_DATABASE_URL``; without either only SQLite runs),
``TENDERHALL_BENCH_TENDERS`` (default 100000), ``TENDERHALL_BENCH_REQUESTS`` (sequential requests
per figure, default 400), ``TENDERHALL_BENCH_SECONDS`` (throughput time, default 8),
``TENDERHALL_BENCH_CONCURRENCY`` (default 8).
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import Result
from bench.http_load import (
    Endpoint,
    LoadSettings,
    app_environment,
    bare_endpoint,
    bare_json_app,
    bare_p95_ms,
    beside_bare,
    checkpoint,
    env_setting,
    p50_ms,
    p95_ms,
    paired_throughput,
    postgres_server_url,
    sequential_latencies,
    temporary_postgres_database,
)

REGIONS = ["鼓楼区", "台江区", "仓山区", "晋安区", "马尾区", "长乐区", "闽侯县", "连江县", "罗源县", "闽清县"]
PLACES = [
    "东街口",
    "南后街",
    "五一广场",
    "金山",
    "洪山",
    "上渡",
    "滨江",
    "西湖",
    "屏山",
    "乌山",
    "琴亭",
    "江北",
    "新店",
    "湖前",
    "盖山",
    "城门",
    "螺洲",
    "建新",
    "首山",
    "荆溪",
]
OBJECTS = [
    "市政道路",
    "排水管网",
    "老旧小区",
    "学校教学楼",
    "社区卫生服务中心",
    "体育馆",
    "公园绿地",
    "河道整治",
    "路灯照明",
    "停车场",
    "污水处理厂",
    "保障性住房",
    "桥梁",
    "档案馆",
    "图书馆",
    "急救中心",
    "垃圾转运站",
]
KINDS = {
    "works": ["改造工程施工", "新建工程施工", "提升改造工程", "维修加固工程", "配套设施工程"],
    "goods": ["设备采购", "办公家具采购", "信息化设备采购", "医疗设备采购", "车辆采购"],
    "services": ["物业管理服务", "监理服务", "设计服务", "绿化养护服务", "保洁服务", "造价咨询服务"],
}
METHODS = ["open"] * 6 + ["invited", "competitive_negotiation", "competitive_consultation", "inquiry"]
STATES = ["published"] * 3 + ["amended", "closed", "closed", "cancelled", "failed", "evaluating", "awarded"]
KEYWORDS = [
    "道路",
    "改造工程",
    "设备采购",
    "物业管理",
    "鼓楼",
    "学校",
    "排水管网",
    "医疗设备",
    "绿化养护",
    "桥梁",
    "急救中心",
    "停车场",
    "监理",
    "洪山老旧小区",
]


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        from tests.conftest import migrate

        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{Path(d) / 'bench.db'}"
            migrate(url)
            yield url
        return
    server = postgres_server_url()
    assert server
    with temporary_postgres_database("thbench_search", server) as url:
        yield url


def _populate(url: str, n: int) -> float:
    """Insert ``n`` published tenders (plus their tenderee organisations) with Core, in batches."""
    from tenderhall.db import make_sync_engine
    from tenderhall.identifiers import make_credit_code
    from tenderhall.registry import import_all_models

    import_all_models()
    from tenderhall.auth.models import Organisation
    from trading.models import Tender, TenderTerm, TermStat

    rnd = random.Random(20261125)
    started = time.perf_counter()
    engine = make_sync_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        orgs = [
            {
                "credit_code": make_credit_code(f"1135010{i:010d}"),
                "name": f"{REGIONS[i % len(REGIONS)]}某局{i}",
                "kind": "tenderee",
                "created_at": now,
            }
            for i in range(200)
        ]
        conn.execute(sa.insert(Organisation), orgs)
        org_ids = list(conn.execute(sa.select(Organisation.id)).scalars())
    batch: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for i in range(n):
            cat = rnd.choice(list(KINDS))
            region = rnd.choice(REGIONS)
            title = f"{region}{rnd.choice(PLACES)}{rnd.choice(OBJECTS)}{rnd.choice(KINDS[cat])}"
            published = now - dt.timedelta(minutes=rnd.randint(0, 2 * 365 * 24 * 60))
            ref = f"TH-B{i:07d}"
            batch.append(
                {
                    "reference": ref,
                    "ocid": "ocds-th0001-" + ref,
                    "title": title,
                    "description": "",
                    "announcement": "",
                    "category": cat,
                    "method": rnd.choice(METHODS),
                    "government_investment": cat == "works",
                    "funding_source": "",
                    "region": region,
                    "tenderee_org_id": rnd.choice(org_ids),
                    "budget_fen": rnd.randint(10, 50_000) * 1_000_000,
                    "duration_days": rnd.randint(30, 720),
                    "evaluation_method": "comprehensive",
                    "bid_deadline_at": published + dt.timedelta(days=21),
                    "opening_custodians": [],
                    "bond_waived": False,
                    "bond_rule": "",
                    "state": rnd.choice(STATES),
                    "state_changed_at": published,
                    "published_at": published,
                    "amendment_count": 0,
                    "created_at": published,
                    "updated_at": published,
                    "version": 1,
                }
            )
            if len(batch) == 5000:
                postings += _flush(conn, Tender, batch)
                batch = []
        if batch:
            postings += _flush(conn, Tender, batch)
        postings.sort(key=lambda r: (r["term"], r["published_at"], r["tender_id"]))
        for i in range(0, len(postings), 20000):
            conn.execute(sa.insert(TenderTerm), postings[i : i + 20000])
        counts: dict[str, int] = {}
        for r in postings:
            counts[r["term"]] = counts.get(r["term"], 0) + 1
        conn.execute(sa.insert(TermStat), [{"term": t, "postings": n} for t, n in counts.items()])
    # the steady state autovacuum keeps in production: statistics and a visibility map
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        if engine.dialect.name == "postgresql":
            checkpoint(conn.connection.driver_connection)
    engine.dispose()
    return time.perf_counter() - started


def _flush(conn: Any, table: Any, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert a batch of tenders; return their keyword-index rows (what publishing writes)."""
    from trading.service.search_index import terms

    conn.execute(sa.insert(table), batch)
    ids = dict(
        conn.execute(
            sa.select(table.reference, table.id).where(table.reference.in_([b["reference"] for b in batch]))
        ).all()
    )
    return [
        {
            "term": t,
            "published_at": b["published_at"],
            "tender_id": ids[b["reference"]],
            "title_lc": b["title"].lower(),
            "state": b["state"],
            "category": b["category"],
            "method": b["method"],
            "region": b["region"],
        }
        for b in batch
        for t in terms(b["title"])
    ]


def _queries(rnd: random.Random, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        q: dict[str, Any] = {}
        roll = rnd.random()
        if roll < 0.7:
            q["q"] = rnd.choice(KEYWORDS)
        if rnd.random() < 0.3:
            q["category"] = rnd.choice(list(KINDS))
        if rnd.random() < 0.3:
            q["status"] = "open"
        if rnd.random() < 0.2:
            q["region"] = rnd.choice(REGIONS)
        if rnd.random() < 0.15:
            q["method"] = rnd.choice(METHODS)
        if rnd.random() < 0.15:
            start = dt.date.today() - dt.timedelta(days=rnd.randint(30, 600))
            q["date_from"] = start.isoformat()
            q["date_to"] = (start + dt.timedelta(days=90)).isoformat()
        if rnd.random() < 0.2:
            q["page"] = rnd.randint(2, 5)
        out.append(q)
    return out


def bare_app() -> Any:
    """The baseline: a bare Litestar JSON endpoint answering in the shape of an empty search page."""
    return bare_json_app({"items": [], "page": 1, "page_size": 20, "total": 0})


def _measure(url: str, load: LoadSettings, processes: int) -> dict[str, Any]:
    rnd = random.Random(7)
    params = _queries(rnd, load.requests)
    with beside_bare("bench.bench_tender_search:bare_app", app_environment(url), processes) as (bare, base):
        out: dict[str, Any] = {"bare_p95": bare_p95_ms(bare, load)}
        times = sequential_latencies(base, "/api/trading/tenders", params)
        out["search_p95"] = p95_ms(times)
        out["search_p50"] = p50_ms(times)
        paired = paired_throughput(bare_endpoint(bare), Endpoint(base, "/api/trading/tenders", params), load)
    out["bare_rps"], out["search_rps"], out["spread"] = (
        paired.baseline_rps,
        paired.platform_rps,
        paired.spread(),
    )
    return out


def run() -> list[Result]:
    n = int(env_setting("TENDERHALL_BENCH_TENDERS", "100000"))
    load = LoadSettings.from_env()
    kinds = ["sqlite"]
    if postgres_server_url():
        kinds.append("postgresql")
    else:
        print("PostgreSQL skipped: set TENDERHALL_BENCH_DATABASE_URL", flush=True)
    results: list[Result] = []
    for kind in kinds:
        with _database(kind) as url:
            load_s = _populate(url, n)
            print(f"{kind}: {n:,} tenders loaded in {load_s:.1f} s", flush=True)
            label = "SQLite" if kind == "sqlite" else "PostgreSQL"
            for processes in load.processes:
                m = _measure(url, load, processes)
                setup = f"{label}, {processes} web process{'es' if processes > 1 else ''}"
                results.append(
                    Result(
                        name=f"search p95, sequential ({setup})",
                        value=m["search_p95"],
                        unit="ms",
                        baseline_name="bare Litestar JSON p95",
                        baseline_value=m["bare_p95"],
                        higher_is_better=False,
                        note=f"target p95 <= 50 ms: {'ok' if m['search_p95'] <= 50 else 'MISSED'} "
                        f"({m['search_p95']:.1f} ms; median {m['search_p50']:.1f} ms)",
                    )
                )
                results.append(
                    Result(
                        name=f"search throughput, {load.concurrency} clients ({setup})",
                        value=m["search_rps"],
                        unit="requests/s",
                        baseline_name="bare Litestar JSON throughput",
                        baseline_value=m["bare_rps"],
                        target_ratio=0.25,
                        note=f"{load.rounds} alternating rounds of {load.seconds / load.rounds:g} s "
                        f"each; {m['spread']}",
                    )
                )
    return results
