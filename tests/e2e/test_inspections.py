"""The closed loop on a phone: county A's inspector runs a patrol, fails an item with a
photo and submits; the vendor's worker submits rectification evidence; the inspector
rejects it once with a reason, then accepts the second round; on a desktop the manager
opens the finding and sees the loop closed with both rounds. And the supervision board."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from dayuan.core.testing import build_world
from dayuan.inspections.models import Finding, Inspection
from dayuan.inspections.tests.factories import build
from dayuan.supervision import services as supervision

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# the pictures the guides show (docs/guide/inspector.md, manager.md)
DOC_SHOTS = {
    ("conduct", "phone"),
    ("closed", "phone"),
    ("manager", "desktop"),
    ("supervision", "desktop"),
}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def world():
    world = build_world()
    world.setup = build(world)
    return world


def png(name: str) -> dict:
    buf = BytesIO()
    Image.new("RGB", (320, 240), (200, 60, 60)).save(buf, "PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buf.getvalue()}


def shot(page: Page, name: str, viewport: str) -> None:
    """Artifacts for a failing run; with DAYUAN_SCREENSHOTS=1 also the docs' pictures."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"inspections-{name}-{viewport}.png"), full_page=True)
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1" and (name, viewport) in DOC_SHOTS:
        page.screenshot(path=str(DOCS / f"inspections-{name}-{viewport}.png"))


def settled(page: Page) -> None:
    """No HTMX request in flight (each answer is saved as it is given)."""
    expect(page.locator(".htmx-request")).to_have_count(0)


def test_patrol_finding_rectified_rejected_once_then_accepted(
    page: Page, switch_user, browser, live_server, world, login, viewport
):
    base = live_server.url
    s = world.setup

    # 1. the inspector starts a patrol of county A's office building
    login(page, "a_inspector")
    page.goto(f"{base}/inspections/")
    page.get_by_test_id("start").click()
    form = page.get_by_test_id("start-form")
    form.locator("select[name=kind]").select_option("patrol")
    form.locator("select[name=checklist]").select_option("patrol.daily")
    form.locator("select[name=location]").select_option(str(s.building_a.pk))
    form.locator("select[name=vendor]").select_option(str(world.vendor.pk))
    with page.expect_navigation():
        page.get_by_test_id("start-submit").click()
    expect(page).to_have_url(re.compile(r"/inspections/\d+/conduct/$"))

    # 2. answers, each judged and saved on entry; the measured value against its limit
    for key in ("floor_clean", "stairs_clear"):
        page.get_by_test_id(f"item-{key}").locator("label.ok").click()
        expect(page.get_by_test_id(f"outcome-{key}")).to_contain_text("符合")
    expect(page.get_by_test_id("limit-server_temp")).to_contain_text("27")
    page.get_by_test_id("value-server_temp").fill("24")
    page.get_by_test_id("value-server_temp").press("Tab")
    expect(page.get_by_test_id("outcome-server_temp")).to_contain_text("判定：符合")
    page.get_by_test_id("item-fire_exit").locator("label.bad").click()
    expect(page.get_by_test_id("outcome-fire_exit")).to_contain_text("判定：不符合")
    settled(page)
    page.get_by_test_id("note-fire_exit").fill("消防通道堆放纸箱")
    page.get_by_test_id("note-fire_exit").press("Tab")
    page.get_by_test_id("photo-fire_exit").set_input_files([png("exit.png")])
    expect(page.get_by_test_id("photos-fire_exit").locator("img")).to_have_count(1)
    expect(page.get_by_test_id("summary")).to_contain_text("不符合 1 项")
    settled(page)
    shot(page, "conduct", viewport)

    # the draft survived: a closed tab reopened shows every answer
    page.reload()
    expect(page.get_by_test_id("value-server_temp")).to_have_value("24")
    expect(page.get_by_test_id("fail-fire_exit")).to_be_checked()
    with page.expect_navigation():
        page.get_by_test_id("submit").click()
    inspection = Inspection.objects.get(inspector=world.user("a_inspector"))
    assert inspection.status == "submitted" and inspection.photos.count() == 1
    finding = Finding.objects.get(inspection=inspection)
    assert finding.item_key == "fire_exit"
    expect(page.get_by_test_id("inspection-status")).to_have_text("已提交")
    expect(page.get_by_test_id("finding-fire_exit")).to_be_visible()
    finding_url = f"{base}/inspections/findings/{finding.pk}/"

    # 3. the vendor's worker submits evidence with a photo
    switch_user(page, "vendor_worker")
    page.goto(f"{base}/inspections/rectifications/")
    with page.expect_navigation():
        page.get_by_test_id(f"rect-{finding.number}").click()
    page.get_by_test_id("evidence-text").fill("纸箱已清走")
    page.get_by_test_id("evidence-photos").set_input_files([png("done.png")])
    with page.expect_navigation():
        page.get_by_test_id("evidence-submit").click()
    expect(page.get_by_test_id("rect-status")).to_have_text("待验收")

    # 4. the inspector rejects it once, with a reason
    switch_user(page, "a_inspector")
    page.goto(finding_url)
    page.get_by_test_id("verify-form").locator("label", has_text="不通过").click()
    page.get_by_test_id("verify-reason").fill("通道内仍有杂物")
    with page.expect_navigation():
        page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("rect-status")).to_have_text("退回重整")
    expect(page.get_by_test_id("verdict-1")).to_have_text("退回")

    # 5. the vendor resubmits; the inspector accepts
    switch_user(page, "vendor_worker")
    page.goto(finding_url)
    page.get_by_test_id("evidence-text").fill("杂物全部清空，通道畅通")
    with page.expect_navigation():
        page.get_by_test_id("evidence-submit").click()
    switch_user(page, "a_inspector")
    page.goto(finding_url)
    page.get_by_test_id("verify-form").locator("label", has_text="通过").first.click()
    with page.expect_navigation():
        page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("finding-status")).to_have_text("已闭环")
    shot(page, "closed", viewport)

    # 6. on a desktop the manager sees the loop closed, both rounds kept
    context = browser.new_context(**DESKTOP, locale="zh-CN")
    try:
        desk = context.new_page()
        login(desk, "a_manager")
        desk.goto(f"{base}/inspections/findings/?status=closed")
        with desk.expect_navigation():
            desk.get_by_test_id(f"row-{finding.number}").get_by_role("link").first.click()
        expect(desk.get_by_test_id("finding-status")).to_have_text("已闭环")
        expect(desk.get_by_test_id("verdict-1")).to_have_text("退回")
        expect(desk.get_by_test_id("verdict-2")).to_have_text("验收通过")
        expect(desk.get_by_test_id("rounds")).to_contain_text("通道内仍有杂物")
        expect(desk.get_by_test_id("timeline")).to_contain_text("闭环")
        shot(desk, "manager", "desktop")
    finally:
        context.close()


def test_supervision_board_shows_red_for_an_overdue_task(
    page: Page, live_server, world, login, viewport
):
    task = supervision.create_task(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        title="消防通道整治",
        instruction="清理全部消防通道堆物",
        deadline=timezone.now() + timedelta(days=2),
        assignee_id=world.user("a_dispatcher").pk,
    )
    type(task).objects.filter(pk=task.pk).update(deadline=timezone.now() - timedelta(hours=2))
    login(page, "a_manager")
    page.goto(f"{live_server.url}/supervision/")
    row = page.get_by_test_id(f"org-{world.county_a.pk}")
    expect(row.locator(".n-red")).to_have_text("1")
    with page.expect_navigation():
        row.get_by_role("link").click()
    expect(page.get_by_test_id(f"row-{task.number}")).to_be_visible()
    with page.expect_navigation():
        page.get_by_test_id(f"row-{task.number}").get_by_role("link").click()
    expect(page.get_by_test_id("light")).to_have_text("红")
    page.get_by_test_id("remind-form").locator("input[name=note]").fill("请今日办结")
    with page.expect_navigation():
        page.get_by_test_id("remind").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("催办")
    shot(page, "supervision", viewport)
