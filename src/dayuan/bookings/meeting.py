"""Meeting services of a booking: tea, AV, name cards, banners, layout and the cleaning
after the meeting, each a work order for the responsible team; and the in-meeting and
after-meeting checklists, each an inspection of the room.

A service's work order is in the category ``meeting.<kind>`` of the room's org or its
nearest ancestor; its ``before_start`` clocks (tea ready 15 minutes before the start …)
come from the standard's ``sla`` rules and are anchored at the meeting's start, so the
due times are stored with the order and a late set-up is a plain query. A booking
orders each kind once (a cancelled order may be ordered again). ``order_services`` and
``cancel_services`` run inside the caller's transaction (the booking service's);
``add_services`` and ``start_check`` are use cases of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.inspections import services as inspections
from dayuan.inspections.choices import InspectionKind
from dayuan.inspections.models import Inspection
from dayuan.workorders import services as workorders
from dayuan.workorders.choices import Status as WorkOrderStatus
from dayuan.workorders.models import ServiceCategory, TeamMember

from .choices import ACTIVE_BOOKING, BookingStatus, ServiceKind
from .models import Booking, MeetingCheck, MeetingService
from .services import booking_event, booking_visible

MAX_NOTE = 300
CHECKLISTS = ("meeting.in_meeting", "meeting.after")
# The in-meeting check may start this long before the meeting (setting out the tea).
CHECK_EARLY = timedelta(minutes=15)
# A service order in one of these can still be cancelled with its booking.
CANCELLABLE = (WorkOrderStatus.SUBMITTED, WorkOrderStatus.DISPATCHED, WorkOrderStatus.ACCEPTED)
# The work order ended without the service: the kind may be ordered again.
ENDED = (WorkOrderStatus.CANCELLED,)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _local(dt: datetime) -> datetime:
    return timezone.localtime(dt)


# --- who ---------------------------------------------------------------------------------


def _serves(user: Any, booking: Booking) -> bool:
    """Service staff of the room's org, or a member of a team with one of its orders."""
    if policy.can(user, "bookings.serve", booking.org):
        return True
    team_ids = list(
        MeetingService.objects.filter(booking=booking, workorder__team__isnull=False).values_list(
            "workorder__team_id", flat=True
        )
    )
    return bool(team_ids) and TeamMember.objects.filter(team_id__in=team_ids, user=user).exists()


def _lock(booking_id: int) -> Booking:
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("org", "room", "room__location", "organizer_unit", "booker")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        raise NotFound()
    return booking


# --- ordering ----------------------------------------------------------------------------


def category_for(org: Any, kind: str) -> ServiceCategory | None:
    """The active category ``meeting.<kind>`` of ``org`` or its nearest ancestor."""
    code = f"meeting.{kind}"
    rows = [
        c
        for c in ServiceCategory.objects.select_related("org").filter(code=code, is_active=True)
        if org.path.startswith(c.org.path)
    ]
    return max(rows, key=lambda c: len(c.org.path), default=None)


def _clean_items(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    if isinstance(items, Mapping | str) or not isinstance(items, Sequence):
        raise InvalidInput(_("会议服务格式无效。"), code="invalid_services", field="services")
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInput(_("会议服务格式无效。"), code="invalid_services", index=i)
        kind = str(item.get("kind") or "").strip()
        if kind not in ServiceKind.values:
            raise InvalidInput(
                _("未知的会议服务：%(kind)s") % {"kind": kind or "-"},
                code="invalid_service_kind",
                index=i,
            )
        note = str(item.get("note") or "").strip()
        if len(note) > MAX_NOTE:
            raise InvalidInput(
                _("服务要求不能超过 %(n)s 个字符。") % {"n": MAX_NOTE}, code="too_long", index=i
            )
        if any(k == kind for k, _n in out):
            raise InvalidInput(
                _("会议服务“%(name)s”重复。") % {"name": ServiceKind(kind).label},
                code="duplicate_service",
                index=i,
            )
        out.append((kind, note))
    return out


def _description(booking: Booking, kind: str, note: str) -> str:
    start, end = _local(booking.start_at), _local(booking.end_at)
    text = _("%(service)s：%(number)s %(room)s「%(title)s」%(day)s %(start)s–%(end)s") % {
        "service": ServiceKind(kind).label,
        "number": booking.number,
        "room": booking.room.name,
        "title": booking.title,
        "day": start.strftime("%Y-%m-%d"),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
    }
    text += ngettext("，%(n)s 人", "，%(n)s 人", booking.attendees) % {"n": booking.attendees}
    if note:
        text += _("；要求：%(note)s") % {"note": note}
    return text


def _place(booking: Booking, kind: str, note: str, actor: Any, now: datetime) -> Any:
    category = category_for(booking.org, kind)
    if category is None:
        raise InvalidInput(
            _("本单位暂不提供“%(name)s”。") % {"name": ServiceKind(kind).label},
            code="service_unavailable",
            kind=kind,
        )
    anchor = booking.start_at if kind != ServiceKind.CLEANING else booking.ended_at or now
    return workorders.submit_for_booking(
        org=booking.org,
        category=category,
        location=booking.room.location,
        description=_description(booking, kind, note),
        requester=booking.booker,
        created_by=actor if getattr(actor, "pk", None) else booking.booker,
        anchor_at=anchor,
        now=now,
    )


def order_services(
    booking: Booking, items: Sequence[Mapping[str, str]], *, actor: Any, now: datetime
) -> list[MeetingService]:
    """Order the meeting's services; each but cleaning becomes a work order now.

    Cleaning is ordered when the meeting ends (``order_cleaning``); asking for it here
    only keeps the note for then. Called inside the booking service's transaction, which
    checked the actor; every refusal comes before any write (savepoints only).
    """
    cleaned = _clean_items(items)
    if not cleaned:
        return []
    for kind, _note in cleaned:  # all or nothing: refuse before the first order
        if category_for(booking.org, kind) is None:
            raise InvalidInput(
                _("本单位暂不提供“%(name)s”。") % {"name": ServiceKind(kind).label},
                code="service_unavailable",
                kind=kind,
            )
    existing = {s.kind: s for s in MeetingService.objects.filter(booking=booking)}
    out = []
    with transaction.atomic():
        for kind, note in cleaned:
            service = existing.get(kind)
            if service is not None and not _reorderable(service):
                raise Conflict(
                    _("已预订“%(name)s”，请勿重复预订。") % {"name": ServiceKind(kind).label},
                    code="service_already_ordered",
                    kind=kind,
                )
            order = (
                None if kind == ServiceKind.CLEANING else _place(booking, kind, note, actor, now)
            )
            if service is None:
                service = MeetingService.objects.create(
                    booking=booking, kind=kind, note=note, workorder=order
                )
            else:
                service.note, service.workorder = note, order
                service.save(update_fields=["note", "workorder", "updated_at"])
            out.append(service)
    return out


def _reorderable(service: MeetingService) -> bool:
    if service.workorder_id is None:
        return service.kind != ServiceKind.CLEANING
    return service.workorder.status in ENDED


@audited("bookings.add_services")
def add_services(
    *,
    actor: Any,
    booking_id: int,
    items: Sequence[Mapping[str, str]],
    now: datetime | None = None,
) -> list[MeetingService]:
    """Services ordered after booking: by the booker or a manager, before the start."""
    now = _now(now)
    booking = _lock(booking_id)
    if not booking_visible(actor, booking):
        raise NotFound()
    if booking.booker_id != actor.pk and not policy.can(actor, "bookings.manage", booking.org):
        raise PermissionDenied(action="bookings.manage")
    if booking.status not in ACTIVE_BOOKING or booking.status == BookingStatus.CHECKED_IN:
        raise Conflict(
            _("预订当前状态为“%(status)s”，不能再预订服务。")
            % {"status": BookingStatus(booking.status).label},
            code="booking_not_active",
            status=booking.status,
        )
    if now >= booking.start_at:
        raise Conflict(_("会议已开始，不能再预订服务。"), code="already_started")
    services = order_services(booking, items, actor=actor, now=now)
    numbers = {s.kind: s.workorder.number if s.workorder else None for s in services}
    booking_event(booking, actor, "services", now, booking.status, services=numbers)
    record("bookings.add_services", actor=actor, obj=booking, changes={"services": [None, numbers]})
    return services


def cancel_services(booking: Booking, *, actor: Any, now: datetime, reason: str) -> int:
    """Cancel the booking's service orders not yet worked on site; the number cancelled.

    Called by the booking service (cancel, reject, displace, release) in its
    transaction, which decided who may; the teams already dispatched are told.
    """
    reason = (reason or "").strip()[:500] or _("会议室预订已取消")
    ids = list(
        MeetingService.objects.filter(
            booking=booking, workorder__status__in=CANCELLABLE
        ).values_list("workorder_id", flat=True)
    )
    cancelled = 0
    for order_id in ids:
        if workorders.cancel_for_booking(actor=actor, order_id=order_id, reason=reason, now=now):
            cancelled += 1
    return cancelled


def order_cleaning(booking: Booking, *, now: datetime) -> MeetingService | None:
    """The cleaning order after a meeting that took place; once per booking.

    None when the meeting did not take place, cleaning was already ordered, or no
    cleaning category serves the room's org (jobs call this: nothing raises).
    """
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("org", "room", "room__location", "booker")
            .get(pk=booking.pk)
        )
        if booking.status not in (BookingStatus.COMPLETED, BookingStatus.CHECKED_IN):
            return None
        service = MeetingService.objects.filter(booking=booking, kind=ServiceKind.CLEANING).first()
        if service is not None and service.workorder_id is not None:
            return None
        if category_for(booking.org, ServiceKind.CLEANING) is None:
            return None
        note = service.note if service is not None else ""
        try:
            with transaction.atomic():
                order = _place(booking, ServiceKind.CLEANING, note, None, now)
                if service is None:
                    service = MeetingService.objects.create(
                        booking=booking, kind=ServiceKind.CLEANING, workorder=order
                    )
                else:
                    service.workorder = order
                    service.save(update_fields=["workorder", "updated_at"])
        except IntegrityError:  # another run got there first
            return None
        booking_event(booking, None, "cleaning", now, booking.status, workorder=order.number)
    return service


# --- checks ------------------------------------------------------------------------------


def _vendor_of(booking: Booking) -> int | None:
    """The vendor serving the meeting (findings of the checks are theirs)."""
    return (
        MeetingService.objects.filter(booking=booking, workorder__vendor__isnull=False)
        .order_by("id")
        .values_list("workorder__vendor_id", flat=True)
        .first()
    )


def _check_time(booking: Booking, checklist: str, now: datetime) -> None:
    if checklist == "meeting.in_meeting":
        ok = booking.status in (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN) and (
            booking.start_at - CHECK_EARLY <= now <= booking.end_at
        )
        message = _("会中服务检查只能在会议进行期间开始。")
    else:
        ok = booking.status == BookingStatus.COMPLETED or (
            booking.status in (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)
            and now >= booking.end_at
        )
        message = _("会后检查只能在会议结束后开始。")
    if not ok:
        raise Conflict(message, code="check_not_now", status=booking.status)


@audited("bookings.start_check")
def start_check(
    *, actor: Any, booking_id: int, checklist: str, now: datetime | None = None
) -> Inspection:
    """Open the in-meeting (续茶) or after-meeting (遗留物品) checklist of a booking as an
    inspection of the room, with the checklist the standard has in force; failed items
    open findings against the serving vendor when the inspection is submitted. The same
    check again gives the same inspection back."""
    now = _now(now)
    booking = _lock(booking_id)
    serves = _serves(actor, booking)
    conduct = policy.can(actor, "inspections.conduct", booking.org)
    if not serves and not conduct and not booking_visible(actor, booking):
        raise NotFound()
    if not serves and not conduct:
        raise PermissionDenied(action="bookings.serve")
    if checklist not in CHECKLISTS:
        raise InvalidInput(_("检查表无效。"), code="invalid_checklist", field="checklist")
    existing = (
        MeetingCheck.objects.filter(booking=booking, checklist=checklist)
        .select_related("inspection")
        .first()
    )
    if existing is not None:
        if existing.inspection.inspector_id != actor.pk:
            raise Conflict(_("该检查已由他人开始。"), code="check_taken")
        return existing.inspection
    _check_time(booking, checklist, now)
    kind = InspectionKind.PATROL if conduct else InspectionKind.SELF
    inspection = inspections.start_inspection(
        actor=actor,
        kind=kind,
        checklist_code=checklist,
        location_id=booking.room.location_id,
        vendor_id=_vendor_of(booking),
        client_key=f"booking-{booking.pk}-{checklist}",
        now=now,
    )
    MeetingCheck.objects.create(booking=booking, checklist=checklist, inspection=inspection)
    details = {"checklist": checklist, "inspection": inspection.number}
    booking_event(booking, actor, "check", now, booking.status, **details)
    record(
        "bookings.start_check",
        actor=actor,
        obj=booking,
        changes={"checklist": [None, checklist], "inspection_id": [None, inspection.pk]},
    )
    return inspection
