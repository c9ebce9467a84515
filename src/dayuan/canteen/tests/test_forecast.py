"""The diners forecast and its backtest: the method on known data, the fallbacks
without reservations or history, held-out days predicted from earlier days only, the
naive baseline, reservations still open scaled by the usual pace, fixed queries."""

from __future__ import annotations

from datetime import date, timedelta
from statistics import mean, median

import pytest
from django.db.models import Count

from dayuan.workcalendar.calendar import current_table

from .. import forecast as fc
from ..choices import Meal, MenuStatus, ReservationStatus
from ..models import Menu, Reservation
from . import history as hist
from .factories import MONDAY, at, menu

pytestmark = pytest.mark.django_db

SATURDAY = MONDAY + timedelta(days=5)
LAST = MONDAY - timedelta(days=1)  # the last day of the history


@pytest.fixture
def past(cw):
    """Sixty days of lunches (and dinners) in canteen A before MONDAY."""
    return hist.history(
        cw, "a", meals=(Meal.LUNCH, Meal.DINNER), scale=0.5, ratings=False, waste=False
    )


def reserve(cw, m: Menu, n: int, *, status=ReservationStatus.RESERVED, prefix="t") -> None:
    people = hist.people(m.org, n, f"{prefix}{m.pk}_")
    Reservation.objects.bulk_create(
        Reservation(
            org=m.org,
            canteen=m.canteen,
            menu=m,
            person=p,
            person_org=m.org,
            number=f"T{m.pk}-{i}",
            status=status,
            pickup_code=f"{i:06d}",
        )
        for i, p in enumerate(people)
    )


def _reserved(m: Menu) -> int:
    return Reservation.objects.filter(menu=m).count() + (5 if m.voucher_batches.exists() else 0)


def lunches(built) -> dict[date, Menu]:
    return {m.day: m for m in built.menus if m.meal == Meal.LUNCH}


# --- fallbacks -------------------------------------------------------------------------


def test_without_history_the_forecast_is_the_reservations(cw):
    m = menu(cw, "a", MONDAY, Meal.LUNCH)
    reserve(cw, m, 7)
    got = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=at(2026, 12, 7, 10, 0))
    assert (got.predicted, got.method, got.reserved, got.basis_days) == (7, "no_history", 7, 0)
    assert got.show_ratio is None and got.pace is None
    # no menu at all: nothing reserved, nothing known
    got = fc.forecast(cw.canteens["a"], MONDAY, Meal.DINNER, now=at(2026, 12, 7, 10, 0))
    assert (got.predicted, got.method, got.reserved) == (0, "no_history", 0)


def test_backtest_without_history_measures_nothing(cw):
    bt = fc.backtest(cw.canteens["a"], Meal.LUNCH, end=LAST, now=at(2026, 12, 7, 10, 0))
    assert (bt.n, bt.mae, bt.mape, bt.baseline_n, bt.baseline_mae) == (0, None, None, 0, None)
    assert bt.days == []


def test_no_reservations_falls_back_to_the_same_weekday_mean(cw, past):
    menu(cw, "a", MONDAY, Meal.LUNCH)  # published, nobody reserved
    got = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=at(2026, 12, 7, 10, 0))
    table = current_table()
    mondays = [
        hist.diners_of(m)
        for d, m in lunches(past).items()
        if d.weekday() == 0 and d >= MONDAY - timedelta(days=56) and table.is_workday(d)
    ]
    assert got.method == "weekday_mean"
    assert got.basis_days == len(mondays) == 8
    assert got.predicted == int(mean(mondays) + 0.5)


# --- the method ------------------------------------------------------------------------


def test_ratio_and_walk_ins_from_comparable_working_days(cw, past):
    m = menu(cw, "a", MONDAY, Meal.LUNCH)
    reserve(cw, m, 40)
    now = at(2026, 12, 7, 10, 0)  # after the lunch cut-off (09:30): nothing to scale
    got = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=now)
    table = current_table()
    window = [
        m
        for d, m in lunches(past).items()
        if d >= MONDAY - timedelta(days=56) and table.is_workday(d)
    ]
    held = {
        r["menu_id"]: r["n"]
        for r in Reservation.objects.filter(menu__in=window)
        .values("menu_id")
        .annotate(n=Count("pk"))
    }
    reserved = {w.pk: held[w.pk] + (5 if w.voucher_batches.exists() else 0) for w in window}
    r = median((hist.diners_of(w) - w.walk_ins) / reserved[w.pk] for w in window)
    walk = median(w.walk_ins for w in window)
    assert got.method == "ratio" and got.workday is True and got.pace is None
    assert got.basis_days == len(window)
    assert got.show_ratio == pytest.approx(r, abs=1e-4)
    assert got.walk_ins == pytest.approx(walk)
    assert got.predicted == int(40 * r + walk + 0.5)
    assert 0.8 < r < 1.0


def test_a_weekend_is_forecast_from_weekends_and_holidays(cw, past):
    m = menu(cw, "a", SATURDAY, Meal.LUNCH)
    reserve(cw, m, 12)
    got = fc.forecast(cw.canteens["a"], SATURDAY, Meal.LUNCH, now=at(2026, 12, 12, 10, 0))
    table = current_table()
    off = [
        d for d in lunches(past) if d >= SATURDAY - timedelta(days=56) and not table.is_workday(d)
    ]
    assert got.workday is False and got.method == "ratio"
    assert got.basis_days == len(off) >= 3
    # the adjusted working Saturday (2026-10-10, 国庆节调休) is not one of them
    assert date(2026, 10, 10) not in off and table.is_workday(date(2026, 10, 10))


def test_open_reservations_are_scaled_by_the_usual_pace(cw):
    built = hist.history(
        cw, "a", meals=(Meal.LUNCH,), scale=0.5, ratings=False, waste=False, vouchers=False,
        lead=timedelta(hours=30),
    )  # fmt: skip
    # half of each past lunch's reservations came in only 5 hours before serving
    for m in built.menus:
        ids = list(Reservation.objects.filter(menu=m).order_by("id").values_list("pk", flat=True))
        Reservation.objects.filter(pk__in=ids[::2]).update(
            created_at=m.serve_start - timedelta(hours=5)
        )
    m = menu(cw, "a", MONDAY, Meal.LUNCH)
    reserve(cw, m, 20)
    early = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=at(2026, 12, 7, 1, 30))
    assert early.pace == pytest.approx(0.5, abs=0.03)  # 10 h before: half are in
    assert early.expected_reserved == pytest.approx(20 / early.pace, abs=0.1)
    closed = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=at(2026, 12, 7, 10, 0))
    assert closed.pace is None and closed.expected_reserved == 20
    assert early.predicted > closed.predicted


def test_history_stamped_after_the_fact_is_not_used_for_pace(cw):
    hist.history(
        cw, "a", meals=(Meal.LUNCH,), scale=0.3, ratings=False, waste=False,
        lead=-timedelta(days=2),
    )  # fmt: skip
    m = menu(cw, "a", MONDAY, Meal.LUNCH)
    reserve(cw, m, 10)
    got = fc.forecast(cw.canteens["a"], MONDAY, Meal.LUNCH, now=at(2026, 12, 7, 1, 30))
    assert got.pace is None and got.expected_reserved == 10 and got.method == "ratio"


def test_draft_and_cancelled_menus_are_not_history(cw, past):
    m = lunches(past)[LAST - timedelta(days=1)]
    Menu.objects.filter(pk=m.pk).update(status=MenuStatus.CANCELLED)
    bt = fc.backtest(cw.canteens["a"], Meal.LUNCH, end=LAST, now=at(2026, 12, 7, 10, 0))
    assert m.day not in {d.day for d in bt.days}


# --- the backtest ----------------------------------------------------------------------


def test_backtest_holds_out_the_last_days_and_beats_the_naive_baseline(cw, past):
    bt = fc.backtest(cw.canteens["a"], Meal.LUNCH, end=LAST, days=28, now=at(2026, 12, 7))
    assert bt.n == 28 and bt.start == LAST - timedelta(days=27) and bt.end == LAST
    assert [d.day for d in bt.days] == [bt.start + timedelta(days=i) for i in range(28)]
    actual = {d: hist.diners_of(m) for d, m in lunches(past).items()}
    for d in bt.days:
        assert d.actual == actual[d.day]
        assert d.baseline == actual[d.day - timedelta(days=7)]
    assert bt.mae == pytest.approx(mean(abs(d.predicted - d.actual) for d in bt.days), abs=0.01)
    assert bt.baseline_n == 28
    assert bt.baseline_mae == pytest.approx(
        mean(abs(d.baseline - d.actual) for d in bt.days), abs=0.01
    )
    assert bt.mape == pytest.approx(
        mean(100 * abs(d.predicted - d.actual) / d.actual for d in bt.days), abs=0.01
    )
    # on regular data the model (which knows each day's reservations) beats last week
    assert bt.mae <= bt.baseline_mae
    assert bt.mape <= bt.baseline_mape


def test_held_out_days_are_predicted_from_earlier_days_only(cw, past):
    canteen = cw.canteens["a"]
    before = fc.backtest(canteen, Meal.LUNCH, end=LAST, days=28, now=at(2026, 12, 7))
    held = before.days[14]
    hist.bump(lunches(past)[held.day], 60)
    after = fc.backtest(canteen, Meal.LUNCH, end=LAST, days=28, now=at(2026, 12, 7))
    old = {d.day: d for d in before.days}
    new = {d.day: d for d in after.days}
    # the changed day's actual moved, so did its error; no prediction up to it did
    assert new[held.day].actual == held.actual + 60
    assert after.mae != before.mae
    for day, d in old.items():
        if day <= held.day:
            assert new[day].predicted == d.predicted, day
    # a week later its value is the baseline, and later fits may use it
    assert new[held.day + timedelta(days=7)].baseline == held.actual + 60


def test_backtest_baseline_missing_a_week_back(cw):
    built = hist.history(cw, "a", days=10, meals=(Meal.LUNCH,), scale=0.3, ratings=False)
    bt = fc.backtest(cw.canteens["a"], Meal.LUNCH, end=LAST, days=10, now=at(2026, 12, 7))
    assert bt.n == 10 and bt.baseline_n == 3  # only the last 3 have a lunch 7 days back
    assert [d.baseline is None for d in bt.days] == [True] * 7 + [False] * 3
    assert bt.days[0].predicted == _reserved(built.menus[0])  # no history yet


def test_forecast_meals_serves_a_day_from_one_load(cw, past, django_assert_max_num_queries):
    m = menu(cw, "a", MONDAY, Meal.LUNCH)
    reserve(cw, m, 30)
    canteen = cw.canteens["a"]
    with django_assert_max_num_queries(12):
        got = fc.forecast_meals(canteen, MONDAY, now=at(2026, 12, 6, 15, 0))
    assert set(got) == set(Meal.values)
    lunch, bt = got[Meal.LUNCH]
    assert lunch.reserved == 30 and bt.n == 28 and bt.end == LAST
    breakfast, bt_b = got[Meal.BREAKFAST]
    assert breakfast.method == "no_history" and bt_b.n == 0
    # the same figures as the single calls
    one = fc.forecast(canteen, MONDAY, Meal.LUNCH, now=at(2026, 12, 6, 15, 0))
    assert one == lunch
    assert fc.backtest(canteen, Meal.LUNCH, end=LAST, now=at(2026, 12, 6, 15, 0)) == bt
    with django_assert_max_num_queries(9):
        fc.forecast(canteen, MONDAY, Meal.LUNCH, now=at(2026, 12, 6, 15, 0))
    with django_assert_max_num_queries(6):
        fc.backtest(canteen, Meal.DINNER, end=LAST, now=at(2026, 12, 6, 15, 0))
