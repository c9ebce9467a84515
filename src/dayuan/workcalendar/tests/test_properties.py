"""Property tests: adding and counting working minutes agree, for every calendar shape."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dayuan.workcalendar.calendar import SHANGHAI, WorkingCalendar, current_table

pytestmark = pytest.mark.usefixtures("seeded")

CALENDARS = [
    WorkingCalendar(),
    WorkingCalendar(around_the_clock=True),
    WorkingCalendar([["09:00", "12:00"], ["12:00", "18:00"]]),
    WorkingCalendar([["00:00", "24:00"]]),
    WorkingCalendar([["22:00", "24:00"], ["06:15", "06:16"]]),
]

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the db is only read
)

instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59)
).flatmap(
    lambda naive: st.sampled_from([SHANGHAI, ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")]).map(
        lambda tz: naive.replace(tzinfo=SHANGHAI).astimezone(tz)
    )
)
minutes = st.integers(min_value=0, max_value=20000)
calendars = st.sampled_from(CALENDARS)


@SETTINGS
@given(cal=calendars, start=instants, m=minutes)
def test_it_counts_back_what_it_added(cal, start, m):
    due = cal.add_working_minutes(start, m)
    assert due >= start
    assert cal.working_minutes_between(start, due) == m
    if m > 0:  # and no earlier minute boundary would do
        assert due.second == 0 and due.microsecond == 0
        assert cal.working_minutes_between(start, due - timedelta(minutes=1)) == m - 1


@SETTINGS
@given(cal=calendars, start=instants, m1=minutes, m2=minutes)
def test_it_is_monotonic(cal, start, m1, m2):
    lo, hi = sorted((m1, m2))
    assert cal.add_working_minutes(start, lo) <= cal.add_working_minutes(start, hi)


@SETTINGS
@given(cal=calendars, a=instants, b=instants, c=instants)
def test_it_adds_up_over_consecutive_spans(cal, a, b, c):
    a, b, c = sorted((a, b, c))
    ab, bc, ac = (
        cal.working_minutes_between(a, b),
        cal.working_minutes_between(b, c),
        cal.working_minutes_between(a, c),
    )
    assert ab >= 0 and bc >= 0
    assert ab + bc == ac
    assert cal.working_minutes_between(c, a) == 0


def _brute_minutes(cal, a, b):
    """Minute by minute: the slots from ceil(a) up to ceil(b) that are working time."""
    table = current_table()

    def ceil(t):
        t = t.astimezone(SHANGHAI)
        base = t.replace(second=0, microsecond=0)
        return base + timedelta(minutes=1) if base != t else base

    t, end, count = ceil(a), ceil(b), 0
    while t < end:
        minute = t.hour * 60 + t.minute
        if cal.around_the_clock or (
            table.is_workday(t.date()) and any(s <= minute < e for s, e in cal.periods)
        ):
            count += 1
        t += timedelta(minutes=1)
    return count


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cal=calendars,
    a=instants,
    span=st.integers(min_value=0, max_value=4 * 1440 * 60),
)
def test_it_matches_a_minute_by_minute_count(cal, a, span):
    b = a + timedelta(seconds=span)
    assert cal.working_minutes_between(a, b) == _brute_minutes(cal, a, b)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    days=st.integers(min_value=0, max_value=800),
)
def test_it_counts_workdays_like_a_day_by_day_walk(start, days):
    table = current_table()
    end = start + timedelta(days=days)
    walk = sum(table.is_workday(start + timedelta(days=i)) for i in range(days))
    assert table.workdays_in(start, end) == walk


@SETTINGS
@given(cal=calendars, t=instants)
def test_it_moves_to_working_time_and_no_further(cal, t):
    nxt = cal.next_working_instant(t)
    assert nxt >= t
    assert cal.is_working_time(nxt)
    if nxt != t:  # it jumped to a period start over non-working time only
        assert nxt.second == 0 and nxt.microsecond == 0
        assert cal.working_minutes_between(t, nxt) == 0
        assert not cal.is_working_time(nxt - timedelta(microseconds=1))
    if nxt.second == 0 and nxt.microsecond == 0:
        assert cal.working_minutes_between(nxt, nxt + timedelta(minutes=1)) == 1
