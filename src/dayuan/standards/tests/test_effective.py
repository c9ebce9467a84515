"""Effective rules per org: nearest adoption, version in force (pins, pilots, time), cache."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dayuan.standards import effective, services
from dayuan.standards.effective import ancestor_paths, effective_rules
from dayuan.standards.models import Rule, StandardVersion

from .factories_core import (
    arrive_minutes,
    build_standard,
    fresh_effective_cache,  # noqa: F401 (autouse fixture)
    revise,
    sla,
)

pytestmark = pytest.mark.django_db


def test_it_lists_ancestor_paths():
    assert ancestor_paths("0001.0002.0003.") == ["0001.", "0001.0002.", "0001.0002.0003."]
    assert ancestor_paths("0001.") == ["0001."]


def test_it_resolves_county_city_and_sibling(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=std.pk,
        overrides={"p1_arrive": {"timers.arrive.minutes": 15}},
    )
    city, a, b = (effective_rules(o) for o in (world.city, world.county_a, world.county_b))
    assert [r.key for r in city] == ["p1_arrive", "p2_pass_rate", "p3_structure"]
    assert arrive_minutes(city) == 30 and arrive_minutes(b) == 30 and arrive_minutes(a) == 15
    p1a = next(r for r in a if r.key == "p1_arrive")
    assert p1a.overridden == {"timers.arrive.minutes": 15}
    assert p1a.adopted_by_org_id == world.county_a.pk
    assert p1a.version_id == v1.pk and p1a.version_number == 1
    assert p1a.cite() == {
        "standard": std.code,
        "version": 1,
        "clause": "P1",
        "text": "急修到场时限",
        "severity": "key",
    }
    assert next(r for r in b if r.key == "p1_arrive").adopted_by_org_id == world.city.pk
    # Filters by kind and target.
    assert [r.key for r in effective_rules(world.county_a, kind="kpi")] == ["p2_pass_rate"]
    only = effective_rules(world.county_a, target="workorder:repair.urgent")
    assert [r.key for r in only] == ["p1_arrive"]
    assert effective_rules(world.county_a, target="schedule:patrol.structure")[0].kind == "schedule"
    # By org id as well.
    assert arrive_minutes(effective_rules(world.county_a.pk)) == 15


def test_it_applies_nothing_where_nothing_is_adopted(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    services.adopt(actor=world.user("a_manager"), org_id=world.county_a.pk, standard_id=std.pk)
    assert effective_rules(world.city) == []
    assert effective_rules(world.county_b) == []
    assert effective_rules(world.vendor)  # under county A


def test_it_follows_the_latest_version_unless_pinned(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=std.pk,
        version_id=v1.pk,
    )
    revise(manager, std, "p1_arrive", sla(20))
    assert arrive_minutes(effective_rules(world.county_b)) == 20
    assert arrive_minutes(effective_rules(world.city)) == 20
    pinned = effective_rules(world.county_a)
    assert arrive_minutes(pinned) == 30 and pinned[0].version_number == 1


def test_it_resolves_the_version_in_force_at_an_instant(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    v2 = revise(manager, std, "p1_arrive", sla(20))
    now = timezone.now()
    StandardVersion.objects.filter(pk=v1.pk).update(
        published_at=now - timedelta(days=10), released_at=now - timedelta(days=10)
    )
    StandardVersion.objects.filter(pk=v2.pk).update(
        published_at=now - timedelta(days=2), released_at=now - timedelta(days=2)
    )
    effective.invalidate()
    assert arrive_minutes(effective_rules(world.county_a, at=now - timedelta(days=5))) == 30
    assert arrive_minutes(effective_rules(world.county_a, at=now - timedelta(days=1))) == 20
    assert effective_rules(world.county_a, at=now - timedelta(days=20)) == []
    assert arrive_minutes(effective_rules(world.county_a)) == 20


def test_it_caches_between_version_instants_not_per_minute(world, django_assert_max_num_queries):
    """Instants with the same versions in force share one entry, whatever the minute;
    the next publication or release instant starts a new one."""
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    v2 = revise(manager, std, "p1_arrive", sla(20))
    now = timezone.now()
    StandardVersion.objects.filter(pk=v1.pk).update(
        published_at=now - timedelta(days=10), released_at=now - timedelta(days=10)
    )
    StandardVersion.objects.filter(pk=v2.pk).update(
        published_at=now - timedelta(days=10), released_at=now + timedelta(days=2)
    )
    effective.invalidate()
    assert arrive_minutes(effective_rules(world.county_a, at=now)) == 30
    with django_assert_max_num_queries(0):
        for minutes in (1, 7, 61, 24 * 60):
            later = now + timedelta(minutes=minutes, seconds=13)
            assert arrive_minutes(effective_rules(world.county_a, at=later)) == 30
    assert arrive_minutes(effective_rules(world.county_a, at=now + timedelta(days=3))) == 20
    with django_assert_max_num_queries(0):
        assert arrive_minutes(effective_rules(world.county_a, at=now + timedelta(days=9))) == 20


def test_it_keeps_a_pilot_in_its_subtree_until_released(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    v2 = revise(manager, std, "p1_arrive", sla(20), pilot_org_ids=[world.county_b.pk])
    assert arrive_minutes(effective_rules(world.county_b)) == 20
    assert arrive_minutes(effective_rules(world.county_a)) == 30
    assert arrive_minutes(effective_rules(world.vendor)) == 30
    services.release_generally(actor=manager, version_id=v2.pk)
    assert arrive_minutes(effective_rules(world.vendor)) == 20


def test_it_drops_withdrawn_adoptions_and_retired_standards(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    city = services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    county = services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=std.pk,
        overrides={"p1_arrive": {"timers.arrive.minutes": 10}},
    )
    assert arrive_minutes(effective_rules(world.county_a)) == 10
    services.withdraw_adoption(
        actor=world.user("a_manager"), adoption_id=county.pk, version=county.version
    )
    assert arrive_minutes(effective_rules(world.county_a)) == 30  # the city's still applies
    services.withdraw_adoption(actor=manager, adoption_id=city.pk, version=city.version)
    assert effective_rules(world.county_a) == []
    # Adopting again after withdrawal reactivates the same row.
    again = services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    assert again.pk == city.pk and again.is_active
    services.retire(actor=manager, standard_id=std.pk)
    assert effective_rules(world.city) == []


def test_it_uses_a_constant_number_of_queries(world, django_assert_max_num_queries):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city, "one")
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    effective.invalidate()
    with django_assert_max_num_queries(3):
        small = effective_rules(world.vendor)
    assert len(small) == 3
    for i in range(8):
        more, _ = build_standard(manager, world.city, f"more-{i}")
        services.adopt(actor=manager, org_id=world.city.pk, standard_id=more.pk)
        services.adopt(
            actor=world.user("a_manager"),
            org_id=world.county_a.pk,
            standard_id=more.pk,
            overrides={"p1_arrive": {"timers.arrive.minutes": 10 + i}},
        )
        revise(manager, more, "p1_arrive", sla(29), pilot_org_ids=[world.county_a.pk])
    effective.invalidate()
    with django_assert_max_num_queries(3):
        big = effective_rules(world.vendor)
    assert len(big) == 27
    with django_assert_max_num_queries(0):  # cached
        assert effective_rules(world.vendor) == big


def test_it_invalidates_the_cache_on_publish_and_on_adoption_changes(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    adoption = services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    assert arrive_minutes(effective_rules(world.county_a)) == 30
    revise(manager, std, "p1_arrive", sla(25))
    assert arrive_minutes(effective_rules(world.county_a)) == 25
    services.set_overrides(
        actor=manager,
        adoption_id=adoption.pk,
        version=adoption.version,
        overrides={"p1_arrive": {"timers.arrive.minutes": 22}},
    )
    assert arrive_minutes(effective_rules(world.county_a)) == 22


def test_it_sees_another_process_invalidating(world, monkeypatch):
    """The local dict is tagged with the shared generation: a bump elsewhere empties it."""
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    monkeypatch.setattr(effective, "GENERATION_CHECK_SECONDS", 0)
    assert arrive_minutes(effective_rules(world.county_a)) == 30
    # A change behind the services' back stays invisible while the cache holds...
    Rule.objects.filter(version=v1, key="p1_arrive").update(params=sla(12))
    assert arrive_minutes(effective_rules(world.county_a)) == 30
    # ...until another process bumps the shared generation.
    cache.incr(effective.GENERATION_KEY)
    assert arrive_minutes(effective_rules(world.county_a)) == 12


def test_it_skips_overrides_that_no_longer_fit_a_new_version(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=std.pk,
        overrides={"p1_arrive": {"timers.arrive.minutes": 25}},
    )
    # v2 makes the binding limit 20: the county's 25 would loosen it, so 20 applies.
    revise(manager, std, "p1_arrive", sla(20))
    rule = next(r for r in effective_rules(world.county_a) if r.key == "p1_arrive")
    assert rule.params.timers[0].minutes == 20 and rule.overridden == {}


def test_it_sees_a_version_published_seconds_before_the_instant(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    revise(manager, std, "p1_arrive", sla(20))
    assert arrive_minutes(effective_rules(world.county_a, at=timezone.now())) == 20
