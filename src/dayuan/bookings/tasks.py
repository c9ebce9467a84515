"""Periodic jobs of bookings: no-shows released, finished meetings completed,
reminders before the start, appointment slots generated ahead.

Each is idempotent and safe to run in several workers at once: a booking is claimed by
a conditional UPDATE on its status (release) or locked and re-checked (complete), and
every notification carries a dedupe key, so repeated runs never act or notify twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from dayuan.audit.log import record
from dayuan.notifications.models import Event

from . import appointments, events, services
from .choices import BookingStatus
from .models import Booking

S = BookingStatus
REMIND_BEFORE = timedelta(minutes=30)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _release(booking_id: int, now: datetime) -> bool:
    with transaction.atomic():
        claimed = Booking.objects.filter(
            pk=booking_id, status=S.CONFIRMED, checked_in_at__isnull=True
        ).update(
            status=S.RELEASED,
            active=False,
            released_at=now,
            version=F("version") + 1,
            updated_at=now,
        )
        if not claimed:
            return False  # checked in or cancelled meanwhile, or another run took it
        booking = Booking.objects.select_related("room", "organizer_unit", "booker", "org").get(
            pk=booking_id
        )
        services.booking_event(booking, None, "release", now, S.CONFIRMED)
        record(
            "bookings.release",
            actor=None,
            obj=booking,
            changes={"status": [S.CONFIRMED, S.RELEASED], "active": [True, False]},
        )
        services.call_off_services(booking, None, now, _("未签到，会议室已释放"))
        services.notify(
            events.RELEASED,
            booking,
            None,
            [booking.booker],
            _("未签到，会议室已释放：%(title)s") % {"title": booking.title},
            key="released",
        )
    return True


def release_no_shows(now: datetime | None = None) -> int:
    """Confirmed bookings of rooms that need check-in, not checked in by the end of the
    grace period: released (the room is free again), the booker told, services called
    off. Returns how many were released."""
    now = _now(now)
    candidates = (
        Booking.objects.filter(
            status=S.CONFIRMED,
            room__checkin_required=True,
            checked_in_at__isnull=True,
            start_at__lt=now,
        )
        .order_by("start_at", "pk")
        .values_list("pk", "start_at", "room__checkin_grace_minutes")
    )
    released = 0
    for pk, start, grace in candidates:
        if start + timedelta(minutes=grace) < now and _release(pk, now):
            released += 1
    return released


def complete_finished(now: datetime | None = None) -> int:
    """Meetings past their end time: checked in, or confirmed in a room without
    check-in, become completed (the cleaning order goes out). Returns how many."""
    now = _now(now)
    ids = list(
        Booking.objects.filter(end_at__lte=now)
        .filter(Q(status=S.CHECKED_IN) | Q(status=S.CONFIRMED, room__checkin_required=False))
        .order_by("end_at", "pk")
        .values_list("pk", flat=True)
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            booking = (
                Booking.objects.select_for_update(of=("self",))
                .select_related("room", "room__location", "org", "organizer_unit", "booker")
                .filter(pk=pk)
                .first()
            )
            if booking is None or booking.end_at > now:
                continue
            if not (
                booking.status == S.CHECKED_IN
                or (booking.status == S.CONFIRMED and not booking.room.checkin_required)
            ):
                continue  # ended, released or cancelled meanwhile
            services.finish(booking, actor=None, now=now, ended_at=booking.end_at)
            done += 1
    return done


def remind_upcoming(now: datetime | None = None) -> int:
    """Tell the booker once, about 30 minutes before their meeting starts. Returns how
    many were reminded now."""
    now = _now(now)
    bookings = list(
        Booking.objects.filter(
            status=S.CONFIRMED, start_at__gt=now, start_at__lte=now + REMIND_BEFORE
        ).select_related("room", "organizer_unit", "booker")
    )
    keys = {f"booking:{b.pk}:reminder" for b in bookings}
    told = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    reminded = 0
    for booking in bookings:
        if f"booking:{booking.pk}:reminder" in told:
            continue
        with transaction.atomic():
            services.notify(
                events.REMINDER,
                booking,
                None,
                [booking.booker],
                _("会议即将开始：%(title)s（%(start)s）")
                % {
                    "title": booking.title,
                    "start": f"{timezone.localtime(booking.start_at):%H:%M}",
                },
                key="reminder",
            )
        reminded += 1
    return reminded


@db_periodic_task(crontab(minute="*/5"))
def release_no_shows_every_five_minutes() -> int:
    return release_no_shows()


@db_periodic_task(crontab(minute="*/15"))
def complete_finished_every_quarter_hour() -> int:
    return complete_finished()


@db_periodic_task(crontab(minute="*/5"))
def remind_upcoming_every_five_minutes() -> int:
    return remind_upcoming()


# --- appointment slots ------------------------------------------------------------------
# Slots are inserted on the unique (service, start_at) constraint, so a second run (or a
# run beside ``appointments.save_service``) adds nothing.


@db_periodic_task(crontab(minute="20", hour="16"))  # 00:20 Shanghai (Huey runs in UTC)
def generate_slots_nightly() -> int:
    """Just after midnight: the new last bookable day of every service gets its slots."""
    return appointments.generate_all()


@HUEY.on_startup()
def generate_slots_on_startup() -> None:
    # A deployment down over midnight has today's slots before the next nightly run.
    close_old_connections()
    try:
        appointments.generate_all()
    finally:
        close_old_connections()
