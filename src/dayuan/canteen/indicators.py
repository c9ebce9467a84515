"""The kpi indicators computed from the canteen's data.

Each is ``compute(org, start, end, vendor=None, **filters)`` over the canteens of the
org's subtree (inclusive; with ``vendor``, those it operates) and the local days of the
half-open period ``[start, end)``; None when there is nothing to measure. A fixed
number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from dayuan.standards.indicators import bind

from .models import Canteen, FoodHandler, Menu, WasteLog
from .queries import COUNTING, SHANGHAI, WASTED, meal_figures


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The local days ``[first, stop)`` that ``[start, end)`` covers."""
    first = timezone.localtime(start, SHANGHAI).date()
    stop = timezone.localtime(end - timedelta(microseconds=1), SHANGHAI).date()
    return first, stop + timedelta(days=1)


def _canteens(org: Any, vendor: Any) -> QuerySet[Canteen]:
    qs = Canteen.objects.filter(org__path__startswith=org.path)
    return qs.filter(operator=vendor) if vendor is not None else qs


def _diners(canteens: QuerySet[Canteen], first: date, stop: date) -> dict[tuple[int, date], int]:
    """Diners per (canteen, day): the closed meals' diners, those served so far else."""
    menus = Menu.objects.filter(
        canteen__in=canteens, day__gte=first, day__lt=stop, status__in=COUNTING
    )
    out: dict[tuple[int, date], int] = defaultdict(int)
    for f in meal_figures(menus):
        out[(f.canteen_id, f.day)] += f.diners or 0
    return out


def waste_per_diner(org: Any, start: datetime, end: datetime, vendor: Any = None) -> float | None:
    """人均餐厨垃圾 in g: kitchen waste, tray leftovers and unsold food thrown away
    (trimmings are reused, not waste) ÷ diners, over the days that were weighed (a day
    without a weighing would make waste look smaller)."""
    first, stop = _days(start, end)
    canteens = _canteens(org, vendor)
    waste: dict[tuple[int, date], Decimal] = {
        (r["canteen_id"], r["day"]): r["kg"] or Decimal(0)
        for r in WasteLog.objects.filter(
            canteen__in=canteens, day__gte=first, day__lt=stop, kind__in=WASTED
        )
        .values("canteen_id", "day")
        .annotate(kg=Sum("weight_kg"))
        .order_by()
    }
    if not waste:
        return None
    diners = _diners(canteens, first, stop)
    kg = sum((w for key, w in waste.items() if diners.get(key)), Decimal(0))
    people = sum(diners.get(key, 0) for key in waste)
    return round(float(kg) * 1000 / people, 1) if people else None


def canteen_staff_ratio(
    org: Any,
    start: datetime,
    end: datetime,
    vendor: Any = None,
    diners_min: Any = None,
    diners_max: Any = None,
) -> float | None:
    """食堂人员配比: a canteen's average diners per serving day ÷ its active food
    handlers. JG-ST C11 sets the ratio by the canteen's size, so ``diners_min`` ≤
    average < ``diners_max`` (the kpi rule's filters) picks the canteens a band applies
    to; over several canteens the value is the worst (highest) ratio among them."""
    first, stop = _days(start, end)
    canteens = _canteens(org, vendor)
    low = float(diners_min) if diners_min not in (None, "") else None
    high = float(diners_max) if diners_max not in (None, "") else None
    served: dict[int, list[int]] = defaultdict(list)
    for (canteen_id, _day), n in _diners(canteens, first, stop).items():
        if n > 0:
            served[canteen_id].append(n)
    if not served:
        return None
    staff = {
        r["canteen_id"]: r["n"]
        for r in FoodHandler.objects.filter(canteen__in=canteens, is_active=True)
        .values("canteen_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    ratios = []
    for canteen_id, per_day in served.items():
        average = sum(per_day) / len(per_day)
        if (low is not None and average < low) or (high is not None and average >= high):
            continue
        if staff.get(canteen_id):
            ratios.append(average / staff[canteen_id])
    return round(max(ratios), 2) if ratios else None


bind("waste_per_diner", waste_per_diner)
bind("canteen_staff_ratio", canteen_staff_ratio)
