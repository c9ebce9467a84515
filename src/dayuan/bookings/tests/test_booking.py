"""Room booking services: the room's limits, the standard's rules (each refusal cites
its clause), approval, displacement, cancel, check-in, the no-show and completion
jobs, recurring series, idempotency and county scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RuleRefused,
    StaleVersion,
)
from dayuan.notifications.models import Notification
from dayuan.workorders.choices import Status as WorkOrderStatus

from .. import events, services, tasks
from ..models import Booking, BookingEvent, MeetingService, Room
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

TWO_PM = at(2026, 12, 7, 14)


@pytest.fixture
def s(world):
    return build(world)


def book(s, user="a_staff", room=None, start=TWO_PM, minutes=60, now=MONDAY, **kw):
    fields = {
        "title": "周例会",
        "attendees": 10,
        "contact_name": "张三",
        "contact_phone": "13800000000",
        **kw,
    }
    return services.book_room(
        actor=s.user(user),
        room_id=(room or s.room_a).pk,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        now=now,
        **fields,
    )


def notified(user, event_type=None):
    qs = Notification.objects.filter(recipient=user)
    if event_type:
        qs = qs.filter(event__type=event_type)
    return list(qs)


# --- booking and its checks ----------------------------------------------------------------


def test_book_confirms_with_number_event_audit_and_receipt(s):
    b = book(s, equipment=["projector"], leaders_attending=True)
    assert b.status == "confirmed" and b.active
    assert b.number == "HY-20261207-00001"
    assert b.org == s.world.county_a and b.organizer_unit == s.world.county_a
    assert b.equipment == ["projector"] and b.requested_at == MONDAY
    assert list(b.events.values_list("action", "to_status")) == [("book", "confirmed")]
    assert AuditEntry.objects.filter(
        action="bookings.book", object_id=str(b.pk), outcome=Outcome.SUCCESS
    ).exists()
    (n,) = notified(s.user("a_staff"), events.BOOKED)
    assert b.title in n.title
    assert book(s, start=at(2026, 12, 7, 15)).number == "HY-20261207-00002"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"start": at(2026, 12, 8, 7)}, "outside_opening_hours"),  # opens 08:00
        ({"start": at(2026, 12, 7, 17, 30)}, "outside_opening_hours"),  # ends 18:30
        ({"start": at(2026, 12, 12, 10)}, "outside_opening_hours"),  # a Saturday
        ({"start": at(2026, 12, 8, 8), "minutes": 24 * 60}, "outside_opening_hours"),
        ({"attendees": 21}, "over_capacity"),
        ({"attendees": 0}, "invalid_attendees"),
        ({"equipment": ["video"]}, "equipment_missing"),
        ({"equipment": ["teleporter"]}, "invalid_equipment"),
        ({"meeting_type": "party"}, "invalid_meeting_type"),
        ({"priority": "vip"}, "invalid_priority"),
        ({"title": " "}, "required"),
        ({"note": "x" * 501}, "too_long"),
        ({"minutes": 0}, "booking_bad_range"),
        ({"start": at(2026, 12, 7, 8), "now": at(2026, 12, 7, 9, 30)}, "booking_in_past"),
    ],
)
def test_room_limits_refuse_with_a_code_and_write_nothing(s, kw, code):
    with pytest.raises(InvalidInput) as exc:
        book(s, **kw)
    assert exc.value.code == code
    assert not Booking.objects.exists()
    assert AuditEntry.objects.filter(action="bookings.book", outcome=Outcome.REFUSED).exists()


def test_organizer_unit_must_be_in_the_bookers_scope(s):
    with pytest.raises(InvalidInput) as exc:
        book(s, organizer_unit_id=s.world.county_b.pk)
    assert exc.value.code == "invalid_organizer_unit"
    b = book(s, user="a_manager", organizer_unit_id=s.world.vendor.pk)
    assert b.organizer_unit == s.world.vendor


@pytest.mark.parametrize(
    ("kw", "clause", "code"),
    [
        ({"start": at(2026, 12, 7, 10)}, "M1", "lead_time"),  # only 1 h ahead
        ({"now": at(2026, 12, 7, 12)}, "M1", "window"),  # lunch: requests not accepted
        ({"now": at(2026, 12, 5, 10)}, "M1", "window"),  # a Saturday
        ({"start": at(2026, 12, 8, 8), "minutes": 9 * 60}, "M1", "max_duration"),
        ({"start": at(2027, 3, 1, 10)}, "M1", "max_advance"),
        ({"contact_phone": ""}, "M4", "required_field"),
    ],
)
def test_standard_refusals_cite_the_clause(s, kw, clause, code):
    with pytest.raises(RuleRefused) as exc:
        book(s, **kw)
    violation = exc.value.details["violations"][0]
    assert violation["clause"] == clause and violation["code"] == code
    assert violation["standard"] == s.standard.code
    assert f"第 {clause} 条" in exc.value.message
    assert not Booking.objects.exists()


def test_shared_room_needs_a_day_ahead_unless_emergency(s):
    tomorrow = at(2026, 12, 8, 10)
    with pytest.raises(RuleRefused) as exc:
        book(s, room=s.shared, start=at(2026, 12, 7, 15))
    assert exc.value.details["violations"][0]["clause"] == "M5"
    assert book(s, room=s.shared, start=tomorrow).status == "confirmed"
    # 先用后登记: a meeting under way, registered an hour after it began
    late = book(
        s, room=s.shared, start=at(2026, 12, 7, 8), minutes=120, emergency=True, user="b_staff"
    )
    assert late.emergency and late.status == "checked_in" and late.checked_in_at == MONDAY
    with pytest.raises(InvalidInput) as exc:  # more than 2 hours ago
        book(s, room=s.shared, start=at(2026, 12, 7, 8), emergency=True, now=at(2026, 12, 7, 10, 5))
    assert exc.value.code == "booking_in_past"
    with pytest.raises(InvalidInput) as exc:  # meeting rooms' rules allow no emergency
        book(s, start=at(2026, 12, 7, 9, 30), emergency=True)
    assert exc.value.code == "emergency_not_allowed"


# --- approval ----------------------------------------------------------------------------


def test_hall_needs_approval_citing_the_clause(s):
    b = book(s, room=s.hall_a, start=at(2026, 12, 11, 10), attendees=120)
    assert b.status == "pending" and b.active
    cite = b.events.get(action="book").details["approval"]
    assert cite["clause"] == "M6"
    assert notified(s.user("a_staff"), events.PENDING)
    assert notified(s.user("a_manager"), events.PENDING)
    with pytest.raises(PermissionDenied):
        services.approve(actor=s.user("a_staff"), booking_id=b.pk)
    with pytest.raises(NotFound):
        services.approve(actor=s.user("b_manager"), booking_id=b.pk)
    with pytest.raises(StaleVersion):
        services.approve(actor=s.user("a_manager"), booking_id=b.pk, version=b.version + 1)
    done = services.approve(
        actor=s.user("a_manager"), booking_id=b.pk, version=b.version, note="同意", now=MONDAY
    )
    assert done.status == "confirmed" and done.decided_by == s.user("a_manager")
    assert notified(s.user("a_staff"), events.APPROVED)
    with pytest.raises(Conflict) as exc:
        services.approve(actor=s.user("a_manager"), booking_id=b.pk)
    assert exc.value.code == "illegal_transition"


def test_room_flag_needs_approval_and_reject_frees_the_time(s):
    Room.objects.filter(pk=s.room_a.pk).update(requires_approval=True)
    b = book(s, services=[{"kind": "tea", "note": "绿茶"}])
    assert b.status == "pending"
    assert b.events.get(action="book").details["approval"] == {"room": s.room_a.name}
    with pytest.raises(InvalidInput) as exc:
        services.reject(actor=s.user("a_manager"), booking_id=b.pk, reason=" ")
    assert exc.value.code == "required"
    gone = services.reject(actor=s.user("a_manager"), booking_id=b.pk, reason="另有安排")
    assert gone.status == "rejected" and not gone.active
    order = MeetingService.objects.get(booking=b, kind="tea").workorder
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    assert notified(s.user("a_staff"), events.REJECTED)
    assert book(s).status == "pending"  # the time is free again


# --- conflicts and displacement -----------------------------------------------------------


def test_overlap_is_refused_without_revealing_the_other_booking(s):
    first = book(s)
    for start in (at(2026, 12, 7, 13, 30), at(2026, 12, 7, 14, 30), at(2026, 12, 7, 14)):
        with pytest.raises(Conflict) as exc:
            book(s, user="a_dispatcher", start=start)
        assert exc.value.code == "room_taken"
        assert exc.value.details == {
            "conflicts": [{"start": first.start_at.isoformat(), "end": first.end_at.isoformat()}],
            "can_displace": False,
        }
    # half-open ranges: back to back is fine
    assert book(s, user="a_dispatcher", start=at(2026, 12, 7, 15)).active
    assert book(s, user="a_dispatcher", start=at(2026, 12, 7, 13)).active
    with pytest.raises(Conflict) as exc:
        book(s, user="a_manager", start=at(2026, 12, 7, 14), priority="important")
    assert exc.value.details["can_displace"] is True


def test_manager_displaces_a_lower_priority_booking(s):
    staff, manager = s.user("a_staff"), s.user("a_manager")
    old = book(s, attendees=6, services=[{"kind": "tea", "note": ""}])
    new = book(
        s,
        user="a_manager",
        title="紧急专题会",
        priority="urgent",
        displace=True,
        displace_reason="市领导调研",
    )
    old.refresh_from_db()
    assert new.status == "confirmed" and new.active
    assert old.status == "displaced" and not old.active
    assert old.displaced_by == new and old.displace_reason == "市领导调研"
    order = MeetingService.objects.get(booking=old, kind="tea").workorder
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    event = old.events.get(action="displace")
    assert event.actor == manager and event.from_status == "confirmed"
    assert event.details["by"] == new.number and event.details["reason"] == "市领导调研"
    assert event.details["clause"] is None  # meeting rooms have no priority rule
    # alternatives: rooms free then that seat six, smallest first; never the taken one
    alternatives = event.details["alternatives"]
    assert alternatives and s.room_a.pk not in alternatives and len(alternatives) <= 3
    assert alternatives[0] == s.small_a.pk
    (n,) = notified(staff, events.DISPLACED)
    assert "市领导调研" in n.body and s.small_a.name in n.body
    assert AuditEntry.objects.filter(action="bookings.displace", object_id=str(old.pk)).exists()


def test_displacement_needs_manager_reason_and_higher_priority(s):
    book(s, priority="important")
    with pytest.raises(PermissionDenied):
        book(s, user="a_dispatcher", priority="urgent", displace=True, displace_reason="急")
    with pytest.raises(InvalidInput) as exc:
        book(s, user="a_manager", priority="urgent", displace=True)
    assert exc.value.code == "reason_required"
    with pytest.raises(Conflict) as exc:
        book(s, user="a_manager", priority="important", displace=True, displace_reason="急")
    assert exc.value.code == "lower_priority"
    assert Booking.objects.filter(active=True).count() == 1


def test_shared_room_displacement_cites_the_priority_clause(s):
    old = book(s, room=s.shared, start=at(2026, 12, 9, 10), user="b_staff")
    new = book(
        s,
        room=s.shared,
        start=at(2026, 12, 9, 10),
        user="admin",
        priority="important",
        displace=True,
        displace_reason="全市会议",
    )
    event = BookingEvent.objects.get(booking=old, action="displace")
    assert event.details["clause"]["clause"] == "M5"
    assert event.details["by_id"] == new.pk
    # county B's booker is told (under their own unit), nobody in county A is
    assert notified(s.user("b_staff"), events.DISPLACED)
    assert not Notification.objects.filter(
        event__type=events.DISPLACED, recipient__home_org=s.world.county_a
    ).exists()


# --- cancel, check-in, end ------------------------------------------------------------------


def test_cancel_by_booker_or_manager_before_the_start(s):
    b = book(s, services=[{"kind": "tea", "note": ""}])
    with pytest.raises(PermissionDenied):
        services.cancel(actor=s.user("a_dispatcher"), booking_id=b.pk)
    with pytest.raises(NotFound):
        services.cancel(actor=s.user("b_manager"), booking_id=b.pk)
    with pytest.raises(Conflict) as exc:
        services.cancel(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14, 1))
    assert exc.value.code == "already_started"
    done = services.cancel(
        actor=s.user("a_manager"), booking_id=b.pk, version=b.version, reason="改期", now=MONDAY
    )
    assert done.status == "cancelled" and not done.active and done.cancel_reason == "改期"
    order = MeetingService.objects.get(booking=b, kind="tea").workorder
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    assert notified(s.user("a_staff"), events.CANCELLED)
    with pytest.raises(Conflict):
        services.cancel(actor=s.user("a_staff"), booking_id=b.pk, now=MONDAY)
    assert book(s).active  # the time is free again


def test_check_in_by_the_door_code(s):
    b = book(s)
    token = s.room_a.checkin_token
    staff = s.user("a_staff")
    with pytest.raises(NotFound):
        services.check_in(actor=staff, room_token="nope", now=at(2026, 12, 7, 13, 50))
    with pytest.raises(Conflict) as exc:
        services.check_in(actor=staff, room_token=token, now=at(2026, 12, 7, 13, 40))
    assert exc.value.code == "checkin_too_early"
    with pytest.raises(Conflict) as exc:  # someone else scanning: nothing of theirs
        services.check_in(
            actor=s.user("a_dispatcher"), room_token=token, now=at(2026, 12, 7, 13, 50)
        )
    assert exc.value.code == "nothing_to_check_in"
    done = services.check_in(actor=staff, room_token=token, now=at(2026, 12, 7, 13, 50))
    assert done.pk == b.pk and done.status == "checked_in"
    assert done.checked_in_at == at(2026, 12, 7, 13, 50)
    again = services.check_in(actor=staff, room_token=token, now=at(2026, 12, 7, 14, 5))
    assert again.pk == b.pk and again.version == done.version  # idempotent
    assert b.events.filter(action="check_in").count() == 1


def test_check_in_after_the_grace_period_is_too_late(s):
    b = book(s)
    with pytest.raises(Conflict) as exc:
        services.check_in(
            actor=s.user("a_staff"), room_token=s.room_a.checkin_token, now=at(2026, 12, 7, 14, 16)
        )
    assert exc.value.code == "checkin_too_late"
    with pytest.raises(Conflict) as exc:
        services.check_in(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14, 16))
    assert exc.value.code == "checkin_too_late"
    ok = services.check_in(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14, 15))
    assert ok.status == "checked_in"


def test_end_meeting_completes_and_orders_cleaning(s):
    b = book(s)
    with pytest.raises(Conflict) as exc:
        services.end_meeting(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 13))
    assert exc.value.code == "not_started"
    services.check_in(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14))
    done = services.end_meeting(
        actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14, 40)
    )
    assert done.status == "completed" and not done.active
    assert done.ended_at == at(2026, 12, 7, 14, 40)
    cleaning = MeetingService.objects.get(booking=b, kind="cleaning")
    assert cleaning.workorder is not None
    assert not Booking.objects.filter(room=s.room_a, active=True).exists()  # free again
    assert b.events.filter(action="end").count() == 1


# --- jobs --------------------------------------------------------------------------------


def test_no_shows_are_released_once_with_a_notice(s):
    b = book(s, services=[{"kind": "tea", "note": ""}])
    kept = book(s, start=at(2026, 12, 7, 15))  # checked in: stays
    free = book(s, room=s.small_a, attendees=5)  # no check-in needed: stays
    Room.objects.filter(pk=s.small_a.pk).update(checkin_required=False)
    services.check_in(actor=s.user("a_staff"), booking_id=kept.pk, now=at(2026, 12, 7, 14, 50))
    assert tasks.release_no_shows(now=at(2026, 12, 7, 14, 15)) == 0  # still in grace
    assert tasks.release_no_shows(now=at(2026, 12, 7, 15, 30)) == 1
    assert tasks.release_no_shows(now=at(2026, 12, 7, 15, 35)) == 0
    b.refresh_from_db()
    assert b.status == "released" and not b.active and b.released_at == at(2026, 12, 7, 15, 30)
    assert b.events.get(action="release").actor is None
    assert AuditEntry.objects.filter(action="bookings.release", object_id=str(b.pk)).count() == 1
    (n,) = notified(s.user("a_staff"), events.RELEASED)
    assert b.number in n.body
    order = MeetingService.objects.get(booking=b, kind="tea").workorder
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    assert Booking.objects.get(pk=kept.pk).status == "checked_in"
    assert Booking.objects.get(pk=free.pk).status == "confirmed"


def test_finished_meetings_complete_with_a_cleaning_order(s):
    b = book(s)
    open_room = book(s, room=s.small_a, attendees=5)
    Room.objects.filter(pk=s.small_a.pk).update(checkin_required=False)
    services.check_in(actor=s.user("a_staff"), booking_id=b.pk, now=at(2026, 12, 7, 14))
    assert tasks.complete_finished(now=at(2026, 12, 7, 14, 59)) == 0
    assert tasks.complete_finished(now=at(2026, 12, 7, 15)) == 2
    assert tasks.complete_finished(now=at(2026, 12, 7, 15, 15)) == 0
    for booking in (b, open_room):
        booking.refresh_from_db()
        assert booking.status == "completed" and booking.ended_at == booking.end_at
        assert MeetingService.objects.get(booking=booking, kind="cleaning").workorder_id


def test_reminder_once_half_an_hour_before(s):
    b = book(s)
    assert tasks.remind_upcoming(now=at(2026, 12, 7, 13, 20)) == 0
    assert tasks.remind_upcoming(now=at(2026, 12, 7, 13, 30)) == 1
    assert tasks.remind_upcoming(now=at(2026, 12, 7, 13, 35)) == 0
    (n,) = notified(s.user("a_staff"), events.REMINDER)
    assert b.title in n.title


# --- recurring series ----------------------------------------------------------------------


def test_series_books_the_free_occurrences_and_reports_each_conflict(s):
    taken = book(s, user="a_dispatcher", start=at(2026, 12, 14, 14))
    series, booked = services.book_series(
        actor=s.user("a_staff"),
        room_id=s.room_a.pk,
        rrule="FREQ=WEEKLY;COUNT=4",
        first_start=TWO_PM,
        duration_minutes=60,
        title="周例会",
        attendees=10,
        contact_phone="13800000000",
        now=MONDAY,
    )
    assert [b.start_at for b in booked] == [
        at(2026, 12, 7, 14),
        at(2026, 12, 21, 14),
        at(2026, 12, 28, 14),
    ]
    assert {b.series_id for b in booked} == {series.pk}
    (conflict,) = series.conflicts
    assert conflict["code"] == "room_taken"
    assert conflict["start"] == taken.start_at.isoformat()
    assert series.org == s.world.county_a and series.booker == s.user("a_staff")


def test_series_reports_rule_and_hours_refusals_per_occurrence(s):
    series, booked = services.book_series(
        actor=s.user("a_staff"),
        room_id=s.room_a.pk,
        rrule="FREQ=DAILY;UNTIL=20261213T235959",
        first_start=at(2026, 12, 7, 10),
        duration_minutes=60,
        title="晨会",
        attendees=5,
        contact_phone="13800000000",
        now=MONDAY,
    )
    # Monday 10:00 is only 1 h ahead (M1); Saturday and Sunday are closed
    assert len(booked) == 4
    codes = [(c["start"][:10], c["code"]) for c in series.conflicts]
    assert codes == [
        ("2026-12-07", "rule_refused"),
        ("2026-12-12", "outside_opening_hours"),
        ("2026-12-13", "outside_opening_hours"),
    ]
    assert series.conflicts[0]["clause"]["clause"] == "M1"


@pytest.mark.parametrize(
    ("rrule", "code"),
    [
        ("FREQ=WEEKLY", "rrule_unbounded"),
        ("FREQ=DAILY;COUNT=60", "rrule_too_many"),
        ("every monday", "invalid_rrule"),
        ("", "invalid_rrule"),
    ],
)
def test_series_rule_must_be_valid_and_bounded(s, rrule, code):
    with pytest.raises(InvalidInput) as exc:
        services.book_series(
            actor=s.user("a_staff"),
            room_id=s.room_a.pk,
            rrule=rrule,
            first_start=TWO_PM,
            duration_minutes=60,
            title="周例会",
            attendees=10,
            contact_phone="13800000000",
            now=MONDAY,
        )
    assert exc.value.code == code
    assert not Booking.objects.exists()


def test_series_with_bad_fields_is_refused_whole(s):
    with pytest.raises(InvalidInput) as exc:
        services.book_series(
            actor=s.user("a_staff"),
            room_id=s.room_a.pk,
            rrule="FREQ=WEEKLY;COUNT=3",
            first_start=TWO_PM,
            duration_minutes=60,
            title="周例会",
            attendees=99,
            now=MONDAY,
        )
    assert exc.value.code == "over_capacity"
    assert not Booking.objects.exists()


# --- idempotency and scope ------------------------------------------------------------------


def test_client_key_gives_the_same_booking_back(s):
    first = book(s, client_key="k-1")
    again = book(s, client_key="k-1")
    assert again.pk == first.pk
    assert Booking.objects.count() == 1
    with pytest.raises(Conflict) as exc:
        book(s, user="a_dispatcher", client_key="k-1", start=at(2026, 12, 7, 16))
    assert exc.value.code == "client_key_taken"


def test_county_b_can_neither_book_nor_touch_county_a(s):
    b_staff, b_manager = s.user("b_staff"), s.user("b_manager")
    with pytest.raises(NotFound):
        book(s, user="b_staff")
    with pytest.raises(NotFound):
        book(s, user="b_manager", priority="urgent", displace=True, displace_reason="x")
    hall = book(s, room=s.hall_a, start=at(2026, 12, 11, 10), attendees=50)
    mine = book(s)
    for call in (
        lambda: services.approve(actor=b_manager, booking_id=hall.pk),
        lambda: services.reject(actor=b_manager, booking_id=hall.pk, reason="x"),
        lambda: services.cancel(actor=b_manager, booking_id=mine.pk),
        lambda: services.check_in(actor=b_staff, booking_id=mine.pk, now=TWO_PM),
        lambda: services.end_meeting(actor=b_manager, booking_id=mine.pk, now=TWO_PM),
        lambda: services.save_room(actor=b_manager, room_id=s.room_a.pk, name="x"),
        lambda: services.rotate_checkin_token(actor=b_manager, room_id=s.room_a.pk),
        lambda: services.book_series(
            actor=b_staff,
            room_id=s.room_a.pk,
            rrule="FREQ=WEEKLY;COUNT=2",
            first_start=TWO_PM,
            duration_minutes=60,
            title="x",
            attendees=1,
        ),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(Conflict) as exc:  # the door code reveals nothing of A's bookings
        services.check_in(actor=b_staff, room_token=s.room_a.checkin_token, now=TWO_PM)
    assert exc.value.code == "nothing_to_check_in"
    # a whole life in county A: nobody in county B hears of any of it
    services.approve(actor=s.user("a_manager"), booking_id=hall.pk)
    book(s, user="a_manager", priority="urgent", displace=True, displace_reason="调研")
    tasks.remind_upcoming(now=at(2026, 12, 11, 9, 40))
    tasks.release_no_shows(now=at(2026, 12, 11, 12))
    assert not Notification.objects.filter(recipient__grants__org__in=[s.world.county_b]).exists()
    assert Notification.objects.filter(recipient=s.user("a_staff")).count() >= 4


def test_inactive_room_is_refused_to_its_own_county_hidden_from_others(s):
    Room.objects.filter(pk=s.room_a.pk).update(is_active=False)
    with pytest.raises(InvalidInput) as exc:
        book(s)
    assert exc.value.code == "room_inactive"
    Room.objects.filter(pk=s.shared.pk).update(is_active=False)
    with pytest.raises(NotFound):
        book(s, room=s.shared, start=at(2026, 12, 9, 10))


# --- rooms ---------------------------------------------------------------------------------


def test_save_room_and_rotate_the_door_code(s):
    manager = s.user("a_manager")
    loc = s.room_a.location
    room = services.save_room(
        actor=manager,
        org_id=s.world.county_a.pk,
        location_id=loc.pk,
        name="甲县第二会议室",
        capacity=12,
        equipment=["whiteboard", "screen"],
        opens_at="09:00",
        closes_at="17:00",
    )
    assert room.building == s.building_a and room.equipment == ["screen", "whiteboard"]
    assert room.org == s.world.county_a and room.version == 1
    with pytest.raises(PermissionDenied):
        services.save_room(actor=s.user("a_staff"), room_id=room.pk, name="x")
    with pytest.raises(InvalidInput) as exc:
        services.save_room(actor=manager, room_id=room.pk, location_id=s.room_b.location_id)
    assert exc.value.code == "invalid_location"
    with pytest.raises(InvalidInput) as exc:
        services.save_room(actor=manager, room_id=room.pk, closes_at="08:00")
    assert exc.value.code == "invalid_hours"
    with pytest.raises(StaleVersion):
        services.save_room(actor=manager, room_id=room.pk, version=5, capacity=3)
    room = services.save_room(actor=manager, room_id=room.pk, version=1, capacity=14)
    assert room.capacity == 14 and room.version == 2
    with pytest.raises(NotFound):
        services.save_room(actor=s.user("b_manager"), org_id=s.world.county_a.pk, name="x")
    old = room.checkin_token
    room = services.rotate_checkin_token(actor=manager, room_id=room.pk)
    assert room.checkin_token != old
    with pytest.raises(NotFound):
        services.check_in(actor=manager, room_token=old)
    assert AuditEntry.objects.filter(action="bookings.rotate_token").count() == 1


def test_exclusion_constraint_has_the_last_word(s, monkeypatch):
    """PostgreSQL: an overlap the check missed (committed meanwhile) is still refused."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    first = book(s)
    monkeypatch.setattr(services, "_overlapping", lambda room, start, end: [])
    with pytest.raises(Conflict) as exc:
        book(s, user="a_dispatcher", start=at(2026, 12, 7, 14, 30))
    assert exc.value.code == "room_taken"
    assert exc.value.details["conflicts"][0]["start"] == first.start_at.isoformat()
    assert Booking.objects.filter(active=True).count() == 1
