"""The resource-pool API through HTTP: resources (create, update with its version,
photo, closures, calendar), demands (post with ``Idempotency-Key`` and ``client_key``,
the approver's decision, cancel, ranked matches with their reasons), the allocation flow
(request → approve → in use → returned, the owner's pending list, refusals), batch match
runs, the 公物仓 warehouse, volunteers and activities, micro-projects and the stats;
every refusal in the one error shape, in Chinese or (``Accept-Language: en``) English,
and a refused request changes nothing."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from dayuan.audit.models import AuditEntry

from ..choices import AllocationStatus, DemandStatus, ResourceKind, Visibility
from ..models import Activity, Allocation, Closure, Demand, MicroProject, Resource, Transfer
from .factories import MONDAY, at, demand, on, resource

pytestmark = pytest.mark.django_db

API = "/api/v1/resources"
WEEKDAYS = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False}]


class Clock:
    """``timezone.now`` for the services and middleware behind the HTTP calls."""

    def __init__(self, monkeypatch, now):
        self.now = now
        monkeypatch.setattr(timezone, "now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, at(2026, 12, 1, 10, 0))


@pytest.fixture
def pool(pw, clock):
    return pw


def put(client, path, data):
    return client.client.put(
        path, data=json.dumps(data), content_type="application/json", **client.headers
    )


def error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content)
    body = resp.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code, body
    assert body["message"], body
    return body


def ok(resp, status: int = 200) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content)
    return resp.json()


def hall(pw, **kw):
    """County A's training hall: 60 people, a projector, open on working days."""
    kw = {"name": "甲县培训厅", "capacity": 60, "attributes": ["projector"],
          "windows": WEEKDAYS} | kw  # fmt: skip
    return resource(pw.world.county_a, ResourceKind.VENUE, **kw)


def venue_demand(pw, poster="a_staff", **kw):
    kw = {"amount": 50, "attributes": ["projector"], "start_at": on(MONDAY, 9),
          "end_at": on(MONDAY, 12)} | kw  # fmt: skip
    return demand(pw.world.county_a, pw.user(poster), ResourceKind.VENUE, **kw)


def demand_body(**kw):
    return {
        "title": "年度业务培训",
        "kind": "venue",
        "amount": 50,
        "attributes": ["projector"],
        "start_at": on(MONDAY, 9).isoformat(),
        "end_at": on(MONDAY, 12).isoformat(),
    } | kw


# --- resources -------------------------------------------------------------------------


def test_resource_create_detail_list_update_and_errors(pool, api):
    pw = pool
    a = pw.world.county_a
    manager, staff = api(pw.user("a_manager")), api(pw.user("a_staff"))
    body = {
        "org_id": a.pk, "kind": "venue", "name": "甲县大会议室", "capacity": 80,
        "attributes": ["sound", "projector"], "windows": WEEKDAYS, "visibility": "centre",
        "cost_basis": "per_hour", "cost": "50.00", "description": "三楼",
    }  # fmt: skip
    created = ok(manager.post(API, body), 201)
    assert created["kind"] == "venue" and created["kind_label"] == "场地"
    assert created["org_id"] == a.pk and created["org_name"] == a.name
    assert created["attributes"] == ["projector", "sound"]
    assert created["attribute_labels"] == ["投影", "音响"]
    assert created["windows"][0]["days"] == [0, 1, 2, 3, 4]
    assert created["windows"][0]["start"] == "08:00"
    assert created["visibility_label"] == "本中心" or created["visibility"] == "centre"
    assert created["cost"] == "50.00" and created["cost_basis_label"] == "按小时"
    assert set(created["actions"]) == {"request", "manage"}
    assert created["photo_url"] is None and created["closures"] == []
    rid = created["id"]
    assert AuditEntry.objects.filter(action="resources.resource.save", outcome="success").exists()

    seen = ok(staff.get(f"{API}/{rid}"))
    assert seen["name"] == "甲县大会议室" and seen["actions"] == ["request"]
    listed = ok(staff.get(f"{API}?kind=venue"))
    assert rid in [r["id"] for r in listed["items"]]
    assert ok(staff.get(f"{API}?kind=vehicle"))["count"] == 0
    assert rid in [r["id"] for r in ok(staff.get(f"{API}?q=会议室"))["items"]]

    # update with the version read; a stale version changes nothing
    changed = ok(put(manager, f"{API}/{rid}", {"name": "甲县第一会议室", "capacity": 90,
                                              "version": created["version"]}))  # fmt: skip
    assert changed["name"] == "甲县第一会议室" and changed["capacity"] == 90
    assert changed["version"] == created["version"] + 1
    assert changed["attributes"] == ["projector", "sound"]  # left out: kept
    stale = put(manager, f"{API}/{rid}", {"name": "旧版本", "version": created["version"]})
    error(stale, 409, "stale_version")
    assert Resource.objects.get(pk=rid).name == "甲县第一会议室"

    # staff may not offer or edit the unit's resources
    count = Resource.objects.count()
    error(staff.post(API, body | {"name": "员工提交"}), 403, "permission_denied")
    denied = put(staff, f"{API}/{rid}", {"name": "员工改名", "version": changed["version"]})
    error(denied, 403, "permission_denied")
    assert Resource.objects.count() == count
    assert Resource.objects.get(pk=rid).name == "甲县第一会议室"

    # bad input: typed validation, then the service's own rules
    bad = manager.post(API, body | {"kind": "spaceship"})
    assert error(bad, 422, "validation_error")["details"][0]["field"].endswith("kind")
    bad_window = [{"days": [0], "start": "18:00", "end": "08:00"}]
    refused = manager.post(API, body | {"windows": bad_window})
    assert refused.status_code == 422, refused.content
    assert refused.json()["details"]
    no_capacity = manager.post(API, body | {"capacity": 0})
    assert no_capacity.status_code == 422, no_capacity.content
    assert Resource.objects.count() == count

    # errors in the one shape, in Chinese by default and in English on request
    other = resource(pw.world.county_b, ResourceKind.VENUE, name="乙县礼堂")
    zh = error(staff.get(f"{API}/{other.pk}"), 404, "not_found")
    assert "不存在" in zh["message"]
    en = error(staff.get(f"{API}/{other.pk}", HTTP_ACCEPT_LANGUAGE="en"), 404, "not_found")
    assert "not found" in en["message"].lower()
    error(api().get(API), 401, "not_authenticated")


def test_resource_photo_upload_serve_and_refusals(pool, api, settings, tmp_path):
    from dayuan.workorders.tests.core_factories import gps_jpeg, upload

    settings.MEDIA_ROOT = tmp_path
    pw = pool
    r = hall(pw)
    manager, staff = api(pw.user("a_manager")), api(pw.user("a_staff"))
    path = f"{API}/{r.pk}/photo"
    error(staff.get(path), 404, "not_found")
    resp = manager.client.post(path, {"photo": upload(gps_jpeg(), "hall.jpg")}, **manager.headers)
    got = ok(resp)
    assert got["photo_url"] == path and got["thumb_url"] == f"{path}?thumb=1"
    photo = staff.get(path)
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"GPS" not in b"".join(photo.streaming_content)
    assert staff.get(f"{path}?thumb=1").status_code == 200
    error(api(pw.user("b_staff")).get(path), 404, "not_found")
    name = Resource.objects.get(pk=r.pk).photo.name
    bad = manager.client.post(path, {"photo": upload(b"not an image", "x.jpg")}, **manager.headers)
    assert bad.status_code == 422, bad.content
    denied = staff.client.post(path, {"photo": upload(gps_jpeg(), "d.jpg")}, **staff.headers)
    error(denied, 403, "permission_denied")
    assert Resource.objects.get(pk=r.pk).photo.name == name
    error(staff.delete(path), 403, "permission_denied")
    removed = manager.delete(path)
    assert removed.status_code == 200 and removed.json()["photo_url"] is None
    error(staff.get(path), 404, "not_found")


def test_closures_and_calendar(pool, api):
    pw = pool
    r = hall(pw)
    manager, staff = api(pw.user("a_manager")), api(pw.user("a_staff"))
    body = {"start_at": on(MONDAY, 8).isoformat(), "end_at": on(MONDAY, 13).isoformat(),
            "reason": "设备检修"}  # fmt: skip
    error(staff.post(f"{API}/{r.pk}/closures", body), 403, "permission_denied")
    assert Closure.objects.count() == 0
    backwards = body | {"start_at": body["end_at"], "end_at": body["start_at"]}
    assert manager.post(f"{API}/{r.pk}/closures", backwards).status_code == 422
    c = ok(manager.post(f"{API}/{r.pk}/closures", body), 201)
    assert c["resource_id"] == r.pk and c["reason"] == "设备检修"
    assert [x["id"] for x in ok(staff.get(f"{API}/{r.pk}/closures"))] == [c["id"]]
    assert [x["id"] for x in ok(staff.get(f"{API}/{r.pk}"))["closures"]] == [c["id"]]

    # a request inside the closure is refused with ``closed`` and writes nothing
    d = venue_demand(pw)
    refused = staff.post(f"{API}/allocations", {"resource_id": r.pk, "demand_id": d.pk})
    assert refused.status_code in (409, 422) and refused.json()["code"] == "closed"
    assert Allocation.objects.count() == 0

    calendar = ok(staff.get(f"{API}/{r.pk}/calendar?start={MONDAY.isoformat()}"))
    assert json.dumps(calendar, ensure_ascii=False).count("设备检修") >= 1
    error(staff.get(f"{API}/{r.pk}/calendar?start=2026-12-07&end=2026-12-01"), 422, "bad_range")

    error(api(pw.user("a_staff")).delete(f"{API}/closures/{c['id']}"), 403, "permission_denied")
    assert manager.delete(f"{API}/closures/{c['id']}").status_code == 204
    assert Closure.objects.count() == 0
    error(manager.delete(f"{API}/closures/{c['id']}"), 404, "not_found")


# --- demands and matches ----------------------------------------------------------------


def test_post_demand_with_idempotency_key_and_client_key(pool, api):
    pw = pool
    staff = api(pw.user("a_staff"))
    key = {"HTTP_IDEMPOTENCY_KEY": "dem-0001-abcdef"}
    first = staff.post(f"{API}/demands", demand_body(), **key)
    got = ok(first, 201)
    assert got["number"].startswith("XQ") and got["status"] == "open"
    assert got["status_label"] == "待匹配" and got["kind_label"] == "场地"
    assert got["org_id"] == pw.world.county_a.pk and got["posted_by_name"] == "a_staff"
    assert got["allocations"] == []
    again = staff.post(f"{API}/demands", demand_body(), **key)
    assert again.status_code == 201 and again.json()["id"] == got["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Demand.objects.count() == 1
    reused = staff.post(f"{API}/demands", demand_body(amount=10), **key)
    error(reused, 422, "idempotency_key_reused")
    # a retried form (same client_key) is the same demand
    form = demand_body(title="党建活动", client_key="form-abcdef12")
    one = ok(staff.post(f"{API}/demands", form), 201)
    two = ok(staff.post(f"{API}/demands", form), 201)
    assert one["id"] == two["id"] != got["id"]
    assert Demand.objects.count() == 2
    assert ok(staff.get(f"{API}/demands?mine=1"))["count"] == 2
    assert ok(staff.get(f"{API}/demands/{got['id']}"))["title"] == "年度业务培训"


def test_demand_refusals_change_nothing(pool, api):
    pw = pool
    staff = api(pw.user("a_staff"))
    past = demand_body(start_at=at(2026, 11, 30, 9, 0).isoformat(),
                       end_at=at(2026, 11, 30, 12, 0).isoformat())  # fmt: skip
    error(staff.post(f"{API}/demands", past), 422, "window_past")
    backwards = demand_body(start_at=on(MONDAY, 12).isoformat(), end_at=on(MONDAY, 9).isoformat())
    error(staff.post(f"{API}/demands", backwards), 422, "window_invalid")
    error(staff.post(f"{API}/demands", demand_body(kind="cake")), 422, "validation_error")
    error(staff.post(f"{API}/demands", demand_body(amount=0)), 422, "validation_error")
    # a unit outside the caller's reach is refused without saying whether it exists
    error(staff.post(f"{API}/demands", demand_body(org_id=pw.world.county_b.pk)), 422,
          "invalid_org")  # fmt: skip
    assert Demand.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="resources.", outcome="success")


def test_demand_approver_decides_and_poster_cancels(pool, api):
    pw = pool
    staff, manager = api(pw.user("a_staff")), api(pw.user("a_manager"))
    body = demand_body(approver_id=pw.user("a_manager").pk, priority="high")
    got = ok(staff.post(f"{API}/demands", body), 201)
    assert got["status"] == "submitted" and got["approver_name"] == "a_manager"
    assert got["priority_label"] == "高"
    queue = ok(manager.get(f"{API}/demands/approvals"))
    assert [q["id"] for q in queue["items"]] == [got["id"]]
    assert ok(staff.get(f"{API}/demands/approvals"))["count"] == 0
    error(staff.post(f"{API}/demands/{got['id']}/decide", {"approve": True}), 403,
          "permission_denied")  # fmt: skip
    assert Demand.objects.get(pk=got["id"]).status == DemandStatus.SUBMITTED
    decided = ok(
        manager.post(f"{API}/demands/{got['id']}/decide", {"approve": True, "note": "同意"})
    )
    assert decided["status"] == "open" and decided["approved_at"]
    again = manager.post(f"{API}/demands/{got['id']}/decide", {"approve": False})
    error(again, 409, "invalid_transition")
    assert Demand.objects.get(pk=got["id"]).status == DemandStatus.OPEN
    cancelled = ok(staff.post(f"{API}/demands/{got['id']}/cancel", {"reason": "活动取消"}))
    assert cancelled["status"] == "cancelled"
    error(staff.post(f"{API}/demands/{got['id']}/cancel", {}), 409, "invalid_transition")
    error(api(pw.user("b_manager")).get(f"{API}/demands/{got['id']}"), 404, "not_found")


def test_matches_are_ranked_with_reasons_and_exclusions(pool, api):
    pw = pool
    a = pw.world.county_a
    snug = hall(pw, name="甲县小礼堂")
    big = resource(pw.enterprise, ResourceKind.VENUE, name="城投报告厅", capacity=300,
                   attributes=["projector", "sound"], visibility=Visibility.CITY,
                   cost_basis="per_hour", cost=100)  # fmt: skip
    resource(a, ResourceKind.VENUE, name="甲县小会议室", capacity=20, attributes=["projector"])
    resource(a, ResourceKind.VENUE, name="甲县活动室", capacity=80)
    resource(pw.world.county_b, ResourceKind.VENUE, name="乙县礼堂", capacity=100,
             attributes=["projector"])  # fmt: skip
    d = venue_demand(pw)
    staff = api(pw.user("a_staff"))
    got = ok(staff.get(f"{API}/demands/{d.pk}/matches"))
    assert got["demand_id"] == d.pk
    ids = [c["resource"]["id"] for c in got["candidates"]]
    assert ids == [snug.pk, big.pk]
    assert got["considered"] == 4  # B's hall is not usable by A's staff: not considered
    assert got["excluded"] == {"capacity_short": 1, "attributes_missing": 1}
    assert abs(sum(got["weights"].values()) - 1) < 1e-9
    scores = [c["score"] for c in got["candidates"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    first = got["candidates"][0]
    assert set(first["parts"]) == set(got["weights"])
    assert {r["code"] for r in first["reasons"]} == set(got["weights"])
    assert all(r["text"] for r in first["reasons"])
    assert first["cost"] == "0.00" or Decimal(first["cost"]) == 0
    assert Decimal(got["candidates"][1]["cost"]) == Decimal("300")  # 3 h × ¥100
    assert first["resource"]["name"] == "甲县小礼堂"
    assert len(ok(staff.get(f"{API}/demands/{d.pk}/matches?limit=1"))["candidates"]) == 1
    error(staff.get(f"{API}/demands/{d.pk}/matches?limit=0"), 422, "bad_limit")
    error(api(pw.user("b_manager")).get(f"{API}/demands/{d.pk}/matches"), 404, "not_found")


# --- allocations -------------------------------------------------------------------------


def test_allocation_flow_request_approve_use_return(pool, api, clock):
    pw = pool
    r = hall(pw)
    d = venue_demand(pw)
    staff, manager = api(pw.user("a_staff")), api(pw.user("a_manager"))
    key = {"HTTP_IDEMPOTENCY_KEY": "alloc-0001-xyz"}
    body = {"resource_id": r.pk, "demand_id": d.pk, "note": "请安排"}
    got = ok(staff.post(f"{API}/allocations", body, **key), 201)
    assert got["number"].startswith("DP") and got["status"] == "requested"
    assert got["status_label"] == "待审批" and got["amount"] == 50
    assert got["resource_name"] == "甲县培训厅" and got["demand_id"] == d.pk
    assert got["requester_org_id"] == pw.world.county_a.pk
    replay = staff.post(f"{API}/allocations", body, **key)
    assert replay.status_code == 201 and replay.json()["id"] == got["id"]
    assert Allocation.objects.count() == 1
    aid = got["id"]

    pending = ok(manager.get(f"{API}/allocations/pending"))
    assert [p["id"] for p in pending["items"]] == [aid]
    assert ok(staff.get(f"{API}/allocations/pending"))["count"] == 0
    assert ok(staff.get(f"{API}/allocations?side=mine"))["count"] == 1
    error(staff.get(f"{API}/allocations?side=everyone"), 422, "bad_filter")

    # the requester cannot approve their own request
    error(staff.post(f"{API}/allocations/{aid}/decide", {"approve": True}), 403,
          "permission_denied")  # fmt: skip
    assert Allocation.objects.get(pk=aid).status == AllocationStatus.REQUESTED
    stale = manager.post(f"{API}/allocations/{aid}/decide",
                         {"approve": True, "version": got["version"] + 5})  # fmt: skip
    error(stale, 409, "stale_version")
    decision = {"approve": True, "note": "同意", "version": got["version"]}
    approved = ok(manager.post(f"{API}/allocations/{aid}/decide", decision))
    assert approved["status"] == "approved" and approved["status_label"] == "已调配"
    assert approved["decided_by_id"] == pw.user("a_manager").pk
    assert ok(staff.get(f"{API}/demands/{d.pk}"))["status"] == "matched"
    error(manager.post(f"{API}/allocations/{aid}/decide", {"approve": False}), 409,
          "invalid_transition")  # fmt: skip

    # the hall is held: another demand at the same time is refused and nothing is written
    other = venue_demand(pw, "dept_a_staff", amount=30)
    taken = api(pw.user("dept_a_staff")).post(
        f"{API}/allocations", {"resource_id": r.pk, "demand_id": other.pk}
    )
    body = error(taken, 409, "resource_taken")
    assert "甲县培训厅" in body["message"] or body["message"]
    assert Allocation.objects.count() == 1

    clock.now = on(MONDAY, 8, 55)
    assert ok(manager.post(f"{API}/allocations/{aid}/start"))["status"] == "in_use"
    clock.now = on(MONDAY, 12, 5)
    done = ok(manager.post(f"{API}/allocations/{aid}/finish", {"note": "已归还"}))
    assert done["status"] == "returned" and done["finished_at"]
    assert ok(staff.get(f"{API}/demands/{d.pk}"))["status"] == "fulfilled"
    error(manager.post(f"{API}/allocations/{aid}/cancel", {}), 409, "invalid_transition")


def test_request_refusals_name_the_constraint(pool, api):
    pw = pool
    staff = api(pw.user("a_staff"))
    d = venue_demand(pw)
    small = hall(pw, name="甲县小会议室", capacity=20)
    bare = hall(pw, name="甲县活动室", attributes=[])
    weekend = hall(pw, name="甲县周末场地", windows=[{"days": [5, 6], "start": "08:00",
                                                   "end": "18:00", "offpeak": True}])  # fmt: skip
    team = resource(pw.world.county_a, ResourceKind.MANPOWER, name="甲县后勤队", capacity=10)
    b_hall = resource(pw.world.county_b, ResourceKind.VENUE, name="乙县礼堂", capacity=100)
    cases = [
        (small, "capacity_short"),
        (bare, "attributes_missing"),
        (weekend, "outside_windows"),
        (team, "kind_mismatch"),
    ]
    for r, code in cases:
        resp = staff.post(f"{API}/allocations", {"resource_id": r.pk, "demand_id": d.pk})
        assert resp.status_code in (409, 422), (code, resp.content)
        assert resp.json()["code"] == code, (code, resp.json())
    error(staff.post(f"{API}/allocations", {"resource_id": b_hall.pk, "demand_id": d.pk}),
          404, "not_found")  # fmt: skip
    error(staff.post(f"{API}/allocations", {"resource_id": 999999}), 404, "not_found")
    Demand.objects.filter(pk=d.pk).update(status=DemandStatus.CANCELLED)
    ok_hall = hall(pw, name="甲县大礼堂", capacity=100)
    closed = staff.post(f"{API}/allocations", {"resource_id": ok_hall.pk, "demand_id": d.pk})
    error(closed, 409, "demand_not_open")
    assert Allocation.objects.count() == 0
    assert not Transfer.objects.exists()


def test_direct_request_without_approval_is_allocated_at_once(pool, api):
    pw = pool
    court = resource(pw.enterprise, ResourceKind.FACILITY, name="城投篮球场", capacity=20,
                     attributes=["basketball"], visibility=Visibility.CITY,
                     requires_approval=False,
                     windows=[{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "22:00",
                               "offpeak": True}])  # fmt: skip
    staff = api(pw.user("a_staff"))
    body = {"resource_id": court.pk, "start_at": on(MONDAY, 19).isoformat(),
            "end_at": on(MONDAY, 21).isoformat(), "amount": 12,
            "client_key": "court-12345678"}  # fmt: skip
    got = ok(staff.post(f"{API}/allocations", body), 201)
    assert got["status"] == "approved" and got["demand_id"] is None
    assert got["org_id"] == pw.enterprise.pk
    assert ok(staff.post(f"{API}/allocations", body), 201)["id"] == got["id"]
    late = body | {"start_at": on(MONDAY, 21).isoformat(), "end_at": on(MONDAY, 23).isoformat(),
                   "client_key": "court-87654321"}  # fmt: skip
    error(staff.post(f"{API}/allocations", late), 422, "outside_windows")
    twice = body | {"client_key": "court-abcdefgh"}
    error(api(pw.user("dept_a_staff")).post(f"{API}/allocations", twice), 409, "resource_taken")
    assert Allocation.objects.count() == 1
    cancelled = ok(staff.post(f"{API}/allocations/{got['id']}/cancel", {"reason": "改期"}))
    assert cancelled["status"] == "cancelled"
    again = ok(api(pw.user("dept_a_staff")).post(f"{API}/allocations", twice), 201)
    assert again["status"] == "approved"


# --- batch matching -----------------------------------------------------------------------


def test_match_run_proposes_applies_once(pool, api):
    pw = pool
    r = hall(pw)
    urgent = venue_demand(pw, "dept_a_staff", priority="urgent", title="防汛会商")
    normal = venue_demand(pw, priority="normal", title="业务培训")
    manager = api(pw.user("a_manager"))
    body = {"org_id": pw.world.county_a.pk, "window_start": on(MONDAY, 0).isoformat(),
            "window_end": on(MONDAY + timedelta(days=7), 0).isoformat()}  # fmt: skip
    error(api(pw.user("a_staff")).post(f"{API}/match-runs", body), 403, "permission_denied")
    run = ok(manager.post(f"{API}/match-runs", body), 201)
    assert run["demands"] == 2 and run["matched"] == 1 and run["applied_at"] is None
    by_demand = {p["demand_id"]: p for p in run["proposals"]}
    assert by_demand[urgent.pk]["resource_id"] == r.pk
    assert by_demand[urgent.pk]["reasons"] and by_demand[urgent.pk]["score"] > 0
    assert by_demand[normal.pk]["resource_id"] is None
    assert by_demand[normal.pk]["unmatched_reason"] == "outcompeted"
    assert Allocation.objects.count() == 0  # nothing is allocated until applied
    assert [x["id"] for x in ok(manager.get(f"{API}/match-runs"))["items"]] == [run["id"]]
    applied = ok(manager.post(f"{API}/match-runs/{run['id']}/apply"))
    assert applied["applied_at"]
    alloc = {p["demand_id"]: p["allocation_id"] for p in applied["proposals"]}[urgent.pk]
    assert Allocation.objects.get(pk=alloc).resource_id == r.pk
    error(manager.post(f"{API}/match-runs/{run['id']}/apply"), 409, "already_applied")
    assert Allocation.objects.count() == 1
    error(api(pw.user("b_manager")).get(f"{API}/match-runs/{run['id']}"), 404, "not_found")


# --- the warehouse ---------------------------------------------------------------------


def test_warehouse_receive_store_hand_out_return_dispose(pool, api):
    pw = pool
    manager = api(pw.user("a_manager"))
    user = api(pw.user("dept_a_staff"))
    staff = api(pw.user("a_staff"))
    body = {"warehouse_org_id": pw.world.county_a.pk, "from_org_id": pw.dept_a.pk,
            "name": "实木办公桌", "quantity": 5, "unit_value": "800.00",
            "attributes": ["office_furniture"], "visibility": "centre"}  # fmt: skip
    error(staff.post(f"{API}/warehouse/receive", body), 403, "permission_denied")
    error(user.post(f"{API}/warehouse/receive", body), 404, "not_found")  # out of reach
    assert not Resource.objects.exists()
    item = ok(manager.post(f"{API}/warehouse/receive", body), 201)
    assert item["kind"] == "asset" and item["stock_status"] == "in"
    assert item["stock_status_label"] == "入库待验" and item["available"] == 5
    rid = item["id"]
    # not offered before the check
    error(user.get(f"{API}/{rid}"), 404, "not_found")
    stored = ok(manager.post(f"{API}/warehouse/items/{rid}/store"))
    assert stored["stock_status"] == "stored"
    error(manager.post(f"{API}/warehouse/items/{rid}/store"), 409, "invalid_transition")

    need = {"resource_id": rid, "amount": 3, "start_at": on(MONDAY, 9).isoformat(),
            "end_at": on(MONDAY, 17).isoformat()}  # fmt: skip
    asked = ok(user.post(f"{API}/allocations", need), 201)
    approved = ok(manager.post(f"{API}/allocations/{asked['id']}/decide", {"approve": True}))
    assert approved["status"] == "approved" and approved["saved"] == "2400.00"
    assert ok(manager.get(f"{API}/{rid}"))["available"] == 2
    too_many = user.post(f"{API}/allocations", need | {"amount": 3})
    error(too_many, 409, "insufficient_stock")
    assert Allocation.objects.count() == 1

    returned = {"allocation_id": asked["id"], "quantity": 1, "note": "多余"}
    back = ok(manager.post(f"{API}/warehouse/returns", returned), 201)
    assert back["kind"] == "return" and back["quantity"] == 1 and back["value"] == "800.00"
    over = manager.post(f"{API}/warehouse/returns", {"allocation_id": asked["id"], "quantity": 9})
    assert over.status_code == 422, over.content
    gone = ok(manager.post(f"{API}/warehouse/items/{rid}/dispose",
                           {"quantity": 1, "reason": "损坏"}), 201)  # fmt: skip
    assert gone["kind"] == "dispose"
    left = ok(manager.get(f"{API}/{rid}"))
    assert (left["available"], left["quantity"]) == (2, 4)
    error(manager.post(f"{API}/warehouse/items/{rid}/dispose", {"quantity": 3, "reason": "x"}),
          409, "insufficient_stock")  # fmt: skip
    assert Resource.objects.get(pk=rid).available == 2
    ledger = ok(manager.get(f"{API}/warehouse/transfers"))
    assert [t["kind"] for t in ledger["items"]] == ["dispose", "return", "out", "in"]
    out = next(t for t in ledger["items"] if t["kind"] == "out")
    assert out["to_org_id"] == pw.dept_a.pk and out["value"] == "2400.00"
    assert ok(user.get(f"{API}/warehouse/transfers"))["count"] == 0
    assert ok(manager.get(f"{API}/warehouse/transfers?kind=out"))["count"] == 1


# --- volunteers and activities ----------------------------------------------------------


def test_volunteers_activities_sign_up_and_attendance(pool, api, clock):
    pw = pool
    social = pw.social
    keeper, me = api(pw.user("social_manager")), api(pw.user("a_staff"))
    zhang = ok(keeper.post(f"{API}/volunteers", {"org_id": social.pk, "name": "张三",
                                                 "skills": ["first_aid"]}), 201)  # fmt: skip
    assert zhang["org_id"] == social.pk and zhang["skill_labels"] == ["急救"]
    own = {"org_id": pw.world.county_a.pk, "name": "李四"}
    error(me.post(f"{API}/volunteers", own), 403, "permission_denied")
    error(me.post(f"{API}/volunteers", own | {"org_id": social.pk}), 404, "not_found")
    mine = ok(me.post(f"{API}/volunteers/enrol", {"org_id": social.pk, "skills": ["it"]}), 201)
    assert mine["user_id"] == pw.user("a_staff").pk
    error(me.post(f"{API}/volunteers/enrol", {"org_id": social.pk}), 409, "duplicate")
    listed = ok(keeper.get(f"{API}/volunteers"))
    assert {v["id"] for v in listed["items"]} == {zhang["id"], mine["id"]}
    assert [v["id"] for v in ok(me.get(f"{API}/volunteers"))["items"]] == [mine["id"]]
    renamed = ok(put(keeper, f"{API}/volunteers/{zhang['id']}",
                     {"name": "张三丰", "version": zhang["version"]}))  # fmt: skip
    assert renamed["name"] == "张三丰"

    body = {"org_id": social.pk, "title": "社区义诊", "start_at": on(MONDAY, 9).isoformat(),
            "end_at": on(MONDAY, 12).isoformat(), "slots": 1, "skills": ["first_aid"]}  # fmt: skip
    error(me.post(f"{API}/activities", body | {"org_id": pw.world.county_a.pk}), 403,
          "permission_denied")  # fmt: skip
    error(me.post(f"{API}/activities", body), 404, "not_found")  # a team out of reach
    act = ok(keeper.post(f"{API}/activities", body), 201)
    assert act["status"] == "open" and act["hours"] == "3.0" and act["taken"] == 0
    assert act["id"] in [a["id"] for a in ok(me.get(f"{API}/activities"))["items"]]
    aid = act["id"]
    signed = ok(me.post(f"{API}/activities/{aid}/sign-ups", {}), 201)
    assert signed["status"] == "signed" and signed["volunteer_id"] == mine["id"]
    error(me.post(f"{API}/activities/{aid}/sign-ups", {}), 409, "duplicate")
    full = keeper.post(f"{API}/activities/{aid}/sign-ups", {"volunteer_id": zhang["id"]})
    error(full, 409, "activity_full")
    error(api(pw.user("b_staff")).post(f"{API}/activities/{aid}/sign-ups", {}), 409,
          "not_volunteer")  # fmt: skip
    assert Activity.objects.get(pk=aid).taken == 1
    assert ok(me.post(f"{API}/sign-ups/{signed['id']}/cancel"))["status"] == "cancelled"
    theirs = ok(keeper.post(f"{API}/activities/{aid}/sign-ups", {"volunteer_id": zhang["id"]}),
                201)  # fmt: skip
    detail = ok(keeper.get(f"{API}/activities/{aid}"))
    assert {s["id"] for s in detail["signups"]} == {signed["id"], theirs["id"]}
    assert [s["id"] for s in ok(me.get(f"{API}/activities/{aid}"))["signups"]] == [signed["id"]]

    early = keeper.post(f"{API}/activities/{aid}/attendance", {"attended": [zhang["id"]]})
    assert early.status_code in (409, 422), early.content
    clock.now = on(MONDAY, 12, 30)
    done = ok(keeper.post(f"{API}/activities/{aid}/attendance", {"attended": [zhang["id"]]}))
    assert done["status"] == "done"
    assert {s["id"]: s["status"] for s in done["signups"]}[theirs["id"]] == "attended"
    hours = ok(keeper.get(f"{API}/volunteers/{zhang['id']}"))
    assert Decimal(hours["hours"]) == Decimal("3.0") and hours["activities"] == 1
    assert ok(keeper.get(f"{API}/volunteers"))["items"][0]["id"] == zhang["id"]  # most hours


def test_activity_cancel_tells_who_signed_up(pool, api):
    from dayuan.notifications.models import Notification

    pw = pool
    keeper, me = api(pw.user("social_manager")), api(pw.user("a_staff"))
    ok(me.post(f"{API}/volunteers/enrol", {"org_id": pw.social.pk}), 201)
    body = {"org_id": pw.social.pk, "title": "河道清洁", "start_at": on(MONDAY, 14).isoformat(),
            "end_at": on(MONDAY, 16).isoformat(), "slots": 5}  # fmt: skip
    act = ok(keeper.post(f"{API}/activities", body), 201)
    ok(me.post(f"{API}/activities/{act['id']}/sign-ups", {}), 201)
    error(me.post(f"{API}/activities/{act['id']}/cancel", {"reason": "下雨"}), 403,
          "permission_denied")  # fmt: skip
    cancelled = ok(keeper.post(f"{API}/activities/{act['id']}/cancel", {"reason": "下雨"}))
    assert cancelled["status"] == "cancelled"
    assert Notification.objects.filter(
        recipient=pw.user("a_staff"), event__type="resources.activity_cancelled"
    ).exists()


# --- micro-projects -----------------------------------------------------------------------


def test_project_propose_approve_progress_complete(pool, api):
    pw = pool
    a = pw.world.county_a
    staff, manager = api(pw.user("a_staff")), api(pw.user("a_manager"))
    body = {"org_id": a.pk, "title": "老旧小区加装扶手", "budget": "5000.00",
            "starts_on": "2026-12-10", "ends_on": "2027-01-31"}  # fmt: skip
    p = ok(staff.post(f"{API}/projects", body), 201)
    assert p["number"].startswith("WS") and p["status"] == "proposed"
    assert p["status_label"] == "申报中" and p["leader_id"] == pw.user("a_staff").pk
    assert isinstance(p["summary"], dict)
    pid = p["id"]
    error(staff.post(f"{API}/projects/{pid}/decide", {"approve": True}), 403, "permission_denied")
    approved = ok(manager.post(f"{API}/projects/{pid}/decide", {"approve": True}))
    assert approved["status"] == "approved" and approved["approved_at"]
    over = manager.post(f"{API}/projects/{pid}/progress", {"progress": 40, "spent": "6000.00"})
    assert over.status_code == 422, over.content
    assert MicroProject.objects.get(pk=pid).spent == 0
    going = ok(manager.post(f"{API}/projects/{pid}/progress",
                            {"progress": 40, "spent": "1000.00", "beneficiaries": 30}))  # fmt: skip
    assert going["status"] == "in_progress" and going["progress"] == 40
    done = ok(manager.post(f"{API}/projects/{pid}/complete",
                           {"outcome": "完成 12 栋楼扶手安装", "beneficiaries": 120,
                            "spent": "4800.00"}))  # fmt: skip
    assert done["status"] == "completed" and done["completed_at"] and done["spent"] == "4800.00"
    assert pid in [x["id"] for x in ok(staff.get(f"{API}/projects"))["items"]]
    assert ok(staff.get(f"{API}/projects?status=completed"))["count"] == 1
    error(api(pw.user("b_staff")).get(f"{API}/projects/{pid}"), 404, "not_found")


# --- stats and list query counts --------------------------------------------------------


def test_stats(pool, api):
    pw = pool
    r = hall(pw)
    d = venue_demand(pw)
    from .factories import allocation

    allocation(r, pw.user("a_staff"), demand=d, amount=50)
    city = ok(api(pw.user("city_manager")).get(f"{API}/stats?start=2026-12-01&end=2026-12-31"))
    assert city and isinstance(city, dict)
    assert "甲县" in json.dumps(city, ensure_ascii=False)
    other = ok(api(pw.user("b_manager")).get(f"{API}/stats?start=2026-12-01&end=2026-12-31"))
    assert "甲县" not in json.dumps(other, ensure_ascii=False)
    assert ok(api(pw.user("a_manager")).get(f"{API}/stats"))
    xlsx = api(pw.user("city_manager")).get(
        f"{API}/stats/export.xlsx?start=2026-12-01&end=2026-12-31"
    )
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith(
        "application/vnd.openxmlformats"
    )
    assert "resources-20261201-20261231.xlsx" in xlsx["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert len(book.worksheets) >= 2
    error(api(pw.user("a_manager")).get(f"{API}/stats/export.xlsx"), 422, "validation_error")
    error(api(pw.user("b_manager")).get(f"{API}/stats?org_id={pw.world.county_a.pk}"), 404,
          "not_found")  # fmt: skip
    error(api(pw.user("a_manager")).get(f"{API}/stats?start=2026-12-31&end=2026-12-01"), 422,
          "bad_range")  # fmt: skip


def test_lists_keep_their_query_count(pool, api):
    """Ten times the rows, the same number of queries (no per-row lookups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .factories import allocation

    pw = pool
    manager = api(pw.user("a_manager"))
    counts: dict[str, list[int]] = {}
    made = 0
    for n in (2, 20):
        while made < n:
            r = hall(pw, name=f"场地{made}")
            d = venue_demand(pw, title=f"需求{made}")
            allocation(r, pw.user("a_staff"), demand=d, amount=10,
                       status=AllocationStatus.REQUESTED)  # fmt: skip
            made += 1
        paths = (
            f"{API}?page_size=50",
            f"{API}/demands?page_size=50",
            f"{API}/allocations?page_size=50",
            f"{API}/allocations/pending?page_size=50",
        )
        for path in paths:
            manager.get(path)  # the token's first use is recorded once
            with CaptureQueriesContext(connection) as ctx:
                assert manager.get(path).status_code == 200
            counts.setdefault(path, []).append(len(ctx.captured_queries))
    for path, (few, many) in counts.items():
        assert few == many, (path, few, many)
