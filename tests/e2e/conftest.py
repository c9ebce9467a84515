"""Playwright fixtures: the system Chromium, one page per viewport, screenshots as artefacts.

Playwright cannot download its own browser here, so it drives Debian's ``chromium``.
A missing browser fails the run loudly: CI installs it, and a skipped journey would
hide a broken shell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("DAYUAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1440, "height": 900}},
}


# Module scope, not session: pytest-django runs tests without a database after the
# transactional ones, so a browser (and its running event loop) kept for the session
# would still be alive in them.
@pytest.fixture(scope="module")
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in the test thread, and Django
    refuses ORM calls from a thread with a running loop. The tests' ORM calls (seeding,
    flushing) are plain synchronous code, so lift the guard while a browser is open."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_allow_orm_beside_playwright: None) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium "
            "(apt-get install chromium) or set DAYUAN_CHROMIUM; end-to-end tests never skip.",
            pytrace=False,
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def page(browser: Browser, viewport: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test; its last screen is kept under artifacts/e2e/."""
    context = browser.new_context(**VIEWPORTS[viewport], locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    # A stylesheet or script that fails to load leaves a page that only looks broken.
    page.on(
        "response",
        lambda resp: (
            errors.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and "/static/" in resp.url
            else None
        ),
    )
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"\W+", "_", request.node.originalname).strip("_")
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}.png"), full_page=True)
        finally:
            context.close()
    # A script error or a CSP violation is a broken page even when the assertions pass.
    assert not errors, f"browser errors: {errors}"


@pytest.fixture
def sign_in(live_server: Any):
    """``sign_in(page, username, password)`` submits the login form, whatever the outcome."""

    def do(page: Page, username: str, password: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.get_by_test_id("login-submit").click()

    return do


@pytest.fixture
def login(sign_in: Any):
    """``login(page, username)`` signs in with the demo password and waits for home."""
    from dayuan.core.testing import TEST_PASSWORD

    def do(page: Page, username: str, password: str = TEST_PASSWORD) -> None:
        sign_in(page, username, password)
        expect(page.get_by_test_id("welcome")).to_be_visible()

    return do


@pytest.fixture
def switch_user(login: Any):
    """``switch_user(page, username)`` signs the page's context out and in as someone else.

    It leaves the page first: a request still in flight would set the old session cookie
    again after it is cleared (every response refreshes the session's idle timer).
    """

    def do(page: Page, username: str) -> None:
        page.goto("about:blank")
        page.context.clear_cookies()
        login(page, username)

    return do
