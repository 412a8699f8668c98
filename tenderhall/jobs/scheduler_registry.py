"""Declarations of periodic jobs. Domains call :func:`periodic` in their ``tasks.py``; the scheduler
(``tenderhall.jobs.scheduler``) runs each at most once per period across all processes, holding a
lease row in ``core_scheduler_lease``, and catches up after downtime.

A period is a function of the settings, read by the scheduler each time it ticks with the settings
it was given: nothing about a period is fixed when ``tasks.py`` is imported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from tenderhall.settings import SettingError, Settings

Period = Callable[[Settings], dt.timedelta]


@dataclass(frozen=True)
class PeriodicSpec:
    job_name: str  # a job declared with tenderhall.jobs.outbox.job
    every: Period

    def period(self, settings: Settings) -> dt.timedelta:
        """The period under ``settings``; a period that is not positive is a setting error."""
        value = self.every(settings)
        if value <= dt.timedelta(0):
            raise SettingError(
                f"the period of {self.job_name} must be positive, got {value} "
                f"(周期任务 {self.job_name} 的间隔必须大于零)"
            )
        return value


PERIODIC: dict[str, PeriodicSpec] = {}


def periodic(job_name: str, every: Period) -> None:
    """Run the job ``job_name`` (no arguments) every ``every(settings)``; declared once per name."""
    PERIODIC[job_name] = PeriodicSpec(job_name, every)
