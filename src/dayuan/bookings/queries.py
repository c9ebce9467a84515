"""Scoped reads of rooms, bookings, appointment services, slots and appointments.

Who sees what (one condition per model, used by every list, page, export and API):

- a **room** is visible while active when its org is under one of the user's grants
  (``bookings.book``, every role) or it is ``shared`` with the whole city; managers see
  their own rooms also when inactive (``managed_rooms``);
- a **booking** is visible to its booker, and to holders of ``bookings.view_all`` over the
  room's org or over the organising unit. Everyone else who sees the room only learns
  that the time is busy (``day_view``, ``week_view``: no title, no booker);
- an **appointment service** is visible when its org is in scope or it is ``shared``;
  an **appointment** to its person and to ``bookings.view_all``/``bookings.serve`` over
  the service's org.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns, and every function here runs a fixed number of
queries whatever the volume.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import ExtractHour, Greatest, Least
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.core.models import PATH_STEP
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import grants_of, scoped, scoped_org_ids
from dayuan.core.tree import subtree_ids
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from .choices import (
    ACTIVE_BOOKING,
    AppointmentStatus,
    BookingStatus,
    OpenDays,
)
from .models import (
    Appointment,
    AppointmentService,
    Booking,
    BookingEvent,
    BookingSeries,
    MeetingCheck,
    MeetingService,
    Room,
    Slot,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOM_RELATED = ("org", "location", "building")
BOOKING_RELATED = ("org", "room", "room__building", "booker", "organizer_unit", "series")
APPOINTMENT_RELATED = ("org", "service", "slot", "person", "person_org", "provider")
# Statuses that occupied the room in the past (day views, stats): the active ones and
# the meetings that took place.
OCCUPYING = (*ACTIVE_BOOKING, BookingStatus.COMPLETED)
# Statuses whose minutes count as used in the utilisation figure.
USED = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED)
MAX_FREE_LIMIT = 100
COUNTED = (
    "rooms", "open_minutes", "booked_minutes", "bookings", "released", "attended", "cancelled"
)  # fmt: skip


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _org_ids(user: Any, action: str) -> list[int]:
    return scoped_org_ids(user, ACTIONS[action]) if _active(user) else []


_HOME_ATTR = "_dayuan_booking_home_ids"


def home_org_ids(user: Any) -> list[int]:
    """The orgs between each of the user's grants and its nearest centre, both included.

    A department's staff book their centre's rooms and barber: the rooms belong to the
    centre (the 机关服务中心 runs them), which is above the department's grant, not under
    it. Sub-centres stop the walk, so a county's staff do not reach the city's rooms
    (those the city shares are ``shared``). One small query, cached on the user object.
    """
    if not _active(user):
        return []
    cached = getattr(user, _HOME_ATTR, None)
    if cached is not None:
        return cached
    grant_paths = {g.org.path for g in grants_of(user)}
    prefixes = {p[:i] for p in grant_paths for i in range(PATH_STEP + 1, len(p) + 1, PATH_STEP + 1)}
    nodes = {
        path: (pk, kind)
        for pk, kind, path in Organization.objects.filter(path__in=prefixes).values_list(
            "pk", "kind", "path"
        )
    }
    ids: set[int] = set()
    centres = set(OrgKind.centres())
    for path in grant_paths:
        cut = len(path)
        while cut > 0:
            node = nodes.get(path[:cut])
            if node is not None:
                ids.add(node[0])
                if node[1] in centres:
                    break
            cut -= PATH_STEP + 1
    result = sorted(ids)
    setattr(user, _HOME_ATTR, result)
    return result


def book_org_ids(user: Any) -> list[int]:
    """Orgs whose rooms and services ``user`` may book: every org in their
    ``bookings.book`` scope, and the way up from each grant to its centre."""
    return sorted(set(_org_ids(user, "bookings.book")) | set(home_org_ids(user)))


def overseen_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` sees every booking and appointment (``bookings.view_all``)."""
    return _org_ids(user, "bookings.view_all")


def managed_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "bookings.manage")


def approver_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "bookings.approve")


def server_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "bookings.serve")


def _in_subtree(qs: QuerySet, field_name: str, model: Any, pk: int) -> QuerySet:
    ids = subtree_ids(model, pk)
    return qs.none() if ids is None else qs.filter(**{f"{field_name}__in": ids})


def _short_org_name(name: str) -> str:
    """东城区机关服务中心 → 东城区: chart labels name the place, not the institution."""
    for suffix in ("机关服务中心", "机关事务管理局", "服务中心"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _local_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- visibility ------------------------------------------------------------------------


def room_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(shared=True)
    if ids := book_org_ids(user):
        cond |= Q(org_id__in=ids)
    return Q(is_active=True) & cond


def booking_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(booker=user)
    if ids := overseen_org_ids(user):
        cond |= Q(org_id__in=ids) | Q(organizer_unit_id__in=ids)
    return cond


def service_visibility(user: Any) -> Q:
    """Appointment services are seen as rooms are: active, and shared or the user's."""
    return room_visibility(user)


def appointment_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(person=user)
    if ids := sorted(set(overseen_org_ids(user)) | set(server_org_ids(user))):
        cond |= Q(org_id__in=ids)
    return cond


class BookingSeer:
    """Decides on loaded bookings whether ``user`` may see their details (title,
    booker), with the org ids resolved once: a day view asks it per block."""

    def __init__(self, user: Any) -> None:
        self.user_id = user.pk if _active(user) else None
        self.orgs = set(overseen_org_ids(user)) if self.user_id else set()

    def sees(self, booking: Any) -> bool:
        if self.user_id is None:
            return False
        return (
            booking.booker_id == self.user_id
            or booking.org_id in self.orgs
            or booking.organizer_unit_id in self.orgs
        )


def orgs(user: Any, action: str) -> QuerySet[Organization]:
    """The active organisations where ``user`` holds ``action`` (the pickers: 主办单位,
    a room's or a service's org, the statistics filter), by tree order."""
    if not _active(user):
        return Organization.objects.none()
    qs = scoped(user, Organization.objects.filter(is_active=True), roles=ACTIONS[action])
    return qs.order_by("path")


# --- rooms -----------------------------------------------------------------------------


def rooms(
    user: Any,
    *,
    building_id: int | None = None,
    org_id: int | None = None,
    resource_class: str | None = None,
    min_capacity: int | None = None,
    q: str | None = None,
) -> QuerySet[Room]:
    """Visible active rooms, by building and name."""
    qs = Room.objects.filter(room_visibility(user))
    if building_id is not None:
        qs = qs.filter(building_id=building_id)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if resource_class:
        qs = qs.filter(resource_class__in=resource_class.split(","))
    if min_capacity:
        qs = qs.filter(capacity__gte=min_capacity)
    if q:
        qs = qs.filter(name__icontains=q.strip())
    return qs.select_related(*ROOM_RELATED).order_by("building_id", "name", "id")


def room(user: Any, pk: int) -> Room:
    """A visible room, or NotFound (never a 403)."""
    return _one(Room.objects.filter(room_visibility(user)).select_related(*ROOM_RELATED), pk)


def managed_rooms(user: Any) -> QuerySet[Room]:
    """The rooms of the orgs ``user`` manages (``bookings.manage``), inactive ones too."""
    qs = Room.objects.filter(org_id__in=managed_org_ids(user))
    return qs.select_related(*ROOM_RELATED).order_by("org_id", "name", "id")


def managed_room(user: Any, pk: int) -> Room:
    return _one(managed_rooms(user), pk)


def room_with_photo(user: Any, pk: int) -> Room:
    """A room whose photo ``user`` may see: a visible room, or one of the rooms they
    manage (inactive ones too); NotFound otherwise or when it has no photo."""
    cond = room_visibility(user)
    if ids := managed_org_ids(user):
        cond |= Q(org_id__in=ids)
    found = Room.objects.filter(cond).only("pk", "photo", "photo_thumb").filter(pk=pk).first()
    if found is None or not found.photo:
        raise NotFound()
    return found


def room_by_token(token: str) -> Room:
    """The room behind a check-in QR code (the token is the secret), or NotFound."""
    found = Room.objects.select_related(*ROOM_RELATED).filter(checkin_token=token).first()
    if found is None or not token:
        raise NotFound()
    return found


# --- bookings --------------------------------------------------------------------------


def bookings(user: Any) -> QuerySet[Booking]:
    return Booking.objects.filter(booking_visibility(user))


def booking_list(
    user: Any,
    *,
    status: str | None = None,
    room_id: int | None = None,
    building_id: int | None = None,
    org_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    mine: bool = False,
    upcoming: bool = False,
    now: datetime | None = None,
) -> QuerySet[Booking]:
    """Visible bookings, the latest start first (``upcoming``: the nearest first)."""
    qs = bookings(user)
    if mine:
        qs = qs.filter(booker=user)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if room_id is not None:
        qs = qs.filter(room_id=room_id)
    if building_id is not None:
        qs = qs.filter(room__building_id=building_id)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if since is not None:
        qs = qs.filter(end_at__gt=_local_day(since)[0])
    if until is not None:
        qs = qs.filter(start_at__lt=_local_day(until)[1])
    qs = qs.select_related(*BOOKING_RELATED)
    if upcoming:
        return qs.filter(end_at__gt=now or timezone.now()).order_by("start_at", "id")
    return qs.order_by("-start_at", "-id")


def booking(user: Any, pk: int) -> Booking:
    """A visible booking, or NotFound."""
    return _one(bookings(user).select_related(*BOOKING_RELATED), pk)


def booking_events(b: Booking) -> list[BookingEvent]:
    return list(b.events.select_related("actor").order_by("at", "id"))


def booking_services(b: Booking) -> list[MeetingService]:
    """The meeting services of a (visible) booking with their work orders and the
    orders' clocks, soonest due first (``workorder.timers.all()``)."""
    from dayuan.workorders.models import WorkOrderTimer

    timers = Prefetch("workorder__timers", queryset=WorkOrderTimer.objects.order_by("due_at", "id"))
    return list(b.services.select_related("workorder").prefetch_related(timers).order_by("id"))


def booking_checks(b: Booking) -> list[MeetingCheck]:
    return list(b.checks.select_related("inspection").order_by("id"))


def series(user: Any, pk: int) -> BookingSeries:
    """A recurring booking of ``user``'s own (its booker), or NotFound."""
    if not _active(user):
        raise NotFound()
    return _one(BookingSeries.objects.filter(booker=user).select_related("room", "org"), pk)


def series_bookings(user: Any, series_id: int) -> QuerySet[Booking]:
    """The visible occurrences of a series, in time order."""
    return bookings(user).filter(series_id=series_id).select_related("room").order_by("start_at")


def approvals(user: Any) -> QuerySet[Booking]:
    """Pending bookings of the rooms ``user`` approves, the soonest first."""
    qs = Booking.objects.filter(
        status=BookingStatus.PENDING, org_id__in=approver_org_ids(user)
    ).select_related(*BOOKING_RELATED)
    return qs.order_by("start_at", "id")


def booking_actions(user: Any, b: Booking, now: datetime | None = None) -> list[str]:
    """What ``user`` may do next with a visible booking (buttons; the services decide)."""
    from dayuan.core.policy import can

    now = now or timezone.now()
    mine = _active(user) and b.booker_id == user.pk
    manages = can(user, "bookings.manage", b.org)
    out = []
    if b.status == BookingStatus.PENDING and can(user, "bookings.approve", b.org):
        out += ["approve", "reject"]
    upcoming = b.status in (BookingStatus.PENDING, BookingStatus.CONFIRMED) and b.start_at > now
    if upcoming and (mine or manages):
        out += ["cancel", "services"]
    if b.status == BookingStatus.CONFIRMED and mine:
        opens = b.start_at - timedelta(minutes=15)
        closes = b.start_at + timedelta(minutes=b.room.checkin_grace_minutes)
        if opens <= now <= closes:
            out.append("check_in")
    started = b.status == BookingStatus.CHECKED_IN or (
        b.status == BookingStatus.CONFIRMED and b.start_at <= now
    )
    if started and (mine or manages):
        out.append("end")
    return out


# --- free rooms, day and week views ----------------------------------------------------


def _open_rooms(qs: QuerySet[Room], start: datetime, end: datetime, table: Any) -> QuerySet[Room]:
    """The rooms of ``qs`` open for the whole of [start, end): one local day, inside the
    opening hours, on an open day (workday rooms only on working days)."""
    a, b = timezone.localtime(start, SHANGHAI), timezone.localtime(end, SHANGHAI)
    if b.date() != a.date():
        return qs.none()
    qs = qs.filter(opens_at__lte=a.time(), closes_at__gte=b.time())
    if not table.is_workday(a.date()):
        qs = qs.filter(open_days=OpenDays.ALL)
    return qs


def busy(start: datetime, end: datetime) -> Exists:
    """An active booking of the outer room overlapping [start, end) (the partial index
    ``booking_room_active_time``)."""
    return Exists(
        Booking.objects.filter(
            room_id=OuterRef("pk"), active=True, start_at__lt=end, end_at__gt=start
        )
    )


def free_rooms(
    user: Any,
    start: datetime,
    end: datetime,
    *,
    attendees: int = 0,
    equipment: Sequence[str] = (),
    building_id: int | None = None,
    resource_class: str | None = None,
    limit: int = 20,
) -> list[Room]:
    """Rooms ``user`` may book that are free and open for [start, end), seat
    ``attendees`` and have every piece of ``equipment``: the smallest adequate room
    first, then by name. Three queries (grants, org ids, rooms) plus the calendar."""
    from dayuan.workcalendar.calendar import current_table

    if end <= start or limit <= 0:
        return []
    qs = Room.objects.filter(room_visibility(user))
    if attendees:
        qs = qs.filter(capacity__gte=attendees)
    if building_id is not None:
        qs = qs.filter(building_id=building_id)
    if resource_class:
        qs = qs.filter(resource_class__in=resource_class.split(","))
    qs = _open_rooms(qs, start, end, current_table())
    wanted = set(equipment)
    if wanted and connection.vendor == "postgresql":
        qs = qs.filter(equipment__contains=sorted(wanted))  # jsonb @>, SQLite lacks it
    qs = qs.filter(~busy(start, end)).select_related(*ROOM_RELATED)
    out = []
    for r in qs.order_by("capacity", "name", "id").iterator(chunk_size=100):
        if wanted <= set(r.equipment or ()):
            out.append(r)
            if len(out) >= min(limit, MAX_FREE_LIMIT):
                break
    return out


@dataclass
class Block:
    """A busy block of a room: the details only when the viewer may see the booking."""

    start: datetime
    end: datetime
    status: str
    visible: bool
    mine: bool
    booking_id: int | None = None
    number: str | None = None
    title: str | None = None
    booker_name: str | None = None
    organizer_unit_name: str | None = None
    attendees: int | None = None


@dataclass
class RoomDay:
    room: Room
    day: date
    open: bool  # an open day for the room
    opens_at: datetime | None
    closes_at: datetime | None
    blocks: list[Block] = field(default_factory=list)


def _block(b: Booking, seer: BookingSeer) -> Block:
    visible = seer.sees(b)
    block = Block(
        start=b.start_at,
        end=b.end_at,
        status=b.status,
        visible=visible,
        mine=b.booker_id == seer.user_id,
    )
    if visible:
        block.booking_id = b.pk
        block.number = b.number
        block.title = b.title
        block.booker_name = b.booker.display_name or b.booker.username
        block.organizer_unit_name = b.organizer_unit.name
        block.attendees = b.attendees
    return block


def _room_day(r: Room, day: date, table: Any) -> RoomDay:
    is_open = r.open_days == OpenDays.ALL or table.is_workday(day)
    opens = datetime.combine(day, r.opens_at, tzinfo=SHANGHAI) if is_open else None
    closes = datetime.combine(day, r.closes_at, tzinfo=SHANGHAI) if is_open else None
    return RoomDay(room=r, day=day, open=is_open, opens_at=opens, closes_at=closes)


def _occupying(room_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet[Booking]:
    return (
        Booking.objects.filter(
            room_id__in=list(room_ids), status__in=OCCUPYING, start_at__lt=end, end_at__gt=start
        )
        .select_related("booker", "organizer_unit")
        .order_by("start_at", "id")
    )


def day_view(user: Any, *, day: date, building_id: int | None = None) -> list[RoomDay]:
    """Every visible room (of ``building_id``) with its busy blocks on ``day``: titles
    only of the bookings ``user`` may see, "busy" for the rest. Fixed query count."""
    from dayuan.workcalendar.calendar import current_table

    table = current_table()
    qs = rooms(user, building_id=building_id)
    days = {r.pk: _room_day(r, day, table) for r in qs}
    start, end = _local_day(day)
    seer = BookingSeer(user)
    for b in _occupying(days, start, end):
        days[b.room_id].blocks.append(_block(b, seer))
    return list(days.values())


def week_view(user: Any, *, room_id: int, week_start: date) -> list[RoomDay]:
    """One visible room over seven days from ``week_start``, as ``day_view``."""
    from dayuan.workcalendar.calendar import current_table

    r = room(user, room_id)
    table = current_table()
    days = [_room_day(r, week_start + timedelta(days=i), table) for i in range(7)]
    by_day = {d.day: d for d in days}
    seer = BookingSeer(user)
    start, end = _local_day(week_start)[0], _local_day(week_start + timedelta(days=6))[1]
    for b in _occupying([r.pk], start, end):
        first = timezone.localtime(b.start_at, SHANGHAI).date()
        last = timezone.localtime(b.end_at - timedelta(microseconds=1), SHANGHAI).date()
        d = first
        while d <= last:
            if d in by_day:
                by_day[d].blocks.append(_block(b, seer))
            d += timedelta(days=1)
    return days


# --- appointment services --------------------------------------------------------------


def services(user: Any) -> QuerySet[AppointmentService]:
    """Visible active appointment services (own scope or shared)."""
    qs = AppointmentService.objects.filter(service_visibility(user))
    return qs.select_related("org", "location").order_by("org_id", "name", "id")


def service(user: Any, pk: int) -> AppointmentService:
    return _one(services(user), pk)


def managed_services(user: Any) -> QuerySet[AppointmentService]:
    qs = AppointmentService.objects.filter(org_id__in=managed_org_ids(user))
    return qs.select_related("org", "location").order_by("org_id", "name", "id")


def managed_service(user: Any, pk: int) -> AppointmentService:
    """A service of an org ``user`` manages (inactive ones too), or NotFound."""
    return _one(managed_services(user), pk)


def service_providers(svc: AppointmentService) -> list[str]:
    """The names of the service's active providers, in seat order."""
    return list(
        svc.providers.filter(is_active=True).order_by("sort", "id").values_list("name", flat=True)
    )


def slots(user: Any, service_id: int, day: date) -> list[Slot]:
    """The service's slots on ``day`` (NotFound when the service is not visible), each
    with ``free`` = seats left (0 when closed)."""
    svc = service(user, service_id)
    start, end = _local_day(day)
    out = list(
        Slot.objects.filter(service=svc, start_at__gte=start, start_at__lt=end).order_by("start_at")
    )
    for s in out:
        s.service = svc
        s.free = max(0, s.seats - s.taken) if s.is_open else 0
    return out


def slot(user: Any, pk: int) -> Slot:
    """A slot of a visible service, or NotFound."""
    found = Slot.objects.select_related("service").filter(pk=pk).first()
    if found is None or not services(user).filter(pk=found.service_id).exists():
        raise NotFound()
    found.free = max(0, found.seats - found.taken) if found.is_open else 0
    return found


def appointments(
    user: Any,
    *,
    service_id: int | None = None,
    status: str | None = None,
    day: date | None = None,
    mine: bool = False,
) -> QuerySet[Appointment]:
    """Visible appointments, the latest slot first."""
    qs = Appointment.objects.filter(appointment_visibility(user))
    if mine:
        qs = qs.filter(person=user)
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if day is not None:
        start, end = _local_day(day)
        qs = qs.filter(slot__start_at__gte=start, slot__start_at__lt=end)
    return qs.select_related(*APPOINTMENT_RELATED).order_by("-slot__start_at", "-id")


def appointment(user: Any, pk: int) -> Appointment:
    qs = Appointment.objects.filter(appointment_visibility(user))
    return _one(qs.select_related(*APPOINTMENT_RELATED), pk)


def my_appointments(
    user: Any, *, upcoming_only: bool = False, now: datetime | None = None
) -> QuerySet[Appointment]:
    """The person's own appointments; ``upcoming_only``: booked, the slot not ended, the
    soonest first."""
    if not _active(user):
        return Appointment.objects.none()
    qs = Appointment.objects.filter(person=user).select_related(*APPOINTMENT_RELATED)
    if upcoming_only:
        qs = qs.filter(status=AppointmentStatus.BOOKED, slot__end_at__gt=now or timezone.now())
        return qs.order_by("slot__start_at", "id")
    return qs.order_by("-slot__start_at", "-id")


# --- stats -----------------------------------------------------------------------------


def _open_minutes(r: dict[str, Any], days: int, workdays: int) -> int:
    per_day = (
        datetime.combine(date.min, r["closes_at"]) - datetime.combine(date.min, r["opens_at"])
    ).seconds // 60
    return per_day * (days if r["open_days"] == OpenDays.ALL else workdays)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def stats(
    user: Any,
    *,
    start: date,
    end: date,
    org_id: int | None = None,
    building_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Room use and appointment use over [start, end] (local dates, inclusive) of the
    rooms and services in the orgs ``user`` oversees (``bookings.view_all``).

    - utilisation = minutes booked (confirmed, checked in, completed; up to now) ÷ the
      rooms' open minutes on the days of the range up to today;
    - no-show rate = released ÷ (released + completed + checked in);
    - peak hours = bookings (those counted as used) started per local hour;
    - appointment use per service: seats offered, booked, served, no-shows, cancelled.

    A fixed number of queries whatever the range and volume.
    """
    from dayuan.workcalendar.calendar import current_table

    now = now or timezone.now()
    range_start = _local_day(start)[0]
    range_end = min(_local_day(end)[1], max(now, range_start))
    last_day = min(end, timezone.localtime(now, SHANGHAI).date())
    days = max(0, (last_day - start).days + 1)
    workdays = current_table().workdays_in(start, start + timedelta(days=days))

    org_ids = overseen_org_ids(user)
    if org_id is not None:
        org_ids = sorted(set(org_ids) & set(subtree_ids(Organization, org_id) or []))
    room_qs = Room.objects.filter(org_id__in=org_ids)
    if building_id is not None:
        room_qs = room_qs.filter(building_id=building_id)
    room_rows = list(
        room_qs.values(
            "pk", "org_id", "org__name", "building_id", "building__name", "is_active",
            "opens_at", "closes_at", "open_days",
        )
    )  # fmt: skip
    groups: dict[str, dict[Any, dict[str, Any]]] = {"building": {}, "org": {}}

    def row(kind: str, key: Any, name: str) -> dict[str, Any]:
        return groups[kind].setdefault(
            key,
            {
                "id": key, "name": name, "rooms": 0, "open_minutes": 0, "booked_minutes": 0,
                "bookings": 0, "released": 0, "attended": 0, "cancelled": 0,
            },
        )  # fmt: skip

    room_keys: dict[int, tuple[Any, Any]] = {}
    for r in room_rows:
        b = row("building", r["building_id"], r["building__name"] or "")
        o = row("org", r["org_id"], r["org__name"])
        room_keys[r["pk"]] = (r["building_id"], r["org_id"])
        if r["is_active"]:
            minutes = _open_minutes(r, days, workdays)
            for g in (b, o):
                g["rooms"] += 1
                g["open_minutes"] += minutes

    in_range = Booking.objects.filter(
        room_id__in=list(room_keys), start_at__lt=_local_day(end)[1], end_at__gt=range_start
    )
    clipped = ExpressionWrapper(
        Least(F("end_at"), range_end) - Greatest(F("start_at"), range_start),
        output_field=DurationField(),
    )
    used = Q(status__in=USED, start_at__lt=range_end)
    per_room = in_range.values("room_id").annotate(
        booked=Sum(clipped, filter=used),
        n=Count("pk", filter=Q(status__in=USED)),
        released=Count("pk", filter=Q(status=BookingStatus.RELEASED)),
        attended=Count(
            "pk", filter=Q(status__in=(BookingStatus.COMPLETED, BookingStatus.CHECKED_IN))
        ),
        cancelled=Count("pk", filter=Q(status=BookingStatus.CANCELLED)),
    )
    for r in per_room:
        building_key, org_key = room_keys[r["room_id"]]
        for g in (groups["building"][building_key], groups["org"][org_key]):
            g["booked_minutes"] += int((r["booked"] or timedelta()).total_seconds() // 60)
            g["bookings"] += r["n"]
            g["released"] += r["released"]
            g["attended"] += r["attended"]
            g["cancelled"] += r["cancelled"]

    peak = [0] * 24
    hours = (
        in_range.filter(status__in=USED, start_at__gte=range_start)
        .annotate(hour=ExtractHour("start_at", tzinfo=SHANGHAI))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for h in hours:
        peak[h["hour"]] += h["n"]

    def finish(g: dict[str, Any]) -> dict[str, Any]:
        g["utilisation"] = _ratio(g["booked_minutes"], g["open_minutes"])
        g["no_show_rate"] = _ratio(g["released"], g["released"] + g["attended"])
        return g

    if len({r["org_id"] for r in room_rows}) > 1:
        # Buildings of several centres share names (会议中心): say whose each one is.
        for r in room_rows:
            g = groups["building"][r["building_id"]]
            g["name"] = f"{_short_org_name(r['org__name'])}·{r['building__name'] or ''}"
    by_building = sorted((finish(g) for g in groups["building"].values()), key=lambda g: g["name"])
    by_org = sorted((finish(g) for g in groups["org"].values()), key=lambda g: g["name"])
    totals = finish({k: sum(g[k] for g in by_org) for k in COUNTED})
    return {
        "start": start,
        "end": end,
        "totals": totals,
        "by_building": by_building,
        "by_org": by_org,
        "peak_hours": [{"hour": h, "bookings": n} for h, n in enumerate(peak)],
        "appointments": _appointment_stats(org_ids, range_start, _local_day(end)[1]),
    }


def _appointment_stats(org_ids: list[int], start: datetime, end: datetime) -> list[dict]:
    svcs = list(
        AppointmentService.objects.filter(org_id__in=org_ids)
        .values("pk", "name", "org__name")
        .order_by("org_id", "name", "pk")
    )
    ids = [s["pk"] for s in svcs]
    seats = {
        r["service_id"]: (r["seats"] or 0, r["slots"])
        for r in Slot.objects.filter(service_id__in=ids, start_at__gte=start, start_at__lt=end)
        .values("service_id")
        .annotate(seats=Sum("seats"), slots=Count("pk"))
        .order_by()
    }
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for r in (
        Appointment.objects.filter(
            service_id__in=ids, slot__start_at__gte=start, slot__start_at__lt=end
        )
        .values("service_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[r["service_id"]][r["status"]] = r["n"]
    out = []
    for s in svcs:
        offered, n_slots = seats.get(s["pk"], (0, 0))
        c = counts[s["pk"]]
        taken = sum(c.get(k, 0) for k in ("booked", "done", "no_show"))
        out.append(
            {
                "service_id": s["pk"],
                "name": s["name"],
                "org_name": s["org__name"],
                "slots": n_slots,
                "seats": offered,
                "booked": taken,
                "served": c.get(AppointmentStatus.DONE, 0),
                "no_show": c.get(AppointmentStatus.NO_SHOW, 0),
                "cancelled": c.get(AppointmentStatus.CANCELLED, 0),
                "use": _ratio(taken, offered),
                "no_show_rate": _ratio(
                    c.get(AppointmentStatus.NO_SHOW, 0),
                    c.get(AppointmentStatus.NO_SHOW, 0) + c.get(AppointmentStatus.DONE, 0),
                ),
            }
        )
    return out
