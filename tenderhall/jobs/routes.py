"""Dead letters for admins: ``GET /api/jobs``, ``POST /api/jobs/{id}/retry`` and the page
``/admin/jobs`` (search by name or id, filter by state — failing included —, sort, pages) with a
re-run button per job."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from tenderhall import events, labels
from tenderhall.auth.guards import requires
from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.db import RequestSession, run
from tenderhall.errors import AppError
from tenderhall.jobs import service
from tenderhall.jobs.schemas import JobOut
from tenderhall.jobs.service import JobFilter
from tenderhall.web.i18n import pick
from tenderhall.web.listing import Listing
from tenderhall.web.render import add_nav, redirect, render

ADMIN = [requires(Role.admin)]
MAX_LIMIT = 1000
PER_PAGE = 20

add_nav("/admin/jobs", "后台任务", "Background jobs", {Role.admin})


def _admins_watch_jobs(_session: Session, principal: Principal, key: str | None) -> bool:
    return key is None and principal.has_role(Role.admin)


events.topic("jobs", _admins_watch_jobs)  # as the page /admin/jobs: admins only


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


@get(
    "/api/jobs",
    guards=ADMIN,
    tags=["jobs"],
    summary="Background jobs (outbox) by state",
    security=[{"bearer": []}],
)
async def list_jobs_api(
    session: RequestSession, status: JobFilter = JobFilter.open, limit: int = 200
) -> list[JobOut]:
    rows = await run(session, service.list_jobs, status, limit=_limit(limit))
    return [JobOut.of(r) for r in rows]


@post(
    "/api/jobs/{job_id:int}/retry",
    guards=ADMIN,
    tags=["jobs"],
    summary="Re-run a dead or failing job",
    security=[{"bearer": []}],
    status_code=200,
)
async def retry_job_api(session: RequestSession, principal: Principal, job_id: int) -> JobOut:
    row = await run(session, service.retry_job, principal, job_id)
    return JobOut.of(row)


@get("/admin/jobs", guards=ADMIN, include_in_schema=False)
async def jobs_page(request: Request[Any, Any, Any], session: RequestSession) -> Template:
    listing = Listing.from_query(
        request.query_params,
        sorts=list(service.JOB_SORTS),
        default="id",
        desc=True,
        filters=("status",),
        per_page=PER_PAGE,
    )
    try:
        status = JobFilter(listing.filter("status") or JobFilter.open.value)
    except ValueError:
        status = JobFilter.open

    def load(s: Session) -> tuple[int, list[Any], Listing, dict[str, int]]:
        # one call; the last event id first: a change committed after it is replayed to the page
        last = events.last_event_id(s)
        rows, done = listing.fetch(s, service.jobs_statement(status, listing.q), service.JOB_SORTS)
        return last, rows, done, service.count_by_status(s)

    last_event, rows, done, counts = await run(session, load)
    # the figures of every state, each a link to its list
    strip = [
        (counts[f.value], labels.label(f), "/admin/jobs" + done.url(status=f.value, page=1))
        for f in JobFilter
    ]
    return render(
        request,
        "jobs/admin_jobs.html",
        jobs=[(j, service.job_state(j)) for j in rows],
        listing=done,
        strip=strip,
        status=status,
        JobFilter=JobFilter,
        last_event=last_event,
    )


@post("/admin/jobs/{job_id:int}/retry", guards=ADMIN, include_in_schema=False)
async def retry_job_page(session: RequestSession, principal: Principal, job_id: int) -> Redirect:
    try:
        row = await run(session, service.retry_job, principal, job_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        return redirect("/admin/jobs", flash=pick(exc.zh, exc.en), kind="error")
    return redirect(
        "/admin/jobs",
        flash=pick(
            f"已重新安排任务 #{row.id}（{row.actor_name}）",
            f"Job #{row.id} ({row.actor_name}) will run again",
        ),
    )


ROUTES = [list_jobs_api, retry_job_api, jobs_page, retry_job_page]
