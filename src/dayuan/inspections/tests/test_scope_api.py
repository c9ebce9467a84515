"""Org scope through the API: county B never sees county A's plans, inspections,
findings or rectification orders; a vendor's worker sees its own vendor's only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.standards.models import Clause

from ..plans import generate_occurrences
from .factories import build

pytestmark = pytest.mark.django_db

FAILING = {
    "floor_clean": "fail",
    "stairs_clear": "pass",
    "server_temp": {"value": 24},
    "fire_exit": "pass",
}
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin")


@pytest.fixture
def county_a(world, api):
    """County A: an occurrence, a failed patrol (finding with a vendor), an ad hoc
    finding of the county's own unit (no vendor)."""
    s = build(world)
    now = timezone.now()
    generate_occurrences(org=world.county_a, start=now - timedelta(days=1), end=now)
    inspector = api(s.user("a_inspector"))
    insp = inspector.post(
        "/api/v1/inspections",
        {
            "kind": "patrol",
            "checklist_code": "patrol.daily",
            "location_id": s.building_a.pk,
            "vendor_id": world.vendor.pk,
            "client_key": uuid.uuid4().hex,
        },
    ).json()
    done = inspector.post(f"/api/v1/inspections/{insp['id']}/submit", {"answers": FAILING}).json()
    own = api(s.user("a_manager")).client.post(
        "/api/v1/findings",
        {
            "org_id": world.county_a.pk,
            "clause_id": Clause.objects.get(number="X1").pk,
            "description": "会议室灯管损坏",
            "location_id": s.building_a.pk,
        },
        **api(s.user("a_manager")).headers,
    )
    assert own.status_code == 201, own.content
    vendor_finding = done["finding_ids"][0]
    return {
        "s": s,
        "inspection": insp["id"],
        "vendor_finding": vendor_finding,
        "own_finding": own.json()["id"],
        "rectifications": [
            inspector.get(f"/api/v1/findings/{f}").json()["rectification"]["id"]
            for f in (vendor_finding, own.json()["id"])
        ],
    }


def test_county_b_gets_404_for_every_county_a_record(world, api, county_a):
    x1 = Clause.objects.get(number="X1")
    for name in B_USERS:
        client = api(world.user(name))
        paths = [
            f"/api/v1/inspections/{county_a['inspection']}",
            f"/api/v1/findings/{county_a['vendor_finding']}",
            f"/api/v1/findings/{county_a['own_finding']}",
            *(f"/api/v1/rectifications/{r}" for r in county_a["rectifications"]),
            f"/api/v1/inspections/clauses?org_id={world.county_a.pk}",
        ]
        for path in paths:
            assert client.get(path).status_code == 404, (name, path)
        for path in (
            "/api/v1/inspections",
            "/api/v1/findings",
            "/api/v1/rectifications",
            "/api/v1/inspections/occurrences",
            "/api/v1/inspections/assignments",
            "/api/v1/inspections/assets",
        ):
            rows = client.get(path).json()["items"]
            assert all(r["org_id"] == world.county_b.pk for r in rows), (name, path)
        assert client.get(f"/api/v1/inspections/clauses/{x1.pk}/trace").json()["findings"] == []
        # and they cannot act on A's records either
        moves = [
            (f"/api/v1/findings/{county_a['own_finding']}/cancel", {"version": 1, "reason": "x"}),
            (
                f"/api/v1/rectifications/{county_a['rectifications'][0]}/verify",
                {"version": 1, "verdict": "accept"},
            ),
            (f"/api/v1/inspections/{county_a['inspection']}/cancel", {"version": 1, "reason": "x"}),
        ]
        for path, body in moves:
            assert client.post(path, body).status_code == 404, (name, path)


def test_vendor_worker_sees_only_its_vendors_findings(world, api, county_a):
    worker = api(world.user("vendor_worker"))
    ids = [f["id"] for f in worker.get("/api/v1/findings").json()["items"]]
    assert ids == [county_a["vendor_finding"]]
    assert worker.get(f"/api/v1/findings/{county_a['own_finding']}").status_code == 404
    rects = [r["id"] for r in worker.get("/api/v1/rectifications").json()["items"]]
    assert rects == [county_a["rectifications"][0]]
    # the county's inspection naming the vendor is visible, the dashboard is empty
    assert worker.get(f"/api/v1/inspections/{county_a['inspection']}").status_code == 200
    assert worker.get("/api/v1/inspections/dashboard").json()["pass_total"]["total"] == 0
    occ = worker.get("/api/v1/inspections/occurrences").json()["items"]
    assert occ and all(
        o["team_id"] == county_a["s"].team.pk or o["vendor_id"] == world.vendor.pk for o in occ
    )
