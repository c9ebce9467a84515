"""Months of canteen history written straight with the ORM (bulk): closed menus with
reservations (served or no-show), vouchers, walk-ins, ratings and waste weighings, for
the read side, the forecast and the volume tests. Deterministic for a given seed.

Per day and meal the reservations follow a weekly pattern (fewer on weekends and
holidays) plus noise; about 90 % of those who reserve come; a few walk in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import F

from dayuan.accounts.models import User
from dayuan.workcalendar.calendar import current_table

from ..choices import (
    DishCategory,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
    WasteKind,
)
from ..models import (
    DishRating,
    Menu,
    MenuItem,
    Reservation,
    ReservationLine,
    Voucher,
    VoucherBatch,
    WasteLog,
)
from .factories import MONDAY, PERIODS, SHANGHAI, CanteenWorld

# reservations on a working day (a weekend or holiday has a third), walk-ins
BASE = {Meal.BREAKFAST: (40, 8), Meal.LUNCH: (110, 15), Meal.DINNER: (50, 6)}
SHOW = 0.9


@dataclass
class Built:
    menus: list[Menu] = field(default_factory=list)
    persons: list[User] = field(default_factory=list)
    reservations: int = 0


def people(org, n: int, prefix: str) -> list[User]:
    users = [
        User(username=f"{prefix}{i:04d}", display_name=f"{prefix}员工{i}", home_org=org)
        for i in range(n)
    ]
    for u in users:
        u.set_unusable_password()
    User.objects.bulk_create(users, batch_size=1000)
    return list(User.objects.filter(username__startswith=prefix).order_by("username"))


def history(
    cw: CanteenWorld,
    key: str = "a",
    *,
    days: int = 60,
    end: date = MONDAY,
    meals: tuple[str, ...] = (Meal.BREAKFAST, Meal.LUNCH, Meal.DINNER),
    persons: list[User] | None = None,
    scale: float = 1.0,
    seed: int = 1,
    vouchers: bool = True,
    ratings: bool = True,
    waste: bool = True,
    lead: timedelta = timedelta(hours=20),
) -> Built:
    """Closed meals for the ``days`` days before ``end`` in canteen ``key``."""
    rnd = random.Random(seed)
    canteen = cw.canteens[key]
    org = canteen.org
    table = current_table()
    persons = persons or people(org, int(140 * scale) + 10, f"{key}p{seed}_")
    issuer = cw.user(f"{key}_staff")
    dishes = [cw.dish(f"{key}:{d}") for d in ("dongpo", "greens", "rice", "box")]
    built = Built(persons=persons)
    plan = []  # (menu, reserved, walk_ins)
    for offset in range(days, 0, -1):
        day = end - timedelta(days=offset)
        workday = table.is_workday(day)
        for meal in meals:
            start_t, end_t, cutoff, cancel, price = PERIODS[meal]
            start = datetime.combine(day, start_t, SHANGHAI)
            base, walk = BASE[meal]
            n = base * scale * (1 if workday else 1 / 3) * (0.85 + 0.3 * rnd.random())
            n = min(int(n), len(persons))
            w = max(0, int(walk * (1 if workday else 0.5) + rnd.randint(-3, 3)))
            plan.append(
                (
                    Menu(
                        org=org,
                        canteen=canteen,
                        day=day,
                        meal=meal,
                        status=MenuStatus.CLOSED,
                        serve_start=start,
                        serve_end=datetime.combine(day, end_t, SHANGHAI),
                        reserve_until=start - timedelta(minutes=cutoff),
                        cancel_until=start - timedelta(minutes=cancel),
                        eat_in_price=price,
                        walk_ins=w,
                        closed_at=datetime.combine(day, end_t, SHANGHAI) + timedelta(hours=1),
                    ),
                    n,
                    w,
                )
            )
    Menu.objects.bulk_create([p[0] for p in plan], batch_size=1000)
    built.menus = list(
        Menu.objects.filter(canteen=canteen, day__gte=end - timedelta(days=days), day__lt=end)
        .filter(meal__in=meals)
        .order_by("day", "serve_start")
    )
    by_key = {(m.day, m.meal): m for m in built.menus}
    items = []
    for m in built.menus:
        for position, dish in enumerate(dishes):
            items.append(
                MenuItem(
                    menu=m,
                    dish=dish,
                    price=dish.price,
                    portions=None if position else 200,
                    takeaway=dish.category == DishCategory.PACKAGE,
                    position=position,
                )
            )
    MenuItem.objects.bulk_create(items, batch_size=2000)
    first_item = {i.menu_id: i for i in MenuItem.objects.filter(menu__in=built.menus, position=0)}
    rows = []
    diners: dict[int, int] = {}
    for menu_obj, n, w in plan:
        m = by_key[(menu_obj.day, menu_obj.meal)]
        chosen = rnd.sample(persons, n)
        served = 0
        for i, person in enumerate(chosen):
            came = rnd.random() < SHOW
            served += came
            takeaway = i % 10 == 9
            rows.append(
                Reservation(
                    org=org,
                    canteen=canteen,
                    menu=m,
                    person=person,
                    person_org=org,
                    number=f"BC{m.pk}-{i}",
                    kind=ReservationKind.TAKEAWAY if takeaway else ReservationKind.EAT_IN,
                    status=ReservationStatus.SERVED if came else ReservationStatus.NO_SHOW,
                    pickup_at=m.serve_start if takeaway else None,
                    pickup_code=f"{i:06d}",
                    amount=m.eat_in_price,
                    served_at=m.serve_start + timedelta(minutes=10) if came else None,
                )
            )
        diners[m.pk] = served + w
    Reservation.objects.bulk_create(rows, batch_size=2000)
    built.reservations = len(rows)
    # every reservation made ``lead`` before its meal (bulk_create stamps "now")
    for m in built.menus:
        Reservation.objects.filter(menu=m).update(created_at=m.serve_start - lead)
    lines = [
        ReservationLine(
            reservation_id=pk, menu_item=first_item[menu_id], quantity=1, price=Decimal("12.00")
        )
        for pk, menu_id in Reservation.objects.filter(menu__in=built.menus)
        .order_by("id")
        .values_list("pk", "menu_id")[::4]
    ]
    ReservationLine.objects.bulk_create(lines, batch_size=2000)
    sold: dict[int, int] = {}
    for line in lines:
        sold[line.menu_item.pk] = sold.get(line.menu_item.pk, 0) + 1
    for item_pk, n in sold.items():
        MenuItem.objects.filter(pk=item_pk).update(sold=n)
    if vouchers:
        for m in built.menus:
            if m.meal != Meal.LUNCH or not table.is_workday(m.day):
                continue
            batch = VoucherBatch.objects.create(
                org=org,
                canteen=canteen,
                menu=m,
                issuer=issuer,
                unit=issuer.home_org,
                purpose=VoucherPurpose.MEETING,
                guest="来访",
                count=5,
                number=f"CQ{m.pk}",
            )
            Voucher.objects.bulk_create(
                Voucher(
                    batch=batch,
                    menu=m,
                    code=f"{m.pk:04d}{i:04d}",
                    status=VoucherStatus.REDEEMED if i < 4 else VoucherStatus.ISSUED,
                )
                for i in range(5)
            )
            diners[m.pk] += 4
    for pk, n in diners.items():
        Menu.objects.filter(pk=pk).update(diners=n)
    if ratings:
        served = (
            Reservation.objects.filter(
                menu__in=built.menus, menu__meal=Meal.LUNCH, status=ReservationStatus.SERVED
            )
            .order_by("id")
            .values_list("menu_id", "person_id", "menu__day")
        )
        per_menu: dict[int, int] = {}
        items_of = {
            (i.menu_id, i.position): i for i in MenuItem.objects.filter(menu__in=built.menus)
        }
        got = []
        for menu_id, person_id, day in served:
            k = per_menu.get(menu_id, 0)
            if k >= 6:
                continue
            per_menu[menu_id] = k + 1
            for position, stars in ((0, 4 + (k % 2)), (1, 2 + (k % 2))):
                item = items_of[(menu_id, position)]
                got.append(
                    DishRating(
                        org=org,
                        canteen=canteen,
                        menu_item=item,
                        dish_id=item.dish_id,
                        day=day,
                        person_id=person_id,
                        stars=stars,
                    )
                )
        DishRating.objects.bulk_create(got, batch_size=2000)
    if waste:
        recorder = cw.user(f"{key}_manager")
        logs = []
        for offset in range(days, 0, -1):
            day = end - timedelta(days=offset)
            at = datetime.combine(day, PERIODS[Meal.DINNER][1], SHANGHAI) + timedelta(hours=1)
            for kind, kg in (
                (WasteKind.KITCHEN, "20.00"),
                (WasteKind.TRAY, "6.00"),
                (WasteKind.UNSOLD, "3.00"),
                (WasteKind.TRIMMINGS, "2.00"),
            ):
                logs.append(
                    WasteLog(
                        org=org,
                        canteen=canteen,
                        recorded_at=at,
                        recorded_by=recorder,
                        day=day,
                        kind=kind,
                        weight_kg=Decimal(kg),
                    )
                )
        WasteLog.objects.bulk_create(logs, batch_size=2000)
    for m in built.menus:
        m.refresh_from_db(fields=["diners"])
    return built


def diners_of(menu: Menu) -> int:
    return Menu.objects.filter(pk=menu.pk).values_list("diners", flat=True)[0]


def bump(menu: Menu, delta: int) -> None:
    """Change a closed meal's actual diners (walk-ins unchanged)."""
    Menu.objects.filter(pk=menu.pk).update(diners=F("diners") + delta)
