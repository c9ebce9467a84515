"""Dashboard aggregations over the orders a user may oversee.

Every figure is one grouped query over the scoped orders (or their timers), so the
dashboard costs the same number of queries for ten orders or a million. The scope is
``org_id IN (<subtree ids>)`` resolved up front (no join on the org path), and
"overdue" tests the denormalised flag plus ``IN`` subqueries over the period's clocks
(hashed once) instead of a correlated EXISTS per order. The totals and the
satisfaction figures are summed from the per-org rows, not scanned again. Ratings: the
mean and the share of 4–5 are over rated orders only; an unrated order is never
counted as satisfied.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from dayuan.core.models import PATH_STEP
from dayuan.core.periods import SHANGHAI, Period, rate
from dayuan.core.scope import scoped
from dayuan.orgs.models import Location, Organization

from .choices import OPEN_STATUSES
from .models import WorkOrder, WorkOrderTimer
from .queries import overseen_org_ids
from .sla import RUNNING

SEGMENT = PATH_STEP + 1  # one path step plus its dot


def overseen(user: Any) -> QuerySet[WorkOrder]:
    """Orders in the subtrees where the user holds ``workorders.view_all``."""
    ids = overseen_org_ids(user)
    return WorkOrder.objects.filter(org_id__in=ids) if ids else WorkOrder.objects.none()


def overdue_q(now: datetime | None = None, *, since: datetime | None = None) -> Q:
    """An order is overdue when a clock was breached (flagged on the order or the clock),
    or a running clock is past due right now (as ``sla.overdue_q``, without its join).

    ``since`` (the earliest submission of the orders tested) bounds the clocks looked
    at: a clock never starts before its order was submitted."""
    now = now or timezone.now()
    timers = WorkOrderTimer.objects.all()
    if since is not None:
        timers = timers.filter(started_at__gte=since)
    late = timers.filter(met_at__isnull=True, due_at__lt=now).values("workorder_id")
    breached = timers.filter(breached=True).values("workorder_id")
    return Q(overdue=True) | Q(pk__in=breached) | Q(status__in=RUNNING, pk__in=late)


def in_period(qs: QuerySet[WorkOrder], period: Period) -> QuerySet[WorkOrder]:
    return qs.filter(submitted_at__gte=period.start, submitted_at__lt=period.end)


def by_day(qs: QuerySet[WorkOrder], period: Period) -> list[dict[str, Any]]:
    rows = (
        qs.annotate(day=TruncDate("submitted_at", tzinfo=SHANGHAI))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    counts = {r["day"]: r["n"] for r in rows}
    out, day = [], period.since
    while day <= period.until:
        out.append({"day": day.isoformat(), "count": counts.get(day, 0)})
        day += timedelta(days=1)
    return out


def by_category(qs: QuerySet[WorkOrder]) -> list[dict[str, Any]]:
    rows = qs.values("category_id", "category__name").annotate(n=Count("id")).order_by("-n")
    return [{"id": r["category_id"], "name": r["category__name"], "count": r["n"]} for r in rows]


def by_building(qs: QuerySet[WorkOrder]) -> list[dict[str, Any]]:
    """Orders per building: the second step of the location path (compound.building.)."""
    rows = list(
        qs.annotate(bpath=Substr("location__path", 1, 2 * SEGMENT))
        .values("bpath")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    paths = [r["bpath"] for r in rows if r["bpath"] and len(r["bpath"]) == 2 * SEGMENT]
    names = dict(Location.objects.filter(path__in=paths).values_list("path", "name"))
    out = []
    for r in rows:
        name = names.get(r["bpath"])
        out.append({"path": r["bpath"], "name": name or "—", "count": r["n"]})
    return out


def by_vendor(qs: QuerySet[WorkOrder]) -> list[dict[str, Any]]:
    rows = (
        qs.values("vendor_id", "vendor__name")
        .annotate(
            n=Count("id"),
            rated=Count("id", filter=Q(rating__isnull=False)),
            mean=Avg("rating"),
            overdue=Count("id", filter=Q(overdue=True)),
        )
        .order_by("-n")
    )
    return [
        {
            "id": r["vendor_id"],
            "name": r["vendor__name"] or "",
            "count": r["n"],
            "mean_rating": round(r["mean"], 2) if r["mean"] is not None else None,
            "overdue": r["overdue"],
        }
        for r in rows
    ]


def _org_rows(
    qs: QuerySet[WorkOrder], now: datetime | None, since: datetime | None = None
) -> list[dict[str, Any]]:
    return list(
        qs.values("org_id", "org__name", "org__path")
        .annotate(
            n=Count("id"),
            open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            overdue=Count("id", filter=overdue_q(now, since=since)),
            rated=Count("id", filter=Q(rating__isnull=False)),
            satisfied=Count("id", filter=Q(rating__gte=4)),
            mean=Avg("rating"),
            rating_sum=Sum("rating"),
        )
        .order_by("org__path")
    )


def by_org(qs: QuerySet[WorkOrder], now: datetime | None = None) -> list[dict[str, Any]]:
    """Units side by side: a city manager sees every county on the same measures."""
    return _by_org(_org_rows(qs, now))


def _by_org(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["org_id"],
            "name": r["org__name"],
            "count": r["n"],
            "open": r["open"],
            "overdue": r["overdue"],
            "mean_rating": round(r["mean"], 2) if r["mean"] is not None else None,
            "satisfied_rate": rate(r["satisfied"], r["rated"]),
        }
        for r in rows
    ]


def on_time(qs: QuerySet[WorkOrder], *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per timer name: met in time over decided clocks (met, or breached and unmet).
    ``since`` (the earliest submission in ``qs``) lets the clocks be cut by start time."""
    timers = WorkOrderTimer.objects.filter(workorder__in=qs.values("pk"))
    if since is not None:
        timers = timers.filter(started_at__gte=since)
    rows = (
        timers.values("name")
        .annotate(
            on_time=Count("id", filter=Q(met_at__isnull=False, met_at__lte=F("due_at"))),
            decided=Count("id", filter=Q(met_at__isnull=False) | Q(breached=True)),
            label=Max("label"),
        )
        .order_by("name")
    )
    return [
        {
            "name": r["name"],
            "label": r["label"] or r["name"],
            "on_time": r["on_time"],
            "decided": r["decided"],
            "rate": rate(r["on_time"], r["decided"]),
        }
        for r in rows
    ]


def satisfaction(qs: QuerySet[WorkOrder]) -> dict[str, Any]:
    agg = qs.aggregate(
        rated=Count("id", filter=Q(rating__isnull=False)),
        satisfied=Count("id", filter=Q(rating__gte=4)),
        mean=Avg("rating"),
    )
    return {
        "rated": agg["rated"],
        "mean": round(agg["mean"], 2) if agg["mean"] is not None else None,
        "satisfied_rate": rate(agg["satisfied"], agg["rated"]),
    }


def totals(qs: QuerySet[WorkOrder], now: datetime | None = None) -> dict[str, int]:
    return qs.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        overdue=Count("id", filter=overdue_q(now)),
    )


def dashboard(
    user: Any, period: Period, *, org_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every figure of the dashboard for the orders the user oversees in ``period``."""
    qs = in_period(overseen(user), period)
    if org_id:
        org_path = (
            scoped(user, Organization.objects.all())
            .filter(pk=org_id)
            .values_list("path", flat=True)
            .first()
        )
        if org_path:
            subtree = Organization.objects.filter(path__startswith=org_path)
            qs = qs.filter(org_id__in=list(subtree.values_list("pk", flat=True)))
        else:
            qs = qs.none()
    org_rows = _org_rows(qs, now, since=period.start)
    rated = sum(r["rated"] for r in org_rows)
    rating_sum = sum(r["rating_sum"] or 0 for r in org_rows)
    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
        "totals": {
            "total": sum(r["n"] for r in org_rows),
            "open": sum(r["open"] for r in org_rows),
            "overdue": sum(r["overdue"] for r in org_rows),
        },
        "satisfaction": {
            "rated": rated,
            "mean": round(rating_sum / rated, 2) if rated else None,
            "satisfied_rate": rate(sum(r["satisfied"] for r in org_rows), rated),
        },
        "on_time": on_time(qs, since=period.start),
        "by_day": by_day(qs, period),
        "by_category": by_category(qs),
        "by_building": by_building(qs),
        "by_vendor": by_vendor(qs),
        "by_org": _by_org(org_rows),
    }
