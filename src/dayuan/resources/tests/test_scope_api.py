"""County B sees and changes nothing of county A's resource pool through the API: every
GET of one of A's resources, demands, allocations, match runs, warehouse items,
volunteers, activities or projects is a 404, every POST, PUT and DELETE aimed at them a
404 with nothing written, creating in A's units a 403 or 404, and B's lists and stats
hold nothing of A."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from ..choices import (
    AllocationStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)
from ..models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MatchProposal,
    MatchRun,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)
from .factories import MONDAY, allocation, at, build, demand, on, resource

pytestmark = pytest.mark.django_db

API = "/api/v1/resources"
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_admin", "b_inspector")
SECRETS = ("甲县培训厅", "甲县旧办公桌", "甲县防汛会商", "甲县志愿者王五", "甲县敬老活动",
           "甲县微实事", "XQ-T-", "DP-T-", "WS-A-0001", "甲县检修")  # fmt: skip


@pytest.fixture
def a_side(world, monkeypatch):
    """County A's pool: a hall (with a closure), a demand and two allocations of it
    (one requested, one approved), a stored warehouse item with its ledger, a match run,
    a volunteer signed up to an activity, and a micro-project."""
    now = at(2026, 12, 1, 10, 0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    pw = build(world)
    a = world.county_a
    staff, manager = world.user("a_staff"), world.user("a_manager")
    hall = resource(a, ResourceKind.VENUE, name="甲县培训厅", capacity=60,
                    visibility=Visibility.CENTRE)  # fmt: skip
    closure = Closure.objects.create(
        resource=hall, start_at=on(MONDAY, 18), end_at=on(MONDAY, 20), reason="甲县检修",
        created_by=manager,
    )  # fmt: skip
    d = demand(a, staff, ResourceKind.VENUE, amount=40, title="甲县防汛会商")
    asked = allocation(hall, staff, demand=d, amount=40, status=AllocationStatus.REQUESTED)
    held = allocation(hall, staff, amount=20, start_at=on(MONDAY, 14))
    item = resource(a, ResourceKind.ASSET, name="甲县旧办公桌", quantity=5,
                    visibility=Visibility.CENTRE, unit_value=800,
                    stock_status=StockStatus.STORED)  # fmt: skip
    Transfer.objects.create(
        resource=item, org=a, kind=TransferKind.IN, quantity=5, from_org=pw.dept_a, to_org=a,
        value=Decimal("4000"), at=now, actor=manager,
    )  # fmt: skip
    handed = allocation(item, staff, amount=2)
    Transfer.objects.create(
        resource=item, org=a, kind=TransferKind.OUT, quantity=2, from_org=a, to_org=pw.dept_a,
        value=Decimal("1600"), at=now, actor=manager, allocation=handed,
    )  # fmt: skip
    run = MatchRun.objects.create(
        org=a, run_by=manager, window_start=on(MONDAY, 0), window_end=on(MONDAY, 23),
        demands=1, matched=1,
    )  # fmt: skip
    MatchProposal.objects.create(run=run, demand=d, resource=hall, score=0.8)
    volunteer = Volunteer.objects.create(org=a, name="甲县志愿者王五", phone="13900000000")
    project = MicroProject.objects.create(
        org=a, number="WS-A-0001", title="甲县微实事", budget=Decimal("5000"), leader=staff,
    )  # fmt: skip
    act = Activity.objects.create(
        org=a, title="甲县敬老活动", start_at=on(MONDAY, 9), end_at=on(MONDAY, 11), slots=5,
        taken=1, hours=Decimal("2"), created_by=manager, project=project,
    )  # fmt: skip
    signup = SignUp.objects.create(activity=act, volunteer=volunteer, status=SignUpStatus.SIGNED)
    return pw, {"hall": hall, "closure": closure, "demand": d, "asked": asked, "held": held,
                "item": item, "handed": handed, "run": run, "volunteer": volunteer,
                "activity": act, "signup": signup, "project": project}  # fmt: skip


def _state() -> dict:
    """Everything a request from county B could have changed."""
    return {
        "resources": list(
            Resource.objects.order_by("pk").values_list(
                "name", "version", "available", "quantity", "stock_status", "photo"
            )
        ),
        "closures": list(Closure.objects.order_by("pk").values_list("pk", "start_at")),
        "demands": list(Demand.objects.order_by("pk").values_list("status", "version")),
        "allocations": list(
            Allocation.objects.order_by("pk").values_list("status", "holds", "version")
        ),
        "transfers": Transfer.objects.count(),
        "runs": list(MatchRun.objects.order_by("pk").values_list("applied_at", "matched")),
        "proposals": list(MatchProposal.objects.values_list("allocation_id", "unmatched_reason")),
        "volunteers": list(
            Volunteer.objects.order_by("pk").values_list("name", "hours", "version")
        ),
        "activities": list(Activity.objects.order_by("pk").values_list("status", "taken")),
        "signups": list(SignUp.objects.order_by("pk").values_list("status", "hours")),
        "projects": list(
            MicroProject.objects.order_by("pk").values_list("status", "progress", "version")
        ),
    }


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_gets_404_for_everything_of_county_a(a_side, api, name):
    pw, x = a_side
    a = pw.world.county_a.pk
    hall, item, d = x["hall"].pk, x["item"].pk, x["demand"].pk
    asked, held, run = x["asked"].pk, x["held"].pk, x["run"].pk
    vol, act, proj = x["volunteer"].pk, x["activity"].pk, x["project"].pk
    c = api(pw.user(name))
    before = _state()
    gets = [
        f"/{hall}", f"/{hall}/photo", f"/{hall}/calendar?start=2026-12-07", f"/{hall}/closures",
        f"/{item}", f"/demands/{d}", f"/demands/{d}/matches", f"/allocations/{asked}",
        f"/allocations/{held}", f"/allocations/{x['handed'].pk}", f"/match-runs/{run}",
        f"/volunteers/{vol}", f"/activities/{act}", f"/projects/{proj}",
    ]  # fmt: skip
    for path in gets:
        resp = c.get(API + path)
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:200])
        assert resp.json()["code"] == "not_found", path
    window = {"start_at": on(MONDAY, 9).isoformat(), "end_at": on(MONDAY, 12).isoformat()}
    posts = [
        (f"/{hall}/closures", window | {"reason": "乙县"}),
        ("/allocations", {"resource_id": hall, "demand_id": d}),
        ("/allocations", {"resource_id": hall, "amount": 10} | window),
        ("/allocations", {"resource_id": item, "amount": 1} | window),
        (f"/demands/{d}/decide", {"approve": True}),
        (f"/demands/{d}/cancel", {"reason": "乙县"}),
        (f"/allocations/{asked}/decide", {"approve": True}),
        (f"/allocations/{asked}/cancel", {}),
        (f"/allocations/{held}/start", {}),
        (f"/allocations/{held}/finish", {}),
        (f"/allocations/{held}/cancel", {}),
        (f"/match-runs/{run}/apply", {}),
        (f"/warehouse/items/{item}/store", {}),
        (f"/warehouse/items/{item}/dispose", {"quantity": 1, "reason": "乙县"}),
        ("/warehouse/returns", {"allocation_id": x["handed"].pk, "quantity": 1}),
        (f"/activities/{act}/sign-ups", {}),
        (f"/activities/{act}/sign-ups", {"volunteer_id": vol}),
        (f"/activities/{act}/attendance", {"attended": [vol]}),
        (f"/activities/{act}/cancel", {"reason": "乙县"}),
        (f"/sign-ups/{x['signup'].pk}/cancel", {}),
        (f"/projects/{proj}/decide", {"approve": True}),
        (f"/projects/{proj}/progress", {"progress": 50}),
        (f"/projects/{proj}/complete", {"outcome": "乙县", "beneficiaries": 1, "spent": "1"}),
    ]  # fmt: skip
    for path, data in posts:
        resp = c.post(API + path, data)
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:300])
        assert resp.json()["code"] == "not_found", path
    from dayuan.workorders.tests.core_factories import gps_jpeg, upload

    photo = c.client.post(f"{API}/{hall}/photo", {"photo": upload(gps_jpeg())}, **c.headers)
    assert photo.status_code == 404, photo.content
    puts = [
        (f"/{hall}", {"name": "乙县改名", "version": 1}),
        (f"/volunteers/{vol}", {"name": "乙县改名", "version": 1}),
    ]
    for path, data in puts:
        resp = c.client.put(
            API + path, data=json.dumps(data), content_type="application/json", **c.headers
        )
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:300])
    gone = c.delete(f"{API}/closures/{x['closure'].pk}")
    assert gone.status_code == 404, gone.content
    creates = [
        ("", {"org_id": a, "kind": "venue", "name": "乙县", "capacity": 10}),
        ("/demands", {"org_id": a, "title": "乙县", "kind": "venue", "amount": 1} | window),
        ("/match-runs", {"org_id": a, "window_start": window["start_at"],
                         "window_end": window["end_at"]}),
        ("/warehouse/receive", {"warehouse_org_id": a, "from_org_id": pw.dept_a.pk,
                                "name": "乙县", "quantity": 1, "unit_value": "1"}),
        ("/volunteers", {"org_id": a, "name": "乙县"}),
        ("/activities", {"org_id": a, "title": "乙县", "slots": 1} | window),
        ("/projects", {"org_id": a, "title": "乙县", "budget": "1"}),
    ]  # fmt: skip
    for path, data in creates:
        resp = c.post(API + path, data)
        assert resp.status_code in (403, 404, 422), (path, resp.status_code, resp.content[:300])
        if resp.status_code == 422:  # a unit out of reach: refused without saying it exists
            assert resp.json()["code"] in ("invalid_org", "not_found"), (path, resp.content)
    assert _state() == before


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_lists_hold_nothing_of_county_a(a_side, api, name):
    pw, _ = a_side
    c = api(pw.user(name))
    paths = (
        "?page_size=200", "?include_inactive=1&page_size=200", "/demands?page_size=200",
        "/allocations?page_size=200", "/allocations?side=owner&page_size=200",
        "/allocations?side=unit&page_size=200", "/allocations/pending?page_size=200",
        "/match-runs?page_size=200", "/warehouse/transfers?page_size=200",
        "/volunteers?page_size=200", "/activities?page_size=200",
        "/activities?upcoming=0&page_size=200", "/projects?page_size=200",
        "/stats?start=2026-11-01&end=2026-12-31",
    )  # fmt: skip
    text = ""
    for path in paths:
        resp = c.get(API + path)
        assert resp.status_code == 200, (path, resp.status_code, resp.content[:300])
        text += resp.content.decode()
    xlsx = c.get(f"{API}/stats/export.xlsx?start=2026-11-01&end=2026-12-31")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    text += "".join(
        str(cell) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
        for cell in row if cell is not None
    )  # fmt: skip
    for secret in (*SECRETS, "甲县"):
        assert secret not in text, secret
    assert pw.world.county_a.name not in text
    for path in ("/demands", "/allocations", "/match-runs", "/warehouse/transfers",
                 "/activities", "/projects"):  # fmt: skip
        assert c.get(API + path).json()["count"] == 0, path


def test_the_city_sees_both_counties(a_side, api):
    pw, x = a_side
    city = api(pw.user("city_manager"))
    assert city.get(f"{API}/{x['hall'].pk}").status_code == 200
    assert city.get(f"{API}/demands/{x['demand'].pk}").status_code == 200
    assert city.get(f"{API}/allocations/{x['asked'].pk}").status_code == 200
    assert city.get(f"{API}/projects/{x['project'].pk}").status_code == 200
    assert city.get(f"{API}/warehouse/transfers").json()["count"] == 2
    # and county A's own staff see their hall, demand and allocations
    staff = api(pw.user("a_staff"))
    assert staff.get(f"{API}/{x['hall'].pk}").status_code == 200
    assert staff.get(f"{API}/demands/{x['demand'].pk}").status_code == 200
    assert staff.get(f"{API}/allocations").json()["count"] == 3
