"""Working-time arithmetic on Chinese working days, in Asia/Shanghai.

Which days are working days: the ``SpecialDay`` table first (holiday → no, adjusted
working day → yes); for a year the table does not know (no rows and no complete
``CalendarYear``) the installed ``chinese_calendar``; and Monday–Friday as the last
resort. ``is_workday`` never raises, whatever the date.

Minute precision. An instant is counted from the start of the minute it is in, rounded
*up*: 09:00:00 counts as 09:00, 09:00:30 as 09:01. So a clock started at 09:00:30 with
30 minutes is due at 09:31:00, and ``now > due_at`` holds exactly when
``working_minutes_between(start, now) > 30``. With that one rule,
``working_minutes_between(s, add_working_minutes(s, m)) == m`` and
``between(a, b) + between(b, c) == between(a, c)`` hold for every ``a <= b <= c``.

The table is cached per process. Every public call first reads a one-row stamp of both
tables (row counts, highest ids, latest change); a different stamp reloads the table.
That costs one tiny query per call and is correct across processes and across rolled
back transactions (tests), which signal-based invalidation is not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from . import library
from .library import HOLIDAY, WORKDAY

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = timedelta(days=1)
DAY_MINUTES = 1440
MAX_SEARCH_DAYS = 5 * 366  # add_working_minutes / next_working_instant look this far ahead
DEFAULT_PERIODS: tuple[tuple[int, int], ...] = (
    (8 * 60 + 30, 12 * 60),
    (13 * 60 + 30, 17 * 60 + 30),
)
AROUND_THE_CLOCK_MARKERS = {"24x7", "24×7", "24*7", "7x24", "7×24"}

# --- the table of special days ---------------------------------------------------------


@dataclass(frozen=True)
class YearInfo:
    year: int
    source: str  # "table" | "library" | "weekday": where this year's answers come from
    days: dict[date, tuple[str, str]]  # date -> (kind, name)


class DayTable:
    """A snapshot of the special-day table, answering per date without further queries."""

    def __init__(
        self,
        rows: dict[int, dict[date, tuple[str, str]]],
        complete_years: Iterable[int] = (),
        stamp: Any = None,
    ) -> None:
        self.stamp = stamp
        self._rows = rows
        self._complete = set(complete_years)
        self._years: dict[int, YearInfo] = {}

    def year(self, year: int) -> YearInfo:
        info = self._years.get(year)
        if info is None:
            if year in self._rows or year in self._complete:
                info = YearInfo(year, "table", self._rows.get(year, {}))
            elif lib := library.entries(year):
                info = YearInfo(year, "library", lib)
            else:
                info = YearInfo(year, "weekday", {})
            self._years[year] = info  # one dict assignment: safe without a lock
        return info

    def special(self, day: date) -> tuple[str, str] | None:
        return self.year(day.year).days.get(day)

    def is_workday(self, day: date) -> bool:
        entry = self.special(day)
        if entry is not None:
            return entry[0] == WORKDAY
        return day.weekday() < 5

    def workdays_in(self, start: date, end: date) -> int:
        """Working days in ``[start, end)``: weekday arithmetic plus the table's exceptions."""
        if end <= start:
            return 0
        weeks, rest = divmod((end - start).days, 7)
        count = weeks * 5 + sum(1 for i in range(rest) if (start.weekday() + i) % 7 < 5)
        for year in range(start.year, (end - ONE_DAY).year + 1):
            for day, (kind, _name) in self.year(year).days.items():
                if start <= day < end:
                    weekday = day.weekday() < 5
                    if kind == HOLIDAY and weekday:
                        count -= 1
                    elif kind == WORKDAY and not weekday:
                        count += 1
        return count


_current: DayTable | None = None


def _stamp() -> tuple[Any, ...]:
    from .models import CalendarYear, SpecialDay

    parts = []
    for model in (SpecialDay, CalendarYear):
        table = connection.ops.quote_name(model._meta.db_table)
        for expr in ("COUNT(*)", "MAX(id)", "MAX(updated_at)"):
            parts.append(f"(SELECT {expr} FROM {table})")  # noqa: S608 (our own table names)
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(parts))
        return (connection.alias, *cur.fetchone())


def _load(stamp: Any) -> DayTable:
    from .models import CalendarYear, SpecialDay

    rows: dict[int, dict[date, tuple[str, str]]] = {}
    for day, kind, name in SpecialDay.objects.values_list("date", "kind", "name"):
        rows.setdefault(day.year, {})[day] = (kind, name)
    complete = CalendarYear.objects.filter(complete=True).values_list("year", flat=True)
    return DayTable(rows, complete, stamp)


def current_table() -> DayTable:
    """The table as the database has it now (cached while unchanged)."""
    global _current
    stamp = _stamp()
    table = _current
    if table is None or table.stamp != stamp:
        table = _load(stamp)
        _current = table
    return table


def clear_cache() -> None:
    global _current
    _current = None


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day in mainland China. Never raises for a date."""
    if isinstance(day, datetime):
        day = _local(day).date()
    return current_table().is_workday(day)


# --- working hours ---------------------------------------------------------------------


def _local(dt: datetime) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError("expected a datetime")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware instant")
    return dt.astimezone(SHANGHAI)


def _ceil_minute(t: datetime) -> tuple[date, int]:
    """(local date, minute of day) of the first minute boundary at or after ``t``."""
    minute = t.hour * 60 + t.minute + (1 if (t.second or t.microsecond) else 0)
    day = t.date()
    if minute == DAY_MINUTES:
        return day + ONE_DAY, 0
    return day, minute


def _at(day: date, minute: int) -> datetime:
    if minute >= DAY_MINUTES:
        day, minute = day + ONE_DAY, minute - DAY_MINUTES
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=SHANGHAI)


_HHMM = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def _minute_of(value: Any, *, end: bool) -> int:
    if isinstance(value, time):
        minute = value.hour * 60 + value.minute
        if value.second or value.microsecond:
            raise ValueError("working periods are whole minutes")
        return DAY_MINUTES if end and minute == 0 else minute
    match = _HHMM.match(str(value).strip())
    if not match:
        raise ValueError(f"not a time of day: {value!r}")
    minute = int(match.group(1)) * 60 + int(match.group(2))
    if minute > DAY_MINUTES or (minute == DAY_MINUTES and not end):
        raise ValueError(f"not a time of day: {value!r}")
    return DAY_MINUTES if end and minute == 0 else minute


def _normalise(periods: Sequence[Sequence[Any]]) -> tuple[tuple[int, int], ...]:
    result: list[tuple[int, int]] = []
    for period in periods:
        if len(period) != 2:
            raise ValueError(f"a period is [start, end]: {period!r}")
        start, end = _minute_of(period[0], end=False), _minute_of(period[1], end=True)
        if end <= start:
            raise ValueError(f"a period must end after it starts (no overnight): {period!r}")
        result.append((start, end))
    if not result:
        raise ValueError("no working periods")
    result.sort()
    merged = [result[0]]
    for start, end in result[1:]:
        if start < merged[-1][1]:
            raise ValueError("working periods overlap")
        if start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


class WorkingCalendar:
    """An organisation's working time: periods of each working day, or around the clock.

    Around the clock (24×7) counts every minute, holidays included; otherwise only the
    periods of working days count.
    """

    def __init__(
        self,
        periods: Sequence[Sequence[Any]] | None = None,
        around_the_clock: bool = False,
    ) -> None:
        self.around_the_clock = around_the_clock
        if around_the_clock:
            self.periods: tuple[tuple[int, int], ...] = ((0, DAY_MINUTES),)
        else:
            self.periods = DEFAULT_PERIODS if periods is None else _normalise(periods)
        self.minutes_per_day = sum(end - start for start, end in self.periods)

    def __repr__(self) -> str:
        if self.around_the_clock:
            return "WorkingCalendar(24x7)"
        shown = ", ".join(
            f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in self.periods
        )
        return f"WorkingCalendar({shown})"

    # construction from stored settings

    @classmethod
    def parse(cls, value: Any) -> WorkingCalendar:
        """From ``Organization.working_hours``: ``[]``, ``["24x7"]`` or ``[["08:30","12:00"], …]``.

        Raises ValueError for anything else, so a form or service can validate with it.
        """
        if value in (None, "", []):
            return cls()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError("working hours must be a list")
        if len(value) == 1 and isinstance(value[0], str):
            if value[0].strip().lower() in AROUND_THE_CLOCK_MARKERS:
                return cls(around_the_clock=True)
            raise ValueError(f"unknown working-hours marker: {value[0]!r}")
        return cls(value)

    @classmethod
    def for_org(cls, org: Any) -> WorkingCalendar:
        """The organisation's calendar; bad stored hours fall back to office hours (logged)."""
        try:
            return cls.parse(getattr(org, "working_hours", None))
        except ValueError as exc:
            log.warning(
                "organisation %s has invalid working_hours (%s); using office hours",
                getattr(org, "pk", None),
                exc,
            )
            return cls()

    # per-day helpers

    def _worked_before(self, table: DayTable, day: date, minute: int) -> int:
        """Working minutes of ``day`` before ``minute`` (0 on a non-working day)."""
        if not table.is_workday(day):
            return 0
        return sum(min(end, minute) - start for start, end in self.periods if minute > start)

    def _position(self, k: int) -> int:
        """The minute of day at which the ``k``-th (k ≥ 1) working minute of a day ends."""
        done = 0
        for start, end in self.periods:
            if k <= done + (end - start):
                return start + (k - done)
            done += end - start
        raise AssertionError("k beyond the day's working minutes")

    # the arithmetic

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Working minutes from ``a`` to ``b`` (0 when ``b <= a``); see the module docstring."""
        day_a, min_a = _ceil_minute(_local(a))
        day_b, min_b = _ceil_minute(_local(b))
        if (day_b, min_b) <= (day_a, min_a):
            return 0
        if self.around_the_clock:
            return (day_b - day_a).days * DAY_MINUTES + min_b - min_a
        table = current_table()
        if day_a == day_b:
            return self._worked_before(table, day_a, min_b) - self._worked_before(
                table, day_a, min_a
            )
        total = self._worked_before(table, day_a, DAY_MINUTES) - self._worked_before(
            table, day_a, min_a
        )
        total += table.workdays_in(day_a + ONE_DAY, day_b) * self.minutes_per_day
        total += self._worked_before(table, day_b, min_b)
        return total

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The first instant by which ``minutes`` working minutes have passed since ``start``.

        ``minutes == 0`` returns ``start`` itself (in Asia/Shanghai). Otherwise the result
        is a minute boundary, possibly the end of a period (a 30-minute job started at
        11:30 is due at 12:00, not 13:30). Raises ValueError for negative minutes or when
        the minutes do not fit within about five years of working time.
        """
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        local = _local(start)
        if minutes == 0:
            return local
        try:
            day, minute = _ceil_minute(local)
            if self.around_the_clock:
                return _at(day, minute) + timedelta(minutes=minutes)
            table = current_table()
            before = self._worked_before(table, day, minute)
            available = self._worked_before(table, day, DAY_MINUTES) - before
            if minutes <= available:
                return _at(day, self._position(before + minutes))
            remaining = minutes - available
            for _ in range(MAX_SEARCH_DAYS):
                day += ONE_DAY
                if table.is_workday(day):
                    if remaining <= self.minutes_per_day:
                        return _at(day, self._position(remaining))
                    remaining -= self.minutes_per_day
        except OverflowError as exc:
            raise ValueError("date out of range") from exc
        raise ValueError("no room for these minutes within five years of working time")

    def next_working_instant(self, dt: datetime) -> datetime:
        """``dt`` itself if it falls in working time, else the start of the next period."""
        local = _local(dt)
        if self.around_the_clock:
            return local
        table = current_table()
        day = local.date()
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        try:
            if table.is_workday(day):
                for start, end in self.periods:
                    if seconds < start * 60:
                        return _at(day, start)
                    if seconds < end * 60:
                        return local
            for _ in range(MAX_SEARCH_DAYS):
                day += ONE_DAY
                if table.is_workday(day):
                    return _at(day, self.periods[0][0])
        except OverflowError as exc:
            raise ValueError("date out of range") from exc
        raise ValueError("no working day within five years")

    def is_working_time(self, dt: datetime) -> bool:
        return self.next_working_instant(dt) == _local(dt)
