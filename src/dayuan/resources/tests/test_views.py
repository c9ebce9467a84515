"""The resource-pool pages: they render for each role, forms post through the services,
a refusal is shown with its code and its Chinese message and writes nothing, and
county B gets 404 on every page and POST of county A with nothing changed.

The clock is Tuesday 2026-12-01 09:00 Shanghai: the demands are for MONDAY
(2026-12-07), six days ahead."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from ..choices import (
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
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
    MatchRun,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)
from .factories import MONDAY, allocation, at, demand, on, resource

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 1, 9, 0)  # the Tuesday before MONDAY
DAY = MONDAY.isoformat()
B_USERS = ("b_staff", "b_manager", "b_admin")


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


@pytest.fixture
def pool(pw, clock):
    """County A's hall (60, projector, owned by county A), the enterprise's big hall
    (200, shared with the city), a small room of the finance department (20), and a
    venue of county B (only for county B)."""
    w = pw.world
    a_room = w.rooms["a"]
    pw.hall = resource(
        w.county_a,
        ResourceKind.VENUE,
        name="甲县会议中心报告厅",
        capacity=60,
        attributes=["projector", "sound"],
        location=a_room,
        windows=[{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False}],
    )
    pw.big = resource(
        pw.enterprise,
        ResourceKind.VENUE,
        name="城投集团礼堂",
        capacity=200,
        attributes=["projector", "sound", "stage"],
        visibility=Visibility.CITY,
        cost_basis="per_hour",
        cost=100,
    )
    pw.small = resource(pw.dept_a, ResourceKind.VENUE, name="财政局小会议室", capacity=20)
    pw.b_hall = resource(w.county_b, ResourceKind.VENUE, name="乙县礼堂", capacity=300)
    return pw


def browser(pw, name: str) -> Client:
    c = Client()
    c.force_login(pw.user(name))
    return c


def messages_of(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]] if resp.context else []


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def demand_form(**extra) -> dict[str, str]:
    data = {
        "client_key": "d1",
        "title": "业务培训",
        "kind": "venue",
        "amount": "50",
        "attributes": ["projector"],
        "start_at": f"{DAY}T09:00",
        "end_at": f"{DAY}T12:00",
        "priority": "normal",
    }
    data.update(extra)
    return data


# --- the square and a resource ----------------------------------------------------------


def test_nav_and_square_show_what_is_shared(pool):
    c = browser(pool, "a_staff")
    home = c.get("/").content.decode()
    assert 'data-nav="resources"' in home and "资源" in home
    resp = c.get("/resources/")
    page = resp.content.decode()
    assert resp.status_code == 200
    for res in (pool.hall, pool.big, pool.small):
        assert f'data-testid="resource-{res.pk}"' in page
    assert f'data-testid="resource-{pool.b_hall.pk}"' not in page  # county B's own
    assert "可容纳 60 人" in page and "投影" in page
    page = c.get("/resources/", {"q": "礼堂"}).content.decode()
    assert f'data-testid="resource-{pool.big.pk}"' in page
    assert f'data-testid="resource-{pool.hall.pk}"' not in page
    page = c.get("/resources/", {"kind": "asset"}).content.decode()
    assert 'data-testid="no-resources"' in page
    # county B sees the city-wide hall and its own, never county A's
    page_b = browser(pool, "b_staff").get("/resources/").content.decode()
    assert f'data-testid="resource-{pool.big.pk}"' in page_b
    assert f'data-testid="resource-{pool.b_hall.pk}"' in page_b
    assert f'data-testid="resource-{pool.hall.pk}"' not in page_b


def test_resource_page_shows_windows_and_the_week_of_holdings(pool):
    allocation(
        pool.hall,
        pool.user("dept_a_staff"),
        start_at=on(MONDAY, 14),
        end_at=on(MONDAY, 16),
        requester_org=pool.dept_a,
    )
    c = browser(pool, "a_staff")
    resp = c.get(f"/resources/r/{pool.hall.pk}/", {"week": DAY})
    page = resp.content.decode()
    assert resp.status_code == 200
    assert "周一至周五 08:00–18:00" in page
    assert f'data-testid="weekday-{DAY}"' in page and "14:00–" in page
    assert 'data-testid="request-resource"' in page
    assert 'data-testid="edit-resource"' not in page  # staff do not edit
    # who took it is shown to those who may see the allocation only
    assert "甲县财政局" not in page
    manager = browser(pool, "a_manager").get(f"/resources/r/{pool.hall.pk}/", {"week": DAY})
    body = manager.content.decode()
    assert "甲县财政局" in body and 'data-testid="edit-resource"' in body
    # a day that cannot be read is a 400 page with its code, not a 500
    bad = c.get(f"/resources/r/{pool.hall.pk}/", {"week": "2026-02-30"})
    assert bad.status_code == 400 and "bad_day" in bad.content.decode()


def test_direct_request_and_its_refusal(pool):
    c = browser(pool, "a_staff")
    url = f"/resources/r/{pool.hall.pk}/request/"
    assert 'data-testid="request-form"' in c.get(url).content.decode()
    # Saturday is outside the hall's windows: refused with the code, nothing written
    resp = c.post(
        url,
        {
            "client_key": "r0",
            "start_at": "2026-12-05T09:00",
            "end_at": "2026-12-05T11:00",
            "amount": "30",
        },
    )
    body = resp.content.decode()
    assert resp.status_code in (409, 422)
    assert 'data-code="outside_windows"' in body and 'data-testid="form-error"' in body
    assert not Allocation.objects.exists()
    # too many people for the hall
    resp = c.post(
        url,
        {
            "client_key": "r1",
            "start_at": f"{DAY}T09:00",
            "end_at": f"{DAY}T11:00",
            "amount": "80",
        },
    )
    assert resp.status_code in (409, 422) and "capacity_short" in resp.content.decode()
    assert not Allocation.objects.exists()
    # the end before the start: the form says so in Chinese
    resp = c.post(
        url,
        {"client_key": "r2", "start_at": f"{DAY}T11:00", "end_at": f"{DAY}T09:00", "amount": "3"},
    )
    assert resp.status_code == 422 and "结束时间须晚于开始时间" in resp.content.decode()
    resp = c.post(
        url,
        {"client_key": "r3", "start_at": f"{DAY}T09:00", "end_at": f"{DAY}T11:00", "amount": "30"},
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    a = Allocation.objects.get()
    assert resp["Location"] == f"/resources/allocations/{a.pk}/"
    assert a.status == AllocationStatus.REQUESTED and a.amount == 30
    page = c.get(resp["Location"]).content.decode()
    assert a.number in page and "待审批" in page
    # the same key again: the same request back
    c.post(
        url,
        {"client_key": "r3", "start_at": f"{DAY}T09:00", "end_at": f"{DAY}T11:00", "amount": "30"},
    )
    assert Allocation.objects.count() == 1


# --- demands and their matches ----------------------------------------------------------


def test_post_a_demand_see_ranked_matches_request_and_get_it_approved(pool):
    c = browser(pool, "a_staff")
    form = c.get("/resources/demands/new/").content.decode()
    assert 'data-testid="demand-form"' in form and 'data-testid="kind-venue"' in form
    resp = c.post("/resources/demands/new/", demand_form())
    assert resp.status_code == 302, resp.content.decode()[:3000]
    d = Demand.objects.get()
    assert d.status == DemandStatus.OPEN and d.amount == 50 and d.attributes == ["projector"]
    assert d.start_at == on(MONDAY, 9) and d.org_id == pool.user("a_staff").home_org_id
    assert resp["Location"] == f"/resources/demands/{d.pk}/"
    page = c.get(resp["Location"]).content.decode()
    # the hall (60, projector) and the enterprise's hall (200) meet every constraint; the
    # small room (20, no projector) does not: counted among the excluded
    assert 'data-testid="match-1"' in page and 'data-testid="match-2"' in page
    assert 'data-testid="match-3"' not in page
    assert f'data-resource="{pool.hall.pk}"' in page and f'data-resource="{pool.big.pk}"' in page
    first = page.index('data-testid="match-1"')
    assert page.index(f'data-resource="{pool.hall.pk}"') == first + len('data-testid="match-1" ')
    assert 'data-testid="reasons-1"' in page and "可容纳 60 人" in page  # a reason
    assert 'data-testid="excluded"' in page
    assert 'data-testid="apply-1"' in page
    # request the first match
    resp = c.post(
        f"/resources/demands/{d.pk}/request/",
        {"resource": pool.hall.pk, "client_key": "k1"},
        follow=True,
    )
    assert "已提交申请" in " ".join(messages_of(resp))
    a = Allocation.objects.get()
    assert a.resource_id == pool.hall.pk and a.demand_id == d.pk
    assert a.status == AllocationStatus.REQUESTED and a.amount == 50
    page = resp.content.decode()
    assert 'data-testid="requested-1"' in page and f'data-testid="allocation-{a.number}"' in page
    # the owner's manager approves it from 待审批
    m = browser(pool, "a_manager")
    queue = m.get("/resources/approvals/").content.decode()
    assert f'data-testid="pending-{a.number}"' in queue
    resp = m.post(
        f"/resources/allocations/{a.pk}/decide/",
        {"decision": "approve", "version": a.version, "next": "/resources/approvals/"},
    )
    assert resp.status_code == 302 and resp["Location"] == "/resources/approvals/"
    a.refresh_from_db()
    d.refresh_from_db()
    assert a.status == AllocationStatus.APPROVED and a.holds
    assert d.status == DemandStatus.MATCHED
    page = c.get(f"/resources/demands/{d.pk}/").content.decode()
    assert "已调配" in page and 'data-testid="match-1"' not in page  # matched: no more
    mine = c.get("/resources/allocations/").content.decode()
    assert f'data-testid="allocation-{a.number}"' in mine and "已调配" in mine
    assert f'data-testid="demand-{d.number}"' in c.get("/resources/demands/").content.decode()


def test_demand_form_refusals_are_chinese_and_write_nothing(pool):
    c = browser(pool, "a_staff")
    # the window already began: refused by the service, next to the field, with the code
    resp = c.post(
        "/resources/demands/new/",
        demand_form(start_at="2026-11-30T09:00", end_at="2026-11-30T12:00"),
    )
    body = resp.content.decode()
    assert resp.status_code == 422, body[:2000]
    assert "window_past" in body
    assert not Demand.objects.exists()
    # no title, no amount: the form's own Chinese messages
    resp = c.post("/resources/demands/new/", demand_form(title="", amount="0"))
    body = resp.content.decode()
    assert resp.status_code == 422 and "这个字段是必填项" in body
    assert not Demand.objects.exists()
    # a budget below what the only fitting hall costs: posted, but no match
    resp = c.post(
        "/resources/demands/new/",
        demand_form(amount="150", budget="50", client_key="d9"),
    )
    assert resp.status_code == 302
    page = c.get(resp["Location"]).content.decode()
    assert 'data-testid="no-matches"' in page and 'data-code="over_budget"' in page


def test_a_demand_with_an_approver_waits_for_sign_off(pool):
    c = browser(pool, "dept_a_staff")
    approver = pool.user("dept_a_manager")
    form = c.get("/resources/demands/new/").content.decode()
    assert f'value="{approver.pk}"' in form
    resp = c.post("/resources/demands/new/", demand_form(approver=approver.pk))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    d = Demand.objects.get()
    assert d.status == DemandStatus.SUBMITTED
    page = c.get(resp["Location"]).content.decode()
    assert 'data-testid="matches"' not in page and 'data-testid="demand-approve"' not in page
    m = browser(pool, "dept_a_manager")
    assert f'data-testid="demand-{d.number}"' in m.get("/resources/approvals/").content.decode()
    # rejecting needs a reason (the form says so), nothing changes
    resp = m.post(f"/resources/demands/{d.pk}/decide/", {"decision": "reject"}, follow=True)
    assert "驳回请写明原因" in " ".join(messages_of(resp))
    d.refresh_from_db()
    assert d.status == DemandStatus.SUBMITTED
    m.post(f"/resources/demands/{d.pk}/decide/", {"decision": "approve"})
    d.refresh_from_db()
    assert d.status == DemandStatus.OPEN
    assert 'data-testid="match-1"' in c.get(f"/resources/demands/{d.pk}/").content.decode()
    # the poster cancels it
    c.post(f"/resources/demands/{d.pk}/cancel/", {"reason": "改期"})
    d.refresh_from_db()
    assert d.status == DemandStatus.CANCELLED


# --- allocations ----------------------------------------------------------------------------


def test_approvals_decide_in_place_with_htmx(pool):
    staff = pool.user("a_staff")
    first = allocation(pool.hall, staff, amount=30, status=AllocationStatus.REQUESTED)
    rival = allocation(pool.hall, staff, amount=20, status=AllocationStatus.REQUESTED)
    m = browser(pool, "a_manager")
    page = m.get("/resources/approvals/").content.decode()
    assert f'hx-post="/resources/allocations/{first.pk}/decide/"' in page
    hx = {"HTTP_HX_REQUEST": "true"}
    resp = m.post(f"/resources/allocations/{first.pk}/decide/", {"decision": "approve"}, **hx)
    body = resp.content.decode()
    assert resp.status_code == 200 and "<html" not in body
    assert f'data-testid="decided-{first.number}"' in body and "已调配" in body
    assert f'data-testid="approve-{first.number}"' not in body
    # the same hours again: refused in place with the code, the request left as it was
    resp = m.post(f"/resources/allocations/{rival.pk}/decide/", {"decision": "approve"}, **hx)
    body = resp.content.decode()
    assert 'data-code="resource_taken"' in body and f'data-testid="approve-{rival.number}"' in body
    resp = m.post(f"/resources/allocations/{rival.pk}/decide/", {"decision": "reject"}, **hx)
    assert (
        'data-code="invalid"' in resp.content.decode() and "驳回请写明原因" in resp.content.decode()
    )
    rival.refresh_from_db()
    assert rival.status == AllocationStatus.REQUESTED
    m.post(
        f"/resources/allocations/{rival.pk}/decide/", {"decision": "reject", "note": "已占用"}, **hx
    )
    rival.refresh_from_db()
    first.refresh_from_db()
    assert rival.status == AllocationStatus.REJECTED and first.status == AllocationStatus.APPROVED
    # county B's manager: 404, nothing decided
    b = browser(pool, "b_manager")
    other = allocation(
        pool.hall, staff, amount=5, status=AllocationStatus.REQUESTED, start_at=on(MONDAY, 14)
    )
    resp = b.post(f"/resources/allocations/{other.pk}/decide/", {"decision": "approve"}, **hx)
    assert resp.status_code == 404
    other.refresh_from_db()
    assert other.status == AllocationStatus.REQUESTED


def test_owner_rejects_with_a_reason_then_the_flow_runs_to_returned(pool, clock):
    d = demand(pool.world.county_a, pool.user("a_staff"), amount=30)
    a = allocation(
        pool.hall,
        pool.user("a_staff"),
        demand=d,
        amount=30,
        status=AllocationStatus.REQUESTED,
    )
    m = browser(pool, "a_manager")
    page = m.get(f"/resources/allocations/{a.pk}/").content.decode()
    assert 'data-testid="approve"' in page and 'data-testid="reject"' in page
    resp = m.post(f"/resources/allocations/{a.pk}/decide/", {"decision": "reject"}, follow=True)
    assert "驳回请写明原因" in " ".join(messages_of(resp))
    a.refresh_from_db()
    assert a.status == AllocationStatus.REQUESTED
    # a stale version is refused (someone else decided meanwhile)
    resp = m.post(
        f"/resources/allocations/{a.pk}/decide/",
        {"decision": "approve", "version": a.version + 5},
        follow=True,
    )
    assert "stale_version" in " ".join(messages_of(resp))
    a.refresh_from_db()
    assert a.status == AllocationStatus.REQUESTED
    m.post(f"/resources/allocations/{a.pk}/decide/", {"decision": "approve"})
    a.refresh_from_db()
    assert a.status == AllocationStatus.APPROVED
    # in use at the time, then returned
    clock.at = on(MONDAY, 9, 5)
    s = browser(pool, "a_staff")
    page = s.get(f"/resources/allocations/{a.pk}/").content.decode()
    assert 'data-testid="start"' in page
    s.post(f"/resources/allocations/{a.pk}/start/")
    a.refresh_from_db()
    assert a.status == AllocationStatus.IN_USE
    clock.at = on(MONDAY, 12, 5)
    s = browser(pool, "a_staff")
    s.post(f"/resources/allocations/{a.pk}/finish/")
    a.refresh_from_db()
    assert a.status == AllocationStatus.RETURNED and not a.holds


def test_requester_cancels_before_the_start(pool):
    a = allocation(pool.hall, pool.user("a_staff"), amount=10)
    s = browser(pool, "a_staff")
    assert 'data-testid="cancel"' in s.get(f"/resources/allocations/{a.pk}/").content.decode()
    resp = s.post(f"/resources/allocations/{a.pk}/cancel/", {"reason": "改期"}, follow=True)
    assert "已取消" in " ".join(messages_of(resp))
    a.refresh_from_db()
    assert a.status == AllocationStatus.CANCELLED and not a.holds


# --- county B -----------------------------------------------------------------------------


def test_county_b_gets_404_on_everything_of_county_a_and_changes_nothing(pool):
    d = demand(pool.world.county_a, pool.user("a_staff"), amount=30)
    a = allocation(
        pool.hall, pool.user("a_staff"), demand=d, amount=30, status=AllocationStatus.REQUESTED
    )
    activity = Activity.objects.create(
        org=pool.world.county_a,
        title="甲县助老",
        start_at=on(MONDAY, 9),
        end_at=on(MONDAY, 11),
        slots=5,
        hours=Decimal("2.0"),
        created_by=pool.user("a_manager"),
    )
    project = MicroProject.objects.create(
        org=pool.world.county_a,
        number="WS-T-1",
        title="甲县微实事",
        budget=Decimal("10000"),
        leader=pool.user("a_manager"),
    )
    run = MatchRun.objects.create(
        org=pool.world.county_a,
        run_by=pool.user("a_manager"),
        window_start=on(MONDAY, 0),
        window_end=on(MONDAY + timedelta(days=7), 0),
    )
    gets = [
        f"/resources/r/{pool.hall.pk}/",
        f"/resources/r/{pool.hall.pk}/request/",
        f"/resources/r/{pool.hall.pk}/edit/",
        f"/resources/r/{pool.hall.pk}/closures/",
        f"/resources/r/{pool.hall.pk}/photo/",
        f"/resources/demands/{d.pk}/",
        f"/resources/allocations/{a.pk}/",
        f"/resources/activities/{activity.pk}/",
        f"/resources/projects/{project.pk}/",
        f"/resources/match/{run.pk}/",
    ]
    posts = [
        (f"/resources/r/{pool.hall.pk}/request/", {"client_key": "x", "amount": "1"}),
        (f"/resources/demands/{d.pk}/request/", {"resource": pool.hall.pk}),
        (f"/resources/demands/{d.pk}/decide/", {"decision": "approve"}),
        (f"/resources/demands/{d.pk}/cancel/", {}),
        (f"/resources/allocations/{a.pk}/decide/", {"decision": "approve"}),
        (f"/resources/allocations/{a.pk}/cancel/", {}),
        (f"/resources/allocations/{a.pk}/start/", {}),
        (f"/resources/allocations/{a.pk}/finish/", {}),
        (f"/resources/warehouse/{pool.hall.pk}/store/", {}),
        (f"/resources/activities/{activity.pk}/sign-up/", {}),
        (f"/resources/projects/{project.pk}/decide/", {"decision": "approve"}),
        (f"/resources/match/{run.pk}/apply/", {}),
    ]
    for name in B_USERS:
        c = browser(pool, name)
        for url in gets:
            assert c.get(url).status_code == 404, (name, url)
        for url, data in posts:
            assert c.post(url, data).status_code == 404, (name, url)
        for url in ("/resources/", "/resources/demands/?all=1", "/resources/allocations/"):
            page = c.get(url).content.decode()
            assert pool.hall.name not in page and d.title not in page, (name, url)
    a.refresh_from_db()
    d.refresh_from_db()
    assert a.status == AllocationStatus.REQUESTED and d.status == DemandStatus.OPEN
    assert Allocation.objects.count() == 1 and not SignUp.objects.exists()
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED
    # county B's manager may not see A's stats either
    b = browser(pool, "b_manager")
    assert b.get("/resources/stats/", {"org": pool.world.county_a.pk}).status_code == 404


def test_owner_pages_are_for_managers(pool):
    s = browser(pool, "a_staff")
    for url in ("/resources/approvals/", "/resources/manage/", "/resources/manage/new/"):
        assert s.get(url).status_code == 403, url
    assert s.get("/resources/warehouse/").status_code == 403
    assert s.get("/resources/match/").status_code == 403
    assert s.get("/resources/stats/").status_code == 403
    # in sight, but not theirs: 403 (the enterprise's hall for county A's manager)
    m = browser(pool, "a_manager")
    assert m.get(f"/resources/r/{pool.big.pk}/edit/").status_code == 403
    assert m.get(f"/resources/r/{pool.hall.pk}/edit/").status_code == 200


# --- owners: resources and closures ---------------------------------------------------------


def resource_form(**extra) -> dict:
    data = {
        "org": "",
        "kind": "venue",
        "name": "甲县篮球场",
        "capacity": "30",
        "attributes": ["basketball", "outdoor"],
        "extra_attributes": "灯光，更衣室",
        "visibility": "centre",
        "cost_basis": "free",
        "cost": "0",
        "preference": "60",
        "requires_approval": "on",
        "is_active": "on",
        "w0_days": ["5", "6"],
        "w0_start": "08:00",
        "w0_end": "20:00",
        "w0_offpeak": "on",
        "w1_days": ["0", "1", "2", "3", "4"],
        "w1_start": "18:00",
        "w1_end": "21:30",
        "w1_offpeak": "on",
    }
    data.update(extra)
    return data


def test_manager_offers_a_resource_with_windows_and_edits_it(pool):
    m = browser(pool, "a_manager")
    county = pool.world.county_a
    page = m.get("/resources/manage/new/").content.decode()
    assert 'data-testid="resource-form"' in page and 'data-testid="w0-day-5"' in page
    # a window with days but no times: the form says so, nothing is written
    resp = m.post("/resources/manage/new/", resource_form(org=county.pk, w2_days=["0"]))
    assert resp.status_code == 422 and "开放时段须同时选择开放日和起止时间" in resp.content.decode()
    # a free court with a price: refused by the service next to the field
    resp = m.post("/resources/manage/new/", resource_form(org=county.pk, cost="50"))
    assert resp.status_code == 422 and "免费资源的单价须为 0" in resp.content.decode()
    before = Resource.objects.count()
    resp = m.post("/resources/manage/new/", resource_form(org=county.pk))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert Resource.objects.count() == before + 1
    court = Resource.objects.get(name="甲县篮球场")
    assert court.org_id == county.pk and court.capacity == 30
    assert court.attributes == sorted(["basketball", "outdoor", "灯光", "更衣室"])
    assert court.windows == [
        {"days": [5, 6], "start": "08:00", "end": "20:00", "offpeak": True},
        {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:30", "offpeak": True},
    ]
    assert f'data-testid="resource-{court.pk}"' in m.get("/resources/manage/").content.decode()
    # edit: the form comes back filled; a stale version is refused
    resp = m.get(f"/resources/r/{court.pk}/edit/")
    page = resp.content.decode()
    assert resp.status_code == 200, page[:3000]
    assert 'value="甲县篮球场"' in page and "更衣室、灯光" in page
    data = resource_form(name="甲县灯光篮球场", capacity="40", version=court.version)
    data.pop("org")
    data.pop("kind")
    resp = m.post(f"/resources/r/{court.pk}/edit/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    court.refresh_from_db()
    assert court.name == "甲县灯光篮球场" and court.capacity == 40 and court.kind == "venue"
    data["version"] = court.version - 1
    resp = m.post(f"/resources/r/{court.pk}/edit/", data)
    assert resp.status_code == 409 and "已被他人更新" in resp.content.decode()


def test_a_bad_photo_is_refused_and_the_resource_kept(pool):
    m = browser(pool, "a_manager")
    data = resource_form(org=pool.world.county_a.pk)
    data["photo"] = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    resp = m.post("/resources/manage/new/", data, follow=True)
    court = Resource.objects.get(name="甲县篮球场")
    assert not court.photo
    assert any("（" in t for t in messages_of(resp))  # the refusal with its code
    assert resp.redirect_chain[-1][0] == f"/resources/r/{court.pk}/edit/"


def test_closures_add_and_remove(pool):
    m = browser(pool, "a_manager")
    url = f"/resources/r/{pool.hall.pk}/closures/"
    resp = m.post(url, {"start_at": f"{DAY}T12:00", "end_at": f"{DAY}T08:00", "reason": "检修"})
    assert resp.status_code == 422 and not Closure.objects.exists()
    resp = m.post(url, {"start_at": f"{DAY}T08:00", "end_at": f"{DAY}T12:00", "reason": "检修"})
    assert resp.status_code == 302
    closure = Closure.objects.get()
    page = m.get(url).content.decode()
    assert f'data-testid="closure-{closure.pk}"' in page
    # the hall is closed then: a demand for that morning is not matched to it
    d = demand(pool.world.county_a, pool.user("a_staff"), amount=30, attributes=["projector"])
    page = browser(pool, "a_staff").get(f"/resources/demands/{d.pk}/").content.decode()
    assert f'data-resource="{pool.hall.pk}"' not in page and 'data-code="closed"' in page
    m.post(f"/resources/r/{pool.hall.pk}/closures/{closure.pk}/remove/")
    assert not Closure.objects.exists()


# --- the warehouse --------------------------------------------------------------------------


def test_warehouse_receive_store_hand_out_and_return(pool):
    m = browser(pool, "a_manager")
    county = pool.world.county_a
    page = m.get("/resources/warehouse/").content.decode()
    assert 'data-testid="receive-form"' in page
    resp = m.post(
        "/resources/warehouse/",
        {
            "warehouse": county.pk,
            "from_org": pool.dept_a.pk,
            "name": "办公桌",
            "quantity": "10",
            "unit_value": "800",
            "attributes": ["office_furniture"],
            "visibility": "centre",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    desk = Resource.objects.get(name="办公桌")
    assert desk.stock_status == StockStatus.IN and desk.available == 10
    assert Transfer.objects.get().kind == TransferKind.IN
    # not offered until checked in
    s = browser(pool, "a_staff")
    assert f'data-testid="resource-{desk.pk}"' not in s.get("/resources/").content.decode()
    m.post(f"/resources/warehouse/{desk.pk}/store/")
    desk.refresh_from_db()
    assert desk.stock_status == StockStatus.STORED
    assert f'data-testid="resource-{desk.pk}"' in s.get("/resources/").content.decode()
    resp = s.post(
        f"/resources/r/{desk.pk}/request/",
        {"client_key": "w1", "start_at": f"{DAY}T09:00", "end_at": f"{DAY}T10:00", "amount": "3"},
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    a = Allocation.objects.get()
    m.post(f"/resources/allocations/{a.pk}/decide/", {"decision": "approve"})
    a.refresh_from_db()
    desk.refresh_from_db()
    assert a.status == AllocationStatus.APPROVED and desk.available == 7
    assert a.saved == Decimal("2400.00")
    ledger = m.get("/resources/warehouse/").content.decode()
    assert "出库调剂" in ledger
    page = m.get(f"/resources/allocations/{a.pk}/").content.decode()
    assert 'data-testid="return-form"' in page
    m.post(f"/resources/allocations/{a.pk}/return/", {"quantity": "2", "reason": "多领"})
    desk.refresh_from_db()
    assert desk.available == 9
    # dispose needs a reason; then it leaves for good
    resp = m.post(f"/resources/warehouse/{desk.pk}/dispose/", {"quantity": "1"}, follow=True)
    assert "请写明处置原因" in " ".join(messages_of(resp))
    desk.refresh_from_db()
    assert desk.available == 9
    m.post(f"/resources/warehouse/{desk.pk}/dispose/", {"quantity": "1", "reason": "损坏"})
    desk.refresh_from_db()
    assert desk.available == 8


# --- volunteers -----------------------------------------------------------------------------


def test_volunteer_activity_sign_up_attendance_and_hours(pool, clock):
    keeper = browser(pool, "social_manager")
    page = keeper.get("/resources/activities/new/").content.decode()
    assert 'data-testid="activity-form"' in page
    resp = keeper.post(
        "/resources/activities/new/",
        {
            "org": pool.social.pk,
            "title": "社区助老服务",
            "start_at": f"{DAY}T09:00",
            "end_at": f"{DAY}T12:00",
            "slots": "2",
            "skills": ["elder_care"],
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    act = Activity.objects.get()
    assert act.hours == Decimal("3.0")
    # a staff member of county A joins the association's team and signs up
    s = browser(pool, "a_staff")
    page = s.get("/resources/activities/").content.decode()
    assert f'data-testid="activity-{act.pk}"' in page and 'data-testid="enrol"' in page
    # someone registered earlier, so volunteer ids and sign-up ids differ
    Volunteer.objects.create(org=pool.social, name="早登记的志愿者")
    s.post("/resources/volunteers/enrol/", {"org": pool.social.pk, "skills": ["elder_care"]})
    me = Volunteer.objects.get(user=pool.user("a_staff"))
    assert me.pk != SignUp.objects.count() + 1
    s.post(f"/resources/activities/{act.pk}/sign-up/")
    signup = SignUp.objects.get()
    assert signup.volunteer_id == me.pk and signup.status == SignUpStatus.SIGNED
    resp = s.post(f"/resources/activities/{act.pk}/sign-up/", follow=True)
    assert "duplicate" in " ".join(messages_of(resp))  # once per activity
    assert SignUp.objects.count() == 1
    # after the start the keeper records attendance; hours are credited
    clock.at = on(MONDAY, 12, 30)
    keeper = browser(pool, "social_manager")
    page = keeper.get(f"/resources/activities/{act.pk}/").content.decode()
    assert 'data-testid="attendance-form"' in page
    keeper.post(
        f"/resources/activities/{act.pk}/attendance/", {f"attended_{signup.pk}": "on", "hours": ""}
    )
    me.refresh_from_db()
    signup.refresh_from_db()
    act.refresh_from_db()
    assert signup.status == SignUpStatus.ATTENDED and me.hours == Decimal("3.0")
    assert act.status == ActivityStatus.DONE
    page = browser(pool, "a_staff").get("/resources/activities/").content.decode()
    assert 'data-testid="my-hours">3.0<' in page
    roster = keeper.get("/resources/volunteers/").content.decode()
    assert f'data-testid="volunteer-{me.pk}"' in roster


# --- micro-projects -------------------------------------------------------------------------


def test_micro_project_proposed_approved_progress_completed(pool):
    s = browser(pool, "a_staff")
    resp = s.post(
        "/resources/projects/new/",
        {
            "org": pool.world.county_a.pk,
            "title": "老旧小区加装扶手",
            "budget": "20000",
            "starts_on": "2026-12-10",
            "ends_on": "2026-12-31",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    p = MicroProject.objects.get()
    assert p.status == ProjectStatus.PROPOSED
    page = s.get(f"/resources/projects/{p.pk}/").content.decode()
    assert 'data-testid="project-approve"' not in page
    m = browser(pool, "a_manager")
    m.post(f"/resources/projects/{p.pk}/decide/", {"decision": "approve"})
    p.refresh_from_db()
    assert p.status == ProjectStatus.APPROVED
    # spending over the budget is refused, nothing changes
    resp = s.post(
        f"/resources/projects/{p.pk}/progress/",
        {"progress": "40", "spent": "25000", "version": p.version},
        follow=True,
    )
    assert any("（" in t for t in messages_of(resp))
    p.refresh_from_db()
    assert p.progress == 0 and p.spent == 0
    s.post(
        f"/resources/projects/{p.pk}/progress/",
        {"progress": "40", "spent": "8000", "beneficiaries": "120", "version": p.version},
    )
    p.refresh_from_db()
    assert p.progress == 40 and p.status == ProjectStatus.IN_PROGRESS
    s.post(
        f"/resources/projects/{p.pk}/complete/",
        {"outcome": "加装扶手 60 处", "beneficiaries": "300", "spent": "18000"},
    )
    p.refresh_from_db()
    assert p.status == ProjectStatus.COMPLETED and p.beneficiaries == 300
    listing = s.get("/resources/projects/").content.decode()
    assert f'data-testid="project-{p.number}"' in listing


# --- overseers: batch matching and statistics ----------------------------------------------


def test_batch_matching_page_runs_shows_reasons_and_applies(pool):
    staff = pool.user("a_staff")
    first = demand(pool.world.county_a, staff, amount=50, title="培训甲", priority="urgent")
    second = demand(pool.world.county_a, staff, amount=500, title="大会乙")  # nothing fits
    m = browser(pool, "a_manager")
    page = m.get("/resources/match/").content.decode()
    assert 'data-testid="match-form"' in page
    resp = m.post(
        "/resources/match/",
        {
            "org": pool.world.county_a.pk,
            "since": "2026-12-07",
            "until": "2026-12-13",
            "candidates": "10",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    run = MatchRun.objects.get()
    page = m.get(resp["Location"]).content.decode()
    assert f'data-testid="proposal-{first.number}"' in page
    assert f'data-testid="unmatched-{second.number}"' in page and "没有满足条件的资源" in page
    m.post(f"/resources/match/{run.pk}/apply/")
    run.refresh_from_db()
    assert run.applied_at is not None
    assert Allocation.objects.filter(demand=first).count() == 1
    assert not Allocation.objects.filter(demand=second).exists()
    # twice: refused with its code
    resp = m.post(f"/resources/match/{run.pk}/apply/", follow=True)
    assert "already_applied" in " ".join(messages_of(resp))
    # an end before the start: the form refuses in Chinese, no run
    resp = m.post(
        "/resources/match/",
        {"org": pool.world.county_a.pk, "since": "2026-12-13", "until": "2026-12-07"},
    )
    assert resp.status_code == 422 and "结束日期不能早于开始日期" in resp.content.decode()
    assert MatchRun.objects.count() == 1


def test_stats_dashboard_and_export(pool):
    d = demand(pool.world.county_a, pool.user("a_staff"), amount=30)
    allocation(pool.hall, pool.user("a_staff"), demand=d, amount=30)
    m = browser(pool, "a_manager")
    resp = m.get("/resources/stats/", {"since": "2026-11-01", "until": "2026-12-31"})
    page = resp.content.decode()
    assert resp.status_code == 200
    assert 'id="rs-stats-data"' in page and "echarts" in page
    assert 'data-testid="by-kind"' in page and 'data-testid="by-centre"' in page
    resp = m.get("/resources/stats/export.xlsx", {"since": "2026-11-01", "until": "2026-12-31"})
    assert resp.status_code == 200 and resp.content[:2] == b"PK"
    assert "attachment" in resp["Content-Disposition"]
    city = browser(pool, "city_manager").get("/resources/stats/").content.decode()
    assert "甲县" in city and "乙县" in city  # every centre side by side


def test_every_page_renders_for_every_role(pool):
    """Each list and form page answers 200 (or 403 where the role has no business)
    for staff, managers, overseers, a volunteer team's worker and the city."""
    d = demand(pool.world.county_a, pool.user("a_staff"), amount=30)
    a = allocation(pool.hall, pool.user("a_staff"), demand=d, amount=30)
    desk = resource(pool.world.county_a, ResourceKind.ASSET, name="文件柜", quantity=5)
    Resource.objects.filter(pk=desk.pk).update(stock_status=StockStatus.STORED)
    pages = [
        "/resources/",
        "/resources/?kind=venue&q=厅",
        f"/resources/r/{pool.big.pk}/",
        "/resources/demands/",
        "/resources/demands/?all=1&status=open",
        "/resources/demands/new/?kind=asset",
        "/resources/allocations/",
        "/resources/allocations/?side=owner&status=approved",
        "/resources/activities/",
        "/resources/activities/?past=1",
        "/resources/projects/",
        "/resources/projects/new/",
    ]
    managers = [
        "/resources/approvals/",
        "/resources/manage/",
        "/resources/manage/new/",
        "/resources/warehouse/",
        "/resources/match/",
        "/resources/stats/",
    ]
    for name in ("a_staff", "a_manager", "a_inspector", "city_manager", "social_worker"):
        c = browser(pool, name)
        for url in pages:
            resp = c.get(url)
            assert resp.status_code == 200, (name, url, resp.content.decode()[:2000])
        for url in managers:
            assert c.get(url).status_code in (200, 403), (name, url)
        # county A's own (centre-wide) resources: for county A and the city above it
        for url in (f"/resources/r/{pool.hall.pk}/", f"/resources/r/{desk.pk}/"):
            expected = 404 if name == "social_worker" else 200
            assert c.get(url).status_code == expected, (name, url)
    m = browser(pool, "a_manager")
    for url in managers:
        assert m.get(url).status_code == 200, url
    for url in (f"/resources/demands/{d.pk}/", f"/resources/allocations/{a.pk}/"):
        assert m.get(url).status_code == 200, url
        assert browser(pool, "a_staff").get(url).status_code == 200, url
    # a volunteer team's worker keeps its volunteers
    w = browser(pool, "social_worker")
    assert w.get("/resources/volunteers/").status_code == 200
    assert w.get("/resources/activities/new/").status_code == 200
    assert browser(pool, "a_staff").get("/resources/volunteers/").status_code == 403
