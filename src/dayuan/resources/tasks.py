"""The resource pool's hourly job: demands whose window passed unmatched expire (their
pending requests withdrawn), requests never decided whose range has ended leave the
owner's approval list, and allocations still in use past their end are reported to
the owner's managers and the requesting side, once.

Idempotent and safe in several workers at once: each demand and request is claimed
under its row lock and re-checked (one transaction each), and every reminder carries a
dedupe key, so a second run changes and tells nothing. Huey's crontab runs in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from dayuan.notifications.models import Event

from . import services
from .choices import AllocationStatus, DemandStatus
from .models import Allocation, Demand


@dataclass(frozen=True)
class HourlyResult:
    demands_expired: int
    requests_expired: int
    overdue_reminded: int


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def expire_demands(now: datetime | None = None) -> int:
    """Open or submitted demands whose end has passed: expired. Returns how many."""
    now = _now(now)
    ids = list(
        Demand.objects.filter(
            status__in=[DemandStatus.OPEN, DemandStatus.SUBMITTED], end_at__lte=now
        )
        .order_by("end_at", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in ids if services.expire_demand(pk, now=now))


def expire_requests(now: datetime | None = None) -> int:
    """Requests still waiting for approval when their range has ended: withdrawn."""
    now = _now(now)
    ids = list(
        Allocation.objects.filter(status=AllocationStatus.REQUESTED, end_at__lte=now)
        .order_by("end_at", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in ids if services.expire_request(pk, now=now))


def remind_overdue(now: datetime | None = None) -> int:
    """Allocations in use past their end: the owner's managers and the requesting side
    told once (dedupe keys). Returns how many allocations were reported now."""
    now = _now(now)
    overdue = list(
        Allocation.objects.filter(status=AllocationStatus.IN_USE, end_at__lt=now)
        .select_related("resource", "org", "requester_org", "requester", "demand__posted_by")
        .order_by("end_at", "pk")
    )
    keys = {f"resources:allocation:{a.pk}:overdue:owner" for a in overdue}
    told = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    reminded = 0
    for allocation in overdue:
        if f"resources:allocation:{allocation.pk}:overdue:owner" in told:
            continue
        with transaction.atomic():
            services.remind_overdue(allocation)
        reminded += 1
    return reminded


def run_hourly(now: datetime | None = None) -> HourlyResult:
    now = _now(now)
    return HourlyResult(
        demands_expired=expire_demands(now),
        requests_expired=expire_requests(now),
        overdue_reminded=remind_overdue(now),
    )


@db_periodic_task(crontab(minute="25"))
def resources_hourly() -> HourlyResult:
    """Hourly: expired demands and requests closed, overdue allocations reported."""
    return run_hourly()
