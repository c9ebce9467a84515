"""The inspections API through HTTP: plans, the inspection on a phone, the loop from a
failed item to a verified fix, ad hoc findings, trace, dashboard, idempotency."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from dayuan.standards.models import Clause

from ..models import Finding, Inspection
from ..plans import generate_occurrences
from .factories import build, image_bytes

pytestmark = pytest.mark.django_db

FAILING = {
    "floor_clean": "pass",
    "stairs_clear": "pass",
    "server_temp": {"value": 29.5},
    "fire_exit": "fail",
}


def _start(client, s, **extra):
    body = {
        "kind": "patrol",
        "checklist_code": "patrol.daily",
        "location_id": s.building_a.pk,
        "vendor_id": s.world.vendor.pk,
        "client_key": uuid.uuid4().hex,
        **extra,
    }
    return client.post("/api/v1/inspections", body)


def _failed_inspection(api, s):
    """a_inspector runs a patrol and fails the fire exit and the server room."""
    inspector = api(s.user("a_inspector"))
    insp = _start(inspector, s).json()
    resp = inspector.post(f"/api/v1/inspections/{insp['id']}/submit", {"answers": FAILING})
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_inspection_on_a_phone_draft_photo_submit(world, api):
    s = build(world)
    inspector = api(s.user("a_inspector"))
    key = uuid.uuid4().hex
    resp = _start(inspector, s, client_key=key)
    assert resp.status_code == 201, resp.content
    insp = resp.json()
    assert insp["status"] == "draft" and insp["number"].startswith("XJ-")
    assert [it["key"] for it in insp["checklist"]["items"]][:2] == ["floor_clean", "stairs_clear"]
    # the same client key (a reopened form) gives the same inspection
    assert _start(inspector, s, client_key=key).json()["id"] == insp["id"]

    # a draft saved as the inspector goes; the measured value is judged on entry
    resp = inspector.patch(
        f"/api/v1/inspections/{insp['id']}",
        {"version": insp["version"], "answers": {"server_temp": {"value": 29.5}}},
    )
    assert resp.status_code == 200, resp.content
    draft = resp.json()
    assert draft["answers"]["server_temp"]["value"] == 29.5
    assert draft["outcomes"]["server_temp"] == "fail"
    # a stale version is refused with 409
    stale = inspector.patch(
        f"/api/v1/inspections/{insp['id']}",
        {"version": insp["version"], "answers": {"floor_clean": "pass"}},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"

    photo = io.BytesIO(image_bytes())
    photo.name = "fire.jpg"
    resp = inspector.client.post(
        f"/api/v1/inspections/{insp['id']}/photos",
        {"item_key": "fire_exit", "photo": photo},
        **inspector.headers,
    )
    assert resp.status_code == 201, resp.content
    (shot,) = resp.json()["photos"]
    assert shot["item_key"] == "fire_exit"
    assert inspector.get(shot["url"]).status_code == 200
    assert inspector.get(shot["thumbnail_url"]).status_code == 200
    # county B's inspector cannot see the photo
    assert api(s.user("b_inspector")).get(shot["url"]).status_code == 404

    resp = inspector.post(f"/api/v1/inspections/{insp['id']}/submit", {"answers": FAILING})
    assert resp.status_code == 200, resp.content
    done = resp.json()
    assert done["status"] == "submitted" and done["passed"] is False
    assert len(done["finding_ids"]) == 2
    # submitting twice gives the same inspection, no new findings
    again = inspector.post(f"/api/v1/inspections/{insp['id']}/submit", {"answers": FAILING})
    assert again.status_code == 200 and again.json()["finding_ids"] == done["finding_ids"]
    assert Finding.objects.count() == 2

    listed = inspector.get("/api/v1/inspections?status=submitted&kind=patrol").json()
    assert [i["id"] for i in listed["items"]] == [insp["id"]]
    assert inspector.get("/api/v1/inspections?status=draft").json()["count"] == 0


def test_the_loop_reject_then_accept_and_the_history(world, api):
    s = build(world)
    done = _failed_inspection(api, s)
    inspector = api(s.user("a_inspector"))
    vendor = api(s.user("vendor_worker"))
    fire = next(
        f for f in inspector.get("/api/v1/findings").json()["items"] if f["item_key"] == "fire_exit"
    )
    assert fire["inspection_id"] == done["id"] and fire["severity"] == "key"
    assert fire["vendor_id"] == world.vendor.pk and fire["rectification_status"] == "ordered"
    rect_id = fire["rectification_id"]

    # the vendor sees it among its orders and submits evidence with a photo
    mine = vendor.get("/api/v1/rectifications").json()
    assert rect_id in [r["id"] for r in mine["items"]]
    rect = vendor.get(f"/api/v1/rectifications/{rect_id}").json()
    photo = io.BytesIO(image_bytes())
    photo.name = "fixed.jpg"
    resp = vendor.client.post(
        f"/api/v1/rectifications/{rect_id}/evidence",
        {"version": rect["version"], "evidence": "已清理通道堆放物", "photos": [photo]},
        **vendor.headers,
    )
    assert resp.status_code == 200, resp.content
    rect = resp.json()
    assert rect["status"] == "submitted" and len(rect["rounds"]) == 1
    (pic,) = rect["rounds"][0]["photos"]
    assert vendor.get(pic["url"]).status_code == 200

    # the vendor may not verify its own work
    refused = vendor.post(
        f"/api/v1/rectifications/{rect_id}/verify",
        {"version": rect["version"], "verdict": "accept"},
    )
    assert refused.status_code == 403

    resp = inspector.post(
        f"/api/v1/rectifications/{rect_id}/verify",
        {"version": rect["version"], "verdict": "reject", "reason": "通道仍有杂物"},
    )
    assert resp.status_code == 200, resp.content
    rect = resp.json()
    assert rect["status"] == "returned" and rect["rounds"][0]["verdict"] == "reject"

    rect = vendor.client.post(
        f"/api/v1/rectifications/{rect_id}/evidence",
        {"version": rect["version"], "evidence": "杂物已全部清走"},
        **vendor.headers,
    ).json()
    rect = inspector.post(
        f"/api/v1/rectifications/{rect_id}/verify",
        {"version": rect["version"], "verdict": "accept"},
    ).json()
    assert rect["status"] == "accepted" and rect["closed_at"]
    assert [r["verdict"] for r in rect["rounds"]] == ["reject", "accept"]

    history = inspector.get(f"/api/v1/findings/{fire['id']}").json()
    assert history["status"] == "closed"
    assert [r["number"] for r in history["rectification"]["rounds"]] == [1, 2]
    actions = [e["action"] for e in history["events"]]
    assert actions[0] in {"raised", "opened", "created"} and len(actions) >= 4

    # the clause trace shows the finding and both rounds
    trace = inspector.get(f"/api/v1/inspections/clauses/{fire['clause_id']}/trace").json()
    row = next(r for r in trace["findings"] if r["finding"]["id"] == fire["id"])
    assert [r["verdict"] for r in row["rounds"]] == ["reject", "accept"]
    assert trace["clause"]["number"] == "X5"
    assert (
        api(s.user("b_manager"))
        .get(f"/api/v1/inspections/clauses/{fire['clause_id']}/trace")
        .json()["findings"]
        == []
    )


def test_ad_hoc_finding_is_idempotent_with_the_key_and_picks_a_clause(world, api):
    s = build(world)
    manager = api(s.user("a_manager"))
    choices = manager.get(f"/api/v1/inspections/clauses?org_id={world.county_a.pk}").json()
    suggested = [c["number"] for c in choices if c["suggested"]]
    assert suggested[: len(suggested)] == [c["number"] for c in choices[: len(suggested)]]
    assert {"X1", "X4", "X5"} <= set(suggested) and "R1" not in suggested
    assert (
        api(s.user("b_manager"))
        .get(f"/api/v1/inspections/clauses?org_id={world.county_a.pk}")
        .status_code
        == 404
    )

    clause = Clause.objects.get(number="X1")
    body = {
        "org_id": world.county_a.pk,
        "clause_id": clause.pk,
        "description": "楼梯扶手积灰",
        "location_id": s.stairs_a.pk,
        "vendor_id": world.vendor.pk,
        "source": "walkround",
    }
    key = {"HTTP_IDEMPOTENCY_KEY": "walk-1"}
    first = manager.client.post("/api/v1/findings", body, **manager.headers, **key)
    assert first.status_code == 201, first.content
    again = manager.client.post("/api/v1/findings", body, **manager.headers, **key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Finding.objects.filter(source="walkround").count() == 1
    found = first.json()
    assert found["severity"] == "general" and found["rectification"]["status"] == "ordered"

    # cancelled with a reason; a stale version is a 409
    stale = manager.post(
        f"/api/v1/findings/{found['id']}/cancel", {"version": 0, "reason": "重复登记"}
    )
    assert stale.status_code == 409
    resp = manager.post(
        f"/api/v1/findings/{found['id']}/cancel",
        {"version": found["version"], "reason": "重复登记"},
    )
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"


def test_start_inspection_honours_the_idempotency_key(world, api):
    s = build(world)
    inspector = api(s.user("a_inspector"))
    body = {
        "kind": "patrol",
        "checklist_code": "patrol.daily",
        "location_id": s.building_a.pk,
        "client_key": uuid.uuid4().hex,
    }
    key = {"HTTP_IDEMPOTENCY_KEY": "start-1"}
    one = inspector.post("/api/v1/inspections", body, **key)
    two = inspector.post("/api/v1/inspections", body, **key)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"] and Inspection.objects.count() == 1
    other = inspector.post("/api/v1/inspections", {**body, "client_key": "x" * 12}, **key)
    assert other.status_code == 422  # the same key with another body


def test_errors_are_domain_errors(world, api):
    s = build(world)
    inspector = api(s.user("a_inspector"))
    assert inspector.get("/api/v1/inspections/999999").json()["code"] == "not_found"
    bad = _start(inspector, s, checklist_code="no.such.list")
    assert bad.status_code == 404 and bad.json()["message"]
    invalid = inspector.post("/api/v1/inspections", {"kind": "nope"})
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    # a staff member may not start a patrol
    staff = _start(api(s.user("a_staff")), s)
    assert staff.status_code in (403, 404)


def test_assets_and_assignments(world, api):
    s = build(world)
    manager = api(s.user("a_manager"))
    body = {
        "org_id": world.county_a.pk,
        "location_id": s.building_a.pk,
        "asset_type": "lightning_rod",
        "name": "2号楼避雷针",
    }
    resp = manager.post("/api/v1/inspections/assets", body)
    assert resp.status_code == 201, resp.content
    asset = resp.json()
    resp = manager.client.put(
        f"/api/v1/inspections/assets/{asset['id']}",
        {**body, "name": "2号楼屋面避雷针", "version": asset["version"]},
        content_type="application/json",
        **manager.headers,
    )
    assert resp.status_code == 200 and resp.json()["name"] == "2号楼屋面避雷针"
    names = [a["name"] for a in manager.get("/api/v1/inspections/assets").json()["items"]]
    assert "2号楼屋面避雷针" in names and "1号楼避雷针" in names
    assert api(s.user("b_manager")).get("/api/v1/inspections/assets").json()["items"] == [
        a
        for a in api(s.user("b_manager")).get("/api/v1/inspections/assets").json()["items"]
        if a["org_id"] == world.county_b.pk
    ]

    resp = manager.post(
        "/api/v1/inspections/assignments",
        {
            "org_id": world.county_a.pk,
            "activity": "patrol.lightning_rod",
            "inspector_id": s.user("a_inspector").pk,
            "checklist_code": "patrol.daily",
        },
    )
    assert resp.status_code == 201, resp.content
    plan = resp.json()
    assert plan["inspector_name"] == "a_inspector" and plan["kind"] == "patrol"
    mine = api(s.user("vendor_worker")).get("/api/v1/inspections/assignments").json()
    assert {p["activity"] for p in mine["items"]} == {"clean.stairs", "patrol.structure"}


def test_occurrence_views(world, api):
    s = build(world)
    today = timezone.localdate()
    now = timezone.now()
    generate_occurrences(
        org=world.county_a,
        start=now - timedelta(days=3),
        end=now + timedelta(days=3),
    )
    worker = api(s.user("vendor_worker"))
    today_rows = worker.get("/api/v1/inspections/occurrences?view=today").json()["items"]
    stairs = [o for o in today_rows if o["activity"] == "clean.stairs"]
    assert stairs and all(o["team_id"] == s.team.pk for o in stairs)
    assert {timezone.localtime(_dt(o["period_start"])).date() for o in stairs} == {today}
    overdue = worker.get("/api/v1/inspections/occurrences?view=overdue").json()["items"]
    assert overdue and all(_dt(o["period_end"]) <= now for o in overdue)
    upcoming = worker.get("/api/v1/inspections/occurrences?view=upcoming").json()["items"]
    dues = [o["due_at"] for o in upcoming]
    assert dues == sorted(dues) and all(_dt(o["period_end"]) > now for o in upcoming)
    assert worker.get("/api/v1/inspections/occurrences?view=missed").json()["count"] == 0
    b = api(s.user("b_inspector")).get("/api/v1/inspections/occurrences").json()
    assert all(o["org_id"] == world.county_b.pk for o in b["items"])


def _dt(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_dashboard_json_and_excel(world, api):
    s = build(world)
    _failed_inspection(api, s)
    manager = api(s.user("a_manager"))
    data = manager.get("/api/v1/inspections/dashboard").json()
    assert data["pass_total"] == {"total": 4, "passed": 2, "failed": 2, "rate": 0.5}
    assert data["rectification_total"]["total"] == 2
    assert [r["name"] for r in data["pass_by_org"]] == [world.county_a.name]
    today = timezone.localdate().isoformat()
    resp = manager.get(f"/api/v1/inspections/dashboard/export?since={today}&until={today}")
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.content))
    assert "按条款合格率" in book.sheetnames
    rows = list(book["按单位合格率"].values)
    assert rows[1][:4] == (world.county_a.name, 4, 2, 2)
    # a period the wrong way round is refused
    bad = manager.get("/api/v1/inspections/dashboard?since=2025-02-01&until=2025-01-01")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_period"
    # county B's manager sees nothing of it
    other = api(s.user("b_manager")).get("/api/v1/inspections/dashboard").json()
    assert other["pass_total"]["total"] == 0 and other["pass_by_org"] == []
