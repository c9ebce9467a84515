"""Supervision (督办): issuing, handling and review; reminders before and after the
deadline, daily 催办, escalation up the org tree; the board's lights; org scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.inspections.tests.factories import at, build
from dayuan.notifications.models import Notification
from dayuan.supervision import queries, services
from dayuan.supervision.choices import Light, TaskStatus
from dayuan.supervision.models import TaskEvent

T0 = at(2026, 3, 2, 9, 0)  # a Monday
DEADLINE = T0 + timedelta(days=5)  # S1 ladder (24x7): warn 80 %, further 150 %


@pytest.fixture
def s(world):
    return build(world)


def create(s, *, actor="a_manager", org=None, assignee="a_dispatcher", **kw):
    params = {
        "title": "消防通道整治",
        "instruction": "一周内清理全部消防通道堆物",
        "deadline": DEADLINE,
        "now": T0,
        **kw,
    }
    return services.create_task(
        actor=s.user(actor),
        org_id=(org or s.world.county_a).pk,
        assignee_id=s.user(assignee).pk if assignee else None,
        **params,
    )


def notified(event_type: str) -> list[str]:
    return sorted(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def b_notified() -> bool:
    return Notification.objects.filter(recipient__username__startswith="b_").exists()


# --- create ------------------------------------------------------------------------------


def test_a_county_manager_issues_within_the_county(s):
    task = create(s)
    assert task.number.startswith("DB-20260302-")
    assert (task.org, task.issuer_org, task.status) == (
        s.world.county_a,
        s.world.county_a,
        TaskStatus.OPEN,
    )
    assert notified("supervision.assigned") == ["a_dispatcher"]
    assert list(task.events.values_list("action", flat=True)) == ["created"]
    city_task = create(s, actor="city_manager", org=s.world.county_b, assignee="b_dispatcher")
    assert city_task.issuer_org == s.world.city
    with pytest.raises(NotFound):
        create(s, org=s.world.county_b, assignee=None)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"deadline": T0 - timedelta(hours=1)}, "invalid_deadline"),
        ({"title": "  "}, "required"),
        ({"assignee": "b_dispatcher"}, "invalid_assignee"),
        ({"report_every_days": -1}, "invalid_report_every_days"),
        ({"source": "rectification"}, "invalid_source"),
    ],
)
def test_invalid_tasks_are_refused(s, kw, code):
    with pytest.raises(InvalidInput) as exc:
        create(s, **kw)
    assert exc.value.code == code


def test_only_issuers_issue(s):
    with pytest.raises(PermissionDenied):
        create(s, actor="a_dispatcher")


# --- the flow ----------------------------------------------------------------------------


def test_accept_report_submit_return_and_close(s):
    task = create(s)
    handler, manager = s.user("a_dispatcher"), s.user("a_manager")
    task = services.accept_task(actor=handler, task_id=task.pk, version=task.version, now=T0)
    assert task.status == TaskStatus.IN_PROGRESS
    event = services.report_progress(
        actor=handler, task_id=task.pk, text="已清理一半", progress=50, now=T0 + timedelta(days=1)
    )
    assert (event.action, event.progress) == ("report", 50)
    task.refresh_from_db()
    assert task.last_report_at == T0 + timedelta(days=1)
    assert notified("supervision.reported") == ["a_manager"]
    with pytest.raises(InvalidInput):
        services.report_progress(actor=handler, task_id=task.pk, text="x", progress=150)
    with pytest.raises(PermissionDenied):  # the assignee does not review their own result
        services.review(actor=handler, task_id=task.pk, version=task.version, approve=True)
    task = services.submit_result(
        actor=handler,
        task_id=task.pk,
        version=task.version,
        result="已全部清理",
        now=T0 + timedelta(days=1, hours=1),
    )
    assert task.status == TaskStatus.SUBMITTED
    with pytest.raises(InvalidInput) as exc:
        services.review(actor=manager, task_id=task.pk, version=task.version, approve=False)
    assert exc.value.code == "required"
    task = services.review(
        actor=manager,
        task_id=task.pk,
        version=task.version,
        approve=False,
        note="缺少照片",
        now=T0 + timedelta(days=1, hours=2),
    )
    assert (task.status, task.review_note) == (TaskStatus.IN_PROGRESS, "缺少照片")
    assert notified("supervision.returned") == ["a_dispatcher"]
    task = services.submit_result(
        actor=handler,
        task_id=task.pk,
        version=task.version,
        result="已补充照片",
        now=T0 + timedelta(days=2),
    )
    task = services.review(
        actor=manager, task_id=task.pk, version=task.version, approve=True, now=T0 + timedelta(3)
    )
    assert (task.status, task.closed_on_time) == (TaskStatus.CLOSED, True)
    assert services.light(task, T0 + timedelta(days=9)) == Light.DONE
    with pytest.raises(Conflict):
        services.remind(actor=manager, task_id=task.pk)
    actions = list(task.events.values_list("action", flat=True))
    assert actions == [
        "created",
        "accepted",
        "report",
        "submitted",
        "returned",
        "submitted",
        "closed",
    ]


def test_remind_reassign_and_cancel(s):
    task = create(s)
    manager = s.user("a_manager")
    services.remind(actor=manager, task_id=task.pk, note="请加快", now=T0)
    assert notified("supervision.reminded") == ["a_dispatcher"]
    with pytest.raises(PermissionDenied):
        services.remind(actor=s.user("a_dispatcher"), task_id=task.pk)
    task = services.reassign(
        actor=manager, task_id=task.pk, version=task.version, assignee_id=s.user("a_inspector").pk
    )
    assert task.assignee == s.user("a_inspector")
    with pytest.raises(InvalidInput):
        services.cancel_task(actor=manager, task_id=task.pk, version=task.version, reason="")
    task = services.cancel_task(
        actor=manager, task_id=task.pk, version=task.version, reason="重复交办"
    )
    assert task.status == TaskStatus.CANCELLED


def test_county_b_cannot_see_act_or_hear(s):
    task = create(s)
    b_manager = s.user("b_manager")
    assert not queries.tasks(b_manager).filter(pk=task.pk).exists()
    assert queries.tasks(s.user("city_manager")).filter(pk=task.pk).exists()
    with pytest.raises(NotFound):
        services.accept_task(actor=b_manager, task_id=task.pk, version=task.version)
    with pytest.raises(NotFound):
        services.remind(actor=b_manager, task_id=task.pk)
    services.run_reminders(DEADLINE + timedelta(days=10))
    assert not b_notified()


# --- the job -----------------------------------------------------------------------------


def test_reminder_before_the_deadline_once_then_one_cuiban_a_day(s):
    task = create(s)

    def run(when):
        return services.run_reminders(when)

    assert run(T0 + timedelta(days=1)) == {"before": 0, "overdue": 0, "escalated": 0, "report": 0}
    assert run(T0 + timedelta(days=4, hours=1))["before"] == 1  # 82 %
    assert run(T0 + timedelta(days=4, hours=2))["before"] == 0
    assert notified("supervision.reminded") == ["a_dispatcher"]

    assert run(at(2026, 3, 7, 10, 0))["overdue"] == 1  # the deadline's day
    assert run(at(2026, 3, 7, 23, 0))["overdue"] == 0
    assert run(at(2026, 3, 8, 0, 5))["overdue"] == 1  # a new calendar day
    assert run(at(2026, 3, 8, 12, 0))["overdue"] == 0
    task.refresh_from_db()
    assert task.overdue_reminders == 2
    assert task.events.filter(action="remind").count() == 3
    assert len(notified("supervision.reminded")) == 3


def test_escalation_climbs_one_level_per_window_up_to_the_city(s):
    # a vendor's task: vendor -> county A -> city
    task = create(s, org=s.world.vendor, assignee="vendor_worker")
    assert task.issuer_org == s.world.county_a
    counts = services.run_reminders(at(2026, 3, 9, 20, 0))  # 148 %
    assert counts["escalated"] == 0
    assert services.run_reminders(at(2026, 3, 9, 22, 0))["escalated"] == 1  # 150 %
    assert services.run_reminders(at(2026, 3, 9, 23, 0))["escalated"] == 0
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_to) == (1, s.world.county_a)
    assert notified("supervision.escalated") == ["a_manager"]
    assert services.run_reminders(at(2026, 3, 14, 22, 0))["escalated"] == 1  # 250 %
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_to) == (2, s.world.city)
    assert notified("supervision.escalated") == ["a_manager", "city_manager"]
    # never above the city
    assert services.run_reminders(at(2026, 3, 30, 22, 0))["escalated"] == 0
    assert TaskEvent.objects.filter(task=task, action="escalate").count() == 2


def test_a_county_task_escalates_to_the_city_once(s):
    task = create(s)
    services.run_reminders(at(2026, 3, 10, 9, 0))
    services.run_reminders(at(2026, 3, 30, 9, 0))
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_to) == (1, s.world.city)
    assert notified("supervision.escalated") == ["city_manager"]


def test_a_late_progress_report_is_chased_once_per_period(s):
    task = create(s, report_every_days=1)
    assert services.run_reminders(T0 + timedelta(hours=23))["report"] == 0
    assert services.light(task, T0 + timedelta(hours=23)) == Light.GREEN
    assert services.run_reminders(T0 + timedelta(hours=25))["report"] == 1
    assert services.run_reminders(T0 + timedelta(hours=26))["report"] == 0
    task.refresh_from_db()
    assert services.light(task, T0 + timedelta(hours=26)) == Light.YELLOW
    services.report_progress(
        actor=s.user("a_dispatcher"), task_id=task.pk, text="进行中", now=T0 + timedelta(hours=26)
    )
    task.refresh_from_db()
    assert services.light(task, T0 + timedelta(hours=27)) == Light.GREEN
    assert services.run_reminders(T0 + timedelta(hours=30))["report"] == 0
    assert services.run_reminders(T0 + timedelta(hours=50, minutes=1))["report"] == 1


def test_lights(s):
    task = create(s)
    assert services.light(task, T0 + timedelta(days=1)) == Light.GREEN
    assert services.light(task, T0 + timedelta(days=4, hours=1)) == Light.YELLOW  # last 20 %
    assert services.light(task, DEADLINE + timedelta(minutes=1)) == Light.RED
    long = create(s, deadline=T0 + timedelta(days=30))
    assert services.light(long, T0 + timedelta(days=29, hours=1)) == Light.YELLOW  # < 24 h
    assert services.light(long, T0 + timedelta(days=10)) == Light.GREEN
