"""An automatic 督办 ends with its source: closed with a system result when the
rectification is accepted or the work order done, cancelled when the finding or the
order is withdrawn; on time by the task's deadline; idempotent."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from dayuan.audit.models import AuditEntry
from dayuan.inspections import rectification
from dayuan.inspections import services as insp_services
from dayuan.inspections.models import FindingEvent, Rectification
from dayuan.inspections.tests.factories import at
from dayuan.inspections.tests.factories import build as build_inspections
from dayuan.inspections.tests.test_rectification import open_finding
from dayuan.notifications.models import Notification
from dayuan.supervision import services
from dayuan.supervision.choices import TaskStatus
from dayuan.supervision.models import SupervisionTask, TaskEvent
from dayuan.workorders import services as wo_services
from dayuan.workorders.choices import Status
from dayuan.workorders.tests.core_factories import advance, submit
from dayuan.workorders.tests.core_factories import build as build_workorders

pytestmark = pytest.mark.django_db

T0 = at(2026, 3, 2, 9, 0)  # a Monday


@pytest.fixture
def s(world):
    return build_inspections(world)


def supervised(s, severity: str = "key") -> tuple[Rectification, SupervisionTask]:
    """A county A order run past its whole ladder (150 % of 24 h): one automatic task."""
    rect = Rectification.objects.get(finding=open_finding(s, severity))
    rectification.escalate_overdue(T0 + timedelta(hours=37))
    rect.refresh_from_db()
    return rect, SupervisionTask.objects.get(rectification=rect)


def evidence_and_verdict(s, rect: Rectification, when) -> Rectification:
    rect = rectification.submit_evidence(
        actor=s.user("vendor_worker"),
        rectification_id=rect.pk,
        version=rect.version,
        evidence="杂物已清走",
        now=when,
    )
    return rectification.verify(
        actor=s.user("a_inspector"),
        rectification_id=rect.pk,
        version=rect.version,
        verdict="accept",
        now=when + timedelta(minutes=5),
    )


def task_actions(task: SupervisionTask) -> list[str]:
    return list(TaskEvent.objects.filter(task=task).values_list("action", flat=True))


def test_accepting_the_rectification_closes_its_task_on_time(s):
    rect, task = supervised(s)
    assert task.status == TaskStatus.OPEN
    when = task.deadline - timedelta(hours=2)
    evidence_and_verdict(s, rect, when)
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED
    assert task.result == "整改已验收通过。" and task.review_note == "整改已验收通过。"
    assert task.closed_at == when + timedelta(minutes=5) and task.closed_on_time is True
    assert task_actions(task)[-1] == "auto_closed"
    assert "supervision_closed" in FindingEvent.objects.filter(finding=rect.finding).values_list(
        "action", flat=True
    )
    assert AuditEntry.objects.filter(
        action="supervision.auto_close", object_id=str(task.pk)
    ).exists()
    # no named assignee: the county's managers hear of it, county B does not
    told = Notification.objects.filter(event__type="supervision.closed")
    assert set(told.values_list("recipient__username", flat=True)) == {"a_manager"}


def test_a_rectification_accepted_after_the_task_deadline_closes_it_late(s):
    rect, task = supervised(s)
    evidence_and_verdict(s, rect, task.deadline + timedelta(hours=1))
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED and task.closed_on_time is False


def test_the_handlers_result_is_kept_when_the_source_closes_first(s):
    rect, task = supervised(s)
    manager = s.user("a_manager")
    task = services.accept_task(actor=manager, task_id=task.pk, now=T0 + timedelta(hours=38))
    task = services.submit_result(
        actor=manager,
        task_id=task.pk,
        version=task.version,
        result="已约谈物业公司",
        now=T0 + timedelta(hours=39),
    )
    evidence_and_verdict(s, rect, T0 + timedelta(hours=40))
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED
    assert task.result == "已约谈物业公司" and task.review_note == "整改已验收通过。"


def test_cancelling_the_finding_cancels_its_task(s):
    rect, task = supervised(s)
    finding = rect.finding
    finding.refresh_from_db()
    insp_services.cancel_finding(
        actor=s.user("a_inspector"),
        finding_id=finding.pk,
        version=finding.version,
        reason="重复登记",
        now=T0 + timedelta(hours=40),
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.closed_on_time is None
    assert task.review_note == "问题已撤销，督办随之撤销。"
    assert task_actions(task)[-1] == "auto_cancelled"
    assert "supervision_cancelled" in FindingEvent.objects.filter(finding=finding).values_list(
        "action", flat=True
    )


def test_following_twice_or_a_task_already_ended_changes_nothing(s):
    rect, task = supervised(s)
    services.cancel_task(  # the issuer (the city) withdraws it first
        actor=s.user("city_manager"), task_id=task.pk, version=task.version, reason="另案处理"
    )
    task.refresh_from_db()
    version = task.version
    assert services.follow_source(rectification=rect, now=T0) is None
    assert services.follow_source(now=T0) is None  # no source: nothing to follow
    evidence_and_verdict(s, rect, T0 + timedelta(hours=40))
    task.refresh_from_db()
    assert (task.status, task.version) == (TaskStatus.CANCELLED, version)
    assert task_actions(task).count("auto_closed") == 0


def test_a_rectification_without_a_task_is_accepted_as_before(s):
    rect = Rectification.objects.get(finding=open_finding(s))
    rect = evidence_and_verdict(s, rect, T0 + timedelta(hours=1))
    assert rect.status == "accepted" and not SupervisionTask.objects.exists()


# --- work orders -------------------------------------------------------------------------


@pytest.fixture
def w(world):
    return build_workorders(world)


def order_task(w, status: str):
    order = advance(w, submit(w), status)
    now = timezone.now()
    timer = SimpleNamespace(label="响应", due_at=now - timedelta(hours=1))
    task = services.raise_from_workorder(order, timer, now=now)
    return order, task


def test_resolving_the_order_closes_its_task(w):
    order, task = order_task(w, Status.ON_SITE)
    wo_services.resolve(
        actor=w.user("vendor_worker"), order_id=order.pk, version=order.version, resolution="已修复"
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED and task.result == "工单已完成。"
    assert task.closed_on_time is True
    assert task_actions(task) == ["created", "auto_closed"]


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED])
def test_cancelling_the_order_cancels_its_task(w, status):
    order, task = order_task(w, status)
    wo_services.cancel(
        actor=w.user("a_dispatcher"), order_id=order.pk, version=order.version, reason="重复报修"
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.review_note == "工单已取消，督办随之撤销。"
    assert task_actions(task) == ["created", "auto_cancelled"]


def test_confirming_or_reopening_a_resolved_order_leaves_the_closed_task(w):
    order, task = order_task(w, Status.ON_SITE)
    order = wo_services.resolve(
        actor=w.user("vendor_worker"), order_id=order.pk, version=order.version, resolution="已修复"
    )
    wo_services.reopen(
        actor=w.user("a_staff"), order_id=order.pk, version=order.version, reason="还在漏"
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED and task_actions(task).count("auto_closed") == 1
