"""A work order whose clock passes the last step of its ladder raises one 督办."""

from __future__ import annotations

from datetime import timedelta

from dayuan.notifications.models import Notification
from dayuan.supervision.choices import TaskSource, TaskStatus
from dayuan.supervision.models import SupervisionTask
from dayuan.workorders import tasks
from dayuan.workorders.tests.test_tasks import standard, timed_order  # noqa: F401 (fixtures)


def test_the_last_step_raises_one_supervision_task(world, timed_order):  # noqa: F811
    order, _timer, t0 = timed_order
    tasks.escalate_overdue(now=t0 + timedelta(minutes=61))  # two of three steps
    assert not SupervisionTask.objects.exists()
    tasks.escalate_overdue(now=t0 + timedelta(minutes=91))  # the last step (150 %)
    tasks.escalate_overdue(now=t0 + timedelta(minutes=120))
    task = SupervisionTask.objects.get()
    assert (task.source, task.workorder_id, task.status) == (
        TaskSource.WORKORDER,
        order.pk,
        TaskStatus.OPEN,
    )
    assert (task.org, task.issuer_org) == (world.county_a, world.city)
    assert task.deadline > t0 + timedelta(days=3)
    assert order.number in task.title
    told = set(
        Notification.objects.filter(event__type="supervision.assigned").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"a_manager"}
