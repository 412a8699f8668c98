"""Declarations of periodic jobs. Domains call :func:`periodic` in their ``tasks.py``; the scheduler
(``tenderhall.jobs.scheduler``) runs each at most once per period across all processes, holding a
lease row in ``core_scheduler_lease``, and catches up after downtime."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicSpec:
    job_name: str  # a job declared with tenderhall.jobs.outbox.job
    every: dt.timedelta


PERIODIC: dict[str, PeriodicSpec] = {}


def periodic(job_name: str, every: dt.timedelta) -> None:
    """Run the job ``job_name`` (no arguments) every ``every``; declared once per name."""
    PERIODIC[job_name] = PeriodicSpec(job_name, every)
