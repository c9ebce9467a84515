"""报餐: the reservation and cancellation windows at their exact boundaries, one holding
reservation per person and meal (and again after cancelling), the items rules, the
take-away pickup grid, amounts, portions and the meal's cap decided by the database,
``client_key`` idempotency, and another county's staff seeing nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from dayuan.accounts.choices import Role
from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_user
from dayuan.notifications.models import Notification

from .. import reservations as rs
from ..choices import Meal, MenuStatus, ReservationKind, ReservationStatus
from ..models import Menu, MenuItem, Reservation, ReservationLine
from .factories import MONDAY, at, menu

pytestmark = pytest.mark.django_db

R = ReservationStatus
# Lunch on MONDAY: served 11:30–13:00, reservations until 09:30, cancellations until 09:00.
EARLY = at(2026, 12, 7, 8, 0)
RESERVE_UNTIL = at(2026, 12, 7, 9, 30)
CANCEL_UNTIL = at(2026, 12, 7, 9, 0)
SECOND = timedelta(seconds=1)


def item(m: Menu, key: str, cw) -> MenuItem:
    return MenuItem.objects.get(menu=m, dish=cw.dish(f"a:{key}"))


def reserve(cw, who: str, m: Menu, now=EARLY, **kw) -> Reservation:
    return rs.reserve(actor=cw.user(who), menu_id=m.pk, now=now, **kw)


def line(m: Menu, cw, key: str, quantity: int = 1) -> dict:
    return {"menu_item_id": item(m, key, cw).pk, "quantity": quantity}


def state(m: Menu) -> tuple:
    """Everything a refused reservation must leave untouched."""
    m.refresh_from_db()
    return (
        m.reserved_count,
        tuple(m.items.order_by("pk").values_list("sold", flat=True)),
        Reservation.objects.count(),
        ReservationLine.objects.count(),
        Notification.objects.count(),
    )


# --- the happy path --------------------------------------------------------------------


def test_eat_in_reservation_takes_portions_a_place_and_tells_the_person(cw, lunch):
    r = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo", 2), line(lunch, cw, "rice")])
    assert r.status == R.RESERVED and r.kind == ReservationKind.EAT_IN
    assert r.number == "BC-20261207-00001"
    assert len(r.pickup_code) == 6 and r.pickup_code.isdigit()
    assert r.pickup_at is None
    assert r.org == cw.world.county_a and r.person_org == cw.world.county_a
    # the eat-in standard plus the pre-ordered dishes: 8 + 2 × 12 + 1
    assert r.amount == Decimal("33.00")
    assert item(lunch, "dongpo", cw).sold == 2 and item(lunch, "rice", cw).sold == 1
    lunch.refresh_from_db()
    assert lunch.reserved_count == 1
    assert sorted(r.lines.values_list("quantity", "price")) == [
        (1, Decimal("1.00")),
        (2, Decimal("12.00")),
    ]
    note = Notification.objects.get(recipient=cw.user("a_staff"))
    assert note.event.type == "canteen.reserved"
    assert r.pickup_code in note.body and note.link == f"/canteen/reservations/{r.pk}/"
    entry = AuditEntry.objects.get(action="canteen.reserve", outcome="success")
    assert entry.object_id == str(r.pk) and entry.org_id == cw.world.county_a.pk


def test_a_headcount_reservation_needs_no_dishes(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    assert r.amount == Decimal("8.00") and not r.lines.exists()
    assert state(lunch)[:2] == (1, (0, 0, 0, 0))


def test_department_staff_reserve_at_their_centres_canteen(cw, lunch):
    from dayuan.core.testing import make_org
    from dayuan.orgs.choices import OrgKind

    dept = make_org("甲县财政局", "a-finance", OrgKind.DEPARTMENT, cw.world.county_a)
    clerk = make_user("clerk", dept, Role.STAFF)
    r = rs.reserve(actor=clerk, menu_id=lunch.pk, now=EARLY)
    assert r.person_org == dept and r.org == cw.world.county_a
    # filed under the clerk's unit, which their grant reaches
    assert Notification.objects.filter(recipient=clerk, event__org=dept).count() == 1


# --- windows ---------------------------------------------------------------------------


def test_reservations_close_at_the_deadline_exactly(cw, lunch):
    reserve(cw, "a_staff", lunch, now=RESERVE_UNTIL - SECOND)
    before = state(lunch)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_manager", lunch, now=RESERVE_UNTIL)
    assert exc.value.code == "reservation_closed"
    assert "报餐已于 2026-12-07 09:30 截止" in str(exc.value.message)
    assert exc.value.details["reserve_until"] == RESERVE_UNTIL.isoformat()
    assert state(lunch) == before
    refused = AuditEntry.objects.get(action="canteen.reserve", outcome="refused")
    assert refused.reason.startswith("reservation_closed")


def test_cancellation_closes_at_its_deadline_exactly(cw, lunch):
    kept = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo", 2)])
    other = reserve(cw, "a_manager", lunch, items=[line(lunch, cw, "dongpo")])
    before = state(lunch)
    with pytest.raises(Conflict) as exc:
        rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=kept.pk, now=CANCEL_UNTIL)
    assert exc.value.code == "cancellation_closed"
    assert "2026-12-07 09:00" in str(exc.value.message)
    assert state(lunch) == before
    kept.refresh_from_db()
    assert kept.status == R.RESERVED
    done = rs.cancel_reservation(
        actor=cw.user("a_manager"), reservation_id=other.pk, now=CANCEL_UNTIL - SECOND
    )
    assert done.status == R.CANCELLED and done.cancelled_at == CANCEL_UNTIL - SECOND
    assert item(lunch, "dongpo", cw).sold == 2
    lunch.refresh_from_db()
    assert lunch.reserved_count == 1


def test_menus_not_published_take_no_reservations(cw):
    draft = menu(cw, status=MenuStatus.DRAFT)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_staff", draft)
    assert exc.value.code == "menu_not_open"
    dinner = menu(cw, meal=Meal.DINNER, status=MenuStatus.CANCELLED)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_staff", dinner)
    assert exc.value.code == "menu_not_open"
    assert not Reservation.objects.exists()


# --- one per person, and again after cancelling -----------------------------------------


def test_one_holding_reservation_per_person_and_again_after_cancelling(cw, lunch):
    first = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo", 2)])
    before = state(lunch)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")])
    assert exc.value.code == "already_reserved"
    assert state(lunch) == before

    cancelled = rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=first.pk, now=EARLY)
    assert cancelled.status == R.CANCELLED
    assert item(lunch, "dongpo", cw).sold == 0
    lunch.refresh_from_db()
    assert lunch.reserved_count == 0
    # the person cancelled it themselves: no notice about it
    assert not Notification.objects.filter(event__type="canteen.reservation_cancelled").exists()

    again = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")])
    assert again.pk != first.pk and again.status == R.RESERVED
    assert again.number == "BC-20261207-00002"
    assert item(lunch, "dongpo", cw).sold == 1
    assert Reservation.objects.filter(menu=lunch, person=cw.user("a_staff")).count() == 2
    with pytest.raises(Conflict) as exc:
        rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=first.pk, now=EARLY)
    assert exc.value.code == "not_cancellable"


def test_a_manager_cancels_for_the_person_who_is_told(cw, lunch):
    r = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")])
    with pytest.raises(PermissionDenied):  # the kitchen sees it but may not cancel it
        rs.cancel_reservation(actor=cw.user("vendor_worker"), reservation_id=r.pk, now=EARLY)
    with pytest.raises(PermissionDenied):  # nor the overseers
        rs.cancel_reservation(actor=cw.user("a_inspector"), reservation_id=r.pk, now=EARLY)
    colleague = make_user("a_staff2", cw.world.county_a, Role.STAFF)
    with pytest.raises(NotFound):  # another staff member does not even see it
        rs.cancel_reservation(actor=colleague, reservation_id=r.pk, now=EARLY)
    rs.cancel_reservation(actor=cw.user("a_manager"), reservation_id=r.pk, now=EARLY)
    note = Notification.objects.get(
        recipient=cw.user("a_staff"), event__type="canteen.reservation_cancelled"
    )
    assert r.number in note.body
    assert item(lunch, "dongpo", cw).sold == 0


def test_a_served_reservation_cannot_be_cancelled(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    Reservation.objects.filter(pk=r.pk).update(status=R.SERVED)
    with pytest.raises(Conflict) as exc:
        rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=r.pk, now=EARLY)
    assert exc.value.code == "not_cancellable"
    lunch.refresh_from_db()
    assert lunch.reserved_count == 1


# --- items ---------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, 3, -1])
def test_portions_per_person_are_limited(cw, lunch, quantity):
    before = state(lunch)
    with pytest.raises(InvalidInput) as exc:
        reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo", quantity)])
    assert exc.value.code == "too_many_portions"
    assert exc.value.details["per_person_max"] == 2
    assert state(lunch) == before


def test_items_must_be_of_this_menu_once_each(cw, lunch):
    other = menu(cw, meal=Meal.DINNER)
    bad = [
        [line(other, cw, "dongpo")],  # another meal's dish
        [{"menu_item_id": 999_999, "quantity": 1}],
        [line(lunch, cw, "dongpo"), line(lunch, cw, "dongpo")],  # twice
        [{"quantity": 1}],
        ["dongpo"],
        {"menu_item_id": item(lunch, "dongpo", cw).pk},  # not a list
    ]
    before = state(lunch)
    for items in bad:
        with pytest.raises(InvalidInput) as exc:
            reserve(cw, "a_staff", lunch, items=items)
        assert exc.value.code == "bad_items", items
    assert state(lunch) == before


def test_eat_in_orders_no_packages_and_take_away_only_packages(cw, lunch):
    slot = at(2026, 12, 7, 11, 45)
    cases = [
        (ReservationKind.EAT_IN, [line(lunch, cw, "box")]),
        (ReservationKind.TAKEAWAY, []),
        (ReservationKind.TAKEAWAY, [line(lunch, cw, "dongpo")]),
        (ReservationKind.TAKEAWAY, [line(lunch, cw, "box"), line(lunch, cw, "rice")]),
    ]
    for kind, items in cases:
        with pytest.raises(InvalidInput) as exc:
            reserve(cw, "a_staff", lunch, kind=kind, items=items, pickup_at=slot)
        assert exc.value.code == "bad_items", (kind, items)
    with pytest.raises(InvalidInput) as exc:
        reserve(cw, "a_staff", lunch, kind="delivery")
    assert exc.value.code == "bad_kind"
    assert not Reservation.objects.exists()


def test_take_away_pickup_on_the_canteens_grid_within_the_meal(cw, lunch):
    box = [line(lunch, cw, "box", 2)]
    for wrong in (
        None,
        at(2026, 12, 7, 11, 15),  # before serving
        at(2026, 12, 7, 11, 40),  # off the 15-minute grid
        at(2026, 12, 7, 11, 45, 30),
        at(2026, 12, 7, 13, 0),  # serving has ended
        at(2026, 12, 8, 11, 45),  # another day
        at(2026, 12, 7, 11, 45).replace(tzinfo=None),  # naive
    ):
        with pytest.raises(InvalidInput) as exc:
            reserve(cw, "a_staff", lunch, kind=ReservationKind.TAKEAWAY, items=box, pickup_at=wrong)
        assert exc.value.code == "bad_pickup_time", wrong
    r = reserve(
        cw,
        "a_staff",
        lunch,
        kind=ReservationKind.TAKEAWAY,
        items=box,
        pickup_at=at(2026, 12, 7, 12, 45),  # the last slot
    )
    assert r.kind == ReservationKind.TAKEAWAY and r.pickup_at == at(2026, 12, 7, 12, 45)
    assert r.amount == Decimal("32.00")  # two packages, no eat-in standard
    assert item(lunch, "box", cw).sold == 2
    first = reserve(
        cw,
        "a_manager",
        lunch,
        kind=ReservationKind.TAKEAWAY,
        items=[line(lunch, cw, "box")],
        pickup_at=at(2026, 12, 7, 11, 30),  # serving starts: the first slot
    )
    assert "外带取餐时间 11:30" in Notification.objects.get(recipient=cw.user("a_manager")).body
    assert first.amount == Decimal("16.00")


def test_the_grid_follows_the_canteens_slot_length(cw, lunch):
    cw.canteens["a"].takeaway_slot_minutes = 10
    cw.canteens["a"].save()
    r = reserve(
        cw,
        "a_staff",
        lunch,
        kind=ReservationKind.TAKEAWAY,
        items=[line(lunch, cw, "box")],
        pickup_at=at(2026, 12, 7, 11, 40),
    )
    assert r.pickup_at == at(2026, 12, 7, 11, 40)


def test_eat_in_ignores_a_pickup_time(cw, lunch):
    r = reserve(cw, "a_staff", lunch, pickup_at=at(2026, 12, 7, 11, 40))
    assert r.pickup_at is None


# --- portions and places decided by the database ----------------------------------------


def test_a_dish_sold_out_is_refused_with_its_name_and_nothing_written(cw):
    m = menu(cw, items={"dongpo": 3, "rice": None})
    reserve(cw, "a_staff", m, items=[line(m, cw, "dongpo", 2)])
    before = state(m)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_manager", m, items=[line(m, cw, "rice"), line(m, cw, "dongpo", 2)])
    assert exc.value.code == "sold_out"
    assert exc.value.details["menu_item_id"] == item(m, "dongpo", cw).pk
    assert str(exc.value.message) == "「东坡肉」已售罄"
    assert state(m) == before  # rice was not taken either
    last = reserve(cw, "a_manager", m, items=[line(m, cw, "dongpo")])
    assert item(m, "dongpo", cw).sold == 3 and last.lines.count() == 1


def test_the_conditional_update_decides_not_the_read(cw, monkeypatch):
    """Another diner takes the last portion between our read and our write: the UPDATE
    finds no row and the refusal rolls back what was already taken."""
    m = menu(cw, items={"rice": 5, "dongpo": 1})
    real = rs._clean_items

    def stale(*args, **kw):
        lines = real(*args, **kw)
        MenuItem.objects.filter(menu=m, dish=cw.dish("a:dongpo")).update(sold=1)
        return lines

    monkeypatch.setattr(rs, "_clean_items", stale)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_staff", m, items=[line(m, cw, "rice"), line(m, cw, "dongpo")])
    assert exc.value.code == "sold_out"
    assert item(m, "rice", cw).sold == 0  # rolled back with the refusal
    m.refresh_from_db()
    assert m.reserved_count == 0 and not Reservation.objects.exists()


def test_a_meal_with_a_cap_is_full_at_the_cap(cw):
    m = menu(cw, capacity=2)
    reserve(cw, "a_staff", m)
    reserve(cw, "a_manager", m)
    before = state(m)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_dispatcher", m)
    assert exc.value.code == "meal_full"
    assert state(m) == before
    # a stale read is caught by the UPDATE as well
    Menu.objects.filter(pk=m.pk).update(capacity=3)
    Menu.objects.filter(pk=m.pk).update(reserved_count=3)
    with pytest.raises(Conflict) as exc:
        reserve(cw, "a_inspector", m)
    assert exc.value.code == "meal_full"


def test_unlimited_dishes_are_counted_but_never_sold_out(cw, lunch):
    for who in ("a_staff", "a_manager", "a_dispatcher"):
        reserve(cw, who, lunch, items=[line(lunch, cw, "greens", 2)])
    assert item(lunch, "greens", cw).sold == 6


# --- idempotency -------------------------------------------------------------------------


def test_the_same_client_key_returns_the_first_reservation(cw, lunch):
    first = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")], client_key="tap-1")
    again = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")], client_key="tap-1")
    assert again.pk == first.pk
    assert Reservation.objects.count() == 1
    assert item(lunch, "dongpo", cw).sold == 1
    assert Notification.objects.filter(recipient=cw.user("a_staff")).count() == 1
    # keys are per person
    other = reserve(cw, "a_manager", lunch, client_key="tap-1")
    assert other.pk != first.pk


def test_a_client_key_race_returns_the_winner(cw, lunch, monkeypatch):
    """The twin request committed while this one waited on the portions' row: the
    writes of this one are rolled back and the winner is returned."""
    real = rs._take_places
    twin: dict = {}

    def racing(menu_, lines, places):
        real(menu_, lines, places)
        if not twin:  # the twin commits in between (its own savepoint here)
            twin["r"] = Reservation.objects.create(
                org=lunch.org,
                canteen=lunch.canteen,
                menu=lunch,
                person=cw.user("a_staff"),
                person_org=cw.world.county_a,
                number="BC-20261207-09999",
                pickup_code="000001",
                client_key="tap-2",
            )

    monkeypatch.setattr(rs, "_take_places", racing)
    got = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")], client_key="tap-2")
    assert got.pk == twin["r"].pk
    assert item(lunch, "dongpo", cw).sold == 0  # ours rolled back


# --- scope ---------------------------------------------------------------------------------


def test_another_countys_staff_get_404_and_nothing_changes(cw, lunch):
    mine = reserve(cw, "a_staff", lunch, items=[line(lunch, cw, "dongpo")])
    before = state(lunch)
    told_before = Notification.objects.filter(recipient__home_org=cw.world.county_a).count()
    for who in ("b_staff", "b_manager", "b_dispatcher", "b_admin"):
        with pytest.raises(NotFound):
            reserve(cw, who, lunch, items=[line(lunch, cw, "dongpo")])
        with pytest.raises(NotFound):
            rs.cancel_reservation(actor=cw.user(who), reservation_id=mine.pk, now=EARLY)
    assert state(lunch) == before
    assert Notification.objects.filter(recipient__home_org=cw.world.county_a).count() == told_before
    mine.refresh_from_db()
    assert mine.status == R.RESERVED


def test_the_city_reaches_every_county(cw, lunch):
    r = reserve(cw, "city_manager", lunch)
    assert r.person_org == cw.world.city
    rs.cancel_reservation(actor=cw.user("city_manager"), reservation_id=r.pk, now=EARLY)


def test_an_unknown_menu_is_404(cw):
    with pytest.raises(NotFound):
        rs.reserve(actor=cw.user("a_staff"), menu_id=987_654, now=EARLY)


def test_reservations_use_the_menus_own_day(cw):
    tuesday = menu(cw, day=MONDAY + timedelta(days=1))
    r = reserve(cw, "a_staff", tuesday, now=at(2026, 12, 7, 20, 0))
    assert r.number.startswith("BC-20261207-")  # numbered on the day it was made
