"""Appointment services: slots on the working calendar (breaks, holidays, adjusted
working days), seats never exceeded, per-person limits, booking and cancellation
windows, providers, served and no-show, and another county's barber is invisible."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.notifications.models import Notification

from .. import appointments as appts
from ..choices import AppointmentStatus
from ..models import Appointment, Provider, Slot
from .factories import MONDAY, SHANGHAI, at, build

pytestmark = pytest.mark.django_db

A = AppointmentStatus
PEOPLE = ("a_staff", "a_manager", "a_dispatcher", "a_inspector")


@pytest.fixture
def setup(world):
    s = build(world)
    appts.generate_slots(s.barber, start=MONDAY.date(), days=8)
    return s


def slot_at(setup, *args: int) -> Slot:
    return Slot.objects.get(service=setup.barber, start_at=at(*args))


def book(setup, who: str, slot: Slot, now: datetime = MONDAY, **kw) -> Appointment:
    return appts.book_slot(actor=setup.user(who), slot_id=slot.pk, now=now, **kw)


def local_times(slots) -> list[str]:
    return [s.start_at.astimezone(SHANGHAI).strftime("%H:%M") for s in slots]


# --- generation --------------------------------------------------------------------------


def test_slots_follow_opening_hours_and_breaks(setup):
    day = list(Slot.objects.filter(service=setup.barber, start_at__date=date(2026, 12, 8)))
    assert local_times(day) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
        "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
    ]  # fmt: skip
    assert all(s.seats == 3 and s.taken == 0 and s.is_open for s in day)
    assert all(s.end_at - s.start_at == timedelta(minutes=30) for s in day)
    setup.barber.slot_minutes = 45
    got = [s.strftime("%H:%M") for s, _e in appts.day_slots(setup.barber, date(2026, 12, 8))]
    # 11:15–12:00 fits before the break; the next starts when it ends; 16:30 would overrun
    assert got == ["09:00", "09:45", "10:30", "11:15", "13:30", "14:15", "15:00", "15:45"]


def test_slots_only_on_working_days_with_holidays_and_adjusted_days(setup):
    # 2026-09-30 (Wed) … 2026-10-10: National Day 10-01..10-07 off, Sat 10-10 worked (调休)
    created = appts.generate_slots(setup.barber, start=date(2026, 9, 30), days=11)
    assert created == 4 * 13
    days = {
        s.astimezone(SHANGHAI).date()
        for s in Slot.objects.filter(start_at__lt=at(2026, 11, 1)).values_list(
            "start_at", flat=True
        )
    }
    assert days == {date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10)}
    assert appts.generate_slots(setup.barber, start=date(2026, 9, 30), days=11) == 0
    # every day when the service opens every day
    setup.barber.open_days = "all"
    setup.barber.save()
    assert appts.generate_slots(setup.barber, start=date(2026, 10, 1), days=2) == 2 * 13


def test_generate_all_is_idempotent_over_the_booking_window(world):
    s = build(world)
    # Mon 12-07 … Mon 12-14 (book_ahead_days 7): six working days
    assert appts.generate_all(now=MONDAY) == 6 * 13
    assert appts.generate_all(now=MONDAY) == 0
    assert Slot.objects.filter(service=s.barber).count() == 6 * 13
    from .. import tasks

    assert isinstance(tasks.generate_slots_nightly.call_local(), int)


# --- booking a seat ------------------------------------------------------------------------


def test_seats_are_never_exceeded_and_providers_are_assigned(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    got = [book(setup, who, slot) for who in PEOPLE[:3]]
    assert [a.provider.name for a in got] == ["张师傅", "李师傅", "王师傅"]
    assert all(a.status == A.BOOKED and a.number.startswith("YY-20261207-") for a in got)
    with pytest.raises(Conflict) as exc:
        book(setup, "a_inspector", slot)
    assert exc.value.code == "slot_full"
    slot.refresh_from_db()
    assert slot.taken == 3
    # a cancelled seat is free again, and its provider serves the next person
    appts.cancel_appointment(actor=setup.user("a_manager"), appointment_id=got[1].pk, now=MONDAY)
    slot.refresh_from_db()
    assert slot.taken == 2
    late = book(setup, "a_inspector", slot)
    assert late.provider.name == "李师傅"
    assert Appointment.objects.filter(slot=slot, status=A.BOOKED).count() == 3


def test_no_providers_means_no_provider(setup):
    Provider.objects.filter(service=setup.barber).update(is_active=False)
    a = book(setup, "a_staff", slot_at(setup, 2026, 12, 8, 10, 0))
    assert a.provider is None


def test_per_person_open_limit(setup):
    first = book(setup, "a_staff", slot_at(setup, 2026, 12, 8, 10, 0))
    with pytest.raises(Conflict) as exc:
        book(setup, "a_staff", slot_at(setup, 2026, 12, 8, 10, 0))
    assert exc.value.code == "already_booked"
    with pytest.raises(Conflict) as exc:
        book(setup, "a_staff", slot_at(setup, 2026, 12, 9, 10, 0))
    assert exc.value.code == "per_person_limit"
    assert exc.value.details["limit"] == 1
    # once that slot has ended it is no longer open
    book(setup, "a_staff", slot_at(setup, 2026, 12, 8, 15, 0), now=at(2026, 12, 8, 10, 30))
    # a limit of two lets a second open one through
    setup.barber.per_person_open_limit = 2
    setup.barber.save()
    book(setup, "a_staff", slot_at(setup, 2026, 12, 9, 10, 0), now=at(2026, 12, 8, 10, 30))
    assert Appointment.objects.filter(person=setup.user("a_staff")).count() == 3
    assert first.status == A.BOOKED


def test_lead_and_advance_windows(setup):
    ok = book(setup, "a_staff", slot_at(setup, 2026, 12, 7, 9, 30))  # exactly 30 min ahead
    assert ok.status == A.BOOKED
    for args, now, code in (
        ((2026, 12, 7, 9, 0), MONDAY, "too_late_to_book"),  # started
        ((2026, 12, 7, 10, 0), at(2026, 12, 7, 9, 31), "too_late_to_book"),  # 29 min ahead
    ):
        with pytest.raises(Conflict) as exc:
            book(setup, "a_manager", slot_at(setup, *args), now=now)
        assert exc.value.code == code
    # the last bookable day is 7 days ahead (Mon 12-14); Tue 12-15 is too early
    book(setup, "a_manager", slot_at(setup, 2026, 12, 14, 16, 30))
    appts.generate_slots(setup.barber, start=date(2026, 12, 15), days=1)
    with pytest.raises(Conflict) as exc:
        book(setup, "a_dispatcher", slot_at(setup, 2026, 12, 15, 9, 0))
    assert exc.value.code == "too_early_to_book"
    assert exc.value.details["book_ahead_days"] == 7
    earliest, latest = appts.booking_window(setup.barber, MONDAY)
    assert earliest == at(2026, 12, 7, 9, 30) and latest == at(2026, 12, 15, 0, 0)


def test_cancellation_window(setup):
    slot = slot_at(setup, 2026, 12, 8, 14, 0)
    mine = book(setup, "a_staff", slot)
    with pytest.raises(Conflict) as exc:  # 59 minutes before: too late for the person
        appts.cancel_appointment(
            actor=setup.user("a_staff"), appointment_id=mine.pk, now=at(2026, 12, 8, 13, 1)
        )
    assert exc.value.code == "cancel_window_closed"
    with pytest.raises(PermissionDenied):  # staff of the service do not cancel
        appts.cancel_appointment(
            actor=setup.user("a_dispatcher"), appointment_id=mine.pk, now=MONDAY
        )
    with pytest.raises(NotFound):  # neither the person nor anyone over county A
        appts.cancel_appointment(actor=setup.user("b_manager"), appointment_id=mine.pk, now=MONDAY)
    done = appts.cancel_appointment(
        actor=setup.user("a_staff"), appointment_id=mine.pk, now=at(2026, 12, 8, 13, 0)
    )
    assert done.status == A.CANCELLED and done.cancelled_at == at(2026, 12, 8, 13, 0)
    slot.refresh_from_db()
    assert slot.taken == 0
    with pytest.raises(Conflict) as exc:
        appts.cancel_appointment(actor=setup.user("a_staff"), appointment_id=mine.pk)
    assert exc.value.code == "illegal_transition"
    # a manager may cancel inside the window, never after the start
    other = book(setup, "a_inspector", slot)
    with pytest.raises(Conflict) as exc:
        appts.cancel_appointment(
            actor=setup.user("a_manager"), appointment_id=other.pk, now=at(2026, 12, 8, 14, 0)
        )
    assert exc.value.code == "already_started"
    appts.cancel_appointment(
        actor=setup.user("a_manager"), appointment_id=other.pk, now=at(2026, 12, 8, 13, 50)
    )
    # the person hears that a manager cancelled their appointment
    assert Notification.objects.filter(
        recipient=setup.user("a_inspector"), event__type="bookings.appointment_cancelled"
    ).exists()


def test_served_and_no_show(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    one, two = book(setup, "a_staff", slot), book(setup, "a_manager", slot)
    dispatcher = setup.user("a_dispatcher")  # bookings.serve over county A
    with pytest.raises(Conflict) as exc:
        appts.mark_no_show(actor=dispatcher, appointment_id=one.pk, now=at(2026, 12, 8, 9, 59))
    assert exc.value.code == "not_started"
    with pytest.raises(PermissionDenied):  # the person does not serve themselves
        appts.mark_served(actor=setup.user("a_staff"), appointment_id=one.pk, now=slot.start_at)
    with pytest.raises(NotFound):
        appts.mark_served(actor=setup.user("b_dispatcher"), appointment_id=one.pk)
    served = appts.mark_served(actor=dispatcher, appointment_id=one.pk, now=slot.start_at)
    assert served.status == A.DONE and served.served_at == slot.start_at
    missed = appts.mark_no_show(
        actor=dispatcher, appointment_id=two.pk, now=slot.start_at + timedelta(minutes=10)
    )
    assert missed.status == A.NO_SHOW
    with pytest.raises(Conflict) as exc:
        appts.mark_served(actor=dispatcher, appointment_id=two.pk, now=slot.end_at)
    assert exc.value.code == "illegal_transition"
    # both ended: neither counts against the limit any more
    assert book(setup, "a_staff", slot_at(setup, 2026, 12, 9, 10, 0), now=slot.end_at)


def test_client_key_returns_the_same_appointment(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    first = book(setup, "a_staff", slot, client_key="k-1", note="剪短")
    again = book(setup, "a_staff", slot, client_key="k-1")
    assert again.pk == first.pk and again.note == "剪短"
    slot.refresh_from_db()
    assert slot.taken == 1
    with pytest.raises(Conflict) as exc:
        book(setup, "a_manager", slot, client_key="k-1")
    assert exc.value.code == "client_key_taken"


def test_refusals_write_nothing_but_the_refusal(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    book(setup, "a_staff", slot)
    with pytest.raises(Conflict):
        book(setup, "a_staff", slot_at(setup, 2026, 12, 9, 10, 0))
    assert Appointment.objects.count() == 1
    assert slot_at(setup, 2026, 12, 9, 10, 0).taken == 0
    refused = AuditEntry.objects.filter(action="bookings.book_slot", outcome="refused")
    assert refused.count() == 1 and "per_person_limit" in refused.get().reason


# --- scope -----------------------------------------------------------------------------------


def test_another_county_cannot_see_or_book_unless_shared(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    with pytest.raises(NotFound):
        book(setup, "b_staff", slot)
    with pytest.raises(NotFound):
        appts.close_slot(actor=setup.user("b_manager"), slot_id=slot.pk, closed=True)
    setup.barber.shared = True
    setup.barber.save()
    theirs = book(setup, "b_staff", slot)
    assert theirs.org == setup.world.county_a and theirs.person_org == setup.world.county_b
    # the booker from county B is told; county A's managers see it, county B's do not
    assert Notification.objects.filter(recipient=setup.user("b_staff")).exists()
    with pytest.raises(NotFound):
        appts.mark_no_show(actor=setup.user("b_manager"), appointment_id=theirs.pk)
    with pytest.raises(PermissionDenied):  # shared to book, not to manage
        appts.close_slot(actor=setup.user("b_manager"), slot_id=slot.pk, closed=True)


def test_close_slot(setup):
    slot = slot_at(setup, 2026, 12, 8, 10, 0)
    kept = book(setup, "a_staff", slot)
    with pytest.raises(PermissionDenied):
        appts.close_slot(actor=setup.user("a_staff"), slot_id=slot.pk, closed=True)
    closed = appts.close_slot(actor=setup.user("a_manager"), slot_id=slot.pk, closed=True)
    assert not closed.is_open
    with pytest.raises(Conflict) as exc:
        book(setup, "a_manager", slot)
    assert exc.value.code == "slot_closed"
    kept.refresh_from_db()
    assert kept.status == A.BOOKED  # booked seats stay
    appts.close_slot(actor=setup.user("a_manager"), slot_id=slot.pk, closed=False)
    assert book(setup, "a_manager", slot).status == A.BOOKED
    entry = AuditEntry.objects.filter(action="bookings.close_slot").first()
    assert entry.org_id == setup.world.county_a.pk


# --- configuring a service ---------------------------------------------------------------


def service_fields(setup, **kw):
    return {
        "org_id": setup.world.county_a.pk,
        "location_id": setup.room_a.location_id,
        "code": "car_wash",
        "name": "洗车",
        "slot_minutes": 60,
        "seats_per_slot": 2,
        "opens_at": "09:00",
        "closes_at": "12:00",
        "book_ahead_days": 2,
        "providers": ["赵师傅", "钱师傅"],
        **kw,
    }


def test_save_service_generates_slots_and_follows_edits(setup):
    manager = setup.user("a_manager")
    svc = appts.save_service(actor=manager, now=MONDAY, **service_fields(setup))
    assert [p.name for p in svc.providers.all()] == ["赵师傅", "钱师傅"]
    # Mon, Tue, Wed × 09:00, 10:00, 11:00
    assert Slot.objects.filter(service=svc).count() == 9
    slot = Slot.objects.filter(service=svc, start_at=at(2026, 12, 8, 11, 0)).get()
    appts.book_slot(actor=setup.user("a_staff"), slot_id=slot.pk, now=MONDAY)
    svc = appts.save_service(
        actor=manager,
        service_id=svc.pk,
        version=svc.version,
        now=MONDAY,
        **service_fields(setup, closes_at="11:00", seats_per_slot=4, providers=["钱师傅"]),
    )
    starts = set(Slot.objects.filter(service=svc).values_list("start_at", flat=True))
    assert at(2026, 12, 9, 11, 0) not in starts  # nobody booked it: gone with the hours
    assert at(2026, 12, 8, 11, 0) in starts  # booked: kept
    future = Slot.objects.filter(service=svc, start_at__gt=MONDAY)
    assert set(future.values_list("seats", flat=True)) == {4}
    assert list(svc.providers.filter(is_active=True).values_list("name", flat=True)) == ["钱师傅"]
    assert svc.providers.get(name="赵师傅").is_active is False
    with pytest.raises(StaleVersion):
        appts.save_service(
            actor=manager, service_id=svc.pk, version=1, now=MONDAY, **service_fields(setup)
        )


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"code": "barber"}, "code_taken"),
        ({"code": "洗 车"}, "invalid_code"),
        ({"slot_minutes": 2}, "out_of_range"),
        ({"seats_per_slot": 0}, "out_of_range"),
        ({"opens_at": "9点"}, "invalid_time"),
        ({"closes_at": "09:30"}, "invalid_hours"),
        ({"breaks": [{"start": "11:30", "end": "13:00"}]}, "invalid_breaks"),
        ({"open_days": "weekends"}, "invalid_open_days"),
        ({"book_ahead_days": 400}, "out_of_range"),
        ({"providers": ["x" * 51]}, "too_long"),
    ],
)
def test_save_service_refuses_bad_input(setup, fields, code):
    with pytest.raises((InvalidInput, Conflict)) as exc:
        appts.save_service(
            actor=setup.user("a_manager"), now=MONDAY, **service_fields(setup, **fields)
        )
    assert exc.value.code == code


def test_save_service_permissions_and_location(setup):
    with pytest.raises(NotFound):
        appts.save_service(actor=setup.user("b_manager"), now=MONDAY, **service_fields(setup))
    with pytest.raises(PermissionDenied):
        appts.save_service(actor=setup.user("a_staff"), now=MONDAY, **service_fields(setup))
    with pytest.raises(InvalidInput) as exc:
        appts.save_service(
            actor=setup.user("a_manager"),
            now=MONDAY,
            **service_fields(setup, location_id=setup.room_b.location_id),
        )
    assert exc.value.code == "invalid_location"


def test_break_aligned_generation_uses_local_time(setup):
    # Slots are stored as instants; their local wall time is what the service says.
    first = Slot.objects.filter(service=setup.barber).order_by("start_at").first()
    assert first.start_at.astimezone(SHANGHAI).time() == time(9, 0)
