"""Standards journeys on a phone and a desktop: read the library, be refused a looser
binding number with the clause cited, tighten it, and see compliance per clause."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dayuan.core.testing import build_world
from dayuan.standards import engine
from dayuan.standards.demo import load_demo
from dayuan.standards.models import Standard

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    world = build_world()
    load_demo(world.user("admin"), world.city, [])  # county A has not adopted yet
    sample = {"dish": "菜", "sampled_at": "t", "sampled_by": "p", "sealed": True}
    for weight in (130, 90):
        engine.evaluate_record(
            world.county_a,
            "canteen.food_sample",
            {**sample, "weight_g": weight, "retention_hours": 48},
        )
    return world


def test_a_county_manager_reads_the_library_and_tightens_a_binding_clause(
    page: Page, live_server, world, login
):
    login(page, "a_manager")
    page.goto(f"{live_server.url}/standards/")
    expect(page.get_by_text("JG-ST").first).to_be_visible()
    std = Standard.objects.get(code="JG-ST")
    page.goto(f"{live_server.url}/standards/{std.pk}/")
    clause = page.get_by_test_id("clause-C1")
    expect(clause).to_contain_text("125")
    expect(clause.get_by_test_id("unverified").first).to_be_visible()

    page.goto(f"{live_server.url}/standards/{std.pk}/adopt/")
    form = page.get_by_test_id("adopt-form")
    form.locator("select[name=org]").select_option(str(world.county_a.pk))
    form.locator("textarea[name=overrides]").fill(
        "c1_sample_quantity: {vars.min_weight_g.value: 100}"
    )
    page.get_by_test_id("adopt-submit").click()
    errors = page.get_by_test_id("errors-overrides")
    expect(errors).to_contain_text("C1")  # the refusal cites the binding clause
    expect(errors).to_contain_text("125")
    assert not std.adoptions.filter(org=world.county_a).exists()

    form.locator("textarea[name=overrides]").fill(
        "c1_sample_quantity: {vars.min_weight_g.value: 150}"
    )
    page.get_by_test_id("adopt-submit").click()
    expect(page.get_by_test_id("adoptions")).to_contain_text("150")
    assert std.adoptions.get(org=world.county_a).overrides == {
        "c1_sample_quantity": {"vars.min_weight_g.value": 150}
    }


def test_a_county_manager_sees_compliance_per_clause(page: Page, live_server, world, login):
    login(page, "a_manager")
    page.goto(f"{live_server.url}/standards/compliance/")
    row = page.get_by_test_id("stat-JG-ST-C1")
    expect(row).to_be_visible()
    expect(page.get_by_test_id("failed")).not_to_have_text("0")
    expect(page.get_by_test_id("most-violated")).to_contain_text("C1")
    expect(page.locator("canvas").first).to_be_visible()  # ECharts rendered a chart
