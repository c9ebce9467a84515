"""Overrides: tighten anything, loosen only what is not binding, on top of the levels above."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied, RuleRefused, StaleVersion
from dayuan.standards import services
from dayuan.standards.effective import apply_override, effective_rules, layer
from dayuan.standards.models import Adoption, Clause, Rule

from .factories_core import (
    KPI_P2,
    RECORD_C1,
    SLA_P1,
    arrive_minutes,
    build_standard,
    fresh_effective_cache,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_std(world):
    std, _ = build_standard(world.user("city_manager"), world.city)
    return std


def _rule(key):
    return lambda rules: next(r for r in rules if r.key == key)


def test_it_refuses_loosening_a_binding_clause_citing_it(world, city_std):
    with pytest.raises(RuleRefused) as exc:
        services.adopt(
            actor=world.user("a_manager"),
            org_id=world.county_a.pk,
            standard_id=city_std.pk,
            overrides={"p1_arrive": {"timers.arrive.minutes": 45}},
        )
    err = exc.value
    assert err.code == "override_loosens_binding" and err.status == 422
    assert str(err.message) == (
        "条款 P1（急修到场时限）为约束性条款，只能从严：标准要求 ≤ 30 分钟，申请值 45 分钟"
    )
    assert err.details["clause"] == "P1" and err.details["standard"] == city_std.code
    assert err.details["rule"] == "p1_arrive" and err.details["path"] == "timers.arrive.minutes"
    assert err.details["inherited"] == 30 and err.details["requested"] == 45
    assert not Adoption.objects.filter(org=world.county_a).exists()


def test_it_accepts_tightening_equal_and_loosening_non_binding(world, city_std):
    adoption = services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=city_std.pk,
        overrides={
            "p1_arrive": {"timers.arrive.minutes": 20, "escalation.0.at_percent": 80},
            "p2_pass_rate": {"threshold": 90},  # looser, but P2 is not binding
        },
    )
    rules = effective_rules(world.county_a)
    assert arrive_minutes(rules) == 20
    p2 = _rule("p2_pass_rate")(rules)
    assert p2.params.threshold == 90 and p2.overridden == {"threshold": 90}
    assert adoption.overrides["p1_arrive"]["timers.arrive.minutes"] == 20


def test_it_names_unknown_rules_and_tunables(world, city_std):
    kw = {"actor": world.user("a_manager"), "org_id": world.county_a.pk, "standard_id": city_std.pk}
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"p1_arrive": {"category": "x"}})
    assert exc.value.code == "unknown_tunable"
    assert exc.value.details["rule"] == "p1_arrive" and exc.value.details["path"] == "category"
    assert "timers.arrive.minutes" in exc.value.details["tunables"]
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"nope": {"threshold": 1}})
    assert exc.value.code == "unknown_rule"
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"p1_arrive": {"timers.arrive.minutes": "abc"}})
    assert exc.value.code == "invalid_override"
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"p1_arrive": {"timers.arrive.minutes": 0}})
    assert exc.value.code == "invalid_override" and exc.value.details["errors"]
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"p1_arrive": 5})
    assert exc.value.code == "invalid_overrides"
    with pytest.raises(InvalidInput) as exc:
        services.adopt(**kw, overrides={"p3_structure": {"frequency.period_days": 30}})
    assert exc.value.code == "invalid_override"


def test_it_compares_schedule_frequencies_by_period(world, city_std):
    kw = {"actor": world.user("a_manager"), "org_id": world.county_a.pk, "standard_id": city_std.pk}
    with pytest.raises(RuleRefused) as exc:
        services.adopt(
            **kw, overrides={"p3_structure": {"frequency.period_days": {"unit": "year"}}}
        )
    assert "≤ 91 天" in str(exc.value.message) and "365 天" in str(exc.value.message)
    services.adopt(
        **kw,
        overrides={"p3_structure": {"frequency.period_days": {"every": 2, "unit": "month"}}},
    )
    rule = _rule("p3_structure")(effective_rules(world.county_a))
    assert rule.params.frequency.unit == "month" and rule.params.frequency.every == 2
    assert rule.params.frequency.period_days() == 60
    assert effective_rules(world.county_b) == []  # county B adopted nothing


def test_it_applies_county_overrides_on_top_of_the_city_adoption(world, city_std):
    city = services.adopt(
        actor=world.user("city_manager"),
        org_id=world.city.pk,
        standard_id=city_std.pk,
        overrides={"p1_arrive": {"timers.arrive.minutes": 20}},
    )
    a_kw = {"actor": world.user("a_manager"), "org_id": world.county_a.pk}
    with pytest.raises(RuleRefused) as exc:
        services.adopt(
            **a_kw, standard_id=city_std.pk, overrides={"p1_arrive": {"timers.arrive.minutes": 25}}
        )
    assert "上级要求 ≤ 20 分钟，申请值 25 分钟" in str(exc.value.message)
    assert exc.value.details["inherited"] == 20
    county = services.adopt(
        **a_kw, standard_id=city_std.pk, overrides={"p1_arrive": {"timers.arrive.minutes": 15}}
    )
    assert arrive_minutes(effective_rules(world.county_a)) == 15
    assert arrive_minutes(effective_rules(world.vendor)) == 15
    assert arrive_minutes(effective_rules(world.county_b)) == 20
    assert arrive_minutes(effective_rules(world.city)) == 20
    p1 = _rule("p1_arrive")(effective_rules(world.county_a))
    assert p1.adopted_by_org_id == world.county_a.pk
    assert p1.raw_params == SLA_P1

    # The city tightens further: the county's 15 can no longer loosen it.
    services.set_overrides(
        actor=world.user("city_manager"),
        adoption_id=city.pk,
        version=city.version,
        overrides={"p1_arrive": {"timers.arrive.minutes": 10}},
    )
    assert arrive_minutes(effective_rules(world.county_a)) == 10
    # And the county may now only go to 10 or below.
    with pytest.raises(RuleRefused):
        services.set_overrides(
            actor=world.user("a_manager"),
            adoption_id=county.pk,
            version=county.version,
            overrides={"p1_arrive": {"timers.arrive.minutes": 12}},
        )


def test_it_refuses_overrides_across_counties_and_stale_versions(world, city_std):
    adoption = services.adopt(
        actor=world.user("a_manager"), org_id=world.county_a.pk, standard_id=city_std.pk
    )
    with pytest.raises(NotFound):
        services.set_overrides(
            actor=world.user("b_manager"), adoption_id=adoption.pk, version=1, overrides={}
        )
    with pytest.raises(NotFound):
        services.adopt(
            actor=world.user("b_manager"), org_id=world.county_a.pk, standard_id=city_std.pk
        )
    with pytest.raises(PermissionDenied):
        services.set_overrides(
            actor=world.user("a_staff"), adoption_id=adoption.pk, version=1, overrides={}
        )
    services.set_overrides(
        actor=world.user("a_manager"),
        adoption_id=adoption.pk,
        version=1,
        overrides={"p1_arrive": {"timers.arrive.minutes": 25}},
    )
    with pytest.raises(StaleVersion):
        services.set_overrides(
            actor=world.user("a_manager"), adoption_id=adoption.pk, version=1, overrides={}
        )


def test_it_refuses_a_standard_not_in_the_orgs_library(world):
    b_std, _ = build_standard(world.user("b_manager"), world.county_b, "b-only")
    with pytest.raises(InvalidInput) as exc:
        # The city manager sees county B's standard, but county A's library does not.
        services.adopt(
            actor=world.user("city_manager"), org_id=world.county_a.pk, standard_id=b_std.pk
        )
    assert exc.value.code == "standard_not_available"
    with pytest.raises(NotFound):
        services.adopt(
            actor=world.user("a_manager"), org_id=world.county_a.pk, standard_id=b_std.pk
        )


# --- property tests ------------------------------------------------------------------------


def _fake_rule(kind, params, binding):
    clause = Clause(number="X1", text="测试条款", severity="key", binding=binding)
    return Rule(key="r", kind=kind, params=params), clause


def _kpi(comparison, threshold):
    params = copy.deepcopy(KPI_P2)
    params.update(comparison=comparison, threshold=threshold)
    return params


def _record(stricter, value):
    params = copy.deepcopy(RECORD_C1)
    params["vars"]["min_weight_g"].update(stricter=stricter, value=value)
    return params


CASES = {
    # kind -> (make params from (direction, base), tunable path)
    "sla": (
        lambda d, base: {**SLA_P1, "timers": [{**SLA_P1["timers"][0], "minutes": base}]},
        "timers.arrive.minutes",
    ),
    "kpi": (lambda d, base: _kpi(">=" if d == "higher" else "<=", base), "threshold"),
    "record": (lambda d, base: _record(d, base), "vars.min_weight_g.value"),
}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(CASES)),
    direction=st.sampled_from(["higher", "lower"]),
    base=st.integers(1, 500),
    upper=st.none() | st.integers(1, 500),
    requested=st.integers(1, 500),
    binding=st.booleans(),
)
def test_it_accepts_iff_stricter_or_equal_or_non_binding(
    kind, direction, base, upper, requested, binding
):
    make, path = CASES[kind]
    if kind == "sla":
        direction = "lower"  # less time is stricter for an ordinary timer
    rule, clause = _fake_rule(kind, make(direction, base), binding)
    layers = [(1, {path: upper})] if upper is not None else []

    # What the level above leaves in force: its value, unless it loosened a binding clause.
    def looser(a, b):  # is b looser than a?
        return b > a if direction == "lower" else b < a

    inherited = base if upper is None or (binding and looser(base, upper)) else upper
    expect_ok = not binding or not looser(inherited, requested)
    try:
        services.check_rule_overrides(
            rule, clause, layers, {path: requested}, standard_code="S", version_number=1
        )
        ok = True
    except RuleRefused as exc:
        ok = False
        assert exc.details["inherited"] == inherited and exc.details["requested"] == requested
        assert exc.details["clause"] == "X1"
    assert ok == expect_ok
    if ok:  # and what is accepted is what applies
        final = layer(kind, rule.params, binding, [*layers, (2, {path: requested})])
        assert final.parsed.tunables()[path][0] == requested


@settings(max_examples=120, deadline=None)
@given(
    months=st.sampled_from(["meal", "day", "week", "half_month", "month", "quarter", "year"]),
    every=st.integers(1, 12),
    binding=st.booleans(),
)
def test_it_compares_any_frequency_by_its_period(months, every, binding):
    from dayuan.standards.rules import Frequency

    base = {
        "target": {"location_tag": "x", "activity": "patrol.x"},
        "frequency": {"every": 1, "unit": "quarter"},
    }
    rule, clause = _fake_rule("schedule", base, binding)
    requested = {"every": every, "unit": months}
    expect_ok = not binding or Frequency(**requested).period_days() <= 91
    try:
        services.check_rule_overrides(
            rule,
            clause,
            [],
            {"frequency.period_days": requested},
            standard_code="S",
            version_number=1,
        )
        ok = True
    except RuleRefused:
        ok = False
    assert ok == expect_ok
    if ok:
        assert apply_override(base, "frequency.period_days", requested)["frequency"] == requested


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(minutes=st.integers(1, 120))
def test_it_holds_through_the_service_and_the_database(world, minutes):
    manager = world.user("a_manager")
    std = build_standard_once(world)
    adoption = Adoption.objects.filter(org=world.county_a, standard=std).first()
    if adoption is None:
        adoption = services.adopt(actor=manager, org_id=world.county_a.pk, standard_id=std.pk)
    try:
        services.set_overrides(
            actor=manager,
            adoption_id=adoption.pk,
            version=adoption.version,
            overrides={"p1_arrive": {"timers.arrive.minutes": minutes}},
        )
        ok = True
    except RuleRefused:
        ok = False
    assert ok == (minutes <= 30)
    expected = (
        minutes
        if ok
        else Adoption.objects.get(pk=adoption.pk)
        .overrides.get("p1_arrive", {})
        .get("timers.arrive.minutes", 30)
    )
    assert arrive_minutes(effective_rules(world.county_a)) == expected


def build_standard_once(world):
    from dayuan.standards.models import Standard

    std = Standard.objects.filter(code="prop-std").first()
    if std is None:
        std, _ = build_standard(world.user("city_manager"), world.city, "prop-std")
    return std
