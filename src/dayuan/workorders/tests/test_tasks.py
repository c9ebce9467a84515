"""Periodic jobs: the escalation ladder and auto-closing unrated work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant
from dayuan.core.testing import make_user
from dayuan.notifications.models import Event, Notification
from dayuan.standards import services as std_services
from dayuan.standards.models import Judgment
from dayuan.workorders import sla, tasks
from dayuan.workorders.choices import CloseReason, Status
from dayuan.workorders.models import WorkOrder, WorkOrderTimer

from .test_dispatch import make_category, make_order, places

SLA = {
    "category": "repair",
    "calendar": "24x7",
    "timers": [{"name": "respond", "label": "响应", "minutes": 60}],
    "pause_reasons": ["awaiting_parts"],
    "escalation": [
        {"at_percent": 50, "action": "warn", "notify": ["dispatcher"]},
        {"at_percent": 100, "action": "escalate", "notify": ["dispatcher", "manager"]},
        {"at_percent": 150, "action": "escalate_further", "notify": ["manager", "worker"]},
    ],
}


@pytest.fixture
def standard(world):
    manager = world.user("city_manager")
    std = std_services.create_standard(
        actor=manager,
        code="wo-sla",
        title="报修响应标准",
        issuing_org_id=world.city.pk,
        domain="property",
    )
    draft = std.versions.get()
    clause = std_services.upsert_clause(
        actor=manager,
        version_id=draft.pk,
        number="5.1",
        text="报修 60 分钟内响应",
        severity="key",
        binding=True,
    )
    std_services.upsert_rule(
        actor=manager, clause_id=clause.pk, key="respond", kind="sla", params=SLA
    )
    std_services.publish(actor=manager, version_id=draft.pk)
    std_services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    return std


@pytest.fixture
def timed_order(world, standard):
    """A county A order submitted at ``t0`` (now: the standard is in force from now on),
    with its one-hour clock started; the tests run the jobs at later instants."""
    room, *_ = places(world)
    t0 = timezone.now()
    order = make_order(world, make_category(world.city), room, submitted_at=t0)
    (timer,) = sla.start_timers(order, "created", t0)
    assert timer.due_at == t0 + timedelta(minutes=60)
    return order, timer, t0


def _notified(event_type="workorders.escalated"):
    return sorted(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def test_it_notifies_each_step_once_to_the_roles_it_names(world, timed_order):
    order, timer, t0 = timed_order
    # A dispatcher at the city is farther away than county A's: not bothered.
    make_user("city_dispatcher", world.city, Role.DISPATCHER)
    assert tasks.escalate_overdue(now=t0 + timedelta(minutes=20)) == {"steps": 0, "breached": 0}
    assert _notified() == []

    result = tasks.escalate_overdue(now=t0 + timedelta(minutes=31))
    assert result == {"steps": 1, "breached": 0}
    assert _notified() == ["a_dispatcher"]
    event = Event.objects.get(type="workorders.escalated")
    assert event.org == world.county_a and order.number in event.title
    assert event.payload["level"] == 1 and event.payload["action"] == "warn"
    timer.refresh_from_db()
    assert timer.escalation_level == 1
    # Running again (or late) notifies nobody twice.
    tasks.escalate_overdue(now=t0 + timedelta(minutes=32))
    assert _notified() == ["a_dispatcher"]

    result = tasks.escalate_overdue(now=t0 + timedelta(minutes=61))
    assert result == {"steps": 1, "breached": 1}
    assert _notified() == ["a_dispatcher", "a_dispatcher", "a_manager"]
    timer.refresh_from_db()
    assert timer.escalation_level == 2 and timer.breached
    assert Judgment.objects.filter(subject_id=str(order.pk), outcome="fail").count() == 1
    tasks.escalate_overdue(now=t0 + timedelta(minutes=62))
    assert len(_notified()) == 3
    # Never county B's dispatchers or managers, never the city's, whatever the roles.
    everyone = set(_notified())
    assert not everyone & {"b_dispatcher", "b_manager", "city_dispatcher", "city_manager"}
    assert Event.objects.filter(type="workorders.escalated").count() == 2


def test_it_catches_up_several_steps_and_reaches_the_assignee(world, timed_order):
    order, timer, t0 = timed_order
    worker = make_user("w_vendor2", world.vendor, Role.WORKER)
    WorkOrder.objects.filter(pk=order.pk).update(
        status=Status.DISPATCHED, assignee=worker, vendor=world.vendor
    )
    # The job was down for two hours: every step is notified now, each once.
    result = tasks.escalate_overdue(now=t0 + timedelta(minutes=95))
    assert result == {"steps": 3, "breached": 1}
    levels = sorted(
        Event.objects.filter(type="workorders.escalated").values_list("payload__level", flat=True)
    )
    assert levels == [1, 2, 3, 3]  # step 3 goes to the manager and to the worker
    assert _notified() == ["a_dispatcher", "a_dispatcher", "a_manager", "a_manager", "w_vendor2"]
    worker_event = Notification.objects.get(recipient=worker).event
    assert worker_event.org == world.vendor  # the worker's grants reach the vendor only
    tasks.escalate_overdue(now=t0 + timedelta(minutes=200))
    assert len(_notified()) == 5
    assert WorkOrderTimer.objects.get(pk=timer.pk).escalation_level == 3


def test_it_leaves_paused_met_and_other_county_orders_alone(world, timed_order):
    order, timer, t0 = timed_order
    WorkOrder.objects.filter(pk=order.pk).update(status=Status.PAUSED)
    assert tasks.escalate_overdue(now=t0 + timedelta(minutes=90)) == {"steps": 0, "breached": 0}
    WorkOrder.objects.filter(pk=order.pk).update(status=Status.ACCEPTED)
    WorkOrderTimer.objects.filter(pk=timer.pk).update(met_at=t0 + timedelta(minutes=10))
    assert tasks.escalate_overdue(now=t0 + timedelta(minutes=90))["steps"] == 0
    assert _notified() == []
    # A county B order notifies county B's desk, not county A's.
    room_b, *_ = places(world, "b")
    order_b = make_order(
        world, order.category, room_b, submitted_at=t0, requester=world.user("b_staff")
    )
    sla.start_timers(order_b, "created", t0)
    tasks.escalate_overdue(now=t0 + timedelta(minutes=31))
    assert _notified() == ["b_dispatcher"]


def test_it_never_falls_back_to_a_sibling_countys_holder_of_a_role(world, timed_order):
    _order, _timer, t0 = timed_order
    # County A has no dispatcher left and the city none: county B's is no substitute.
    Grant.objects.filter(user__username="a_dispatcher").delete()
    tasks.escalate_overdue(now=t0 + timedelta(minutes=31))
    assert _notified() == []  # nobody holds the role on county A's path: nobody
    assert Event.objects.filter(type="workorders.escalated").count() == 1


def _resolved(world, days_ago, status=Status.RESOLVED, **fields):
    room, *_ = places(world)
    at = timezone.now() - timedelta(days=days_ago)
    return make_order(
        world,
        make_category(world.city, code=f"c{days_ago}{status}"),
        room,
        status=status,
        submitted_at=at - timedelta(hours=2),
        resolved_at=at,
        **fields,
    )


def test_it_auto_closes_unrated_work_after_the_configured_days(world, settings):
    settings.WORKORDER_AUTOCLOSE_DAYS = 3
    old = _resolved(world, 4)
    fresh = _resolved(world, 1)
    rated = _resolved(world, 5, status=Status.CONFIRMED, rating=4)
    assert tasks.auto_close_unrated() == {"closed": 1, "skipped": 0}
    old.refresh_from_db()
    assert old.status == Status.CLOSED
    assert old.close_reason == CloseReason.AUTO_UNRATED
    assert old.rating is None  # never counted as a 5
    fresh.refresh_from_db()
    rated.refresh_from_db()
    assert fresh.status == Status.RESOLVED and fresh.rating is None
    assert rated.status == Status.CONFIRMED and rated.rating == 4
    # Idempotent: nothing left to close.
    assert tasks.auto_close_unrated() == {"closed": 0, "skipped": 0}
    # The setting counts: at 7 days the 4-day-old one would have waited.
    settings.WORKORDER_AUTOCLOSE_DAYS = 7
    waiting = _resolved(world, 6)
    assert tasks.auto_close_unrated()["closed"] == 0
    assert tasks.auto_close_unrated(now=timezone.now() + timedelta(days=2))["closed"] == 1
    waiting.refresh_from_db()
    fresh.refresh_from_db()
    assert waiting.close_reason == CloseReason.AUTO_UNRATED and waiting.rating is None
    assert fresh.status == Status.RESOLVED


def test_it_runs_as_periodic_jobs(world, timed_order):
    _order, timer, _t0 = timed_order
    WorkOrderTimer.objects.filter(pk=timer.pk).update(
        started_at=timer.started_at - timedelta(hours=5), due_at=timer.due_at - timedelta(hours=5)
    )
    assert tasks.escalate_overdue_every_minute.call_local() == {"steps": 3, "breached": 1}
    assert tasks.auto_close_unrated_every_quarter_hour.call_local() == {"closed": 0, "skipped": 0}


def test_paused_time_does_not_count_towards_escalation(world, timed_order):
    """A 60-minute clock paused for 60 minutes: one minute after resuming only 11 minutes
    of it are used, so the 50 % warning must not fire yet (it did when the ladder
    measured from the original start)."""
    _order, timer, t0 = timed_order
    # Paused from minute 10 to minute 70: the due time moved 60 minutes later.
    WorkOrderTimer.objects.filter(pk=timer.pk).update(
        paused_minutes=60, due_at=timer.due_at + timedelta(minutes=60)
    )
    assert tasks.escalate_overdue(now=t0 + timedelta(minutes=71)) == {"steps": 0, "breached": 0}
    assert _notified() == []
    # 31 minutes of clock time used: the warning fires.
    assert tasks.escalate_overdue(now=t0 + timedelta(minutes=91))["steps"] == 1
    assert _notified() == ["a_dispatcher"]
