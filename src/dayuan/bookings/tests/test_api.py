"""The bookings API through HTTP: rooms, free search, views, the booking flow, series,
services, check-in, the .ics file and the feed, appointments, stats, room admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from .. import appointments
from ..models import Booking, Room
from . import rows
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


class Clock:
    """``timezone.now`` for the services and middleware behind the HTTP calls."""

    def __init__(self, monkeypatch, now):
        self.now = now
        monkeypatch.setattr(timezone, "now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, MONDAY)


@pytest.fixture
def s(world, clock):
    return build(world)


def body(room, start, minutes=60, **kw):
    data = {
        "room_id": room.pk,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(minutes=minutes)).isoformat(),
        "title": "季度工作会",
        "attendees": 8,
        "contact_name": "张三",
        "contact_phone": "13800000000",
    }
    return data | kw


def put(client, path, data):
    return client.client.put(
        path, data=json.dumps(data), content_type="application/json", **client.headers
    )


def book(client, room, start, minutes=60, **kw):
    resp = client.post("/api/v1/bookings", body(room, start, minutes, **kw))
    assert resp.status_code == 201, resp.content
    return resp.json()


# --- rooms -----------------------------------------------------------------------------


def test_rooms_list_detail_and_not_found(s, api):
    c = api(s.user("a_staff"))
    page = c.get("/api/v1/rooms?page_size=2").json()
    assert page["count"] == 4 and len(page["items"]) == 2 and page["has_next"]
    names = {r["name"] for r in c.get("/api/v1/rooms?page_size=50").json()["items"]}
    assert names == {s.room_a.name, s.small_a.name, s.hall_a.name, s.shared.name}
    room = c.get(f"/api/v1/rooms/{s.room_a.pk}").json()
    assert room["equipment"] == ["projector", "screen"]
    assert room["equipment_labels"] == ["投影仪", "显示屏"]
    assert room["building_name"] == s.building_a.name and room["opens_at"] == "08:00:00"
    missing = c.get(f"/api/v1/rooms/{s.room_b.pk}")
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": missing.json()["message"],
                              "details": None}  # fmt: skip
    assert api().get("/api/v1/rooms").status_code == 401


def test_free_search(s, api):
    c = api(s.user("a_staff"))
    rows.booking(s.room_a, s.user("a_manager"), at(2026, 12, 8, 14, 30))
    q = "start=2026-12-08T14:00:00%2B08:00&end=2026-12-08T16:00:00%2B08:00"
    got = c.get(f"/api/v1/rooms/free?{q}&attendees=10&equipment=projector").json()
    assert [r["id"] for r in got] == [s.shared.pk, s.hall_a.pk]
    got = c.get(f"/api/v1/rooms/free?{q}&limit=1").json()
    assert [r["id"] for r in got] == [s.small_a.pk]
    bad = c.get(
        "/api/v1/rooms/free?start=2026-12-08T16:00:00%2B08:00&end=2026-12-08T14:00:00%2B08:00"
    )
    assert bad.status_code == 422 and bad.json()["code"] == "booking_bad_range"
    bad = c.get(f"/api/v1/rooms/free?{q}&equipment=teleporter")
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_equipment"


def test_day_and_week_views(s, api):
    rows.booking(s.shared, s.user("a_staff"), TUESDAY, title="甲县内部会")
    c = api(s.user("b_staff"))
    days = c.get("/api/v1/rooms/day?day=2026-12-08").json()
    shared = next(d for d in days if d["room"]["id"] == s.shared.pk)
    (block,) = shared["blocks"]
    assert block["visible"] is False and block["title"] is None and block["booking_id"] is None
    assert "甲县内部会" not in c.get("/api/v1/rooms/day?day=2026-12-08").content.decode()
    week = c.get(f"/api/v1/rooms/{s.shared.pk}/week?week_start=2026-12-07").json()
    assert [len(d["blocks"]) for d in week["days"]] == [0, 1, 0, 0, 0, 0, 0]
    assert [d["open"] for d in week["days"]] == [True] * 5 + [False] * 2
    mine = api(s.user("a_staff")).get(f"/api/v1/rooms/{s.shared.pk}/week?week_start=2026-12-07")
    assert mine.json()["days"][1]["blocks"][0]["title"] == "甲县内部会"


# --- the booking flow ------------------------------------------------------------------


def test_book_conflict_and_idempotency(s, api):
    staff = api(s.user("a_staff"))
    key = {"HTTP_IDEMPOTENCY_KEY": "k-123456789"}
    resp = staff.post("/api/v1/bookings", body(s.room_a, TUESDAY), **key)
    assert resp.status_code == 201, resp.content
    first = resp.json()
    assert first["status"] == "confirmed" and first["number"].startswith("HY-")
    assert first["room_name"] == s.room_a.name and first["booker_name"] == "a_staff"
    assert "cancel" in first["actions"] and first["ics_url"].endswith(f"/{first['id']}.ics")
    assert [e["action"] for e in first["events"]] == ["book"]
    again = staff.post("/api/v1/bookings", body(s.room_a, TUESDAY), **key)
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    ck = body(s.room_a, TUESDAY + timedelta(hours=2), client_key="form-abcdef12")
    one = staff.post("/api/v1/bookings", ck).json()
    assert staff.post("/api/v1/bookings", ck).json()["id"] == one["id"]
    taken = api(s.user("a_manager")).post(
        "/api/v1/bookings", body(s.room_a, TUESDAY + timedelta(minutes=30))
    )
    assert taken.status_code == 409
    err = taken.json()
    assert err["code"] == "room_taken"
    assert len(err["details"]["conflicts"]) == 1
    assert Booking.objects.filter(room=s.room_a, active=True).count() == 2


def test_booking_refused_by_the_standard_cites_the_clause(s, api):
    staff = api(s.user("a_staff"))
    resp = staff.post("/api/v1/bookings", body(s.room_a, TUESDAY, contact_phone=""))
    assert resp.status_code == 422
    assert resp.json()["code"] == "rule_refused"
    assert "M4" in resp.content.decode()
    soon = staff.post("/api/v1/bookings", body(s.room_a, MONDAY + timedelta(minutes=30)))
    assert soon.status_code == 422 and soon.json()["code"] == "rule_refused"
    bad = staff.post("/api/v1/bookings", body(s.room_a, TUESDAY, meeting_type="party"))
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert not Booking.objects.exists()


def test_approval_flow(s, api, clock):
    staff, manager = api(s.user("a_staff")), api(s.user("a_manager"))
    start = MONDAY + timedelta(days=4)  # the hall needs three days' notice
    hall = book(staff, s.hall_a, start)
    assert hall["status"] == "pending"
    assert "approve" not in hall["actions"]
    queue = manager.get("/api/v1/bookings/approvals").json()
    assert [b["id"] for b in queue["items"]] == [hall["id"]]
    assert api(s.user("b_manager")).get("/api/v1/bookings/approvals").json()["count"] == 0
    stale = manager.post(f"/api/v1/bookings/{hall['id']}/approve", {"version": 99})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    ok = manager.post(f"/api/v1/bookings/{hall['id']}/approve", {"version": hall["version"]})
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    other = book(staff, s.hall_a, start + timedelta(hours=4))
    no_reason = manager.post(f"/api/v1/bookings/{other['id']}/reject", {})
    assert no_reason.status_code == 422
    rejected = manager.post(f"/api/v1/bookings/{other['id']}/reject", {"reason": "场地检修"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["active"] is False
    denied = staff.post(f"/api/v1/bookings/{hall['id']}/reject", {"reason": "x"})
    assert denied.status_code == 403


def test_cancel_ics_and_list(s, api):
    staff = api(s.user("a_staff"))
    b = book(staff, s.room_a, TUESDAY)
    ics = staff.get(f"/api/v1/bookings/{b['id']}.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    (ev,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(ev["UID"]) == f"booking-{b['id']}@dayuan"
    mine = staff.get("/api/v1/bookings?mine=true").json()
    assert [x["id"] for x in mine["items"]] == [b["id"]]
    resp = staff.post(f"/api/v1/bookings/{b['id']}/cancel", {"reason": "改期"})
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert staff.get("/api/v1/bookings?status=confirmed").json()["count"] == 0


def test_check_in_by_qr_token_and_end(s, api, clock):
    staff = api(s.user("a_staff"))
    noon = MONDAY.replace(hour=12)
    b = book(staff, s.room_a, noon)
    early = staff.post("/api/v1/bookings/check-in", {"token": s.room_a.checkin_token})
    assert early.status_code == 409 and early.json()["code"] == "checkin_too_early"
    clock.now = noon - timedelta(minutes=5)
    resp = staff.post("/api/v1/bookings/check-in", {"token": s.room_a.checkin_token})
    assert resp.status_code == 200 and resp.json()["status"] == "checked_in"
    assert "end" in resp.json()["actions"]
    unknown = staff.post("/api/v1/bookings/check-in", {"token": "nope-nope"})
    assert unknown.status_code == 404
    clock.now = noon + timedelta(minutes=50)
    done = staff.post(f"/api/v1/bookings/{b['id']}/end")
    assert done.status_code == 200 and done.json()["status"] == "completed"


def test_series_reports_conflicts(s, api):
    staff = api(s.user("a_staff"))
    rows.booking(s.room_a, s.user("a_manager"), at(2026, 12, 9, 14, 0))
    data = body(s.room_a, at(2026, 12, 8, 14, 0)) | {
        "rrule": "FREQ=DAILY;COUNT=3",
        "first_start": at(2026, 12, 8, 14, 0).isoformat(),
        "duration_minutes": 60,
    }
    resp = staff.post("/api/v1/bookings/series", data)
    assert resp.status_code == 201, resp.content
    got = resp.json()
    assert len(got["bookings"]) == 2 and len(got["conflicts"]) == 1
    assert got["conflicts"][0]["code"] == "room_taken"
    unbounded = staff.post("/api/v1/bookings/series", data | {"rrule": "FREQ=DAILY"})
    assert unbounded.status_code == 422 and unbounded.json()["code"] == "rrule_unbounded"


def test_meeting_services_become_work_orders(s, api):
    staff = api(s.user("a_staff"))
    b = book(staff, s.room_a, TUESDAY, services=[{"kind": "tea", "note": "绿茶"}])
    assert [x["kind"] for x in b["services"]] == ["tea"]
    assert b["services"][0]["workorder_id"] is not None
    resp = staff.post(f"/api/v1/bookings/{b['id']}/services", {"items": [{"kind": "av"}]})
    assert resp.status_code == 200, resp.content
    assert sorted(x["kind"] for x in resp.json()["services"]) == ["av", "tea"]
    bad = staff.post(f"/api/v1/bookings/{b['id']}/services", {"items": [{"kind": "magic"}]})
    assert bad.status_code == 422


# --- the personal feed -----------------------------------------------------------------


def test_feed_needs_only_the_token(s, api):
    staff = api(s.user("a_staff"))
    book(staff, s.room_a, TUESDAY)
    feed = staff.get("/api/v1/bookings/feed").json()
    assert feed["url"].endswith(f"/api/v1/bookings/feed/{feed['token']}.ics")
    anonymous = api()
    resp = anonymous.get(f"/api/v1/bookings/feed/{feed['token']}.ics")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/calendar")
    assert len(Calendar.from_ical(resp.content).walk("VEVENT")) == 1
    assert anonymous.get("/api/v1/bookings/feed/not-a-token.ics").status_code == 404
    assert anonymous.get("/api/v1/bookings/feed").status_code == 401
    new = staff.post("/api/v1/bookings/feed/rotate").json()
    assert new["token"] != feed["token"]
    assert anonymous.get(f"/api/v1/bookings/feed/{feed['token']}.ics").status_code == 404
    assert anonymous.get(f"/api/v1/bookings/feed/{new['token']}.ics").status_code == 200


# --- appointments ----------------------------------------------------------------------


def test_appointment_flow(s, api):
    appointments.generate_slots(s.barber, start=TUESDAY.date(), days=1)
    staff = api(s.user("a_staff"))
    assert staff.get("/api/v1/appointment-services").json()["count"] == 1
    slots = staff.get(f"/api/v1/appointment-services/{s.barber.pk}/slots?day=2026-12-08").json()
    assert slots and slots[0]["free"] == 3
    first, second = slots[0]["id"], slots[1]["id"]
    resp = staff.post(f"/api/v1/appointment-slots/{first}/book", {"note": "剪短"})
    assert resp.status_code == 201, resp.content
    appt = resp.json()
    assert appt["status"] == "booked" and appt["service_name"] == s.barber.name
    assert appt["provider_name"] == "张师傅"
    limit = staff.post(f"/api/v1/appointment-slots/{second}/book", {})
    assert limit.status_code == 409 and limit.json()["code"] == "per_person_limit"
    after = staff.get(f"/api/v1/appointment-services/{s.barber.pk}/slots?day=2026-12-08").json()
    assert after[0]["free"] == 2
    assert [a["id"] for a in staff.get("/api/v1/appointments?mine=true").json()["items"]] == [
        appt["id"]
    ]
    manager = api(s.user("a_manager"))
    assert manager.get(f"/api/v1/appointments/{appt['id']}").status_code == 200
    closed = manager.post(f"/api/v1/appointment-slots/{second}/close", {"closed": True})
    assert closed.status_code == 200 and closed.json()["is_open"] is False
    cancel = staff.post(f"/api/v1/appointments/{appt['id']}/cancel")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


# --- stats, room admin -----------------------------------------------------------------


def test_stats(s, api):
    rows.booking(s.room_a, s.user("a_staff"), at(2026, 12, 1, 9, 0), 120, status="completed")
    manager = api(s.user("a_manager"))
    got = manager.get("/api/v1/bookings/stats?start=2026-12-01&end=2026-12-07").json()
    assert got["totals"]["booked_minutes"] == 120
    assert {r["id"] for r in got["by_org"]} == {s.world.county_a.pk}
    assert len(got["peak_hours"]) == 24 and got["peak_hours"][9]["bookings"] == 1
    assert got["appointments"][0]["name"] == s.barber.name
    bad = manager.get("/api/v1/bookings/stats?start=2026-12-07&end=2026-12-01")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_period"


def test_room_admin_and_qr(s, api):
    manager = api(s.user("a_manager"))
    floor = s.room_a.location.parent
    from dayuan.core.testing import make_location

    loc = make_location(s.world.county_a, "新会议室", "room", floor)
    data = {"org_id": s.world.county_a.pk, "location_id": loc.pk, "name": "甲县新会议室",
            "capacity": 12, "equipment": ["screen", "projector"]}  # fmt: skip
    resp = manager.post("/api/v1/rooms", data)
    assert resp.status_code == 201, resp.content
    room = resp.json()
    assert room["equipment"] == ["projector", "screen"] and room["building_id"] == s.building_a.pk
    assert room["checkin_url"].endswith(f"/{Room.objects.get(pk=room['id']).checkin_token}/")
    stale = put(manager, f"/api/v1/rooms/{room['id']}", {**data, "version": 99})
    assert stale.status_code == 409
    ok = put(manager, f"/api/v1/rooms/{room['id']}", {**data, "capacity": 14, "version": 1})
    assert ok.status_code == 200 and ok.json()["capacity"] == 14
    svg = manager.get(f"/api/v1/rooms/{room['id']}/qr.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
    old = Room.objects.get(pk=room["id"]).checkin_token
    rotated = manager.post(f"/api/v1/rooms/{room['id']}/rotate-token")
    assert rotated.status_code == 200
    assert Room.objects.get(pk=room["id"]).checkin_token != old
    staff = api(s.user("a_staff"))
    assert staff.get(f"/api/v1/rooms/{room['id']}/qr.svg").status_code == 404
    assert staff.post("/api/v1/rooms", data).status_code == 403
