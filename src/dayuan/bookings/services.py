"""Every write of room bookings: booking (with the standard's rules and the priority
rule's displacement), approval, cancellation, check-in by the QR code at the door, the
end of a meeting, recurring series, rooms and their check-in tokens.

No room ever holds two active bookings that overlap. ``book_room`` runs in one
transaction: on SQLite it is IMMEDIATE (the write lock is taken at BEGIN, so the
overlap check and the insert cannot interleave with another writer); on PostgreSQL the
room row is locked before the overlap check and the ``bookings_no_overlap`` exclusion
constraint has the last word (its IntegrityError is the same ``room_taken`` refusal).

A booking is visible to its booker and to whoever has ``bookings.view_all`` over the
room's org or over the organising unit; anyone else gets a 404, whatever they try.
``now`` is for tests and jobs; callers leave it out.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RuleRefused,
    StaleVersion,
)
from dayuan.core.numbers import next_number
from dayuan.core.text import clean_text
from dayuan.notifications.services import emit
from dayuan.orgs.choices import LocationKind
from dayuan.orgs.models import Location, Organization
from dayuan.standards import effective, engine
from dayuan.standards.choices import RuleKind
from dayuan.standards.rules import BookingParams
from dayuan.workcalendar.calendar import is_workday
from dayuan.workorders import photos as photo_files
from dayuan.workorders.tasks import role_holders

from . import events, queries
from .choices import (
    PRIORITY_RANK,
    BookingStatus,
    Equipment,
    MeetingType,
    OpenDays,
    Priority,
    ResourceClass,
)
from .models import ROOM_SETTINGS, Booking, BookingEvent, BookingSeries, Room, new_token

S = BookingStatus

AUDIT_FIELDS = [
    "status",
    "active",
    "start_at",
    "end_at",
    "priority",
    "decided_by_id",
    "checked_in_at",
    "ended_at",
    "displaced_by_id",
    "version",
]
ROOM_FIELDS = ["org_id", "location_id", "building_id", *ROOM_SETTINGS, "version"]
CHECKIN_EARLY = timedelta(minutes=15)  # the door's QR code works from 15 minutes before
EMERGENCY_PAST = timedelta(hours=2)  # 先用后登记: registered up to 2 hours after the start
MAX_OCCURRENCES = 52
ALTERNATIVES = 3
# refusals of one occurrence of a series that leave the other occurrences bookable
OCCURRENCE_CODES = {"booking_in_past", "outside_opening_hours"}


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def _local(dt: datetime) -> datetime:
    return timezone.localtime(dt)


def _iso(dt: datetime) -> str:
    return _local(dt).isoformat()


def _span(booking: Booking) -> str:
    start, end = _local(booking.start_at), _local(booking.end_at)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def _link(booking: Booking) -> str:
    return f"/bookings/{booking.pk}/"


# --- who ---------------------------------------------------------------------------------


def room_visible(user: Any, room: Room) -> bool:
    """Bookable by ``user``: active, and in their scope or shared (共享)."""
    return room.is_active and (room.shared or room.org_id in queries.book_org_ids(user))


def booking_visible(user: Any, booking: Booking) -> bool:
    return (
        getattr(user, "pk", None) == booking.booker_id
        or policy.can(user, "bookings.view_all", booking.org)
        or policy.can(user, "bookings.view_all", booking.organizer_unit)
    )


def _is_booker(user: Any, booking: Booking) -> bool:
    return getattr(user, "pk", None) == booking.booker_id


def _booker_or_manager(user: Any, booking: Booking) -> bool:
    return _is_booker(user, booking) or policy.can(user, "bookings.manage", booking.org)


def _room(actor: Any, room_id: int | None) -> Room:
    """The room to book: 404 unless visible; an inactive one the actor manages or may
    book in is refused as such (outsiders learn nothing of it)."""
    room = (
        Room.objects.select_related("org", "location").filter(pk=room_id).order_by().first()
        if room_id is not None
        else None
    )
    if room is None:
        raise NotFound(_("会议室不存在或无权访问。"))
    if not room.is_active:
        if policy.can(actor, "bookings.book", room.org):
            raise InvalidInput(_("该会议室已停用。"), code="room_inactive", field="room_id")
        raise NotFound(_("会议室不存在或无权访问。"))
    if not room_visible(actor, room):
        raise NotFound(_("会议室不存在或无权访问。"))
    return room


def _lock_booking(actor: Any, booking_id: int) -> Booking:
    """Lock; 404 when the actor may not see it."""
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("org", "organizer_unit", "room", "room__location", "booker")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None or not booking_visible(actor, booking):
        raise NotFound(_("预订不存在或无权访问。"))
    return booking


def _lock_managed_room(actor: Any, room_id: int) -> Room:
    """Lock a room the actor manages; 403 when they only see it, 404 when they don't."""
    room = (
        Room.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=room_id)
        .first()
    )
    if room is None or not policy.can(actor, "bookings.manage", room.org):
        if room is not None and room_visible(actor, room):
            raise PermissionDenied(action="bookings.manage")
        raise NotFound(_("会议室不存在或无权访问。"))
    return room


def _lock_pending(actor: Any, booking_id: int, version: int | None) -> Booking:
    """Lock a pending booking for a manager of the room's org to decide on."""
    booking = _lock_booking(actor, booking_id)
    policy.require(actor, "bookings.approve", booking.org)
    _check_version(booking, version)
    _require_status(booking, [S.PENDING], _("审批"))
    return booking


def _require_status(booking: Booking, allowed: Sequence[str], action: Any) -> None:
    if booking.status not in allowed:
        raise Conflict(
            _("预订当前状态为“%(status)s”，不能%(action)s。")
            % {"status": BookingStatus(booking.status).label, "action": action},
            code="illegal_transition",
            status=booking.status,
        )


# --- shared steps ------------------------------------------------------------------------


def booking_event(
    booking: Booking, actor: Any, action: str, at: datetime, from_status: str = "", **details: Any
) -> BookingEvent:
    return BookingEvent.objects.create(
        booking=booking,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        at=at,
        from_status=from_status,
        to_status=booking.status,
        details=details,
    )


def notify(
    event_type: str,
    booking: Booking,
    actor: Any,
    recipients: Sequence[Any],
    title: str,
    *,
    key: str,
    org: Organization | None = None,
    body: str = "",
    tell_actor: bool = False,
    **payload: Any,
) -> None:
    """Tell ``recipients`` (never the actor, unless it is their own receipt). The
    booker is told under the organising unit (a shared room's owner is outside their
    reach); the room's managers under the room's org. ``emit`` drops anyone whose
    grants do not reach ``org``, so another county never hears of it."""
    users = [u for u in recipients if u is not None and getattr(u, "pk", None)]
    if actor is not None and not tell_actor:
        users = [u for u in users if u.pk != getattr(actor, "pk", None)]
    if not users:
        return
    emit(
        event_type,
        org=org or booking.organizer_unit,
        actor=actor if getattr(actor, "pk", None) else None,
        recipients=users,
        title=title,
        body=body
        or _("%(number)s %(title)s（%(room)s %(span)s）")
        % {
            "number": booking.number,
            "title": booking.title,
            "room": booking.room.name,
            "span": _span(booking),
        },
        link=_link(booking),
        object=booking,
        dedupe_key=f"booking:{booking.pk}:{key}",
        payload={
            "number": booking.number,
            "status": booking.status,
            "room_id": booking.room_id,
            "start": _iso(booking.start_at),
            "end": _iso(booking.end_at),
            **payload,
        },
    )


def _save(booking: Booking, before: dict[str, Any], actor: Any, verb: str, **extra: Any) -> None:
    booking.version += 1
    booking.save()
    record(
        f"bookings.{verb}",
        actor=actor,
        obj=booking,
        changes=diff(before, snapshot(booking, AUDIT_FIELDS)),
        **extra,
    )


def call_off_services(booking: Booking, actor: Any, now: datetime, reason: str) -> int:
    from . import meeting

    return meeting.cancel_services(booking, actor=actor, now=now, reason=reason)


# --- checks of a booking ------------------------------------------------------------------


def _check_hours(room: Room, start: datetime, end: datetime) -> None:
    """Both ends within the room's opening hours of one local day, an open day."""
    ls, le = _local(start), _local(end)
    ok = (
        ls.date() == le.date()
        and room.opens_at <= ls.time().replace(tzinfo=None)
        and le.time().replace(tzinfo=None) <= room.closes_at
        and (room.open_days != OpenDays.WORKDAYS or is_workday(ls.date()))
    )
    if not ok:
        raise InvalidInput(
            _("不在会议室开放时间内（%(days)s %(opens)s–%(closes)s）。")
            % {
                "days": OpenDays(room.open_days).label,
                "opens": f"{room.opens_at:%H:%M}",
                "closes": f"{room.closes_at:%H:%M}",
            },
            code="outside_opening_hours",
            field="start_at",
        )


def _check_attendees(room: Room, attendees: Any) -> int:
    if isinstance(attendees, bool) or not isinstance(attendees, int) or attendees < 1:
        raise InvalidInput(_("参会人数须为正整数。"), code="invalid_attendees", field="attendees")
    if attendees > room.capacity:
        raise InvalidInput(
            _("参会人数超过会议室容纳人数（%(n)s 人）。") % {"n": room.capacity},
            code="over_capacity",
            field="attendees",
            capacity=room.capacity,
        )
    return attendees


def _check_equipment(room: Room, equipment: Sequence[str]) -> list[str]:
    wanted = sorted({str(e) for e in equipment or ()})
    unknown = [e for e in wanted if e not in Equipment.values]
    if unknown:
        raise InvalidInput(
            _("设备类型无效。"), code="invalid_equipment", field="equipment", items=unknown
        )
    missing = [e for e in wanted if e not in (room.equipment or [])]
    if missing:
        raise InvalidInput(
            _("该会议室没有所需设备：%(items)s。")
            % {"items": "、".join(str(Equipment(e).label) for e in missing)},
            code="equipment_missing",
            field="equipment",
            items=missing,
        )
    return wanted


def _organizer_unit(actor: Any, organizer_unit_id: int | None) -> Organization:
    """The organising unit: the actor's home unit by default; any org in their scope."""
    unit_id = organizer_unit_id if organizer_unit_id is not None else actor.home_org_id
    unit = Organization.objects.filter(pk=unit_id, is_active=True).first() if unit_id else None
    if unit is None or not policy.can(actor, "bookings.book", unit):
        raise InvalidInput(
            _("主办单位无效。"), code="invalid_organizer_unit", field="organizer_unit_id"
        )
    return unit


def _priority_cite(room: Room, now: datetime) -> dict[str, Any] | None:
    """The clause of the priority rule (重要优先、紧急优先) in force for the room, if any."""
    for rule in effective.effective_rules(
        room.org, kind=RuleKind.BOOKING, target=f"booking:{room.resource_class}", at=now
    ):
        if isinstance(rule.params, BookingParams) and rule.params.priority:
            return rule.cite()
    return None


def _overlapping(room: Room, start: datetime, end: datetime) -> list[Booking]:
    return list(
        Booking.objects.select_for_update(of=("self",))
        .select_related("booker", "organizer_unit", "room")
        .filter(room=room, active=True, start_at__lt=end, end_at__gt=start)
        .order_by("start_at", "pk")
    )


def _room_taken(actor: Any, room: Room, priority: str, conflicts: Sequence[Booking]) -> Conflict:
    """The refusal for a taken time: when and whether the actor could displace, never
    whose booking it is (it may be another unit's)."""
    top = max((PRIORITY_RANK[Priority(b.priority)] for b in conflicts), default=-1)
    return Conflict(
        _("该时段会议室已被占用。"),
        code="room_taken",
        conflicts=[{"start": _iso(b.start_at), "end": _iso(b.end_at)} for b in conflicts],
        can_displace=bool(conflicts)
        and policy.can(actor, "bookings.manage", room.org)
        and PRIORITY_RANK[Priority(priority)] > top,
    )


class _KeyTaken(Exception):
    """The same client key was used meanwhile (resolved by the caller)."""


def _insert(now: datetime, client_key: str | None, **fields: Any) -> Booking:
    """Create with the day's next number (a savepoint per attempt). An IntegrityError
    is a number taken meanwhile (retried), the same client key at once, or (PostgreSQL)
    the exclusion constraint: an overlapping booking committed meanwhile."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Booking.objects.create(
                    number=next_number(Booking, "HY", now),
                    client_key=client_key,
                    requested_at=now,
                    **fields,
                )
        except IntegrityError as exc:
            if client_key and Booking.objects.filter(client_key=client_key).exists():
                raise _KeyTaken() from exc
            room, start, end = fields["room"], fields["start_at"], fields["end_at"]
            taken = Booking.objects.filter(
                room=room, active=True, start_at__lt=end, end_at__gt=start
            )
            if "bookings_no_overlap" in str(exc) or taken.exists():
                raise Conflict(
                    _("该时段会议室已被占用。"),
                    code="room_taken",
                    conflicts=[{"start": _iso(b.start_at), "end": _iso(b.end_at)} for b in taken],
                    can_displace=False,
                ) from None
    raise Conflict(_("预订编号分配冲突，请重试。"), code="number_conflict")


def _same_key(actor: Any, client_key: str) -> Booking | None:
    existing = (
        Booking.objects.select_related("room", "org", "organizer_unit")
        .filter(client_key=client_key)
        .first()
    )
    if existing is not None and existing.booker_id != getattr(actor, "pk", None):
        raise Conflict(_("预订标识已被使用。"), code="client_key_taken")
    return existing


# --- booking -----------------------------------------------------------------------------


@audited("bookings.book")
def book_room(
    *,
    actor: Any,
    room_id: int,
    start_at: datetime,
    end_at: datetime,
    title: str,
    attendees: int,
    organizer_unit_id: int | None = None,
    meeting_type: str = MeetingType.OFFICE,
    leaders_attending: bool = False,
    equipment: Sequence[str] = (),
    contact_name: str = "",
    contact_phone: str = "",
    note: str = "",
    priority: str = Priority.NORMAL,
    emergency: bool = False,
    services: Sequence[Mapping[str, str]] = (),
    displace: bool = False,
    displace_reason: str = "",
    client_key: str | None = None,
    series: BookingSeries | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book a room for a time range, checked against the room and the standard's
    ``booking`` rules; the same ``client_key`` again (a retry, a double tap) gives the
    same booking back. With ``displace`` a manager takes the time from lower-priority
    bookings (重要优先、紧急优先), whose bookers are told with suggested alternatives."""
    now = _now(now)
    room = _room(actor, room_id)
    policy.require(actor, "bookings.book")
    client_key = clean_text(client_key, "client_key", "client_key", 64, required=False) or None
    if client_key and (existing := _same_key(actor, client_key)) is not None:
        return existing
    if (
        start_at is None
        or end_at is None
        or timezone.is_naive(start_at)
        or timezone.is_naive(end_at)
    ):
        raise InvalidInput(_("请填写开始和结束时间。"), code="booking_bad_range", field="start_at")
    if end_at <= start_at:
        raise InvalidInput(_("结束时间须晚于开始时间。"), code="booking_bad_range", field="end_at")
    if start_at < now - (EMERGENCY_PAST if emergency else timedelta(0)):
        raise InvalidInput(_("开始时间已过，不能预订。"), code="booking_in_past", field="start_at")
    _check_hours(room, start_at, end_at)
    attendees = _check_attendees(room, attendees)
    equipment = _check_equipment(room, equipment)
    if meeting_type not in MeetingType.values:
        raise InvalidInput(_("会议类型无效。"), code="invalid_meeting_type", field="meeting_type")
    if priority not in Priority.values:
        raise InvalidInput(_("优先级无效。"), code="invalid_priority", field="priority")
    unit = _organizer_unit(actor, organizer_unit_id)
    title = clean_text(title, "title", _("会议名称"), 200)
    contact_name = clean_text(contact_name, "contact_name", _("联系人"), 50, required=False)
    contact_phone = clean_text(contact_phone, "contact_phone", _("联系电话"), 20, required=False)
    note = clean_text(note, "note", _("备注"), 500, required=False)
    displace_reason = clean_text(
        displace_reason, "displace_reason", _("调整原因"), 500, required=False
    )

    rs = engine.booking_rules(room.org, room.resource_class, at=now)
    violations = engine.check_booking(
        rs,
        start=start_at,
        end=end_at,
        requested_at=now,
        fields={
            "organizer_unit": unit.pk,
            "attendees": attendees,
            "meeting_type": meeting_type,
            "equipment": equipment,
            "leaders_attending": "是" if leaders_attending else "否",
            "contact_name": contact_name,
            "contact_phone": contact_phone,
            "start_at": _iso(start_at),
            "end_at": _iso(end_at),
        },
    )
    if emergency:
        if not rs.emergency_register_after:
            raise InvalidInput(
                _("该类会议室不受理紧急会议先用后登记。"),
                code="emergency_not_allowed",
                field="emergency",
            )
        violations = [v for v in violations if v.code not in ("lead_time", "window")]
    if any(v.blocking for v in violations):
        raise engine.refusal(violations)
    pending = room.requires_approval or rs.requires_approval
    status = S.PENDING if pending else S.CONFIRMED
    checked_in_at = None
    if emergency and status == S.CONFIRMED and start_at <= now:
        status, checked_in_at = S.CHECKED_IN, now  # 先用后登记: the room is in use already

    # Serialise writers of this room (SQLite: the IMMEDIATE transaction already does).
    if connection.features.has_select_for_update:
        list(Room.objects.select_for_update().filter(pk=room.pk).values_list("pk", flat=True))
    conflicts = _overlapping(room, start_at, end_at)
    if conflicts and not displace:
        raise _room_taken(actor, room, priority, conflicts)
    if conflicts:
        _check_displace(actor, room, priority, displace_reason, conflicts)
        for old in conflicts:  # free the time first: the exclusion constraint is immediate
            Booking.objects.filter(pk=old.pk).update(active=False, status=S.DISPLACED)
    try:
        booking = _insert(
            now,
            client_key,
            org=room.org,
            room=room,
            series=series,
            booker=actor,
            organizer_unit=unit,
            title=title,
            meeting_type=meeting_type,
            attendees=attendees,
            leaders_attending=bool(leaders_attending),
            equipment=equipment,
            contact_name=contact_name,
            contact_phone=contact_phone,
            note=note,
            priority=priority,
            start_at=start_at,
            end_at=end_at,
            status=status,
            active=True,
            checked_in_at=checked_in_at,
            emergency=bool(emergency),
        )
    except _KeyTaken:
        existing = _same_key(actor, client_key or "")
        assert existing is not None
        return existing
    if services:
        from . import meeting

        meeting.order_services(booking, services, actor=actor, now=now)
    details: dict[str, Any] = {"status": status}
    if pending:
        details["approval"] = rs.cite("approval") if rs.requires_approval else {"room": room.name}
    if emergency:
        details["emergency"] = True
    if series is not None:
        details["series"] = series.pk
    booking_event(booking, actor, "book", now, **details)
    record(
        "bookings.book",
        actor=actor,
        obj=booking,
        changes=diff(
            {},
            snapshot(
                booking,
                ["number", "room_id", "organizer_unit_id", "title", "attendees", *AUDIT_FIELDS],
            ),
        ),
    )
    if conflicts:
        _displace(actor, booking, conflicts, displace_reason, now)
    if pending:
        notify(
            events.PENDING,
            booking,
            actor,
            [actor],
            _("预订已提交，待审批：%(title)s") % {"title": booking.title},
            key="pending",
            tell_actor=True,
        )
        notify(
            events.PENDING,
            booking,
            actor,
            role_holders(room.org, {"manager"}),
            _("会议室预订待审批：%(title)s") % {"title": booking.title},
            key="approve",
            org=room.org,
        )
    else:
        notify(
            events.BOOKED,
            booking,
            actor,
            [actor],
            _("会议室预订成功：%(title)s") % {"title": booking.title},
            key="booked",
            tell_actor=True,
        )
    return booking


def _check_displace(
    actor: Any, room: Room, priority: str, reason: str, conflicts: Sequence[Booking]
) -> None:
    if not policy.can(actor, "bookings.manage", room.org):
        raise PermissionDenied(_("只有会议室管理人员可以调整已有预订。"), action="bookings.manage")
    if not reason:
        raise InvalidInput(_("请填写调整原因。"), code="reason_required", field="displace_reason")
    rank = PRIORITY_RANK[Priority(priority)]
    if any(PRIORITY_RANK[Priority(b.priority)] >= rank for b in conflicts):
        raise Conflict(
            _("只能调整优先级更低的预订（重要优先、紧急优先）。"),
            code="lower_priority",
            conflicts=[{"start": _iso(b.start_at), "end": _iso(b.end_at)} for b in conflicts],
        )


def _displace(
    actor: Any, new: Booking, displaced: Sequence[Booking], reason: str, now: datetime
) -> None:
    """Each displaced booking: its services cancelled, an event, an audit entry, and its
    booker told why, with up to three free rooms for the same time."""
    cite = _priority_cite(new.room, now)
    for old in displaced:
        before = snapshot(old, AUDIT_FIELDS)
        from_status = old.status
        old.status, old.active = S.DISPLACED, False
        old.displaced_by, old.displace_reason = new, reason
        old.version += 1
        old.save(
            update_fields=[
                "status",
                "active",
                "displaced_by",
                "displace_reason",
                "version",
                "updated_at",
            ]
        )
        call_off_services(old, actor, now, _("会议室预订被调整：%(r)s") % {"r": reason})
        alternatives = queries.free_rooms(
            old.booker,
            old.start_at,
            old.end_at,
            attendees=old.attendees,
            equipment=old.equipment,
            limit=ALTERNATIVES,
        )[:ALTERNATIVES]
        booking_event(
            old,
            actor,
            "displace",
            now,
            from_status,
            by=new.number,
            by_id=new.pk,
            reason=reason,
            alternatives=[r.pk for r in alternatives],
            clause=cite,
        )
        record(
            "bookings.displace",
            actor=actor,
            obj=old,
            changes=diff(before, snapshot(old, AUDIT_FIELDS)),
            reason=reason,
        )
        span = _span(old)
        if alternatives:
            suggested = _("可选空闲会议室：%(rooms)s（%(span)s）") % {
                "rooms": "、".join(r.name for r in alternatives),
                "span": span,
            }
        else:
            suggested = _("同一时段暂无其他空闲会议室。")
        notify(
            events.DISPLACED,
            old,
            actor,
            [old.booker],
            _("会议室预订被调整：%(title)s") % {"title": old.title},
            key="displaced",
            body=_("%(number)s %(title)s（%(room)s %(span)s）因“%(reason)s”被调整。%(alt)s")
            % {
                "number": old.number,
                "title": old.title,
                "room": old.room.name,
                "span": span,
                "reason": reason,
                "alt": suggested,
            },
            reason=reason,
            alternatives=[{"id": r.pk, "name": r.name} for r in alternatives],
        )


# --- decisions and the meeting's life ------------------------------------------------------


@audited("bookings.approve")
def approve(
    *,
    actor: Any,
    booking_id: int,
    version: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Booking:
    """A manager of the room's org confirms a pending booking."""
    now = _now(now)
    booking = _lock_pending(actor, booking_id, version)
    note = clean_text(note, "note", _("审批意见"), 500, required=False)
    before = snapshot(booking, AUDIT_FIELDS)
    booking.status = S.CONFIRMED
    booking.decided_by, booking.decided_at, booking.decision_note = actor, now, note
    _save(booking, before, actor, "approve")
    booking_event(booking, actor, "approve", now, S.PENDING, note=note)
    notify(
        events.APPROVED,
        booking,
        actor,
        [booking.booker],
        _("会议室预订已批准：%(title)s") % {"title": booking.title},
        key="approved",
    )
    return booking


@audited("bookings.reject")
def reject(
    *,
    actor: Any,
    booking_id: int,
    version: int | None = None,
    reason: str,
    now: datetime | None = None,
) -> Booking:
    """A manager of the room's org turns a pending booking down; the time is free again
    and its services are called off."""
    now = _now(now)
    booking = _lock_pending(actor, booking_id, version)
    reason = clean_text(reason, "reason", _("原因"), 500)
    before = snapshot(booking, AUDIT_FIELDS)
    booking.status, booking.active = S.REJECTED, False
    booking.decided_by, booking.decided_at, booking.decision_note = actor, now, reason
    _save(booking, before, actor, "reject", reason=reason)
    call_off_services(booking, actor, now, reason)
    booking_event(booking, actor, "reject", now, S.PENDING, reason=reason)
    notify(
        events.REJECTED,
        booking,
        actor,
        [booking.booker],
        _("会议室预订未通过：%(title)s") % {"title": booking.title},
        key="rejected",
        reason=reason,
    )
    return booking


@audited("bookings.cancel")
def cancel(
    *,
    actor: Any,
    booking_id: int,
    version: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """The booker (or a manager of the room) calls a booking off before it starts."""
    now = _now(now)
    booking = _lock_booking(actor, booking_id)
    if not _booker_or_manager(actor, booking):
        raise PermissionDenied(action="bookings.manage")
    _check_version(booking, version)
    _require_status(booking, [S.PENDING, S.CONFIRMED], _("取消"))
    if booking.start_at <= now:
        raise Conflict(_("会议已开始，不能取消。"), code="already_started")
    reason = clean_text(reason, "reason", _("原因"), 500, required=False)
    before = snapshot(booking, AUDIT_FIELDS)
    from_status = booking.status
    booking.status, booking.active = S.CANCELLED, False
    booking.cancelled_at, booking.cancel_reason = now, reason
    _save(booking, before, actor, "cancel", reason=reason)
    call_off_services(booking, actor, now, reason or _("会议室预订已取消"))
    booking_event(booking, actor, "cancel", now, from_status, reason=reason)
    notify(
        events.CANCELLED,
        booking,
        actor,
        [booking.booker],
        _("会议室预订已取消：%(title)s") % {"title": booking.title},
        key="cancelled",
        reason=reason,
    )
    return booking


def _checkin_window(booking: Booking) -> tuple[datetime, datetime]:
    grace = timedelta(minutes=booking.room.checkin_grace_minutes)
    return booking.start_at - CHECKIN_EARLY, booking.start_at + grace


@audited("bookings.check_in")
def check_in(
    *,
    actor: Any,
    room_token: str | None = None,
    booking_id: int | None = None,
    now: datetime | None = None,
) -> Booking:
    """Check in at the door (the QR code names the room; the booking is the scanner's
    own one starting about now) or by booking id (its booker or a manager). From 15
    minutes before the start until the grace period ends; again → the same booking."""
    now = _now(now)
    if booking_id is not None:
        booking = _lock_booking(actor, booking_id)
        if not _booker_or_manager(actor, booking):
            raise PermissionDenied(action="bookings.manage")
    else:
        token = (room_token or "").strip()
        room = Room.objects.filter(checkin_token=token).first() if token else None
        if room is None:
            raise NotFound(_("签到码无效。"))
        booking = _booking_at_door(actor, room, now)
    if booking.status == S.CHECKED_IN:
        return booking  # a second scan: nothing new
    if booking.status == S.PENDING:
        raise Conflict(_("预订尚未批准，不能签到。"), code="not_approved")
    _require_status(booking, [S.CONFIRMED], _("签到"))
    opens, closes = _checkin_window(booking)
    if now < opens:
        raise Conflict(
            _("会议开始前 15 分钟起可以签到。"),
            code="checkin_too_early",
            opens_at=_iso(opens),
        )
    if now > closes:
        raise Conflict(_("已超过签到时间。"), code="checkin_too_late")
    before = snapshot(booking, AUDIT_FIELDS)
    booking.status, booking.checked_in_at = S.CHECKED_IN, now
    _save(booking, before, actor, "check_in")
    booking_event(booking, actor, "check_in", now, S.CONFIRMED)
    return booking


def _booking_at_door(actor: Any, room: Room, now: datetime) -> Booking:
    """The actor's booking of ``room`` to check in to now (or already checked in to);
    too early when their next one today has not opened for check-in yet."""
    day_end = _local(now).replace(hour=23, minute=59, second=59)
    mine = list(
        Booking.objects.select_for_update(of=("self",))
        .select_related("org", "organizer_unit", "room", "booker")
        .filter(
            room=room,
            booker_id=getattr(actor, "pk", None),
            active=True,
            end_at__gt=now,
            start_at__lte=day_end,
        )
        .order_by("start_at", "pk")
    )
    for b in mine:
        if b.status == S.CHECKED_IN and b.start_at - CHECKIN_EARLY <= now:
            return b
    for b in mine:
        opens, closes = _checkin_window(b)
        if opens <= now <= closes:
            return b
    upcoming = [b for b in mine if _checkin_window(b)[0] > now]
    if upcoming:
        return upcoming[0]  # refused as too early by the caller
    if mine:
        raise Conflict(_("已超过签到时间。"), code="checkin_too_late")
    raise Conflict(_("您在该会议室当前没有可签到的预订。"), code="nothing_to_check_in")


@audited("bookings.end")
def end_meeting(*, actor: Any, booking_id: int, now: datetime | None = None) -> Booking:
    """The meeting is over (the booker or a manager says so, or the job at the end
    time): the room is free again and the cleaning order goes out."""
    now = _now(now)
    booking = _lock_booking(actor, booking_id)
    if not _booker_or_manager(actor, booking):
        raise PermissionDenied(action="bookings.manage")
    _require_status(booking, [S.CHECKED_IN, S.CONFIRMED], pgettext("booking", "结束"))
    if booking.start_at > now:
        raise Conflict(_("会议尚未开始。"), code="not_started")
    return finish(booking, actor=actor, now=now, ended_at=now)


def finish(booking: Booking, *, actor: Any, now: datetime, ended_at: datetime) -> Booking:
    """Complete a locked booking (``end_meeting`` and the ``complete_finished`` job)."""
    from . import meeting

    before = snapshot(booking, AUDIT_FIELDS)
    from_status = booking.status
    booking.status, booking.active, booking.ended_at = S.COMPLETED, False, ended_at
    _save(booking, before, actor, "end")
    booking_event(booking, actor, "end", now, from_status)
    meeting.order_cleaning(booking, now=now)
    return booking


# --- recurring bookings --------------------------------------------------------------------


def _occurrences(rrule: str, first_start: datetime) -> list[datetime]:
    """The starts of an RRULE (RFC 5545) from ``first_start`` (local time); bounded by
    COUNT or UNTIL, at most ``MAX_OCCURRENCES``."""
    from dateutil import rrule as rr

    text = (rrule or "").strip()
    if not text or len(text) > 300:
        raise InvalidInput(_("重复规则无效。"), code="invalid_rrule", field="rrule")
    local = _local(first_start)
    try:
        try:
            rule = rr.rrulestr(text, dtstart=local, forceset=True)
        except ValueError:  # UNTIL without "Z" next to an aware start: read it as local
            rule = rr.rrulestr(text, dtstart=local.replace(tzinfo=None), forceset=True)
        rules = list(rule._rrule)
        if not rules:
            raise ValueError("no RRULE")
        if any(r._count is None and r._until is None for r in rules):
            raise InvalidInput(
                _("重复规则须指定次数（COUNT）或截止日期（UNTIL）。"),
                code="rrule_unbounded",
                field="rrule",
            )
        starts = list(itertools.islice(rule, MAX_OCCURRENCES + 1))
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise InvalidInput(_("重复规则无效。"), code="invalid_rrule", field="rrule") from exc
    if len(starts) > MAX_OCCURRENCES:
        raise InvalidInput(
            _("重复预订最多 %(n)s 次。") % {"n": MAX_OCCURRENCES},
            code="rrule_too_many",
            field="rrule",
        )
    tz = local.tzinfo
    return [s if s.tzinfo else s.replace(tzinfo=tz) for s in starts]


@audited("bookings.book_series")
def book_series(
    *,
    actor: Any,
    room_id: int,
    rrule: str,
    first_start: datetime,
    duration_minutes: int,
    now: datetime | None = None,
    **fields: Any,
) -> tuple[BookingSeries, list[Booking]]:
    """A recurring booking: every occurrence is booked on its own; one refused for its
    time (taken, outside hours, against a rule) is listed in ``series.conflicts`` and
    the others still book. A refusal that would hit every occurrence (no permission,
    bad fields) refuses the whole series."""
    now = _now(now)
    room = _room(actor, room_id)
    policy.require(actor, "bookings.book")
    if first_start is None or timezone.is_naive(first_start):
        raise InvalidInput(_("请填写开始时间。"), code="booking_bad_range", field="first_start")
    if (
        isinstance(duration_minutes, bool)
        or not isinstance(duration_minutes, int)
        or not 5 <= duration_minutes <= 24 * 60
    ):
        raise InvalidInput(_("会议时长无效。"), code="invalid_duration", field="duration_minutes")
    for name in ("series", "client_key", "start_at", "end_at", "room_id", "displace"):
        fields.pop(name, None)  # one per occurrence, or not for a series
    starts = _occurrences(rrule, first_start)
    series = BookingSeries.objects.create(
        org=room.org,
        room=room,
        booker=actor,
        rrule=rrule.strip(),
        first_start=first_start,
        duration_minutes=duration_minutes,
    )
    length = timedelta(minutes=duration_minutes)
    booked: list[Booking] = []
    conflicts: list[dict[str, Any]] = []
    for start in starts:
        try:
            booked.append(
                book_room(
                    actor=actor,
                    room_id=room.pk,
                    start_at=start,
                    end_at=start + length,
                    series=series,
                    now=now,
                    **fields,
                )
            )
        except (Conflict, RuleRefused, InvalidInput) as exc:
            if isinstance(exc, InvalidInput) and exc.code not in OCCURRENCE_CODES:
                raise
            conflicts.append(_series_conflict(start, start + length, exc))
    series.conflicts = conflicts
    series.save(update_fields=["conflicts", "updated_at"])
    record(
        "bookings.book_series",
        actor=actor,
        obj=series,
        changes={
            "rrule": series.rrule,
            "booked": [b.number for b in booked],
            "conflicts": len(conflicts),
        },
    )
    return series, booked


def _series_conflict(start: datetime, end: datetime, exc: DomainError) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "start": _iso(start),
        "end": _iso(end),
        "code": exc.code,
        "message": str(exc.message),
    }
    violations = exc.details.get("violations")
    if violations:
        entry["violations"] = violations
        entry["clause"] = violations[0]
    return entry


# --- rooms -------------------------------------------------------------------------------


def _building_of(location: Location) -> Location | None:
    parts = [p for p in location.path.split(".") if p]
    paths = [".".join(parts[: i + 1]) + "." for i in range(len(parts))]
    return (
        Location.objects.filter(path__in=paths, kind=LocationKind.BUILDING)
        .order_by("-depth")
        .first()
    )


def _time(value: Any, field: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(_("时间格式无效。"), code="invalid_time", field=field) from exc


@audited("bookings.save_room")
def save_room(
    *,
    actor: Any,
    room_id: int | None = None,
    version: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    name: str | None = None,
    resource_class: str | None = None,
    capacity: int | None = None,
    equipment: Sequence[str] | None = None,
    description: str | None = None,
    opens_at: Any = None,
    closes_at: Any = None,
    open_days: str | None = None,
    shared: bool | None = None,
    requires_approval: bool | None = None,
    checkin_required: bool | None = None,
    checkin_grace_minutes: int | None = None,
    is_active: bool | None = None,
    photo: Any = None,
    remove_photo: bool = False,
) -> Room:
    """Add or edit a room (``None`` keeps a field as it is; a new room needs org,
    location, name and capacity). The building is taken from the location tree.

    ``photo`` (an upload) replaces the room's photo, ``remove_photo`` drops it. The
    upload is checked and re-encoded like work-order photos (JPEG/PNG/WebP only, EXIF
    with any GPS position stripped, a thumbnail made) before anything is written; the
    old files are deleted once the change is committed."""
    if room_id is None:
        org = Organization.objects.filter(pk=org_id, is_active=True).first()
        if org is None or not policy.can(actor, "orgs.view", org):
            raise NotFound()
        policy.require(actor, "bookings.manage", org)
        room = Room(org=org)
        before: dict[str, Any] = {}
        if location_id is None or name is None or capacity is None:
            raise InvalidInput(
                _("请填写位置、名称和容纳人数。"), code="required", field="location_id"
            )
    else:
        room = _lock_managed_room(actor, room_id)
        _check_version(room, version)
        before = snapshot(room, ROOM_FIELDS)
        room.version += 1
    if location_id is not None:
        location = Location.objects.select_related("org").filter(pk=location_id).first()
        if (
            location is None
            or not location.is_active
            or not location.org.path.startswith(room.org.path)
        ):
            raise InvalidInput(
                _("位置须属于会议室所属单位。"), code="invalid_location", field="location_id"
            )
        room.location, room.building = location, _building_of(location)
    if name is not None:
        room.name = clean_text(name, "name", _("名称"), 100)
    if resource_class is not None:
        if resource_class not in ResourceClass.values:
            raise InvalidInput(
                _("会议室类别无效。"), code="invalid_resource_class", field="resource_class"
            )
        room.resource_class = resource_class
    if capacity is not None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 5000:
            raise InvalidInput(_("容纳人数无效。"), code="invalid_capacity", field="capacity")
        room.capacity = capacity
    if equipment is not None:
        wanted = sorted({str(e) for e in equipment})
        if any(e not in Equipment.values for e in wanted):
            raise InvalidInput(_("设备类型无效。"), code="invalid_equipment", field="equipment")
        room.equipment = wanted
    if description is not None:
        room.description = clean_text(description, "description", _("说明"), 500, required=False)
    if opens_at is not None:
        room.opens_at = _time(opens_at, "opens_at")
    if closes_at is not None:
        room.closes_at = _time(closes_at, "closes_at")
    if _time(room.opens_at, "opens_at") >= _time(room.closes_at, "closes_at"):
        raise InvalidInput(_("开放时间须早于关闭时间。"), code="invalid_hours", field="closes_at")
    if open_days is not None:
        if open_days not in OpenDays.values:
            raise InvalidInput(_("开放日无效。"), code="invalid_open_days", field="open_days")
        room.open_days = open_days
    if checkin_grace_minutes is not None:
        if (
            isinstance(checkin_grace_minutes, bool)
            or not isinstance(checkin_grace_minutes, int)
            or not 0 <= checkin_grace_minutes <= 240
        ):
            raise InvalidInput(
                _("签到宽限时间无效。"),
                code="invalid_grace",
                field="checkin_grace_minutes",
            )
        room.checkin_grace_minutes = checkin_grace_minutes
    for attr, value in (
        ("shared", shared),
        ("requires_approval", requires_approval),
        ("checkin_required", checkin_required),
        ("is_active", is_active),
    ):
        if value is not None:
            setattr(room, attr, bool(value))
    photo_change = photo_files.replace_photo(room, photo, remove=remove_photo)
    room.save()
    changes = diff(before, snapshot(room, ROOM_FIELDS))
    if photo_change:
        changes["photo"] = photo_change
    record("bookings.save_room", actor=actor, obj=room, changes=changes)
    return room


@audited("bookings.rotate_token")
def rotate_checkin_token(*, actor: Any, room_id: int) -> Room:
    """A new QR code for the door (the old one leaked or was photographed); the old
    token stops working at once."""
    room = _lock_managed_room(actor, room_id)
    room.checkin_token = new_token()
    room.version += 1
    room.save(update_fields=["checkin_token", "version", "updated_at"])
    record("bookings.rotate_token", actor=actor, obj=room, changes={"checkin_token": "rotated"})
    return room
