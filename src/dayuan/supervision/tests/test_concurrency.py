"""Real threads: two job runs at once notify each step once and raise one task."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.inspections import rectification
from dayuan.inspections.tests.factories import at, build
from dayuan.inspections.tests.test_rectification import open_finding
from dayuan.notifications.models import Event
from dayuan.supervision import services
from dayuan.supervision.models import SupervisionTask, TaskEvent
from dayuan.workorders.tests.test_concurrency import _race

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

T0 = at(2026, 3, 2, 9, 0)


def test_parallel_ladder_runs_raise_one_task(world):
    s = build(world)
    open_finding(s, "key")
    when = T0 + timedelta(hours=37)  # every step at once, the last included
    results, errors = _race([lambda: rectification.escalate_overdue(when) for _ in range(3)])
    assert not errors, errors
    assert sum(r["steps"] for r in results) == 3
    assert SupervisionTask.objects.count() == 1
    assert Event.objects.filter(type="inspections.rectification_escalated").count() == 3


def test_parallel_reminder_runs_remind_once(world):
    s = build(world)
    task = services.create_task(
        actor=s.user("a_manager"),
        org_id=world.county_a.pk,
        title="消防通道整治",
        instruction="清理堆物",
        deadline=T0 + timedelta(days=5),
        assignee_id=s.user("a_dispatcher").pk,
        now=T0,
    )
    when = at(2026, 3, 10, 9, 0)  # overdue and past 150 %
    results, errors = _race([lambda: services.run_reminders(when) for _ in range(3)])
    assert not errors, errors
    assert sum(r["overdue"] for r in results) == 1
    assert sum(r["escalated"] for r in results) == 1
    assert TaskEvent.objects.filter(task=task, action="remind").count() == 1
    assert Event.objects.filter(type="supervision.escalated").count() == 1
