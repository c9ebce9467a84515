"""Rows written straight through the ORM for the read-side tests (queries, API reads,
scope, query counts): no service involved, so these tests pin the readers alone."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from dayuan.core.tree import encode
from dayuan.orgs.choices import LocationKind
from dayuan.orgs.models import Location

from ..choices import ACTIVE_BOOKING
from ..models import Appointment, AppointmentService, Booking, Room, Slot

_numbers = itertools.count(1)


def booking(
    room: Room,
    booker: Any,
    start: datetime,
    minutes: int = 60,
    *,
    status: str = "confirmed",
    title: str = "周例会",
    organizer_unit: Any = None,
    save: bool = True,
    **kw: Any,
) -> Booking:
    n = next(_numbers)
    b = Booking(
        org_id=room.org_id,
        room=room,
        number=f"HY-T-{n:06d}",
        booker=booker,
        organizer_unit=organizer_unit or booker.home_org,
        title=title,
        attendees=kw.pop("attendees", 5),
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        status=status,
        active=status in ACTIVE_BOOKING,
        requested_at=kw.pop("requested_at", start - timedelta(days=1)),
        ics_token=f"ics-{n}",
        **kw,
    )
    if save:
        b.save()
    return b


def rooms(org: Any, building: Location, count: int, **kw: Any) -> list[Room]:
    """``count`` rooms of ``org`` in ``building`` (one location each), bulk-created."""
    floor = Location.objects.filter(parent=building, kind=LocationKind.FLOOR).first()
    base = Location.objects.filter(parent=floor).count()
    locs = Location.objects.bulk_create(
        [
            Location(
                org=org, name=f"会议室{i}", kind=LocationKind.ROOM, parent=floor,
                path=f"{floor.path}{encode(base + i + 1)}.", depth=floor.path.count("."),
            )
            for i in range(count)
        ]
    )  # fmt: skip
    caps = (6, 10, 12, 20, 30, 50)
    equipment = ([], ["projector"], ["projector", "screen"], ["video", "whiteboard"])
    return Room.objects.bulk_create(
        [
            Room(
                org=org,
                location=loc,
                building=building,
                name=f"{building.name}-{i:04d}",
                capacity=kw.get("capacity", caps[i % len(caps)]),
                equipment=kw.get("equipment", equipment[i % len(equipment)]),
                checkin_token=f"tok-{org.pk}-{building.pk}-{base + i}",
                shared=kw.get("shared", False),
            )
            for i, loc in enumerate(locs)
        ]
    )


def slot(service: AppointmentService, start: datetime, *, seats: int = 3, taken: int = 0) -> Slot:
    end = start + timedelta(minutes=service.slot_minutes)
    return Slot.objects.create(
        service=service, start_at=start, end_at=end, seats=seats, taken=taken
    )


def appointment(slot: Slot, person: Any, *, status: str = "booked") -> Appointment:
    n = next(_numbers)
    return Appointment.objects.create(
        org_id=slot.service.org_id,
        service=slot.service,
        slot=slot,
        person=person,
        person_org=person.home_org,
        number=f"YY-T-{n:06d}",
        status=status,
    )
