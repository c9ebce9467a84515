"""Assessment on a phone and a desktop: the third-party assessor opens 我的评分 and scores
the assigned vendor's site item with a comment; county A's manager scores the manager
item, computes, submits and publishes the run, and downloads the PDF report, whose text
names the vendor and gives the score and the payable amount."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from dayuan.assessment import runs
from dayuan.assessment.models import ItemScore, Run
from dayuan.assessment.tests.factories import build
from dayuan.core.testing import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PERIOD = date(2026, 10, 1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def seeded():
    world = build_world()
    setup = build(world)
    manager = world.user("a_manager")
    run = runs.create_run(
        actor=manager,
        scheme_id=setup.scheme.pk,
        period_kind="month",
        period_start=PERIOD,
        contract_id=setup.contract.pk,
    )
    runs.assign_assessor(
        actor=manager, run_id=run.pk, user_id=world.user("assessor").pk, role="assessor"
    )
    runs.assign_assessor(actor=manager, run_id=run.pk, user_id=manager.pk, role="manager")
    return world, run


def shot(page: Page, name: str) -> None:
    """With DAYUAN_SCREENSHOTS=1, the pictures docs/guide/assessor.md and manager.md show."""
    if os.environ.get("DAYUAN_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"assessment-{name}.png"))


def test_assessor_scores_manager_publishes_and_downloads_the_pdf(
    page: Page, live_server, seeded, login, switch_user, viewport
):
    base = live_server.url
    world, run = seeded
    vendor = world.vendor.name

    # 1. the third-party assessor: 我的评分 lists the assigned run; score the site item
    login(page, "assessor")
    page.goto(f"{base}/assessment/")
    expect(page.get_by_test_id("tab-mine")).to_have_attribute("aria-current", "page")
    card = page.get_by_test_id(f"mine-{run.pk}")
    expect(card).to_contain_text(vendor)
    card.get_by_test_id("score-site").click()
    page.get_by_test_id("score-input").fill("22")
    page.get_by_test_id("score-comment").fill("楼道保洁到位，个别垃圾桶未及时清理")
    page.get_by_test_id("score-evidence").fill("现场检查 10 月 18 日")
    page.get_by_test_id("score-submit").click()
    expect(page.get_by_test_id(f"mine-{run.pk}")).to_contain_text("已评 22")
    score = ItemScore.objects.get(item__run=run, item__key="site")
    assert score.score == Decimal("22") and score.scorer == world.user("assessor")
    if viewport == "phone":
        shot(page, "mine-phone")

    # 2. the manager scores their item, computes, submits and publishes
    switch_user(page, "a_manager")
    page.goto(f"{base}/assessment/runs/{run.pk}/")
    page.get_by_test_id("score-manager").click()
    page.get_by_test_id("score-input").fill("13")
    page.get_by_test_id("score-comment").fill("响应及时")
    page.get_by_test_id("score-submit").click()
    expect(page.get_by_test_id("scores-manager")).to_contain_text("13")
    for action, status in (("compute", "已计算"), ("submit", "审核中"), ("publish", "已公布")):
        page.get_by_test_id(action).click()
        expect(page.get_by_test_id(f"status-{run.pk}")).to_have_text(status)
    run = Run.objects.get(pk=run.pk)
    assert run.status == "published" and run.score is not None and run.payable is not None
    expect(page.get_by_test_id("score")).to_have_text(str(run.score))
    expect(page.get_by_test_id("payable-amount")).to_contain_text(str(run.payable))
    expect(page.get_by_test_id("working")).to_be_visible()
    if viewport == "desktop":
        shot(page, "run-desktop")

    # 3. the PDF report: the vendor, the score, the payable amount
    with page.expect_download() as info:
        page.get_by_test_id("pdf").click()
    path = info.value.path()
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(path.read_bytes())).pages)
    assert vendor in text
    assert f"{run.score:.2f}" in text
    assert f"{run.payable:,.2f}" in text
