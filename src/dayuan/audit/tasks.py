"""Background jobs of the audit log."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from dayuan.core.context import origin

from . import services


# Huey keeps time in UTC: 19:40 UTC is 03:40 in Asia/Shanghai, a quiet hour.
@db_periodic_task(crontab(hour="19", minute="40"))
def prune_audit_log() -> int:
    """Apply the retention period daily; idempotent (a second run finds nothing to do)."""
    with origin("job"):
        return services.prune()
