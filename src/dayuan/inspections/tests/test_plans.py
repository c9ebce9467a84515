"""Plan generation from schedule rules: every frequency over a whole year."""

from __future__ import annotations

import pytest

from ..models import PlanAssignment, PlanOccurrence
from ..plans import generate_occurrences
from .factories import at, build

pytestmark = pytest.mark.django_db

YEAR = (at(2025, 1, 1), at(2026, 1, 1))


def _year(s):
    return generate_occurrences(start=YEAR[0], end=YEAR[1])


def _rows(**kw):
    return PlanOccurrence.objects.filter(**kw).order_by("period_start")


def test_daily_stairs_every_day_per_location(world):
    s = build(world)
    _year(s)
    for stairs, org in ((s.stairs_a, world.county_a), (s.stairs_b, world.county_b)):
        rows = list(_rows(activity="clean.stairs", location=stairs))
        assert len(rows) == 365
        assert {r.org_id for r in rows} == {org.pk}
        assert rows[0].period_start == at(2025, 1, 1)
        assert rows[-1].period_end == at(2026, 1, 1)
        # grace of two hours after the period
        assert rows[0].due_at == at(2025, 1, 2, 2, 0)
        assert {r.target_key for r in rows} == {f"loc:{stairs.pk}"}


def test_quarterly_structure_four_times_a_year(world):
    s = build(world)
    _year(s)
    rows = list(_rows(activity="patrol.structure", location=s.building_a))
    assert [r.period_start for r in rows] == [
        at(2025, 1, 1),
        at(2025, 4, 1),
        at(2025, 7, 1),
        at(2025, 10, 1),
    ]
    assert rows[0].due_at == at(2025, 4, 1)  # no grace
    assert _rows(activity="patrol.structure").count() == 8  # one building in each county


def test_seasonal_lightning_rods_monthly_in_the_rainy_season(world):
    s = build(world)
    _year(s)
    rows = list(_rows(activity="patrol.lightning_rod", asset=s.rod_a))
    # Oct–Apr is one quarterly run counted from October: Jan–Mar, then April alone
    # (cut at the season's start); May–Sep monthly; then Oct–Dec.
    assert [(r.period_start, r.period_end) for r in rows] == [
        (at(2025, 1, 1), at(2025, 4, 1)),
        (at(2025, 4, 1), at(2025, 5, 1)),
        (at(2025, 5, 1), at(2025, 6, 1)),
        (at(2025, 6, 1), at(2025, 7, 1)),
        (at(2025, 7, 1), at(2025, 8, 1)),
        (at(2025, 8, 1), at(2025, 9, 1)),
        (at(2025, 9, 1), at(2025, 10, 1)),
        (at(2025, 10, 1), at(2026, 1, 1)),
    ]
    assert {r.target_key for r in rows} == {f"asset:{s.rod_a.pk}"}
    assert {r.location_id for r in rows} == {s.rod_a.location_id}
    assert _rows(activity="patrol.lightning_rod", asset=s.rod_b).count() == 8


def test_generation_is_idempotent(world):
    s = build(world)
    first = _year(s)
    assert first == PlanOccurrence.objects.count() == 2 * (365 + 4 + 8)
    assert _year(s) == 0
    # an overlapping window only adds what is new: per county two days of stairs, the
    # first quarter of 2026 for the building and for the rod
    assert generate_occurrences(start=at(2025, 12, 1), end=at(2026, 1, 3)) == 2 * (2 + 1 + 1)
    assert PlanOccurrence.objects.count() == first + 8


def test_one_org_only(world):
    s = build(world)
    n = generate_occurrences(org=world.county_a, start=at(2025, 3, 1), end=at(2025, 3, 2))
    assert n == 1 + 1 + 1  # the stairs' day, the building's quarter, the rod's quarter
    assert set(PlanOccurrence.objects.values_list("org_id", flat=True)) == {world.county_a.pk}
    assert s.stairs_b  # county B untouched


def test_inactive_targets_are_skipped(world):
    s = build(world)
    s.rod_a.is_active = False
    s.rod_a.save()
    s.stairs_b.is_active = False
    s.stairs_b.save()
    generate_occurrences(start=at(2025, 3, 1), end=at(2025, 3, 2))
    assert not PlanOccurrence.objects.filter(asset=s.rod_a).exists()
    assert not PlanOccurrence.objects.filter(location=s.stairs_b).exists()


def test_most_specific_assignment_is_picked(world):
    s = build(world)
    inspector = s.user("a_inspector")
    specific = PlanAssignment.objects.create(
        org=world.county_a, activity="clean.stairs", location=s.stairs_a, inspector=inspector
    )
    PlanAssignment.objects.create(
        org=world.county_a,
        activity="clean.stairs",
        location=s.building_b,  # another county's building: never matches county A
        inspector=inspector,
    )
    generate_occurrences(start=at(2025, 3, 1), end=at(2025, 3, 2))
    stairs = PlanOccurrence.objects.get(location=s.stairs_a)
    assert stairs.assignment == specific and stairs.inspector == inspector
    assert stairs.team is None and stairs.vendor is None
    building = PlanOccurrence.objects.get(activity="patrol.structure", location=s.building_a)
    assert building.assignment == s.patrol_plan
    assert building.inspector == inspector and building.vendor == world.vendor
    # county B has no assignment
    other = PlanOccurrence.objects.get(location=s.stairs_b)
    assert other.assignment is None and other.team is None and other.inspector is None


def test_whole_org_assignment_gives_team_and_vendor(world):
    s = build(world)
    generate_occurrences(start=at(2025, 3, 1), end=at(2025, 3, 2))
    stairs = PlanOccurrence.objects.get(location=s.stairs_a)
    assert stairs.assignment == s.stairs_plan
    assert stairs.team == s.team and stairs.vendor == world.vendor
    # an inactive assignment is not used
    s.stairs_plan.is_active = False
    s.stairs_plan.save()
    PlanOccurrence.objects.all().delete()
    generate_occurrences(start=at(2025, 3, 1), end=at(2025, 3, 2))
    assert PlanOccurrence.objects.get(location=s.stairs_a).assignment is None


def test_the_daily_job_generates_fourteen_days_ahead(world):
    from ..tasks import generate_ahead

    s = build(world)
    n = generate_ahead(at(2025, 3, 10, 17, 30))
    stairs = _rows(location=s.stairs_a, activity="clean.stairs")
    assert stairs.count() == 14
    assert stairs.first().period_start == at(2025, 3, 10)
    assert n == 2 * (14 + 1 + 1)
    assert generate_ahead(at(2025, 3, 10, 18)) == 0
