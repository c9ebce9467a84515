"""Reads of the holiday table: a year's special days, a range of days, missing years.

The table is national data (``scope_exempt``): every signed-in user may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from .calendar import ONE_DAY, current_table
from .models import CalendarYear, SpecialDay

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Day:
    date: date
    is_workday: bool
    kind: str | None
    name: str


def special_days(year: int) -> QuerySet[SpecialDay]:
    return SpecialDay.objects.filter(year=year).order_by("date")


def days(start: date, end: date) -> list[Day]:
    """Each date of ``[start, end]`` (inclusive) with whether it is a working day."""
    table = current_table()
    result = []
    day = start
    while day <= end:
        entry = table.special(day)
        result.append(
            Day(
                date=day,
                is_workday=table.is_workday(day),
                kind=entry[0] if entry else None,
                name=entry[1] if entry else "",
            )
        )
        day += ONE_DAY
    return result


def year_source(year: int) -> str:
    """Where a year's answers come from: ``table``, ``library`` or ``weekday``."""
    return current_table().year(year).source


def is_year_complete(year: int) -> bool:
    return CalendarYear.objects.filter(year=year, complete=True).exists()


def _today() -> date:
    return timezone.localdate()


def missing_years(today: date | None = None) -> list[int]:
    """Years that need an arrangement entered: this year, and next year from October on.

    A year is known when it has any special day or an administrator marked it complete.
    """
    today = today or _today()
    years = [today.year] + ([today.year + 1] if today.month >= 10 else [])
    known = set(SpecialDay.objects.filter(year__in=years).values_list("year", flat=True))
    known |= set(
        CalendarYear.objects.filter(year__in=years, complete=True).values_list("year", flat=True)
    )
    return [y for y in years if y not in known]
