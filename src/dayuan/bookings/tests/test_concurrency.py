"""Real threads against a real database: 200 people trying for one room and time range
leave exactly one booking; 200 people trying for a 3-seat slot leave exactly three
appointments. Everyone else gets a clean refusal (room_taken, slot_full), never an
error; each race is run three times.

SQLite: every thread opens its own connection to the file database and the IMMEDIATE
transactions queue on the write lock (the busy timeout is raised for the race, since
200 writers may wait longer than one request would). PostgreSQL: the server accepts
about 100 connections, so the threads share a pool of ``PG_POOL`` connections, as an
application's pool would; all 200 attempts still race.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from dayuan.accounts.models import User
from dayuan.core.tests import races

from .. import appointments, services
from ..models import Appointment, AppointmentService, Booking, Slot
from .factories import MONDAY, at, build

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

N = 200
ROUNDS = 3
PG_POOL = 30
LOCK_WAIT_MS = 120_000


def _people(org, n: int = N) -> list[User]:
    return races.people(org, n, "p")


def _race(calls) -> tuple[list[object], list[BaseException]]:
    return races.race(
        calls, pg_pool=PG_POOL, lock_wait_ms=LOCK_WAIT_MS, start_timeout=30, join_timeout=120
    )


_clean = races.assert_only_refused


def test_200_attempts_on_one_room_make_exactly_one_booking(world):
    s = build(world)
    people = _people(world.county_a)
    started = time.monotonic()
    for r in range(ROUNDS):
        start = at(2026, 12, 7, 14 + r)
        calls = [
            lambda p=p, start=start: services.book_room(
                actor=p,
                room_id=s.room_a.pk,
                start_at=start,
                end_at=start + timedelta(minutes=45),
                title=f"{p.username} 的会议",
                attendees=8,
                contact_phone="13800000000",
                now=MONDAY,
            )
            for p in people
        ]
        results, errors = _race(calls)
        assert len(results) == 1, (len(results), errors[:3])
        assert len(errors) == N - 1
        _clean(errors, "room_taken")
        (won,) = results
        held = Booking.objects.filter(room=s.room_a, active=True, start_at=start)
        assert list(held.values_list("pk", flat=True)) == [won.pk]
    assert Booking.objects.count() == ROUNDS
    assert len(set(Booking.objects.values_list("number", flat=True))) == ROUNDS
    elapsed = time.monotonic() - started
    assert elapsed < 90, elapsed


def test_200_attempts_on_a_three_seat_slot_make_exactly_three(world):
    s = build(world)
    # Each person may hold an appointment per round; the race is for the seats.
    AppointmentService.objects.filter(pk=s.barber.pk).update(per_person_open_limit=ROUNDS)
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=1)
    people = _people(world.county_a)
    for r in range(ROUNDS):
        slot = Slot.objects.get(
            service=s.barber, start_at=at(2026, 12, 7, 10) + r * timedelta(minutes=30)
        )
        assert slot.seats == 3 and slot.taken == 0
        calls = [
            lambda p=p, slot=slot: appointments.book_slot(actor=p, slot_id=slot.pk, now=MONDAY)
            for p in people
        ]
        results, errors = _race(calls)
        assert len(results) == 3, (len(results), errors[:3])
        assert len(errors) == N - 3
        _clean(errors, "slot_full")
        slot.refresh_from_db()
        assert slot.taken == 3
        booked = Appointment.objects.filter(slot=slot, status="booked")
        assert booked.count() == 3
        assert len({a.person_id for a in booked}) == 3
        assert len({a.provider_id for a in booked}) == 3  # one barber per seat
    assert Appointment.objects.count() == 3 * ROUNDS
