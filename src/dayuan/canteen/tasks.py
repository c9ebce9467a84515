"""Periodic jobs of the canteen: finished meals closed (no-shows counted), and the
food-safety jobs (sample removal reminders, missing samples, expiring health
certificates), whose work is done by plain functions in ``safety``.

Each is idempotent and safe in several workers at once: a meal is closed under its row
lock and re-checked, samples and menus are claimed by conditional UPDATEs, and every
notification carries a dedupe key. Huey's crontab runs in UTC (Shanghai is UTC+8).
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import reservations, safety


@db_periodic_task(crontab(minute="*/10"))
def close_finished_meals() -> int:
    """Published meals past their end plus the canteen's no-show grace: closed as the
    system, reservations not handed over become no-shows (walk-ins unchanged)."""
    return reservations.close_finished()


# The food-safety work is ``safety.run_*(now=None) -> int`` (written and tested there).


@db_periodic_task(crontab(minute="5"))
def remind_sample_removal() -> int:
    """Hourly: food samples past their retention, not removed: the kitchen is told."""
    return safety.run_remind_sample_removal()


@db_periodic_task(crontab(minute="*/30"))
def detect_missing_samples() -> int:
    """Every half hour: served dishes of finished meals without a sample are findings."""
    return safety.run_detect_missing_samples()


@db_periodic_task(crontab(minute="10", hour="1"))  # 09:10 Shanghai
def alert_expiring_certificates() -> int:
    """Daily: health certificates expiring within 30 days, one alert each."""
    return safety.run_alert_expiring_certificates()
