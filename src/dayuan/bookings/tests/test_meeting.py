"""Meeting services become work orders for the vendor crew with clocks before the
meeting's start from the standard; cancelling the booking cancels them; cleaning is
ordered once after the meeting; the in-meeting and after-meeting checklists are
inspections of the room with the standard's checklist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.accounts.choices import Role
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_user
from dayuan.inspections import services as inspections
from dayuan.inspections.choices import InspectionKind
from dayuan.inspections.models import Finding
from dayuan.workorders import services as workorders
from dayuan.workorders.choices import Status as WO
from dayuan.workorders.models import Responsibility, ServiceCategory, WorkOrder

from .. import meeting
from ..choices import BookingStatus
from ..models import Booking, BookingEvent, MeetingCheck, MeetingService
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

START = at(2026, 12, 8, 14, 0)  # Tuesday afternoon, the day after MONDAY
END = at(2026, 12, 8, 16, 0)


@pytest.fixture
def setup(world):
    return build(world)


def make_booking(setup, *, room=None, booker="a_staff", start=START, end=END, **kw) -> Booking:
    room = room or setup.room_a
    user = setup.user(booker)
    n = Booking.objects.count() + 1
    fields = {
        "org": room.org,
        "room": room,
        "number": f"HY-20261207-{n:05d}",
        "booker": user,
        "organizer_unit": user.home_org,
        "title": "季度工作会",
        "attendees": 12,
        "start_at": start,
        "end_at": end,
        "requested_at": MONDAY,
        **kw,
    }
    return Booking.objects.create(**fields)


def order(setup, booking, *kinds, actor="a_staff", now=MONDAY):
    items = [{"kind": k, "note": f"{k} 要求"} for k in kinds]
    return meeting.order_services(booking, items, actor=setup.user(actor), now=now)


def timers_of(wo: WorkOrder) -> dict:
    return {t.name: t for t in wo.timers.select_related("clause", "rule")}


# --- ordering ----------------------------------------------------------------------------


def test_each_service_is_a_work_order_for_the_vendor_crew_due_before_the_start(setup):
    booking = make_booking(setup)
    services = order(setup, booking, "tea", "av", "layout", "name_cards")
    assert [s.kind for s in services] == ["tea", "av", "layout", "name_cards"]
    expected = {  # kind -> (timer, minutes before the start, clause)
        "tea": ("tea_ready", 15, "M7"),
        "av": ("projector_ready", 30, "M6"),
        "layout": ("layout_ready", 60, "M7"),
    }
    for s in services:
        wo = s.workorder
        assert wo.category.code == f"meeting.{s.kind}"
        assert wo.org == setup.room_a.org and wo.location == setup.room_a.location
        assert wo.status == WO.DISPATCHED and wo.team == setup.team
        assert wo.vendor == setup.world.vendor
        assert wo.requester == setup.user("a_staff")
        assert booking.number in wo.description and setup.room_a.name in wo.description
        assert f"{s.kind} 要求" in wo.description
        timers = timers_of(wo)
        if s.kind in expected:
            name, minutes, clause = expected[s.kind]
            timer = timers[name]
            assert timer.anchor == "before_start"
            assert timer.due_at == START - timedelta(minutes=minutes)
            assert timer.clause.number == clause
            assert timer.rule.key.startswith(clause.lower())
        else:  # no clause times name cards: worked, not timed
            assert timers == {}
    events = list(services[0].workorder.events.values_list("action", flat=True))
    assert events == ["submit", "auto_dispatch"]


def test_nearest_category_and_no_responsible_team_leaves_it_for_the_desk(setup):
    own = ServiceCategory.objects.create(
        org=setup.world.county_a, code="meeting.tea", name="县茶水", sla_category="meeting.tea"
    )
    booking = make_booking(setup)
    (tea,) = order(setup, booking, "tea")
    assert tea.workorder.category == own  # the county's own beats the city's
    assert tea.workorder.status == WO.SUBMITTED and tea.workorder.team is None
    assert timers_of(tea.workorder)["tea_ready"].due_at == START - timedelta(minutes=15)


def test_unavailable_service_refuses_the_whole_order(setup):
    ServiceCategory.objects.filter(code="meeting.banner").update(is_active=False)
    booking = make_booking(setup)
    with pytest.raises(InvalidInput) as exc:
        order(setup, booking, "tea", "banner")
    assert exc.value.code == "service_unavailable"
    assert exc.value.details["kind"] == "banner"
    assert not WorkOrder.objects.exists() and not MeetingService.objects.exists()


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([{"kind": "tea"}, {"kind": "tea"}], "duplicate_service"),
        ([{"kind": "massage"}], "invalid_service_kind"),
        ([{"kind": "tea", "note": "x" * 301}], "too_long"),
        ("tea", "invalid_services"),
    ],
)
def test_bad_items_are_refused(setup, items, code):
    booking = make_booking(setup)
    with pytest.raises(InvalidInput) as exc:
        meeting.order_services(booking, items, actor=setup.user("a_staff"), now=MONDAY)
    assert exc.value.code == code
    assert not WorkOrder.objects.exists()


def test_add_services_by_booker_or_manager_before_the_start(setup):
    booking = make_booking(setup)
    added = meeting.add_services(
        actor=setup.user("a_staff"), booking_id=booking.pk, items=[{"kind": "tea"}], now=MONDAY
    )
    assert added[0].workorder.category.code == "meeting.tea"
    event = BookingEvent.objects.get(booking=booking, action="services")
    assert event.details["services"]["tea"] == added[0].workorder.number
    with pytest.raises(Conflict) as exc:
        meeting.add_services(
            actor=setup.user("a_staff"), booking_id=booking.pk, items=[{"kind": "tea"}], now=MONDAY
        )
    assert exc.value.code == "service_already_ordered"
    meeting.add_services(
        actor=setup.user("a_manager"), booking_id=booking.pk, items=[{"kind": "av"}], now=MONDAY
    )
    for name, error in (("b_manager", NotFound), ("a_inspector", NotFound)):
        with pytest.raises(error):
            meeting.add_services(
                actor=setup.user(name), booking_id=booking.pk, items=[{"kind": "layout"}]
            )
    with pytest.raises(PermissionDenied):  # sees it (view_all) but is neither
        meeting.add_services(
            actor=setup.user("a_dispatcher"),
            booking_id=booking.pk,
            items=[{"kind": "layout"}],
            now=MONDAY,
        )
    with pytest.raises(Conflict) as exc:
        meeting.add_services(
            actor=setup.user("a_staff"),
            booking_id=booking.pk,
            items=[{"kind": "layout"}],
            now=START,
        )
    assert exc.value.code == "already_started"
    assert MeetingService.objects.filter(booking=booking).count() == 2


def test_cancelling_the_booking_cancels_its_open_orders(setup):
    booking = make_booking(setup)
    tea, av, layout = order(setup, booking, "tea", "av", "layout")
    worker = setup.user("vendor_worker")
    wo = workorders.accept(actor=worker, order_id=av.workorder.pk, version=av.workorder.version)
    # the layout crew is on site already: that work stays
    wo_layout = workorders.accept(
        actor=worker, order_id=layout.workorder.pk, version=layout.workorder.version
    )
    workorders.arrive(actor=worker, order_id=wo_layout.pk, version=wo_layout.version)
    n = meeting.cancel_services(booking, actor=setup.user("a_staff"), now=MONDAY, reason="会议取消")
    assert n == 2
    statuses = dict(WorkOrder.objects.values_list("category__code", "status"))
    assert statuses == {
        "meeting.tea": WO.CANCELLED,
        "meeting.av": WO.CANCELLED,
        "meeting.layout": WO.ON_SITE,
    }
    cancel = WorkOrder.objects.get(pk=wo.pk).events.get(action="cancel")
    assert cancel.note == "会议取消" and cancel.actor == setup.user("a_staff")
    assert meeting.cancel_services(booking, actor=None, now=MONDAY, reason="") == 0
    # a cancelled service may be ordered again
    (again,) = order(setup, booking, "tea")
    assert again.pk == tea.pk and again.workorder.status == WO.DISPATCHED


# --- cleaning ----------------------------------------------------------------------------


def test_cleaning_is_ordered_once_after_the_meeting(setup):
    booking = make_booking(setup)
    order(setup, booking, "cleaning")  # asked for up front: the note waits for the end
    cleaning = MeetingService.objects.get(booking=booking, kind="cleaning")
    assert cleaning.workorder is None
    assert meeting.order_cleaning(booking, now=START) is None  # not taken place yet
    Booking.objects.filter(pk=booking.pk).update(
        status=BookingStatus.COMPLETED, active=False, ended_at=END
    )
    done = END + timedelta(minutes=5)
    service = meeting.order_cleaning(booking, now=done)
    wo = service.workorder
    assert service.pk == cleaning.pk and wo.category.code == "meeting.cleaning"
    assert "cleaning 要求" in wo.description and wo.team == setup.team
    timer = timers_of(wo)["resolve"]
    assert timer.due_at == done + timedelta(minutes=120) and timer.clause.number == "M7"
    assert meeting.order_cleaning(booking, now=done) is None
    assert WorkOrder.objects.filter(category__code="meeting.cleaning").count() == 1


def test_no_cleaning_for_a_meeting_that_did_not_happen_or_without_category(setup):
    released = make_booking(setup, status=BookingStatus.RELEASED, active=False)
    assert meeting.order_cleaning(released, now=END) is None
    ServiceCategory.objects.filter(code="meeting.cleaning").update(is_active=False)
    done = make_booking(
        setup, room=setup.small_a, status=BookingStatus.COMPLETED, active=False, ended_at=END
    )
    assert meeting.order_cleaning(done, now=END) is None
    assert not WorkOrder.objects.exists()


# --- checks ------------------------------------------------------------------------------


def test_in_meeting_check_is_an_inspection_with_the_standards_checklist(setup):
    booking = make_booking(setup, status=BookingStatus.CHECKED_IN)
    order(setup, booking, "tea")
    manager = setup.user("a_manager")
    with pytest.raises(Conflict) as exc:
        meeting.start_check(
            actor=manager, booking_id=booking.pk, checklist="meeting.in_meeting", now=MONDAY
        )
    assert exc.value.code == "check_not_now"
    during = START + timedelta(minutes=40)
    insp = meeting.start_check(
        actor=manager, booking_id=booking.pk, checklist="meeting.in_meeting", now=during
    )
    assert insp.checklist_code == "meeting.in_meeting" and insp.kind == InspectionKind.PATROL
    assert [i["key"] for i in insp.checklist["items"]] == ["tea_refill_interval"]
    assert insp.location == setup.room_a.location and insp.vendor == setup.world.vendor
    check = MeetingCheck.objects.get(booking=booking)
    assert check.inspection == insp and check.checklist == "meeting.in_meeting"
    again = meeting.start_check(
        actor=manager, booking_id=booking.pk, checklist="meeting.in_meeting", now=during
    )
    assert again.pk == insp.pk and MeetingCheck.objects.count() == 1
    with pytest.raises(Conflict) as exc:  # someone else's check
        meeting.start_check(
            actor=setup.user("a_inspector"),
            booking_id=booking.pk,
            checklist="meeting.in_meeting",
            now=during,
        )
    assert exc.value.code == "check_taken"
    # tea refilled only every 35 minutes: the item fails, a finding goes to the vendor
    inspections.submit_inspection(
        actor=manager,
        inspection_id=insp.pk,
        answers={"tea_refill_interval": {"value": 35}},
        now=during,
    )
    finding = Finding.objects.get(inspection=insp)
    assert finding.vendor == setup.world.vendor and finding.clause.number == "M2"


def test_after_meeting_check_and_who_may_start_checks(setup):
    booking = make_booking(setup, status=BookingStatus.CHECKED_IN)
    after = END + timedelta(minutes=10)
    for name, error in (
        ("b_manager", NotFound),
        ("b_inspector", NotFound),
        ("a_staff", PermissionDenied),  # the booker sees it but does not inspect
    ):
        with pytest.raises(error):
            meeting.start_check(
                actor=setup.user(name), booking_id=booking.pk, checklist="meeting.after", now=after
            )
    with pytest.raises(InvalidInput) as exc:
        meeting.start_check(
            actor=setup.user("a_inspector"), booking_id=booking.pk, checklist="x", now=after
        )
    assert exc.value.code == "invalid_checklist"
    with pytest.raises(Conflict):  # in-meeting check after the end
        meeting.start_check(
            actor=setup.user("a_inspector"),
            booking_id=booking.pk,
            checklist="meeting.in_meeting",
            now=after,
        )
    with pytest.raises(Conflict):  # after-check during the meeting
        meeting.start_check(
            actor=setup.user("a_inspector"),
            booking_id=booking.pk,
            checklist="meeting.after",
            now=START + timedelta(minutes=5),
        )
    insp = meeting.start_check(
        actor=setup.user("a_inspector"), booking_id=booking.pk, checklist="meeting.after", now=after
    )
    keys = [i["key"] for i in insp.checklist["items"]]
    assert keys == ["left_items_checked", "left_items_returned"]
    assert insp.inspector == setup.user("a_inspector") and insp.vendor is None
    assert BookingEvent.objects.filter(booking=booking, action="check").count() == 1


def test_checks_use_the_self_kind_for_service_staff(setup):
    booking = make_booking(
        setup, status=BookingStatus.COMPLETED, active=False, ended_at=END - timedelta(minutes=30)
    )
    # a county worker (bookings.serve, inspections.self_inspect, no patrol)

    worker = make_user("a_worker", setup.world.county_a, Role.WORKER)
    insp = meeting.start_check(
        actor=worker,
        booking_id=booking.pk,
        checklist="meeting.after",
        now=END - timedelta(minutes=20),
    )
    assert insp.kind == InspectionKind.SELF


def test_responsibility_table_drives_the_team(setup):
    Responsibility.objects.filter(category=setup.categories["av"]).delete()
    booking = make_booking(setup)
    tea, av = order(setup, booking, "tea", "av")
    assert tea.workorder.team == setup.team
    assert av.workorder.team is None and av.workorder.status == WO.SUBMITTED
    assert timers_of(av.workorder)["projector_ready"].due_at == START - timedelta(minutes=30)


def test_booking_a_room_with_services_and_cancelling_it(setup):
    from .. import services

    staff = setup.user("a_staff")
    booking = services.book_room(
        actor=staff,
        room_id=setup.room_a.pk,
        start_at=START,
        end_at=END,
        title="季度工作会",
        attendees=10,
        contact_name="张三",
        contact_phone="13800000000",
        services=[{"kind": "tea", "note": "绿茶"}, {"kind": "av", "note": ""}],
        now=MONDAY,
    )
    orders = {s.kind: s.workorder for s in booking.services.select_related("workorder")}
    assert set(orders) == {"tea", "av"}
    assert all(o.status == WO.DISPATCHED for o in orders.values())
    services.cancel(actor=staff, booking_id=booking.pk, reason="改期", now=MONDAY)
    assert set(
        WorkOrder.objects.filter(pk__in=[o.pk for o in orders.values()]).values_list(
            "status", flat=True
        )
    ) == {WO.CANCELLED}
