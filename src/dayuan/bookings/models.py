"""Bookings: exclusive time ranges (rooms) and capacity slots (barber and other
appointment services), with one engine of rules and concurrency.

Correctness lives in the database. A room never holds two active bookings that
overlap: on PostgreSQL an exclusion constraint (``bookings_no_overlap``, created in
migration 0002 with ``btree_gist``); on SQLite the IMMEDIATE transaction the service
opens serialises writers and the overlap check runs inside it. A slot never holds more
appointments than seats: ``UPDATE slot SET taken = taken + 1 WHERE taken < seats`` plus a
check constraint.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import (
    AppointmentStatus,
    BookingStatus,
    MeetingType,
    OpenDays,
    Priority,
    ResourceClass,
    ServiceKind,
)


def new_token() -> str:
    return secrets.token_urlsafe(16)


class Room(VersionedModel):
    """A bookable room or venue. ``org`` owns it (its managers approve and see every
    booking); ``shared`` opens it to every organisation of the city (共享)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("位置"), on_delete=models.PROTECT, related_name="+"
    )
    # The building the room is in (denormalised from the location tree for day views).
    building = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("楼栋"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    name = models.CharField(_("名称"), max_length=100)
    resource_class = models.CharField(
        _("类别"), max_length=20, choices=ResourceClass.choices, default=ResourceClass.MEETING_ROOM
    )
    capacity = models.PositiveIntegerField(_("容纳人数"))
    equipment = models.JSONField(_("设备"), default=list, blank=True)  # Equipment values, sorted
    description = models.CharField(_("说明"), max_length=500, blank=True)
    # Re-encoded without metadata (services.save_room); served only through views that
    # check the room is visible, never as a public media URL.
    photo = models.ImageField(_("照片"), upload_to="bookings/rooms/", blank=True)
    photo_thumb = models.ImageField(_("照片缩略图"), upload_to="bookings/rooms/thumbs/", blank=True)
    opens_at = models.TimeField(_("开放时间"), default="08:00")
    closes_at = models.TimeField(_("关闭时间"), default="18:00")
    open_days = models.CharField(
        _("开放日"), max_length=10, choices=OpenDays.choices, default=OpenDays.WORKDAYS
    )
    shared = models.BooleanField(_("共享给其他单位"), default=False)
    requires_approval = models.BooleanField(_("需要审批"), default=False)
    checkin_required = models.BooleanField(_("需要签到"), default=True)
    # Minutes after the start a booking may still check in; later it is released.
    checkin_grace_minutes = models.PositiveSmallIntegerField(_("签到宽限（分钟）"), default=15)
    # The QR code at the door encodes this token (rotated by a manager if it leaks).
    checkin_token = models.CharField(max_length=32, unique=True, default=new_token)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("会议室")
        verbose_name_plural = _("会议室")
        ordering = ["org_id", "name", "id"]
        indexes = [
            models.Index(fields=["org", "is_active"], name="room_org_active"),
            models.Index(fields=["building", "is_active"], name="room_building_active"),
            models.Index(fields=["shared", "is_active", "capacity"], name="room_shared_cap"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gt=0), name="room_capacity_positive"),
            models.CheckConstraint(condition=Q(opens_at__lt=F("closes_at")), name="room_hours"),
        ]

    def __str__(self) -> str:
        return self.name


# what a manager sets on a room besides its org and place: the room form's fields and the
# audited ones
ROOM_SETTINGS = (
    "name",
    "resource_class",
    "capacity",
    "equipment",
    "description",
    "opens_at",
    "closes_at",
    "open_days",
    "shared",
    "requires_approval",
    "checkin_required",
    "checkin_grace_minutes",
    "is_active",
)


class BookingSeries(TimestampedModel):
    """A recurring booking (RRULE, RFC 5545): its occurrences are ordinary bookings;
    the ones that conflicted are listed in ``conflicts`` as they were refused."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+"
    )  # the room's org
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="series")
    booker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rrule = models.CharField(_("重复规则"), max_length=300)
    first_start = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    # [{"start": iso, "end": iso, "code": ..., "message": ..., "clause": {...}|None}]
    conflicts = models.JSONField(default=list, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("周期预订")
        verbose_name_plural = _("周期预订")


class Booking(VersionedModel):
    """One booking of one room for one time range."""

    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("会议室所属单位"),
        on_delete=models.PROTECT,
        related_name="+",
    )  # = room.org: the room owner's managers see it
    room = models.ForeignKey(
        Room, verbose_name=_("会议室"), on_delete=models.PROTECT, related_name="bookings"
    )
    number = models.CharField(_("预订编号"), max_length=24, unique=True)  # HY-YYYYMMDD-NNNN
    series = models.ForeignKey(
        BookingSeries, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    booker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("预订人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    organizer_unit = models.ForeignKey(
        "orgs.Organization", verbose_name=_("主办单位"), on_delete=models.PROTECT, related_name="+"
    )  # the booker's unit; its managers see the booking too
    title = models.CharField(_("会议名称"), max_length=200)
    meeting_type = models.CharField(
        _("会议类型"), max_length=12, choices=MeetingType.choices, default=MeetingType.OFFICE
    )
    attendees = models.PositiveIntegerField(_("参会人数"))
    leaders_attending = models.BooleanField(_("领导出席"), default=False)
    equipment = models.JSONField(_("所需设备"), default=list, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    priority = models.CharField(
        _("优先级"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    start_at = models.DateTimeField(pgettext_lazy("booking", "开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    status = models.CharField(
        _("状态"), max_length=12, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    # True while the status holds the room (pending, confirmed, checked in): the
    # exclusion constraint's WHERE clause and every overlap query use it.
    active = models.BooleanField(default=True)
    emergency = models.BooleanField(_("紧急会议（先用后登记）"), default=False)
    requested_at = models.DateTimeField(_("申请时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    displaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    displace_reason = models.CharField(max_length=500, blank=True)
    # The booker's private token for the iCalendar file of this booking.
    ics_token = models.CharField(max_length=32, unique=True, default=new_token)
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("会议室预订")
        verbose_name_plural = _("会议室预订")
        ordering = ["-start_at", "-id"]
        indexes = [
            # the overlap check and day views: a room's active bookings by time
            models.Index(
                fields=["room", "start_at", "end_at"],
                name="booking_room_active_time",
                condition=Q(active=True),
            ),
            models.Index(fields=["org", "-start_at"], name="booking_org_recent"),
            models.Index(fields=["booker", "-start_at"], name="booking_booker_recent"),
            models.Index(fields=["organizer_unit", "-start_at"], name="booking_unit_recent"),
            # the no-show job: confirmed, not checked in, start passed
            models.Index(fields=["status", "start_at"], name="booking_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start_at__lt=F("end_at")), name="booking_range"),
            models.CheckConstraint(
                condition=Q(active=True, status__in=["pending", "confirmed", "checked_in"])
                | Q(
                    active=False,
                    status__in=["completed", "cancelled", "rejected", "released", "displaced"],
                ),
                name="booking_active_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class BookingEvent(models.Model):
    """The booking's history: every transition, by whom, when, with details."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)  # book, approve, reject, cancel, displace, …
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    details = models.JSONField(default=dict, blank=True)

    scope_org_field = "booking__org"

    class Meta:
        ordering = ["at", "id"]


class MeetingService(TimestampedModel):
    """A service ordered with a booking; it becomes a work order for the responsible team
    (SLA clocks anchored before the meeting's start come from the standard)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="services")
    kind = models.CharField(_("服务"), max_length=12, choices=ServiceKind.choices)
    note = models.CharField(_("要求"), max_length=300, blank=True)
    workorder = models.OneToOneField(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "booking__org"

    class Meta:
        verbose_name = _("会议服务")
        verbose_name_plural = _("会议服务")
        constraints = [
            models.UniqueConstraint(fields=["booking", "kind"], name="meeting_service_once")
        ]


class MeetingCheck(TimestampedModel):
    """An in-meeting (续茶) or after-meeting (遗留物品) checklist of a booking, done as an
    inspection on the room with the standard's checklist."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="checks")
    checklist = models.CharField(max_length=40)  # meeting.in_meeting | meeting.after
    inspection = models.OneToOneField(
        "inspections.Inspection", on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "booking__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["booking", "checklist"], name="meeting_check_once")
        ]


class CalendarFeed(models.Model):
    """A person's private iCalendar feed URL (subscribed from a phone's calendar app)."""

    scope_exempt = True  # personal, not org data

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=32, unique=True, default=new_token)
    created_at = models.DateTimeField(auto_now_add=True)


# --- appointment services ----------------------------------------------------------------


class AppointmentService(VersionedModel):
    """A service with seats per time slot: barber, car wash, clinic …"""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("地点"), on_delete=models.PROTECT, related_name="+"
    )
    # barber, car_wash, clinic
    code = models.SlugField(pgettext_lazy("booking", "代码"), max_length=40)
    name = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=500, blank=True)
    slot_minutes = models.PositiveSmallIntegerField(_("时段长度（分钟）"), default=30)
    seats_per_slot = models.PositiveSmallIntegerField(_("每时段名额"), default=1)
    opens_at = models.TimeField(_("开始时间"), default="08:30")
    closes_at = models.TimeField(_("结束时间"), default="17:30")
    # e.g. a lunch break: [{"start": "12:00", "end": "13:30"}]
    breaks = models.JSONField(_("休息时段"), default=list, blank=True)
    open_days = models.CharField(
        _("开放日"), max_length=10, choices=OpenDays.choices, default=OpenDays.WORKDAYS
    )
    book_ahead_days = models.PositiveSmallIntegerField(_("可提前预约天数"), default=7)
    min_lead_minutes = models.PositiveIntegerField(_("最少提前（分钟）"), default=30)
    cancel_before_minutes = models.PositiveIntegerField(_("最晚取消（开始前分钟）"), default=60)
    per_person_open_limit = models.PositiveSmallIntegerField(_("每人未完成预约上限"), default=1)
    shared = models.BooleanField(_("向其他单位开放"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("预约服务")
        verbose_name_plural = _("预约服务")
        ordering = ["org_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "code"], name="appointment_service_code"),
            models.CheckConstraint(condition=Q(seats_per_slot__gt=0), name="service_seats"),
            models.CheckConstraint(condition=Q(slot_minutes__gte=5), name="service_slot_len"),
        ]

    def __str__(self) -> str:
        return self.name


class Provider(models.Model):
    """Who serves (a barber); seat n of a slot is served by the n-th active provider."""

    service = models.ForeignKey(
        AppointmentService, on_delete=models.CASCADE, related_name="providers"
    )
    name = models.CharField(_("姓名"), max_length=50)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sort = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    scope_org_field = "service__org"

    class Meta:
        ordering = ["sort", "id"]


class Slot(models.Model):
    """One time slot of a service with its seats; generated ahead from opening hours on
    the working calendar. ``taken`` only moves by conditional UPDATE."""

    service = models.ForeignKey(AppointmentService, on_delete=models.CASCADE, related_name="slots")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    seats = models.PositiveSmallIntegerField()
    taken = models.PositiveSmallIntegerField(default=0)
    is_open = models.BooleanField(default=True)  # a manager may close a slot

    scope_org_field = "service__org"

    class Meta:
        ordering = ["start_at"]
        constraints = [
            models.UniqueConstraint(fields=["service", "start_at"], name="slot_unique"),
            models.CheckConstraint(condition=Q(taken__lte=F("seats")), name="slot_not_over"),
        ]
        indexes = [models.Index(fields=["service", "start_at", "taken"], name="slot_service_time")]


class Appointment(TimestampedModel):
    """One person's seat in a slot."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+"
    )  # = service.org
    service = models.ForeignKey(
        AppointmentService, on_delete=models.PROTECT, related_name="appointments"
    )
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("预约人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    person_org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+"
    )  # the person's home unit, for scope of their unit's managers
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(max_length=24, unique=True)  # YY-YYYYMMDD-NNNN
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    note = models.CharField(max_length=200, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    served_at = models.DateTimeField(null=True, blank=True)
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("服务预约")
        verbose_name_plural = _("服务预约")
        ordering = ["-slot__start_at", "-id"]
        indexes = [
            models.Index(fields=["person", "status"], name="appt_person_status"),
            models.Index(fields=["service", "status"], name="appt_service_status"),
        ]
        constraints = [
            # one seat per person per slot
            models.UniqueConstraint(
                fields=["slot", "person"],
                condition=Q(status="booked"),
                name="appt_once_per_slot",
            ),
        ]
