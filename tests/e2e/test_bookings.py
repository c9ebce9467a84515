"""Bookings on a phone (390×844) and a desktop (1440×900): county A's staff member finds
and books a room with tea service, sees it in 我的预订 and the calendar, and checks in
through the door's QR landing URL; on a desktop the manager sees the booking and the
statistics. And a barber slot booked on a phone.

The server's clock is set to Monday 2026-12-07 09:00 Shanghai (a working day inside
the standard's request windows) and moved to Tuesday for the check-in; the live server
runs in this process, so patching ``timezone.now`` moves its clock too."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dayuan.bookings import appointments
from dayuan.bookings.models import Appointment, Booking
from dayuan.bookings.tests.factories import MONDAY, at, build
from dayuan.core.testing import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The pictures the guides show (refreshed with DAYUAN_SCREENSHOTS=1).
DOC_SHOTS = {
    ("form", "phone"),
    ("detail", "phone"),
    ("checked-in", "phone"),
    ("slots", "phone"),
    ("day", "desktop"),
    ("stats", "desktop"),
}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
TUESDAY = (MONDAY + timedelta(days=1)).date().isoformat()


class Clock:
    def __init__(self) -> None:
        self.at = MONDAY

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


@pytest.fixture
def world(clock):
    world = build_world()
    world.setup = build(world)
    return world


def shot(page: Page, name: str, viewport: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"bookings-{name}-{viewport}.png"), full_page=True)
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1" and (name, viewport) in DOC_SHOTS:
        page.screenshot(path=str(DOCS / f"bookings-{name}-{viewport}.png"))


def test_book_a_room_with_tea_check_in_by_qr_and_the_manager_sees_it(
    page: Page, browser, live_server, world, login, switch_user, clock, viewport
):
    base = live_server.url
    s = world.setup

    # 1. find a free room for ten on Tuesday 10:00–11:00 and book it with tea
    login(page, "a_staff")
    page.goto(f"{base}/bookings/")
    form = page.get_by_test_id("search-form")
    form.locator("input[name=date]").fill(TUESDAY)
    form.locator("input[name=start]").fill("10:00")
    form.locator("input[name=end]").fill("11:00")
    page.get_by_test_id("search-attendees").fill("10")
    with page.expect_navigation():
        page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id(f"room-{s.room_a.pk}")).to_be_visible()
    expect(page.get_by_test_id(f"room-{s.small_a.pk}")).to_have_count(0)  # 8 seats
    expect(page.get_by_test_id(f"room-{s.room_b.pk}")).to_have_count(0)  # county B's
    shot(page, "search", viewport)
    with page.expect_navigation():
        page.get_by_test_id(f"book-{s.room_a.pk}").click()
    expect(page.locator("input[name=date]")).to_have_value(TUESDAY)
    expect(page.get_by_test_id("attendees")).to_have_value("10")
    page.get_by_test_id("title").fill("季度工作推进会")
    page.get_by_test_id("contact-phone").fill("13800000000")
    page.get_by_test_id("book-form").locator("label.pill", has_text="投影仪").click()
    page.get_by_test_id("book-form").locator("label.pill", has_text="茶水服务").click()
    expect(page.get_by_test_id("svc-tea")).to_be_checked()
    page.get_by_test_id("svc-note-tea").fill("绿茶，十人")
    shot(page, "form", viewport)
    with page.expect_navigation():
        page.get_by_test_id("book-submit").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("已确认")
    booking = Booking.objects.get()
    assert booking.start_at == at(2026, 12, 8, 10) and booking.equipment == ["projector"]
    tea = booking.services.get()
    assert tea.kind == "tea" and tea.workorder is not None
    expect(page.get_by_test_id("wo-tea")).to_have_text(tea.workorder.number)
    expect(page.get_by_test_id("service-tea")).to_contain_text("茶水备齐")
    shot(page, "detail", viewport)

    # the building's day shows it on the room's timeline
    page.goto(f"{base}/bookings/day/?date={TUESDAY}&building={s.building_a.pk}")
    expect(page.get_by_test_id(f"dayroom-{s.room_a.pk}")).to_contain_text("季度工作推进会")
    shot(page, "day", viewport)

    # 2. it is in 我的预订, with the calendar file and the personal feed
    page.goto(f"{base}/bookings/mine/")
    expect(page.get_by_test_id(f"booking-{booking.number}")).to_be_visible()
    expect(page.get_by_test_id("feed-url")).to_have_value(re.compile(r"/bookings/feed/\S+\.ics$"))
    feed = page.request.get(page.get_by_test_id("feed-url").input_value())
    assert feed.ok and "季度工作推进会" in feed.text()
    ics = page.request.get(f"{base}/bookings/{booking.pk}/booking.ics")
    assert ics.ok and "BEGIN:VEVENT" in ics.text()

    # 3. Tuesday 09:50 at the door: the QR code opens the landing page, 签到
    clock.at = at(2026, 12, 8, 9, 50)
    switch_user(page, "a_staff")  # a day later the idle session has ended
    page.goto(f"{base}/bookings/checkin/{s.room_a.checkin_token}/")
    expect(page.get_by_test_id("checkin-landing")).to_contain_text("季度工作推进会")
    with page.expect_navigation():
        page.get_by_test_id("checkin-submit").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("已签到")
    booking.refresh_from_db()
    assert booking.status == "checked_in"
    shot(page, "checked-in", viewport)

    # 4. on a desktop the manager sees the booking and the statistics
    context = browser.new_context(**DESKTOP, locale="zh-CN")
    try:
        desk = context.new_page()
        login(desk, "a_manager")
        desk.goto(f"{base}/bookings/overview/?date={TUESDAY}")
        row = desk.get_by_test_id(f"row-{booking.number}")
        expect(row).to_contain_text("季度工作推进会")
        with desk.expect_navigation():
            row.get_by_role("link").click()
        expect(desk.get_by_test_id("booking-status")).to_have_text("已签到")
        expect(desk.get_by_test_id("checklists")).to_be_visible()  # the service checklists
        desk.goto(f"{base}/bookings/stats/?since=2026-12-01&until=2026-12-08")
        expect(desk.get_by_test_id("bookings")).to_have_text("1")
        expect(desk.locator("#bk-peak-chart canvas")).to_have_count(1)
        expect(desk.get_by_test_id(f"building-{s.building_a.pk}")).to_be_visible()
        shot(desk, "stats", "desktop")
    finally:
        context.close()


def test_book_a_barber_slot_and_see_it_in_my_appointments(
    page: Page, live_server, world, login, viewport
):
    s = world.setup
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=7)
    login(page, "a_staff")
    page.goto(f"{live_server.url}/bookings/")
    page.get_by_test_id("tab-services").click()
    with page.expect_navigation():
        page.get_by_test_id("service-barber").click()
    with page.expect_navigation():
        page.get_by_test_id(f"day-{TUESDAY}").click()
    expect(page.get_by_test_id("left-1000")).to_have_text("余 3")
    shot(page, "slots", viewport)
    with page.expect_navigation():
        page.get_by_test_id("book-slot-1000").click()
    appt = Appointment.objects.get()
    expect(page.get_by_test_id(f"appt-{appt.number}")).to_contain_text("甲县理发室")
    expect(page.get_by_test_id(f"appt-{appt.number}")).to_contain_text("10:00")
    page.goto(f"{live_server.url}/bookings/services/{s.barber.pk}/?date={TUESDAY}")
    expect(page.get_by_test_id("left-1000")).to_have_text("余 2")
    shot(page, "appointments", viewport)


def _jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_manager_adds_a_room_photo_and_pauses_a_barber_slot(
    page: Page, live_server, world, login, switch_user, settings, tmp_path, viewport
):
    settings.MEDIA_ROOT = tmp_path
    s = world.setup
    base = live_server.url
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=3)

    # the room form takes a photo; the room's page and the search results show it
    login(page, "a_manager")
    page.goto(f"{base}/bookings/manage/rooms/{s.room_a.pk}/")
    page.get_by_test_id("room-photo").set_input_files(
        {"name": "room.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}
    )
    with page.expect_navigation():
        page.get_by_test_id("room-save").click()
    s.room_a.refresh_from_db()
    assert s.room_a.photo and s.room_a.photo_thumb
    switch_user(page, "a_staff")
    page.goto(f"{base}/bookings/?date={TUESDAY}&start=10:00&end=11:00&attendees=10")
    thumb = page.get_by_test_id(f"room-thumb-{s.room_a.pk}")
    expect(thumb).to_be_visible()
    # the image arrives after the page: wait until it has decoded, not just been laid out
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    shot(page, "search-photo", viewport)
    page.goto(f"{base}/bookings/rooms/{s.room_a.pk}/")
    photo = page.get_by_test_id("room-photo")
    expect(photo).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    assert photo.evaluate("img => img.naturalWidth") == 640

    # the manager pauses Tuesday 10:00 from the day list; staff can no longer book it
    switch_user(page, "a_manager")
    page.goto(f"{base}/bookings/manage/services/")
    with page.expect_navigation():
        page.get_by_test_id(f"service-day-{s.barber.pk}").click()
    page.goto(f"{base}/bookings/services/{s.barber.pk}/day/?date={TUESDAY}")
    with page.expect_navigation():
        page.get_by_test_id("close-slot-1000").click()
    expect(page.get_by_test_id("open-slot-1000")).to_be_visible()
    shot(page, "slot-paused", viewport)
    switch_user(page, "a_staff")
    page.goto(f"{base}/bookings/services/{s.barber.pk}/?date={TUESDAY}")
    expect(page.get_by_test_id("left-1000")).to_have_text("暂停")
    expect(page.get_by_test_id("book-slot-1000")).to_have_count(0)
