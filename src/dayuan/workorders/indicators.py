"""The kpi indicators computed from work orders (and complaints).

Each is ``compute(org, start, end, vendor=None)`` over the org's subtree (inclusive)
and the half-open period ``[start, end)``, as the inspections indicators; None when
there is nothing to measure. ``vendor`` keeps the orders (or findings) naming it.

Which orders a period holds follows the dashboard (``reports``): the orders submitted
in the period, so a run's figure and the dashboard's agree; the repair pass and
follow-up rates count the orders closed in the period (an order is judged once it is
closed). Ratings: the share of 4–5 among rated orders; an unrated order is never
counted as satisfied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from dayuan.standards.indicators import bind

from .choices import CloseReason, Status
from .models import WorkOrder, WorkOrderTimer

CLOSED = (Status.CONFIRMED, Status.CLOSED)


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _orders(org: Any, vendor: Any) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.filter(org__path__startswith=org.path)
    return qs.filter(vendor=vendor) if vendor is not None else qs


def _submitted(org: Any, start: datetime, end: datetime, vendor: Any) -> QuerySet[WorkOrder]:
    return _orders(org, vendor).filter(submitted_at__gte=start, submitted_at__lt=end)


def _closed(org: Any, start: datetime, end: datetime, vendor: Any) -> QuerySet[WorkOrder]:
    """Orders closed in the period after the work was done (not cancelled ones)."""
    return _orders(org, vendor).filter(
        status__in=CLOSED,
        closed_at__gte=start,
        closed_at__lt=end,
        close_reason__in=(CloseReason.CONFIRMED, CloseReason.AUTO_UNRATED),
    )


def on_time_rate(
    org: Any, start: datetime, end: datetime, vendor: Any = None, timer: str | None = None
):
    """Of the settled clocks (met, or breached) of the period's orders, the share met by
    the deadline; ``timer`` (a kpi rule's filter) keeps one clock (respond, arrive …)."""
    timers = WorkOrderTimer.objects.filter(
        workorder__in=_submitted(org, start, end, vendor).values("pk"), started_at__gte=start
    )
    if timer:
        timers = timers.filter(name=timer)
    agg = timers.aggregate(
        on_time=Count("pk", filter=Q(met_at__isnull=False, met_at__lte=F("due_at"))),
        settled=Count("pk", filter=Q(met_at__isnull=False) | Q(breached=True)),
    )
    return _rate(agg["on_time"], agg["settled"])


def satisfaction_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Of the period's rated orders, the share rated 4 or 5."""
    agg = _submitted(org, start, end, vendor).aggregate(
        rated=Count("pk", filter=Q(rating__isnull=False)),
        satisfied=Count("pk", filter=Q(rating__gte=4)),
    )
    return _rate(agg["satisfied"], agg["rated"])


def repair_pass_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Of the orders closed in the period, the share never reopened (fixed first time)."""
    agg = _closed(org, start, end, vendor).aggregate(
        closed=Count("pk"), passed=Count("pk", filter=Q(reopen_count=0))
    )
    return _rate(agg["passed"], agg["closed"])


def follow_up_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Of the orders closed in the period, the share whose requester confirmed and rated
    the work (the follow-up, 回访), rather than the order closing unrated."""
    agg = _closed(org, start, end, vendor).aggregate(
        closed=Count("pk"),
        followed=Count("pk", filter=Q(close_reason=CloseReason.CONFIRMED)),
    )
    return _rate(agg["followed"], agg["closed"])


def complaint_count(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Complaints (findings of source ``complaint``) raised in the period, not cancelled;
    ``vendor`` keeps those naming it as the responsible party."""
    from dayuan.inspections.choices import FindingSource, FindingStatus
    from dayuan.inspections.models import Finding

    qs = Finding.objects.filter(
        org__path__startswith=org.path,
        source=FindingSource.COMPLAINT,
        raised_at__gte=start,
        raised_at__lt=end,
    ).exclude(status=FindingStatus.CANCELLED)
    if vendor is not None:
        qs = qs.filter(vendor=vendor)
    return float(qs.count())


bind("on_time_rate", on_time_rate)
bind("satisfaction_rate", satisfaction_rate)
bind("repair_pass_rate", repair_pass_rate)
bind("follow_up_rate", follow_up_rate)
bind("complaint_count", complaint_count)
