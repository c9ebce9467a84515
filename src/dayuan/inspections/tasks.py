"""Periodic jobs of inspections: occurrences ahead, missed ones, overdue rectification.

Each is idempotent and safe to run in several workers at once: generation inserts on a
unique constraint, a missed occurrence is claimed by a conditional UPDATE, and the
rectification ladder claims its steps the same way (``rectification.escalate_overdue``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import close_old_connections
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from . import plans

AHEAD_DAYS = 14


def generate_ahead(now: datetime | None = None) -> int:
    """Occurrences from today's midnight to ``AHEAD_DAYS`` days ahead (Asia/Shanghai)."""
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return plans.generate_occurrences(start=start, end=start + timedelta(days=AHEAD_DAYS))


@db_periodic_task(crontab(minute="10", hour="0"))
def generate_ahead_daily() -> int:
    return generate_ahead()


@HUEY.on_startup()
def generate_ahead_on_startup() -> None:
    # A fresh deployment (or one down over midnight) has its plans before the next run.
    close_old_connections()
    try:
        generate_ahead()
    finally:
        close_old_connections()


@db_periodic_task(crontab(minute="*/15"))
def detect_missed_every_quarter_hour() -> dict[str, int]:
    return plans.detect_missed()


@db_periodic_task(crontab(minute="*/5"))
def escalate_rectifications_every_five_minutes() -> dict[str, int]:
    from .rectification import escalate_overdue

    return escalate_overdue()
