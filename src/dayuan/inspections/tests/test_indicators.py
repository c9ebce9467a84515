"""The kpi indicators of inspections and rectification, on a hand-built fixture."""

from __future__ import annotations

import pytest

from dayuan.standards.indicators import INDICATORS

from ..models import Finding, PlanOccurrence, Rectification
from ..plans import generate_occurrences
from .factories import ALL_PASS, at, build
from .helpers import start, submit

pytestmark = pytest.mark.django_db

JUNE = (at(2025, 6, 1), at(2025, 7, 1))


def _compute(code, org, vendor=None, period=JUNE):
    return INDICATORS[code].compute(org, *period, vendor=vendor)


@pytest.fixture
def fixture(world):
    s = build(world)
    # county A in June: three inspections, 100 (vendor), 90 (vendor, passes with one
    # general failure), 70 (no vendor, fails); one draft; one in July.
    submit(s, start(s, vendor_id=world.vendor.pk))
    submit(s, start(s, vendor_id=world.vendor.pk), answers={**ALL_PASS, "floor_clean": "fail"})
    submit(s, start(s), answers={**ALL_PASS, "floor_clean": "fail", "stairs_clear": "fail"})
    start(s)
    submit(s, start(s), answers={**ALL_PASS, "fire_exit": "fail"}, now=at(2025, 7, 2, 10))
    # county B: one failing inspection in June
    b = start(s, "b_inspector", location=s.building_b)
    submit(s, b, "b_inspector", answers={**ALL_PASS, "fire_exit": "fail"})
    return s


def test_every_indicator_is_bound():
    for code in (
        "inspection_pass_rate",
        "inspection_average_score",
        "missed_occurrences",
        "rectification_closure_rate",
        "rectification_on_time_rate",
    ):
        assert INDICATORS[code].compute is not None


def test_inspection_pass_rate_and_average(world, fixture):
    a, b, city = world.county_a, world.county_b, world.city
    assert _compute("inspection_pass_rate", a) == pytest.approx(100 * 2 / 3, abs=0.01)
    assert _compute("inspection_average_score", a) == pytest.approx((100 + 90 + 70) / 3, abs=0.01)
    assert _compute("inspection_pass_rate", a, vendor=world.vendor) == 100.0
    assert _compute("inspection_average_score", a, vendor=world.vendor) == 95.0
    assert _compute("inspection_pass_rate", b) == 0.0
    # the city's subtree holds both counties: 2 passed of 4
    assert _compute("inspection_pass_rate", city) == 50.0
    # nothing in the period: no value
    assert _compute("inspection_pass_rate", a, period=(at(2025, 1, 1), at(2025, 2, 1))) is None


def test_missed_occurrences(world, fixture):
    s = fixture
    generate_occurrences(start=at(2025, 6, 10), end=at(2025, 6, 13))
    PlanOccurrence.objects.filter(location=s.stairs_a, period_start__lt=at(2025, 6, 12)).update(
        status="missed"
    )
    PlanOccurrence.objects.filter(location=s.stairs_b, period_start=at(2025, 6, 10)).update(
        status="missed"
    )
    assert _compute("missed_occurrences", world.county_a) == 2.0
    assert _compute("missed_occurrences", world.county_a, vendor=world.vendor) == 2.0
    assert _compute("missed_occurrences", world.county_b) == 1.0
    assert _compute("missed_occurrences", world.city) == 3.0
    assert (
        _compute("missed_occurrences", world.county_a, period=(at(2025, 7, 1), at(2025, 8, 1)))
        == 0.0
    )


def test_rectification_rates(world, fixture):
    # county A's June findings: floor (vendor), floor + stairs (no vendor) → 3 orders
    rects = list(
        Rectification.objects.filter(org=world.county_a, ordered_at__lt=at(2025, 7, 1)).order_by(
            "pk"
        )
    )
    assert len(rects) == 3
    first, second, third = rects
    Rectification.objects.filter(pk=first.pk).update(
        status="accepted", closed_at=at(2025, 6, 3), closed_on_time=True
    )
    Rectification.objects.filter(pk=second.pk).update(
        status="accepted", closed_at=at(2025, 6, 20), closed_on_time=False
    )
    Rectification.objects.filter(pk=third.pk).update(status="cancelled")
    Finding.objects.filter(rectification=third).update(status="cancelled")
    a = world.county_a
    # ordered (not withdrawn) 2, accepted 2
    assert _compute("rectification_closure_rate", a) == 100.0
    # closed 2, on time 1
    assert _compute("rectification_on_time_rate", a) == 50.0
    assert _compute("rectification_closure_rate", a, vendor=world.vendor) == 100.0
    assert _compute("rectification_on_time_rate", a, vendor=world.vendor) == 100.0
    # county B: one order, open
    assert _compute("rectification_closure_rate", world.county_b) == 0.0
    assert _compute("rectification_on_time_rate", world.county_b) is None
    # the city: 3 ordered (not withdrawn) in June, 2 accepted
    assert _compute("rectification_closure_rate", world.city) == pytest.approx(66.67)
