"""Menus: drafts whose instants come from the canteen's meal period (Asia/Shanghai),
item checks, changing a published menu without taking away what was ordered,
publishing with its deadline rules, copying a day, and cancelling a meal (every place
and portion given back, vouchers voided, only the people concerned told). Reservation
and voucher rows are written directly with the ORM, as ``reservations`` would."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import F

from dayuan.accounts.choices import Role
from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from dayuan.core.testing import make_org, make_user
from dayuan.notifications.models import Notification
from dayuan.orgs.choices import OrgKind

from .. import events, services
from ..choices import (
    HOLDING,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
)
from ..models import (
    Dish,
    Menu,
    MenuItem,
    Reservation,
    Voucher,
    VoucherBatch,
)
from .factories import MONDAY, at, menu, reservation_row

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 5, 10)  # the Saturday before
TUESDAY = MONDAY + timedelta(days=1)
_serial = itertools.count(100001)


def items(cw, *dishes, key="a", **portions):
    return [{"dish_id": cw.dish(f"{key}:{d}").pk, "portions": portions.get(d)} for d in dishes]


def save(cw, day=MONDAY, meal=Meal.LUNCH, *, user="a_manager", key="a", dishes=None, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("items", items(cw, *(dishes or ("dongpo", "greens", "box")), key=key))
    return services.save_menu(
        actor=cw.user(user), canteen_id=cw.canteens[key].pk, day=day, meal=meal, **kw
    )


def publish(cw, m, user="a_manager", **kw):
    kw.setdefault("now", NOW)
    return services.publish_menu(actor=cw.user(user), menu_id=m.pk, **kw)


def item(m, cw, dish_key):
    return MenuItem.objects.get(menu=m, dish=cw.dish(dish_key))


def reserve_row(m, user, *, lines=(), status=ReservationStatus.RESERVED, kind=None):
    """A reservation as ``reservations.reserve`` leaves it: portions sold and the place
    counted while it holds."""
    n = next(_serial)
    r = reservation_row(
        m,
        user,
        number=f"BC-TEST-{n}",
        pickup_code=str(n),
        status=status,
        kind=kind or ReservationKind.EAT_IN,
        lines=lines,
        amount=m.eat_in_price,
        cancelled_at=NOW - timedelta(hours=1) if status == ReservationStatus.CANCELLED else None,
    )
    if status in HOLDING:
        for menu_item, q in lines:
            MenuItem.objects.filter(pk=menu_item.pk).update(sold=F("sold") + q)
        Menu.objects.filter(pk=m.pk).update(reserved_count=F("reserved_count") + 1)
    return r


def voucher_batch(m, issuer, count, *, redeemed=0):
    n = next(_serial)
    batch = VoucherBatch.objects.create(
        org=m.org,
        canteen=m.canteen,
        menu=m,
        issuer=issuer,
        unit=issuer.home_org,
        purpose=VoucherPurpose.MEETING,
        guest="调研组",
        count=count,
        number=f"CQ-TEST-{n}",
    )
    for i in range(count):
        Voucher.objects.create(
            batch=batch,
            menu=m,
            code=f"{n:06d}{i:02d}",
            status=VoucherStatus.REDEEMED if i < redeemed else VoucherStatus.ISSUED,
        )
    Menu.objects.filter(pk=m.pk).update(reserved_count=F("reserved_count") + count)
    return batch


def last_entry(action, outcome=Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk").last()


# --- drafts -------------------------------------------------------------------------------


def test_a_draft_takes_serving_and_deadlines_from_the_meal_period(cw):
    m = save(cw, note=" 周一午餐 ", capacity=250)
    m.refresh_from_db()
    assert (m.status, m.org_id, m.note, m.capacity) == (
        MenuStatus.DRAFT,
        cw.world.county_a.pk,
        "周一午餐",
        250,
    )
    assert (m.serve_start, m.serve_end) == (at(2026, 12, 7, 11, 30), at(2026, 12, 7, 13))
    # lunch: reservations close 120 min and cancellations 150 min before serving
    assert (m.reserve_until, m.cancel_until) == (at(2026, 12, 7, 9, 30), at(2026, 12, 7, 9))
    assert m.eat_in_price == Decimal("8.00")
    rows = list(m.items.order_by("position").select_related("dish"))
    assert [r.dish.name for r in rows] == ["东坡肉", "清炒时蔬", "外带套餐（两荤一素）"]
    assert [r.takeaway for r in rows] == [False, False, True]
    assert [r.price for r in rows] == [Decimal("12.00"), Decimal("3.00"), Decimal("16.00")]
    assert {r.per_person_max for r in rows} == {2} and {r.sold for r in rows} == {0}
    entry = last_entry("canteen.save_menu")
    assert entry.object_id == str(m.pk) and entry.org_id == cw.world.county_a.pk
    assert [row["dish_id"] for row in entry.changes["items"][1]] == [r.dish_id for r in rows]


def test_breakfast_closes_the_evening_before_in_shanghai_time(cw):
    m = save(cw, meal=Meal.BREAKFAST, dishes=("rice", "soup"))
    # 600 minutes before 07:00 on Monday is 21:00 on Sunday, local time (13:00 UTC)
    assert m.reserve_until == at(2026, 12, 6, 21) == datetime(2026, 12, 6, 13, tzinfo=UTC)
    assert m.cancel_until == m.reserve_until and m.serve_start == at(2026, 12, 7, 7)


def test_item_settings_are_kept(cw):
    dongpo = cw.dish("a:dongpo")
    m = save(
        cw,
        items=[
            {"dish_id": dongpo.pk, "portions": 80, "per_person_max": 1, "price": "10.5"},
            {"dish_id": cw.dish("a:rice").pk},
        ],
    )
    first, rice = m.items.order_by("position")
    assert (first.portions, first.per_person_max, first.price) == (80, 1, Decimal("10.50"))
    assert (rice.portions, rice.per_person_max, rice.price) == (None, 2, Decimal("1.00"))


def test_saving_again_replaces_a_draft(cw):
    m = save(cw)
    again = save(cw, dishes=("fish", "dongpo"), version=m.version)
    assert again.pk == m.pk and again.version == 2
    names = list(again.items.order_by("position").values_list("dish__name", flat=True))
    assert names == ["名厨酸菜鱼", "东坡肉"]
    with pytest.raises(StaleVersion):
        save(cw, version=1)


def test_a_draft_follows_a_changed_meal_period_a_published_menu_keeps_its_instants(cw):
    draft = save(cw)
    published = publish(cw, save(cw, meal=Meal.DINNER, dishes=("fish",)))
    for meal, start, end in (
        (Meal.LUNCH, time(12), time(13, 30)),
        (Meal.DINNER, time(18), time(19)),
    ):
        services.save_meal_period(
            actor=cw.user("a_manager"),
            canteen_id=cw.canteens["a"].pk,
            meal=meal,
            serve_start=start,
            serve_end=end,
            reserve_cutoff_minutes=60,
            cancel_cutoff_minutes=90,
            eat_in_price=Decimal("9.00"),
        )
    draft = save(cw)
    assert (draft.serve_start, draft.reserve_until, draft.cancel_until) == (
        at(2026, 12, 7, 12),
        at(2026, 12, 7, 11),
        at(2026, 12, 7, 10, 30),
    )
    assert draft.eat_in_price == Decimal("9.00")
    kept = save(cw, meal=Meal.DINNER, dishes=("fish", "soup"))
    assert kept.pk == published.pk and kept.status == MenuStatus.PUBLISHED
    assert (kept.serve_start, kept.reserve_until) == (
        at(2026, 12, 7, 17, 30),
        at(2026, 12, 7, 14, 30),
    )
    assert kept.eat_in_price == Decimal("6.00")


def test_menus_for_past_days_are_refused_by_the_local_day(cw):
    # 16:30 UTC on Sunday is already Monday 00:30 in Shanghai
    late = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput) as exc:
        save(cw, day=date(2026, 12, 6), now=late)
    assert (exc.value.code, exc.value.details["field"]) == ("menu_in_past", "day")
    assert save(cw, day=MONDAY, now=late).day == MONDAY
    assert not Menu.objects.filter(day=date(2026, 12, 6)).exists()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("other_canteen", "invalid_dish"),
        ("unknown_dish", "invalid_dish"),
        ("retired_dish", "invalid_dish"),
        ("twice", "duplicate_dish"),
        ("no_portions", "bad_portions"),
        ("per_person", "out_of_range"),
        ("price", "invalid_price"),
        ("unknown_key", "invalid_items"),
        ("not_a_list", "invalid_items"),
    ],
)
def test_bad_items_are_refused_and_nothing_is_written(cw, case, code):
    dongpo = cw.dish("a:dongpo").pk
    Dish.objects.filter(pk=cw.dish("a:soup").pk).update(is_active=False)
    bad = {
        "other_canteen": [{"dish_id": cw.dish("b:dongpo").pk}],
        "unknown_dish": [{"dish_id": 999_999}],
        "retired_dish": [{"dish_id": cw.dish("a:soup").pk}],
        "twice": [{"dish_id": dongpo}, {"dish_id": dongpo, "portions": 3}],
        "no_portions": [{"dish_id": dongpo, "portions": 0}],
        "per_person": [{"dish_id": dongpo, "per_person_max": 0}],
        "price": [{"dish_id": dongpo, "price": "-1"}],
        "unknown_key": [{"dish_id": dongpo, "qty": 3}],
        "not_a_list": "dongpo",
    }[case]
    with pytest.raises(InvalidInput) as exc:
        save(cw, items=bad)
    assert exc.value.code == code and exc.value.details["field"] == "items"
    assert not Menu.objects.exists()
    assert last_entry("canteen.save_menu", Outcome.REFUSED).reason.startswith(code)


def test_bad_menu_fields_are_refused(cw):
    for kw, code, field in (
        ({"meal": "supper"}, "invalid_meal", "meal"),
        ({"capacity": 0}, "out_of_range", "capacity"),
        ({"note": "长" * 201}, "too_long", "note"),
        ({"day": "2026-12-07"}, "invalid_day", "day"),
    ):
        with pytest.raises(InvalidInput) as exc:
            save(cw, **kw)
        assert (exc.value.code, exc.value.details["field"]) == (code, field)
    assert not Menu.objects.exists()


# --- a published menu with orders ----------------------------------------------------------


def test_a_published_menu_keeps_what_was_ordered(cw):
    m = menu(cw)  # dongpo 100, greens, rice, box 50
    dongpo = item(m, cw, "a:dongpo")
    reserve_row(m, cw.user("a_staff"), lines=[(dongpo, 2)])
    keep = {"dongpo": 100, "greens": None, "rice": None, "box": 50}
    without_dongpo = items(cw, "greens", "rice", "box")
    with pytest.raises(Conflict) as exc:
        save(cw, items=without_dongpo)
    assert exc.value.code == "item_has_orders" and exc.value.details["menu_item_id"] == dongpo.pk
    with pytest.raises(Conflict) as exc:
        save(cw, items=items(cw, *keep, **{**keep, "dongpo": 1}))
    assert exc.value.code == "item_has_orders" and exc.value.details["sold"] == 2
    # fewer portions (not below sold), the rice removed, a soup added: fine
    changed = save(cw, items=items(cw, "dongpo", "greens", "box", "soup", dongpo=2, box=50))
    assert changed.pk == m.pk and changed.status == MenuStatus.PUBLISHED
    dongpo.refresh_from_db()
    assert (dongpo.portions, dongpo.sold, dongpo.remaining) == (2, 2, 0)
    names = list(changed.items.order_by("position").values_list("dish__name", flat=True))
    assert names == ["东坡肉", "清炒时蔬", "外带套餐（两荤一素）", "番茄蛋汤"]
    # the published instants were kept
    assert (changed.reserve_until, changed.cancel_until) == (m.reserve_until, m.cancel_until)


def test_an_item_with_a_cancelled_order_stays_too(cw):
    m = menu(cw)
    reserve_row(
        m, cw.user("a_staff"), lines=[(item(m, cw, "a:box"), 1)], status=ReservationStatus.CANCELLED
    )
    with pytest.raises(Conflict) as exc:
        save(cw, items=items(cw, "dongpo", "greens", "rice"))
    assert exc.value.code == "item_has_orders"
    assert m.items.count() == 4


def test_capacity_cannot_go_below_the_places_taken(cw):
    m = menu(cw)
    for name in ("a_staff", "a_dispatcher", "a_inspector"):
        reserve_row(m, cw.user(name))
    dishes = items(cw, "dongpo", "greens", "rice", "box")
    with pytest.raises(Conflict) as exc:
        save(cw, items=dishes, capacity=2)
    assert exc.value.code == "capacity_below_reserved" and exc.value.details["reserved"] == 3
    assert save(cw, items=dishes, capacity=3).capacity == 3


def test_a_menu_cannot_change_once_serving_started_or_it_is_closed(cw):
    m = menu(cw)
    with pytest.raises(Conflict) as exc:
        save(cw, now=at(2026, 12, 7, 11, 30))
    assert exc.value.code == "meal_started"
    Menu.objects.filter(pk=m.pk).update(status=MenuStatus.CLOSED)
    with pytest.raises(Conflict) as exc:
        save(cw)
    assert exc.value.code == "illegal_transition"
    assert m.items.count() == 4


# --- publishing ---------------------------------------------------------------------------


def test_publishing_opens_the_draft_with_the_period_deadlines(cw):
    m = publish(cw, save(cw), version=1)
    m.refresh_from_db()
    assert (m.status, m.published_at, m.published_by_id, m.version) == (
        MenuStatus.PUBLISHED,
        NOW,
        cw.user("a_manager").pk,
        2,
    )
    assert (m.reserve_until, m.cancel_until) == (at(2026, 12, 7, 9, 30), at(2026, 12, 7, 9))
    entry = last_entry("canteen.publish_menu")
    assert entry.changes["status"] == ["draft", "published"]


def test_a_draft_is_published_with_the_period_as_it_is_now(cw):
    m = save(cw)
    services.save_meal_period(
        actor=cw.user("a_manager"),
        canteen_id=cw.canteens["a"].pk,
        meal=Meal.LUNCH,
        serve_start=time(11),
        serve_end=time(12, 30),
        reserve_cutoff_minutes=30,
        cancel_cutoff_minutes=60,
        eat_in_price=Decimal("7"),
    )
    m = publish(cw, m)
    assert (m.serve_start, m.reserve_until, m.cancel_until, m.eat_in_price) == (
        at(2026, 12, 7, 11),
        at(2026, 12, 7, 10, 30),
        at(2026, 12, 7, 10),
        Decimal("7.00"),
    )


def test_the_manager_may_set_other_deadlines(cw):
    m = publish(
        cw, save(cw), reserve_until=at(2026, 12, 7, 11, 30), cancel_until=at(2026, 12, 6, 18)
    )
    assert (m.reserve_until, m.cancel_until) == (at(2026, 12, 7, 11, 30), at(2026, 12, 6, 18))
    # on a published menu, publishing again moves them
    moved = publish(cw, m, reserve_until=at(2026, 12, 7, 10))
    assert moved.reserve_until == at(2026, 12, 7, 10) and moved.version == 3
    assert moved.status == MenuStatus.PUBLISHED and moved.published_at == NOW


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"cancel_until": at(2026, 12, 7, 10)}, "cancel_until"),  # after the 09:30 cut-off
        ({"reserve_until": at(2026, 12, 7, 11, 31)}, "reserve_until"),  # after serving starts
        ({"reserve_until": datetime(2026, 12, 7, 10)}, "reserve_until"),  # naive
    ],
)
def test_deadlines_out_of_order_are_refused(cw, kw, field):
    m = save(cw)
    with pytest.raises(InvalidInput) as exc:
        publish(cw, m, **kw)
    assert (exc.value.code, exc.value.details["field"]) == ("bad_deadlines", field)
    m.refresh_from_db()
    assert m.status == MenuStatus.DRAFT and m.version == 1


def test_an_empty_menu_is_not_published(cw):
    m = save(cw, items=[])
    with pytest.raises(InvalidInput) as exc:
        publish(cw, m)
    assert exc.value.code == "empty_menu"
    m.refresh_from_db()
    assert m.status == MenuStatus.DRAFT


def test_a_past_or_cancelled_menu_is_not_published(cw):
    m = save(cw)
    with pytest.raises(InvalidInput) as exc:
        publish(cw, m, now=at(2026, 12, 8, 8))
    assert exc.value.code == "menu_in_past"
    Menu.objects.filter(pk=m.pk).update(status=MenuStatus.CANCELLED)
    with pytest.raises(Conflict) as exc:
        publish(cw, m)
    assert exc.value.code == "illegal_transition"


def test_staff_cannot_write_menus_and_another_county_does_not_see_them(cw):
    m = save(cw)
    for name in ("a_staff", "vendor_worker"):
        with pytest.raises(PermissionDenied):
            save(cw, user=name)
        with pytest.raises(PermissionDenied):
            publish(cw, m, user=name)
    b = cw.user("b_manager")
    with pytest.raises(NotFound):
        save(cw, user="b_manager")
    with pytest.raises(NotFound):
        publish(cw, m, user="b_manager")
    with pytest.raises(NotFound):
        services.cancel_menu(actor=b, menu_id=m.pk, reason="乙县试试", now=NOW)
    with pytest.raises(NotFound):
        services.copy_menus(
            actor=b, canteen_id=cw.canteens["a"].pk, from_day=MONDAY, to_day=TUESDAY, now=NOW
        )
    with pytest.raises(NotFound):
        publish(cw, Menu(pk=999_999))
    m.refresh_from_db()
    assert (m.status, m.version) == (MenuStatus.DRAFT, 1)
    assert Menu.objects.count() == 1
    refused = last_entry("canteen.copy_menus", Outcome.REFUSED)
    assert refused.reason.startswith("not_found") and refused.org_id == cw.world.county_b.pk


def test_the_city_manager_runs_county_menus(cw):
    m = save(cw, user="city_manager", key="b", dishes=("dongpo",))
    assert publish(cw, m, user="city_manager").status == MenuStatus.PUBLISHED


# --- copying a day ------------------------------------------------------------------------


def test_a_day_is_copied_as_drafts(cw):
    lunch = menu(cw)  # published
    dinner = save(
        cw, meal=Meal.DINNER, items=items(cw, "fish", "soup", fish=20), capacity=80, note="家常"
    )
    menu(cw, meal=Meal.BREAKFAST, items={"rice": None}, status=MenuStatus.CANCELLED)
    Dish.objects.filter(pk=cw.dish("a:greens").pk).update(is_active=False)
    MenuItem.objects.filter(menu=lunch, dish=cw.dish("a:box")).update(price=Decimal("14.00"))
    copies = services.copy_menus(
        actor=cw.user("a_manager"),
        canteen_id=cw.canteens["a"].pk,
        from_day=MONDAY,
        to_day=TUESDAY,
        now=NOW,
    )
    assert [(c.meal, c.status, c.day) for c in copies] == [
        (Meal.LUNCH, MenuStatus.DRAFT, TUESDAY),
        (Meal.DINNER, MenuStatus.DRAFT, TUESDAY),
    ]
    new_lunch, new_dinner = copies
    rows = list(new_lunch.items.order_by("position").values_list("dish__name", "portions", "price"))
    assert rows == [  # the retired 清炒时蔬 left out, the menu's own price kept
        ("东坡肉", 100, Decimal("12.00")),
        ("米饭", None, Decimal("1.00")),
        ("外带套餐（两荤一素）", 50, Decimal("14.00")),
    ]
    assert (new_lunch.serve_start, new_lunch.reserve_until) == (
        at(2026, 12, 8, 11, 30),
        at(2026, 12, 8, 9, 30),
    )
    assert (new_dinner.capacity, new_dinner.note) == (dinner.capacity, "家常")
    assert new_dinner.items.get(dish=cw.dish("a:fish")).portions == 20
    assert not Menu.objects.filter(day=TUESDAY, meal=Meal.BREAKFAST).exists()
    assert {m.sold for m in MenuItem.objects.filter(menu__day=TUESDAY)} == {0}
    entry = last_entry("canteen.copy_menus")
    assert entry.changes == {
        "from_day": "2026-12-07",
        "to_day": "2026-12-08",
        "menus": [new_lunch.pk, new_dinner.pk],
        "skipped": [],
    }


def test_copying_leaves_a_published_meal_alone_and_replaces_a_draft(cw):
    menu(cw)
    menu(cw, meal=Meal.DINNER, items={"fish": 10})
    published = menu(cw, day=TUESDAY, items={"rice": None})
    draft = save(cw, day=TUESDAY, meal=Meal.DINNER, dishes=("soup",))
    copies = services.copy_menus(
        actor=cw.user("a_manager"),
        canteen_id=cw.canteens["a"].pk,
        from_day=MONDAY,
        to_day=TUESDAY,
        now=NOW,
    )
    assert [c.pk for c in copies] == [draft.pk]
    assert list(draft.items.values_list("dish__name", "portions")) == [("名厨酸菜鱼", 10)]
    assert list(published.items.values_list("dish__name", flat=True)) == ["米饭"]
    assert last_entry("canteen.copy_menus").changes["skipped"] == [Meal.LUNCH]


def test_copy_refusals(cw):
    menu(cw)
    kw = {"actor": cw.user("a_manager"), "canteen_id": cw.canteens["a"].pk, "now": NOW}
    for from_day, to_day, code in (
        (MONDAY, MONDAY, "same_day"),
        (TUESDAY, MONDAY, "nothing_to_copy"),
        (MONDAY, date(2026, 12, 4), "menu_in_past"),
    ):
        with pytest.raises(InvalidInput) as exc:
            services.copy_menus(from_day=from_day, to_day=to_day, **kw)
        assert exc.value.code == code
    with pytest.raises(PermissionDenied):
        services.copy_menus(**{**kw, "actor": cw.user("a_staff")}, from_day=MONDAY, to_day=TUESDAY)
    assert Menu.objects.count() == 1


# --- cancelling a meal --------------------------------------------------------------------


def cancelled_notices():
    return Notification.objects.filter(event__type=events.MENU_CANCELLED).select_related("event")


def test_cancelling_a_meal_gives_everything_back_and_tells_only_those_concerned(cw):
    world = cw.world
    dept = make_org("甲县财政局", "dept-a", OrgKind.DEPARTMENT, world.county_a)
    dept_staff = make_user("dept_staff", dept, Role.STAFF)
    m = menu(cw)
    dinner = menu(cw, meal=Meal.DINNER)
    dongpo, box = item(m, cw, "a:dongpo"), item(m, cw, "a:box")
    staff = reserve_row(m, cw.user("a_staff"), lines=[(dongpo, 2)])
    takeaway = reserve_row(
        m, cw.user("a_inspector"), lines=[(box, 1)], kind=ReservationKind.TAKEAWAY
    )
    from_dept = reserve_row(m, dept_staff)
    own = reserve_row(m, cw.user("a_manager"))  # the manager's own: cancelled, not told
    earlier = reserve_row(
        m, cw.user("a_dispatcher"), lines=[(dongpo, 1)], status=ReservationStatus.CANCELLED
    )
    batch = voucher_batch(m, cw.user("a_admin"), 3, redeemed=1)
    other_meal = reserve_row(
        dinner, cw.user("a_dispatcher"), lines=[(item(dinner, cw, "a:dongpo"), 1)]
    )
    m.refresh_from_db()
    assert m.reserved_count == 4 + 3

    done = services.cancel_menu(
        actor=cw.user("a_manager"), menu_id=m.pk, reason=" 食材供应中断 ", now=NOW
    )

    assert done.status == MenuStatus.CANCELLED and done.version == 2
    m.refresh_from_db()
    assert m.reserved_count == 1  # the voucher already used still counts
    dongpo.refresh_from_db()
    box.refresh_from_db()
    assert (dongpo.sold, box.sold) == (0, 0)
    for r in (staff, takeaway, from_dept, own):
        r.refresh_from_db()
        assert (r.status, r.cancelled_at) == (ReservationStatus.CANCELLED, NOW)
    earlier.refresh_from_db()
    assert earlier.cancelled_at == NOW - timedelta(hours=1)
    assert sorted(batch.vouchers.values_list("status", flat=True)) == [
        VoucherStatus.REDEEMED,
        VoucherStatus.VOID,
        VoucherStatus.VOID,
    ]
    # every counter agrees with what still holds
    holding = Reservation.objects.filter(menu=m, status__in=HOLDING).count()
    live = Voucher.objects.filter(menu=m).exclude(status=VoucherStatus.VOID).count()
    assert m.reserved_count == holding + live
    # the other meal is untouched
    other_meal.refresh_from_db()
    dinner.refresh_from_db()
    assert other_meal.status == ReservationStatus.RESERVED and dinner.reserved_count == 1
    assert item(dinner, cw, "a:dongpo").sold == 1

    notices = list(cancelled_notices())
    assert sorted(n.recipient.username for n in notices) == [
        "a_admin",
        "a_inspector",
        "a_staff",
        "dept_staff",
    ]
    by_user = {n.recipient.username: n for n in notices}
    assert by_user["dept_staff"].event.org_id == dept.pk  # filed where it reaches them
    assert by_user["a_staff"].event.org_id == world.county_a.pk
    assert "食材供应中断" in by_user["a_staff"].body and "午餐" in by_user["a_staff"].title
    assert by_user["a_staff"].event.payload["menu_id"] == m.pk
    assert by_user["a_staff"].link == f"/canteen/menus/{m.pk}/"

    entry = last_entry("canteen.cancel_menu")
    assert entry.reason == "食材供应中断" and entry.object_id == str(m.pk)
    assert entry.changes["status"] == ["published", "cancelled"]
    assert entry.changes["reservations_cancelled"] == 4
    assert entry.changes["vouchers_voided"] == 2
    assert entry.changes["portions_given_back"] == {str(dongpo.pk): 2, str(box.pk): 1}


def test_a_cancelled_meal_frees_the_person_to_reserve_again(cw):
    m = menu(cw)
    reserve_row(m, cw.user("a_staff"))
    services.cancel_menu(actor=cw.user("a_manager"), menu_id=m.pk, reason="停电", now=NOW)
    # the one-per-meal constraint is on holding reservations only
    reserve_row(m, cw.user("a_staff"))
    assert Reservation.objects.filter(menu=m, person=cw.user("a_staff")).count() == 2


def test_a_draft_can_be_cancelled_and_nobody_is_told(cw):
    m = save(cw)
    done = services.cancel_menu(actor=cw.user("a_manager"), menu_id=m.pk, reason="不开餐", now=NOW)
    assert done.status == MenuStatus.CANCELLED
    assert not cancelled_notices().exists()


def test_cancel_refusals(cw):
    m = menu(cw)
    r = reserve_row(m, cw.user("a_staff"), lines=[(item(m, cw, "a:dongpo"), 1)])
    manager = cw.user("a_manager")
    with pytest.raises(InvalidInput) as exc:
        services.cancel_menu(actor=manager, menu_id=m.pk, reason=" ", now=NOW)
    assert exc.value.details["field"] == "reason"
    with pytest.raises(Conflict) as exc:
        services.cancel_menu(actor=manager, menu_id=m.pk, reason="晚了", now=m.serve_start)
    assert exc.value.code == "meal_started"
    for name in ("a_staff", "vendor_worker"):
        with pytest.raises(PermissionDenied):
            services.cancel_menu(actor=cw.user(name), menu_id=m.pk, reason="x", now=NOW)
    with pytest.raises(NotFound):
        services.cancel_menu(actor=cw.user("b_manager"), menu_id=m.pk, reason="x", now=NOW)
    r.refresh_from_db()
    m.refresh_from_db()
    assert r.status == ReservationStatus.RESERVED and m.status == MenuStatus.PUBLISHED
    assert m.reserved_count == 1 and item(m, cw, "a:dongpo").sold == 1
    assert not cancelled_notices().exists()
    services.cancel_menu(actor=manager, menu_id=m.pk, reason="停电", now=NOW)
    with pytest.raises(Conflict) as exc:
        services.cancel_menu(actor=manager, menu_id=m.pk, reason="再次", now=NOW)
    assert exc.value.code == "illegal_transition"
    assert cancelled_notices().count() == 1
