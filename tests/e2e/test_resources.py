"""The resource pool on a phone (390×844) and a desktop (1440×900), against the real clock.

County A's staff member posts a venue demand (50 people with a projector, three days
ahead), sees the ranked matches with their reasons (county A's hall first: same
centre, a snug fit, free; the enterprise's big hall second) and requests the first; the
hall's owner, county A's manager, signs in and approves it from 待审批; the staff
member sees the demand matched and the hall 已调配.

Nothing patches the clock: the demand is for 09:00–12:00 three days from today."""

from __future__ import annotations

import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dayuan.core.testing import build_world
from dayuan.resources.choices import (
    AllocationStatus,
    CostBasis,
    DemandStatus,
    ResourceKind,
    Visibility,
)
from dayuan.resources.models import Allocation, Demand
from dayuan.resources.tests.factories import allocation, build, resource

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The pictures the guides show (refreshed with DAYUAN_SCREENSHOTS=1).
DOC_SHOTS = {("matches", "phone"), ("approvals", "desktop"), ("allocated", "phone")}


def shot(page: Page, name: str, viewport: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"resources-{name}-{viewport}.png"), full_page=True)
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1" and (name, viewport) in DOC_SHOTS:
        page.screenshot(path=str(DOCS / f"resources-{name}-{viewport}.png"))


@pytest.fixture(autouse=True)
def _warm(live_server) -> None:
    """One plain request before the browser's first: a cold server on a busy machine
    can take longer than the browser's 10 s to answer its very first page."""
    for path in ("/accounts/login/", "/static/dayuan/app.css"):
        url = f"{live_server.url}{path}"  # the test server: http://localhost
        with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310
            resp.read()


@pytest.fixture
def pool():
    pw = build(build_world())
    pw.hall = resource(
        pw.world.county_a,
        ResourceKind.VENUE,
        name="甲县会议中心报告厅",
        capacity=60,
        attributes=["projector", "sound"],
        location=pw.world.rooms["a"],
    )
    pw.big = resource(
        pw.enterprise,
        ResourceKind.VENUE,
        name="城投集团礼堂",
        capacity=200,
        attributes=["projector", "stage"],
        visibility=Visibility.CITY,
        cost_basis=CostBasis.PER_HOUR,
        cost=100,
    )
    pw.small = resource(pw.dept_a, ResourceKind.VENUE, name="财政局小会议室", capacity=20)
    return pw


def test_staff_posts_a_venue_demand_requests_the_best_match_and_the_owner_approves(
    page: Page, live_server, pool, login, switch_user, viewport
):
    base = live_server.url
    day = timezone.localdate() + timedelta(days=3)

    # 资源 from the shell (the phone: the home page's tile; the desktop: the sidebar)
    login(page, "a_staff")
    if viewport == "phone":
        entry = page.get_by_test_id("home-links").locator("[data-link=resources]")
    else:
        entry = page.get_by_test_id("sidebar").locator("[data-nav=resources]")
    with page.expect_navigation():
        entry.click()
    expect(page.get_by_test_id(f"resource-{pool.hall.pk}")).to_contain_text("可容纳 60 人")
    with page.expect_navigation():
        page.get_by_test_id("post-demand").click()

    # post the demand: a venue for 50 people with a projector, 09:00–12:00
    form = page.get_by_test_id("demand-form")
    form.locator("input[name=title]").fill("全县业务培训")
    page.get_by_test_id("kind-venue").check(force=True)
    form.locator("input[name=amount]").fill("50")
    page.get_by_test_id("attributes-projector").check(force=True)
    form.locator("input[name=start_at]").fill(f"{day.isoformat()}T09:00")
    form.locator("input[name=end_at]").fill(f"{day.isoformat()}T12:00")
    with page.expect_navigation():
        page.get_by_test_id("demand-submit").click()
    demand = Demand.objects.get()
    assert demand.status == DemandStatus.OPEN and demand.amount == 50

    # the ranked matches with their reasons: county A's hall first, the enterprise's next
    first = page.get_by_test_id("match-1")
    expect(first).to_have_attribute("data-resource", str(pool.hall.pk))
    expect(page.get_by_test_id("match-name-1")).to_have_text("甲县会议中心报告厅")
    expect(page.get_by_test_id("match-2")).to_have_attribute("data-resource", str(pool.big.pk))
    expect(page.get_by_test_id("match-3")).to_have_count(0)  # the small room does not fit
    reasons = page.get_by_test_id("reasons-1")
    expect(reasons).to_contain_text("可容纳 60 人")
    expect(reasons).to_contain_text("免费")
    expect(page.get_by_test_id("reasons-2")).to_contain_text("预计费用")
    expect(page.get_by_test_id("excluded")).to_be_visible()
    if viewport == "phone":
        box = page.get_by_test_id("apply-1").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(page, "matches", viewport)

    # 申请 the first
    with page.expect_navigation():
        page.get_by_test_id("apply-1").click()
    expect(page.locator(".messages")).to_contain_text("已提交申请")
    expect(page.get_by_test_id("requested-1")).to_be_visible()
    alloc = Allocation.objects.get()
    assert alloc.resource_id == pool.hall.pk and alloc.status == AllocationStatus.REQUESTED
    expect(page.get_by_test_id(f"allocation-status-{alloc.number}")).to_have_text("待审批")

    # the hall's owner signs in and approves it from 待审批
    switch_user(page, "a_manager")
    page.goto(f"{base}/resources/approvals/")
    row = page.get_by_test_id(f"pending-{alloc.number}")
    expect(row).to_contain_text("甲县会议中心报告厅")
    expect(row).to_contain_text("全县业务培训")
    shot(page, "approvals", viewport)
    page.get_by_test_id(f"approve-{alloc.number}").click()  # HTMX: the row in place
    expect(page.get_by_test_id(f"decided-{alloc.number}")).to_contain_text("已批准")
    expect(page.get_by_test_id(f"pending-status-{alloc.number}")).to_have_text("已调配")
    expect(page.get_by_test_id(f"approve-{alloc.number}")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("no-approvals")).to_be_visible()
    alloc.refresh_from_db()
    assert alloc.status == AllocationStatus.APPROVED and alloc.holds

    # the staff member sees it 已调配
    switch_user(page, "a_staff")
    page.goto(f"{base}/resources/demands/{demand.pk}/")
    expect(page.get_by_test_id("demand-status")).to_have_text("已匹配")
    expect(page.get_by_test_id(f"allocation-status-{alloc.number}")).to_have_text("已调配")
    expect(page.get_by_test_id("matches")).to_have_count(0)
    shot(page, "allocated", viewport)
    page.goto(f"{base}/resources/allocations/")
    expect(page.get_by_test_id(f"allocation-status-{alloc.number}")).to_have_text("已调配")


def test_the_square_a_resource_week_and_the_dashboard_render(
    page: Page, live_server, pool, login, viewport
):
    """The overseer's dashboard draws its charts (vendored ECharts, no script errors);
    a resource shows its week of holdings."""
    base = live_server.url
    staff = pool.user("a_staff")
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    allocation(
        pool.hall,
        staff,
        start_at=start + timedelta(days=1),
        end_at=start + timedelta(days=1, hours=3),
        amount=40,
    )
    login(page, "a_manager")
    day = (start + timedelta(days=1)).date().isoformat()
    page.goto(f"{base}/resources/r/{pool.hall.pk}/?week={day}")
    expect(page.get_by_test_id("resource-capacity")).to_contain_text("60")
    expect(page.get_by_test_id(f"weekday-{day}").get_by_test_id("block")).to_contain_text("09:00")
    page.goto(f"{base}/resources/stats/")
    expect(page.get_by_test_id("by-centre")).to_contain_text("甲县")
    for chart in ("rs-kind-chart", "rs-owner-chart", "rs-centre-chart"):
        expect(page.locator(f"#{chart} canvas").first).to_be_visible()
    shot(page, "stats", viewport)
