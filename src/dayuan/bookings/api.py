"""Bookings API: rooms (list, detail, free search, day and week views, the check-in QR),
bookings (list, create, series, detail with history, approve, reject, cancel, check-in,
end, meeting services and checks, the .ics file), the personal calendar feed,
appointment services, their slots and appointments, and the stats.

Reads go through ``queries`` (an invisible room, booking, service or appointment is a
404, never a 403); writes through the services. ``Idempotency-Key`` on POSTs is handled
by the middleware; creating a booking or an appointment is also idempotent by its
``client_key``. The feed ``GET /bookings/feed/{token}.ics`` takes no session: the token
in the URL is the credential (rotate it when it leaks).

No ``from __future__ import annotations`` here: paginated endpoints' query parameters
(dates, literals) are resolved by Ninja outside this module's namespace.
"""

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.files import private_file

from . import appointments, ical, meeting, queries, services
from .choices import Equipment, MeetingType, OpenDays, Priority, ResourceClass, ServiceKind
from .models import Appointment, AppointmentService, Booking, Room, Slot
from .qr import checkin_url, qr_svg

router = Router(tags=["bookings"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_STATS_DAYS = 366
ICS = "text/calendar; charset=utf-8"


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


def _equipment_labels(values: list[str]) -> list[str]:
    labels = dict(Equipment.choices)
    return [str(labels.get(v, v)) for v in values or ()]


# --- schemas: rooms --------------------------------------------------------------------


class RoomOut(Schema):
    id: int
    org_id: int
    org_name: str
    location_id: int
    location_name: str
    building_id: int | None
    building_name: str | None
    name: str
    resource_class: str
    resource_class_label: str
    capacity: int
    equipment: list[str]
    equipment_labels: list[str]
    description: str
    photo_url: str | None
    opens_at: time
    closes_at: time
    open_days: str
    shared: bool
    requires_approval: bool
    checkin_required: bool
    checkin_grace_minutes: int
    is_active: bool
    version: int

    @staticmethod
    def resolve_org_name(obj: Room) -> str:
        return obj.org.name

    @staticmethod
    def resolve_location_name(obj: Room) -> str:
        return obj.location.name

    @staticmethod
    def resolve_building_name(obj: Room) -> str | None:
        return obj.building.name if obj.building_id else None

    @staticmethod
    def resolve_resource_class_label(obj: Room) -> str:
        return str(obj.get_resource_class_display())

    @staticmethod
    def resolve_equipment_labels(obj: Room) -> list[str]:
        return _equipment_labels(obj.equipment)

    @staticmethod
    def resolve_photo_url(obj: Room) -> str | None:
        return f"/api/v1/rooms/{obj.pk}/photo" if obj.photo else None


class RoomIn(Schema):
    org_id: int
    location_id: int
    name: str = Field(..., min_length=1, max_length=100)
    resource_class: ResourceClass = ResourceClass.MEETING_ROOM
    capacity: int = Field(..., ge=1, le=10000)
    equipment: list[Equipment] = Field(default_factory=list)
    description: str = Field("", max_length=500)
    opens_at: time = time(8, 0)
    closes_at: time = time(18, 0)
    open_days: OpenDays = OpenDays.WORKDAYS
    shared: bool = False
    requires_approval: bool = False
    checkin_required: bool = True
    checkin_grace_minutes: int = Field(15, ge=0, le=240)
    is_active: bool = True

    def fields(self) -> dict[str, Any]:
        data = self.dict()
        data["resource_class"] = self.resource_class.value
        data["open_days"] = self.open_days.value
        data["equipment"] = sorted({e.value for e in self.equipment})
        return data


class RoomUpdateIn(RoomIn):
    version: int


class ManagedRoomOut(RoomOut):
    checkin_url: str
    qr_url: str

    @staticmethod
    def resolve_checkin_url(obj: Room) -> str:
        return checkin_url(obj)

    @staticmethod
    def resolve_qr_url(obj: Room) -> str:
        return f"/api/v1/rooms/{obj.pk}/qr.svg"


class BlockOut(Schema):
    start: datetime
    end: datetime
    status: str
    visible: bool = Field(description="false：仅显示“已占用”，不含会议名称和预订人")
    mine: bool
    booking_id: int | None
    number: str | None
    title: str | None
    booker_name: str | None
    organizer_unit_name: str | None
    attendees: int | None


class RoomDayOut(Schema):
    room: RoomOut
    day: date
    open: bool
    opens_at: datetime | None
    closes_at: datetime | None
    blocks: list[BlockOut]


class DayOut(Schema):
    day: date
    open: bool
    opens_at: datetime | None
    closes_at: datetime | None
    blocks: list[BlockOut]


class WeekOut(Schema):
    room: RoomOut
    week_start: date
    days: list[DayOut]


# --- schemas: bookings -----------------------------------------------------------------


class BookingOut(Schema):
    id: int
    number: str
    org_id: int
    room_id: int
    room_name: str
    building_id: int | None
    building_name: str | None
    series_id: int | None
    booker_id: int
    booker_name: str
    organizer_unit_id: int
    organizer_unit_name: str
    title: str
    meeting_type: str
    meeting_type_label: str
    attendees: int
    leaders_attending: bool
    equipment: list[str]
    contact_name: str
    contact_phone: str
    note: str
    priority: str
    priority_label: str
    start_at: datetime
    end_at: datetime
    status: str
    status_label: str
    active: bool
    emergency: bool
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str
    checked_in_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    released_at: datetime | None
    displaced_by_id: int | None
    displace_reason: str
    version: int

    @staticmethod
    def resolve_room_name(obj: Booking) -> str:
        return obj.room.name

    @staticmethod
    def resolve_building_id(obj: Booking) -> int | None:
        return obj.room.building_id

    @staticmethod
    def resolve_building_name(obj: Booking) -> str | None:
        return obj.room.building.name if obj.room.building_id else None

    @staticmethod
    def resolve_booker_name(obj: Booking) -> str:
        return _name(obj.booker) or ""

    @staticmethod
    def resolve_organizer_unit_name(obj: Booking) -> str:
        return obj.organizer_unit.name

    @staticmethod
    def resolve_meeting_type_label(obj: Booking) -> str:
        return str(obj.get_meeting_type_display())

    @staticmethod
    def resolve_priority_label(obj: Booking) -> str:
        return str(obj.get_priority_display())

    @staticmethod
    def resolve_status_label(obj: Booking) -> str:
        return str(obj.get_status_display())


class BookingEventOut(Schema):
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    from_status: str
    to_status: str
    details: dict[str, Any]

    @staticmethod
    def resolve_actor_name(obj: Any) -> str | None:
        return _name(obj.actor) if obj.actor_id else None


class MeetingServiceOut(Schema):
    id: int
    kind: str
    kind_label: str
    note: str
    workorder_id: int | None
    workorder_number: str | None
    workorder_status: str | None

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_workorder_number(obj: Any) -> str | None:
        return obj.workorder.number if obj.workorder_id else None

    @staticmethod
    def resolve_workorder_status(obj: Any) -> str | None:
        return obj.workorder.status if obj.workorder_id else None


class MeetingCheckOut(Schema):
    id: int
    checklist: str
    inspection_id: int
    inspection_status: str

    @staticmethod
    def resolve_inspection_status(obj: Any) -> str:
        return obj.inspection.status


class BookingDetailOut(BookingOut):
    events: list[BookingEventOut]
    services: list[MeetingServiceOut]
    checks: list[MeetingCheckOut]
    actions: list[str] = Field(description="可由当前用户执行的操作")
    ics_url: str

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return obj.events_list

    @staticmethod
    def resolve_services(obj: Any) -> list[Any]:
        return obj.services_list

    @staticmethod
    def resolve_checks(obj: Any) -> list[Any]:
        return obj.checks_list

    @staticmethod
    def resolve_actions(obj: Any) -> list[str]:
        return obj.actions_list

    @staticmethod
    def resolve_ics_url(obj: Any) -> str:
        return f"/api/v1/bookings/{obj.pk}.ics"


class ServiceItemIn(Schema):
    kind: ServiceKind
    note: str = Field("", max_length=300)


class BookingFieldsIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    attendees: int = Field(..., ge=1, le=100000)
    organizer_unit_id: int | None = Field(None, description="主办单位；默认本人所在单位")
    meeting_type: MeetingType = MeetingType.OFFICE
    leaders_attending: bool = False
    equipment: list[Equipment] = Field(default_factory=list)
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=20)
    note: str = Field("", max_length=500)
    priority: Priority = Priority.NORMAL
    services: list[ServiceItemIn] = Field(default_factory=list, max_length=len(ServiceKind))

    def fields(self) -> dict[str, Any]:
        data = self.dict()
        data["meeting_type"] = self.meeting_type.value
        data["priority"] = self.priority.value
        data["equipment"] = [e.value for e in self.equipment]
        data["services"] = [{"kind": s.kind.value, "note": s.note} for s in self.services]
        return data


class BookingIn(BookingFieldsIn):
    room_id: int
    start_at: datetime
    end_at: datetime
    emergency: bool = Field(False, description="紧急会议，先用后登记（标准允许时）")
    displace: bool = Field(False, description="管理员按“重要优先、紧急优先”调整冲突预订")
    displace_reason: str = Field("", max_length=500)
    client_key: str | None = Field(
        None, min_length=8, max_length=64, description="表单打开时生成；重复提交返回同一预订"
    )


class SeriesIn(BookingFieldsIn):
    room_id: int
    rrule: str = Field(
        ..., min_length=1, max_length=300, description="RFC 5545 RRULE，须含 COUNT 或 UNTIL"
    )
    first_start: datetime
    duration_minutes: int = Field(..., ge=5, le=24 * 60)


class SeriesOut(Schema):
    id: int
    room_id: int
    rrule: str
    first_start: datetime
    duration_minutes: int
    conflicts: list[dict[str, Any]] = Field(description="未能预订的场次及原因")
    bookings: list[BookingOut]


class OptionalVersionIn(Schema):
    version: int | None = None


class ApproveIn(OptionalVersionIn):
    note: str = Field("", max_length=500)


class RejectIn(OptionalVersionIn):
    reason: str = Field(..., min_length=1, max_length=500)


class CancelIn(OptionalVersionIn):
    reason: str = Field("", max_length=500)


class ServicesIn(Schema):
    items: list[ServiceItemIn] = Field(..., min_length=1, max_length=len(ServiceKind))


class CheckIn(Schema):
    checklist: Literal["meeting.in_meeting", "meeting.after"]


class CheckStartedOut(Schema):
    inspection_id: int
    number: str
    status: str


class TokenCheckIn(Schema):
    token: str = Field(..., min_length=1, max_length=64, description="会议室门口二维码中的令牌")


class FeedOut(Schema):
    url: str
    token: str


# --- schemas: appointments -------------------------------------------------------------


class ProviderOut(Schema):
    id: int
    name: str
    is_active: bool


class AppointmentServiceOut(Schema):
    id: int
    org_id: int
    org_name: str
    location_id: int
    location_name: str
    code: str
    name: str
    description: str
    slot_minutes: int
    seats_per_slot: int
    opens_at: time
    closes_at: time
    breaks: list[dict[str, Any]]
    open_days: str
    book_ahead_days: int
    min_lead_minutes: int
    cancel_before_minutes: int
    per_person_open_limit: int
    shared: bool
    is_active: bool
    providers: list[ProviderOut]
    version: int

    @staticmethod
    def resolve_org_name(obj: AppointmentService) -> str:
        return obj.org.name

    @staticmethod
    def resolve_location_name(obj: AppointmentService) -> str:
        return obj.location.name

    @staticmethod
    def resolve_providers(obj: AppointmentService) -> list[Any]:
        return list(obj.providers.all())


class BreakIn(Schema):
    start: str = Field(..., pattern=r"^\d{2}:\d{2}$")
    end: str = Field(..., pattern=r"^\d{2}:\d{2}$")


class AppointmentServiceIn(Schema):
    org_id: int
    location_id: int
    code: str = Field(..., min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    slot_minutes: int = Field(30, ge=5, le=480)
    seats_per_slot: int = Field(1, ge=1, le=1000)
    opens_at: time = time(8, 30)
    closes_at: time = time(17, 30)
    breaks: list[BreakIn] = Field(default_factory=list, max_length=10)
    open_days: OpenDays = OpenDays.WORKDAYS
    book_ahead_days: int = Field(7, ge=0, le=90)
    min_lead_minutes: int = Field(30, ge=0, le=7 * 24 * 60)
    cancel_before_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    per_person_open_limit: int = Field(1, ge=1, le=100)
    shared: bool = False
    is_active: bool = True
    providers: list[str] = Field(default_factory=list, max_length=50)

    def fields(self) -> dict[str, Any]:
        data = self.dict()
        data["open_days"] = self.open_days.value
        data["breaks"] = [b.dict() for b in self.breaks]
        return data


class AppointmentServiceUpdateIn(AppointmentServiceIn):
    version: int


class SlotOut(Schema):
    id: int
    service_id: int
    start_at: datetime
    end_at: datetime
    seats: int
    taken: int
    free: int
    is_open: bool


class SlotBookIn(Schema):
    note: str = Field("", max_length=200)
    client_key: str | None = Field(None, min_length=8, max_length=64)


class SlotCloseIn(Schema):
    closed: bool


class AppointmentOut(Schema):
    id: int
    number: str
    org_id: int
    service_id: int
    service_name: str
    slot_id: int
    start_at: datetime
    end_at: datetime
    person_id: int
    person_name: str
    person_org_id: int
    provider_id: int | None
    provider_name: str | None
    status: str
    status_label: str
    note: str
    cancelled_at: datetime | None
    served_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_service_name(obj: Appointment) -> str:
        return obj.service.name

    @staticmethod
    def resolve_start_at(obj: Appointment) -> datetime:
        return obj.slot.start_at

    @staticmethod
    def resolve_end_at(obj: Appointment) -> datetime:
        return obj.slot.end_at

    @staticmethod
    def resolve_person_name(obj: Appointment) -> str:
        return _name(obj.person) or ""

    @staticmethod
    def resolve_provider_name(obj: Appointment) -> str | None:
        return obj.provider.name if obj.provider_id else None

    @staticmethod
    def resolve_status_label(obj: Appointment) -> str:
        return str(obj.get_status_display())


# --- schemas: stats --------------------------------------------------------------------


class UseRowOut(Schema):
    id: int | None = None
    name: str = ""
    rooms: int
    open_minutes: int
    booked_minutes: int
    bookings: int
    released: int
    attended: int
    cancelled: int
    utilisation: float | None = Field(description="已用时长 ÷ 开放时长")
    no_show_rate: float | None = Field(description="未签到释放 ÷（释放 + 已签到 + 已结束）")


class PeakOut(Schema):
    hour: int
    bookings: int


class ServiceUseOut(Schema):
    service_id: int
    name: str
    org_name: str
    slots: int
    seats: int
    booked: int
    served: int
    no_show: int
    cancelled: int
    use: float | None
    no_show_rate: float | None


class StatsOut(Schema):
    start: date
    end: date
    totals: UseRowOut
    by_building: list[UseRowOut]
    by_org: list[UseRowOut]
    peak_hours: list[PeakOut]
    appointments: list[ServiceUseOut]


# --- helpers ---------------------------------------------------------------------------


def _detail(user: Any, booking_id: int) -> Booking:
    b = queries.booking(user, booking_id)
    b.events_list = queries.booking_events(b)
    b.services_list = queries.booking_services(b)
    b.checks_list = queries.booking_checks(b)
    b.actions_list = queries.booking_actions(user, b)
    return b


def _run(request: HttpRequest, booking_id: int, fn: Any, **kwargs: Any) -> Booking:
    queries.booking(request.auth, booking_id)  # 404 before anything else
    fn(actor=request.auth, booking_id=booking_id, **kwargs)
    return _detail(request.auth, booking_id)


def _ics(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=ICS)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput(_("结束时间须晚于开始时间。"), code="booking_bad_range", field="end")
    if end - start > timedelta(days=1):
        raise InvalidInput(_("查询时段不能超过一天。"), code="range_too_long", field="end")


def _day_row(d: queries.RoomDay) -> dict[str, Any]:
    return {
        "day": d.day,
        "open": d.open,
        "opens_at": d.opens_at,
        "closes_at": d.closes_at,
        "blocks": d.blocks,
    }


def _appointment(user: Any, pk: int) -> Appointment:
    return queries.appointment(user, pk)


def _slot_out(s: Slot) -> dict[str, Any]:
    return {
        "id": s.pk,
        "service_id": s.service_id,
        "start_at": s.start_at,
        "end_at": s.end_at,
        "seats": s.seats,
        "taken": s.taken,
        "free": max(0, s.seats - s.taken) if s.is_open else 0,
        "is_open": s.is_open,
    }


# --- rooms -----------------------------------------------------------------------------


@router.get("/rooms", response=list[RoomOut])
@paginate(Page)
def list_rooms(
    request: HttpRequest,
    building_id: int | None = None,
    org_id: int | None = None,
    resource_class: str | None = None,
    min_capacity: int | None = None,
    q: str | None = None,
):
    """Rooms the caller may book (own orgs and shared ones), by building and name."""
    return queries.rooms(
        request.auth,
        building_id=building_id,
        org_id=org_id,
        resource_class=resource_class,
        min_capacity=min_capacity,
        q=q,
    )


@router.get("/rooms/managed", response=list[ManagedRoomOut])
@paginate(Page)
def list_managed_rooms(request: HttpRequest):
    """The rooms of the orgs the caller manages, inactive ones too, with check-in URLs."""
    return queries.managed_rooms(request.auth)


@router.post("/rooms", response={201: ManagedRoomOut, **ERRORS})
def create_room(request: HttpRequest, payload: RoomIn):
    r = services.save_room(actor=request.auth, **payload.fields())
    return Status(201, queries.managed_room(request.auth, r.pk))


@router.put("/rooms/{int:room_id}", response={200: ManagedRoomOut, **ERRORS})
def update_room(request: HttpRequest, room_id: int, payload: RoomUpdateIn):
    queries.managed_room(request.auth, room_id)
    services.save_room(actor=request.auth, room_id=room_id, **payload.fields())
    return queries.managed_room(request.auth, room_id)


@router.post("/rooms/{int:room_id}/rotate-token", response={200: ManagedRoomOut, **ERRORS})
def rotate_token(request: HttpRequest, room_id: int):
    """A new check-in token: the printed QR code must be replaced."""
    queries.managed_room(request.auth, room_id)
    services.rotate_checkin_token(actor=request.auth, room_id=room_id)
    return queries.managed_room(request.auth, room_id)


@router.get("/rooms/free", response={200: list[RoomOut], 422: ErrorOut})
def free_rooms(
    request: HttpRequest,
    start: datetime,
    end: datetime,
    attendees: int = 0,
    equipment: str | None = None,
    building_id: int | None = None,
    resource_class: str | None = None,
    limit: int = 20,
):
    """Rooms free and open for the whole of [start, end) with room for ``attendees`` and
    every piece of ``equipment`` (comma-separated): the smallest adequate room first."""
    _range(start, end)
    wanted = [e for e in (equipment or "").split(",") if e]
    if unknown := sorted(set(wanted) - set(Equipment.values)):
        raise InvalidInput(
            _("未知的设备：%(names)s。") % {"names": "、".join(unknown)},
            code="unknown_equipment",
            field="equipment",
        )
    return queries.free_rooms(
        request.auth,
        start,
        end,
        attendees=max(0, attendees),
        equipment=wanted,
        building_id=building_id,
        resource_class=resource_class,
        limit=max(1, min(limit, queries.MAX_FREE_LIMIT)),
    )


@router.get("/rooms/day", response=list[RoomDayOut])
def day_view(request: HttpRequest, day: date | None = None, building_id: int | None = None):
    """Every visible room with its busy blocks on ``day`` (default today); the title and
    booker only of the bookings the caller may see."""
    day = day or timezone.localdate()
    return [
        {"room": d.room, **_day_row(d)}
        for d in queries.day_view(request.auth, day=day, building_id=building_id)
    ]


@router.get("/rooms/{int:room_id}", response={200: RoomOut, 404: ErrorOut})
def get_room(request: HttpRequest, room_id: int):
    return queries.room(request.auth, room_id)


@router.get("/rooms/{int:room_id}/week", response={200: WeekOut, 404: ErrorOut})
def week_view(request: HttpRequest, room_id: int, week_start: date | None = None):
    """Seven days of one room from ``week_start`` (default: this week's Monday)."""
    if week_start is None:
        today = timezone.localdate()
        week_start = today - timedelta(days=today.weekday())
    days = queries.week_view(request.auth, room_id=room_id, week_start=week_start)
    return {"room": days[0].room, "week_start": week_start, "days": [_day_row(d) for d in days]}


@router.get("/rooms/{int:room_id}/photo", response={200: None, 404: ErrorOut})
def room_photo(request: HttpRequest, room_id: int):
    r = queries.room(request.auth, room_id)
    if not r.photo:
        raise NotFound()
    return private_file(r.photo)


@router.get("/rooms/{int:room_id}/qr.svg", response={200: None, 404: ErrorOut})
def room_qr(request: HttpRequest, room_id: int):
    """The check-in QR code to print at the door (managers of the room's org)."""
    r = queries.managed_room(request.auth, room_id)
    response = HttpResponse(qr_svg(checkin_url(r, request)), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="room-{r.pk}-checkin.svg"'
    response["Cache-Control"] = "private, no-cache"
    return response


# --- bookings --------------------------------------------------------------------------


@router.get("/bookings", response=list[BookingOut])
@paginate(Page)
def list_bookings(
    request: HttpRequest,
    status: str | None = None,
    room_id: int | None = None,
    building_id: int | None = None,
    org_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    mine: bool = False,
    upcoming: bool = False,
):
    """Visible bookings, the latest first (``upcoming``: not ended, the soonest first)."""
    return queries.booking_list(
        request.auth,
        status=status,
        room_id=room_id,
        building_id=building_id,
        org_id=org_id,
        since=since,
        until=until,
        mine=mine,
        upcoming=upcoming,
    )


@router.post("/bookings", response={201: BookingDetailOut, **ERRORS})
def create_booking(request: HttpRequest, payload: BookingIn):
    """Book a room. 409 ``room_taken`` lists the conflicting times; 422 ``rule_refused``
    cites the standard's clause."""
    data = payload.fields()
    b = services.book_room(actor=request.auth, **data)
    return Status(201, _detail(request.auth, b.pk))


@router.post("/bookings/series", response={201: SeriesOut, **ERRORS})
def create_series(request: HttpRequest, payload: SeriesIn):
    """A recurring booking: every occurrence that can be booked is; the others are listed
    in ``conflicts`` with the reason."""
    data = payload.fields()
    series, booked = services.book_series(actor=request.auth, **data)
    ids = [b.pk for b in booked]
    rows = list(queries.bookings(request.auth).filter(pk__in=ids).select_related(
        *queries.BOOKING_RELATED).order_by("start_at"))  # fmt: skip
    return Status(
        201,
        {
            "id": series.pk,
            "room_id": series.room_id,
            "rrule": series.rrule,
            "first_start": series.first_start,
            "duration_minutes": series.duration_minutes,
            "conflicts": series.conflicts,
            "bookings": rows,
        },
    )


@router.get("/bookings/approvals", response=list[BookingOut])
@paginate(Page)
def list_approvals(request: HttpRequest):
    """Pending bookings of the rooms the caller approves, the soonest first."""
    return queries.approvals(request.auth)


@router.post("/bookings/check-in", response={200: BookingDetailOut, **ERRORS})
def check_in_by_token(request: HttpRequest, payload: TokenCheckIn):
    """Check in by the QR code at the door: the caller's booking of that room now."""
    b = services.check_in(actor=request.auth, room_token=payload.token)
    return _detail(request.auth, b.pk)


@router.get("/bookings/stats", response={200: StatsOut, 422: ErrorOut})
def stats(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    org_id: int | None = None,
    building_id: int | None = None,
):
    """Utilisation, no-show rate and peak hours by building and org, and appointment use
    (default: the last 30 days) over the orgs the caller oversees."""
    end = end or timezone.localdate()
    start = start or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_STATS_DAYS:
        raise InvalidInput(
            _("统计区间须在 %(days)d 天以内，且起始日期不晚于截止日期。")
            % {"days": MAX_STATS_DAYS},
            code="invalid_period",
        )
    return queries.stats(request.auth, start=start, end=end, org_id=org_id, building_id=building_id)


@router.get("/bookings/feed", response=FeedOut)
def get_feed(request: HttpRequest):
    """The caller's private calendar feed URL (subscribe to it from a phone)."""
    feed = ical.feed_for(request.auth)
    url = request.build_absolute_uri(f"/api/v1/bookings/feed/{feed.token}.ics")
    return {"url": url, "token": feed.token}


@router.post("/bookings/feed/rotate", response=FeedOut)
def rotate_feed(request: HttpRequest):
    """A new feed URL; the old one stops working."""
    feed = ical.rotate_feed(request.auth)
    url = request.build_absolute_uri(f"/api/v1/bookings/feed/{feed.token}.ics")
    return {"url": url, "token": feed.token}


@router.get("/bookings/feed/{token}.ics", auth=None, response={200: None, 404: ErrorOut})
def feed(request: HttpRequest, token: str):
    """The personal iCalendar feed: bookings from 30 days ago on and appointments. No
    session: the token is the credential."""
    user = ical.user_for_feed(token)
    if user is None:
        raise NotFound()
    return _ics(ical.feed_ics(user), "dayuan.ics")


@router.get("/bookings/{int:booking_id}", response={200: BookingDetailOut, 404: ErrorOut})
def get_booking(request: HttpRequest, booking_id: int):
    """The booking with its history, services, checks and what the caller may do."""
    return _detail(request.auth, booking_id)


@router.get("/bookings/{int:booking_id}.ics", response={200: None, 404: ErrorOut})
def booking_ics(request: HttpRequest, booking_id: int):
    b = queries.booking(request.auth, booking_id)
    return _ics(ical.booking_ics(b), f"{b.number}.ics")


@router.post("/bookings/{int:booking_id}/approve", response={200: BookingDetailOut, **ERRORS})
def approve(request: HttpRequest, booking_id: int, payload: ApproveIn):
    return _run(request, booking_id, services.approve, **payload.dict())


@router.post("/bookings/{int:booking_id}/reject", response={200: BookingDetailOut, **ERRORS})
def reject(request: HttpRequest, booking_id: int, payload: RejectIn):
    return _run(request, booking_id, services.reject, **payload.dict())


@router.post("/bookings/{int:booking_id}/cancel", response={200: BookingDetailOut, **ERRORS})
def cancel(request: HttpRequest, booking_id: int, payload: CancelIn):
    return _run(request, booking_id, services.cancel, **payload.dict())


@router.post("/bookings/{int:booking_id}/check-in", response={200: BookingDetailOut, **ERRORS})
def check_in(request: HttpRequest, booking_id: int):
    return _run(request, booking_id, services.check_in)


@router.post("/bookings/{int:booking_id}/end", response={200: BookingDetailOut, **ERRORS})
def end_meeting(request: HttpRequest, booking_id: int):
    return _run(request, booking_id, services.end_meeting)


@router.post("/bookings/{int:booking_id}/services", response={200: BookingDetailOut, **ERRORS})
def add_services(request: HttpRequest, booking_id: int, payload: ServicesIn):
    """Order meeting services (tea, AV …) before the start: each becomes a work order."""
    items = [{"kind": i.kind.value, "note": i.note} for i in payload.items]
    return _run(request, booking_id, meeting.add_services, items=items)


@router.post("/bookings/{int:booking_id}/checks", response={201: CheckStartedOut, **ERRORS})
def start_check(request: HttpRequest, booking_id: int, payload: CheckIn):
    """Start the in-meeting or after-meeting checklist (an inspection of the room)."""
    queries.booking(request.auth, booking_id)
    insp = meeting.start_check(
        actor=request.auth, booking_id=booking_id, checklist=payload.checklist
    )
    return Status(201, {"inspection_id": insp.pk, "number": insp.number, "status": insp.status})


# --- appointment services, slots, appointments -----------------------------------------


@router.get("/appointment-services", response=list[AppointmentServiceOut])
@paginate(Page)
def list_services(request: HttpRequest):
    """Services the caller may book (own orgs and shared ones)."""
    return queries.services(request.auth).prefetch_related("providers")


@router.get("/appointment-services/managed", response=list[AppointmentServiceOut])
@paginate(Page)
def list_managed_services(request: HttpRequest):
    return queries.managed_services(request.auth).prefetch_related("providers")


@router.post("/appointment-services", response={201: AppointmentServiceOut, **ERRORS})
def create_service(request: HttpRequest, payload: AppointmentServiceIn):
    svc = appointments.save_service(actor=request.auth, **payload.fields())
    return Status(201, _managed_service(request.auth, svc.pk))


def _managed_service(user: Any, pk: int) -> AppointmentService:
    found = queries.managed_services(user).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


@router.put(
    "/appointment-services/{int:service_id}", response={200: AppointmentServiceOut, **ERRORS}
)
def update_service(request: HttpRequest, service_id: int, payload: AppointmentServiceUpdateIn):
    _managed_service(request.auth, service_id)
    appointments.save_service(actor=request.auth, service_id=service_id, **payload.fields())
    return _managed_service(request.auth, service_id)


@router.get(
    "/appointment-services/{int:service_id}",
    response={200: AppointmentServiceOut, 404: ErrorOut},
)
def get_service(request: HttpRequest, service_id: int):
    return queries.service(request.auth, service_id)


@router.get(
    "/appointment-services/{int:service_id}/slots",
    response={200: list[SlotOut], 404: ErrorOut},
)
def list_slots(request: HttpRequest, service_id: int, day: date | None = None):
    """The service's slots on ``day`` (default today) with the seats left."""
    day = day or timezone.localdate()
    return [_slot_out(s) for s in queries.slots(request.auth, service_id, day)]


@router.post("/appointment-slots/{int:slot_id}/book", response={201: AppointmentOut, **ERRORS})
def book_slot(request: HttpRequest, slot_id: int, payload: SlotBookIn):
    """Take a seat: 409 ``slot_full`` when none is left, ``per_person_limit`` when the
    caller already holds the allowed number of open appointments."""
    queries.slot(request.auth, slot_id)
    appt = appointments.book_slot(actor=request.auth, slot_id=slot_id, **payload.dict())
    return Status(201, _appointment(request.auth, appt.pk))


@router.post("/appointment-slots/{int:slot_id}/close", response={200: SlotOut, **ERRORS})
def close_slot(request: HttpRequest, slot_id: int, payload: SlotCloseIn):
    """Close (or reopen) a slot (managers of the service's org)."""
    queries.slot(request.auth, slot_id)
    s = appointments.close_slot(actor=request.auth, slot_id=slot_id, closed=payload.closed)
    return _slot_out(s)


@router.get("/appointments", response=list[AppointmentOut])
@paginate(Page)
def list_appointments(
    request: HttpRequest,
    service_id: int | None = None,
    status: str | None = None,
    day: date | None = None,
    mine: bool = False,
):
    """Visible appointments (own, and those of the services the caller serves or
    oversees), the latest slot first."""
    return queries.appointments(
        request.auth, service_id=service_id, status=status, day=day, mine=mine
    )


@router.get("/appointments/{int:appointment_id}", response={200: AppointmentOut, 404: ErrorOut})
def get_appointment(request: HttpRequest, appointment_id: int):
    return _appointment(request.auth, appointment_id)


def _move(request: HttpRequest, appointment_id: int, fn: Any) -> Appointment:
    _appointment(request.auth, appointment_id)  # 404 before anything else
    fn(actor=request.auth, appointment_id=appointment_id)
    return _appointment(request.auth, appointment_id)


@router.post("/appointments/{int:appointment_id}/cancel", response={200: AppointmentOut, **ERRORS})
def cancel_appointment(request: HttpRequest, appointment_id: int):
    return _move(request, appointment_id, appointments.cancel_appointment)


@router.post("/appointments/{int:appointment_id}/served", response={200: AppointmentOut, **ERRORS})
def mark_served(request: HttpRequest, appointment_id: int):
    return _move(request, appointment_id, appointments.mark_served)


@router.post("/appointments/{int:appointment_id}/no-show", response={200: AppointmentOut, **ERRORS})
def mark_no_show(request: HttpRequest, appointment_id: int):
    return _move(request, appointment_id, appointments.mark_no_show)
