"""How many will eat: a forecast of a meal's diners for the kitchen (and purchasing),
shown with its error measured on the canteen's own history.

Method (per canteen and meal; days are local dates in Asia/Shanghai)
--------------------------------------------------------------------
History: the *closed* meals of the same canteen and meal in the ``history_days`` days
before the target day (never the day itself or later). Each gives

- ``reserved``: the headcount known in advance: holding reservations (reserved, served,
  no-show) plus vouchers not voided;
- ``diners``: who actually ate (handed-over reservations and vouchers plus walk-ins,
  as ``close_meal`` set it) and ``walk_ins`` (ate without reserving).

Comparable days are history days of the same kind as the target on the working
calendar (``dayuan.workcalendar``: working day, or weekend/holiday), since a Saturday
lunch or a holiday is nothing like a Tuesday's. With fewer than ``MIN_COMPARABLE`` of
them, every history day of the meal is used.

1. With reservations (``reserved > 0``)::

       predicted = reserved × r + w

   ``r`` = median over comparable days with reservations of the show-up ratio
   (diners − walk-ins) ÷ reserved; ``w`` = median walk-ins of the comparable days.
   Medians, so one odd day (a meeting cancelled, a storm) does not drag the forecast.
   History without any reservation gives ``r = 1``.
2. While reservations are still open (``now < reserve_until``) the count so far is
   scaled up to the expected final one: ``reserved ÷ p``, where ``p`` is the median share
   of the final reservations of the comparable days that had come in by the same time
   before serving (one grouped query on ``created_at``). ``p`` is only used between
   ``MIN_PACE`` and 1, so a thin early count is never blown up more than five times; when
   the history's timestamps say nothing (loaded in bulk after the fact) no scaling is
   done and ``pace`` is None.
3. No reservations at all: the mean diners of the same weekday of the same kind of day
   in the history (else of the comparable days): ``method="weekday_mean"``.
4. No history: the reservations themselves (``method="no_history"``).

Backtest (rolling origin): for each closed meal in the last ``days`` days up to ``end``,
fit on the days *before* it only (its own ``history_days`` window), predict from its
final reservations (the count the kitchen has at the cut-off) and compare with the
actual diners: MAE, and MAPE in % over days with diners. The naive baseline is the
same meal one week earlier (seasonal naive: what a cook would guess); its MAE/MAPE are
over the held-out days that have such a meal. A forecast worth showing beats it.

Both ``forecast`` and ``backtest`` are pure reads with a fixed number of queries: the
history is loaded once (menus, reservation counts, voucher counts, and the working
calendar), ``forecast_meals`` serves the three meals of a day from one load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean, median
from typing import Any

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Q
from django.utils import timezone

from .choices import HOLDING, MEAL_ORDER, Meal, MenuStatus
from .models import Canteen, Menu, Reservation
from .queries import COUNTING, SHANGHAI, MealFigures, meal_figures

HISTORY_DAYS = 56  # eight weeks: enough of each weekday, recent enough to follow a trend
BACKTEST_DAYS = 28
MIN_COMPARABLE = 3
MIN_PACE = 0.2


@dataclass(frozen=True)
class Observation:
    """One closed meal of the history."""

    menu_id: int
    day: date
    reserved: int
    reservations: int
    diners: int
    walk_ins: int
    workday: bool
    serve_start: datetime


@dataclass(frozen=True)
class Forecast:
    canteen_id: int
    day: date
    meal: str
    predicted: int  # diners expected
    reserved: int  # the headcount known now: reservations and vouchers
    expected_reserved: float  # ``reserved`` scaled by ``pace`` while reservations are open
    show_ratio: float | None  # r (None: not used)
    walk_ins: float | None  # w (None: not used)
    pace: float | None  # share of the final reservations usually in by now (None: not used)
    method: str  # "ratio" | "weekday_mean" | "no_history"
    basis_days: int  # history days the figures come from
    workday: bool


@dataclass(frozen=True)
class BacktestDay:
    day: date
    actual: int
    predicted: int
    baseline: int | None  # the same meal a week earlier; None when there was none


@dataclass(frozen=True)
class Backtest:
    canteen_id: int
    meal: str
    start: date
    end: date
    n: int  # held-out days
    mae: float | None
    mape: float | None  # %, over the days with diners
    baseline_n: int
    baseline_mae: float | None
    baseline_mape: float | None
    days: list[BacktestDay] = field(default_factory=list)


def _round(x: float) -> int:
    return max(0, int(x + 0.5))


def _calendar() -> Any:
    from dayuan.workcalendar.calendar import current_table

    return current_table()


class History:
    """The closed meals of one canteen over a date range, by meal and day."""

    def __init__(self, by_meal: dict[str, dict[date, Observation]]) -> None:
        self.by_meal = by_meal

    def window(self, meal: str, day: date, days: int) -> list[Observation]:
        """The meals in the ``days`` days before ``day`` (never ``day`` itself)."""
        first = day - timedelta(days=days)
        got = self.by_meal.get(meal, {})
        return [o for d, o in sorted(got.items()) if first <= d < day]

    def on(self, meal: str, day: date) -> Observation | None:
        return self.by_meal.get(meal, {}).get(day)


def load_history(
    canteen: Canteen, start: date, end: date, meals: Iterable[str], *, table: Any, now: datetime
) -> History:
    """Closed meals with ``start <= day < end``: three queries (``meal_figures``)."""
    qs = Menu.objects.filter(
        canteen_id=canteen.pk,
        meal__in=list(meals),
        day__gte=start,
        day__lt=end,
        status=MenuStatus.CLOSED,
        diners__isnull=False,
    )
    by_meal: dict[str, dict[date, Observation]] = {}
    for f in meal_figures(qs, now=now):
        by_meal.setdefault(f.meal, {})[f.day] = Observation(
            menu_id=f.menu_id,
            day=f.day,
            reserved=f.reserved,
            reservations=f.reservations,
            diners=f.diners or 0,
            walk_ins=f.walk_ins,
            workday=table.is_workday(f.day),
            serve_start=f.serve_start,
        )
    return History(by_meal)


@dataclass(frozen=True)
class _Fit:
    predicted: int
    method: str
    show_ratio: float | None
    walk_ins: float | None
    basis: int


def _comparable(window: list[Observation], workday: bool) -> list[Observation]:
    same = [o for o in window if o.workday == workday]
    return same if len(same) >= MIN_COMPARABLE else window


def _predict(window: list[Observation], day: date, workday: bool, reserved: float) -> _Fit:
    """The method of the module docstring on a window of history before ``day``."""
    if not window:
        return _Fit(_round(reserved), "no_history", None, None, 0)
    comparable = _comparable(window, workday)
    if reserved <= 0:
        pool = [o for o in window if o.day.weekday() == day.weekday() and o.workday == workday]
        pool = pool or comparable
        return _Fit(_round(mean(o.diners for o in pool)), "weekday_mean", None, None, len(pool))
    ratios = [(o.diners - o.walk_ins) / o.reserved for o in comparable if o.reserved > 0]
    r = median(ratios) if ratios else 1.0
    w = float(median(o.walk_ins for o in comparable))
    return _Fit(_round(reserved * r + w), "ratio", round(r, 4), round(w, 2), len(comparable))


def _pace(comparable: list[Observation], lead: timedelta) -> float | None:
    """The median share of the final reservations of ``comparable`` made at least
    ``lead`` before serving started; None when it tells nothing (below ``MIN_PACE``)."""
    ids = [o.menu_id for o in comparable if o.reservations > 0]
    if not ids:
        return None
    cutoff = ExpressionWrapper(F("menu__serve_start") - lead, output_field=DateTimeField())
    rows = (
        Reservation.objects.filter(menu_id__in=ids, status__in=HOLDING)
        .values("menu_id")
        .annotate(total=Count("pk"), early=Count("pk", filter=Q(created_at__lte=cutoff)))
        .order_by()
    )
    shares = [r["early"] / r["total"] for r in rows if r["total"]]
    if not shares:
        return None
    p = min(1.0, median(shares))
    return round(p, 4) if p >= MIN_PACE else None


def _forecast(
    canteen: Canteen,
    history: History,
    meal: str,
    day: date,
    target: MealFigures | None,
    *,
    table: Any,
    now: datetime,
    history_days: int,
) -> Forecast:
    workday = table.is_workday(day)
    window = history.window(meal, day, history_days)
    reserved = target.reserved if target is not None else 0
    expected: float = reserved
    pace = None
    if target is not None and target.reservations > 0 and now < target.reserve_until and window:
        pace = _pace(_comparable(window, workday), target.serve_start - now)
        if pace is not None and pace < 1:
            expected = target.reservations / pace + target.vouchers
    fit = _predict(window, day, workday, expected)
    return Forecast(
        canteen_id=canteen.pk,
        day=day,
        meal=meal,
        predicted=fit.predicted,
        reserved=reserved,
        expected_reserved=round(expected, 1),
        show_ratio=fit.show_ratio,
        walk_ins=fit.walk_ins,
        pace=pace,
        method=fit.method,
        basis_days=fit.basis,
        workday=workday,
    )


def _mae(errors: list[float]) -> float | None:
    return round(mean(errors), 2) if errors else None


def _backtest(
    canteen: Canteen, history: History, meal: str, start: date, end: date, history_days: int
) -> Backtest:
    rows: list[BacktestDay] = []
    for d, obs in sorted(history.by_meal.get(meal, {}).items()):
        if not start <= d <= end:
            continue
        # fit on the days before the held-out day only
        fit = _predict(history.window(meal, d, history_days), d, obs.workday, obs.reserved)
        week_before = history.on(meal, d - timedelta(days=7))
        rows.append(
            BacktestDay(
                day=d,
                actual=obs.diners,
                predicted=fit.predicted,
                baseline=week_before.diners if week_before is not None else None,
            )
        )
    errors = [abs(r.predicted - r.actual) for r in rows]
    pct = [100 * abs(r.predicted - r.actual) / r.actual for r in rows if r.actual > 0]
    based = [(r.baseline, r.actual) for r in rows if r.baseline is not None]
    base_errors = [abs(b - a) for b, a in based]
    base_pct = [100 * abs(b - a) / a for b, a in based if a > 0]
    return Backtest(
        canteen_id=canteen.pk,
        meal=meal,
        start=start,
        end=end,
        n=len(rows),
        mae=_mae(errors),
        mape=_mae(pct),
        baseline_n=len(based),
        baseline_mae=_mae(base_errors),
        baseline_mape=_mae(base_pct),
        days=rows,
    )


def _targets(canteen: Canteen, day: date, meals: list[str], now: datetime) -> dict[str, Any]:
    qs = Menu.objects.filter(canteen_id=canteen.pk, day=day, meal__in=meals, status__in=COUNTING)
    return {f.meal: f for f in meal_figures(qs, now=now)}


def _today(now: datetime) -> date:
    return timezone.localtime(now, SHANGHAI).date()


def forecast(
    canteen: Canteen,
    day: date,
    meal: str,
    *,
    now: datetime | None = None,
    history_days: int = HISTORY_DAYS,
) -> Forecast:
    """The predicted diners of ``meal`` on ``day`` (see the module docstring)."""
    now = now or timezone.now()
    table = _calendar()
    history = load_history(
        canteen, day - timedelta(days=history_days), day, [meal], table=table, now=now
    )
    target = _targets(canteen, day, [meal], now).get(meal)
    return _forecast(
        canteen, history, meal, day, target, table=table, now=now, history_days=history_days
    )


def backtest(
    canteen: Canteen,
    meal: str,
    *,
    end: date,
    days: int = BACKTEST_DAYS,
    now: datetime | None = None,
    history_days: int = HISTORY_DAYS,
) -> Backtest:
    """The forecast's error on the closed meals of the ``days`` days up to ``end``
    (inclusive), each predicted from the days before it only, next to the naive
    baseline's (see the module docstring)."""
    now = now or timezone.now()
    start = end - timedelta(days=max(days, 1) - 1)
    table = _calendar()
    history = load_history(
        canteen,
        start - timedelta(days=max(history_days, 7)),
        end + timedelta(days=1),
        [meal],
        table=table,
        now=now,
    )
    return _backtest(canteen, history, meal, start, end, history_days)


def forecast_meals(
    canteen: Canteen,
    day: date,
    meals: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    history_days: int = HISTORY_DAYS,
    backtest_days: int = BACKTEST_DAYS,
    targets: Mapping[str, MealFigures] | None = None,
) -> dict[str, tuple[Forecast, Backtest]]:
    """``{meal: (forecast, backtest)}`` for the meals of ``day`` from one load of the
    history; the backtest covers the ``backtest_days`` days up to the day before
    ``day`` (or today, when ``day`` is further ahead). ``targets`` are the day's
    ``MealFigures`` when the caller has them (the kitchen page), else they are read."""
    now = now or timezone.now()
    meals = sorted(meals or Meal.values, key=lambda m: MEAL_ORDER.get(m, 9))
    table = _calendar()
    end = min(day - timedelta(days=1), _today(now))
    start = end - timedelta(days=max(backtest_days, 1) - 1)
    first = min(start - timedelta(days=max(history_days, 7)), day - timedelta(days=history_days))
    history = load_history(canteen, first, day, meals, table=table, now=now)
    if targets is None:
        targets = _targets(canteen, day, meals, now)
    out = {}
    for meal in meals:
        out[meal] = (
            _forecast(
                canteen,
                history,
                meal,
                day,
                targets.get(meal),
                table=table,
                now=now,
                history_days=history_days,
            ),
            _backtest(canteen, history, meal, start, end, history_days),
        )
    return out
