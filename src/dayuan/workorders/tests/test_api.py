"""The work-order API through HTTP: submit (multipart), list, detail, every transition."""

from __future__ import annotations

import json

import pytest

from dayuan.workorders.choices import Status
from dayuan.workorders.models import WorkOrder

from .core_factories import build, gps_jpeg, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(world)


def form(api, user, path, data, **extra):
    """A multipart POST (the test client's default encoding) with the user's token."""
    client = api(user)
    return client.client.post(path, data=data, **client.headers, **extra)


def submit(api, s, user="a_staff", **extra_data):
    data = {
        "category_id": s.category.pk,
        "location_id": s.room.pk,
        "description": "三楼会议室空调不制冷",
        **extra_data,
    }
    r = form(api, s.user(user), "/api/v1/workorders", data)
    assert r.status_code == 201, r.content
    return r.json()


def post(api, s, user, order, action, **data):
    return api(s.user(user)).post(
        f"/api/v1/workorders/{order['id']}/{action}", {"version": order["version"], **data}
    )


def test_it_submits_with_photos_and_shows_the_detail(api, s):
    r = form(
        api,
        s.user("a_staff"),
        "/api/v1/workorders",
        {
            "category_id": s.category.pk,
            "location_id": s.room.pk,
            "description": "漏水",
            "urgency": "urgent",
            "contact_phone": "13800000000",
            "photos": [upload(gps_jpeg(), "a.jpg"), upload(gps_jpeg(), "b.jpg")],
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["number"].startswith("WO-") and body["status"] == "submitted"
    assert body["urgency"] == "urgent" and body["org_id"] == s.world.county_a.pk
    assert {t["name"] for t in body["timers"]} == {"respond", "resolve"}
    assert body["events"][0]["action"] == "submit"
    assert len(body["photos"]) == 2
    assert body["photos"][0]["url"].startswith(f"/api/v1/workorders/{body['id']}/photos/")
    assert body["actions"] == ["cancel"]  # the requester may only cancel now
    got = api(s.user("a_dispatcher")).get(f"/api/v1/workorders/{body['id']}").json()
    assert got["actions"] == ["dispatch", "auto_dispatch", "cancel"]
    image = api(s.user("a_staff")).get(body["photos"][0]["thumbnail_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"  # consumed: file closed


def test_it_replays_a_submit_with_the_same_idempotency_key(api, s):
    data = {"category_id": s.category.pk, "location_id": s.room.pk, "description": "门锁坏了"}
    client = api(s.user("a_staff"))  # one token: one identity

    def send():
        return client.client.post(
            "/api/v1/workorders", data=data, HTTP_IDEMPOTENCY_KEY="k-1", **client.headers
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert WorkOrder.objects.count() == 1


def test_it_refuses_bad_submissions_clearly(api, s):
    r = form(
        api,
        s.user("a_staff"),
        "/api/v1/workorders",
        {"category_id": s.category.pk, "location_id": s.room_b.pk, "description": "x"},
    )
    assert r.status_code == 404  # county B's rooms do not exist for her
    r = form(api, s.user("a_staff"), "/api/v1/workorders", {"location_id": s.room.pk})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert WorkOrder.objects.count() == 0


def test_it_runs_the_whole_lifecycle_over_http(api, s):
    order = submit(api, s)
    r = post(api, s, "a_dispatcher", order, "dispatch", team_id=s.team.pk)
    assert r.status_code == 200, r.content
    order = r.json()
    assert order["status"] == "dispatched" and order["team_name"] == s.team.name
    r = post(api, s, "vendor_worker", order, "accept")
    order = r.json()
    assert order["status"] == "accepted" and order["assignee_id"] == s.user("vendor_worker").pk
    r = post(api, s, "vendor_worker", order, "pause", reason="lunch_break")
    assert r.status_code == 422
    err = r.json()
    assert err["code"] == "pause_reason_refused"
    assert "W1" in err["message"] and err["details"]["violations"][0]["clause"] == "W1"
    order = post(api, s, "vendor_worker", order, "pause", reason="waiting_parts").json()
    assert order["status"] == "paused" and order["pause_reason"] == "waiting_parts"
    order = post(api, s, "vendor_worker", order, "resume").json()
    assert order["status"] == "accepted"
    order = post(api, s, "vendor_worker", order, "arrive").json()
    assert order["status"] == "on_site"
    r = form(
        api,
        s.user("vendor_worker"),
        f"/api/v1/workorders/{order['id']}/resolve",
        {
            "version": order["version"],
            "resolution": "更换压缩机电容",
            "materials": json.dumps([{"name": "电容", "qty": 1, "unit": "个", "price": 35}]),
            "cost": "35.00",
            "photos": [upload(gps_jpeg(), "done.jpg")],
        },
    )
    assert r.status_code == 200, r.content
    order = r.json()
    assert order["status"] == "resolved" and order["materials"][0]["name"] == "电容"
    assert [p["kind"] for p in order["photos"]] == ["completion"]
    r = post(api, s, "a_staff", order, "rate", rating=4, tags=["及时"], comment="不错")
    order = r.json()
    assert order["status"] == "confirmed" and order["rating"] == 4
    r = post(api, s, "a_staff", order, "reopen", reason="又坏了")
    order = r.json()
    assert order["status"] == "dispatched" and order["reopen_count"] == 1
    r = post(api, s, "a_dispatcher", order, "transfer", team_id=s.team.pk, reason="换人")
    assert r.status_code == 200 and r.json()["status"] == "dispatched"
    order = r.json()
    r = post(api, s, "a_staff", order, "cancel", reason="不修了")
    assert r.json()["status"] == "cancelled"
    actions = [e["action"] for e in r.json()["events"]]
    assert actions == [
        "submit",
        "dispatch",
        "accept",
        "pause",
        "resume",
        "arrive",
        "resolve",
        "confirm",
        "reopen",
        "transfer",
        "cancel",
    ]


def test_it_answers_illegal_and_stale_moves_with_409(api, s):
    order = submit(api, s)
    r = post(api, s, "a_dispatcher", order, "accept")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "illegal_transition"
    assert "已提交" in body["message"] and "接单" in body["message"]
    assert body["details"]["allowed"] == [
        "dispatch",
        "cancel",
    ]
    fresh = post(api, s, "a_dispatcher", order, "dispatch", team_id=s.team.pk)
    assert fresh.status_code == 200
    stale = post(api, s, "a_dispatcher", order, "cancel", reason="x")  # old version
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert WorkOrder.objects.get(pk=order["id"]).status == Status.DISPATCHED


def test_it_auto_dispatches_or_says_why_not(api, s):
    order = submit(api, s)
    r = post(api, s, "a_dispatcher", order, "auto-dispatch")
    assert r.status_code == 409 and r.json()["code"] == "no_responsible_team"
    from dayuan.workorders.models import Responsibility

    Responsibility.objects.create(org=s.world.county_a, category=s.category, team=s.team)
    r = post(api, s, "a_dispatcher", order, "auto-dispatch")
    assert r.status_code == 200, r.content
    assert r.json()["team_id"] == s.team.pk and r.json()["status"] == "dispatched"


def test_it_lists_with_filters_and_pages(api, s):
    first = submit(api, s)
    second = submit(api, s, description="走廊灯不亮")
    submit(api, s, user="a_dispatcher", category_id=s.untimed.pk, description="草坪修剪")
    client = api(s.user("a_dispatcher"))
    body = client.get("/api/v1/workorders?page_size=2").json()
    assert body["count"] == 3 and len(body["items"]) == 2 and body["has_next"]
    assert client.get("/api/v1/workorders?q=走廊").json()["items"][0]["id"] == second["id"]
    assert client.get(f"/api/v1/workorders?category_id={s.category.pk}").json()["count"] == 2
    building = s.room.parent.parent  # the room's building
    assert client.get(f"/api/v1/workorders?location_id={building.pk}").json()["count"] == 3
    assert client.get(f"/api/v1/workorders?location_id={s.room_b.pk}").json()["count"] == 0
    assert client.get("/api/v1/workorders?status=submitted,dispatched").json()["count"] == 3
    assert client.get("/api/v1/workorders?status=resolved").json()["count"] == 0
    mine = api(s.user("a_staff")).get("/api/v1/workorders?mine=true").json()
    assert {o["id"] for o in mine["items"]} == {first["id"], second["id"]}
    assert client.get("/api/v1/workorders?overdue=true").json()["count"] == 0


def test_it_orders_the_queue_by_the_earliest_due_clock(api, s):
    from datetime import timedelta

    from dayuan.workorders.models import WorkOrderTimer

    a = submit(api, s, description="甲")
    b = submit(api, s, description="乙")
    c = submit(api, s, category_id=s.untimed.pk, description="丙（无时限）")
    for o in (a, b, c):
        r = post(api, s, "a_dispatcher", o, "dispatch", team_id=s.team.pk)
        assert r.status_code == 200
    # make b's respond clock the most urgent
    respond_b = WorkOrderTimer.objects.get(workorder_id=b["id"], name="respond")
    respond_b.due_at -= timedelta(minutes=20)
    respond_b.save()
    queue = api(s.user("vendor_worker")).get("/api/v1/workorders/queue").json()
    assert [o["id"] for o in queue["items"]] == [b["id"], a["id"], c["id"]]
    assert api(s.user("a_staff")).get("/api/v1/workorders/queue").json()["count"] == 0
