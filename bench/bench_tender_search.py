"""Public tender search over 100,000 tenders (SQLite and PostgreSQL) beside a bare Litestar JSON
endpoint, same run, same HTTP server set-up (uvicorn, one process), same load generator.

Figures per database: p95 latency of sequential requests (lower is better; target <= 50 ms, reported
as the ratio to the bare endpoint and in the note) and throughput with concurrent clients
(target >= 0.3 x bare).

Environment: ``TENDERHALL_BENCH_DATABASE_URL`` (PostgreSQL server URL; a temporary database is
created and dropped; default ``TENDERHALL_TEST_DATABASE_URL``; without either only SQLite runs),
``TENDERHALL_BENCH_TENDERS`` (default 100000), ``TENDERHALL_BENCH_REQUESTS`` (sequential requests
per figure, default 400), ``TENDERHALL_BENCH_SECONDS`` (throughput window, default 8),
``TENDERHALL_BENCH_CONCURRENCY`` (default 8).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import Result

ROOT = Path(__file__).resolve().parents[1]
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


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _database(kind: str) -> Iterator[str]:
    from tests.conftest import migrate

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{Path(d) / 'bench.db'}"
            migrate(url)
            yield url
        return
    server = os.environ.get("TENDERHALL_BENCH_DATABASE_URL") or os.environ.get("TENDERHALL_TEST_DATABASE_URL")
    assert server
    base = sa.engine.make_url(server).set(drivername="postgresql+psycopg")
    name = f"thbench_search_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _populate(url: str, n: int) -> float:
    """Insert ``n`` published tenders (plus their tenderee organisations) with Core, in batches."""
    from tenderhall.db import make_sync_engine
    from tenderhall.identifiers import make_credit_code
    from tenderhall.registry import import_all_models

    import_all_models()
    from tenderhall.auth.models import Organisation
    from trading.models import Tender, TenderTerm

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
    # the steady state autovacuum keeps in production: statistics and a visibility map
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
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


@contextmanager
def _server(app_ref: str, env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app_ref,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health-bench-probe", timeout=1).status_code in (200, 404):
                    break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}") from None  # type: ignore[union-attr]
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def bare_app() -> Any:
    """The baseline: a bare Litestar app with one JSON endpoint."""
    from litestar import Litestar, get

    @get("/bare", sync_to_thread=False)
    def bare() -> dict[str, Any]:
        return {"items": [], "page": 1, "page_size": 20, "total": 0}

    return Litestar([bare])


def search_app() -> Any:
    """The platform app (no in-process job runtime: only the search is measured)."""
    from tenderhall.app import create_app
    from tenderhall.settings import Settings

    return create_app(Settings(), run_jobs_inprocess=False)


async def _sequential(base: str, path: str, params: list[dict[str, Any]]) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for p in params[:20]:  # warm-up
            (await c.get(path, params=p)).raise_for_status()
        for p in params:
            t = time.perf_counter()
            r = await c.get(path, params=p)
            times.append(time.perf_counter() - t)
            r.raise_for_status()
    return times


async def _throughput(base: str, path: str, params: list[dict[str, Any]], seconds: float, conc: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            j = i
            while time.perf_counter() < stop:
                (await c.get(path, params=params[j % len(params)])).raise_for_status()
                done += 1
                j += conc

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(conc)))
    return done / (time.perf_counter() - started)


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[94] * 1000


def _measure(url: str, n_requests: int, seconds: float, conc: int) -> dict[str, float]:
    rnd = random.Random(7)
    params = _queries(rnd, n_requests)
    env = {
        "TENDERHALL_DATABASE_URL": url,
        "TENDERHALL_BROKER_URL": "memory://",
        "TENDERHALL_LOG_LEVEL": "WARNING",
    }
    out: dict[str, float] = {}
    with _server("bench.bench_tender_search:bare_app", env) as base:
        out["bare_p95"] = _p95(asyncio.run(_sequential(base, "/bare", [{}] * n_requests)))
        out["bare_rps"] = asyncio.run(_throughput(base, "/bare", [{}], seconds, conc))
    with _server("bench.bench_tender_search:search_app", env) as base:
        times = asyncio.run(_sequential(base, "/api/trading/tenders", params))
        out["search_p95"] = _p95(times)
        out["search_p50"] = statistics.median(times) * 1000
        out["search_rps"] = asyncio.run(_throughput(base, "/api/trading/tenders", params, seconds, conc))
    return out


def run() -> list[Result]:
    n = int(_env("TENDERHALL_BENCH_TENDERS", "100000"))
    n_requests = int(_env("TENDERHALL_BENCH_REQUESTS", "400"))
    seconds = float(_env("TENDERHALL_BENCH_SECONDS", "8"))
    conc = int(_env("TENDERHALL_BENCH_CONCURRENCY", "8"))
    kinds = ["sqlite"]
    if os.environ.get("TENDERHALL_BENCH_DATABASE_URL") or os.environ.get("TENDERHALL_TEST_DATABASE_URL"):
        kinds.append("postgresql")
    else:
        print("PostgreSQL skipped: set TENDERHALL_BENCH_DATABASE_URL", flush=True)
    results: list[Result] = []
    for kind in kinds:
        with _database(kind) as url:
            load_s = _populate(url, n)
            print(f"{kind}: {n:,} tenders loaded in {load_s:.1f} s", flush=True)
            m = _measure(url, n_requests, seconds, conc)
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        results.append(
            Result(
                name=f"search p95, sequential ({label}, {n // 1000}k)",
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
                name=f"search throughput, {conc} clients ({label})",
                value=m["search_rps"],
                unit="requests/s",
                baseline_name="bare Litestar JSON throughput",
                baseline_value=m["bare_rps"],
                target_ratio=0.3,
            )
        )
    return results
