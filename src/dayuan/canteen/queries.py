"""Scoped reads of the canteen: canteens, menus, reservations, vouchers, ratings, the
food-safety and waste logs, the kitchen's counts and the dashboard.

Who sees what (one condition per model, used by every list, page, export and API):

- a **canteen** is visible while active to the staff who eat there: its org is in the
  user's ``canteen.reserve`` scope or on the way up from one of their grants to its
  centre (a department's staff eat at their centre's canteen, as they book its rooms);
  and, active or not, to those who oversee (``canteen.view_all``), manage or operate it;
- **operators** of a canteen hold ``canteen.operate`` over its org, or over its
  operator (the catering company's workers);
- a **reservation** is visible to its person, to ``canteen.view_all`` over the canteen's
  org and to the canteen's operators; a **voucher batch** to its issuer and the same;
- food-safety and waste logs to operators, ``canteen.view_all`` and managers.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.bookings.queries import _short_org_name, home_org_ids
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import path_filter, scoped_org_ids

from .choices import (
    HOLDING,
    MEAL_ORDER,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherStatus,
    WasteKind,
)
from .models import (
    Canteen,
    ColdUnit,
    Dish,
    DishRating,
    Disinfection,
    FoodHandler,
    FoodSample,
    HealthCheck,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    ReservationLine,
    TemperatureLog,
    Voucher,
    VoucherBatch,
    WasteDay,
    WasteLog,
)

if TYPE_CHECKING:
    from .forecast import Backtest, Forecast

CANTEEN_RELATED = ("org", "operator", "location", "kitchen")


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _org_ids(user: Any, action: str) -> list[int]:
    return scoped_org_ids(user, ACTIONS[action]) if _active(user) else []


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- who -------------------------------------------------------------------------------


def diner_org_ids(user: Any) -> list[int]:
    """Orgs whose canteens ``user`` may eat at and reserve in."""
    if not _active(user):
        return []
    return sorted(set(_org_ids(user, "canteen.reserve")) | set(home_org_ids(user)))


def overseen_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "canteen.view_all")


def managed_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "canteen.manage")


def operate_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` holds ``canteen.operate``: a canteen's org or its operator."""
    return _org_ids(user, "canteen.operate")


def operated_condition(user: Any, prefix: str = "") -> Q:
    """Canteens (or rows with a ``canteen`` FK when ``prefix="canteen__"``) the user
    operates; ``Q(pk__in=[])`` when none."""
    ids = operate_org_ids(user)
    if not ids:
        return Q(pk__in=[])
    return Q(**{f"{prefix}org_id__in": ids}) | Q(**{f"{prefix}operator_id__in": ids})


def may_operate(user: Any, canteen: Canteen) -> bool:
    """The kitchen: hands meals over, keeps the food-safety and waste logs."""
    ids = set(operate_org_ids(user))
    return canteen.org_id in ids or (canteen.operator_id is not None and canteen.operator_id in ids)


def may_manage(user: Any, canteen: Canteen) -> bool:
    return canteen.org_id in managed_org_ids(user)


def may_oversee(user: Any, canteen: Canteen) -> bool:
    return canteen.org_id in overseen_org_ids(user)


def canteen_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(is_active=True, org_id__in=diner_org_ids(user))
    staff = set(overseen_org_ids(user)) | set(managed_org_ids(user))
    if staff:
        cond |= Q(org_id__in=sorted(staff))
    return cond | operated_condition(user)


def visible_canteens(user: Any) -> QuerySet[Canteen]:
    return (
        Canteen.objects.filter(canteen_visibility(user))
        .select_related(*CANTEEN_RELATED)
        .order_by("org_id", "name", "id")
    )


def canteen(user: Any, pk: int) -> Canteen:
    return _one(visible_canteens(user), pk)


def operated_canteens(user: Any) -> QuerySet[Canteen]:
    """The canteens whose kitchen ``user`` works in (or manages)."""
    cond = operated_condition(user)
    if ids := managed_org_ids(user):
        cond |= Q(org_id__in=ids)
    return Canteen.objects.filter(cond).select_related(*CANTEEN_RELATED).order_by("org_id", "name")


def staff_condition(user: Any, prefix: str = "canteen__") -> Q:
    """Rows of canteens the user oversees, manages or operates (logs, every reservation)."""
    cond = operated_condition(user, prefix)
    staff = set(overseen_org_ids(user)) | set(managed_org_ids(user))
    if staff:
        cond |= Q(**{f"{prefix}org_id__in": sorted(staff)})
    return cond


def reservation_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    return Q(person_id=user.pk) | staff_condition(user)


def voucher_batch_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    return Q(issuer_id=user.pk) | staff_condition(user)


def reservations_base(user: Any) -> QuerySet[Reservation]:
    return Reservation.objects.filter(reservation_visibility(user))


def voucher_batches_base(user: Any) -> QuerySet[VoucherBatch]:
    return VoucherBatch.objects.filter(voucher_batch_visibility(user))


# --- common ----------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
MENU_RELATED = ("canteen", "org")
RESERVATION_RELATED = ("menu", "canteen", "person", "person_org")
MAX_DAYS = 366  # the longest range a list, the no-show report or the dashboard takes
MIN_RATINGS = 3  # ratings a dish needs in the week to be ranked best or worst
FOOD_STANDARD = "JG-ST"
# What is thrown away; trimmings are weighed because they are reused, not wasted.
WASTED = (WasteKind.KITCHEN, WasteKind.TRAY, WasteKind.UNSOLD)
# The menus that count in figures: published (reservations open or meal under way) and
# closed ones; drafts have no reservations and cancelled meals were not served.
COUNTING = (MenuStatus.PUBLISHED, MenuStatus.CLOSED)


def _local_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)


def _check_range(start: date, end: date) -> None:
    if start > end or (end - start).days >= MAX_DAYS:
        raise InvalidInput(
            _("日期范围无效：开始日期须不晚于结束日期，且跨度不超过 %(days)s 天。")
            % {"days": MAX_DAYS},
            code="bad_range",
        )


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _meal_label(meal: str) -> str:
    return str(Meal(meal).label) if meal in Meal.values else meal


def visible_canteen_ids(user: Any) -> list[int]:
    """Ids of the canteens ``user`` sees (one query after the org ids)."""
    return list(Canteen.objects.filter(canteen_visibility(user)).values_list("pk", flat=True))


def staff_canteens(user: Any) -> QuerySet[Canteen]:
    """The canteens whose inside ``user`` sees: every reservation, the kitchen's counts,
    the food-safety and waste logs, the dashboard. Those they oversee
    (``canteen.view_all``), manage or operate; inactive ones too."""
    return (
        Canteen.objects.filter(staff_condition(user, ""))
        .select_related(*CANTEEN_RELATED)
        .order_by("org_id", "name", "id")
    )


def staff_canteen(user: Any, pk: int) -> Canteen:
    """A canteen of ``staff_canteens``, or NotFound (a diner does not see the kitchen)."""
    return _one(staff_canteens(user), pk)


def may_see_rater(user: Any, canteen: Canteen) -> bool:
    """Whether ``user`` sees who wrote a rating (managers and overseers of the canteen's
    org); everyone else sees stars and comments without names."""
    return may_manage(user, canteen) or may_oversee(user, canteen)


# --- dishes ----------------------------------------------------------------------------


def dish_visibility(user: Any) -> Q:
    """Active dishes of the canteens the user eats at; every dish to the canteen's staff."""
    if not _active(user):
        return Q(pk__in=[])
    public = Q(is_active=True, canteen__is_active=True, org_id__in=diner_org_ids(user))
    return public | staff_condition(user)


def dishes(
    user: Any,
    canteen_id: int,
    *,
    category: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> QuerySet[Dish]:
    """The visible dishes of a visible canteen (NotFound otherwise), by category, name."""
    c = canteen(user, canteen_id)
    qs = Dish.objects.filter(dish_visibility(user), canteen_id=c.pk)
    if category:
        qs = qs.filter(category__in=category.split(","))
    if active is not None:
        qs = qs.filter(is_active=active)
    if q:
        qs = qs.filter(name__icontains=q.strip())
    return qs.select_related("canteen").order_by("category", "name", "id")


def dish(user: Any, pk: int) -> Dish:
    """A visible dish with its canteen and rating summary (``rating_avg``,
    ``rating_count``), or NotFound."""
    found = _one(Dish.objects.filter(dish_visibility(user)).select_related("canteen", "org"), pk)
    found.rating_avg, found.rating_count = dish_rating_stats([found.pk]).get(found.pk, (None, 0))
    return found


def dish_with_photo(user: Any, pk: int) -> Dish:
    """A visible dish that has a photo (for the photo endpoint), or NotFound."""
    found = (
        Dish.objects.filter(dish_visibility(user))
        .only("pk", "photo", "photo_thumb")
        .filter(pk=pk)
        .first()
    )
    if found is None or not found.photo:
        raise NotFound()
    return found


def dish_rating_stats(dish_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """``{dish_id: (average stars to 2 places, number of ratings)}``, one query."""
    ids = sorted(set(dish_ids))
    if not ids:
        return {}
    rows = (
        DishRating.objects.filter(dish_id__in=ids)
        .values("dish_id")
        .annotate(avg=Avg("stars"), n=Count("pk"))
        .order_by()
    )
    return {r["dish_id"]: (round(float(r["avg"]), 2), r["n"]) for r in rows}


# --- menus -----------------------------------------------------------------------------


def menu_visibility(user: Any) -> Q:
    """Menus of the canteens the user eats at once published (closed and cancelled ones
    stay visible: people see their meal was cancelled); drafts too to the staff."""
    if not _active(user):
        return Q(pk__in=[])
    public = Q(canteen__is_active=True, org_id__in=diner_org_ids(user)) & ~Q(
        status=MenuStatus.DRAFT
    )
    return public | staff_condition(user)


def _items() -> Prefetch:
    return Prefetch(
        "items", queryset=MenuItem.objects.select_related("dish").order_by("position", "id")
    )


def _decorate(user: Any, found: list[Menu]) -> list[Menu]:
    """Attach ``menu.my_reservation`` (the user's holding reservation or None) and each
    item's ``rating_avg``/``rating_count``: two queries for any number of menus."""
    ids = [m.pk for m in found]
    mine: dict[int, Reservation] = {}
    if ids and _active(user):
        for r in Reservation.objects.filter(person_id=user.pk, menu_id__in=ids, status__in=HOLDING):
            mine[r.menu_id] = r
    stats = dish_rating_stats(i.dish_id for m in found for i in m.items.all())
    for m in found:
        m.my_reservation = mine.get(m.pk)
        for i in m.items.all():
            i.rating_avg, i.rating_count = stats.get(i.dish_id, (None, 0))
    return found


def menus(user: Any, canteen_id: int, start: date, end: date) -> list[Menu]:
    """The visible menus of a visible canteen from ``start`` to ``end`` (local days,
    inclusive), by day and meal, with ``items`` (dish loaded; ``item.remaining`` is the
    portions left, None when unlimited), ``my_reservation`` and the items' ratings.
    NotFound for a canteen the user does not see. Fixed query count."""
    _check_range(start, end)
    c = canteen(user, canteen_id)
    qs = (
        Menu.objects.filter(menu_visibility(user), canteen_id=c.pk, day__gte=start, day__lte=end)
        .prefetch_related(_items())
        .order_by("day", "serve_start", "id")
    )
    found = list(qs)
    for m in found:
        m.canteen = c
    return _decorate(user, found)


def menu(user: Any, pk: int) -> Menu:
    """A visible menu, decorated as in ``menus``, or NotFound."""
    qs = (
        Menu.objects.filter(menu_visibility(user))
        .select_related(*MENU_RELATED, "canteen__location")
        .prefetch_related(_items())
    )
    return _decorate(user, [_one(qs, pk)])[0]


def menu_item(user: Any, pk: int) -> MenuItem:
    """An item of a visible menu (with its menu, canteen and dish), or NotFound."""
    qs = MenuItem.objects.filter(menu__in=Menu.objects.filter(menu_visibility(user)))
    return _one(qs.select_related("menu", "menu__canteen", "dish"), pk)


# --- reservations and vouchers ---------------------------------------------------------


def _lines() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=ReservationLine.objects.select_related("menu_item__dish").order_by(
            "menu_item__position", "id"
        ),
    )


def my_reservations(
    user: Any, *, upcoming: bool = True, now: datetime | None = None
) -> QuerySet[Reservation]:
    """The user's own reservations with their lines. ``upcoming``: those still to be
    eaten (status reserved, the meal not over), the soonest first; otherwise all, the
    latest meal first."""
    if not _active(user):
        return Reservation.objects.none()
    qs = (
        Reservation.objects.filter(person_id=user.pk)
        .select_related(*RESERVATION_RELATED)
        .prefetch_related(_lines())
    )
    if upcoming:
        qs = qs.filter(status=ReservationStatus.RESERVED, menu__serve_end__gt=now or timezone.now())
        return qs.order_by("menu__serve_start", "id")
    return qs.order_by("-menu__serve_start", "-id")


def reservation(user: Any, pk: int) -> Reservation:
    """A visible reservation (its person, the canteen's overseers and operators) with
    its lines, or NotFound."""
    qs = reservations_base(user).select_related(*RESERVATION_RELATED).prefetch_related(_lines())
    return _one(qs, pk)


def reservations(
    user: Any,
    *,
    canteen_id: int | None = None,
    menu_id: int | None = None,
    day: date | None = None,
    start: date | None = None,
    end: date | None = None,
    status: str | None = None,
    kind: str | None = None,
    person_id: int | None = None,
    mine: bool = False,
) -> QuerySet[Reservation]:
    """Visible reservations (staff lists; ``mine`` for the user's own), filtered; the
    latest meal first. ``status`` may list several values separated by commas."""
    qs = reservations_base(user)
    if mine:
        qs = qs.filter(person_id=user.pk) if _active(user) else qs.none()
    if canteen_id is not None:
        qs = qs.filter(canteen_id=canteen_id)
    if menu_id is not None:
        qs = qs.filter(menu_id=menu_id)
    if day is not None:
        qs = qs.filter(menu__day=day)
    if start is not None:
        qs = qs.filter(menu__day__gte=start)
    if end is not None:
        qs = qs.filter(menu__day__lte=end)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if kind:
        qs = qs.filter(kind=kind)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    qs = qs.select_related(*RESERVATION_RELATED).prefetch_related(_lines())
    return qs.order_by("-menu__serve_start", "-id")


def _voucher_counts(qs: QuerySet[VoucherBatch]) -> QuerySet[VoucherBatch]:
    return qs.annotate(
        issued=Count("vouchers", filter=Q(vouchers__status=VoucherStatus.ISSUED)),
        redeemed=Count("vouchers", filter=Q(vouchers__status=VoucherStatus.REDEEMED)),
        voided=Count("vouchers", filter=Q(vouchers__status=VoucherStatus.VOID)),
    )


def voucher_batches(
    user: Any,
    *,
    canteen_id: int | None = None,
    menu_id: int | None = None,
    mine: bool = False,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[VoucherBatch]:
    """Visible voucher batches (issuer, overseers, operators), the latest first, each
    annotated ``issued``/``redeemed``/``voided`` (voucher counts by status)."""
    qs = voucher_batches_base(user)
    if mine:
        qs = qs.filter(issuer_id=user.pk) if _active(user) else qs.none()
    if canteen_id is not None:
        qs = qs.filter(canteen_id=canteen_id)
    if menu_id is not None:
        qs = qs.filter(menu_id=menu_id)
    if start is not None:
        qs = qs.filter(menu__day__gte=start)
    if end is not None:
        qs = qs.filter(menu__day__lte=end)
    qs = qs.select_related("menu", "canteen", "issuer", "unit", "booking")
    return _voucher_counts(qs).order_by("-created_at", "-id")


def voucher_batch(user: Any, pk: int) -> VoucherBatch:
    """A visible batch with its vouchers (by code) and the counts, or NotFound."""
    qs = _voucher_counts(voucher_batches_base(user)).select_related(
        "menu", "canteen", "issuer", "unit", "booking"
    )
    return _one(
        qs.prefetch_related(Prefetch("vouchers", queryset=Voucher.objects.order_by("code"))), pk
    )


# --- ratings ---------------------------------------------------------------------------


def rating_visibility(user: Any) -> Q:
    """Ratings are seen by everyone who sees the canteen."""
    if not _active(user):
        return Q(pk__in=[])
    return Q(canteen_id__in=visible_canteen_ids(user))


def ratings(
    user: Any,
    *,
    canteen_id: int | None = None,
    dish_id: int | None = None,
    menu_item_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    mine: bool = False,
) -> QuerySet[DishRating]:
    """Visible ratings, the latest first. Whether to show the rater's name is the
    caller's question to ``may_see_rater``."""
    qs = DishRating.objects.filter(rating_visibility(user))
    if mine:
        qs = qs.filter(person_id=user.pk) if _active(user) else qs.none()
    if canteen_id is not None:
        qs = qs.filter(canteen_id=canteen_id)
    if dish_id is not None:
        qs = qs.filter(dish_id=dish_id)
    if menu_item_id is not None:
        qs = qs.filter(menu_item_id=menu_item_id)
    if start is not None:
        qs = qs.filter(day__gte=start)
    if end is not None:
        qs = qs.filter(day__lte=end)
    return qs.select_related("dish", "canteen", "person").order_by("-created_at", "-id")


def best_worst_dishes(
    user: Any, week_start: date, limit: int = 5, *, canteen_id: int | None = None
) -> dict[str, Any]:
    """The week's best and worst dishes by average stars (dishes with at least
    ``MIN_RATINGS`` ratings that week) over the canteens the user sees. A dish is in
    one list only: ``worst`` is taken from those not already ``best``. Fixed queries."""
    limit = max(0, min(limit, 50))
    week_end = week_start + timedelta(days=6)
    ids = visible_canteen_ids(user)
    if canteen_id is not None:
        if canteen_id not in ids:
            raise NotFound()
        ids = [canteen_id]
    rows = list(
        DishRating.objects.filter(canteen_id__in=ids, day__gte=week_start, day__lte=week_end)
        .values("dish_id", "dish__name", "canteen_id", "canteen__name")
        .annotate(n=Count("pk"), avg=Avg("stars"))
        .filter(n__gte=MIN_RATINGS)
        .order_by()
    )
    ranked = [
        {
            "dish_id": r["dish_id"],
            "name": r["dish__name"],
            "canteen_id": r["canteen_id"],
            "canteen_name": r["canteen__name"],
            "ratings": r["n"],
            "average": round(float(r["avg"]), 2),
        }
        for r in rows
    ]
    best = sorted(ranked, key=lambda d: (-d["average"], -d["ratings"], d["dish_id"]))[:limit]
    taken = {d["dish_id"] for d in best}
    rest = [d for d in ranked if d["dish_id"] not in taken]
    worst = sorted(rest, key=lambda d: (d["average"], -d["ratings"], d["dish_id"]))[:limit]
    return {
        "week_start": week_start,
        "week_end": week_end,
        "min_ratings": MIN_RATINGS,
        "best": best,
        "worst": worst,
    }


# --- meal figures ----------------------------------------------------------------------


@dataclass
class MealFigures:
    """What happened at one meal, counted from the rows (not from the menu's counters):
    the reading the kitchen, the forecast, the dashboard and the waste share."""

    menu_id: int
    canteen_id: int
    day: date
    meal: str
    status: str
    serve_start: datetime
    reserve_until: datetime
    reservations: int = 0  # holding: reserved, served, no-show
    eat_in: int = 0
    takeaway: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    vouchers: int = 0  # issued or redeemed (not void)
    redeemed: int = 0
    walk_ins: int = 0
    # closed: the menu's diners; started: served + redeemed + walk-ins; otherwise None
    diners: int | None = None

    @property
    def reserved(self) -> int:
        """The headcount known in advance: places held by reservations and vouchers."""
        return self.reservations + self.vouchers


def meal_figures(menus: QuerySet[Menu], *, now: datetime | None = None) -> list[MealFigures]:
    """Figures of every menu of ``menus`` (unscoped: callers scope), by day and meal.
    Three queries whatever the number of menus and reservations."""
    now = now or timezone.now()
    out: dict[int, MealFigures] = {}
    for m in menus.order_by("day", "serve_start", "pk").values(
        "pk", "canteen_id", "day", "meal", "status", "serve_start", "reserve_until",
        "walk_ins", "diners",
    ):  # fmt: skip
        out[m["pk"]] = MealFigures(
            menu_id=m["pk"],
            canteen_id=m["canteen_id"],
            day=m["day"],
            meal=m["meal"],
            status=m["status"],
            serve_start=m["serve_start"],
            reserve_until=m["reserve_until"],
            walk_ins=m["walk_ins"],
            diners=m["diners"] if m["status"] == MenuStatus.CLOSED else None,
        )
    if not out:
        return []
    ids = menus.values("pk")
    for r in (
        Reservation.objects.filter(menu_id__in=ids)
        .values("menu_id", "kind", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        f = out.get(r["menu_id"])
        if f is None:
            continue
        n = r["n"]
        if r["status"] == ReservationStatus.CANCELLED:
            f.cancelled += n
            continue
        f.reservations += n
        if r["kind"] == ReservationKind.TAKEAWAY:
            f.takeaway += n
        else:
            f.eat_in += n
        if r["status"] == ReservationStatus.SERVED:
            f.served += n
        elif r["status"] == ReservationStatus.NO_SHOW:
            f.no_shows += n
    for r in (
        Voucher.objects.filter(menu_id__in=ids)
        .exclude(status=VoucherStatus.VOID)
        .values("menu_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        f = out.get(r["menu_id"])
        if f is None:
            continue
        f.vouchers += r["n"]
        if r["status"] == VoucherStatus.REDEEMED:
            f.redeemed += r["n"]
    for f in out.values():
        started = f.serve_start <= now and f.status == MenuStatus.PUBLISHED
        if f.diners is None and started:
            f.diners = f.served + f.redeemed + f.walk_ins
    return list(out.values())


# --- the kitchen -----------------------------------------------------------------------


@dataclass
class DishCount:
    menu_item_id: int
    dish_id: int
    name: str
    category: str
    takeaway: bool
    portions: int | None  # None: unlimited
    sold: int
    remaining: int | None


@dataclass
class SlotCount:
    at: datetime  # the take-away pickup slot's start
    count: int


@dataclass
class MealCounts:
    """One meal of the day as the kitchen reads it (a meal without a menu has
    ``menu=None`` and zeros, and still its forecast from history)."""

    meal: str
    label: str
    menu: Menu | None
    status: str | None = None
    capacity: int | None = None
    eat_in: int = 0
    takeaway: int = 0
    takeaway_slots: list[SlotCount] = field(default_factory=list)
    vouchers: int = 0
    redeemed: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    walk_ins: int = 0
    diners: int | None = None
    expected: int = 0  # eat-in + take-away + vouchers: the headcount known in advance
    dishes: list[DishCount] = field(default_factory=list)
    forecast: Forecast | None = None
    backtest: Backtest | None = None


def kitchen_counts(
    user: Any, canteen_id: int, day: date, *, now: datetime | None = None
) -> list[MealCounts]:
    """The day's meals of a canteen the user operates, manages or oversees (NotFound
    otherwise), breakfast to dinner: eat-in and take-away headcounts, take-away by
    pickup slot, vouchers, per-dish portions sold and limits, and each meal's forecast
    of diners with its backtest (``forecast.forecast_meals``). Fixed query count."""
    from . import forecast as fc

    now = now or timezone.now()
    c = staff_canteen(user, canteen_id)
    menus_qs = Menu.objects.filter(canteen_id=c.pk, day=day)
    by_meal = {m.meal: m for m in menus_qs}
    figures = {f.meal: f for f in meal_figures(menus_qs, now=now)}
    items: dict[int, list[DishCount]] = defaultdict(list)
    for i in (
        MenuItem.objects.filter(menu__canteen_id=c.pk, menu__day=day)
        .select_related("dish")
        .order_by("menu_id", "position", "id")
    ):
        items[i.menu_id].append(
            DishCount(
                menu_item_id=i.pk,
                dish_id=i.dish_id,
                name=i.dish.name,
                category=i.dish.category,
                takeaway=i.takeaway,
                portions=i.portions,
                sold=i.sold,
                remaining=i.remaining,
            )
        )
    slots: dict[int, list[SlotCount]] = defaultdict(list)
    for r in (
        Reservation.objects.filter(
            menu__canteen_id=c.pk,
            menu__day=day,
            kind=ReservationKind.TAKEAWAY,
            status__in=HOLDING,
            pickup_at__isnull=False,
        )
        .values("menu_id", "pickup_at")
        .annotate(n=Count("pk"))
        .order_by("menu_id", "pickup_at")
    ):
        slots[r["menu_id"]].append(SlotCount(at=r["pickup_at"], count=r["n"]))
    meals = sorted(Meal.values, key=lambda m: MEAL_ORDER[m])
    predicted = fc.forecast_meals(
        c,
        day,
        meals,
        now=now,
        targets={m: f for m, f in figures.items() if f.status in COUNTING},
    )
    out = []
    for meal in meals:
        m = by_meal.get(meal)
        row = MealCounts(meal=meal, label=_meal_label(meal), menu=m)
        if m is not None:
            m.canteen = c
            f = figures[meal]
            row.status, row.capacity = m.status, m.capacity
            row.eat_in, row.takeaway = f.eat_in, f.takeaway
            row.vouchers, row.redeemed = f.vouchers, f.redeemed
            row.served, row.no_shows, row.cancelled = f.served, f.no_shows, f.cancelled
            row.walk_ins, row.diners, row.expected = f.walk_ins, f.diners, f.reserved
            row.dishes = items.get(m.pk, [])
            row.takeaway_slots = slots.get(m.pk, [])
        row.forecast, row.backtest = predicted[meal]
        out.append(row)
    return out


# --- no-shows --------------------------------------------------------------------------


def no_shows(user: Any, start: date, end: date, *, canteen_id: int | None = None) -> dict[str, Any]:
    """No-shows over [start, end] in the canteens the user oversees, manages or
    operates: per person (those with at least one, the most first) and per meal. The
    rate is no-shows ÷ (served + no-shows): meals still ahead do not count. Fixed
    query count."""
    _check_range(start, end)
    cs = {c.pk: c for c in staff_canteens(user)}
    if canteen_id is not None:
        if canteen_id not in cs:
            raise NotFound()
        cs = {canteen_id: cs[canteen_id]}
    base = Reservation.objects.filter(
        canteen_id__in=list(cs), menu__day__gte=start, menu__day__lte=end, status__in=HOLDING
    )
    people = (
        base.values("person_id", "person__username", "person__display_name", "person_org__name")
        .annotate(
            reservations=Count("pk"),
            served=Count("pk", filter=Q(status=ReservationStatus.SERVED)),
            no_shows=Count("pk", filter=Q(status=ReservationStatus.NO_SHOW)),
        )
        .filter(no_shows__gt=0)
        .order_by("-no_shows", "person_id")
    )
    by_person = [
        {
            "person_id": r["person_id"],
            "name": r["person__display_name"] or r["person__username"],
            "org_name": r["person_org__name"],
            "reservations": r["reservations"],
            "served": r["served"],
            "no_shows": r["no_shows"],
            "rate": _ratio(r["no_shows"], r["served"] + r["no_shows"]),
        }
        for r in people
    ]
    menus_qs = Menu.objects.filter(
        canteen_id__in=list(cs), day__gte=start, day__lte=end, status__in=COUNTING
    )
    by_meal = []
    totals = {"reservations": 0, "served": 0, "no_shows": 0}
    for f in meal_figures(menus_qs):
        by_meal.append(
            {
                "menu_id": f.menu_id,
                "canteen_id": f.canteen_id,
                "canteen_name": cs[f.canteen_id].name,
                "day": f.day,
                "meal": f.meal,
                "label": _meal_label(f.meal),
                "status": f.status,
                "reservations": f.reservations,
                "served": f.served,
                "no_shows": f.no_shows,
                "rate": _ratio(f.no_shows, f.served + f.no_shows),
            }
        )
        totals["reservations"] += f.reservations
        totals["served"] += f.served
        totals["no_shows"] += f.no_shows
    totals["rate"] = _ratio(totals["no_shows"], totals["served"] + totals["no_shows"])
    return {
        "start": start,
        "end": end,
        "by_person": by_person,
        "by_meal": by_meal,
        "totals": totals,
    }


# --- dashboard -------------------------------------------------------------------------

COUNTED = (
    "meals", "reservations", "vouchers", "reserved", "served", "redeemed", "no_shows",
    "walk_ins", "diners", "waste_kg", "tray_kg", "kitchen_kg", "unsold_kg", "trimmings_kg",
    "weighed_diners", "ratings", "stars",
)  # fmt: skip
_KG = {
    WasteKind.KITCHEN: "kitchen_kg",
    WasteKind.TRAY: "tray_kg",
    WasteKind.UNSOLD: "unsold_kg",
    WasteKind.TRIMMINGS: "trimmings_kg",
}


def _zero() -> dict[str, Any]:
    return dict.fromkeys(COUNTED, 0)


def _add(acc: dict[str, Any], other: dict[str, Any]) -> None:
    for k in COUNTED:
        acc[k] += other[k]


def _finish(g: dict[str, Any]) -> dict[str, Any]:
    """Rates and per-diner figures of a group of counters. Waste per diner divides the
    waste of the days that were weighed by those days' diners only, so a day without a
    weighing does not make waste look smaller."""
    for k in ("waste_kg", "tray_kg", "kitchen_kg", "unsold_kg", "trimmings_kg"):
        g[k] = round(float(g[k]), 2)
    g["no_show_rate"] = _ratio(g["no_shows"], g["served"] + g["no_shows"])
    g["show_rate"] = _ratio(g["served"] + g["redeemed"], g["reserved"])
    per = g["weighed_diners"]
    g["waste_g_per_diner"] = round(g["waste_kg"] * 1000 / per, 1) if per else None
    g["tray_g_per_diner"] = round(g["tray_kg"] * 1000 / per, 1) if per else None
    g["rating_avg"] = round(g["stars"] / g["ratings"], 2) if g["ratings"] else None
    return g


def dashboard(
    user: Any,
    start: date,
    end: date,
    canteen_id: int | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The canteen dashboard over [start, end] (local days, inclusive) for the canteens
    the user oversees, manages or operates (one of them with ``canteen_id``; NotFound
    when not among them). Fixed query count whatever the range and volume.

    - by day: reserved (reservations + vouchers) against diners, no-shows, waste
      (kitchen + tray + unsold, g per diner; trimmings are reused and not counted);
    - per canteen side by side, each with its own daily series (the city compares
      counties; labels say whose canteen when several centres are shown);
    - per meal (breakfast, lunch, dinner) totals; ratings (count, average, by stars);
    - food-safety compliance by clause of JG-ST from the stored judgments, counting only
      the judgments of the canteens' orgs (and below), with each org side by side.
    """
    _check_range(start, end)
    now = now or timezone.now()
    cs = list(staff_canteens(user))
    if canteen_id is not None:
        cs = [c for c in cs if c.pk == canteen_id]
        if not cs:
            raise NotFound()
    ids = [c.pk for c in cs]
    several = len({c.org_id for c in cs}) > 1
    label = {c.pk: f"{_short_org_name(c.org.name)}·{c.name}" if several else c.name for c in cs}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    cells: dict[tuple[int, date], dict[str, Any]] = defaultdict(_zero)
    by_meal: dict[str, dict[str, Any]] = {m: _zero() for m in Meal.values}

    menus_qs = Menu.objects.filter(
        canteen_id__in=ids, day__gte=start, day__lte=end, status__in=COUNTING
    )
    for f in meal_figures(menus_qs, now=now):
        cell = cells[(f.canteen_id, f.day)]
        part = _zero()
        part["meals"] = 1
        part["reservations"], part["vouchers"] = f.reservations, f.vouchers
        part["reserved"], part["served"], part["redeemed"] = f.reserved, f.served, f.redeemed
        part["no_shows"], part["walk_ins"] = f.no_shows, f.walk_ins
        part["diners"] = f.diners or 0
        _add(cell, part)
        _add(by_meal[f.meal], part)
    weighed: set[tuple[int, date]] = set()
    for r in (
        WasteLog.objects.filter(canteen_id__in=ids, day__gte=start, day__lte=end)
        .values("canteen_id", "day", "kind")
        .annotate(kg=Sum("weight_kg"))
        .order_by()
    ):
        cell = cells[(r["canteen_id"], r["day"])]
        kg = r["kg"] or Decimal(0)
        cell[_KG[r["kind"]]] += kg
        if r["kind"] in WASTED:
            cell["waste_kg"] += kg
        weighed.add((r["canteen_id"], r["day"]))
    for key in weighed:
        cells[key]["weighed_diners"] = cells[key]["diners"]
    by_stars = dict.fromkeys(range(1, 6), 0)
    for r in (
        DishRating.objects.filter(canteen_id__in=ids, day__gte=start, day__lte=end)
        .values("canteen_id", "day", "stars")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        cell = cells[(r["canteen_id"], r["day"])]
        cell["ratings"] += r["n"]
        cell["stars"] += r["n"] * r["stars"]
        by_stars[r["stars"]] = by_stars.get(r["stars"], 0) + r["n"]

    day_totals = {d: _zero() for d in days}
    canteen_rows = []
    grand = _zero()
    for c in cs:
        total = _zero()
        series = []
        for d in days:
            cell = cells.get((c.pk, d)) or _zero()
            _add(total, cell)
            _add(day_totals[d], cell)
            series.append(_finish({"day": d, **cell}))
        _add(grand, total)
        canteen_rows.append(
            {
                "canteen_id": c.pk,
                "name": c.name,
                "label": label[c.pk],
                "org_id": c.org_id,
                "org_name": c.org.name,
                **_finish(total),
                "days": series,
            }
        )
    grand = _finish(grand)
    return {
        "start": start,
        "end": end,
        "canteens": [
            {
                "id": c.pk,
                "name": c.name,
                "label": label[c.pk],
                "org_id": c.org_id,
                "org_name": c.org.name,
            }
            for c in cs
        ],
        "totals": grand,
        "days": [_finish({"day": d, **day_totals[d]}) for d in days],
        "by_canteen": canteen_rows,
        "by_meal": [
            {"meal": m, "label": _meal_label(m), **_finish(by_meal[m])}
            for m in sorted(Meal.values, key=lambda m: MEAL_ORDER[m])
        ],
        "ratings": {
            "count": grand["ratings"],
            "average": grand["rating_avg"],
            "by_stars": [{"stars": s, "count": by_stars[s]} for s in range(1, 6)],
        },
        "compliance": food_safety_compliance(user, cs, start, end),
    }


def food_safety_compliance(
    user: Any, canteens: list[Canteen], start: date, end: date
) -> dict[str, Any]:
    """Compliance by clause of the food standard (JG-ST) over [start, end]: the user's
    judgments (``standards.compliance.judgments``: their org scope) restricted to the
    subtrees of the canteens' orgs, each clause with every org side by side. Three
    queries: the standard, one GROUP BY org and clause, the clauses."""
    from dayuan.standards import compliance
    from dayuan.standards.models import Clause, Standard

    empty: dict[str, Any] = {"standard": None, "clauses": [], "by_org": []}
    std = Standard.objects.filter(code=FOOD_STANDARD).values("pk", "code", "title").first()
    if std is None or not canteens:
        return empty
    orgs = {c.org_id: c.org for c in canteens}
    roots = sorted((o.path, o.pk) for o in orgs.values())
    rows = (
        compliance.judgments(user, standard_id=std["pk"], since=start, until=end)
        .filter(path_filter("org", [p for p, _pk in roots]))
        .values("org__path", "clause_id")
        .annotate(
            total=Count("id"),
            passed=Count("id", filter=Q(outcome="pass")),
            failed=Count("id", filter=Q(outcome="fail")),
            na=Count("id", filter=Q(outcome="na")),
        )
        .order_by()
    )

    def zero() -> dict[str, int]:
        return {"total": 0, "passed": 0, "failed": 0, "na": 0}

    per_clause: dict[int, dict[str, int]] = defaultdict(zero)
    per_org: dict[int, dict[str, int]] = defaultdict(zero)
    cross: dict[tuple[int, int], dict[str, int]] = defaultdict(zero)
    for r in rows:
        # the deepest canteen org above the judgment's org
        org_id = max(
            ((p, pk) for p, pk in roots if r["org__path"].startswith(p)),
            key=lambda x: len(x[0]),
        )[1]
        for acc in (per_clause[r["clause_id"]], per_org[org_id], cross[(r["clause_id"], org_id)]):
            for k in ("total", "passed", "failed", "na"):
                acc[k] += r[k]
    info = {
        c["pk"]: c
        for c in Clause.objects.filter(pk__in=list(per_clause)).values(
            "pk", "number", "text", "severity", "position", "version__number"
        )
    }
    org_order = sorted(orgs, key=lambda pk: orgs[pk].path)
    clauses = []
    for clause_id, v in per_clause.items():
        c = info.get(clause_id)
        if c is None:
            continue
        stat = compliance.ClauseStat(
            clause_id=clause_id,
            standard_code=std["code"],
            clause_number=c["number"],
            clause_text=c["text"],
            severity=c["severity"],
            rate=compliance.rate(v["passed"], v["failed"]),
            standard_id=std["pk"],
            standard_title=std["title"],
            version_number=c["version__number"],
            position=c["position"],
            **v,
        ).as_dict()
        stat["by_org"] = [
            {
                "org_id": pk,
                **cross[(clause_id, pk)],
                "rate": compliance.rate(
                    cross[(clause_id, pk)]["passed"], cross[(clause_id, pk)]["failed"]
                ),
            }
            for pk in org_order
        ]
        clauses.append(stat)
    clauses.sort(key=lambda s: (s["version_number"], s["position"], s["clause_number"]))
    return {
        "standard": {"id": std["pk"], "code": std["code"], "title": std["title"]},
        "clauses": clauses,
        "by_org": [
            {
                "org_id": pk,
                "name": _short_org_name(orgs[pk].name),
                **per_org[pk],
                "rate": compliance.rate(per_org[pk]["passed"], per_org[pk]["failed"]),
            }
            for pk in org_order
        ],
    }


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _num(value: Any) -> Any:
    return "" if value is None else value


def export_rows(data: dict[str, Any]) -> list[tuple[str, list[list[Any]]]]:
    """The dashboard (``dashboard(...)``'s result) as sheets of rows for Excel or CSV:
    ``[(sheet title, [header, row, ...]), ...]``."""
    figures = [
        _("预订人次"), _("实际就餐"), _("未就餐"), _("未就餐率"), _("未报餐就餐"),
        _("餐券"), _("浪费（kg）"), _("人均浪费（g）"), _("人均餐盘剩余（g）"),
        _("评价数"), _("平均评分"),
    ]  # fmt: skip

    def values(r: dict[str, Any]) -> list[Any]:
        return [
            r["reserved"], r["diners"], r["no_shows"], _pct(r["no_show_rate"]), r["walk_ins"],
            r["vouchers"], r["waste_kg"], _num(r["waste_g_per_diner"]),
            _num(r["tray_g_per_diner"]), r["ratings"], _num(r["rating_avg"]),
        ]  # fmt: skip

    overview = [[_("食堂"), *figures]]
    for r in data["by_canteen"]:
        overview.append([r["label"], *values(r)])
    overview.append([_("合计"), *values(data["totals"])])
    daily = [[_("日期"), _("食堂"), *figures]]
    for r in data["by_canteen"]:
        for d in r["days"]:
            daily.append([d["day"].isoformat(), r["label"], *values(d)])
    meals = [[_("餐次"), *figures]]
    for r in data["by_meal"]:
        meals.append([r["label"], *values(r)])
    comp = data["compliance"]
    org_names = [o["name"] for o in comp["by_org"]]
    safety = [[_("条款"), _("内容"), _("判定数"), _("符合"), _("不符合"), _("符合率"), *org_names]]
    for s in comp["clauses"]:
        safety.append(
            [s["clause_number"], s["clause_text"], s["total"], s["passed"], s["failed"],
             _pct(s["rate"]), *(_pct(o["rate"]) for o in s["by_org"])]
        )  # fmt: skip
    stars = [[_("评分"), _("评价数")]]
    stars += [[r["stars"], r["count"]] for r in data["ratings"]["by_stars"]]
    return [
        (_("概览"), overview),
        (_("每日"), daily),
        (_("餐次"), meals),
        (_("评价"), stars),
        (_("食品安全符合性"), safety),
    ]


# --- food-safety and waste logs --------------------------------------------------------

LOG_MODELS: dict[str, Any] = {
    "samples": FoodSample,
    "temperatures": TemperatureLog,
    "disinfections": Disinfection,
    "receiving": ReceivingCheck,
    "health_checks": HealthCheck,
    "waste": WasteLog,
    "waste_days": WasteDay,
}
_LOG_RELATED: dict[Any, tuple[str, ...]] = {
    FoodSample: ("menu", "dish", "fridge", "removed_by"),
    TemperatureLog: ("unit",),
    HealthCheck: ("handler",),
}
_BY_DAY = (HealthCheck, WasteLog, WasteDay)  # logs about a day rather than an instant


def safety_logs(
    user: Any,
    kind: str,
    *,
    canteen_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Any]:
    """A food-safety or waste log (``kind`` one of ``LOG_MODELS``) of the canteens the
    user operates, manages or oversees, the latest first; ``start``/``end`` are local
    days (the log's ``day``, or the day of ``recorded_at``). A canteen outside those, or
    an unknown kind, is NotFound."""
    model = LOG_MODELS.get(kind)
    if model is None:
        raise NotFound()
    qs = model.objects.filter(staff_condition(user))
    if canteen_id is not None:
        staff_canteen(user, canteen_id)
        qs = qs.filter(canteen_id=canteen_id)
    if model in _BY_DAY:
        if start is not None:
            qs = qs.filter(day__gte=start)
        if end is not None:
            qs = qs.filter(day__lte=end)
        order: tuple[str, ...] = ("-day", "-recorded_at", "-id")
    else:
        if start is not None:
            qs = qs.filter(recorded_at__gte=_local_day(start)[0])
        if end is not None:
            qs = qs.filter(recorded_at__lt=_local_day(end)[1])
        order = ("-recorded_at", "-id")
    related = ("canteen", "recorded_by", "finding", *_LOG_RELATED.get(model, ()))
    return qs.select_related(*related).order_by(*order)


def safety_log(user: Any, kind: str, pk: int) -> Any:
    """One log of ``safety_logs``, or NotFound."""
    return _one(safety_logs(user, kind), pk)


def samples(
    user: Any,
    *,
    canteen_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    pending: bool = False,
) -> QuerySet[FoodSample]:
    """Food samples; ``pending``: still in the fridge (not removed), the soonest due first."""
    qs = safety_logs(user, "samples", canteen_id=canteen_id, start=start, end=end)
    if pending:
        qs = qs.filter(removed_at__isnull=True).order_by("keep_until", "id")
    return qs


def waste_logs(
    user: Any, *, canteen_id: int | None = None, start: date | None = None, end: date | None = None
) -> QuerySet[WasteLog]:
    return safety_logs(user, "waste", canteen_id=canteen_id, start=start, end=end)


def waste_days(
    user: Any, *, canteen_id: int | None = None, start: date | None = None, end: date | None = None
) -> QuerySet[WasteDay]:
    return safety_logs(user, "waste_days", canteen_id=canteen_id, start=start, end=end)


def food_handlers(
    user: Any, *, canteen_id: int | None = None, active: bool | None = None
) -> QuerySet[FoodHandler]:
    """The food handlers of the user's staff canteens, by canteen and name."""
    qs = FoodHandler.objects.filter(staff_condition(user))
    if canteen_id is not None:
        staff_canteen(user, canteen_id)
        qs = qs.filter(canteen_id=canteen_id)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.select_related("canteen", "user").order_by("canteen_id", "name", "id")


def food_handler(user: Any, pk: int) -> FoodHandler:
    return _one(food_handlers(user), pk)


def cold_units(user: Any, canteen_id: int, *, kind: str | None = None) -> QuerySet[ColdUnit]:
    """The fridges and freezers of a staff canteen (NotFound otherwise)."""
    c = staff_canteen(user, canteen_id)
    qs = ColdUnit.objects.filter(canteen_id=c.pk)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "name", "id")
