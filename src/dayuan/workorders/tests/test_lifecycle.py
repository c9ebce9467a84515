"""The state machine through the services: every allowed move, every refused one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.notifications.models import Notification
from dayuan.workorders import services
from dayuan.workorders.choices import Status
from dayuan.workorders.models import WorkOrder, WorkOrderEvent

from .core_factories import advance, build, refresh, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world):
    return build(world)


def test_it_numbers_orders_per_day(s):
    first = submit(s)
    second = submit(s)
    day = timezone.localtime(first.submitted_at).strftime("%Y%m%d")
    assert first.number == f"WO-{day}-00001"
    assert second.number == f"WO-{day}-00002"
    assert re.fullmatch(r"WO-\d{8}-\d{5}", first.number)
    assert first.org == s.world.county_a  # the location's org
    assert first.requester == s.user("a_staff") and first.status == Status.SUBMITTED


def test_it_walks_the_happy_path_with_events_audit_and_notifications(s):
    order = submit(s)
    assert Notification.objects.filter(
        recipient=s.user("a_dispatcher"), event__type="workorders.submitted"
    ).exists()
    order = advance(s, order, Status.DISPATCHED)
    assert order.vendor == s.world.vendor and order.team == s.team
    assert Notification.objects.filter(
        recipient=s.user("vendor_worker"), event__type="workorders.dispatched"
    ).exists()
    order = advance(s, order, Status.ACCEPTED)
    assert order.accepted_at is not None
    assert Notification.objects.filter(
        recipient=s.user("a_staff"), event__type="workorders.accepted"
    ).exists()
    order = advance(s, order, Status.ON_SITE)
    order = advance(s, order, Status.RESOLVED)
    assert Notification.objects.filter(
        recipient=s.user("a_staff"), event__type="workorders.resolved"
    ).exists()
    order = services.confirm_and_rate(
        actor=s.user("a_staff"),
        order_id=order.pk,
        version=order.version,
        rating=5,
        tags=["及时", "专业", "及时"],
        comment="很快",
    )
    assert order.status == Status.CONFIRMED and order.close_reason == "confirmed"
    assert order.rating == 5 and order.rating_tags == ["及时", "专业"]
    actions = list(WorkOrderEvent.objects.filter(workorder=order).values_list("action", flat=True))
    assert actions == ["submit", "dispatch", "accept", "arrive", "resolve", "confirm"]
    audit = AuditEntry.objects.filter(object_id=str(order.pk), action__startswith="workorders.")
    assert {"workorders.submit", "workorders.accept", "workorders.confirm"} <= set(
        audit.values_list("action", flat=True)
    )
    accept_entry = audit.get(action="workorders.accept")
    assert accept_entry.changes["status"] == ["dispatched", "accepted"]
    assert order.version == 6  # created at 1, five transitions


def test_it_pauses_from_each_working_status_and_resumes_back(s):
    for status in (Status.DISPATCHED, Status.ACCEPTED, Status.ON_SITE):
        order = advance(s, submit(s), status)
        worker = s.user("vendor_worker")
        order = services.pause(
            actor=worker, order_id=order.pk, version=order.version, reason="waiting_parts"
        )
        assert order.status == Status.PAUSED and order.status_before_pause == status
        order = services.resume(actor=worker, order_id=order.pk, version=order.version)
        assert order.status == status and order.paused_at is None and order.pause_reason == ""


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED])
def test_it_cancels_before_arrival_by_requester_or_desk(s, status):
    order = advance(s, submit(s), status)
    order = services.cancel(
        actor=s.user("a_staff"), order_id=order.pk, version=order.version, reason="不需要了"
    )
    assert order.status == Status.CANCELLED and order.close_reason == "cancelled"
    other = advance(s, submit(s), status)
    other = services.cancel(
        actor=s.user("a_dispatcher"), order_id=other.pk, version=other.version, reason="重复报修"
    )
    assert other.status == Status.CANCELLED
    if status != Status.SUBMITTED:
        assert Notification.objects.filter(
            recipient=s.user("vendor_worker"), event__type="workorders.cancelled"
        ).exists()


def test_it_refuses_cancel_by_someone_else(s):
    order = submit(s)
    with pytest.raises(PermissionDenied):  # sees every order of the county, may not cancel
        services.cancel(actor=s.user("a_inspector"), order_id=order.pk, version=1, reason="x")
    with pytest.raises(NotFound):  # not assigned: does not even see it
        services.cancel(actor=s.user("vendor_worker"), order_id=order.pk, version=1, reason="x")
    assert refresh(order).status == Status.SUBMITTED


@pytest.mark.parametrize("final", ["resolved", "confirmed", "closed"])
def test_it_reopens_within_the_window(s, final):
    order = advance(s, submit(s), Status.RESOLVED)
    if final == "confirmed":
        order = services.confirm_and_rate(
            actor=s.user("a_staff"), order_id=order.pk, version=order.version, rating=2
        )
    elif final == "closed":
        later = order.resolved_at + timedelta(days=4)
        order = services.close_unrated(order_id=order.pk, now=later)
        assert order.status == Status.CLOSED and order.close_reason == "auto_unrated"
    order = services.reopen(
        actor=s.user("a_staff"), order_id=order.pk, version=order.version, reason="又漏了"
    )
    # it has an assignee: straight back to them
    assert order.status == Status.DISPATCHED and order.reopen_count == 1
    assert order.rating is None and order.resolved_at is None


def test_it_reopens_to_the_desk_without_an_assignee(s):
    order = advance(s, submit(s), Status.RESOLVED)
    WorkOrder.objects.filter(pk=order.pk).update(assignee=None)
    order = refresh(order)
    order = services.reopen(
        actor=s.user("a_dispatcher"), order_id=order.pk, version=order.version, reason="复查未修好"
    )
    assert order.status == Status.SUBMITTED


def test_it_refuses_reopen_after_the_window(s, settings):
    settings.WORKORDER_REOPEN_DAYS = 7
    order = advance(s, submit(s), Status.RESOLVED)
    with pytest.raises(Conflict) as exc:
        services.reopen(
            actor=s.user("a_staff"),
            order_id=order.pk,
            version=order.version,
            reason="x",
            now=order.resolved_at + timedelta(days=8),
        )
    assert exc.value.code == "reopen_window_passed"


def test_it_does_not_autoclose_early_and_is_idempotent(s):
    order = advance(s, submit(s), Status.RESOLVED)
    with pytest.raises(Conflict) as exc:
        services.close_unrated(order_id=order.pk, now=order.resolved_at + timedelta(days=1))
    assert exc.value.code == "autoclose_not_due"
    later = order.resolved_at + timedelta(days=4)
    closed = services.close_unrated(order_id=order.pk, now=later)
    again = services.close_unrated(order_id=order.pk, now=later)
    assert closed.version == again.version and again.status == Status.CLOSED


@pytest.mark.parametrize("status", [Status.DISPATCHED, Status.ACCEPTED])
def test_it_transfers_to_another_team(s, status):
    from dayuan.workorders.models import Team, TeamMember

    other = Team.objects.create(org=s.world.county_a, name="自有维修班")
    TeamMember.objects.create(team=other, user=s.user("a_manager"))
    order = advance(s, submit(s), status)
    order = services.transfer(
        actor=s.user("a_dispatcher"),
        order_id=order.pk,
        version=order.version,
        team_id=other.pk,
        reason="外包人员请假",
    )
    assert order.status == Status.DISPATCHED
    assert order.team == other and order.vendor is None and order.assignee is None
    # the new team's members may accept; the accepting member becomes the assignee
    order = services.accept(actor=s.user("a_manager"), order_id=order.pk, version=order.version)
    assert order.assignee == s.user("a_manager")


def test_it_refuses_an_assignee_outside_the_team(s):
    order = submit(s)
    with pytest.raises(InvalidInput) as exc:
        services.dispatch(
            actor=s.user("a_dispatcher"),
            order_id=order.pk,
            version=order.version,
            team_id=s.team.pk,
            assignee_id=s.user("a_staff").pk,
        )
    assert exc.value.code == "invalid_assignee"


def test_it_refuses_a_stale_version(s):
    order = submit(s)
    services.dispatch(actor=s.user("a_dispatcher"), order_id=order.pk, version=1, team_id=s.team.pk)
    with pytest.raises(StaleVersion) as exc:
        services.dispatch(
            actor=s.user("a_dispatcher"), order_id=order.pk, version=1, team_id=s.team.pk
        )
    assert exc.value.status == 409 and exc.value.details["current_version"] == 2


def test_it_hides_orders_from_outsiders_and_refuses_non_workers(s):
    order = advance(s, submit(s), Status.DISPATCHED)
    with pytest.raises(NotFound):
        services.accept(actor=s.user("b_dispatcher"), order_id=order.pk, version=order.version)
    with pytest.raises(PermissionDenied):  # sees it (inspector) but may not work it
        services.accept(actor=s.user("a_inspector"), order_id=order.pk, version=order.version)
    with pytest.raises(PermissionDenied):  # the requester may not accept
        services.accept(actor=s.user("a_staff"), order_id=order.pk, version=order.version)
    order = advance(s, order, Status.RESOLVED)
    with pytest.raises(PermissionDenied):  # only the requester rates
        services.confirm_and_rate(
            actor=s.user("a_dispatcher"), order_id=order.pk, version=order.version, rating=5
        )


def _call(action, order, actor):
    common = {"actor": actor, "order_id": order.pk, "version": order.version}
    calls = {
        "dispatch": lambda: services.dispatch(**common, team_id=1),
        "accept": lambda: services.accept(**common),
        "arrive": lambda: services.arrive(**common),
        "pause": lambda: services.pause(**common, reason="waiting_parts"),
        "resume": lambda: services.resume(**common),
        "resolve": lambda: services.resolve(**common, resolution="x"),
        "confirm": lambda: services.confirm_and_rate(**common, rating=5),
        "cancel": lambda: services.cancel(**common, reason="x"),
        "reopen": lambda: services.reopen(**common, reason="x"),
        "transfer": lambda: services.transfer(**common, team_id=1, reason="x"),
    }
    return calls[action]()


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_it_refuses_every_move_the_machine_forbids(s, status):
    # The dispatcher files it for themself: they may do every action, so only the
    # state machine can refuse.
    order = submit(s, actor="a_dispatcher")
    WorkOrder.objects.filter(pk=order.pk).update(
        status=status, status_before_pause="dispatched", resolved_at=timezone.now()
    )
    order = refresh(order)
    for action, (sources, _target) in services.TRANSITIONS.items():
        if action == "close_unrated" or status in sources:
            continue
        with pytest.raises(Conflict) as exc:
            _call(action, order, s.user("a_dispatcher"))
        assert exc.value.code == "illegal_transition", (status, action)
        assert exc.value.status == 409
        assert str(Status(status).label) in str(exc.value.message)
        assert exc.value.details["action"] == action
        assert refresh(order).version == order.version  # nothing changed
