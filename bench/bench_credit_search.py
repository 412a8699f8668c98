"""Public credit search over 1,000,000 violation records on PostgreSQL beside a bare Litestar JSON
endpoint, same run, same HTTP server set-up (``tenderhall.serving``: uvicorn, one process and
one per core, the same for both), same load generator.

Figures: p95 latency of sequential requests (lower is better; target <= 50 ms, the note gives the
absolute figures) and throughput with concurrent clients (target >= 0.25 x bare). The query mix:
company-name substrings (trigram index), exact credit codes, type / severity / date filters and
their combinations, and follow-up pages through the keyset cursor.

Environment: ``TENDERHALL_BENCH_DATABASE_URL`` (PostgreSQL server URL; a temporary database is
created, loaded with COPY and dropped; default ``TENDERHALL_TEST_DATABASE_URL``),
``TENDERHALL_BENCH_VIOLATIONS`` (default 1000000), ``TENDERHALL_BENCH_REQUESTS`` (sequential
requests, default 400), ``TENDERHALL_BENCH_SECONDS`` (throughput time, default 8),
``TENDERHALL_BENCH_CONCURRENCY`` (default 8).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
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
    measure_endpoint,
    p50_ms,
    p95_ms,
    paired_throughput,
    postgres_server_url,
    sequential_latencies,
    temporary_postgres_database,
)

CITIES = ["福州", "厦门", "泉州", "漳州", "莆田", "三明", "南平", "龙岩", "宁德", "平潭"]
BRANDS = [
    "宏远",
    "兴业",
    "鑫源",
    "建达",
    "恒通",
    "华景",
    "闽江",
    "海峡",
    "榕城",
    "东南",
    "天成",
    "正泰",
    "嘉禾",
    "永安",
    "瑞丰",
    "金盛",
    "新华",
    "中联",
    "盛世",
    "博远",
    "同创",
    "众诚",
    "信达",
    "长城",
    "远航",
    "安泰",
    "聚力",
    "广厦",
    "鼎盛",
    "富华",
    "凯旋",
    "开元",
    "汇通",
    "德润",
    "和信",
    "利民",
    "万达",
    "华宇",
    "国泰",
    "春晖",
]
TRADES = ["建设", "工程", "科技", "贸易", "路桥", "水利", "园林", "市政", "装饰", "安装"]
GIVEN = [chr(0x4E00 + (i * 37) % 20000) + chr(0x4E00 + (i * 91 + 7) % 20000) for i in range(60)]
TYPES = [
    ("BID_RIGGING", "serious", 12),
    ("QUALIFICATION_LENDING", "serious", 12),
    ("ILLEGAL_SUBCONTRACTING", "serious", 12),
    ("FALSE_MATERIALS", "serious", 12),
    ("REFUSE_AWARD", "general", 6),
    ("PROXY_CLOCK_IN", "general", 6),
    ("PERSONNEL_ABSENT", "general", 3),
    ("BOND_NOT_REFUNDED", "general", 3),
    ("MINOR_PROCEDURAL", "minor", 1),
]
STATUSES = ["published"] * 12 + ["expired"] * 4 + ["repaired", "revoked", "decided", "decided"]


def _company(i: int) -> tuple[str, str]:
    from tenderhall.identifiers import make_credit_code

    name = (
        f"{CITIES[i % 10]}{BRANDS[(i // 10) % 40]}{GIVEN[(i // 400) % 60]}{TRADES[(i // 24000) % 10]}有限公司"
    )
    return name, make_credit_code(f"9135{i:013d}")


@contextmanager
def _database() -> Iterator[str]:
    server = postgres_server_url()
    if not server:
        raise SystemExit("set TENDERHALL_BENCH_DATABASE_URL (a PostgreSQL server URL)")
    with temporary_postgres_database("thbench_credit", server) as url:
        yield url


COLUMNS = (
    "fingerprint",
    "subject_kind",
    "subject_key",
    "subject_name",
    "subject_credit_code",
    "type_id",
    "type_code",
    "severity",
    "points",
    "blacklists",
    "facts",
    "evidence",
    "status",
    "outcome",
    "decision_number",
    "decision_reasons",
    "publication_days",
    "notified_at",
    "defence_due_at",
    "decided_at",
    "public_until",
    "published_at",
    "created_by",
    "created_at",
    "updated_at",
)


def _populate(url: str, n: int) -> float:
    """COPY ``n`` violation records (about 2.5 per company) into credit_violation."""
    import psycopg

    rnd = random.Random(20261125)
    started = time.perf_counter()
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = dt.datetime.now(dt.UTC)
    companies = max(n * 2 // 5, 1)
    with psycopg.connect(dsn) as conn:
        type_ids = dict(conn.execute("SELECT code, id FROM credit_violation_type").fetchall())
        with conn.cursor() as cur, cur.copy(f"COPY credit_violation ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for i in range(n):
                c = rnd.randrange(companies)
                name, code = _company(c)
                tcode, sev, pts = TYPES[rnd.randrange(len(TYPES) - 1)] if rnd.random() < 0.95 else TYPES[-1]
                status = rnd.choice(STATUSES) if sev != "minor" else "decided"
                decided = now - dt.timedelta(minutes=rnd.randint(60, 3 * 365 * 24 * 60))
                days = 1095 if sev == "serious" else (365 if sev == "general" else 0)
                published = decided + dt.timedelta(hours=2) if status != "decided" else None
                cp.write_row(
                    (
                        hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                        "company",
                        f"code:{code}",
                        name,
                        code,
                        type_ids[tcode],
                        tcode,
                        sev,
                        pts,
                        sev == "serious",
                        f"{name}在某项目中{tcode}（基准测试数据）",
                        "[]",
                        status,
                        "upheld",
                        f"榕公管信罚〔{decided.year}〕{i}号",
                        "经调查属实。",
                        days,
                        decided - dt.timedelta(days=3),
                        decided,
                        decided,
                        decided + dt.timedelta(days=days) if days else None,
                        published,
                        "bench",
                        decided,
                        decided,
                    )
                )
        # the name-search index, as the services keep it (credit.models.PublicName)
        conn.execute(
            "INSERT INTO credit_public_name (violation_id, subject_name, decided_at, type_code, severity) "
            "SELECT id, subject_name, decided_at, type_code, severity FROM credit_violation "
            "WHERE status = 'published'"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE credit_violation")  # the steady state autovacuum keeps
        conn.execute("VACUUM ANALYZE credit_public_name")
        checkpoint(conn)
    return time.perf_counter() - started


def _queries(rnd: random.Random, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        q: dict[str, Any] = {}
        roll = rnd.random()
        c = rnd.randrange(40_000)
        name, code = _company(c)
        if roll < 0.25:
            q["q"] = f"{BRANDS[rnd.randrange(40)]}{GIVEN[rnd.randrange(60)]}"  # about 0.04 % of the names
        elif roll < 0.40:
            q["q"] = f"{CITIES[rnd.randrange(10)]}{BRANDS[rnd.randrange(40)]}"  # about 0.25 %
        elif roll < 0.50:
            q["q"] = name  # one company
        elif roll < 0.60:
            q["q"] = code  # exact credit code
        if rnd.random() < 0.25:
            q["type"] = TYPES[rnd.randrange(8)][0]
        if rnd.random() < 0.2:
            q["severity"] = rnd.choice(["general", "serious"])
        if rnd.random() < 0.15:
            start = dt.date.today() - dt.timedelta(days=rnd.randint(30, 1000))
            q["date_from"] = start.isoformat()
            q["date_to"] = (start + dt.timedelta(days=60)).isoformat()
        out.append(q)
    return out


def bare_app() -> Any:
    """The baseline: a bare Litestar JSON endpoint answering in the shape of an empty results page."""
    return bare_json_app({"items": [], "next_cursor": None})


def _in_process(url: str, params: list[dict[str, Any]]) -> tuple[float, float]:
    """The search service function alone (no HTTP, no request stack): p50 and p95 in ms."""
    from credit.service.search import SearchQuery, search_public
    from tenderhall.db import Database
    from tenderhall.registry import import_all_models

    import_all_models()
    db = Database(url)
    times = []
    try:
        with db.sync_sessions() as s:
            for p in params:
                q = SearchQuery(
                    q=p.get("q", ""),
                    type_code=p.get("type", ""),
                    severity=p.get("severity", ""),
                    date_from=dt.date.fromisoformat(p["date_from"]) if "date_from" in p else None,
                    date_to=dt.date.fromisoformat(p["date_to"]) if "date_to" in p else None,
                )
                t = time.perf_counter()
                search_public(s, q)
                times.append(time.perf_counter() - t)
    finally:
        db.dispose()
    return p50_ms(times), p95_ms(times)


def _collect_cursor(cursors: list[str]) -> Callable[[httpx.Response], None]:
    """A response hook appending each page's ``next_cursor`` (when there is one) to ``cursors``."""

    def collect(r: httpx.Response) -> None:
        body = r.json()
        nxt = body.get("next_cursor") if isinstance(body, dict) else None
        if nxt:
            cursors.append(nxt)

    return collect


def _measure(url: str, load: LoadSettings, params: list[dict[str, Any]], processes: int) -> dict[str, Any]:
    path = "/api/credit/records"
    with beside_bare("bench.bench_credit_search:bare_app", app_environment(url), processes) as (bare, base):
        out: dict[str, Any] = {"bare_p95": bare_p95_ms(bare, load)}
        cursors: list[str] = []
        times = sequential_latencies(base, path, params, on_response=_collect_cursor(cursors))
        # follow-up pages: the second page of the first queries that had one
        pages = [{**p, "cursor": c} for p, c in zip(params, cursors, strict=False)][
            : max(load.requests // 4, 1)
        ]
        times += sequential_latencies(base, path, pages)
        out["p95"], out["p50"], out["n"] = p95_ms(times), p50_ms(times), len(times)
        paired = paired_throughput(bare_endpoint(bare), Endpoint(base, path, params + pages), load)
        out["bare_rps"], out["rps"], out["spread"] = paired.baseline_rps, paired.platform_rps, paired.spread()
        # the platform's own floor: a trivial query (the 9-row catalog) through the same stack
        floor = measure_endpoint(base, "/api/credit/types", [{}], load)
        out["floor_p95"], out["floor_rps"] = floor.p95_ms, floor.requests_per_s
    return out


def run() -> list[Result]:
    n = int(env_setting("TENDERHALL_BENCH_VIOLATIONS", "1000000"))
    load = LoadSettings.from_env()
    results: list[Result] = []
    with _database() as url:
        load_s = _populate(url, n)
        print(f"postgresql: {n:,} violation records loaded in {load_s:.1f} s", flush=True)
        params = _queries(random.Random(7), load.requests)
        db_p50, db_p95 = _in_process(url, params)
        for processes in load.processes:
            m = _measure(url, load, params, processes)
            setup = f"PostgreSQL, {processes} web process{'es' if processes > 1 else ''}"
            note = (
                f"{n:,} records; p50 {m['p50']:.1f} ms, p95 {m['p95']:.1f} ms (target <= 50 ms: "
                f"{'ok' if m['p95'] <= 50 else 'BELOW'}); bare p95 {m['bare_p95']:.2f} ms; "
                f"{m['n']} requests; the search alone in-process (service function, no HTTP): "
                f"p50 {db_p50:.1f} ms, p95 {db_p95:.1f} ms"
            )
            results += [
                Result(
                    f"credit search p95 latency ({setup})",
                    m["p95"],
                    "ms",
                    "bare Litestar JSON p95",
                    m["bare_p95"],
                    higher_is_better=False,
                    note=note,
                ),
                Result(
                    f"credit search throughput ({setup})",
                    m["rps"],
                    "requests/s",
                    "bare Litestar JSON",
                    m["bare_rps"],
                    target_ratio=0.25,
                    note=f"{load.concurrency} concurrent clients, {load.rounds} alternating rounds of "
                    f"{load.seconds / load.rounds:g} s each; {m['spread']}",
                ),
                Result(
                    f"credit search throughput ({setup})",
                    m["rps"],
                    "requests/s",
                    "platform floor: GET /api/credit/types",
                    m["floor_rps"],
                    note="a trivial read (the 9-row catalog) through the platform's usual request path, "
                    "a request session in a worker thread, measured after the pair "
                    f"(floor p95 {m['floor_p95']:.1f} ms)",
                ),
            ]
    return results
