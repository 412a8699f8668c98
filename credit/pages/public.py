"""The public disclosure pages: search, a published record and its notice PDF, the blacklist, a
company's profile, statistics, the CSV export and the Atom feed."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get
from litestar.response import Template
from sqlalchemy.orm import Session

from credit.charts import bar_chart
from credit.models import ChangeKind
from credit.pages.common import render_page, search_query
from credit.service import catalog, disclosure, feed, search
from tenderhall import csvsafe, labels
from tenderhall.db import Database, RequestSession, run
from tenderhall.settings import Settings
from tenderhall.web.i18n import current_language, local_time, pick


@get("/credit", name="credit:search", include_in_schema=False)
async def search_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    query = search_query(request, settings)

    def go(s: Session) -> tuple[search.RecordPage, list[Any]]:
        return search.search_public(s, query), catalog.list_types(s)

    page, types = await run(session, go)
    args = {k: v for k, v in request.query_params.items() if k not in ("cursor", "flash", "flash_kind")}
    return render_page(request, "search.html", page=page, types=types, query=query, args=args)


@get("/credit/records/{record_id:int}", include_in_schema=False)
async def record_page(request: Request[Any, Any, Any], session: RequestSession, record_id: int) -> Template:
    r = await run(session, search.public_record, record_id)
    return render_page(request, "record.html", r=r)


@get("/credit/records/{record_id:int}/notice.pdf", include_in_schema=False)
async def notice_pdf(
    session: RequestSession, settings: Settings, db: Database, record_id: int
) -> Response[bytes]:
    from credit.pdf import stored_notice
    from tenderhall.blobs import BlobStore

    r = await run(session, search.public_record, record_id)  # published only
    store = BlobStore(settings.blob_dir)

    def build() -> tuple[str, str]:
        # built by the credit.notice job after publication; if it has not run yet, build it now
        # in a worker thread with its own transaction
        with db.unit_of_work() as s:
            return stored_notice(s, settings, r.id)

    sha, number = await anyio.to_thread.run_sync(build)
    data = await anyio.to_thread.run_sync(store.read_bytes, sha)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


@get("/credit/blacklist", include_in_schema=False)
async def blacklist_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    rows = await run(session, lambda s: disclosure.blacklist(s, settings=settings))
    return render_page(request, "blacklist.html", rows=rows)


@get("/credit/companies/{code:str}", include_in_schema=False)
async def company_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings, code: str
) -> Template:
    profile = await run(session, lambda s: disclosure.company_profile(s, code, settings=settings))
    return render_page(request, "company.html", p=profile)


@get("/credit/stats", include_in_schema=False)
async def stats_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    st = await run(session, disclosure.statistics)
    lang = current_language.get()
    by_type = bar_chart(
        [(zh if lang == "zh" else en, n) for _, zh, en, n in st.by_type],
        title=pick("按违规类型", "By type"),
    )
    by_month = bar_chart([(b.label, b.value) for b in st.by_month], title=pick("按月份", "By month"))
    return render_page(request, "stats.html", st=st, by_type=by_type, by_month=by_month)


CSV_HEADER = [
    "record_id",
    "subject_kind",
    "subject_name",
    "credit_code",
    "type_code",
    "type_name",
    "severity",
    "points",
    "decision_number",
    "decided_at",
    "published_at",
    "public_until",
    "facts",
    "url",
]


@get("/credit/export.csv", include_in_schema=False)
async def export_csv(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Response[bytes]:
    query = search_query(request, settings)

    def build(s: Session) -> bytes:
        buf = io.StringIO()
        w = csvsafe.writer(buf)
        w.writerow(CSV_HEADER)
        for r in search.iter_public(s, query, max_rows=50_000):
            w.writerow(
                [
                    r.id,
                    r.subject_kind,
                    r.subject_name,
                    r.credit_code or "",
                    r.type_code,
                    r.type_name_zh,
                    r.severity,
                    r.points,
                    r.decision_number or "",
                    local_time(r.decided_at, "%Y-%m-%d %H:%M:%S"),
                    local_time(r.published_at, "%Y-%m-%d %H:%M:%S"),
                    local_time(r.public_until, "%Y-%m-%d %H:%M:%S"),
                    r.facts,
                    f"{settings.base_url}/credit/records/{r.id}",
                ]
            )
        return ("\ufeff" + buf.getvalue()).encode()  # BOM: spreadsheets open it as UTF-8

    data = await run(session, build)
    return Response(
        data,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="credit-disclosure.csv"'},
    )


@get("/credit/feed.atom", include_in_schema=False)
async def atom_feed(session: RequestSession, settings: Settings) -> Response[bytes]:
    from feedgen.feed import FeedGenerator

    rows = await run(session, feed.latest_changes)
    base = settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(f"{base}/credit/feed.atom")
    fg.title("信用信息公示 · Credit disclosure — TenderHall")
    fg.link(href=f"{base}/credit/feed.atom", rel="self")
    fg.link(href=f"{base}/credit", rel="alternate")
    fg.language("zh-CN")
    fg.updated(max((c.occurred_at for c in rows), default=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    for c in reversed(rows):
        rec = c.payload
        zh, en = labels.label(c.kind, ChangeKind, "zh"), labels.label(c.kind, ChangeKind, "en")
        subj = rec.get("subject", {})
        t = rec.get("type", {})
        fe = fg.add_entry()
        fe.id(f"urn:tenderhall:credit:change:{c.id}")
        fe.title(f"【{zh} {en}】{subj.get('name', '')} · {t.get('name_zh') or t.get('code', '')}")
        fe.link(href=f"{base}/credit/records/{c.violation_id}")
        fe.updated(c.occurred_at)
        fe.published(c.occurred_at)
        fe.category(term=str(c.kind))
        fe.summary(
            f"{subj.get('name', '')}（{subj.get('credit_code') or subj.get('id_number_masked') or ''}）"
            f" {t.get('name_zh') or ''}，决定书文号 {rec.get('decision_number') or '—'}。"
            f"{rec.get('facts', '')}"
        )
    return Response(fg.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")
