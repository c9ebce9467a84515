"""iCalendar files (RFC 5545), read back with the ``icalendar`` library."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from .. import ical
from . import rows
from .factories import MONDAY, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def s(world):
    return build(world)


def parse(data: bytes) -> Calendar:
    assert isinstance(data, bytes)
    text = data.decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # folded lines
    return Calendar.from_ical(data)


def events(cal: Calendar) -> dict[str, object]:
    return {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}


def test_booking_ics_is_a_valid_calendar(s):
    b = rows.booking(s.room_a, s.user("a_staff"), TUESDAY, 90, title="季度工作会",
                     contact_name="张三", contact_phone="13800000000")  # fmt: skip
    cal = parse(ical.booking_ics(b, now=MONDAY))
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == ical.PRODID
    assert str(cal["METHOD"]) == "PUBLISH"
    (tz,) = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Shanghai"
    (ev,) = cal.walk("VEVENT")
    assert str(ev["UID"]) == f"booking-{b.pk}@dayuan"
    assert ev.decoded("DTSTAMP") == MONDAY
    assert ev.decoded("DTSTART") == b.start_at and ev.decoded("DTEND") == b.end_at
    assert ev["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert ev.decoded("DTSTART").hour == 9  # the local time the room was booked for
    assert str(ev["SUMMARY"]) == "季度工作会"
    assert str(ev["LOCATION"]) == f"{s.building_a.name} {s.room_a.name}"
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert b.number in str(ev["DESCRIPTION"]) and "13800000000" in str(ev["DESCRIPTION"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [("pending", "TENTATIVE"), ("checked_in", "CONFIRMED"), ("cancelled", "CANCELLED"),
     ("released", "CANCELLED"), ("displaced", "CANCELLED")],
)  # fmt: skip
def test_booking_status_maps_to_ical_status(s, status, expected):
    b = rows.booking(s.room_a, s.user("a_staff"), TUESDAY, status=status)
    (ev,) = parse(ical.booking_ics(b)).walk("VEVENT")
    assert str(ev["STATUS"]) == expected


def test_feed_holds_the_persons_recent_bookings_and_appointments(s):
    staff = s.user("a_staff")
    recent = rows.booking(s.room_a, staff, MONDAY - timedelta(days=10))
    rows.booking(s.room_a, staff, MONDAY - timedelta(days=40))  # too old
    upcoming = rows.booking(s.shared, staff, TUESDAY, status="pending")
    cancelled = rows.booking(s.small_a, staff, TUESDAY, status="cancelled")
    rows.booking(s.room_a, staff, TUESDAY + timedelta(hours=3), status="rejected")
    rows.booking(s.room_a, s.user("a_manager"), TUESDAY)  # someone else's
    appt = rows.appointment(rows.slot(s.barber, TUESDAY + timedelta(hours=5)), staff)
    cal = parse(ical.feed_ics(staff, now=MONDAY))
    got = events(cal)
    assert set(got) == {
        f"booking-{recent.pk}@dayuan",
        f"booking-{upcoming.pk}@dayuan",
        f"booking-{cancelled.pk}@dayuan",
        f"appointment-{appt.pk}@dayuan",
    }
    assert str(got[f"booking-{cancelled.pk}@dayuan"]["STATUS"]) == "CANCELLED"
    barber = got[f"appointment-{appt.pk}@dayuan"]
    assert str(barber["SUMMARY"]) == s.barber.name
    assert barber.decoded("DTEND") - barber.decoded("DTSTART") == timedelta(minutes=30)
    assert "a_staff" in str(cal["X-WR-CALNAME"])


def test_feed_of_nobody_is_an_empty_valid_calendar(s):
    cal = parse(ical.feed_ics(s.user("b_staff"), now=MONDAY))
    assert cal.walk("VEVENT") == []
    assert str(cal["VERSION"]) == "2.0"


def test_feed_token_and_rotation(s):
    staff = s.user("a_staff")
    feed = ical.feed_for(staff)
    assert ical.feed_for(staff).token == feed.token  # stable until rotated
    assert ical.user_for_feed(feed.token) == staff
    new = ical.rotate_feed(staff)
    assert new.token != feed.token
    assert ical.user_for_feed(feed.token) is None
    assert ical.user_for_feed(new.token) == staff
    assert ical.user_for_feed("") is None
    staff.is_active = False
    staff.save()
    assert ical.user_for_feed(new.token) is None
