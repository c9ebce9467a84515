"""The seed library, adopted as in the demo, judged through the real effective rules.

County A tightened the food sample to 150 g and urgent-repair arrival to 20 min;
county B follows the city. Everything here goes through ``effective_rules`` and the
engine, as workorders, canteen and inspections will.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dayuan.core.errors import RuleRefused
from dayuan.standards import engine
from dayuan.standards.demo import load_demo
from dayuan.standards.models import Judgment

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
SAMPLE = {
    "dish": "红烧肉",
    "sampled_at": "2026-11-25T11:30:00+08:00",
    "sampled_by": "王师傅",
    "sealed": True,
    "retention_hours": 48,
}


@pytest.fixture
def library(world):
    load_demo(world.user("admin"), world.city, [world.county_a, world.county_b])
    return world


def test_a_tightened_county_refuses_what_the_city_accepts(library):
    record = {**SAMPLE, "weight_g": 130}
    assert engine.evaluate_record(library.county_b, "canteen.food_sample", record).violations == []
    with pytest.raises(RuleRefused) as refused:
        engine.enforce_record(library.county_a, "canteen.food_sample", record)
    message = str(refused.value.message)
    assert "JG-ST" in message and "C1" in message and "150" in message
    assert refused.value.details["violations"][0]["clause"] == "C1"


def test_judgments_are_stored_under_the_clause_version(library):
    engine.evaluate_record(library.county_a, "canteen.food_sample", {**SAMPLE, "weight_g": 160})
    rows = Judgment.objects.filter(org=library.county_a)
    assert rows.exists()
    assert set(rows.values_list("outcome", flat=True)) == {"pass"}
    assert {j.clause.version_id for j in rows.select_related("clause")} == {
        j.rule.version_id for j in rows.select_related("rule")
    }


def test_missing_fields_are_violations_not_crashes(library):
    result = engine.evaluate_record(library.county_b, "canteen.food_sample", {"weight_g": 130})
    assert result.violations
    assert all(v.clause_number == "C1" for v in result.violations)


def test_urgent_repair_clock_follows_the_county(library):
    timers_a = {t.name: t.minutes for t in engine.sla_timers(library.county_a, "repair", "urgent")}
    timers_b = {t.name: t.minutes for t in engine.sla_timers(library.county_b, "repair", "urgent")}
    assert timers_a["arrive"] == 20
    assert timers_b["arrive"] == 30
    start = datetime(2026, 10, 1, 22, 0, tzinfo=SH)  # a holiday night: 24x7 clock
    (arrive,) = [
        t for t in engine.sla_timers(library.county_b, "repair", "urgent") if t.name == "arrive"
    ]
    assert engine.due_at(start, arrive, library.county_b) == datetime(
        2026, 10, 1, 22, 30, tzinfo=SH
    )


def test_seasonal_lightning_rod_patrols(library):
    """Next year (the library was published today, so it is in force from now on)."""
    july = engine.due_occurrences(
        library.county_b,
        datetime(2027, 7, 1, tzinfo=SH),
        datetime(2027, 8, 1, tzinfo=SH),
        activity="patrol.lightning_rod",
    )
    november = engine.due_occurrences(
        library.county_b,
        datetime(2027, 11, 1, tzinfo=SH),
        datetime(2027, 12, 1, tzinfo=SH),
        activity="patrol.lightning_rod",
    )
    assert len(july) == 2  # every half month in thunderstorm season
    assert len(november) <= 1  # quarterly otherwise
    past = engine.due_occurrences(
        library.county_b,
        datetime(2025, 7, 1, tzinfo=SH),
        datetime(2025, 8, 1, tzinfo=SH),
        activity="patrol.lightning_rod",
    )
    assert past == []  # no version of the standard was in force then


def test_daily_checklist_grades_by_severity_counts(library):
    checklist = engine.build_checklist(library.county_b, "property.daily")
    keys = [i.key for i in checklist.items]
    assert "cctv_recording_complete" in keys
    all_pass = {k: "pass" for k in keys}
    assert engine.grade_checklist(checklist, all_pass).grade == "good"
    one_general = {**all_pass, "roads_clean": "fail"}
    assert engine.grade_checklist(checklist, one_general).grade == "pass"
    cctv_down = {**all_pass, "cctv_recording_complete": "fail"}
    assert engine.grade_checklist(checklist, cctv_down).grade == "fail"


def test_meeting_booking_rules_cite_their_clauses(library):
    rules = engine.booking_rules(library.county_b, "meeting_room")
    assert rules.lead_time_minutes >= 120
