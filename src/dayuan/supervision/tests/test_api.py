"""The supervision API through HTTP: a task from issue to review, reminders, reassign,
cancel, the board (its SQL light agrees with ``services.light``) and org scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from .. import queries, services
from ..models import SupervisionTask

pytestmark = pytest.mark.django_db


def _create(client, world, headers=None, **extra):
    body = {
        "org_id": world.county_a.pk,
        "title": "食堂油烟扰民整改",
        "instruction": "一周内办结并报送结果",
        "deadline": (timezone.now() + timedelta(days=7)).isoformat(),
        "assignee_id": world.user("a_dispatcher").pk,
        "report_every_days": 2,
        **extra,
    }
    return client.post("/api/v1/supervision/tasks", body, **(headers or {}))


def test_a_task_from_issue_to_review(world, api):
    city = api(world.user("city_manager"))
    resp = _create(city, world, source="complaint", **{})
    assert resp.status_code == 201, resp.content
    task = resp.json()
    assert task["number"].startswith("DB-") and task["light"] == "green"
    assert task["issuer_org_id"] == world.city.pk and task["source"] == "complaint"
    handler = api(world.user("a_dispatcher"))
    base = f"/api/v1/supervision/tasks/{task['id']}"
    assert "accept" in handler.get(base).json()["actions"]

    task = handler.post(f"{base}/accept", {"version": task["version"]}).json()
    assert task["status"] == "in_progress"
    task = handler.post(f"{base}/report", {"text": "已约谈食堂承包方", "progress": 40}).json()
    assert task["last_report_at"] and task["events"][-1]["progress"] == 40
    reminded = city.post(f"{base}/remind", {"note": "请加快进度"})
    assert reminded.status_code == 200 and reminded.json()["events"][-1]["action"] == "remind"
    stale = handler.post(f"{base}/submit", {"version": 1, "result": "已加装净化器"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    task = handler.post(f"{base}/submit", {"version": task["version"], "result": "已加装净化器"})
    task = task.json()
    assert task["status"] == "submitted"
    # the handler may not review its own result
    assert (
        handler.post(f"{base}/review", {"version": task["version"], "approve": True}).status_code
        == 403
    )
    task = city.post(f"{base}/review", {"version": task["version"], "approve": True}).json()
    assert task["status"] == "closed" and task["light"] == "done" and task["closed_on_time"]
    actions = [e["action"] for e in task["events"]]
    assert actions[0] == "created" and "accepted" in actions and "submitted" in actions


def test_create_is_idempotent_and_reassign_and_cancel(world, api):
    manager = api(world.user("a_manager"))
    key = {"HTTP_IDEMPOTENCY_KEY": "sup-1"}
    deadline = (timezone.now() + timedelta(days=7)).isoformat()
    one = _create(manager, world, key, deadline=deadline)
    two = _create(manager, world, key, deadline=deadline)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"] and SupervisionTask.objects.count() == 1
    task = one.json()
    base = f"/api/v1/supervision/tasks/{task['id']}"
    task = manager.post(
        f"{base}/reassign",
        {"version": task["version"], "assignee_id": world.user("a_inspector").pk},
    ).json()
    assert task["assignee_id"] == world.user("a_inspector").pk
    # someone of county B is not a possible assignee
    bad = manager.post(
        f"{base}/reassign", {"version": task["version"], "assignee_id": world.user("b_staff").pk}
    )
    assert bad.status_code in (404, 422)
    task = manager.post(f"{base}/cancel", {"version": task["version"], "reason": "已合并办理"})
    assert task.status_code == 200 and task.json()["status"] == "cancelled"
    assert manager.post(f"{base}/accept", {}).status_code in (403, 409)


def test_county_b_sees_nothing_of_county_a(world, api):
    task = _create(api(world.user("a_manager")), world).json()
    for name in ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin"):
        client = api(world.user(name))
        assert client.get(f"/api/v1/supervision/tasks/{task['id']}").status_code == 404
        assert client.get("/api/v1/supervision/tasks").json()["count"] == 0
        assert client.get("/api/v1/supervision/board").json()["rows"] == []
        assert client.post(f"/api/v1/supervision/tasks/{task['id']}/remind", {}).status_code == 404
    # nor may they issue one to county A
    assert _create(api(world.user("b_manager")), world).status_code == 404


def test_board_lights_agree_with_the_service(world, api):
    now = timezone.now()
    a, b = world.county_a, world.county_b
    dispatcher = world.user("a_dispatcher")
    specs = [
        # (org, issued, deadline, status, report_every_days, last_report_at)
        (a, now - timedelta(days=5), now - timedelta(hours=1), "in_progress", 0, None),  # red
        (a, now - timedelta(days=1), now + timedelta(hours=5), "open", 0, None),  # yellow: soon
        (a, now - timedelta(days=9), now + timedelta(days=2), "open", 0, None),  # yellow: tail
        (a, now - timedelta(days=3), now + timedelta(days=20), "in_progress", 2, None),  # report
        (a, now - timedelta(days=3), now + timedelta(days=20), "in_progress", 2, now),  # green
        (a, now - timedelta(days=1), now + timedelta(days=20), "open", 0, None),  # green
        (a, now - timedelta(days=9), now - timedelta(days=1), "closed", 0, None),  # done
        (b, now - timedelta(days=5), now - timedelta(hours=1), "open", 0, None),  # red, B
    ]
    for i, (org, issued, deadline, status, every, last) in enumerate(specs):
        SupervisionTask.objects.create(
            org=org, issuer_org=world.city, number=f"DB-L-{i}", title="t", instruction="i",
            source="instruction", status=status, deadline=deadline, issued_at=issued,
            report_every_days=every, last_report_at=last,
            assignee=dispatcher if org == a else world.user("b_dispatcher"),
        )  # fmt: skip
    city = world.user("city_manager")
    annotated = queries.task_list(city, now=now)
    for task in annotated:
        assert task.light == services.light(task, now), task.number
    board = api(city).get("/api/v1/supervision/board").json()
    rows = {r["name"]: r for r in board["rows"]}
    assert (rows[a.name]["red"], rows[a.name]["yellow"], rows[a.name]["green"]) == (1, 3, 2)
    assert rows[a.name]["done"] == 1 and rows[b.name]["red"] == 1
    assert board["rows"][0]["red"] >= board["rows"][-1]["red"]
    people = api(world.user("a_manager")).get("/api/v1/supervision/board?by=person").json()
    assert [(r["name"], r["red"], r["total"]) for r in people["rows"]] == [("a_dispatcher", 1, 7)]
    reds = api(city).get("/api/v1/supervision/tasks?light=red").json()
    assert reds["count"] == 2
