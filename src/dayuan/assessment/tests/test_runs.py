"""Assessment runs: indicators from the data, weights, deductions, payment, freezing,
the state machine, appeals, assessor scope and org scope — checked by hand.

The fixture (county A's vendor, June 2026):

- inspections naming the vendor: 100 (passes), one general failure (passes), a key and
  an important failure (fails) → pass rate 2/3 = 66.67 %; one more in July, one
  without the vendor (neither counts);
- their three findings' rectification orders: two closed on time, one late in June →
  on-time rate 66.67 %;
- two missed stairs-cleaning occurrences of the vendor's plan → 2;
- deductions: the key finding (5 points, 2000 yuan), the important one (2, 500), a
  criticism event (3, 1000); a cancelled key finding, a cancelled media event, a July
  criticism, a criticism under another contract and a notice (no rule) do not count;
- scores: the third party 20 of 25 on "site"; two managers 12 and 14 of 15 on "manager".

Points: 30 × (66.67 − 60)/40 = 5.0025; 20 × (66.67 − 50)/50 = 6.668; 10 × (10 − 2)/10
= 8; 25 × 20/25 = 20; 15 × 13/15 = 13 → 52.6705; − 10 → 42.67, fails (below 60).
Payable: failed → 100000 × 0.8 − 3500 = 76500.00.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import date
from decimal import Decimal

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.inspections import services as insp_services
from dayuan.inspections.models import Finding, PlanOccurrence, Rectification
from dayuan.inspections.plans import generate_occurrences
from dayuan.inspections.tests import factories as insp_factories
from dayuan.notifications.models import Notification
from dayuan.standards import effective
from dayuan.standards import services as std_services
from dayuan.standards.models import Clause, StandardVersion
from dayuan.standards.tests.factories_core import build_standard

from .. import queries, runs
from ..models import (
    Appeal,
    Contract,
    DeductionEvent,
    ItemScore,
    Run,
    RunEvent,
    RunItem,
    Scheme,
    SchemeIndicator,
)
from .factories import FORMULA, GRADES, at, build

pytestmark = pytest.mark.django_db

JUNE = date(2026, 6, 1)
NOW = at(2026, 7, 3, 9)  # computing June's runs early in July


# --- fixture -----------------------------------------------------------------------------


def _inspect(s, answers, *, vendor=True, when=None, user="a_inspector", location=None):
    when = when or at(2026, 6, 2, 9)
    started = insp_services.start_inspection(
        actor=s.user(user),
        kind="patrol",
        checklist_code="patrol.daily",
        location_id=(location or s.building_a).pk,
        vendor_id=s.world.vendor.pk if vendor else None,
        client_key=uuid.uuid4().hex,
        now=when,
    )
    return insp_services.submit_inspection(
        actor=s.user(user), inspection_id=started.pk, answers=answers, now=when
    )


def _event(world, event_type, when, *, contract=None, cancelled=False, subject=None):
    return DeductionEvent.objects.create(
        org=world.county_a,
        subject_org=subject or world.vendor,
        contract=contract,
        event_type=event_type,
        occurred_at=when,
        description="通报批评：保洁不到位",
        created_by=world.user("a_manager"),
        cancelled=cancelled,
    )


@pytest.fixture
def data(world):
    insp = insp_factories.build(world)
    setup = build(world)
    ALL_PASS = insp_factories.ALL_PASS
    _inspect(insp, ALL_PASS)
    _inspect(insp, {**ALL_PASS, "floor_clean": "fail"})
    _inspect(insp, {**ALL_PASS, "fire_exit": "fail", "server_temp": {"value": 30}})
    _inspect(insp, {**ALL_PASS, "fire_exit": "fail"}, vendor=False)
    _inspect(insp, {**ALL_PASS, "stairs_clear": "fail"}, when=at(2026, 7, 2, 9))
    orders = {
        f.severity: f.rectification
        for f in Finding.objects.filter(vendor=world.vendor, raised_at__lt=at(2026, 7, 1))
    }
    assert set(orders) == {"general", "key", "important"}
    for severity, day, on_time in (
        ("general", 10, True),
        ("key", 20, True),
        ("important", 25, False),
    ):
        Rectification.objects.filter(pk=orders[severity].pk).update(
            status="accepted", closed_at=at(2026, 6, day), closed_on_time=on_time
        )
    generate_occurrences(start=at(2026, 6, 10), end=at(2026, 6, 13))
    PlanOccurrence.objects.filter(location=insp.stairs_a, period_start__lt=at(2026, 6, 12)).update(
        status="missed"
    )
    Finding.objects.create(  # a key finding withdrawn: no deduction
        org=world.county_a,
        number="WT-CANCELLED",
        source="other",
        status="cancelled",
        clause=Clause.objects.get(number="X5", version__standard=insp.standard),
        severity="key",
        vendor=world.vendor,
        description="误报",
        raised_at=at(2026, 6, 8),
    )
    other = Contract.objects.create(
        org=world.county_a,
        vendor=world.vendor,
        number="HT-2026-OTHER",
        title="甲县食堂服务合同",
        status="active",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        monthly_fee=Decimal("50000"),
        scheme=setup.scheme,
        payment_formula=FORMULA,
    )
    _event(world, "criticism", at(2026, 6, 15), contract=setup.contract)
    _event(world, "media", at(2026, 6, 20), cancelled=True)
    _event(world, "criticism", at(2026, 7, 2))
    _event(world, "criticism", at(2026, 6, 16), contract=other)
    _event(world, "notice", at(2026, 6, 16))
    setup.insp = insp
    return setup


def _run(s, kind="month", start=JUNE, actor="a_manager"):
    return runs.create_run(
        actor=s.user(actor),
        scheme_id=s.scheme.pk,
        period_kind=kind,
        period_start=start,
        contract_id=s.contract.pk,
        now=NOW,
    )


def _assign_and_score(s, run, site=20, managers=(12, 14)):
    runs.assign_assessor(
        actor=s.user("a_manager"),
        run_id=run.pk,
        user_id=s.user("assessor").pk,
        role="assessor",
        now=NOW,
    )
    runs.score_item(
        actor=s.user("assessor"), run_id=run.pk, item_key="site", score=site, evidence="现场照片"
    )
    for name, value in zip(("a_manager", "city_manager"), managers, strict=False):
        runs.assign_assessor(
            actor=s.user("a_manager"), run_id=run.pk, user_id=s.user(name).pk, role="manager",
            now=NOW,
        )  # fmt: skip
        runs.score_item(actor=s.user(name), run_id=run.pk, item_key="manager", score=value)


@pytest.fixture
def computed(data):
    run = _run(data)
    _assign_and_score(data, run)
    return runs.compute(actor=data.user("a_manager"), run_id=run.pk, now=NOW)


def _published(s, run):
    mgr = s.user("a_manager")
    runs.submit_for_review(actor=mgr, run_id=run.pk, now=NOW)
    return runs.publish(actor=mgr, run_id=run.pk, now=at(2026, 7, 5, 10))


# --- the whole computation ---------------------------------------------------------------


def test_each_indicator_and_the_score_by_hand(world, computed):
    run = Run.objects.get(pk=computed.pk)
    items = {i.key: i for i in RunItem.objects.filter(run=run)}
    assert items["insp_pass"].value == 66.67
    assert items["insp_pass"].points == Decimal("5.00")  # 5.0025
    assert items["rect_on_time"].value == 66.67
    assert items["rect_on_time"].points == Decimal("6.67")  # 6.668
    assert items["missed"].value == 2.0
    assert items["missed"].points == Decimal("8.00")
    assert items["site"].value == 20.0
    assert items["site"].points == Decimal("20.00")
    assert items["manager"].value == 13.0  # the mean of 12 and 14
    assert items["manager"].points == Decimal("13.00")
    assert [s["score"] for s in items["manager"].detail["scores"]] == ["12.00", "14.00"]
    assert run.status == "computed"
    assert run.deduction_points == Decimal("10.00")
    assert run.deduction_money == Decimal("3500.00")
    assert run.score == Decimal("42.67")
    assert (run.grade, run.passed) == ("fail", False)
    assert run.fee == Decimal("100000.00")
    assert run.payable == Decimal("76500.00")
    assert run.payable_working[-1]["value"] == "76500.00"
    matched = sorted((d["kind"], d["match"]) for d in run.inputs["deductions"])
    assert matched == [("event", "criticism"), ("finding", "important"), ("finding", "key")]
    assert {d["ref"] for d in queries.deductions_of(run) if d["kind"] == "finding"} == {
        f.number
        for f in Finding.objects.filter(
            vendor=world.vendor, severity__in=("key", "important"), status="open"
        )
    }
    assert RunEvent.objects.filter(run=run, action="computed").count() == 1
    assert AuditEntry.objects.filter(
        action="assessment.run.compute", object_id=str(run.pk)
    ).exists()


def test_a_kpi_indicator_is_the_share_of_the_attached_standards_kpi_rules_passed(world, data):
    admin = world.user("admin")

    def kpi_standard(code, rules):
        clauses = [
            (f"K{i}", f"指标{i}", "general", False, [(f"{code}_k{i}", "kpi", params)])
            for i, params in enumerate(rules, start=1)
        ]
        std, version = build_standard(admin, world.city, code, clauses=clauses)
        StandardVersion.objects.filter(pk=version.pk).update(
            published_at=at(2020, 1, 1), released_at=at(2020, 1, 1)
        )
        std_services.adopt(actor=admin, org_id=world.city.pk, standard_id=std.pk)
        return std

    def kpi(indicator, comparison, threshold):
        return {"indicator": indicator, "comparison": comparison, "threshold": threshold}

    attached = kpi_standard(
        "kpi-a",
        [
            kpi("inspection_pass_rate", ">=", 60),  # 66.67: passes
            kpi("rectification_on_time_rate", ">=", 90),  # 66.67: fails
            kpi("missed_occurrences", "<=", 5),  # 2: passes
            kpi("repair_pass_rate", ">=", 95),  # no work orders: not judged
        ],
    )
    kpi_standard("kpi-b", [kpi("inspection_pass_rate", ">=", 99)])  # not attached
    effective.invalidate()
    scheme = Scheme.objects.create(
        org=world.county_a, code="kpi-only", name="标准指标考核", pass_line=60, grades=GRADES
    )
    SchemeIndicator.objects.create(
        scheme=scheme, key="kpi", label="标准考核指标", sort="computed", source="kpi",
        weight=100, target=100, floor=0,
    )  # fmt: skip
    contract = Contract.objects.create(
        org=world.county_a, vendor=world.vendor, number="HT-KPI", title="标准考核合同",
        status="active", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
        monthly_fee=Decimal("1000"), scheme=scheme, payment_formula="fee * score / 100.0",
    )  # fmt: skip
    contract.standards.add(attached, data.insp.standard)
    mgr = world.user("a_manager")
    run = runs.create_run(
        actor=mgr, scheme_id=scheme.pk, period_kind="month", period_start=JUNE,
        contract_id=contract.pk, now=NOW,
    )  # fmt: skip
    run = runs.compute(actor=mgr, run_id=run.pk, now=NOW)
    item = RunItem.objects.get(run=run, key="kpi")
    assert item.value == 66.67
    assert (item.detail["numerator"], item.detail["denominator"]) == (2, 3)
    outcomes = {r["indicator"]: r["outcome"] for r in item.detail["rules"]}
    assert outcomes == {
        "inspection_pass_rate": "pass",
        "rectification_on_time_rate": "fail",
        "missed_occurrences": "pass",
        "repair_pass_rate": "na",
    }
    assert run.score == Decimal("66.67")
    assert run.payable == Decimal("666.70")


def test_an_org_run_measures_the_subtree_and_rescales_without_data(world, data):
    # county B in June: one inspection, passed; no rectification order → no closure rate
    _inspect(
        data.insp, insp_factories.ALL_PASS, vendor=False, user="b_inspector",
        location=data.insp.building_b,
    )  # fmt: skip
    city = world.user("city_manager")
    run = runs.create_run(
        actor=city, scheme_id=data.county_scheme.pk, period_kind="month", period_start=JUNE,
        subject_org_id=world.county_b.pk, now=NOW,
    )  # fmt: skip
    assert run.org == world.city and run.contract is None
    run = runs.compute(actor=city, run_id=run.pk, now=NOW)
    items = {i.key: i for i in run.items.all()}
    assert items["insp_pass"].value == 100.0 and items["insp_pass"].points == Decimal("50.00")
    assert items["closure"].value is None and items["closure"].points is None
    assert items["closure"].detail["no_data"] is True
    assert items["insp_pass"].detail["rescale"] == {"factor": "2", "weight_with_data": "50.00"}
    assert run.score == Decimal("100.00")
    assert (run.grade, run.grade_label, run.passed) == ("excellent", "优秀", True)
    assert run.fee == Decimal("0.00") and run.payable is None
    # county A's manager neither sees nor creates the city's runs of county B
    with pytest.raises(NotFound):
        runs.compute(actor=world.user("a_manager"), run_id=run.pk, now=NOW)
    with pytest.raises(PermissionDenied):
        runs.create_run(
            actor=world.user("b_manager"), scheme_id=data.county_scheme.pk, period_kind="month",
            period_start=date(2026, 7, 1), subject_org_id=world.county_b.pk, now=NOW,
        )  # fmt: skip


def test_create_runs_for_an_org_and_period(world, data):
    city = world.user("city_manager")
    made = runs.create_runs(
        actor=city, org_id=world.city.pk, period_kind="month", period_start=JUNE
    )
    subjects = sorted((r.scheme.code, r.subject_org.code) for r in made)
    assert subjects == [
        ("county-kh", "county-a"),
        ("county-kh", "county-b"),
        ("wy-kh", "vendor-a"),  # one run for the vendor: both contracts share the scheme
    ]
    assert all(r.items.count() == r.scheme.indicators.count() for r in made)
    again = runs.create_runs(
        actor=city, org_id=world.city.pk, period_kind="month", period_start=JUNE
    )
    assert again == []
    with pytest.raises(NotFound):
        runs.create_runs(
            actor=world.user("b_manager"), org_id=world.county_a.pk, period_kind="month",
            period_start=JUNE,
        )  # fmt: skip


# --- evaluate: pure, on hand-made inputs ---------------------------------------------------


def _inputs(**over):
    """Inputs as ``collect`` freezes them: two computed indicators, one scored."""
    inputs = {
        "format": 1,
        "scheme": {
            "pass_line": "60",
            "max_deduction": "15",
            "grades": [
                {"grade": "excellent", "label": "优秀", "min_score": "90"},
                {"grade": "good", "label": "良好", "min_score": "80"},
                {"grade": "pass", "label": "合格", "min_score": "60"},
            ],
            "fail_label": "不合格",
            "indicators": [
                {"key": "rate", "sort": "computed", "weight": "40", "target": "100.0",
                 "floor": "50.0", "better": "higher"},
                {"key": "count", "sort": "computed", "weight": "20", "target": "0.0",
                 "floor": "10.0", "better": "lower"},
                {"key": "people", "sort": "scored", "weight": "40", "max_score": "10"},
            ],
            "deduction_rules": [],
        },
        "values": {"rate": {"value": "100.0"}, "count": {"value": "0.0"}},
        "scores": {"people": [{"id": 1, "scorer_id": 9, "score": "10.00"}]},
        "deductions": [],
        "fee": {"monthly_fee": "100000.00", "months": 1, "period_days": 30, "covered_days": 30},
        "formula": FORMULA,
    }  # fmt: skip
    for key, value in over.items():
        inputs[key] = value
    return inputs


def _ded(points, money="0"):
    return {"kind": "event", "match": "criticism", "points": points, "money": money}


def test_weights_and_clamping():
    ev = runs.evaluate(_inputs())
    assert ev.score == Decimal("100.00")
    ev = runs.evaluate(
        _inputs(
            values={"rate": {"value": "75.0"}, "count": {"value": "3.0"}},
            scores={"people": [{"id": 1, "scorer_id": 9, "score": "6.5"}]},
        )
    )
    # 40 × 25/50 = 20; 20 × 7/10 = 14; 40 × 6.5/10 = 26
    assert [i.points for i in ev.items] == [Decimal("20.00"), Decimal("14.00"), Decimal("26.00")]
    assert ev.score == Decimal("60.00")
    # beyond the target or below the floor: clamped
    ev = runs.evaluate(_inputs(values={"rate": {"value": "40.0"}, "count": {"value": "25.0"}}))
    assert [i.points for i in ev.items[:2]] == [Decimal("0.00"), Decimal("0.00")]
    assert ev.score == Decimal("40.00")


def test_rescaling_when_an_indicator_has_no_data():
    ev = runs.evaluate(_inputs(values={"rate": {"value": None}, "count": {"value": "5.0"}}))
    # count 10 of 20, people 40 of 40 → 50 of 60 → × 100/60 = 83.33
    assert ev.items[0].points is None and ev.items[0].detail["no_data"]
    assert ev.factor == Decimal(100) / Decimal(60)
    assert ev.score == Decimal("83.33")
    assert ev.items[1].detail["rescale"]["weight_with_data"] == "60"
    with pytest.raises(InvalidInput) as exc:
        runs.evaluate(
            _inputs(
                scheme={
                    **_inputs()["scheme"],
                    "indicators": _inputs()["scheme"]["indicators"][:1],
                },
                values={"rate": {"value": None}},
            )
        )
    assert exc.value.code == "no_data"


@pytest.mark.parametrize(
    "rate, count, grade, passed",
    [
        ("100.0", "0.0", "excellent", True),  # 100
        ("100.0", "5.0", "excellent", True),  # 90: a band's floor is in the band
        ("100.0", "5.5", "good", True),  # 89
        ("100.0", "10.0", "good", True),  # 80
        ("75.0", "9.0", "pass", True),  # 20 + 2 + 40 = 62
        ("75.0", "10.0", "pass", True),  # 60: the pass line is a pass
        ("70.0", "10.0", "fail", False),  # 16 + 0 + 40 = 56
    ],
)
def test_grade_bands_and_the_pass_line(rate, count, grade, passed):
    ev = runs.evaluate(_inputs(values={"rate": {"value": rate}, "count": {"value": count}}))
    assert (ev.grade, ev.passed) == (grade, passed)


def test_pass_line_and_the_fail_grade():
    def score(points):
        return runs.evaluate(_inputs(deductions=[_ded(points)]))

    scheme = {**_inputs()["scheme"], "max_deduction": None}
    at_line = runs.evaluate(_inputs(scheme=scheme, deductions=[_ded("40")]))
    assert (at_line.score, at_line.grade, at_line.passed) == (Decimal("60.00"), "pass", True)
    below = runs.evaluate(_inputs(scheme=scheme, deductions=[_ded("40.01")]))
    assert (below.score, below.grade, below.grade_label, below.passed) == (
        Decimal("59.99"),
        "fail",
        "不合格",
        False,
    )
    assert score("5").grade == "excellent"


def test_deductions_sum_points_and_money_and_cap_the_points():
    ev = runs.evaluate(_inputs(deductions=[_ded("5", "1000"), _ded("3", "500.50")]))
    assert (ev.deduction_points, ev.deduction_money, ev.score) == (
        Decimal("8.00"),
        Decimal("1500.50"),
        Decimal("92.00"),
    )
    capped = runs.evaluate(_inputs(deductions=[_ded("10", "5000")] * 3))
    assert capped.deduction_points_uncapped == Decimal("30.00")
    assert capped.deduction_points == Decimal("15.00")  # the scheme's cap
    assert capped.deduction_money == Decimal("15000.00")  # money is not capped
    assert capped.score == Decimal("85.00")
    scheme = {**_inputs()["scheme"], "max_deduction": None}
    floor = runs.evaluate(_inputs(scheme=scheme, deductions=[_ded("150")]))
    assert floor.score == Decimal("0.00")  # never below zero


def test_formula_payment_from_the_evaluation():
    ev = runs.evaluate(_inputs(deductions=[_ded("2", "3000")]))  # 98: full fee − money
    assert ev.payable == Decimal("97000.00")
    ev = runs.evaluate(_inputs(deductions=[_ded("15", "3000")]))  # 85: pro rata
    assert ev.payable == Decimal("82000.00")
    ev = runs.evaluate(_inputs(formula=""))
    assert ev.payable is None and ev.working == []


def test_fee_proration_by_the_days_the_contract_covers(world, data):
    Contract.objects.filter(pk=data.contract.pk).update(ends_on=date(2026, 8, 15))
    run = _run(data, kind="quarter", start=date(2026, 7, 1))
    terms = runs.collect(run, NOW)["fee"]
    assert terms == {
        "monthly_fee": "100000.00",
        "months": 3,
        "period_days": 92,
        "covered_days": 46,  # 1 July – 15 August
    }
    assert runs.evaluate(_inputs(fee=terms)).fee == Decimal("150000.00")
    half_month = {"monthly_fee": "100000.00", "months": 1, "period_days": 30, "covered_days": 7}
    assert runs.evaluate(_inputs(fee=half_month)).fee == Decimal("23333.33")


def test_a_scored_item_without_scores_blocks_the_compute(world, data):
    run = _run(data)
    with pytest.raises(InvalidInput) as exc:
        runs.compute(actor=data.user("a_manager"), run_id=run.pk, now=NOW)
    assert exc.value.code == "unscored_items"
    assert exc.value.details["keys"] == ["site", "manager"]
    assert Run.objects.get(pk=run.pk).status == "draft"


# --- freezing ------------------------------------------------------------------------------


def test_recompute_is_identical_even_after_the_data_changes(world, data, computed):
    stored = Run.objects.get(pk=computed.pk)
    canonical = runs.canonical(stored.inputs).encode()
    assert stored.inputs_hash == hashlib.sha256(canonical).hexdigest()
    first = runs.recompute(stored)
    assert (first.score, first.payable, first.deduction_points) == (
        stored.score,
        stored.payable,
        stored.deduction_points,
    )
    assert {i.key: i.points for i in first.items} == {
        i.key: i.points for i in RunItem.objects.filter(run=stored)
    }
    # the world moves on: another failing vendor inspection and a key finding in June,
    # a new score, a new event
    _inspect(data.insp, {**insp_factories.ALL_PASS, "fire_exit": "fail"}, when=at(2026, 6, 28))
    _event(world, "criticism", at(2026, 6, 29))
    ItemScore.objects.filter(item__run=stored, item__key="site").update(score=Decimal("1"))
    again = runs.recompute(Run.objects.get(pk=stored.pk))
    assert again == first
    assert runs.inputs_hash(Run.objects.get(pk=stored.pk).inputs) == stored.inputs_hash
    # a new compute collects the new data
    fresh = runs.evaluate(runs.collect(stored, NOW))
    assert fresh.score != first.score
    assert fresh.deduction_points == Decimal("18.00")  # + key 5 + criticism 3


def test_inputs_are_canonical_json_without_floats(computed):
    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert not isinstance(value, float), value

    walk(Run.objects.get(pk=computed.pk).inputs)


# --- the state machine -----------------------------------------------------------------------


def test_the_happy_path_and_its_events(world, data, computed):
    run = _published(data, computed)
    assert run.status == "published" and run.published_at == at(2026, 7, 5, 10)
    worker = world.user("vendor_worker")
    published = Notification.objects.filter(
        recipient=worker, event__type="assessment.run_published"
    )
    assert published.count() == 1
    assert not Notification.objects.filter(
        recipient__username__startswith="b_", event__type__startswith="assessment."
    ).exists()
    run = runs.finalise(actor=world.user("a_manager"), run_id=run.pk, now=at(2026, 7, 6))
    assert run.status == "final" and run.finalised_at == at(2026, 7, 6)
    assert Notification.objects.filter(
        recipient=worker, event__type="assessment.run_final"
    ).exists()
    actions = list(RunEvent.objects.filter(run=run).values_list("action", flat=True))
    assert actions[0] == "created"
    assert actions[-4:] == ["computed", "submitted", "published", "finalised"]
    assert actions.count("assigned") == 3
    assessor_notes = Notification.objects.filter(
        recipient=world.user("assessor"), event__type="assessment.scoring_assigned"
    )
    assert assessor_notes.count() == 1


def test_state_machine_refusals(world, data, computed):
    mgr = world.user("a_manager")

    def refused(fn, code, **kw):
        with pytest.raises((Conflict, InvalidInput)) as exc:
            fn(actor=mgr, run_id=computed.pk, now=NOW, **kw)
        assert exc.value.code == code

    refused(runs.publish, "invalid_state")  # computed, not yet reviewed
    refused(runs.finalise, "invalid_state")
    # a score changed after the compute: compute again first
    runs.score_item(actor=world.user("assessor"), run_id=computed.pk, item_key="site", score=21)
    refused(runs.submit_for_review, "scores_changed")
    runs.compute(actor=mgr, run_id=computed.pk, now=NOW)
    runs.submit_for_review(actor=mgr, run_id=computed.pk, now=NOW)
    refused(runs.submit_for_review, "invalid_state")
    runs.publish(actor=mgr, run_id=computed.pk, now=NOW)
    refused(runs.compute, "invalid_state")
    refused(runs.assign_assessor, "invalid_state", user_id=world.user("a_admin").pk, role="manager")
    with pytest.raises(Conflict) as exc:
        runs.score_item(actor=world.user("assessor"), run_id=computed.pk, item_key="site", score=1)
    assert exc.value.code == "scoring_closed"
    # stale version
    with pytest.raises(Conflict) as exc:
        runs.finalise(actor=mgr, run_id=computed.pk, version=1, now=NOW)
    assert exc.value.code == "stale_version"
    # a second run for the same subject and period; periods must start on their first day
    with pytest.raises(Conflict) as exc:
        _run(data)
    assert exc.value.code == "run_exists"
    for kind, start in (("month", date(2026, 6, 15)), ("quarter", date(2026, 2, 1)),
                        ("year", date(2026, 7, 1)), ("week", JUNE)):  # fmt: skip
        with pytest.raises(InvalidInput) as exc:
            _run(data, kind=kind, start=start)
        assert exc.value.code == "invalid_period"
    with pytest.raises(InvalidInput) as exc:
        _run(data, start=date(2027, 1, 1))
    assert exc.value.code == "outside_contract"
    # a refused transition is audited as refused
    assert AuditEntry.objects.filter(action="assessment.publish", outcome="refused").exists()


def test_scores_are_validated_and_replaced(world, data):
    run = _run(data)
    _assign_and_score(data, run)
    assessor = world.user("assessor")
    for bad in (-1, 25.01, "abc", None, True):
        with pytest.raises(InvalidInput) as exc:
            runs.score_item(actor=assessor, run_id=run.pk, item_key="site", score=bad)
        assert exc.value.code == "invalid_score"
    with pytest.raises(InvalidInput) as exc:
        runs.score_item(actor=assessor, run_id=run.pk, item_key="insp_pass", score=1)
    assert exc.value.code == "not_scored_item"
    runs.score_item(actor=assessor, run_id=run.pk, item_key="site", score="22.5", comment="改")
    rows = ItemScore.objects.filter(item__run=run, item__key="site")
    assert [(r.score, r.comment) for r in rows] == [(Decimal("22.50"), "改")]


# --- appeals ---------------------------------------------------------------------------------


def test_an_upheld_appeal_reopens_only_the_named_items(world, data, computed):
    run = _published(data, computed)
    worker, mgr, assessor = (world.user(n) for n in ("vendor_worker", "a_manager", "assessor"))
    filed = runs.appeal(
        actor=worker, run_id=run.pk, item_keys=["site", "missed", "site"], reason="现场评分偏低",
        now=at(2026, 7, 8),
    )  # fmt: skip
    assert filed.item_keys == ["site", "missed"]
    assert Run.objects.get(pk=run.pk).status == "appealed"
    with pytest.raises(Conflict) as exc:
        runs.compute(actor=mgr, run_id=run.pk, now=NOW)
    assert exc.value.code == "appeal_open"
    runs.decide_appeal(
        actor=mgr, appeal_id=filed.pk, upheld=True, decision="同意复核", now=at(2026, 7, 9)
    )
    assert Appeal.objects.get(pk=filed.pk).status == "upheld"
    reopened = set(RunItem.objects.filter(run=run, reopened=True).values_list("key", flat=True))
    assert reopened == {"site", "missed"}
    assert ItemScore.objects.get(item__run=run, item__key="site").superseded is True
    assert ItemScore.objects.filter(item__key="manager", superseded=False).count() == 2
    # only reopened items may be scored; the managers' item is closed
    with pytest.raises(Conflict):
        runs.score_item(actor=mgr, run_id=run.pk, item_key="manager", score=15)
    # the data move on: a third missed occurrence, a failing inspection, a new finding
    PlanOccurrence.objects.filter(location=data.insp.stairs_a, period_start=at(2026, 6, 12)).update(
        status="missed"
    )
    _inspect(data.insp, {**insp_factories.ALL_PASS, "fire_exit": "fail"}, when=at(2026, 6, 28))
    with pytest.raises(InvalidInput) as exc:  # the site item must be scored again first
        runs.compute(actor=mgr, run_id=run.pk, now=at(2026, 7, 10))
    assert exc.value.code == "unscored_items"
    runs.score_item(actor=assessor, run_id=run.pk, item_key="site", score=25, evidence="复核")
    final = runs.compute(actor=mgr, run_id=run.pk, now=at(2026, 7, 10))
    items = {i.key: i for i in RunItem.objects.filter(run=final)}
    assert final.status == "final"
    assert items["site"].points == Decimal("25.00")
    assert items["missed"].value == 3.0 and items["missed"].points == Decimal("7.00")
    assert items["insp_pass"].value == 66.67  # frozen, though a failing inspection came
    assert final.deduction_points == Decimal("10.00")  # deductions not named: frozen
    # 5.0025 + 6.668 + 7 + 25 + 13 = 56.6705 − 10
    assert final.score == Decimal("46.67")
    assert final.inputs["reopened"][0]["keys"] == ["missed", "site"]
    assert runs.recompute(final).score == final.score
    assert (
        Notification.objects.filter(
            recipient=assessor, event__type="assessment.scoring_assigned"
        ).count()
        == 2
    )  # assigned, then asked to score again
    with pytest.raises(Conflict):
        runs.appeal(actor=worker, run_id=run.pk, item_keys=["site"], reason="再申诉")


def test_a_dismissed_appeal_makes_the_run_final(world, data, computed):
    run = _published(data, computed)
    worker, mgr = world.user("vendor_worker"), world.user("a_manager")
    filed = runs.appeal(
        actor=worker, run_id=run.pk, item_keys=["deductions"], reason="扣分有误", now=at(2026, 7, 6)
    )
    decided = runs.decide_appeal(
        actor=mgr, appeal_id=filed.pk, upheld=False, decision="证据充分，维持", now=at(2026, 7, 7)
    )
    assert decided.status == "dismissed"
    assert Run.objects.get(pk=run.pk).status == "final"
    with pytest.raises(Conflict) as exc:
        runs.decide_appeal(actor=mgr, appeal_id=filed.pk, upheld=True, decision="改判")
    assert exc.value.code == "appeal_decided"
    assert Notification.objects.filter(
        recipient=worker, event__type="assessment.appeal_decided"
    ).exists()


def test_appeal_refusals(world, data, computed):
    worker = world.user("vendor_worker")
    # not yet published: the vendor does not even see it
    with pytest.raises(NotFound):
        runs.appeal(actor=worker, run_id=computed.pk, item_keys=["site"], reason="x")
    run = _published(data, computed)  # at 5 July 10:00
    with pytest.raises(InvalidInput) as exc:
        runs.appeal(actor=worker, run_id=run.pk, item_keys=["nope"], reason="x", now=at(2026, 7, 6))
    assert exc.value.code == "unknown_item"
    with pytest.raises(InvalidInput) as exc:
        runs.appeal(actor=worker, run_id=run.pk, item_keys=[], reason="x", now=at(2026, 7, 6))
    assert exc.value.code == "required"
    with pytest.raises(PermissionDenied) as exc:  # the assessing side does not appeal
        runs.appeal(
            actor=world.user("a_manager"), run_id=run.pk, item_keys=["site"], reason="x",
            now=at(2026, 7, 6),
        )  # fmt: skip
    assert exc.value.code == "not_party"
    with pytest.raises(Conflict) as exc:  # 7 days after publication
        runs.appeal(
            actor=worker, run_id=run.pk, item_keys=["site"], reason="x", now=at(2026, 7, 12, 10, 1)
        )
    assert exc.value.code == "appeal_window_closed"
    # the job makes it final once the window has passed
    assert runs.finalise_due(now=at(2026, 7, 12, 9)) == 0
    assert runs.finalise_due(now=at(2026, 7, 12, 11)) == 1
    assert Run.objects.get(pk=run.pk).status == "final"


# --- who may do what -------------------------------------------------------------------------


def test_assessor_scope(world, data):
    run = _run(data)
    assessor, mgr = world.user("assessor"), world.user("a_manager")
    assert not queries.runs(assessor).filter(pk=run.pk).exists()
    with pytest.raises(NotFound):
        runs.score_item(actor=assessor, run_id=run.pk, item_key="site", score=20)
    runs.assign_assessor(actor=mgr, run_id=run.pk, user_id=assessor.pk, role="assessor")
    assert list(queries.runs(assessor)) == [run]
    other = _run(data, start=date(2026, 5, 1))  # another period: not assigned
    assert not queries.runs(assessor).filter(pk=other.pk).exists()
    with pytest.raises(PermissionDenied) as exc:
        runs.score_item(actor=assessor, run_id=run.pk, item_key="manager", score=10)
    assert exc.value.code == "wrong_scorer_role"
    runs.score_item(actor=assessor, run_id=run.pk, item_key="site", score=20, evidence="照片")
    for fn in (runs.compute, runs.submit_for_review, runs.publish):
        with pytest.raises(PermissionDenied):
            fn(actor=assessor, run_id=run.pk)
    with pytest.raises(PermissionDenied):
        runs.assign_assessor(actor=assessor, run_id=run.pk, user_id=assessor.pk, role="assessor")
    # a manager scores only when assigned, and only the managers' items
    with pytest.raises(PermissionDenied) as exc:
        runs.score_item(actor=mgr, run_id=run.pk, item_key="manager", score=10)
    assert exc.value.code == "not_assigned"
    runs.assign_assessor(actor=mgr, run_id=run.pk, user_id=mgr.pk, role="manager")
    with pytest.raises(PermissionDenied):
        runs.score_item(actor=mgr, run_id=run.pk, item_key="site", score=10)
    # who may be assigned: an assessor as assessor, a manager of the org as manager,
    # never the assessed party
    for name, role in (("vendor_worker", "assessor"), ("b_manager", "manager"),
                       ("a_staff", "manager"), ("assessor", "manager")):  # fmt: skip
        with pytest.raises((InvalidInput, Conflict)):
            runs.assign_assessor(actor=mgr, run_id=run.pk, user_id=world.user(name).pk, role=role)
    # everything the assessor did is audited under their name
    done = set(AuditEntry.objects.filter(actor_id=assessor.pk).values_list("action", "outcome"))
    assert ("assessment.run.score", "success") in done
    assert ("assessment.score", "refused") in done
    assert ("assessment.compute", "refused") in done


def test_county_b_cannot_touch_county_a_runs(world, data, computed):
    b = world.user("b_manager")
    assert not queries.runs(b).exists()
    for fn, kw in (
        (runs.compute, {}),
        (runs.submit_for_review, {}),
        (runs.publish, {}),
        (runs.finalise, {}),
        (runs.assign_assessor, {"user_id": b.pk, "role": "manager"}),
        (runs.score_item, {"item_key": "manager", "score": 1}),
        (runs.appeal, {"item_keys": ["site"], "reason": "x"}),
    ):
        with pytest.raises(NotFound):
            fn(actor=b, run_id=computed.pk, **kw)
    with pytest.raises(NotFound):
        runs.create_run(
            actor=b, scheme_id=data.scheme.pk, period_kind="month", period_start=date(2026, 7, 1),
            contract_id=data.contract.pk,
        )  # fmt: skip
    published = _published(data, computed)
    filed = runs.appeal(
        actor=world.user("vendor_worker"), run_id=published.pk, item_keys=["site"],
        reason="复核", now=at(2026, 7, 6),
    )  # fmt: skip
    with pytest.raises(NotFound):
        runs.decide_appeal(actor=b, appeal_id=filed.pk, upheld=True, decision="x")
    assert not Notification.objects.filter(recipient=b).exists()


def test_copy_of_inputs_is_not_mutated_by_evaluate():
    inputs = _inputs(deductions=[_ded("5")])
    before = copy.deepcopy(inputs)
    runs.evaluate(inputs)
    assert inputs == before
