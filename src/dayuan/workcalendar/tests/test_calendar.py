from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dayuan.workcalendar import calendar, library, queries, services
from dayuan.workcalendar.calendar import SHANGHAI, WorkingCalendar, is_workday
from dayuan.workcalendar.checks import check_next_year_calendar
from dayuan.workcalendar.models import CalendarYear, SpecialDay

pytestmark = pytest.mark.usefixtures("seeded")

OFFICE = WorkingCalendar()
AROUND = WorkingCalendar(around_the_clock=True)


def at(y, mo, d, h=0, mi=0, s=0):
    return datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


def test_it_seeds_the_library_years_in_the_migration():
    assert SpecialDay.objects.filter(year=2024).count() == len(library.entries(2024))
    row = SpecialDay.objects.get(date=date(2024, 2, 4))
    assert (row.kind, row.name, row.source) == ("workday", "春节", "library")
    assert SpecialDay.objects.get(date=date(2024, 10, 1)).name == "国庆节"
    assert CalendarYear.objects.filter(year=2024, complete=True).exists()


def test_it_agrees_with_the_library_on_every_day_it_knows():
    import chinese_calendar

    table = calendar.current_table()
    first, last = library.known_years()[0], library.known_years()[-1]
    day, differ = date(first, 1, 1), []
    while day.year <= last:
        if table.is_workday(day) != chinese_calendar.is_workday(day):
            differ.append(day)
        day += timedelta(days=1)
    assert differ == []


def test_it_knows_2024_adjusted_days_and_national_day():
    assert date(2024, 2, 4).weekday() == 6 and is_workday(date(2024, 2, 4))
    for d in range(1, 8):
        assert not is_workday(date(2024, 10, d)), d
    assert is_workday(date(2024, 10, 8))
    assert is_workday(date(2024, 10, 12))  # Saturday, adjusted working day
    assert not is_workday(date(2024, 10, 13))  # plain Sunday
    assert is_workday(date(2024, 10, 14))


def test_it_uses_the_weekday_rule_beyond_the_library_without_raising():
    assert 2031 not in library.known_years()
    assert is_workday(date(2031, 1, 1))  # a Wednesday, no arrangement known
    assert not is_workday(date(2031, 1, 4))  # Saturday
    assert queries.year_source(2031) == "weekday"
    # Friday 2031-01-03 17:20 + 30 working minutes -> Monday 08:50
    assert OFFICE.add_working_minutes(at(2031, 1, 3, 17, 20), 30) == at(2031, 1, 6, 8, 50)
    assert is_workday(date(9999, 12, 31)) in (True, False)
    assert is_workday(date(1, 1, 1)) in (True, False)


def test_it_lands_a_friday_evening_sla_on_monday_morning():
    start = at(2024, 3, 8, 17, 20)  # Friday
    assert OFFICE.add_working_minutes(start, 30) == at(2024, 3, 11, 8, 50)
    assert OFFICE.working_minutes_between(start, at(2024, 3, 11, 8, 50)) == 30


def test_it_skips_a_monday_holiday(db, world):
    services.set_special_day(
        actor=world.user("admin"), date=date(2024, 3, 11), kind="holiday", name="测试假日"
    )
    start = at(2024, 3, 8, 17, 20)
    assert OFFICE.add_working_minutes(start, 30) == at(2024, 3, 12, 8, 50)
    services.delete_special_day(actor=world.user("admin"), date=date(2024, 3, 11))
    assert OFFICE.add_working_minutes(start, 30) == at(2024, 3, 11, 8, 50)


def test_it_counts_the_adjusted_saturday_before_mid_autumn_2024():
    # Fri 2024-09-13; Sat 09-14 was an adjusted working day; 09-15..17 holiday.
    assert OFFICE.add_working_minutes(at(2024, 9, 13, 17, 20), 30) == at(2024, 9, 14, 8, 50)
    assert OFFICE.add_working_minutes(at(2024, 9, 14, 17, 20), 30) == at(2024, 9, 18, 8, 50)


def test_it_adds_plain_minutes_around_the_clock():
    assert AROUND.add_working_minutes(at(2024, 10, 1, 10), 90) == at(2024, 10, 1, 11, 30)
    assert AROUND.add_working_minutes(at(2024, 10, 1, 23, 50), 30) == at(2024, 10, 2, 0, 20)
    assert AROUND.working_minutes_between(at(2024, 10, 1), at(2024, 10, 8)) == 7 * 1440


def test_it_rounds_seconds_up_to_the_next_minute_in_both_directions():
    start = at(2024, 3, 5, 9, 0, 30)
    due = OFFICE.add_working_minutes(start, 30)
    assert due == at(2024, 3, 5, 9, 31)
    assert OFFICE.working_minutes_between(start, due) == 30
    assert OFFICE.working_minutes_between(start, due + timedelta(seconds=1)) == 31
    assert OFFICE.working_minutes_between(at(2024, 3, 5, 9), at(2024, 3, 5, 9, 0, 1)) == 1
    assert OFFICE.add_working_minutes(start, 0) == start


def test_it_ends_at_a_period_end_and_skips_the_lunch_break():
    assert OFFICE.add_working_minutes(at(2024, 3, 5, 11, 30), 30) == at(2024, 3, 5, 12)
    assert OFFICE.add_working_minutes(at(2024, 3, 5, 11, 30), 31) == at(2024, 3, 5, 13, 31)
    assert OFFICE.working_minutes_between(at(2024, 3, 5, 11, 59), at(2024, 3, 5, 13, 31)) == 2
    assert OFFICE.working_minutes_between(at(2024, 3, 5), at(2024, 3, 6)) == 450
    assert OFFICE.working_minutes_between(at(2024, 3, 6), at(2024, 3, 5)) == 0


def test_it_counts_a_whole_year_quickly():
    # 2024 had 251 working days; 450 minutes each.
    assert OFFICE.working_minutes_between(at(2024, 1, 1), at(2025, 1, 1)) == 251 * 450
    table = calendar.current_table()
    brute = sum(table.is_workday(date(2024, 1, 1) + timedelta(days=i)) for i in range(366))
    assert table.workdays_in(date(2024, 1, 1), date(2025, 1, 1)) == brute == 251
    # Ten years ahead and back: no per-minute loops, no errors.
    far = OFFICE.working_minutes_between(at(2020, 1, 1), at(2030, 1, 1))
    assert 2400 * 450 < far < 2550 * 450


def test_it_converts_other_timezones_and_refuses_naive():
    utc = datetime(2024, 3, 8, 9, 20, tzinfo=ZoneInfo("UTC"))  # 17:20 in Shanghai
    due = OFFICE.add_working_minutes(utc, 30)
    assert due == at(2024, 3, 11, 8, 50) and due.tzinfo == SHANGHAI
    with pytest.raises(ValueError):
        OFFICE.add_working_minutes(datetime(2024, 3, 8, 17, 20), 30)
    with pytest.raises(ValueError):
        OFFICE.working_minutes_between(datetime(2024, 3, 8), at(2024, 3, 9))
    with pytest.raises(ValueError):
        OFFICE.add_working_minutes(at(2024, 3, 8), -1)


def test_it_finds_the_next_working_instant():
    assert OFFICE.next_working_instant(at(2024, 3, 9, 10)) == at(2024, 3, 11, 8, 30)  # Sat
    assert OFFICE.next_working_instant(at(2024, 3, 8, 12, 10)) == at(2024, 3, 8, 13, 30)
    assert OFFICE.next_working_instant(at(2024, 3, 8, 7)) == at(2024, 3, 8, 8, 30)
    inside = at(2024, 3, 8, 10, 0, 15)
    assert OFFICE.next_working_instant(inside) == inside
    assert OFFICE.next_working_instant(at(2024, 3, 8, 17, 30)) == at(2024, 3, 11, 8, 30)
    assert OFFICE.next_working_instant(at(2024, 9, 30, 18)) == at(2024, 10, 8, 8, 30)
    assert AROUND.next_working_instant(at(2024, 10, 1, 3)) == at(2024, 10, 1, 3)
    assert OFFICE.is_working_time(inside) and not OFFICE.is_working_time(at(2024, 10, 1, 9))


def test_it_reads_an_orgs_working_hours(world):
    org = world.county_a
    assert WorkingCalendar.for_org(org).periods == calendar.DEFAULT_PERIODS
    org.working_hours = ["24x7"]
    assert WorkingCalendar.for_org(org).around_the_clock
    org.working_hours = [["09:00", "12:00"], ["12:00", "18:00"]]
    cal = WorkingCalendar.for_org(org)
    assert cal.periods == ((540, 1080),) and cal.minutes_per_day == 540
    org.working_hours = [["20:00", "24:00"]]
    cal = WorkingCalendar.for_org(org)
    assert cal.add_working_minutes(at(2024, 3, 8, 23, 30), 30) == at(2024, 3, 9, 0, 0)
    org.working_hours = [["12:00", "08:00"]]  # overnight: refused, falls back to office hours
    assert WorkingCalendar.for_org(org).periods == calendar.DEFAULT_PERIODS
    for bad in (
        [["8:30"]],
        ["always"],
        [["08:00", "12:00"], ["11:00", "13:00"]],
        [["25:00", "26:00"]],
        5,
    ):
        with pytest.raises(ValueError):
            WorkingCalendar.parse(bad)
    assert WorkingCalendar([(time(8, 0), time(12, 0))]).minutes_per_day == 240
    assert WorkingCalendar([(time(20, 0), time(0, 0))]).minutes_per_day == 240


def test_it_sees_table_changes_at_once(world):
    admin = world.user("admin")
    day = date(2031, 5, 1)  # Thursday, no arrangement known
    assert is_workday(day)
    services.set_special_day(actor=admin, date=day, kind="holiday", name="劳动节")
    assert not is_workday(day)
    assert queries.year_source(2031) == "table"
    row = services.set_special_day(actor=admin, date=date(2031, 5, 3), kind="workday")
    assert is_workday(date(2031, 5, 3)) and row.created
    SpecialDay.objects.filter(date=day).update(kind="workday")  # a bulk write without save()
    SpecialDay.objects.filter(date=day).delete()
    assert is_workday(day)


def test_it_falls_back_to_the_library_when_a_year_is_not_in_the_table():
    SpecialDay.objects.filter(year=2025).delete()
    CalendarYear.objects.filter(year=2025).delete()
    assert queries.year_source(2025) == "library"
    assert not is_workday(date(2025, 1, 28))  # Spring Festival eve, a Tuesday
    assert is_workday(date(2025, 1, 26))  # Sunday, adjusted working day
    CalendarYear.objects.create(year=2025, complete=True)
    # Marked complete with no rows: the administrator says "no special days".
    assert queries.year_source(2025) == "table"
    assert is_workday(date(2025, 1, 28))


def test_it_refuses_writes_by_non_managers_and_audits(world):
    from dayuan.audit.models import AuditEntry
    from dayuan.core.errors import InvalidInput, PermissionDenied

    for name in ("a_admin", "a_manager", "city_manager", "b_staff"):
        with pytest.raises(PermissionDenied):
            services.set_special_day(actor=world.user(name), date=date(2031, 1, 2), kind="holiday")
    with pytest.raises(PermissionDenied):
        services.mark_year_complete(actor=world.user("a_admin"), year=2031)
    assert not SpecialDay.objects.filter(date=date(2031, 1, 2)).exists()
    assert (
        AuditEntry.objects.filter(action="workcalendar.specialday.set", outcome="refused").count()
        == 4
    )
    with pytest.raises(InvalidInput) as exc:
        services.set_special_day(actor=world.user("admin"), date=date(2031, 1, 2), kind="workday")
    assert exc.value.code == "workday_not_weekend"
    services.set_special_day(actor=world.user("admin"), date=date(2031, 1, 2), kind="holiday")
    entry = AuditEntry.objects.filter(action="workcalendar.specialday.set", outcome="success").get()
    assert entry.actor_id == world.user("admin").pk and entry.changes["kind"] == [None, "holiday"]
    services.delete_special_day(actor=world.user("admin"), date=date(2031, 1, 2))
    assert AuditEntry.objects.filter(action="workcalendar.specialday.delete").exists()


def test_it_lists_missing_years_and_warns_in_q4(world, monkeypatch):
    SpecialDay.objects.filter(year__in=[2029, 2030]).delete()
    CalendarYear.objects.filter(year__in=[2029, 2030]).delete()
    assert queries.missing_years(date(2029, 5, 1)) == [2029]
    assert queries.missing_years(date(2029, 11, 1)) == [2029, 2030]
    services.mark_year_complete(actor=world.user("admin"), year=2029)
    assert queries.missing_years(date(2029, 11, 1)) == [2030]
    monkeypatch.setattr(queries, "_today", lambda: date(2029, 11, 1))
    assert check_next_year_calendar(None) == []  # only when asked for databases
    warnings = check_next_year_calendar(None, databases=["default"])
    assert [w.id for w in warnings] == ["dayuan.W010"] and "2030" in warnings[0].msg
    services.set_special_day(
        actor=world.user("admin"), date=date(2030, 1, 1), kind="holiday", name="元旦"
    )
    assert check_next_year_calendar(None, databases=["default"]) == []
    monkeypatch.setattr(queries, "_today", lambda: date(2029, 9, 30))
    assert check_next_year_calendar(None, databases=["default"]) == []


def test_it_reseeds_from_the_library_without_touching_manual_rows(world):
    admin = world.user("admin")
    services.set_special_day(actor=admin, date=date(2024, 10, 1), kind="holiday", name="国庆")
    SpecialDay.objects.filter(date=date(2024, 10, 2)).delete()
    assert services.seed_from_library(actor=None, years=[2024]) == {}  # known: left alone
    added = services.seed_from_library(actor=None, years=[2024, 2031], overwrite=True)
    assert added == {2024: len(library.entries(2024)) - 1}
    assert SpecialDay.objects.get(date=date(2024, 10, 1)).name == "国庆"
    assert SpecialDay.objects.filter(date=date(2024, 10, 2), source="library").exists()
    from dayuan.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.seed_from_library(actor=world.user("a_admin"), years=[2024])
