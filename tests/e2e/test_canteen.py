"""The canteen on a phone (390×844) and a desktop (1440×900), against the real clock.

1. County A's staff member browses tomorrow's lunch, reserves the 百县千碗 dish, cancels
   within the window, reserves again and shows the pickup code (big digits and QR).
2. The kitchen (the catering company's worker) sees tomorrow's counts including that
   reservation, with the forecast beside them, and hands a code over at the counter.

Tomorrow's lunch is made for the real tomorrow, so its deadlines (09:30 and 09:00
tomorrow) are always ahead; the counter's meal is one made to be serving right now.
Nothing patches the clock."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dayuan.canteen import reservations
from dayuan.canteen.choices import Meal, MenuStatus, ReservationStatus
from dayuan.canteen.models import Menu, MenuItem, Reservation
from dayuan.canteen.tests.factories import build, menu
from dayuan.core.testing import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The pictures the guides show (refreshed with DAYUAN_SCREENSHOTS=1).
DOC_SHOTS = {("menu", "phone"), ("code", "phone"), ("kitchen", "desktop")}


def shot(page: Page, name: str, viewport: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"canteen-{name}-{viewport}.png"), full_page=True)
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1" and (name, viewport) in DOC_SHOTS:
        page.screenshot(path=str(DOCS / f"canteen-{name}-{viewport}.png"))


@pytest.fixture
def cw():
    world = build_world()
    return build(world)


@pytest.fixture
def tomorrow_lunch(cw) -> Menu:
    """Tomorrow's lunch in county A's canteen (the real tomorrow, Shanghai)."""
    return menu(cw, "a", timezone.localdate() + timedelta(days=1), Meal.LUNCH)


def dongpo(m: Menu, cw) -> MenuItem:
    return m.items.get(dish=cw.dish("a:dongpo"))


def test_reserve_tomorrows_baixian_dish_cancel_and_reserve_again(
    page: Page, live_server, cw, tomorrow_lunch, login, viewport
):
    base = live_server.url
    tomorrow = tomorrow_lunch.day.isoformat()
    item = dongpo(tomorrow_lunch, cw)

    # browse: 食堂 → 明日 → lunch, the 百县千碗 dish card with its region and portions left
    login(page, "a_staff")
    nav = page.get_by_test_id("bottom-nav" if viewport == "phone" else "sidebar")
    with page.expect_navigation():
        nav.locator("[data-nav=canteen]").click()
    with page.expect_navigation():
        page.get_by_test_id(f"day-{tomorrow}").click()
    lunch = page.get_by_test_id("meal-lunch")
    card = lunch.get_by_test_id(f"dish-{item.pk}")
    expect(card).to_contain_text("东坡肉")
    expect(card).to_contain_text("百县千碗")
    expect(card).to_contain_text("余 100 份")
    with page.expect_navigation():
        lunch.get_by_test_id("reserve-lunch").click()

    # reserve eat-in with one portion of 东坡肉
    page.get_by_test_id(f"qty-{item.pk}").fill("1")
    shot(page, "menu", viewport)
    with page.expect_navigation():
        page.get_by_test_id("reserve-submit").click()
    first = Reservation.objects.get()
    expect(page.get_by_test_id("pickup-code")).to_have_text(first.pickup_code)
    expect(page.get_by_test_id("res-lines")).to_contain_text("东坡肉 × 1")

    # cancel (the window closes at 09:00 tomorrow): the portion goes back
    with page.expect_navigation():
        page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("res-status")).to_have_text("已取消")
    expect(page.get_by_test_id("pickup-code")).to_have_count(0)
    first.refresh_from_db()
    assert first.status == ReservationStatus.CANCELLED
    item.refresh_from_db()
    assert item.sold == 0

    # reserve again from the menu, and show the pickup code at the counter
    page.goto(f"{base}/canteen/?day={tomorrow}")
    with page.expect_navigation():
        page.get_by_test_id("reserve-lunch").click()
    page.get_by_test_id(f"qty-{item.pk}").fill("1")
    with page.expect_navigation():
        page.get_by_test_id("reserve-submit").click()
    again = Reservation.objects.exclude(pk=first.pk).get()
    assert again.status == ReservationStatus.RESERVED
    code = page.get_by_test_id("pickup-code")
    expect(code).to_have_text(again.pickup_code)
    expect(page.get_by_test_id("pickup-qr").locator("svg")).to_be_visible()
    box = code.bounding_box()
    assert box is not None and box["height"] >= 40  # big digits
    if viewport == "phone":
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # fits the phone
    shot(page, "code", viewport)
    page.goto(f"{base}/canteen/reservations/")
    expect(page.get_by_test_id(f"res-{again.number}")).to_contain_text(again.pickup_code)


def serving_now(cw) -> Menu:
    """A meal at county A's counter right now: starts in 10 minutes (the counter opens
    30 minutes ahead), reservations open for 5 more minutes."""
    now = timezone.now()
    start = now + timedelta(minutes=10)
    canteen = cw.canteens["a"]
    m = Menu.objects.create(
        org=canteen.org,
        canteen=canteen,
        day=timezone.localtime(start).date(),
        meal=Meal.DINNER,  # never tomorrow's lunch
        status=MenuStatus.PUBLISHED,
        serve_start=start,
        serve_end=start + timedelta(hours=1),
        reserve_until=now + timedelta(minutes=5),
        cancel_until=now + timedelta(minutes=5),
        eat_in_price=6,
    )
    dish = cw.dish("a:fish")
    MenuItem.objects.create(menu=m, dish=dish, price=dish.price, portions=30)
    return m


def test_kitchen_sees_tomorrows_counts_and_hands_over_a_code(
    page: Page, live_server, cw, tomorrow_lunch, login, viewport
):
    base = live_server.url
    tomorrow = tomorrow_lunch.day.isoformat()
    staff = cw.user("a_staff")
    item = dongpo(tomorrow_lunch, cw)
    reservations.reserve(
        actor=staff,
        menu_id=tomorrow_lunch.pk,
        items=[{"menu_item_id": item.pk, "quantity": 1}],
    )
    now_menu = serving_now(cw)
    fish = now_menu.items.get()
    tonight = reservations.reserve(
        actor=cw.user("a_dispatcher"),
        menu_id=now_menu.pk,
        items=[{"menu_item_id": fish.pk, "quantity": 2}],
    )

    # the operator's desk: tomorrow's lunch with that reservation, and the forecast
    login(page, "vendor_worker")
    page.goto(f"{base}/canteen/kitchen/")
    expect(page.get_by_test_id("kitchen-canteen")).to_have_text(cw.canteens["a"].name)
    count = page.get_by_test_id(f"count-{tomorrow}-lunch")
    expect(count.get_by_test_id("eat-in")).to_have_text("1")
    expect(count.get_by_test_id(f"sold-{item.pk}")).to_have_text("1")
    expect(count.get_by_test_id("forecast")).to_contain_text("预测就餐")
    shot(page, "kitchen", viewport)

    # the counter: type the code, what to hand out comes back in place (HTMX)
    code = page.get_by_test_id("handover-code")
    code.fill(tonight.pickup_code)
    page.get_by_test_id("handover-submit").click()
    ok = page.get_by_test_id("handover-ok")
    expect(ok).to_contain_text("名厨酸菜鱼")
    expect(ok).to_contain_text("× 2")
    expect(code).to_have_value("")  # emptied for the next scan
    expect(code).to_be_focused()
    tonight.refresh_from_db()
    assert tonight.status == ReservationStatus.SERVED
    # the same code twice is refused
    code.fill(tonight.pickup_code)
    code.press("Enter")
    expect(page.get_by_test_id("handover-error")).to_contain_text("不能重复取餐")
    shot(page, "counter", viewport)
