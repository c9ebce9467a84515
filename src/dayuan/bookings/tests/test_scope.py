"""County B sees and changes nothing of county A through the API: every county A room,
booking, service, slot and appointment is a 404 or absent from lists; the shared city
room is open to both, and B sees A's time in it only as busy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ..models import Appointment, Booking, Room, Slot
from . import rows
from .factories import MONDAY, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_admin", "b_inspector")


@pytest.fixture
def a_side(world, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MONDAY)
    s = build(world)
    staff = s.user("a_staff")
    confirmed = rows.booking(s.room_a, staff, TUESDAY, title="甲县党组会")
    pending = rows.booking(s.hall_a, staff, TUESDAY, status="pending", title="甲县大会")
    in_shared = rows.booking(s.shared, staff, TUESDAY, title="甲县共享会")
    slot = rows.slot(s.barber, TUESDAY, taken=1)
    appt = rows.appointment(slot, staff)
    return s, {"confirmed": confirmed, "pending": pending, "shared": in_shared}, slot, appt


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_gets_404_for_county_a(a_side, api, name):
    s, bookings, slot, appt = a_side
    c = api(s.user(name))
    before = {
        "bookings": list(Booking.objects.order_by("pk").values_list("status", "version")),
        "slots": list(Slot.objects.values_list("taken", "is_open")),
        "appointments": list(Appointment.objects.values_list("status", flat=True)),
        "rooms": list(Room.objects.order_by("pk").values_list("checkin_token", "version")),
    }
    gets = [f"/api/v1/rooms/{s.room_a.pk}", f"/api/v1/rooms/{s.room_a.pk}/week",
            f"/api/v1/rooms/{s.room_a.pk}/photo", f"/api/v1/rooms/{s.room_a.pk}/qr.svg",
            f"/api/v1/appointment-services/{s.barber.pk}",
            f"/api/v1/appointment-services/{s.barber.pk}/slots?day=2026-12-08",
            f"/api/v1/appointments/{appt.pk}"]  # fmt: skip
    for b in bookings.values():
        gets += [f"/api/v1/bookings/{b.pk}", f"/api/v1/bookings/{b.pk}.ics"]
    for path in gets:
        resp = c.get(path)
        assert resp.status_code == 404, (path, resp.status_code)
        assert resp.json()["code"] == "not_found"
    posts = [
        (f"/api/v1/rooms/{s.room_a.pk}/rotate-token", {}),
        (f"/api/v1/appointment-slots/{slot.pk}/book", {}),
        (f"/api/v1/appointment-slots/{slot.pk}/close", {"closed": True}),
        (f"/api/v1/appointments/{appt.pk}/cancel", {}),
        (f"/api/v1/appointments/{appt.pk}/served", {}),
        (f"/api/v1/appointments/{appt.pk}/no-show", {}),
        ("/api/v1/bookings", {"room_id": s.room_a.pk, "title": "借用",
                              "start_at": (TUESDAY + timedelta(hours=3)).isoformat(),
                              "end_at": (TUESDAY + timedelta(hours=4)).isoformat(),
                              "attendees": 3, "contact_phone": "1"}),
    ]  # fmt: skip
    for b in bookings.values():
        posts += [
            (f"/api/v1/bookings/{b.pk}/approve", {}),
            (f"/api/v1/bookings/{b.pk}/reject", {"reason": "不批"}),
            (f"/api/v1/bookings/{b.pk}/cancel", {"reason": "取消"}),
            (f"/api/v1/bookings/{b.pk}/check-in", {}),
            (f"/api/v1/bookings/{b.pk}/end", {}),
            (f"/api/v1/bookings/{b.pk}/services", {"items": [{"kind": "tea"}]}),
            (f"/api/v1/bookings/{b.pk}/checks", {"checklist": "meeting.after"}),
        ]
    for path, data in posts:
        resp = c.post(path, data)
        assert resp.status_code == 404, (path, resp.status_code, resp.content)
    put = c.client.put(
        f"/api/v1/rooms/{s.room_a.pk}",
        data={"org_id": s.world.county_a.pk, "location_id": s.room_a.location_id,
              "name": "改名", "capacity": 5, "version": 1},
        content_type="application/json",
        **c.headers,
    )  # fmt: skip
    assert put.status_code in (403, 404)
    after = {
        "bookings": list(Booking.objects.order_by("pk").values_list("status", "version")),
        "slots": list(Slot.objects.values_list("taken", "is_open")),
        "appointments": list(Appointment.objects.values_list("status", flat=True)),
        "rooms": list(Room.objects.order_by("pk").values_list("checkin_token", "version")),
    }
    assert after == before


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_lists_hold_nothing_of_county_a(a_side, api, name):
    s, bookings, _slot, appt = a_side
    c = api(s.user(name))
    text = "".join(
        c.get(path).content.decode()
        for path in (
            "/api/v1/bookings?page_size=200",
            "/api/v1/bookings/approvals",
            "/api/v1/appointments?page_size=200",
            "/api/v1/appointment-services",
            "/api/v1/appointment-services/managed",
            "/api/v1/rooms/managed",
            "/api/v1/rooms/day?day=2026-12-08",
            f"/api/v1/rooms/{s.shared.pk}/week?week_start=2026-12-07",
            "/api/v1/bookings/stats?start=2026-12-01&end=2026-12-31",
        )
    )
    for secret in ("甲县党组会", "甲县大会", "甲县共享会", "a_staff", s.barber.name,
                   s.room_a.name, s.hall_a.name, *(b.number for b in bookings.values()),
                   appt.number, s.world.county_a.name):  # fmt: skip
        assert secret not in text, secret
    assert c.get("/api/v1/bookings").json()["count"] == 0
    assert c.get("/api/v1/appointments").json()["count"] == 0
    rooms = {r["id"] for r in c.get("/api/v1/rooms?page_size=50").json()["items"]}
    assert rooms == {s.room_b.pk, s.shared.pk}
    free = c.get(
        "/api/v1/rooms/free?start=2026-12-08T14:00:00%2B08:00&end=2026-12-08T15:00:00%2B08:00"
    ).json()
    assert {r["id"] for r in free} == {s.room_b.pk, s.shared.pk}


def test_county_b_sees_a_time_in_the_shared_room_as_busy(a_side, api):
    s, bookings, _slot, _appt = a_side
    c = api(s.user("b_staff"))
    days = c.get("/api/v1/rooms/day?day=2026-12-08").json()
    shared = next(d for d in days if d["room"]["id"] == s.shared.pk)
    (block,) = shared["blocks"]
    assert datetime.fromisoformat(block["start"]) == bookings["shared"].start_at
    assert not block["visible"] and block["title"] is None and block["booker_name"] is None
    # the busy time is not offered as free either
    q = "start=2026-12-08T09:00:00%2B08:00&end=2026-12-08T10:00:00%2B08:00"
    assert s.shared.pk not in {r["id"] for r in c.get(f"/api/v1/rooms/free?{q}").json()}
    # and B may still book the shared room at another time
    resp = c.post(
        "/api/v1/bookings",
        {"room_id": s.shared.pk, "title": "乙县会", "attendees": 5, "contact_phone": "1",
         "start_at": (TUESDAY + timedelta(days=1)).isoformat(),
         "end_at": (TUESDAY + timedelta(days=1, hours=1)).isoformat()},
    )  # fmt: skip
    assert resp.status_code == 201, resp.content
    # which county A's manager does not see (it is B's meeting in the city's room)
    mine = api(s.user("a_manager")).get(f"/api/v1/bookings/{resp.json()['id']}")
    assert mine.status_code == 404


def test_department_staff_book_their_centres_rooms_but_not_another_centres(world, api):
    """A department's staff reach their centre's rooms and barber (above their grant);
    a county's department reaches neither the city's unshared rooms nor another county's."""
    from dayuan.accounts.choices import Role
    from dayuan.core.testing import make_org, make_user
    from dayuan.orgs.choices import OrgKind

    from .. import queries
    from .factories import build

    s = build(world)
    office = make_org("甲县办公室", "a-office", OrgKind.DEPARTMENT, world.county_a)
    clerk = make_user("a_clerk", office, Role.STAFF)
    seen = set(queries.rooms(clerk).values_list("pk", flat=True))
    assert {s.room_a.pk, s.small_a.pk, s.hall_a.pk, s.shared.pk} <= seen
    assert s.room_b.pk not in seen
    city_only = s.shared.__class__.objects.filter(pk=s.shared.pk)
    city_only.update(shared=False)
    assert s.shared.pk not in set(queries.rooms(clerk).values_list("pk", flat=True))
    assert s.barber.pk in set(queries.services(clerk).values_list("pk", flat=True))
    resp = api(clerk).get(f"/api/v1/rooms/{s.room_b.pk}")
    assert resp.status_code == 404
    assert api(clerk).get(f"/api/v1/rooms/{s.room_a.pk}").status_code == 200
