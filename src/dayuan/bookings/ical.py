"""iCalendar (RFC 5545) files: one booking, and a person's private feed of their
bookings and appointments, subscribed from a phone's calendar app by a secret URL.

Times are written in Asia/Shanghai with its ``VTIMEZONE`` (``add_missing_timezones``),
so a calendar shows the local time the room was booked for. ``UID`` is stable per
booking (``booking-<id>@dayuan``) and appointment (``appointment-<id>@dayuan``), so a
refreshed feed updates events instead of duplicating them; cancelled ones stay in the
feed with ``STATUS:CANCELLED`` for a while so that subscribers drop them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from .choices import AppointmentStatus, BookingStatus
from .models import Appointment, Booking, CalendarFeed, new_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODID = "-//Dayuan//Bookings//ZH"
DOMAIN = "dayuan"
FEED_DAYS_BACK = 30
FEED_MAX = 1000  # events in one feed (newest kept)

_STATUS = {
    BookingStatus.PENDING: "TENTATIVE",
    BookingStatus.CONFIRMED: "CONFIRMED",
    BookingStatus.CHECKED_IN: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
}


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    return cal


def _local(dt: datetime) -> datetime:
    return timezone.localtime(dt, SHANGHAI)


def booking_event(b: Booking, stamp: datetime) -> Event:
    room = b.room
    ev = Event()
    ev.add("uid", f"booking-{b.pk}@{DOMAIN}")
    ev.add("dtstamp", stamp.astimezone(ZoneInfo("UTC")))
    ev.add("dtstart", _local(b.start_at))
    ev.add("dtend", _local(b.end_at))
    ev.add("summary", b.title)
    place = room.name
    if room.building_id and room.building is not None:
        place = f"{room.building.name} {room.name}"
    ev.add("location", place)
    lines = [
        _("预订编号：%(number)s") % {"number": b.number},
        _("状态：%(status)s") % {"status": b.get_status_display()},
        _("参会人数：%(n)d") % {"n": b.attendees},
    ]
    if b.contact_name or b.contact_phone:
        lines.append(_("联系人：%(who)s") % {"who": f"{b.contact_name} {b.contact_phone}".strip()})
    if b.note:
        lines.append(b.note)
    ev.add("description", "\n".join(lines))
    ev.add("status", _STATUS.get(b.status, "CANCELLED"))
    ev.add("sequence", max(0, b.version - 1))
    ev.add("last-modified", b.updated_at.astimezone(ZoneInfo("UTC")))
    return ev


def appointment_event(a: Appointment, stamp: datetime) -> Event:
    ev = Event()
    ev.add("uid", f"appointment-{a.pk}@{DOMAIN}")
    ev.add("dtstamp", stamp.astimezone(ZoneInfo("UTC")))
    ev.add("dtstart", _local(a.slot.start_at))
    ev.add("dtend", _local(a.slot.end_at))
    ev.add("summary", a.service.name)
    ev.add("location", a.service.location.name)
    lines = [_("预约编号：%(number)s") % {"number": a.number}]
    if a.provider_id and a.provider is not None:
        lines.append(_("服务人员：%(name)s") % {"name": a.provider.name})
    if a.note:
        lines.append(a.note)
    ev.add("description", "\n".join(lines))
    active = a.status in (AppointmentStatus.BOOKED, AppointmentStatus.DONE)
    ev.add("status", "CONFIRMED" if active else "CANCELLED")
    return ev


def _serialise(cal: Calendar, events: Iterable[Event]) -> bytes:
    for ev in events:
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()


def booking_ics(b: Booking, now: datetime | None = None) -> bytes:
    """The booking as a one-event calendar file."""
    stamp = now or timezone.now()
    return _serialise(_calendar(_("会议室预订")), [booking_event(b, stamp)])


def feed_ics(user: Any, now: datetime | None = None) -> bytes:
    """The person's bookings (as booker) and appointments from 30 days ago on: three
    queries whatever their number."""
    now = now or timezone.now()
    since = now - timedelta(days=FEED_DAYS_BACK)
    rows = (
        Booking.objects.filter(booker=user, end_at__gte=since)
        .exclude(status__in=(BookingStatus.REJECTED,))
        .select_related("room", "room__building")
        .order_by("-start_at", "-id")[:FEED_MAX]
    )
    appts = (
        Appointment.objects.filter(person=user, slot__end_at__gte=since)
        .select_related("slot", "service", "service__location", "provider")
        .order_by("-slot__start_at", "-id")[:FEED_MAX]
    )
    events = [booking_event(b, now) for b in rows]
    events += [appointment_event(a, now) for a in appts]
    name = _("%(name)s的预订") % {"name": user.display_name or user.username}
    return _serialise(_calendar(name), events)


# --- the private feed URL --------------------------------------------------------------


def feed_for(user: Any) -> CalendarFeed:
    """The person's feed (created on first use). Personal data, not an org record: no
    scope, no audit beyond the rotation."""
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


def rotate_feed(user: Any) -> CalendarFeed:
    """A new secret URL; the old one stops working at once (a leaked link)."""
    from dayuan.audit.log import record

    with transaction.atomic():
        feed = feed_for(user)
        feed.token = new_token()
        feed.save(update_fields=["token"])
        record("bookings.feed_rotate", actor=user, obj=feed, org_id=user.home_org_id)
    return feed


def user_for_feed(token: str) -> Any | None:
    """The active user behind a feed token, or None."""
    if not token:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not feed.user.is_active:
        return None
    return feed.user
