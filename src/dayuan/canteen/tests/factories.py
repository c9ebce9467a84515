"""Builders for the canteen tests: the real JG-ST food-safety standard published and
adopted at the city (county B tightens the sample weight to 150 g); a canteen in each
county, operated in county A by the vendor (whose worker keeps the logs); meal periods,
dishes (a 百县千碗 dish, a chef's dish, a vegetarian one, a take-away package), fridges
and a food handler. ``menu(...)`` publishes a meal with the given dishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dayuan.core.testing import World, make_location
from dayuan.orgs.choices import LocationKind
from dayuan.standards import effective
from dayuan.standards import services as std_services
from dayuan.standards.demo import library_path
from dayuan.standards.importer import import_standard
from dayuan.standards.models import Standard

from ..choices import ColdUnitKind, DishCategory, DishTag, Meal, MenuStatus
from ..models import (
    Canteen,
    ColdUnit,
    Dish,
    FoodHandler,
    MealPeriod,
    Menu,
    MenuItem,
    Reservation,
    ReservationLine,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A Monday in a plain working week: 2026-12-07. Tests pin ``now`` to times around it.
MONDAY = date(2026, 12, 7)

# serve start, serve end, reserve cut-off and cancel cut-off (minutes before the start),
# eat-in price
PERIODS = {
    Meal.BREAKFAST: (time(7, 0), time(8, 30), 600, 600, Decimal("3.00")),
    Meal.LUNCH: (time(11, 30), time(13, 0), 120, 150, Decimal("8.00")),
    Meal.DINNER: (time(17, 30), time(19, 0), 180, 210, Decimal("6.00")),
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def load_food_standard(world: World) -> Standard:
    """JG-ST from the shipped library, published and adopted at the city; county B
    adopts it with a 150 g sample (stricter, as the standard allows)."""
    path = library_path("JG-ST")
    admin = world.user("admin")
    version = import_standard(
        actor=admin,
        text=path.read_text(encoding="utf-8"),
        filename=path.name,
        org_code=world.city.code,
        publish=True,
    )
    std = version.standard
    std_services.adopt(actor=admin, org_id=world.city.pk, standard_id=std.pk)
    std_services.adopt(
        actor=admin,
        org_id=world.county_b.pk,
        standard_id=std.pk,
        overrides={"c1_sample_quantity": {"vars.min_weight_g.value": 150}},
    )
    effective.invalidate()
    return std


@dataclass
class CanteenWorld:
    world: World
    standard: Standard
    canteens: dict[str, Canteen] = field(default_factory=dict)  # "a", "b"
    dishes: dict[str, Dish] = field(default_factory=dict)  # "a:<key>", "b:<key>"
    fridges: dict[str, ColdUnit] = field(default_factory=dict)  # "a:sample", "a:chilled", …
    handlers: dict[str, FoodHandler] = field(default_factory=dict)

    def user(self, name: str) -> Any:
        return self.world.user(name)

    def dish(self, key: str) -> Dish:
        return self.dishes[key]


DISHES = [
    # key, name, category, tags, allergens, region, price
    ("dongpo", "东坡肉", DishCategory.MEAT, [DishTag.BAIXIAN], ["soy"], "杭州", "12.00"),
    (
        "fish",
        "名厨酸菜鱼",
        DishCategory.MEAT,
        [DishTag.MINGCHU, DishTag.SPICY],
        ["fish"],
        "",
        "15.00",
    ),
    ("greens", "清炒时蔬", DishCategory.VEGETABLE, [DishTag.VEGETARIAN], [], "", "3.00"),
    ("rice", "米饭", DishCategory.STAPLE, [], [], "", "1.00"),
    ("soup", "番茄蛋汤", DishCategory.SOUP, [], ["egg"], "", "2.00"),
    ("box", "外带套餐（两荤一素）", DishCategory.PACKAGE, [], ["soy"], "", "16.00"),
]


def build(world: World) -> CanteenWorld:
    cw = CanteenWorld(world, load_food_standard(world))
    for key, org, operator in (
        ("a", world.county_a, world.vendor),
        ("b", world.county_b, None),
    ):
        hall = make_location(org, f"{org.name[:2]}食堂", LocationKind.BUILDING, tags=["食堂"])
        kitchen = make_location(org, "中心厨房", LocationKind.ROOM, hall, tags=["厨房", "后厨"])
        canteen = Canteen.objects.create(
            org=org,
            operator=operator,
            location=hall,
            kitchen=kitchen,
            name=f"{org.name[:2]}机关食堂",
            seats=300,
        )
        cw.canteens[key] = canteen
        for meal, (start, end, cutoff, cancel, price) in PERIODS.items():
            MealPeriod.objects.create(
                canteen=canteen,
                meal=meal,
                serve_start=start,
                serve_end=end,
                reserve_cutoff_minutes=cutoff,
                cancel_cutoff_minutes=cancel,
                eat_in_price=price,
            )
        for dkey, name, category, tags, allergens, region, price in DISHES:
            cw.dishes[f"{key}:{dkey}"] = Dish.objects.create(
                org=org,
                canteen=canteen,
                name=name,
                category=category,
                tags=sorted(str(t) for t in tags),
                allergens=allergens,
                region=region,
                price=Decimal(price),
            )
        for kind, name in (
            (ColdUnitKind.SAMPLE, "留样冰箱"),
            (ColdUnitKind.CHILLED, "冷藏柜1"),
            (ColdUnitKind.FROZEN, "冷冻柜1"),
        ):
            cw.fridges[f"{key}:{kind}"] = ColdUnit.objects.create(
                canteen=canteen, name=name, kind=kind
            )
        cw.handlers[key] = FoodHandler.objects.create(
            org=org,
            canteen=canteen,
            name=f"{key.upper()}厨师",
            post="厨师",
            certificate_no=f"JK-{key}-001",
            issued_on=MONDAY - timedelta(days=300),
            expires_on=MONDAY + timedelta(days=65),
        )
    return cw


def menu(
    cw: CanteenWorld,
    key: str = "a",
    day: date = MONDAY,
    meal: str = Meal.LUNCH,
    *,
    items: dict[str, int | None] | None = None,
    status: str = MenuStatus.PUBLISHED,
    capacity: int | None = None,
) -> Menu:
    """A menu row written directly (the services are tested on their own): ``items``
    maps dish keys to portions (None: unlimited). Deadlines from ``PERIODS``."""
    canteen = cw.canteens[key]
    start_t, end_t, cutoff, cancel, price = PERIODS[meal]
    start = datetime.combine(day, start_t, SHANGHAI)
    m = Menu.objects.create(
        org=canteen.org,
        canteen=canteen,
        day=day,
        meal=meal,
        status=status,
        serve_start=start,
        serve_end=datetime.combine(day, end_t, SHANGHAI),
        reserve_until=start - timedelta(minutes=cutoff),
        cancel_until=start - timedelta(minutes=cancel),
        eat_in_price=price,
        capacity=capacity,
    )
    items = items if items is not None else {"dongpo": 100, "greens": None, "rice": None, "box": 50}
    for position, (dkey, portions) in enumerate(items.items()):
        dish = cw.dishes[f"{key}:{dkey}"]
        MenuItem.objects.create(
            menu=m,
            dish=dish,
            price=dish.price,
            portions=portions,
            takeaway=dish.category == DishCategory.PACKAGE,
            position=position,
        )
    return m


def reservation_row(
    m: Menu,
    person: Any,
    *,
    number: str,
    pickup_code: str,
    status: str,
    kind: str,
    lines: Any = (),
    **fields: Any,
) -> Reservation:
    """A reservation row and its ``lines`` (``(menu_item, quantity)``) written directly:
    no counters move (the caller moves them when the test needs them)."""
    r = Reservation.objects.create(
        org=m.org,
        canteen=m.canteen,
        menu=m,
        person=person,
        person_org=person.home_org,
        number=number,
        kind=kind,
        status=status,
        pickup_code=pickup_code,
        **fields,
    )
    for menu_item, quantity in lines:
        ReservationLine.objects.create(
            reservation=r, menu_item=menu_item, quantity=quantity, price=menu_item.price
        )
    return r
