"""Delivery jobs: on demand after each commit, and every minute as the safety net.

Both run the same idempotent ``deliver_due``: it only sends what the outbox says is due,
so running it twice, or in several workers at once, sends nothing twice.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .delivery import deliver_due


@db_task()
def deliver_outbox() -> dict[str, int]:
    result = deliver_due()
    return {"sent": result.sent, "failed": result.failed, "dead": result.dead}


@db_periodic_task(crontab(minute="*"))
def deliver_outbox_every_minute() -> dict[str, int]:
    result = deliver_due()
    return {"sent": result.sent, "failed": result.failed, "dead": result.dead}
