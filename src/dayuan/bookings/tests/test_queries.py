"""The read side: who sees which rooms, bookings, services and appointments; the free
room search, day and week views, approvals and stats; query counts at volume."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from dayuan.core.errors import NotFound
from dayuan.orgs.models import Location

from .. import queries
from ..models import Booking, Room
from . import rows
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)


@pytest.fixture
def s(world):
    return build(world)


def ids(qs) -> set[int]:
    return {x.pk for x in qs}


# --- rooms -----------------------------------------------------------------------------


def test_rooms_are_the_own_scope_and_shared_ones(s):
    a = ids(queries.rooms(s.user("a_staff")))
    assert a == {s.room_a.pk, s.small_a.pk, s.hall_a.pk, s.shared.pk}
    assert ids(queries.rooms(s.user("b_staff"))) == {s.room_b.pk, s.shared.pk}
    city = ids(queries.rooms(s.user("city_manager")))
    assert {s.room_a.pk, s.room_b.pk, s.shared.pk} <= city
    assert ids(queries.rooms(None)) == set()


def test_inactive_rooms_are_hidden_but_managed(s):
    Room.objects.filter(pk=s.small_a.pk).update(is_active=False)
    assert s.small_a.pk not in ids(queries.rooms(s.user("a_manager")))
    assert s.small_a.pk in ids(queries.managed_rooms(s.user("a_manager")))
    assert ids(queries.managed_rooms(s.user("a_staff"))) == set()
    assert s.small_a.pk not in ids(queries.managed_rooms(s.user("b_manager")))
    with pytest.raises(NotFound):
        queries.room(s.user("a_manager"), s.small_a.pk)


def test_a_room_of_another_county_is_not_found(s):
    with pytest.raises(NotFound):
        queries.room(s.user("b_staff"), s.room_a.pk)
    assert queries.room(s.user("b_staff"), s.shared.pk) == s.shared


def test_rooms_filters(s):
    user = s.user("a_staff")
    assert ids(queries.rooms(user, building_id=s.building_a.pk)) == {
        s.room_a.pk,
        s.small_a.pk,
        s.hall_a.pk,
    }
    assert ids(queries.rooms(user, min_capacity=30)) == {s.hall_a.pk, s.shared.pk}
    assert ids(queries.rooms(user, resource_class="large_hall")) == {s.hall_a.pk}
    assert ids(queries.rooms(user, q="小会议")) == {s.small_a.pk}
    assert ids(queries.rooms(user, org_id=s.world.county_b.pk)) == set()


# --- bookings --------------------------------------------------------------------------


def test_booking_visibility(s):
    a_staff, b_staff = s.user("a_staff"), s.user("b_staff")
    own = rows.booking(s.room_a, a_staff, TUESDAY)
    shared_b = rows.booking(s.shared, b_staff, TUESDAY)
    seen = {
        name: ids(queries.bookings(s.user(name)))
        for name in ("a_staff", "a_manager", "a_dispatcher", "a_inspector", "b_staff",
                     "b_manager", "city_manager")
    }  # fmt: skip
    assert seen["a_staff"] == {own.pk}
    assert seen["a_manager"] == {own.pk}  # not B's booking of the city room
    assert seen["a_dispatcher"] == {own.pk}
    assert seen["a_inspector"] == set()  # inspectors do not hold bookings.view_all
    assert seen["b_staff"] == {shared_b.pk}
    assert seen["b_manager"] == {shared_b.pk}  # the organising unit's manager
    assert seen["city_manager"] == {own.pk, shared_b.pk}  # owner of the shared room
    with pytest.raises(NotFound):
        queries.booking(b_staff, own.pk)
    assert queries.booking(s.user("a_manager"), own.pk) == own


def test_booking_list_filters_and_order(s):
    user = s.user("a_staff")
    first = rows.booking(s.room_a, user, MONDAY)
    second = rows.booking(s.small_a, user, TUESDAY, status="cancelled")
    third = rows.booking(s.room_a, user, TUESDAY + timedelta(days=1))
    assert [b.pk for b in queries.booking_list(user)] == [third.pk, second.pk, first.pk]
    assert ids(queries.booking_list(user, status="cancelled")) == {second.pk}
    assert ids(queries.booking_list(user, room_id=s.room_a.pk)) == {first.pk, third.pk}
    assert ids(queries.booking_list(user, since=TUESDAY.date(), until=TUESDAY.date())) == {
        second.pk
    }
    upcoming = queries.booking_list(user, upcoming=True, now=MONDAY + timedelta(hours=2))
    assert [b.pk for b in upcoming] == [second.pk, third.pk]


def test_approvals_are_pending_bookings_of_the_approvers_rooms(s):
    staff = s.user("a_staff")
    pending = rows.booking(s.hall_a, staff, TUESDAY, status="pending")
    rows.booking(s.room_a, staff, TUESDAY, status="confirmed")
    pending_b = rows.booking(s.room_b, s.user("b_staff"), TUESDAY, status="pending")
    assert ids(queries.approvals(s.user("a_manager"))) == {pending.pk}
    assert ids(queries.approvals(s.user("b_manager"))) == {pending_b.pk}
    assert ids(queries.approvals(staff)) == set()
    assert ids(queries.approvals(s.user("a_dispatcher"))) == set()


def test_booking_actions(s):
    staff = s.user("a_staff")
    b = rows.booking(s.room_a, staff, TUESDAY)
    assert queries.booking_actions(staff, b, now=MONDAY) == ["cancel", "services"]
    assert "check_in" in queries.booking_actions(staff, b, now=TUESDAY - timedelta(minutes=10))
    assert queries.booking_actions(staff, b, now=TUESDAY + timedelta(minutes=30)) == ["end"]
    p = rows.booking(s.hall_a, staff, TUESDAY, status="pending")
    assert queries.booking_actions(s.user("a_manager"), p, now=MONDAY)[:2] == [
        "approve",
        "reject",
    ]


# --- free rooms ------------------------------------------------------------------------


def test_free_rooms_capacity_equipment_and_order(s):
    user = s.user("a_staff")
    start, end = at(2026, 12, 8, 14, 0), at(2026, 12, 8, 16, 0)
    got = queries.free_rooms(user, start, end)
    assert [r.pk for r in got] == [s.small_a.pk, s.room_a.pk, s.shared.pk, s.hall_a.pk]
    got = queries.free_rooms(user, start, end, attendees=10, equipment=["projector"])
    assert [r.pk for r in got] == [s.room_a.pk, s.shared.pk, s.hall_a.pk]
    got = queries.free_rooms(user, start, end, attendees=30, equipment=["video"])
    assert [r.pk for r in got] == [s.shared.pk]
    assert queries.free_rooms(user, start, end, limit=1) == [s.small_a]
    assert queries.free_rooms(user, start, end, building_id=s.building_a.pk)[0] == s.small_a


def test_free_rooms_skip_overlapping_active_bookings_only(s):
    user = s.user("a_staff")
    start, end = at(2026, 12, 8, 14, 0), at(2026, 12, 8, 16, 0)
    rows.booking(s.room_a, user, at(2026, 12, 8, 15, 30), 60)  # overlaps the end
    rows.booking(s.small_a, user, at(2026, 12, 8, 13, 0), 60)  # ends at the start: free
    rows.booking(s.shared, user, at(2026, 12, 8, 14, 0), 30, status="cancelled")
    rows.booking(s.hall_a, user, at(2026, 12, 8, 14, 30), 30, status="pending")
    got = {r.pk for r in queries.free_rooms(user, start, end)}
    assert got == {s.small_a.pk, s.shared.pk}


def test_free_rooms_only_while_open(s):
    user = s.user("a_staff")
    assert queries.free_rooms(user, at(2026, 12, 8, 7, 0), at(2026, 12, 8, 9, 0)) == []
    assert queries.free_rooms(user, at(2026, 12, 8, 17, 0), at(2026, 12, 8, 19, 0)) == []
    assert queries.free_rooms(user, at(2026, 12, 8, 17, 0), at(2026, 12, 9, 9, 0)) == []
    assert queries.free_rooms(user, at(2026, 12, 8, 16, 0), at(2026, 12, 8, 15, 0)) == []
    weekend = (SATURDAY.replace(hour=10), SATURDAY.replace(hour=11))
    assert queries.free_rooms(user, *weekend) == []
    Room.objects.filter(pk=s.shared.pk).update(open_days="all")
    assert [r.pk for r in queries.free_rooms(user, *weekend)] == [s.shared.pk]


def test_free_rooms_outside_scope_are_never_offered(s):
    got = {
        r.pk for r in queries.free_rooms(s.user("b_staff"), TUESDAY, TUESDAY + timedelta(1 / 24))
    }
    assert got == {s.room_b.pk, s.shared.pk}


# --- day and week views ----------------------------------------------------------------


def test_day_view_hides_the_titles_of_others(s):
    a_staff, b_staff = s.user("a_staff"), s.user("b_staff")
    mine = rows.booking(s.shared, b_staff, TUESDAY, title="乙县党组会")
    theirs = rows.booking(s.shared, a_staff, TUESDAY + timedelta(hours=2), title="甲县机密会")
    rows.booking(s.shared, a_staff, TUESDAY + timedelta(hours=4), status="cancelled")
    days = {d.room.pk: d for d in queries.day_view(b_staff, day=TUESDAY.date())}
    assert set(days) == {s.room_b.pk, s.shared.pk}
    blocks = days[s.shared.pk].blocks
    assert [b.start for b in blocks] == [mine.start_at, theirs.start_at]
    assert blocks[0].visible and blocks[0].title == "乙县党组会" and blocks[0].mine
    assert not blocks[1].visible and blocks[1].title is None and blocks[1].booking_id is None
    assert blocks[1].booker_name is None
    assert days[s.shared.pk].open
    assert days[s.shared.pk].opens_at == datetime.combine(TUESDAY.date(), time(8), MONDAY.tzinfo)
    # the city manager (owner of the shared room) sees both
    city = {d.room.pk: d for d in queries.day_view(s.user("city_manager"), day=TUESDAY.date())}
    assert [b.title for b in city[s.shared.pk].blocks] == ["乙县党组会", "甲县机密会"]


def test_day_view_by_building_and_closed_days(s):
    user = s.user("a_staff")
    days = queries.day_view(user, day=SATURDAY.date(), building_id=s.building_a.pk)
    assert {d.room.pk for d in days} == {s.room_a.pk, s.small_a.pk, s.hall_a.pk}
    assert not any(d.open for d in days)
    assert all(d.opens_at is None for d in days)


def test_week_view(s):
    user = s.user("a_staff")
    b = rows.booking(s.room_a, user, TUESDAY, 90)
    days = queries.week_view(user, room_id=s.room_a.pk, week_start=MONDAY.date())
    assert [d.day for d in days] == [MONDAY.date() + timedelta(i) for i in range(7)]
    assert [d.open for d in days] == [True] * 5 + [False] * 2
    assert [len(d.blocks) for d in days] == [0, 1, 0, 0, 0, 0, 0]
    assert days[1].blocks[0].booking_id == b.pk
    with pytest.raises(NotFound):
        queries.week_view(s.user("b_staff"), room_id=s.room_a.pk, week_start=MONDAY.date())


# --- appointment services --------------------------------------------------------------


def test_services_slots_and_appointments_scope(s):
    a_staff, b_staff = s.user("a_staff"), s.user("b_staff")
    assert ids(queries.services(a_staff)) == {s.barber.pk}
    assert ids(queries.services(b_staff)) == set()
    with pytest.raises(NotFound):
        queries.slots(b_staff, s.barber.pk, TUESDAY.date())
    slot = rows.slot(s.barber, TUESDAY, taken=1)
    other_day = rows.slot(s.barber, TUESDAY + timedelta(days=1))
    got = queries.slots(a_staff, s.barber.pk, TUESDAY.date())
    assert [x.pk for x in got] == [slot.pk] and got[0].free == 2
    assert other_day.pk not in {x.pk for x in got}
    appt = rows.appointment(slot, a_staff)
    assert ids(queries.appointments(a_staff)) == {appt.pk}
    assert ids(queries.my_appointments(a_staff)) == {appt.pk}
    assert ids(queries.appointments(s.user("a_manager"))) == {appt.pk}
    assert ids(queries.appointments(s.user("vendor_worker"))) == set()  # serve at vendor only
    assert ids(queries.appointments(s.user("a_inspector"))) == set()
    assert ids(queries.appointments(b_staff)) == set()
    with pytest.raises(NotFound):
        queries.appointment(b_staff, appt.pk)
    # shared: visible to county B too
    s.barber.shared = True
    s.barber.save(update_fields=["shared"])
    assert ids(queries.services(b_staff)) == {s.barber.pk}


def test_closed_slot_has_no_free_seats(s):
    slot = rows.slot(s.barber, TUESDAY)
    slot.is_open = False
    slot.save()
    assert queries.slots(s.user("a_staff"), s.barber.pk, TUESDAY.date())[0].free == 0


# --- stats -----------------------------------------------------------------------------


def test_stats_utilisation_no_shows_and_peak_hours(s):
    staff = s.user("a_staff")
    day = MONDAY.date()  # Monday 2026-12-07 (a workday)
    rows.booking(s.room_a, staff, at(2026, 12, 7, 9, 0), 120, status="completed")
    rows.booking(s.room_a, staff, at(2026, 12, 7, 14, 0), 60, status="released")
    rows.booking(s.small_a, staff, at(2026, 12, 7, 9, 30), 60, status="checked_in")
    rows.booking(s.small_a, staff, at(2026, 12, 7, 15, 0), 60, status="cancelled")
    rows.booking(s.room_b, s.user("b_staff"), at(2026, 12, 7, 10, 0), 600 - 60 * 8)
    now = at(2026, 12, 7, 20, 0)
    got = queries.stats(s.user("a_manager"), start=day, end=day, now=now)
    a = {r["id"]: r for r in got["by_org"]}[s.world.county_a.pk]
    assert a["rooms"] == 3
    assert a["open_minutes"] == 3 * 600  # 08:00–18:00
    assert a["booked_minutes"] == 180
    assert a["utilisation"] == round(180 / 1800, 4)
    assert a["released"] == 1 and a["attended"] == 2
    assert a["no_show_rate"] == round(1 / 3, 4)
    assert a["cancelled"] == 1
    assert len(got["by_org"]) == 1  # county B is not overseen by A's manager
    assert got["by_building"][0]["id"] == s.building_a.pk
    peak = {p["hour"]: p["bookings"] for p in got["peak_hours"]}
    assert peak[9] == 2 and sum(peak.values()) == 2
    city = queries.stats(s.user("city_manager"), start=day, end=day, now=now)
    assert {r["id"] for r in city["by_org"]} == {
        s.world.city.pk,
        s.world.county_a.pk,
        s.world.county_b.pk,
    }
    assert city["totals"]["booked_minutes"] == 180 + 120
    assert queries.stats(staff, start=day, end=day, now=now)["by_org"] == []


def test_stats_clip_to_the_range_and_now(s):
    staff = s.user("a_staff")
    rows.booking(s.room_a, staff, at(2026, 12, 7, 9, 0), 120, status="checked_in")
    got = queries.stats(
        s.user("a_manager"), start=MONDAY.date(), end=MONDAY.date(), now=at(2026, 12, 7, 10, 0)
    )
    a = {r["id"]: r for r in got["by_org"]}[s.world.county_a.pk]
    assert a["booked_minutes"] == 60  # only the part before now
    got = queries.stats(
        s.user("a_manager"),
        start=date(2026, 12, 1),
        end=date(2026, 12, 31),
        org_id=s.world.county_a.pk,
        now=at(2026, 12, 7, 20, 0),
    )
    a = got["by_org"][0]
    assert a["open_minutes"] == 3 * 600 * 5  # Dec 1–7 holds 5 workdays, future days not
    assert a["booked_minutes"] == 120


def test_stats_appointment_use(s):
    slot = rows.slot(s.barber, at(2026, 12, 7, 9, 0), seats=3, taken=2)
    rows.slot(s.barber, at(2026, 12, 7, 9, 30), seats=3)
    rows.appointment(slot, s.user("a_staff"), status="done")
    rows.appointment(slot, s.user("a_manager"), status="no_show")
    rows.appointment(slot, s.user("a_dispatcher"), status="cancelled")
    got = queries.stats(
        s.user("a_manager"), start=MONDAY.date(), end=MONDAY.date(), now=at(2026, 12, 7, 20, 0)
    )
    (row,) = got["appointments"]
    assert row["slots"] == 2 and row["seats"] == 6
    assert (row["booked"], row["served"], row["no_show"], row["cancelled"]) == (2, 1, 1, 1)
    assert row["use"] == round(2 / 6, 4) and row["no_show_rate"] == 0.5


# --- query counts at volume ------------------------------------------------------------


@pytest.fixture
def volume(s):
    """300 rooms in county A's building, 4 000 bookings over ten weeks, 200 shared."""
    building = s.building_a
    many = rows.rooms(s.world.county_a, building, 300)
    rows.rooms(s.world.city, Location.objects.get(pk=s.shared.building_id), 20, shared=True)
    users = [s.user(n) for n in ("a_staff", "a_manager", "a_dispatcher", "a_admin")]
    batch = []
    for i in range(4000):
        r = many[i % len(many)]
        day = MONDAY.date() - timedelta(days=35) + timedelta(days=(i // len(many)) * 5 // 2)
        start = datetime.combine(day, time(8 + (i % 3) * 3), MONDAY.tzinfo)
        status = ("completed", "released", "confirmed", "cancelled")[i % 4]
        batch.append(rows.booking(r, users[i % 4], start, 120, status=status, save=False))
    Booking.objects.bulk_create(batch, batch_size=1000)
    return many


def test_query_counts_at_volume(s, volume, django_assert_max_num_queries):
    manager = s.user("a_manager")
    day = MONDAY.date() - timedelta(days=35)  # the first day of the fixture's bookings
    with django_assert_max_num_queries(4):
        assert len(list(queries.booking_list(manager)[:50])) == 50
    with django_assert_max_num_queries(4):
        assert len(list(queries.rooms(manager)[:50])) == 50
    manager = s.user("a_manager").__class__.objects.get(pk=manager.pk)
    # a fresh user object: its grants and the way up to its centre load once (2 queries)
    with django_assert_max_num_queries(7):
        days = queries.day_view(manager, day=day)
        assert len(days) == 300 + 3 + 21
        assert sum(len(d.blocks) for d in days) > 100
    with django_assert_max_num_queries(5):
        free = queries.free_rooms(
            manager, at(2026, 11, 2, 8, 0), at(2026, 11, 2, 10, 0), attendees=12,
            equipment=["projector"], limit=20,
        )  # fmt: skip
        assert len(free) == 20
    with django_assert_max_num_queries(5):
        days = queries.week_view(manager, room_id=volume[0].pk, week_start=day)
        assert len(days) == 7
    with django_assert_max_num_queries(10):
        got = queries.stats(manager, start=day, end=MONDAY.date(), now=MONDAY)
        assert got["totals"]["bookings"] == 4000 // 2  # completed and confirmed
        assert got["totals"]["released"] == 1000
    with django_assert_max_num_queries(4):
        assert len(list(queries.approvals(manager)[:20])) == 0
