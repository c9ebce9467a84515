"""The kpi indicators computed from inspections and rectification orders.

Each is ``compute(org, start, end, vendor=None)`` over the org's subtree (inclusive)
and the half-open period ``[start, end)``; None when there is nothing to measure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q

from dayuan.standards.indicators import bind

from .choices import InspectionStatus, OccurrenceStatus, RectificationStatus
from .models import Inspection, PlanOccurrence, Rectification


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _inspections(org: Any, start: datetime, end: datetime, vendor: Any):
    qs = Inspection.objects.filter(
        org__path__startswith=org.path,
        status=InspectionStatus.SUBMITTED,
        submitted_at__gte=start,
        submitted_at__lt=end,
    )
    return qs.filter(vendor=vendor) if vendor is not None else qs


def _rectifications(org: Any, vendor: Any):
    qs = Rectification.objects.filter(org__path__startswith=org.path)
    return qs.filter(assignee_org=vendor) if vendor is not None else qs


def inspection_pass_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Passed inspections over submitted ones, in percent."""
    agg = _inspections(org, start, end, vendor).aggregate(
        total=Count("pk"), passed=Count("pk", filter=Q(passed=True))
    )
    return _rate(agg["passed"], agg["total"])


def inspection_average_score(org: Any, start: datetime, end: datetime, vendor: Any = None):
    value = _inspections(org, start, end, vendor).aggregate(avg=Avg("score"))["avg"]
    return round(value, 2) if value is not None else None


def missed_occurrences(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Occurrences due in the period and missed."""
    qs = PlanOccurrence.objects.filter(
        org__path__startswith=org.path,
        status=OccurrenceStatus.MISSED,
        due_at__gte=start,
        due_at__lt=end,
    )
    if vendor is not None:
        qs = qs.filter(vendor=vendor)
    return float(qs.count())


def rectification_closure_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Of the orders issued in the period (not withdrawn), the share accepted."""
    agg = (
        _rectifications(org, vendor)
        .filter(ordered_at__gte=start, ordered_at__lt=end)
        .exclude(status=RectificationStatus.CANCELLED)
        .aggregate(
            total=Count("pk"),
            accepted=Count("pk", filter=Q(status=RectificationStatus.ACCEPTED)),
        )
    )
    return _rate(agg["accepted"], agg["total"])


def rectification_on_time_rate(org: Any, start: datetime, end: datetime, vendor: Any = None):
    """Of the orders closed (accepted) in the period, the share closed by the deadline."""
    agg = (
        _rectifications(org, vendor)
        .filter(status=RectificationStatus.ACCEPTED, closed_at__gte=start, closed_at__lt=end)
        .aggregate(total=Count("pk"), on_time=Count("pk", filter=Q(closed_on_time=True)))
    )
    return _rate(agg["on_time"], agg["total"])


bind("inspection_pass_rate", inspection_pass_rate)
bind("inspection_average_score", inspection_average_score)
bind("missed_occurrences", missed_occurrences)
bind("rectification_closure_rate", rectification_closure_rate)
bind("rectification_on_time_rate", rectification_on_time_rate)
