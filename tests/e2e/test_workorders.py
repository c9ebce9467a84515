"""The repair journey on a phone and a desktop: a member of staff reports a leaking tap
with a photo, the desk dispatches it from the list, the worker accepts and completes it
from the queue, and the member of staff confirms and rates it."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from dayuan.core.testing import build_world
from dayuan.workorders.choices import Status
from dayuan.workorders.models import WorkOrder
from dayuan.workorders.tests.test_views import build_repair

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


@pytest.fixture
def world():
    world = build_world()
    build_repair(world)
    return world


def photo(name: str) -> dict:
    buf = BytesIO()
    Image.new("RGB", (320, 240), (40, 110, 190)).save(buf, "JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": buf.getvalue()}


def shot(page: Page, name: str, viewport: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"workorders-{name}-{viewport}.png"), full_page=True)


def test_a_leaking_tap_is_reported_fixed_and_rated(
    page: Page, switch_user, live_server, world, login, viewport
):
    base = live_server.url
    room = world.rooms["a"]
    floor, building, compound = room.parent, room.parent.parent, room.parent.parent.parent

    # 1. staff report from the phone (or the desk) with a photo
    login(page, "a_staff")
    page.goto(f"{base}/workorders/")
    expect(page).to_have_url(re.compile(r"/workorders/new/$"))
    form = page.get_by_test_id("report-form")
    form.get_by_text("水电维修").click()
    for level, place in enumerate((compound, building, floor, room)):
        pick = form.get_by_test_id(f"loc-level-{level}")
        # a level swapped in by HTMX listens once it has settled (a person is never faster)
        expect(form.locator(".htmx-settling, .htmx-added, .htmx-request")).to_have_count(0)
        pick.select_option(str(place.pk))
    form.locator("textarea[name=description]").fill("三楼卫生间水龙头漏水，一直滴水")
    form.get_by_test_id("photos").set_input_files([photo("tap.jpg")])
    shot(page, "report", viewport)
    with page.expect_navigation():
        page.get_by_test_id("report-submit").click()
    order = WorkOrder.objects.get(requester=world.user("a_staff"))
    assert order.location_id == room.pk and order.photos.count() == 1
    expect(page.get_by_test_id("order-status")).to_have_text("已提交")
    expect(page.get_by_test_id("timer-respond")).to_be_visible()
    thumb = page.get_by_test_id("photos").locator("img")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=thumb.element_handle()
    )  # the thumbnail really loads through the API's photo view

    # 2. the desk sees it in the list and dispatches it automatically
    switch_user(page, "a_dispatcher")
    page.goto(f"{base}/workorders/")
    row = page.get_by_test_id(f"row-{order.number}")
    expect(row).to_be_visible()
    with page.expect_navigation():
        row.get_by_role("link", name=order.number).click()
    with page.expect_navigation():
        page.get_by_test_id("auto-dispatch").click()
    expect(page.get_by_test_id("order-status")).to_have_text("已派单")

    # 3. the worker accepts, arrives and completes it from the queue (HTMX cards)
    switch_user(page, "vendor_worker")
    page.goto(f"{base}/workorders/")
    expect(page).to_have_url(re.compile(r"/workorders/queue/$"))
    card = page.get_by_test_id(f"card-{order.number}")
    expect(card).to_be_visible()
    card.get_by_test_id("accept").click()
    expect(card.get_by_test_id("card-status")).to_have_text("已接单")
    card.get_by_test_id("arrive").click()
    expect(card.get_by_test_id("card-status")).to_have_text("已到场")
    card.get_by_test_id("resolve-open").click()
    card.get_by_test_id("resolution-input").fill("更换水龙头阀芯")
    card.locator("input[name=material_name]").first.fill("阀芯")
    card.locator("input[name=material_qty]").first.fill("1")
    card.locator("input[name=photos]").set_input_files([photo("done.jpg")])
    shot(page, "queue", viewport)
    card.get_by_test_id("resolve").click()
    expect(card.get_by_test_id("card-status")).to_have_text("已完成")
    order.refresh_from_db()
    assert order.status == Status.RESOLVED
    assert order.photos.filter(kind="completion").count() == 1

    # 4. the member of staff confirms and rates it
    switch_user(page, "a_staff")
    page.goto(f"{base}/workorders/mine/")
    with page.expect_navigation():
        page.get_by_test_id(f"order-{order.number}").click()
    expect(page.get_by_test_id("order-status")).to_have_text("已完成")
    expect(page.get_by_test_id("resolution")).to_contain_text("阀芯")
    rate = page.get_by_test_id("rate-form")
    rate.get_by_text("5★").click()
    rate.get_by_text("响应及时").click()
    rate.locator("textarea[name=comment]").fill("师傅很快就修好了")
    shot(page, "rate", viewport)
    with page.expect_navigation():
        page.get_by_test_id("rate-submit").click()
    expect(page.get_by_test_id("order-status")).to_have_text("已确认")
    expect(page.get_by_test_id("rating")).to_contain_text("响应及时")
    order.refresh_from_db()
    assert order.rating == 5 and order.rating_tags == ["响应及时"]

    # 5. the desk's list and dashboard show the finished order
    switch_user(page, "a_dispatcher")
    page.goto(f"{base}/workorders/?status=confirmed")
    expect(page.get_by_test_id(f"row-{order.number}")).to_be_visible()
    page.goto(f"{base}/workorders/dashboard/")
    expect(page.get_by_test_id("total")).to_have_text("1")
    expect(page.get_by_test_id("mean-rating")).to_have_text("5.0")
    expect(page.locator("#wo-day-chart canvas")).to_be_visible()
