"""The demo world in the browser; with DAYUAN_SCREENSHOTS=1 it also refreshes the
screenshots committed under docs/screenshots/ (login-phone, home-phone, home-desktop)."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from dayuan.accounts.models import User
from dayuan.orgs.models import Location, Organization

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shoot(page: Page, name: str) -> None:
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"))


def test_demo_admin_home_shows_the_whole_city(page: Page, live_server, login, viewport):
    call_command("demo", stdout=StringIO())
    if viewport == "phone":
        page.goto(f"{live_server.url}/accounts/login/")
        expect(page.get_by_test_id("login-form")).to_be_visible()
        page.fill("input[name=username]", "admin")
        _shoot(page, "login-phone")

    login(page, "admin")
    admin = User.objects.get(username="admin")
    expect(page.get_by_test_id("welcome")).to_contain_text(admin.display_name)
    expect(page.get_by_test_id("stat-orgs")).to_have_text(str(Organization.objects.count()))
    expect(page.get_by_test_id("stat-locations")).to_have_text(f"{Location.objects.count():,}")
    expect(page.get_by_test_id("stat-users")).to_have_text(str(User.objects.count()))
    expect(page.get_by_test_id("my-grants")).to_contain_text("市机关服务中心")
    _shoot(page, f"home-{viewport}")
