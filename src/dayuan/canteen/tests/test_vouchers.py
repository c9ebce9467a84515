"""餐券: an organiser issues one-meal vouchers for guests (charged to their unit, counted
against the meal's cap, no more than a meeting's attendees), voids the unused ones
before the cancellation deadline, and nobody outside sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.bookings.models import Booking, Room
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_location
from dayuan.notifications.models import Notification
from dayuan.orgs.choices import LocationKind

from .. import reservations as rs
from ..choices import Meal, MenuStatus, VoucherPurpose, VoucherStatus
from ..models import Menu, Voucher, VoucherBatch
from .factories import at, menu

pytestmark = pytest.mark.django_db

V = VoucherStatus
EARLY = at(2026, 12, 7, 8, 0)
RESERVE_UNTIL = at(2026, 12, 7, 9, 30)
CANCEL_UNTIL = at(2026, 12, 7, 9, 0)
SECOND = timedelta(seconds=1)


def issue(cw, who: str, m: Menu, count: int = 5, now=EARLY, **kw) -> VoucherBatch:
    kw.setdefault("purpose", VoucherPurpose.VISITOR)
    kw.setdefault("guest", "省厅调研组")
    return rs.issue_vouchers(actor=cw.user(who), menu_id=m.pk, count=count, now=now, **kw)


def booking_for(cw, org, booker, attendees: int) -> Booking:
    building = make_location(org, "会议楼", LocationKind.BUILDING)
    floor = make_location(org, "1层", LocationKind.FLOOR, building)
    room = Room.objects.create(
        org=org,
        location=make_location(org, "101", LocationKind.ROOM, floor),
        building=building,
        name=f"{org.code} 会议室",
        capacity=30,
    )
    return Booking.objects.create(
        org=org,
        room=room,
        number=f"HY-{org.code}",
        booker=booker,
        organizer_unit=org,
        title="季度工作会",
        attendees=attendees,
        start_at=at(2026, 12, 7, 9, 0),
        end_at=at(2026, 12, 7, 11, 0),
        requested_at=at(2026, 12, 1, 9, 0),
    )


def test_issuing_vouchers_takes_places_and_gives_distinct_8_digit_codes(cw, lunch):
    batch = issue(cw, "a_staff", lunch, 5, client_key="k1")
    assert batch.number == "CQ-20261207-00001"
    assert batch.count == 5 and batch.unit == cw.world.county_a  # the issuer's unit
    assert batch.issuer == cw.user("a_staff") and batch.org == cw.world.county_a
    codes = list(batch.vouchers.values_list("code", flat=True))
    assert len(set(codes)) == 5
    assert all(len(c) == 8 and c.isdigit() for c in codes)
    assert set(batch.vouchers.values_list("status", "menu_id")) == {(V.ISSUED, lunch.pk)}
    lunch.refresh_from_db()
    assert lunch.reserved_count == 5
    note = Notification.objects.get(recipient=cw.user("a_staff"))
    assert note.event.type == "canteen.vouchers_issued" and batch.number in note.body
    assert AuditEntry.objects.filter(
        action="canteen.issue_vouchers", outcome="success", object_id=str(batch.pk)
    ).exists()
    # the same request again returns the first batch
    assert issue(cw, "a_staff", lunch, 5, client_key="k1").pk == batch.pk
    lunch.refresh_from_db()
    assert lunch.reserved_count == 5 and VoucherBatch.objects.count() == 1
    second = issue(cw, "a_staff", lunch, 3)
    assert second.number == "CQ-20261207-00002"
    assert Voucher.objects.filter(menu=lunch).values("code").distinct().count() == 8


def test_a_batch_is_limited_unless_a_manager_issues_it(cw, lunch):
    for count in (0, -1, 51, "x"):
        with pytest.raises(InvalidInput) as exc:
            issue(cw, "a_staff", lunch, count)
        assert exc.value.code == "too_many_vouchers", count
    assert issue(cw, "a_staff", lunch, 50).count == 50
    assert issue(cw, "a_manager", lunch, 120).count == 120  # managers of the canteen
    lunch.refresh_from_db()
    assert lunch.reserved_count == 170


def test_vouchers_for_a_meeting_no_more_than_its_attendees(cw, lunch):
    meeting = booking_for(cw, cw.world.county_a, cw.user("a_staff"), attendees=12)
    with pytest.raises(InvalidInput) as exc:
        issue(cw, "a_staff", lunch, 13, booking_id=meeting.pk, purpose=VoucherPurpose.MEETING)
    assert exc.value.code == "too_many_vouchers" and exc.value.details["limit"] == 12
    batch = issue(cw, "a_staff", lunch, 8, booking_id=meeting.pk, purpose=VoucherPurpose.MEETING)
    assert batch.booking == meeting
    # over every batch of the meeting for this meal, not per batch
    with pytest.raises(InvalidInput) as exc:
        issue(cw, "a_staff", lunch, 5, booking_id=meeting.pk, purpose=VoucherPurpose.MEETING)
    assert exc.value.code == "too_many_vouchers" and exc.value.details["limit"] == 4
    issue(cw, "a_staff", lunch, 4, booking_id=meeting.pk, purpose=VoucherPurpose.MEETING)
    lunch.refresh_from_db()
    assert lunch.reserved_count == 12 and Voucher.objects.filter(menu=lunch).count() == 12
    # someone else's meeting in another county is not there at all
    theirs = booking_for(cw, cw.world.county_b, cw.user("b_staff"), attendees=40)
    with pytest.raises(NotFound):
        issue(cw, "a_staff", lunch, 2, booking_id=theirs.pk)


def test_vouchers_count_against_the_meals_cap(cw):
    m = menu(cw, capacity=10)
    rs.reserve(actor=cw.user("a_manager"), menu_id=m.pk, now=EARLY)
    with pytest.raises(Conflict) as exc:
        issue(cw, "a_staff", m, 10)
    assert exc.value.code == "meal_full"
    assert issue(cw, "a_staff", m, 9).count == 9
    with pytest.raises(Conflict) as exc:
        rs.reserve(actor=cw.user("a_dispatcher"), menu_id=m.pk, now=EARLY)
    assert exc.value.code == "meal_full"
    m.refresh_from_db()
    assert m.reserved_count == 10


def test_vouchers_only_for_an_open_meal_before_its_deadline(cw, lunch):
    with pytest.raises(Conflict) as exc:
        issue(cw, "a_staff", lunch, now=RESERVE_UNTIL)
    assert exc.value.code == "reservation_closed"
    assert issue(cw, "a_staff", lunch, now=RESERVE_UNTIL - SECOND).count == 5
    draft = menu(cw, meal=Meal.DINNER, status=MenuStatus.DRAFT)
    with pytest.raises(Conflict) as exc:
        issue(cw, "a_staff", draft)
    assert exc.value.code == "menu_not_open"


def test_the_charged_unit_must_be_in_the_issuers_scope(cw, lunch):
    with pytest.raises(NotFound):
        issue(cw, "a_staff", lunch, unit_id=cw.world.county_b.pk)
    with pytest.raises(NotFound):
        issue(cw, "a_staff", lunch, unit_id=987_654)
    batch = issue(cw, "city_manager", lunch, unit_id=cw.world.county_a.pk)
    assert batch.unit == cw.world.county_a
    with pytest.raises(InvalidInput) as exc:
        issue(cw, "a_staff", lunch, purpose="party")
    assert exc.value.code == "bad_purpose"
    with pytest.raises(InvalidInput) as exc:
        issue(cw, "a_staff", lunch, guest="  ")
    assert exc.value.code == "required"
    assert VoucherBatch.objects.count() == 1


def test_another_county_cannot_issue_for_a_meal_it_does_not_see(cw, lunch):
    told = Notification.objects.count()
    with pytest.raises(NotFound):
        issue(cw, "b_staff", lunch)
    lunch.refresh_from_db()
    assert lunch.reserved_count == 0 and not VoucherBatch.objects.exists()
    assert Notification.objects.count() == told


def test_voiding_gives_back_the_unused_places_before_the_cancel_deadline(cw, lunch):
    batch = issue(cw, "a_staff", lunch, 4)
    used = batch.vouchers.order_by("pk").first()
    Voucher.objects.filter(pk=used.pk).update(status=V.REDEEMED)
    with pytest.raises(Conflict) as exc:
        rs.void_vouchers(actor=cw.user("a_staff"), batch_id=batch.pk, now=CANCEL_UNTIL)
    assert exc.value.code == "cancellation_closed"
    lunch.refresh_from_db()
    assert lunch.reserved_count == 4
    rs.void_vouchers(actor=cw.user("a_staff"), batch_id=batch.pk, now=CANCEL_UNTIL - SECOND)
    assert sorted(batch.vouchers.values_list("status", flat=True)) == [
        V.REDEEMED,
        V.VOID,
        V.VOID,
        V.VOID,
    ]
    lunch.refresh_from_db()
    assert lunch.reserved_count == 1
    # again: nothing left to void, nothing changes
    rs.void_vouchers(actor=cw.user("a_staff"), batch_id=batch.pk, now=EARLY)
    lunch.refresh_from_db()
    assert lunch.reserved_count == 1
    entries = AuditEntry.objects.filter(action="canteen.void_vouchers", outcome="success")
    assert [e.changes["voided"] for e in entries.order_by("pk")] == [[0, 3], [0, 0]]


def test_who_may_void_a_batch(cw, lunch):
    batch = issue(cw, "a_staff", lunch, 2)
    for who in ("b_staff", "b_manager"):
        with pytest.raises(NotFound):
            rs.void_vouchers(actor=cw.user(who), batch_id=batch.pk, now=EARLY)
    with pytest.raises(PermissionDenied):  # the kitchen sees the batch but does not void it
        rs.void_vouchers(actor=cw.user("vendor_worker"), batch_id=batch.pk, now=EARLY)
    rs.void_vouchers(actor=cw.user("a_manager"), batch_id=batch.pk, now=EARLY)
    assert set(batch.vouchers.values_list("status", flat=True)) == {V.VOID}
    lunch.refresh_from_db()
    assert lunch.reserved_count == 0
