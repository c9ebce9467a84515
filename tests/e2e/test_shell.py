"""Journeys through the web shell on a phone (390×844) and a desktop (1440×900)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dayuan.core.testing import TEST_PASSWORD, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    return build_world()


def test_login_rejects_a_wrong_password_then_lands_on_home(page: Page, live_server, world, sign_in):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    sign_in(page, "a_staff", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")
    expect(page.locator("input[name=username]")).to_have_value("a_staff")
    expect(page.get_by_test_id("welcome")).to_have_count(0)

    sign_in(page, "a_staff", TEST_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(page.get_by_test_id("welcome")).to_contain_text("a_staff")
    grants = page.get_by_test_id("my-grants")
    expect(grants).to_contain_text("干部职工")
    expect(grants).to_contain_text("甲县机关服务中心")
    expect(page.get_by_test_id("my-notifications")).to_be_visible()
    # Staff manage nothing: no scope counts, no audit link.
    expect(page.get_by_test_id("scope-stats")).to_have_count(0)
    expect(page.locator("[data-link=audit]")).to_have_count(0)


def test_phone_shows_bottom_navigation_and_desktop_the_sidebar(
    page: Page, live_server, world, login, viewport
):
    login(page, "a_manager")
    sidebar = page.get_by_test_id("sidebar")
    bottom = page.get_by_test_id("bottom-nav")
    if viewport == "phone":
        expect(bottom).to_be_visible()
        expect(sidebar).to_be_hidden()
        nav = bottom
        box = bottom.bounding_box()
        assert box is not None and box["y"] + box["height"] >= 844 - 1  # pinned to the bottom
    else:
        expect(sidebar).to_be_visible()
        expect(bottom).to_be_hidden()
        expect(page.get_by_test_id("user-name")).to_be_visible()
        nav = sidebar
    expect(nav.locator("[data-nav=home]")).to_have_attribute("aria-current", "page")
    with page.expect_navigation():
        nav.locator("[data-nav=orgs]").click()
    expect(page).to_have_url(re.compile(r"/orgs/locations/$"))
    expect(nav.locator("[data-nav=orgs]")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("locations")).to_contain_text("甲县大院")
    # County A's manager never sees county B's compound.
    expect(page.get_by_test_id("locations")).not_to_contain_text("乙县大院")


def test_manager_home_counts_only_their_own_county(page: Page, live_server, world, login):
    login(page, "b_manager")
    stats = page.get_by_test_id("scope-stats")
    expect(stats).to_be_visible()
    # County B: the centre itself; its compound, building, 2 floors and 6 rooms; 5 users.
    expect(page.get_by_test_id("stat-orgs")).to_have_text("1")
    expect(page.get_by_test_id("stat-locations")).to_have_text("10")
    expect(page.get_by_test_id("stat-users")).to_have_text("5")
    expect(page.locator("[data-link=audit]")).to_be_visible()
    expect(page.get_by_test_id("my-grants")).not_to_contain_text("甲县")


def test_language_switches_to_english_on_login_page_and_shell(
    page: Page, live_server, world, sign_in
):
    page.goto(f"{live_server.url}/accounts/login/")
    select = page.get_by_test_id("language")
    expect(select).to_be_visible()
    with page.expect_navigation():
        select.select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_test_id("language")).to_have_value("en")
    expect(page.locator("[data-testid=language] option:checked")).to_have_text("English")

    sign_in(page, "a_staff", TEST_PASSWORD)
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-testid=language] option:checked")).to_have_text("English")

    with page.expect_navigation():
        page.get_by_test_id("language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("[data-testid=language] option:checked")).to_have_text("简体中文")
    expect(page.get_by_test_id("welcome")).to_contain_text("您好")


def test_logout_returns_to_login_and_closes_the_session(page: Page, live_server, world, login):
    login(page, "a_dispatcher")
    with page.expect_navigation():
        page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
