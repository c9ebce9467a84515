"""The read side: who sees which canteens, menus, reservations, vouchers, ratings and
logs (county B sees none of A's; the city sees both side by side); the kitchen's
counts, no-shows, the week's best and worst dishes, the dashboard and its export; and
fixed query counts at volume (2 canteens × 60 days × 3 meals, ~20,000 reservations)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from openpyxl import load_workbook

from dayuan.core.errors import InvalidInput, NotFound
from dayuan.standards import engine

from .. import export, queries
from ..choices import (
    Meal,
    MenuStatus,
    RecordType,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
    WasteKind,
)
from ..models import (
    Canteen,
    Dish,
    DishRating,
    Menu,
    MenuItem,
    Reservation,
    ReservationLine,
    Voucher,
    VoucherBatch,
    WasteLog,
)
from . import history as hist
from .factories import MONDAY, at, menu, reservation_row

pytestmark = pytest.mark.django_db

R = ReservationStatus
TUESDAY = MONDAY + timedelta(days=1)
NUMBERS = count(1)


def ids(rows) -> set[int]:
    return {x.pk for x in rows}


def reservation(m: Menu, person, status=R.RESERVED, *, kind=ReservationKind.EAT_IN, pickup=None):
    n = next(NUMBERS)
    return reservation_row(
        m,
        person,
        number=f"BCQ{n:06d}",
        pickup_code=f"{900000 + n:06d}",
        status=status,
        kind=kind,
        pickup_at=pickup,
        amount=m.eat_in_price,
    )


def vouchers(m: Menu, issuer, n: int, redeemed: int = 0, void: int = 0) -> VoucherBatch:
    batch = VoucherBatch.objects.create(
        org=m.org,
        canteen=m.canteen,
        menu=m,
        issuer=issuer,
        unit=issuer.home_org,
        purpose=VoucherPurpose.VISITOR,
        guest="检查组",
        count=n,
        number=f"CQQ{next(NUMBERS):06d}",
    )
    for i in range(n):
        status = (
            VoucherStatus.REDEEMED
            if i < redeemed
            else VoucherStatus.VOID
            if i < redeemed + void
            else VoucherStatus.ISSUED
        )
        Voucher.objects.create(batch=batch, menu=m, code=f"{batch.pk:04d}{i:04d}", status=status)
    return batch


def rate_item(item: MenuItem, person, stars: int) -> DishRating:
    return DishRating.objects.create(
        org=item.menu.org,
        canteen=item.menu.canteen,
        menu_item=item,
        dish=item.dish,
        day=item.menu.day,
        person=person,
        stars=stars,
    )


def weigh(canteen: Canteen, day, kind, kg: str, user) -> WasteLog:
    return WasteLog.objects.create(
        org=canteen.org,
        canteen=canteen,
        recorded_at=at(day.year, day.month, day.day, 20, 0),
        recorded_by=user,
        day=day,
        kind=kind,
        weight_kg=Decimal(kg),
    )


def close(m: Menu, walk_ins: int = 0) -> Menu:
    """What close_meal does, written directly: no-shows, walk-ins, diners."""
    Reservation.objects.filter(menu=m, status=R.RESERVED).update(status=R.NO_SHOW)
    served = Reservation.objects.filter(menu=m, status=R.SERVED).count()
    redeemed = Voucher.objects.filter(menu=m, status=VoucherStatus.REDEEMED).count()
    Menu.objects.filter(pk=m.pk).update(
        status=MenuStatus.CLOSED, walk_ins=walk_ins, diners=served + redeemed + walk_ins
    )
    m.refresh_from_db()
    return m


# --- canteens and dishes ---------------------------------------------------------------


def test_canteens_by_county_operator_and_city(cw):
    a, b = cw.canteens["a"], cw.canteens["b"]
    assert ids(queries.visible_canteens(cw.user("a_staff"))) == {a.pk}
    assert ids(queries.visible_canteens(cw.user("b_staff"))) == {b.pk}
    assert ids(queries.visible_canteens(cw.user("city_manager"))) == {a.pk, b.pk}
    assert ids(queries.visible_canteens(cw.user("vendor_worker"))) == {a.pk}
    assert ids(queries.visible_canteens(None)) == set()
    with pytest.raises(NotFound):
        queries.canteen(cw.user("b_staff"), a.pk)
    # the kitchen's side: operators, managers, overseers; never a diner
    assert ids(queries.staff_canteens(cw.user("vendor_worker"))) == {a.pk}
    assert ids(queries.staff_canteens(cw.user("a_inspector"))) == {a.pk}
    assert ids(queries.staff_canteens(cw.user("city_manager"))) == {a.pk, b.pk}
    assert ids(queries.staff_canteens(cw.user("a_staff"))) == set()
    assert ids(queries.staff_canteens(cw.user("b_manager"))) == {b.pk}
    Canteen.objects.filter(pk=a.pk).update(is_active=False)
    assert ids(queries.visible_canteens(cw.user("a_staff"))) == set()
    assert ids(queries.visible_canteens(cw.user("a_manager"))) == {a.pk}


def test_dishes_of_a_visible_canteen(cw):
    a = cw.canteens["a"]
    Dish.objects.filter(pk=cw.dish("a:fish").pk).update(is_active=False)
    staff = {d.name for d in queries.dishes(cw.user("a_staff"), a.pk)}
    assert "东坡肉" in staff and "名厨酸菜鱼" not in staff
    assert "名厨酸菜鱼" in {d.name for d in queries.dishes(cw.user("a_manager"), a.pk)}
    assert [d.name for d in queries.dishes(cw.user("a_staff"), a.pk, q="东坡")] == ["东坡肉"]
    with pytest.raises(NotFound):
        queries.dishes(cw.user("b_staff"), a.pk)
    with pytest.raises(NotFound):
        queries.dish(cw.user("b_manager"), cw.dish("a:dongpo").pk)
    with pytest.raises(NotFound):
        queries.dish_with_photo(cw.user("a_staff"), cw.dish("a:dongpo").pk)  # no photo
    got = queries.dish(cw.user("a_staff"), cw.dish("a:dongpo").pk)
    assert (got.rating_avg, got.rating_count) == (None, 0)


# --- menus -----------------------------------------------------------------------------


def test_menus_with_items_remaining_mine_and_ratings(cw):
    a = cw.canteens["a"]
    staff = cw.user("a_staff")
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    draft = menu(cw, "a", TUESDAY, Meal.DINNER, status=MenuStatus.DRAFT)
    menu(cw, "b", TUESDAY, Meal.LUNCH)
    MenuItem.objects.filter(menu=lunch, dish=cw.dish("a:dongpo")).update(sold=98)
    mine = reservation(lunch, staff)
    old = menu(cw, "a", MONDAY - timedelta(days=7), Meal.LUNCH, status=MenuStatus.CLOSED)
    old_item = MenuItem.objects.get(menu=old, dish=cw.dish("a:dongpo"))
    for stars, who in ((5, "a_staff"), (4, "a_manager")):
        rate_item(old_item, cw.user(who), stars)

    got = queries.menus(staff, a.pk, MONDAY, TUESDAY)
    assert [m.pk for m in got] == [lunch.pk]  # no draft for a diner, no other canteen
    m = got[0]
    assert m.my_reservation.pk == mine.pk
    by_dish = {i.dish.name: i for i in m.items.all()}
    assert by_dish["东坡肉"].remaining == 2 and by_dish["米饭"].remaining is None
    assert (by_dish["东坡肉"].rating_avg, by_dish["东坡肉"].rating_count) == (4.5, 2)
    assert (by_dish["米饭"].rating_avg, by_dish["米饭"].rating_count) == (None, 0)
    assert {m.pk for m in queries.menus(cw.user("a_manager"), a.pk, MONDAY, TUESDAY)} == {
        lunch.pk,
        draft.pk,
    }
    assert queries.menus(cw.user("a_manager"), a.pk, MONDAY, TUESDAY)[0].my_reservation is None
    with pytest.raises(NotFound):
        queries.menus(cw.user("b_staff"), a.pk, MONDAY, TUESDAY)
    with pytest.raises(InvalidInput) as exc:
        queries.menus(staff, a.pk, TUESDAY, MONDAY)
    assert exc.value.code == "bad_range"


def test_one_menu_and_item(cw):
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    draft = menu(cw, "a", TUESDAY, Meal.DINNER, status=MenuStatus.DRAFT)
    assert queries.menu(cw.user("a_staff"), lunch.pk).canteen == cw.canteens["a"]
    for who, pk in (("b_staff", lunch.pk), ("b_manager", lunch.pk), ("a_staff", draft.pk)):
        with pytest.raises(NotFound):
            queries.menu(cw.user(who), pk)
    assert queries.menu(cw.user("vendor_worker"), draft.pk) == draft
    item = lunch.items.first()
    assert queries.menu_item(cw.user("a_staff"), item.pk).menu == lunch
    with pytest.raises(NotFound):
        queries.menu_item(cw.user("b_staff"), item.pk)


# --- reservations, vouchers, ratings ---------------------------------------------------


def test_reservations_seen_by_person_overseers_and_operators_only(cw):
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    own = reservation(lunch, cw.user("a_staff"))
    other = reservation(lunch, cw.user("a_inspector"))
    b_res = reservation(menu(cw, "b", TUESDAY, Meal.LUNCH), cw.user("b_staff"))
    assert ids(queries.reservations(cw.user("a_staff"))) == {own.pk}
    for who in ("a_manager", "a_inspector", "vendor_worker", "a_dispatcher"):
        assert ids(queries.reservations(cw.user(who))) >= {own.pk, other.pk}, who
        assert b_res.pk not in ids(queries.reservations(cw.user(who))), who
    assert ids(queries.reservations(cw.user("city_manager"))) == {own.pk, other.pk, b_res.pk}
    assert ids(queries.reservations(cw.user("b_manager"))) == {b_res.pk}
    for who in ("b_manager", "b_staff"):
        with pytest.raises(NotFound):
            queries.reservation(cw.user(who), own.pk)
    with pytest.raises(NotFound):
        queries.reservation(cw.user("a_dispatcher"), b_res.pk)
    assert queries.reservation(cw.user("vendor_worker"), own.pk) == own
    manager = cw.user("a_manager")
    assert ids(queries.reservations(manager, mine=True)) == set()
    assert ids(queries.reservations(manager, menu_id=lunch.pk, status="reserved")) == {
        own.pk,
        other.pk,
    }
    assert ids(queries.reservations(manager, person_id=cw.user("a_staff").pk)) == {own.pk}
    assert ids(queries.reservations(manager, day=MONDAY)) == set()


def test_my_reservations_upcoming_and_all(cw):
    staff = cw.user("a_staff")
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    dinner = menu(cw, "a", MONDAY, Meal.DINNER)
    past = menu(cw, "a", MONDAY, Meal.BREAKFAST)
    r1, r2 = reservation(lunch, staff), reservation(dinner, staff)
    r3 = reservation(past, staff, R.SERVED)
    ReservationLine.objects.create(
        reservation=r1, menu_item=lunch.items.first(), quantity=1, price=Decimal("12.00")
    )
    now = at(2026, 12, 7, 12, 0)
    upcoming = list(queries.my_reservations(staff, now=now))
    assert [r.pk for r in upcoming] == [r2.pk, r1.pk]
    assert [ln.menu_item.dish.name for ln in upcoming[1].lines.all()] == ["东坡肉"]
    assert [r.pk for r in queries.my_reservations(staff, upcoming=False, now=now)] == [
        r1.pk,
        r2.pk,
        r3.pk,
    ]
    assert list(queries.my_reservations(None)) == []


def test_voucher_batches_of_issuer_overseers_and_operators(cw):
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    batch = vouchers(lunch, cw.user("a_staff"), 5, redeemed=2, void=1)
    assert ids(queries.voucher_batches(cw.user("a_staff"))) == {batch.pk}
    got = queries.voucher_batch(cw.user("vendor_worker"), batch.pk)
    assert (got.issued, got.redeemed, got.voided) == (2, 2, 1)
    assert len(got.vouchers.all()) == 5
    assert ids(queries.voucher_batches(cw.user("a_inspector"), mine=True)) == set()
    assert queries.voucher_batch(cw.user("a_dispatcher"), batch.pk) == batch
    for who in ("b_manager", "b_staff", "a_inspector"):
        if who == "a_inspector":  # an overseer
            assert queries.voucher_batch(cw.user(who), batch.pk) == batch
        else:
            with pytest.raises(NotFound):
                queries.voucher_batch(cw.user(who), batch.pk)


def test_ratings_are_seen_with_the_canteen_and_names_by_managers(cw):
    lunch = close(menu(cw, "a", MONDAY, Meal.LUNCH))
    item = lunch.items.first()
    rating = rate_item(item, cw.user("a_staff"), 4)
    assert ids(queries.ratings(cw.user("a_inspector"), dish_id=item.dish_id)) == {rating.pk}
    assert ids(queries.ratings(cw.user("b_staff"))) == set()
    assert ids(queries.ratings(cw.user("city_manager"))) == {rating.pk}
    a = cw.canteens["a"]
    assert queries.may_see_rater(cw.user("a_manager"), a)
    assert queries.may_see_rater(cw.user("a_inspector"), a)  # overseer
    assert not queries.may_see_rater(cw.user("a_staff"), a)
    assert not queries.may_see_rater(cw.user("vendor_worker"), a)
    assert not queries.may_see_rater(cw.user("b_manager"), a)


def test_best_and_worst_dishes_of_the_week(cw):
    people = hist.people(cw.world.county_a, 4, "rater")
    dishes = dict.fromkeys(("dongpo", "fish", "greens", "rice"))
    monday = close(menu(cw, "a", MONDAY, Meal.LUNCH, items=dishes))
    items = {i.dish.name: i for i in monday.items.select_related("dish")}
    for p, stars in zip(people, (5, 5, 4, 5), strict=True):
        rate_item(items["东坡肉"], p, stars)
    for p, stars in zip(people, (1, 2, 2), strict=False):
        rate_item(items["清炒时蔬"], p, stars)
    for p, stars in zip(people, (4, 3, 3), strict=False):
        rate_item(items["名厨酸菜鱼"], p, stars)
    for p in people[:2]:  # two ratings: not ranked
        rate_item(items["米饭"], p, 1)
    got = queries.best_worst_dishes(cw.user("a_staff"), MONDAY, limit=1)
    assert [d["name"] for d in got["best"]] == ["东坡肉"]
    assert got["best"][0]["average"] == 4.75 and got["best"][0]["ratings"] == 4
    assert [d["name"] for d in got["worst"]] == ["清炒时蔬"]
    full = queries.best_worst_dishes(cw.user("a_staff"), MONDAY, limit=5)
    assert [d["name"] for d in full["best"]] == ["东坡肉", "名厨酸菜鱼", "清炒时蔬"]
    assert full["worst"] == []  # every ranked dish is already among the best
    assert queries.best_worst_dishes(cw.user("b_staff"), MONDAY)["best"] == []
    assert queries.best_worst_dishes(cw.user("a_staff"), MONDAY + timedelta(days=7))["best"] == []
    with pytest.raises(NotFound):
        queries.best_worst_dishes(cw.user("b_staff"), MONDAY, canteen_id=cw.canteens["a"].pk)


# --- the kitchen -----------------------------------------------------------------------


def test_kitchen_counts_per_meal(cw):
    a = cw.canteens["a"]
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    people = hist.people(cw.world.county_a, 6, "eater")
    for p in people[:3]:
        reservation(lunch, p)
    slot1 = at(2026, 12, 8, 11, 30)
    slot2 = at(2026, 12, 8, 11, 45)
    reservation(lunch, people[3], kind=ReservationKind.TAKEAWAY, pickup=slot1)
    reservation(lunch, people[4], kind=ReservationKind.TAKEAWAY, pickup=slot2)
    reservation(lunch, people[5], R.CANCELLED, kind=ReservationKind.TAKEAWAY, pickup=slot2)
    vouchers(lunch, cw.user("a_staff"), 4, void=1)
    MenuItem.objects.filter(menu=lunch, dish=cw.dish("a:dongpo")).update(sold=7)
    now = at(2026, 12, 7, 16, 0)
    got = queries.kitchen_counts(cw.user("vendor_worker"), a.pk, TUESDAY, now=now)
    assert [m.meal for m in got] == [Meal.BREAKFAST, Meal.LUNCH, Meal.DINNER]
    breakfast, row, _dinner = got
    assert breakfast.menu is None and breakfast.expected == 0
    assert breakfast.forecast.predicted == 0 and breakfast.backtest.n == 0
    assert (row.eat_in, row.takeaway, row.vouchers, row.cancelled) == (3, 2, 3, 1)
    assert row.expected == 8 and row.diners is None
    assert [(s.at, s.count) for s in row.takeaway_slots] == [(slot1, 1), (slot2, 1)]
    dongpo = next(d for d in row.dishes if d.name == "东坡肉")
    assert (dongpo.portions, dongpo.sold, dongpo.remaining) == (100, 7, 93)
    assert [d.takeaway for d in row.dishes] == [False, False, False, True]
    assert row.forecast.reserved == 8 and row.forecast.method == "no_history"
    for who in ("a_staff", "b_manager", "b_staff"):
        with pytest.raises(NotFound):
            queries.kitchen_counts(cw.user(who), a.pk, TUESDAY, now=now)
    assert len(queries.kitchen_counts(cw.user("city_manager"), a.pk, TUESDAY, now=now)) == 3


# --- no-shows --------------------------------------------------------------------------


def test_no_shows_per_person_and_per_meal(cw):
    staff, inspector = cw.user("a_staff"), cw.user("a_inspector")
    m1 = menu(cw, "a", MONDAY, Meal.LUNCH)
    m2 = menu(cw, "a", MONDAY, Meal.DINNER)
    reservation(m1, staff)
    reservation(m1, inspector, R.SERVED)
    reservation(m2, staff)
    reservation(m2, inspector)
    close(m1)
    close(m2)
    reservation(menu(cw, "b", MONDAY, Meal.LUNCH), cw.user("b_staff"))
    got = queries.no_shows(cw.user("a_manager"), MONDAY, MONDAY)
    assert [(p["name"], p["no_shows"], p["rate"]) for p in got["by_person"]] == [
        ("a_staff", 2, 1.0),
        ("a_inspector", 1, 0.5),
    ]
    assert [(m["meal"], m["no_shows"], m["served"]) for m in got["by_meal"]] == [
        (Meal.LUNCH, 1, 1),
        (Meal.DINNER, 2, 0),
    ]
    assert got["totals"] == {"reservations": 4, "served": 1, "no_shows": 3, "rate": 0.75}
    assert queries.no_shows(cw.user("b_manager"), MONDAY, MONDAY)["by_person"] == []
    assert queries.no_shows(cw.user("a_staff"), MONDAY, MONDAY)["by_meal"] == []
    city = queries.no_shows(cw.user("city_manager"), MONDAY, MONDAY)
    assert len(city["by_meal"]) == 3
    with pytest.raises(NotFound):
        queries.no_shows(cw.user("b_manager"), MONDAY, MONDAY, canteen_id=cw.canteens["a"].pk)


# --- dashboard -------------------------------------------------------------------------


@pytest.fixture
def day_of_meals(cw):
    """MONDAY in both canteens: A's lunch 4 reserved (3 served), 2 vouchers (1 used),
    2 walk-ins; B's lunch 2 reserved (2 served); waste weighed in A; ratings; and some
    JG-ST judgments in both counties and one at the city (not a canteen org)."""
    a_lunch = menu(cw, "a", MONDAY, Meal.LUNCH)
    people = hist.people(cw.world.county_a, 4, "diner")
    for p in people[:3]:
        reservation(a_lunch, p, R.SERVED)
    reservation(a_lunch, people[3])
    vouchers(a_lunch, cw.user("a_staff"), 2, redeemed=1)
    close(a_lunch, walk_ins=2)  # diners 3 + 1 + 2 = 6
    b_lunch = menu(cw, "b", MONDAY, Meal.LUNCH)
    for p in hist.people(cw.world.county_b, 2, "bdiner"):
        reservation(b_lunch, p, R.SERVED)
    close(b_lunch)
    manager = cw.user("a_manager")
    weigh(cw.canteens["a"], MONDAY, WasteKind.KITCHEN, "1.20", manager)
    weigh(cw.canteens["a"], MONDAY, WasteKind.TRAY, "0.30", manager)
    weigh(cw.canteens["a"], MONDAY, WasteKind.TRIMMINGS, "5.00", manager)  # reused: not waste
    rate_item(a_lunch.items.first(), people[0], 5)
    rate_item(a_lunch.items.first(), people[1], 2)
    noon = at(2026, 12, 7, 14, 0)
    for org, weight in (
        (cw.world.county_a, 1.0),
        (cw.world.county_a, -1.0),
        (cw.world.county_b, 2.0),
        (cw.world.city, -3.0),
    ):
        engine.evaluate_record(
            org, RecordType.WASTE_LEDGER, {"weight_kg": weight, "registered_by": "x"}, at=noon
        )
    return a_lunch, b_lunch


def test_dashboard_of_a_county(cw, day_of_meals):
    a = cw.canteens["a"]
    got = queries.dashboard(cw.user("a_manager"), MONDAY, TUESDAY, now=at(2026, 12, 8, 20, 0))
    assert [c["id"] for c in got["canteens"]] == [a.pk]
    assert got["canteens"][0]["label"] == a.name  # one centre: no prefix
    t = got["totals"]
    assert (t["reserved"], t["diners"], t["served"], t["no_shows"]) == (6, 6, 3, 1)
    assert (t["walk_ins"], t["vouchers"], t["redeemed"]) == (2, 2, 1)
    assert t["no_show_rate"] == 0.25 and t["waste_kg"] == 1.5 and t["trimmings_kg"] == 5.0
    assert t["waste_g_per_diner"] == 250.0 and t["tray_g_per_diner"] == 50.0
    assert t["rating_avg"] == 3.5 and got["ratings"]["count"] == 2
    assert [r["count"] for r in got["ratings"]["by_stars"]] == [0, 1, 0, 0, 1]
    monday, tuesday = got["days"]
    assert (monday["day"], monday["reserved"], monday["diners"]) == (MONDAY, 6, 6)
    assert (tuesday["reserved"], tuesday["diners"], tuesday["waste_g_per_diner"]) == (0, 0, None)
    lunch = next(r for r in got["by_meal"] if r["meal"] == Meal.LUNCH)
    assert lunch["diners"] == 6
    comp = got["compliance"]
    assert comp["standard"]["code"] == "JG-ST"
    c10 = next(s for s in comp["clauses"] if s["clause_number"] == "C10")
    assert (c10["passed"], c10["failed"], c10["rate"]) == (1, 1, 0.5)
    assert [o["org_id"] for o in comp["by_org"]] == [cw.world.county_a.pk]


def test_dashboard_of_the_city_side_by_side(cw, day_of_meals):
    a, b = cw.canteens["a"], cw.canteens["b"]
    got = queries.dashboard(cw.user("city_manager"), MONDAY, MONDAY, now=at(2026, 12, 8))
    rows = {r["canteen_id"]: r for r in got["by_canteen"]}
    assert set(rows) == {a.pk, b.pk}
    assert rows[a.pk]["label"] == f"甲县·{a.name}" and rows[b.pk]["label"] == f"乙县·{b.name}"
    assert (rows[a.pk]["diners"], rows[b.pk]["diners"]) == (6, 2)
    assert len(rows[a.pk]["days"]) == 1 and rows[b.pk]["days"][0]["diners"] == 2
    assert rows[b.pk]["waste_g_per_diner"] is None  # B weighed nothing
    assert got["totals"]["diners"] == 8
    assert got["totals"]["waste_g_per_diner"] == 250.0  # only the weighed days count
    # compliance: the two counties' judgments, not the city's own (no canteen there)
    c10 = next(s for s in got["compliance"]["clauses"] if s["clause_number"] == "C10")
    assert (c10["passed"], c10["failed"]) == (2, 1)
    by_org = {o["org_id"]: o for o in c10["by_org"]}
    assert by_org[cw.world.county_a.pk]["rate"] == 0.5
    assert by_org[cw.world.county_b.pk]["rate"] == 1.0
    assert [o["name"] for o in got["compliance"]["by_org"]] == ["甲县", "乙县"]
    # one canteen of the city's
    one = queries.dashboard(cw.user("city_manager"), MONDAY, MONDAY, b.pk, now=at(2026, 12, 8))
    assert [r["canteen_id"] for r in one["by_canteen"]] == [b.pk]


def test_dashboard_scope(cw, day_of_meals):
    a = cw.canteens["a"]
    b_view = queries.dashboard(cw.user("b_manager"), MONDAY, MONDAY, now=at(2026, 12, 8))
    assert [r["canteen_id"] for r in b_view["by_canteen"]] == [cw.canteens["b"].pk]
    assert b_view["totals"]["diners"] == 2
    c10 = next(s for s in b_view["compliance"]["clauses"] if s["clause_number"] == "C10")
    assert (c10["passed"], c10["failed"]) == (1, 0)
    with pytest.raises(NotFound):
        queries.dashboard(cw.user("b_manager"), MONDAY, MONDAY, a.pk)
    staff = queries.dashboard(cw.user("a_staff"), MONDAY, MONDAY)
    assert staff["by_canteen"] == [] and staff["totals"]["diners"] == 0
    assert staff["compliance"]["clauses"] == []
    with pytest.raises(InvalidInput):
        queries.dashboard(cw.user("a_manager"), MONDAY, MONDAY + timedelta(days=400))


def test_dashboard_export(cw, day_of_meals):
    data = export.dashboard_xlsx(
        cw.user("city_manager"), start=MONDAY, end=TUESDAY, now=at(2026, 12, 8)
    )
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["概览", "每日", "餐次", "评价", "食品安全符合性"]
    overview = list(wb["概览"].values)
    assert overview[0][:3] == ("食堂", "预订人次", "实际就餐")
    assert [r[0] for r in overview[1:]] == [
        f"甲县·{cw.canteens['a'].name}",
        f"乙县·{cw.canteens['b'].name}",
        "合计",
    ]
    assert overview[-1][2] == 8
    assert len(list(wb["每日"].values)) == 1 + 2 * 2
    safety = list(wb["食品安全符合性"].values)
    assert safety[0][-2:] == ("甲县", "乙县")
    with pytest.raises(NotFound):
        export.dashboard_xlsx(
            cw.user("b_manager"), start=MONDAY, end=MONDAY, canteen_id=cw.canteens["a"].pk
        )


# --- logs ------------------------------------------------------------------------------


def test_logs_for_the_kitchen_the_managers_and_overseers_only(cw):
    a, b = cw.canteens["a"], cw.canteens["b"]
    log_a = weigh(a, MONDAY, WasteKind.TRAY, "1.00", cw.user("a_manager"))
    log_b = weigh(b, MONDAY, WasteKind.TRAY, "1.00", cw.user("b_manager"))
    for who in ("a_manager", "vendor_worker", "a_inspector"):
        assert ids(queries.waste_logs(cw.user(who))) == {log_a.pk}, who
    assert ids(queries.waste_logs(cw.user("city_manager"))) == {log_a.pk, log_b.pk}
    assert ids(queries.waste_logs(cw.user("a_staff"))) == set()
    assert ids(queries.waste_logs(cw.user("b_manager"))) == {log_b.pk}
    assert ids(queries.waste_logs(cw.user("a_manager"), start=TUESDAY)) == set()
    with pytest.raises(NotFound):
        queries.waste_logs(cw.user("b_manager"), canteen_id=a.pk)
    with pytest.raises(NotFound):
        queries.safety_log(cw.user("b_manager"), "waste", log_a.pk)
    with pytest.raises(NotFound):
        queries.safety_logs(cw.user("a_manager"), "nonsense")
    assert queries.safety_log(cw.user("vendor_worker"), "waste", log_a.pk) == log_a
    for kind in queries.LOG_MODELS:
        assert list(queries.safety_logs(cw.user("b_staff"), kind)) == []
    assert {h.name for h in queries.food_handlers(cw.user("vendor_worker"))} == {"A厨师"}
    assert {h.name for h in queries.food_handlers(cw.user("city_manager"))} == {"A厨师", "B厨师"}
    assert list(queries.food_handlers(cw.user("a_staff"))) == []
    assert len(queries.cold_units(cw.user("a_manager"), a.pk)) == 3
    with pytest.raises(NotFound):
        queries.cold_units(cw.user("b_manager"), a.pk)
    with pytest.raises(NotFound):
        queries.food_handler(cw.user("b_manager"), cw.handlers["a"].pk)


# --- volume ----------------------------------------------------------------------------


@pytest.fixture
def volume(cw):
    """2 canteens × 60 days × 3 meals, about 20,000 reservations, vouchers, ratings,
    weighings; a_staff reserved every one of A's meals."""
    built = {key: hist.history(cw, key, seed=i + 1) for i, key in enumerate(("a", "b"))}
    staff = cw.user("a_staff")
    for m in built["a"].menus:
        reservation(m, staff, R.SERVED)
    menu(cw, "a", MONDAY, Meal.LUNCH)
    tuesday = menu(cw, "a", TUESDAY, Meal.LUNCH)
    for p in built["a"].persons[:30]:
        reservation(tuesday, p)
    return built


def test_query_counts_at_volume(cw, volume, django_assert_max_num_queries):
    total = sum(b.reservations for b in volume.values())
    assert 18_000 <= total <= 22_000
    assert Menu.objects.filter(status=MenuStatus.CLOSED).count() == 360
    a = cw.canteens["a"]
    start, end = MONDAY - timedelta(days=60), MONDAY - timedelta(days=1)
    now = at(2026, 12, 7, 10, 0)
    fresh = type(cw.user("a_staff")).objects.get  # a fresh user: grants load once
    staff = fresh(pk=cw.user("a_staff").pk)
    with django_assert_max_num_queries(12):
        got = queries.menus(staff, a.pk, start, MONDAY + timedelta(days=1))
        assert len(got) == 182
        assert sum(1 for m in got if m.my_reservation is not None) == 180
    with django_assert_max_num_queries(3):
        mine = list(queries.my_reservations(staff, upcoming=False, now=now)[:50])
        assert len(mine) == 50
    manager = fresh(pk=cw.user("a_manager").pk)
    with django_assert_max_num_queries(7):
        page = list(queries.reservations(manager, canteen_id=a.pk)[:50])
        assert len(page) == 50
    with django_assert_max_num_queries(17):
        counts = queries.kitchen_counts(manager, a.pk, MONDAY, now=now)
        lunch = counts[1]
        assert lunch.backtest.n == 28 and lunch.forecast.method == "weekday_mean"
        assert lunch.backtest.mae < lunch.backtest.baseline_mae
    with django_assert_max_num_queries(17):  # reservations still open: the pace too
        ahead = queries.kitchen_counts(manager, a.pk, TUESDAY, now=now)[1].forecast
        # 25.5 h ahead, while the history's reservations came 20 h ahead: no pace known
        assert (ahead.reserved, ahead.pace, ahead.method) == (30, None, "ratio")
    with django_assert_max_num_queries(16):
        assert len(queries.menus(manager, a.pk, start, MONDAY + timedelta(days=1))) == 182
    city = fresh(pk=cw.user("city_manager").pk)
    with django_assert_max_num_queries(13):
        data = queries.dashboard(city, start, end, now=now)
        assert data["totals"]["reservations"] == total + 180
        assert len(data["by_canteen"]) == 2 and len(data["days"]) == 60
        assert data["totals"]["waste_g_per_diner"] > 0
    with django_assert_max_num_queries(10):
        week = queries.best_worst_dishes(city, MONDAY - timedelta(days=7), limit=2)
        assert len(week["best"]) == len(week["worst"]) == 2
    with django_assert_max_num_queries(10):
        report = queries.no_shows(city, start, end)
        assert len(report["by_meal"]) == 360 and report["by_person"]
    with django_assert_max_num_queries(6):
        assert len(list(queries.waste_logs(city)[:50])) == 50
    assert lunch.forecast.day == MONDAY
