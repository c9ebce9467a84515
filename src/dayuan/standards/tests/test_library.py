"""The seed library: every shipped file validates, imports whole and means what it says."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import cel
import pytest
from django.core.management import call_command

from dayuan.standards import fileformat
from dayuan.standards.importer import export_standard, import_standard
from dayuan.standards.models import Clause, Rule, StandardVersion
from dayuan.standards.rules import parse_params

# The reference clauses (shared/reference/clauses.md) and the ones marked ⚠ there.
EXPECTED = {
    "JG-WY-2015": [f"P{i}" for i in range(1, 22)],
    "JG-HY": [f"M{i}" for i in range(1, 7)],
    "JG-ST": [f"C{i}" for i in range(1, 14)],
    "JG-JN": [f"E{i}" for i in range(1, 5)],
}
UNVERIFIED = {"P19", "P20", "P21", "C1", "C2", "C3", "C4", "C5", "C6", "C11", "C13", "E1", "E4"}
NO_RULE = {"P12", "P14"}  # P12 is a checklist item of P11's list; P14 is pricing text


def library_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in fileformat.library_files()}


def test_it_ships_four_standards_that_all_validate(capsys):
    texts = library_texts()
    assert len(texts) == 4
    for name, text in texts.items():
        doc, errors = fileformat.load(text, name)
        assert errors == [], (name, errors)
        assert name == f"{doc['code']}.standard.yaml"
        # shipped in canonical form, so an export of an import gives the file back
        assert fileformat.dump(doc) == text, name
    call_command("standards", "validate", str(fileformat.LIBRARY_DIR))
    assert "4 file(s) valid" in capsys.readouterr().out


def test_it_encodes_every_reference_clause_with_its_source():
    for text in library_texts().values():
        doc, _ = fileformat.load(text)
        numbers = [c["number"] for c in doc["clauses"]]
        assert numbers == EXPECTED[doc["code"]]
        for clause in doc["clauses"]:
            rules = clause.get("rules") or []
            assert bool(rules) == (clause["number"] not in NO_RULE), clause["number"]
            assert ("待核实" in clause["text"]) == (clause["number"] in UNVERIFIED)
            for rule in rules:
                source = rule["source"]
                assert source["clause"] == clause["number"], rule["key"]
                assert source["document"], rule["key"]
                assert source["verified"] is (clause["number"] not in UNVERIFIED), rule["key"]


@pytest.mark.django_db
def test_it_imports_the_library_with_every_clause_and_flag(world):
    admin = world.user("admin")
    for name, text in library_texts().items():
        ver = import_standard(actor=admin, text=text, filename=name, org_code="city")
        code = ver.standard.code
        numbers = list(
            Clause.objects.filter(version=ver).order_by("position").values_list("number", flat=True)
        )
        assert numbers == EXPECTED[code]
        rules = Rule.objects.filter(version=ver)
        unverified = set(rules.filter(verified=False).values_list("clause__number", flat=True))
        assert unverified == UNVERIFIED & set(EXPECTED[code])
        # export of the import is the shipped file, byte for byte
        assert export_standard(actor_or_user=admin, code=code) == text
    assert Clause.objects.count() == sum(len(v) for v in EXPECTED.values()) == 44
    assert StandardVersion.objects.filter(status="draft").count() == 4

    def clause(number: str) -> Clause:
        return Clause.objects.get(number=number)

    # safety-critical clauses are key; food safety and urgent repair are binding
    for number in ("P1", "P18", "C1", "C3"):
        assert clause(number).severity == "key", number
    for number in ("P1", "C1", "C2", "C3", "C4", "C5", "C6", "C7"):
        assert clause(number).binding, number
    assert not clause("M1").binding and not clause("E2").binding


@cache
def library_docs() -> tuple[dict, ...]:
    return tuple(fileformat.load(text)[0] for text in library_texts().values())


def rule_params(key: str):
    for doc in library_docs():
        for clause in doc["clauses"]:
            for rule in clause.get("rules") or []:
                if rule["key"] == key:
                    return parse_params(rule["kind"], rule["params"])
    raise KeyError(key)


def test_it_sets_the_reference_numbers_as_tunables():
    assert rule_params("p1_urgent_repair_arrive").tunables()["timers.arrive.minutes"] == (
        30,
        "lower",
    )
    c1 = rule_params("c1_sample_quantity").tunables()
    assert c1["vars.min_weight_g.value"] == (125, "higher")
    assert c1["vars.min_retention_hours.value"] == (48, "higher")
    assert rule_params("c6_frozen_storage").tunables()["vars.frozen_max_c.value"] == (-12, "lower")
    hall = rule_params("m6_large_hall_booking")
    assert hall.lead_time_minutes == 3 * 24 * 60
    m1 = rule_params("m1_meeting_room_booking")
    assert m1.lead_time_minutes == 120
    assert [(w.start.isoformat("minutes"), w.end.isoformat("minutes")) for w in m1.windows] == [
        ("08:00", "11:30"),
        ("13:00", "17:00"),
    ]
    assert "contact_phone" in rule_params("m4_booking_required_fields").required_fields
    projector = rule_params("m6_projector_ready").timers[0]
    assert (projector.minutes, projector.anchor) == (30, "before_start")
    p9 = rule_params("p9_lightning_rod_patrol")
    assert p9.frequency_for_month(7).unit == "half_month"
    assert p9.frequency_for_month(12).unit == "quarter"
    p13 = rule_params("p13_lawn_mowing")
    assert (p13.frequency_for_month(5).every, p13.frequency_for_month(5).unit) == (2, "month")
    e3 = rule_params("e3_saving_evaluation")
    assert e3.pass_line == 80 and len(e3.items) == 6
    assert rule_params("e4_satisfaction").threshold == 96


def judge(key: str, record: dict) -> str:
    """What the rule says about a record: pass, fail or na (its ``when`` did not match)."""
    params = rule_params(key)
    env = {"record": record, "vars": {k: v.value for k, v in params.vars.items()}}
    if params.when and cel.compile(params.when).execute(env) is not True:
        return "na"
    return "pass" if cel.compile(params.check).execute(env) is True else "fail"


def test_it_judges_records_the_way_the_reference_says():
    sample = {"weight_g": 125, "retention_hours": 48}
    assert judge("c1_sample_quantity", sample) == "pass"
    assert judge("c1_sample_quantity", {**sample, "weight_g": 100}) == "fail"
    assert judge("c1_sample_quantity", {**sample, "retention_hours": 24}) == "fail"
    fields = {"dish": "红烧肉", "sampled_at": "2026-03-02T11:30:00+08:00", "sampled_by": "张三"}
    assert judge("c1_sample_record_fields", {**fields, "sealed": True}) == "pass"
    assert judge("c1_sample_record_fields", {"dish": "红烧肉", "sealed": True}) == "fail"

    assert judge("c2_sample_fridge_temp", {"temp_c": 4.5}) == "pass"
    assert judge("c2_sample_fridge_temp", {"temp_c": 12}) == "fail"

    boiling = {"method": "boiling", "temp_c": 100, "minutes": 10}
    assert judge("c3_disinfect_heat", boiling) == "pass"
    assert judge("c3_disinfect_heat", {**boiling, "minutes": 8}) == "fail"
    assert judge("c3_disinfect_infrared", boiling) == "na"
    assert (
        judge("c3_disinfect_infrared", {"method": "infrared", "temp_c": 120, "minutes": 10})
        == "pass"
    )
    washer = {"method": "dishwasher", "rinse_temp_c": 85, "rinse_seconds": 30}
    assert judge("c3_disinfect_dishwasher", washer) == "fail"
    chlorine = {"method": "chlorine", "chlorine_mg_l": 250, "minutes": 5, "fully_immersed": True}
    assert judge("c3_disinfect_chlorine", chlorine) == "pass"
    assert judge("c3_disinfect_chlorine", {**chlorine, "fully_immersed": False}) == "fail"

    assert judge("c4_special_room", {"room_temp_c": 24, "uv_w_per_m3": 1.5}) == "pass"
    assert judge("c4_special_room", {"room_temp_c": 26, "uv_w_per_m3": 2}) == "fail"
    assert judge("c5_core_temp", {"core_temp_c": 68}) == "fail"
    assert judge("c5_holding_temp", {"held_hours": 1, "temp_c": 30}) == "na"
    assert judge("c5_holding_temp", {"held_hours": 3, "temp_c": 65}) == "pass"
    assert judge("c5_holding_temp", {"held_hours": 3, "temp_c": 30}) == "fail"
    assert judge("c6_chilled_storage", {"storage": "chilled", "temp_c": 9}) == "fail"
    assert judge("c6_frozen_storage", {"storage": "frozen", "temp_c": -18}) == "pass"
    assert judge("c6_frozen_storage", {"storage": "chilled", "temp_c": 4}) == "na"

    checked = datetime(2026, 3, 2, 8, 0).astimezone()
    staff = {"handles_ready_to_eat": True, "checked_at": checked}
    valid = {**staff, "certificate_expires_at": checked + timedelta(days=30)}
    expired = {**staff, "certificate_expires_at": "2026-01-31T23:59:59+08:00"}
    assert judge("c7_health_certificate_valid", valid) == "pass"
    assert judge("c7_health_certificate_valid", expired) == "fail"

    assert judge("e1_ac_summer_setpoint", {"season": "summer", "setpoint_c": 24}) == "fail"
    assert judge("e1_ac_winter_setpoint", {"season": "winter", "setpoint_c": 20}) == "pass"
    assert judge("e1_ac_winter_setpoint", {"season": "summer", "setpoint_c": 24}) == "na"


@pytest.mark.django_db
def test_it_loads_the_demo_with_a_county_that_tightens(world):
    services = pytest.importorskip("dayuan.standards.services")
    if not (hasattr(services, "publish") and hasattr(services, "adopt")):
        pytest.skip("core services not available yet")
    from dayuan.standards.demo import load_demo
    from dayuan.standards.effective import effective_rules

    counts = load_demo(world.user("admin"), world.city, [world.county_a, world.county_b])
    assert counts == {"standards": 4, "adoptions": 6}
    assert StandardVersion.objects.filter(status="published").count() == 4

    def sample_weight(org) -> float:
        (rule,) = [
            r
            for r in effective_rules(org, kind="record", target="record:canteen.food_sample")
            if r.key == "c1_sample_quantity"
        ]
        return rule.params.vars["min_weight_g"].value

    def arrive_minutes(org) -> int:
        (rule,) = [
            r for r in effective_rules(org, kind="sla") if r.key == "p1_urgent_repair_arrive"
        ]
        return rule.params.timers[0].minutes

    assert (sample_weight(world.city), arrive_minutes(world.city)) == (125, 30)
    assert (sample_weight(world.county_a), arrive_minutes(world.county_a)) == (150, 20)
    assert (sample_weight(world.county_b), arrive_minutes(world.county_b)) == (125, 30)
    # a second call changes nothing
    assert load_demo(world.user("admin"), world.city, [world.county_a]) == {
        "standards": 0,
        "adoptions": 0,
    }
