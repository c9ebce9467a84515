"""The booking demo: a short history lived through the services with every status the
issue names, no double-booked room or overfull slot, useful demo logins, each county's
records kept to itself, and a second load that adds nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, F, Q

from dayuan.accounts.models import User
from dayuan.audit.models import AuditEntry
from dayuan.bookings import demo as bk_demo
from dayuan.bookings import queries
from dayuan.bookings.choices import AppointmentStatus, BookingStatus, ResourceClass
from dayuan.bookings.models import (
    Appointment,
    AppointmentService,
    Booking,
    BookingEvent,
    BookingSeries,
    MeetingService,
    Room,
    Slot,
)
from dayuan.orgs.models import Location, Organization
from dayuan.workorders.models import Responsibility, ServiceCategory, WorkOrder

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 9, 10, 30, tzinfo=SH)  # a Wednesday in a plain working week
WEEKS = 2
COUNTIES = ("dongcheng", "xihu", "nanshan")


def _load():
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in COUNTIES]
    return bk_demo.load_demo(admin, city, counties, weeks=WEEKS, now=NOW)


@pytest.fixture(scope="module")
def loaded(module_db):
    """The core demo world (small histories), then the booking demo at a fixed instant."""
    from dayuan.core import demo as core_demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bk_demo, "load_demo", lambda *args, **kwargs: {})
        core_demo.load_demo()
    return _load()


def test_the_history_has_every_status_and_scripted_case(loaded):
    assert "refusals" not in loaded, loaded.get("refusals")  # every request was a valid one
    statuses = Counter(Booking.objects.values_list("status", flat=True))
    assert set(statuses) == set(BookingStatus.values), statuses
    # Most meetings took place; about 8 % no-shows, released by the job.
    held = statuses[BookingStatus.COMPLETED] + statuses[BookingStatus.CHECKED_IN]
    assert held > statuses[BookingStatus.RELEASED] > 0
    assert statuses[BookingStatus.RELEASED] / (held + statuses[BookingStatus.RELEASED]) < 0.25
    assert not Booking.objects.filter(status=BookingStatus.COMPLETED, start_at__gt=NOW).exists()
    assert not Booking.objects.filter(status=BookingStatus.CHECKED_IN, end_at__lt=NOW).exists()
    # The halls need approval: one waiting in each centre, one turned down.
    pending = Booking.objects.filter(status=BookingStatus.PENDING)
    assert set(pending.values_list("room__resource_class", flat=True)) == {ResourceClass.LARGE_HALL}
    assert pending.values("org").distinct().count() == 4
    assert Booking.objects.filter(status=BookingStatus.REJECTED, decided_by__isnull=False)
    # Displaced once, by an urgent meeting, with the reason.
    displaced = Booking.objects.get(status=BookingStatus.DISPLACED)
    assert displaced.displaced_by.priority == "urgent" and displaced.displace_reason
    assert displaced.room.shared
    # The weekly 办公会 with the occurrence that was taken refused.
    series = BookingSeries.objects.get()
    assert series.conflicts and series.conflicts[0]["code"] == "room_taken"
    assert series.bookings.count() >= 2
    assert Booking.objects.filter(emergency=True, status=BookingStatus.COMPLETED).exists()
    # Upcoming meetings with services as work orders; the last days' cleaning orders done.
    ordered = MeetingService.objects.filter(booking__start_at__gt=NOW, workorder__isnull=False)
    assert {"tea", "av"} <= set(ordered.values_list("kind", flat=True))
    assert not ordered.filter(workorder__team__isnull=True).exists()  # dispatched
    cleaning = MeetingService.objects.filter(kind="cleaning", workorder__isnull=False)
    assert cleaning.filter(workorder__status="resolved").exists()
    # Real events and audit entries.
    assert BookingEvent.objects.filter(action="book").count() == Booking.objects.count()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"bookings.book", "bookings.check_in", "bookings.end", "bookings.book_slot"} <= actions
    appts = Counter(Appointment.objects.values_list("status", flat=True))
    assert set(appts) == set(AppointmentStatus.values), appts
    assert not Appointment.objects.filter(
        status=AppointmentStatus.DONE, slot__start_at__gt=NOW
    ).exists()


def test_the_setup_rooms_services_and_catalogue(loaded):
    meeting_locations = [
        loc for loc in Location.objects.filter(kind="room") if "会议室" in (loc.tags or [])
    ]
    assert Room.objects.count() == len(meeting_locations) > 40
    assert Room.objects.filter(resource_class=ResourceClass.LARGE_HALL, capacity=200).count() == 4
    assert not Room.objects.filter(
        resource_class=ResourceClass.LARGE_HALL, requires_approval=False
    ).exists()
    shared = Room.objects.get(shared=True)
    assert shared.resource_class == ResourceClass.SHARED_ROOM and shared.org.code == "city"
    others = Room.objects.exclude(resource_class=ResourceClass.LARGE_HALL)
    assert {r.capacity for r in others} <= set(range(8, 61))
    assert {ResourceClass.MEETING_ROOM, ResourceClass.STANDARD_ROOM} <= set(
        others.values_list("resource_class", flat=True)
    )
    assert all(r.equipment for r in others.filter(resource_class=ResourceClass.MEETING_ROOM))
    barbers = AppointmentService.objects.filter(code="barber")
    assert set(barbers.values_list("org__code", flat=True)) == {"city", "dongcheng"}
    for barber in barbers:
        assert (barber.seats_per_slot, barber.slot_minutes, barber.per_person_open_limit) == (
            3,
            30,
            1,
        )
        assert barber.providers.filter(is_active=True).count() == 3
    assert AppointmentService.objects.filter(code="car_wash").exists()
    parent = ServiceCategory.objects.get(code="meeting_support", org__code="city")
    cats = ServiceCategory.objects.filter(code__startswith="meeting.")
    assert cats.count() == 6 and not cats.exclude(parent=parent).exists()
    assert cats.get(code="meeting.av").sla_category == "meeting.setup"
    for code in ("city", *COUNTIES):
        rows = Responsibility.objects.filter(org__code=code, category__in=cats)
        assert rows.count() == 6 and rows.filter(team__vendor__isnull=False).count() == 6


def test_no_room_is_double_booked_and_no_slot_is_overfull(loaded):
    active = list(Booking.objects.filter(active=True).order_by("room_id", "start_at"))
    for a, b in pairwise(active):
        if a.room_id == b.room_id:
            assert a.end_at <= b.start_at, (a.number, b.number)
    assert not Slot.objects.filter(taken__gt=F("seats")).exists()
    held = Count("appointments", filter=~Q(appointments__status=AppointmentStatus.CANCELLED))
    for slot in Slot.objects.annotate(held=held).filter(Q(taken__gt=0) | Q(held__gt=0)):
        assert slot.taken == slot.held <= slot.seats
    # One open appointment per person and service at a time.
    open_ = Appointment.objects.filter(status=AppointmentStatus.BOOKED, slot__end_at__gt=NOW)
    per_person = open_.values("person", "service").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_person)


def test_office_hour_peaks_and_requests_inside_the_rules(loaded):
    starts = Counter(
        b.start_at.astimezone(SH).time() for b in Booking.objects.filter(series__isnull=True)
    )
    peak = sum(
        n
        for t, n in starts.items()
        if time(9) <= t <= time(11, 30) or time(14, 30) <= t <= time(17)
    )
    assert peak / sum(starts.values()) > 0.7
    for b in Booking.objects.filter(room__resource_class=ResourceClass.MEETING_ROOM):
        if b.emergency:
            continue
        local = b.requested_at.astimezone(SH).time()
        assert time(8) <= local < time(11, 30) or time(13) <= local < time(17), b.number
        assert (b.start_at - b.requested_at).total_seconds() >= 2 * 3600


def test_demo_logins_have_upcoming_bookings_and_an_appointment(loaded):
    from dayuan.core.demo import DEMO_LOGINS

    for username, role, _org in DEMO_LOGINS:
        if role in ("worker", "assessor"):
            continue
        user = User.objects.get(username=username)
        mine = queries.bookings(user).filter(booker=user, start_at__gt=NOW, active=True)
        assert mine.exists(), username
        assert queries.my_appointments(user, upcoming_only=True, now=NOW).exists(), username


def test_each_county_sees_only_its_own_bookings(loaded):
    orgs = {o.code: o for o in Organization.objects.filter(code__in=COUNTIES)}
    subtrees = {
        code: set(Organization.objects.filter(path__startswith=o.path).values_list("id", flat=True))
        for code, o in orgs.items()
    }
    for code in COUNTIES:
        manager = User.objects.get(username=f"{code}_manager")
        mine = subtrees[code]
        seen = list(queries.bookings(manager))
        assert seen
        assert all(b.org_id in mine or b.organizer_unit_id in mine for b in seen)
        rooms = queries.rooms(manager)
        assert all(r.org_id in mine or r.shared for r in rooms)
        assert set(queries.approvals(manager).values_list("org_id", flat=True)) <= mine
        for appt in queries.appointments(manager):
            assert appt.person_id == manager.pk or appt.org_id in mine
        for other in set(COUNTIES) - {code}:
            theirs = subtrees[other]
            assert not queries.bookings(manager).filter(org_id__in=theirs).exists()
            assert not queries.rooms(manager).filter(org_id__in=theirs).exists()
    city_manager = User.objects.get(username="city_manager")
    assert set(queries.bookings(city_manager).values_list("org__code", flat=True)) >= {
        "city",
        *COUNTIES,
    }


def test_a_second_load_adds_nothing(loaded):
    models = (Room, Booking, Appointment, Slot, AppointmentService, MeetingService, WorkOrder)

    def counts():
        return (
            [m.objects.count() for m in models],
            ServiceCategory.objects.count(),
            Responsibility.objects.count(),
            Location.objects.count(),
            AuditEntry.objects.filter(action__startswith="bookings.").count(),
        )

    before = counts()
    again = _load()
    assert again["rooms"] == 0 and again["responsibilities"] == 0
    assert "booked" not in again
    assert counts() == before
