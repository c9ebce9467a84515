"""The API: each user sees and marks only their own notifications; robots stay in scope."""

from __future__ import annotations

import pytest

from dayuan.notifications import events, services
from dayuan.notifications.models import Notification, WebhookEndpoint


@pytest.fixture
def inboxes(world):
    a_staff, b_staff = world.user("a_staff"), world.user("b_staff")
    for i in range(3):
        services.emit(
            events.SYSTEM_ANNOUNCEMENT,
            org=world.county_a,
            recipients=[a_staff, b_staff],  # b_staff is dropped: county A's records
            title=f"甲县通知{i}",
            body="内容",
        )
    services.emit(
        events.SYSTEM_ANNOUNCEMENT,
        org=world.county_b,
        recipients=[b_staff],
        title="乙县通知",
        body="",
    )
    return world


def test_it_lists_only_the_users_own_notifications(inboxes, api):
    world = inboxes
    res = api(world.user("a_staff")).get("/api/v1/notifications")
    assert res.status_code == 200
    body = res.json()
    assert body["count"] == 3
    assert [n["title"] for n in body["items"]] == ["甲县通知2", "甲县通知1", "甲县通知0"]
    assert body["items"][0]["type"] == "system.announcement"
    assert body["items"][0]["type_label"] == "系统公告"
    assert body["items"][0]["read_at"] is None
    res = api(world.user("b_staff")).get("/api/v1/notifications")
    assert [n["title"] for n in res.json()["items"]] == ["乙县通知"]


def test_it_filters_unread_and_counts(inboxes, api):
    world = inboxes
    client = api(world.user("a_staff"))
    first = client.get("/api/v1/notifications").json()["items"][0]["id"]
    res = client.post("/api/v1/notifications/read", {"ids": [first]})
    assert res.status_code == 200 and res.json() == {"updated": 1}
    assert client.get("/api/v1/notifications/unread-count").json() == {"count": 2}
    unread = client.get("/api/v1/notifications?unread=true").json()
    assert unread["count"] == 2 and first not in [n["id"] for n in unread["items"]]
    assert client.post("/api/v1/notifications/read-all").json() == {"updated": 2}
    assert client.get("/api/v1/notifications/unread-count").json() == {"count": 0}


def test_it_does_not_let_b_staff_mark_a_staffs_notifications(inboxes, api):
    world = inboxes
    ids = list(
        Notification.objects.filter(recipient=world.user("a_staff")).values_list("id", flat=True)
    )
    res = api(world.user("b_staff")).post("/api/v1/notifications/read", {"ids": ids})
    assert res.status_code == 200 and res.json() == {"updated": 0}
    api(world.user("b_staff")).post("/api/v1/notifications/read-all")
    assert Notification.objects.filter(pk__in=ids, read_at__isnull=True).count() == 3
    assert api(world.user("a_staff")).get("/api/v1/notifications/unread-count").json() == {
        "count": 3
    }


def test_it_validates_the_ids(inboxes, api):
    res = api(inboxes.user("a_staff")).post("/api/v1/notifications/read", {"ids": []})
    assert res.status_code == 422 and res.json()["code"] == "validation_error"


def test_it_requires_authentication(db, api):
    assert api().get("/api/v1/notifications").status_code == 401


def test_it_manages_robots_in_scope_only(world, api):
    a_mgr, b_mgr = api(world.user("a_manager")), api(world.user("b_manager"))
    res = a_mgr.post(
        "/api/v1/notifications/webhooks",
        {
            "org_id": world.county_a.pk,
            "name": "甲县后勤群",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "kind": "dingtalk",
            "secret": "SECabc",
            "event_types": ["system.*"],
        },
    )
    assert res.status_code == 201, res.content
    created = res.json()
    assert created["has_secret"] is True and "secret" not in created
    ep_id = created["id"]

    listed = b_mgr.get("/api/v1/notifications/webhooks").json()
    assert ep_id not in [e["id"] for e in listed["items"]]
    assert b_mgr.get(f"/api/v1/notifications/webhooks/{ep_id}").status_code == 404
    patch = b_mgr.patch(
        f"/api/v1/notifications/webhooks/{ep_id}", {"version": 1, "is_active": False}
    )
    assert patch.status_code == 404
    assert b_mgr.delete(f"/api/v1/notifications/webhooks/{ep_id}").status_code == 404
    assert WebhookEndpoint.objects.get(pk=ep_id).is_active

    city = api(world.user("city_manager")).get("/api/v1/notifications/webhooks").json()
    assert ep_id in [e["id"] for e in city["items"]]
    # Staff may not see robots at all (their URLs carry access keys).
    staff = api(world.user("a_staff")).get("/api/v1/notifications/webhooks").json()
    assert staff["count"] == 0

    res = a_mgr.patch(f"/api/v1/notifications/webhooks/{ep_id}", {"version": 1, "name": "新名"})
    assert res.status_code == 200 and res.json()["version"] == 2
    stale = a_mgr.patch(f"/api/v1/notifications/webhooks/{ep_id}", {"version": 1, "name": "x"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert a_mgr.delete(f"/api/v1/notifications/webhooks/{ep_id}").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=ep_id).exists()


def test_it_refuses_robots_outside_reach_or_role(world, api):
    payload = {"org_id": world.county_a.pk, "name": "x", "url": "https://example.cn/hook"}
    res = api(world.user("a_staff")).post("/api/v1/notifications/webhooks", payload)
    assert res.status_code == 403 and res.json()["code"] == "permission_denied"
    res = api(world.user("b_manager")).post("/api/v1/notifications/webhooks", payload)
    assert res.status_code == 404
    bad = {**payload, "url": "file:///etc/passwd"}
    res = api(world.user("a_manager")).post("/api/v1/notifications/webhooks", bad)
    assert res.status_code == 422 and res.json()["code"] == "invalid_url"
    assert not WebhookEndpoint.objects.exists()


def test_it_broadcasts_through_the_api(world, api):
    res = api(world.user("a_manager")).post(
        "/api/v1/notifications/broadcast",
        {"org_id": world.county_a.pk, "title": "甲县公告", "body": "周五消防演练"},
    )
    assert res.status_code == 201, res.content
    assert res.json()["recipients"] >= 5
    b_inbox = api(world.user("b_staff")).get("/api/v1/notifications").json()
    assert b_inbox["count"] == 0
    a_inbox = api(world.user("a_staff")).get("/api/v1/notifications").json()
    assert [n["title"] for n in a_inbox["items"]] == ["甲县公告"]
    res = api(world.user("b_manager")).post(
        "/api/v1/notifications/broadcast",
        {"org_id": world.county_a.pk, "title": "越权公告", "body": ""},
    )
    assert res.status_code == 404
