"""Periodic job of assessment: published runs become final once the appeal window
(``ASSESSMENT_APPEAL_DAYS``) has passed without an appeal.

Safe to run twice or in several workers: each run is re-read under a row lock and only a
run still ``published`` is finalised (``runs.finalise_due``).
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import runs


@db_periodic_task(crontab(minute="20"))
def finalise_due_hourly() -> int:
    return runs.finalise_due()
