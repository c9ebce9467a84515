"""Periodic job of supervision: reminders, daily 催办 and escalation (``run_reminders``).

Safe to run twice or in several workers at once: each step is claimed by a conditional
UPDATE of the task's bookkeeping columns and its notification has a dedupe key.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import services


@db_periodic_task(crontab(minute="*/5"))
def run_reminders_every_five_minutes() -> dict[str, int]:
    return services.run_reminders()
