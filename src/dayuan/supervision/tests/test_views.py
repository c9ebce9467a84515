"""The supervision pages: the board, the list, issuing a task, handling and reviewing it
through the forms; only the actions the user may take are shown; county scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dayuan.supervision import services
from dayuan.supervision.choices import TaskStatus
from dayuan.supervision.models import SupervisionTask

pytestmark = pytest.mark.django_db


def client_for(world, name: str) -> Client:
    c = Client()
    c.force_login(world.user(name))
    return c


def create(world, *, deadline=None, assignee="a_dispatcher") -> SupervisionTask:
    return services.create_task(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        title="消防通道整治",
        instruction="一周内清理全部消防通道堆物",
        deadline=deadline or timezone.now() + timedelta(days=5),
        assignee_id=world.user(assignee).pk,
    )


def test_pages_render_and_the_board_shows_the_lights(world):
    late = create(world)
    # a day later than planned: past its deadline now
    SupervisionTask.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(hours=1))
    c = client_for(world, "a_manager")
    for url in (
        reverse("supervision:home"),
        reverse("supervision:tasks"),
        reverse("supervision:new"),
        reverse("supervision:detail", args=[late.pk]),
        reverse("supervision:tasks") + "?status=open&light=red",
    ):
        resp = c.get(url)
        assert resp.status_code == 200, url
        assert "乙县" not in resp.content.decode(), url
    board = c.get(reverse("supervision:home")).content.decode()
    assert f'data-testid="org-{world.county_a.pk}"' in board
    assert 'class="n-red">1<' in board
    red = c.get(reverse("supervision:tasks") + "?light=red").content.decode()
    assert late.number in red


def test_a_manager_issues_a_task_through_the_form(world):
    c = client_for(world, "a_manager")
    deadline = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    resp = c.post(
        reverse("supervision:new"),
        {
            "org": world.county_a.pk,
            "assignee": world.user("a_dispatcher").pk,
            "title": "食堂卫生整改",
            "instruction": "三日内完成后厨清洁",
            "source": "instruction",
            "deadline": deadline,
            "report_every_days": 1,
        },
    )
    task = SupervisionTask.objects.get(title="食堂卫生整改")
    assert resp["Location"] == reverse("supervision:detail", args=[task.pk])
    assert task.report_every_days == 1 and task.assignee == world.user("a_dispatcher")
    assert timezone.localtime(task.deadline).strftime("%Y-%m-%dT%H:%M") == deadline
    # staff cannot issue
    assert client_for(world, "a_staff").get(reverse("supervision:new")).status_code == 403


def test_handle_and_review_through_the_pages(world):
    task = create(world)
    handler = client_for(world, "a_dispatcher")
    page = handler.get(reverse("supervision:detail", args=[task.pk])).content.decode()
    assert 'data-testid="accept"' in page and 'data-testid="review-form"' not in page
    handler.post(reverse("supervision:act", args=[task.pk, "accept"]), {"version": task.version})
    handler.post(
        reverse("supervision:act", args=[task.pk, "report"]), {"text": "已清理一半", "progress": 50}
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS
    handler.post(
        reverse("supervision:act", args=[task.pk, "submit"]),
        {"version": task.version, "result": "全部清理完毕"},
    )
    manager = client_for(world, "a_manager")
    page = manager.get(reverse("supervision:detail", args=[task.pk])).content.decode()
    assert 'data-testid="review-form"' in page and "已清理一半" in page
    manager.post(reverse("supervision:act", args=[task.pk, "remind"]), {"note": "请尽快"})
    task.refresh_from_db()
    resp = manager.post(
        reverse("supervision:act", args=[task.pk, "review"]),
        {"version": task.version, "approve": "1", "note": "同意"},
    )
    assert resp.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED
    body = manager.get(reverse("supervision:detail", args=[task.pk])).content.decode()
    assert "催办" in body and "审核通过" in body


def test_a_stale_version_is_shown_not_applied(world):
    task = create(world)
    resp = client_for(world, "a_dispatcher").post(
        reverse("supervision:act", args=[task.pk, "accept"]), {"version": task.version + 5}
    )
    assert resp.status_code == 409 and "已被他人更新" in resp.content.decode()


def test_county_b_gets_404_on_county_a_tasks(world):
    task = create(world)
    b = client_for(world, "b_manager")
    assert b.get(reverse("supervision:detail", args=[task.pk])).status_code == 404
    resp = b.post(reverse("supervision:act", args=[task.pk, "remind"]), {"note": "x"})
    assert resp.status_code == 404
    assert task.number not in b.get(reverse("supervision:tasks")).content.decode()
    assert task.number not in b.get(reverse("supervision:home")).content.decode()
