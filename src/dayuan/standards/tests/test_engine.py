"""The evaluation engine: record rules (CEL), SLA timers and escalation, KPI, booking.

Rules are built directly as ``EffectiveRule`` objects over real Standard/Version/Clause/
Rule rows (so stored judgments have valid foreign keys), and ``effective_rules`` is
replaced by a function that serves them, filtered by kind and target as the real one is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from dayuan.core.errors import InvalidInput, RuleRefused
from dayuan.standards import effective, engine
from dayuan.standards.choices import Outcome
from dayuan.standards.effective import EffectiveRule
from dayuan.standards.models import Clause, Judgment, Rule, Standard, StandardVersion
from dayuan.standards.rules import parse_params

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


class RuleBook:
    """Creates rows for rules and serves them as the org's effective rules."""

    def __init__(self, org, monkeypatch) -> None:
        self.org = org
        self.rules: list[EffectiveRule] = []
        self.calls: list[dict] = []
        self._versions: dict[str, StandardVersion] = {}
        monkeypatch.setattr(effective, "effective_rules", self.effective_rules)

    def effective_rules(self, org, *, kind=None, target=None, at=None):
        self.calls.append({"org": org, "kind": kind, "target": target, "at": at})
        return [
            r
            for r in self.rules
            if (kind is None or r.kind == kind) and (target is None or r.target == target)
        ]

    def version(self, code: str) -> StandardVersion:
        if code not in self._versions:
            std = Standard.objects.create(
                code=code.lower(),
                title=f"{code} 标准",
                issuing_org=self.org,
                domain="general",
                status="published",
            )
            self._versions[code] = StandardVersion.objects.create(
                standard=std, number=1, status="published"
            )
        return self._versions[code]

    def clause(self, code: str, number: str, text: str, severity: str = "important") -> Clause:
        version = self.version(code)
        clause, _ = Clause.objects.get_or_create(
            version=version,
            number=number,
            defaults={"text": text, "severity": severity, "position": version.clauses.count()},
        )
        return clause

    def add(
        self,
        key: str,
        kind: str,
        params: dict,
        *,
        code: str = "FS-2018",
        clause: str = "C1",
        text: str = "条款",
        severity: str = "important",
    ) -> EffectiveRule:
        parsed = parse_params(kind, params)
        # ScheduleParams' ``target`` field hides its ``target()`` method: use target_key().
        target = parsed.target_key()
        row_clause = self.clause(code, clause, text, severity)
        row = Rule.objects.create(
            clause=row_clause,
            version=row_clause.version,
            key=key,
            kind=kind,
            target=target,
            params=params,
        )
        rule = EffectiveRule(
            rule_id=row.pk,
            key=key,
            kind=kind,
            target=target,
            params=parsed,
            raw_params=params,
            clause_id=row_clause.pk,
            clause_number=row_clause.number,
            clause_text=row_clause.text,
            severity=row_clause.severity,
            binding=row_clause.binding,
            standard_id=row_clause.version.standard_id,
            standard_code=code,
            standard_title=f"{code} 标准",
            version_id=row_clause.version_id,
            version_number=row_clause.version.number,
        )
        self.rules.append(rule)
        return rule


@pytest.fixture
def book(world, monkeypatch) -> RuleBook:
    return RuleBook(world.city, monkeypatch)


def canteen_rules(book: RuleBook) -> None:
    """C1 sample (key, blocking), C2 fridge (important), C3 disinfection per method."""
    book.add(
        "c1.sample_weight",
        "record",
        {
            "record_type": "canteen.sample",
            "vars": {"min_weight_g": {"value": 125, "stricter": "higher", "unit": "g"}},
            "check": "record.weight_g >= vars.min_weight_g",
            "message": "留样量不少于 {min_weight_g} 克",
        },
        clause="C1",
        text="每餐次每个品种留样不少于 125 克",
        severity="key",
    )
    book.add(
        "c2.fridge_temp",
        "record",
        {
            "record_type": "canteen.sample",
            "vars": {
                "min_c": {"value": 0, "stricter": "higher"},
                "max_c": {"value": 10, "stricter": "lower"},
            },
            "check": "record.fridge_c >= vars.min_c && record.fridge_c <= vars.max_c",
            "message": "留样冰箱温度须在 {min_c}–{max_c} ℃",
        },
        clause="C2",
        text="留样冰箱温度 0–10 ℃",
        severity="important",
    )
    both = "record.temp_c >= vars.min_temp_c && record.minutes >= vars.min_minutes"
    methods = [
        ("boiling", both, {"min_temp_c": 100, "min_minutes": 10},
         "煮沸或蒸汽消毒 {min_temp_c} ℃ 不少于 {min_minutes} 分钟"),
        ("infrared", both, {"min_temp_c": 120, "min_minutes": 10},
         "红外消毒 {min_temp_c} ℃ 不少于 {min_minutes} 分钟"),
        ("dishwasher", "record.rinse_c >= vars.min_rinse_c && record.rinse_s >= vars.min_rinse_s",
         {"min_rinse_c": 85, "min_rinse_s": 40},
         "洗碗机冲洗 {min_rinse_c} ℃ 不少于 {min_rinse_s} 秒"),
        ("chlorine", "record.mg_l >= vars.min_mg_l && record.minutes >= vars.min_minutes",
         {"min_mg_l": 250, "min_minutes": 5},
         "含氯消毒液 {min_mg_l} mg/L 浸泡不少于 {min_minutes} 分钟"),
    ]  # fmt: skip
    for method, check, values, message in methods:
        book.add(
            f"c3.{method}",
            "record",
            {
                "record_type": "canteen.disinfection",
                "vars": {k: {"value": v, "stricter": "higher"} for k, v in values.items()},
                "when": f"record.method == '{method}'",
                "check": check,
                "message": message,
                "blocking": True,
            },
            clause="C3",
            text="餐用具消毒按方法达到温度和时间",
            severity="important",
        )


# --- record rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "outcomes"),
    [
        ({"method": "boiling", "temp_c": 100, "minutes": 10}, ["pass", "na", "na", "na"]),
        ({"method": "boiling", "temp_c": 98.5, "minutes": 15}, ["fail", "na", "na", "na"]),
        ({"method": "boiling", "temp_c": 100, "minutes": 9}, ["fail", "na", "na", "na"]),
        ({"method": "infrared", "temp_c": 120, "minutes": 10}, ["na", "pass", "na", "na"]),
        ({"method": "infrared", "temp_c": 110, "minutes": 30}, ["na", "fail", "na", "na"]),
        ({"method": "dishwasher", "rinse_c": 85, "rinse_s": 40}, ["na", "na", "pass", "na"]),
        ({"method": "dishwasher", "rinse_c": 85, "rinse_s": 39}, ["na", "na", "fail", "na"]),
        ({"method": "chlorine", "mg_l": 250, "minutes": 5}, ["na", "na", "na", "pass"]),
        ({"method": "chlorine", "mg_l": 200.0, "minutes": 10}, ["na", "na", "na", "fail"]),
        ({"method": "ozone", "minutes": 60}, ["na", "na", "na", "na"]),
    ],
)
def test_it_judges_disinfection_by_the_method_that_applies(book, world, record, outcomes):
    canteen_rules(book)
    result = engine.evaluate_record(world.county_a, "canteen.disinfection", record)
    assert [str(j.outcome) for j in result.judged] == outcomes
    assert len(result.violations) == outcomes.count("fail")
    stored = list(Judgment.objects.order_by("id").values_list("outcome", flat=True))
    assert stored == outcomes
    assert book.calls[-1]["kind"] == "record"
    assert book.calls[-1]["target"] == "record:canteen.disinfection"


def test_it_formats_the_message_from_the_vars(book, world):
    canteen_rules(book)
    result = engine.evaluate_record(
        world.county_a, "canteen.disinfection", {"method": "chlorine", "mg_l": 100, "minutes": 5}
    )
    (v,) = result.violations
    assert v.message == "含氯消毒液 250 mg/L 浸泡不少于 5 分钟"
    assert (v.standard_code, v.clause_number, v.blocking) == ("FS-2018", "C3", True)


def test_it_refuses_a_light_food_sample_citing_the_key_clause(book, world):
    canteen_rules(book)
    with pytest.raises(RuleRefused) as exc:
        engine.enforce_record(
            world.county_a, "canteen.sample", {"weight_g": 100, "fridge_c": 4}, store=False
        )
    err = exc.value
    assert str(err.message) == "不符合 FS-2018 第 C1 条：留样量不少于 125 克"
    assert err.code == "rule_refused"
    (cite,) = err.details["violations"]
    assert cite["clause"] == "C1" and cite["standard"] == "FS-2018" and cite["blocking"]
    assert cite["text"] == "每餐次每个品种留样不少于 125 克"
    assert err.as_dict()["details"]["violations"][0]["severity"] == "key"


def test_it_returns_a_warm_fridge_as_a_non_blocking_non_conformance(book, world):
    canteen_rules(book)
    result = engine.enforce_record(
        world.county_a,
        "canteen.sample",
        {"weight_g": 150, "fridge_c": 12},
        vendor=world.vendor,
        subject=("canteen.sample", 42),
    )
    assert result.blocking == []
    (v,) = result.non_blocking
    assert (v.clause_number, v.severity, v.message) == (
        "C2",
        "important",
        "留样冰箱温度须在 0–10 ℃",
    )
    rows = list(Judgment.objects.order_by("id"))
    assert [r.outcome for r in rows] == ["pass", "fail"]
    assert all(r.org_id == world.county_a.pk and r.vendor_id == world.vendor.pk for r in rows)
    assert rows[0].subject_type == "canteen.sample" and rows[0].subject_id == "42"
    assert rows[1].clause_id == Clause.objects.get(number="C2").pk
    assert rows[0].value is None


def test_it_treats_a_missing_field_as_a_violation_not_a_crash(book, world):
    canteen_rules(book)
    result = engine.evaluate_record(world.county_a, "canteen.sample", {"fridge_c": 4})
    (v,) = result.violations
    assert v.code == "missing_field" and v.blocking
    assert "缺少字段" in v.message and "weight_g" in v.message
    with pytest.raises(RuleRefused):
        engine.enforce_record(world.county_a, "canteen.sample", {"fridge_c": 4})


def test_it_treats_a_missing_when_field_and_a_wrong_type_as_violations(book, world):
    canteen_rules(book)
    result = engine.evaluate_record(world.county_a, "canteen.disinfection", {"temp_c": 100})
    assert {v.code for v in result.violations} == {"missing_field"}
    result = engine.evaluate_record(
        world.county_a, "canteen.sample", {"weight_g": "很多", "fridge_c": None}, store=False
    )
    assert {v.code for v in result.violations} == {"type_error"}
    assert len(result.violations) == 2


def test_it_speaks_english_when_the_language_is_english(book, world):
    canteen_rules(book)
    with translation.override("en"), pytest.raises(RuleRefused) as exc:
        engine.enforce_record(world.county_a, "canteen.sample", {"weight_g": 1, "fridge_c": 4})
    # The clause's own message is data; the frame around it is translated (or at least
    # goes through gettext with the same placeholders).
    message = str(exc.value.message)
    assert "FS-2018" in message and "C1" in message and "125" in message


def test_it_evaluates_the_variables_an_override_gives(book, world):
    rule = book.add(
        "c1.sample_weight",
        "record",
        {
            "record_type": "canteen.sample",
            "vars": {"min_weight_g": {"value": 200, "stricter": "higher", "unit": "g"}},
            "check": "record.weight_g >= vars.min_weight_g",
            "message": "留样量不少于 {min_weight_g} 克",
        },
        severity="key",
    )
    prep = engine.prepared(rule)
    assert "vars" not in prep.check.program.variables()  # inlined
    assert [str(j.outcome) for j in engine.judge_record([rule], {"weight_g": 150})] == ["fail"]
    assert [str(j.outcome) for j in engine.judge_record([rule], {"weight_g": 200.0})] == ["pass"]


def test_it_keeps_strings_and_unknown_vars_out_of_the_inlining():
    src = "record.note != 'vars.x' && record.a >= vars.x && record.b < vars.y"
    bound = engine.bind_vars(src, {"x": 5, "z": -1.5})
    assert bound == "record.note != 'vars.x' && record.a >= (5) && record.b < vars.y"
    assert engine.bind_vars("record.t >= vars.t", {"t": -12.5}) == "record.t >= (-12.5)"


def test_it_falls_back_to_passing_vars_when_inlining_cannot_work(book, world):
    rule = book.add(
        "r.has",
        "record",
        {
            "record_type": "t",
            "vars": {"x": {"value": 3}},
            "check": "has(vars.x) && record.a >= vars.x",
            "message": "a 不少于 {x}",
        },
    )
    prep = engine.prepared(rule)
    assert prep.check.needs_vars
    assert [str(j.outcome) for j in engine.judge_record([rule], {"a": 3})] == ["pass"]
    assert [str(j.outcome) for j in engine.judge_record([rule], {"a": 2})] == ["fail"]


def test_it_compiles_each_cel_source_once():
    engine.compile_cel.cache_clear()
    a = engine.compile_cel("record.x > 1")
    b = engine.compile_cel("record.x > 1")
    assert a is b
    assert engine.compile_cel.cache_info().hits == 1
    with pytest.raises(ValueError):
        engine.compile_cel("record.x >")


def test_it_accepts_dates_and_decimals_in_records(book, world):
    from datetime import date
    from decimal import Decimal

    rule = book.add(
        "r.dec",
        "record",
        {"record_type": "t", "check": "record.w >= 125.0", "message": "w"},
    )
    out = engine.judge_record([rule], {"w": Decimal("130.5"), "day": date(2024, 1, 1)})
    assert [str(j.outcome) for j in out] == ["pass"]


def test_it_stores_judgments_in_batches(book, world):
    canteen_rules(book)
    rule = book.rules[0]
    rows = [
        {
            "rule_id": rule.rule_id,
            "clause_id": rule.clause_id,
            "org_id": world.county_a.pk,
            "at": at(2024, 1, 1, 8) + timedelta(minutes=i),
            "outcome": "pass" if i % 3 else "fail",
        }
        for i in range(25)
    ]
    assert engine.store_judgments(rows, batch_size=10) == 25
    assert Judgment.objects.filter(outcome="fail").count() == 9


# --- SLA ------------------------------------------------------------------------------


def sla_rules(book: RuleBook) -> None:
    book.add(
        "p1.repair",
        "sla",
        {
            "category": "repair",
            "timers": [
                {"name": "respond", "label": "响应", "minutes": 30},
                {"name": "resolve", "label": "完成", "minutes": 480},
            ],
            "pause_reasons": ["waiting_parts"],
            "escalation": [
                {"at_percent": 80, "action": "warn", "notify": ["dispatcher"]},
                {"at_percent": 100, "action": "escalate", "notify": ["manager"]},
                {"at_percent": 150, "action": "escalate_further", "notify": ["manager"]},
            ],
        },
        code="JG-2015",
        clause="P2",
        text="零修及时",
    )
    book.add(
        "p1.urgent",
        "sla",
        {
            "category": "repair",
            "priority": "urgent",
            "calendar": "24x7",
            "timers": [{"name": "arrive", "label": "到场", "minutes": 30}],
        },
        code="JG-2015",
        clause="P1",
        text="急修 30 分钟内到场",
        severity="key",
    )
    book.add(
        "m6.projector",
        "sla",
        {
            "category": "meeting",
            "timers": [
                {"name": "setup", "label": "调试投影", "minutes": 30, "anchor": "before_start"}
            ],
        },
        code="HY-01",
        clause="M6",
        text="会前 30 分钟调试设备",
    )


def test_it_picks_the_priority_rule_over_the_category_rule(book, world):
    sla_rules(book)
    urgent = engine.sla_timers(world.county_a, "repair", "urgent")
    assert [(t.name, t.minutes, t.calendar) for t in urgent] == [("arrive", 30, "24x7")]
    assert urgent[0].cite["clause"] == "P1"
    normal = engine.sla_timers(world.county_a, "repair", "normal")
    assert [(t.name, t.minutes, t.calendar) for t in normal] == [
        ("respond", 30, "working"),
        ("resolve", 480, "working"),
    ]
    assert normal[0].pause_reasons == ("waiting_parts",)
    assert [s.at_percent for s in normal[0].escalation] == [80, 100, 150]
    assert engine.sla_timers(world.county_a, "repair") == normal
    assert engine.sla_timers(world.county_a, "cleaning") == []
    assert book.calls[-1]["target"] == "workorder:cleaning"


def test_it_takes_the_stricter_timer_when_two_standards_name_it(book, world):
    sla_rules(book)
    book.add(
        "local.repair",
        "sla",
        {"category": "repair", "timers": [{"name": "respond", "label": "响应", "minutes": 20}]},
        code="LOCAL-1",
        clause="1",
    )
    timers = {t.name: t for t in engine.sla_timers(world.county_a, "repair")}
    assert timers["respond"].minutes == 20 and timers["respond"].cite["standard"] == "LOCAL-1"
    assert timers["resolve"].minutes == 480


def test_it_counts_working_minutes_across_a_weekend(book, world):
    sla_rules(book)
    respond = engine.sla_timers(world.county_a, "repair")[0]
    # Friday 2024-03-15 17:20: 10 minutes left on Friday, 20 on Monday morning.
    assert engine.due_at(at(2024, 3, 15, 17, 20), respond, world.county_a) == at(2024, 3, 18, 8, 50)


def test_it_counts_working_minutes_across_national_day_2024(book, world):
    sla_rules(book)
    resolve = engine.sla_timers(world.county_a, "repair")[1]
    # Monday 2024-09-30 17:00: 30 min that day; 1–7 October are holidays (and
    # Sunday 29 September was a working day); the 450 min left are all of Tuesday
    # 8 October (08:30–12:00, 13:30–17:30).
    due = engine.due_at(at(2024, 9, 30, 17, 0), resolve, world.county_a)
    assert due == at(2024, 10, 8, 17, 30)
    # Sunday 29 September was an adjusted working day: work counts on it.
    respond = engine.sla_timers(world.county_a, "repair")[0]
    assert engine.due_at(at(2024, 9, 29, 9, 0), respond, world.county_a) == at(2024, 9, 29, 9, 30)


def test_it_runs_24x7_and_before_start_timers_on_wall_clock(book, world):
    sla_rules(book)
    (arrive,) = engine.sla_timers(world.county_a, "repair", "urgent")
    assert engine.due_at(at(2024, 10, 1, 23, 50), arrive, world.county_a) == at(2024, 10, 2, 0, 20)
    (setup,) = engine.sla_timers(world.county_a, "meeting")
    assert engine.due_at(at(2024, 10, 8, 9, 0), setup, world.county_a) == at(2024, 10, 8, 8, 30)


def test_it_reaches_escalation_steps_by_share_of_working_time(book, world):
    sla_rules(book)
    respond = engine.sla_timers(world.county_a, "repair")[0]
    start = at(2024, 3, 15, 17, 20)  # Friday
    due = engine.due_at(start, respond, world.county_a)  # Monday 08:50
    steps = respond.escalation

    def state(now):
        return engine.escalation_state(start, due, now, steps, world.county_a)

    s = state(at(2024, 3, 16, 12, 0))  # Saturday: 10 of 30 minutes used
    assert s.percent == pytest.approx(100 / 3) and s.reached == ()
    assert s.next_step.action == "warn"
    assert s.next_at == at(2024, 3, 18, 8, 44)  # 24 of 30 working minutes
    s = state(at(2024, 3, 18, 8, 45))
    assert [x.action for x in s.reached] == ["warn"]
    s = state(at(2024, 3, 18, 8, 50))
    assert [x.action for x in s.reached] == ["warn", "escalate"]
    assert s.next_at == at(2024, 3, 18, 9, 5)
    s = state(at(2024, 3, 18, 9, 5))
    assert [x.action for x in s.reached] == ["warn", "escalate", "escalate_further"]
    assert s.next_step is None and s.next_at is None


# --- KPI ------------------------------------------------------------------------------


def test_it_judges_kpis_in_both_directions(book, world):
    sat = book.add(
        "e4.satisfaction",
        "kpi",
        {"indicator": "satisfaction_rate", "threshold": 96, "unit": "%"},
        code="EN-1",
        clause="E4",
    )
    waste = book.add(
        "c9.waste",
        "kpi",
        {"indicator": "waste_per_diner", "comparison": "<=", "threshold": 50, "unit": "g"},
        code="EN-1",
        clause="C9",
    )
    assert engine.judge_kpi(sat, 96.0) == Outcome.PASS
    assert engine.judge_kpi(sat, 95.9) == Outcome.FAIL
    assert engine.judge_kpi(waste, 50) == Outcome.PASS
    assert engine.judge_kpi(waste, 51) == Outcome.FAIL
    assert engine.judge_kpi(sat, None) == Outcome.NA
    assert engine.kpi_rules(world.county_a, "satisfaction_rate") == [sat]
    assert engine.kpi_rules(world.county_a) == [sat, waste]


# --- booking --------------------------------------------------------------------------


def booking_setup(book: RuleBook) -> None:
    book.add(
        "m1.room",
        "booking",
        {
            "resource_class": "meeting_room",
            "lead_time_minutes": 120,
            "windows": [
                {"days": "workdays", "start": "08:00", "end": "11:30"},
                {"days": "workdays", "start": "13:00", "end": "17:00"},
            ],
            "required_fields": ["organiser", "attendees", "contact_phone"],
        },
        code="HY-01",
        clause="M1",
        text="提前 2 小时预订，工作日受理",
    )
    book.add(
        "m5.room",
        "booking",
        {
            "resource_class": "meeting_room",
            "lead_time_minutes": 1440,
            "max_duration_minutes": 240,
            "requires_approval": True,
            "required_fields": ["organiser", "meeting_type"],
            "windows": [{"days": "all", "start": "07:00", "end": "22:00"}],
        },
        code="HY-02",
        clause="M5",
        text="提前 1 天预订",
    )


def test_it_merges_booking_rules_strictest_first(book, world):
    booking_setup(book)
    rs = engine.booking_rules(world.county_a, "meeting_room")
    assert rs.lead_time_minutes == 1440 and rs.cite("lead_time")["clause"] == "M5"
    assert rs.max_duration_minutes == 240 and rs.requires_approval
    assert rs.required_fields == ("organiser", "attendees", "contact_phone", "meeting_type")
    assert rs.cite("field:meeting_type")["clause"] == "M5"
    assert rs.cite("field:attendees")["clause"] == "M1"
    # Windows come from the rule with the strictest lead time.
    assert [(w.start.hour, w.end.hour) for w in rs.windows] == [(7, 22)]
    assert engine.booking_rules(world.county_a, "barber").lead_time_minutes == 0


def test_it_checks_lead_time_duration_windows_and_fields(book, world):
    book.add(
        "m1.room",
        "booking",
        {
            "resource_class": "meeting_room",
            "lead_time_minutes": 120,
            "max_duration_minutes": 240,
            "windows": [
                {"days": "workdays", "start": "08:00", "end": "11:30"},
                {"days": "workdays", "start": "13:00", "end": "17:00"},
            ],
            "required_fields": ["organiser", "attendees"],
        },
        code="HY-01",
        clause="M1",
    )
    rs = engine.booking_rules(world.county_a, "meeting_room")
    fields = {"organiser": "办公室", "attendees": 12}
    ok = engine.check_booking(
        rs,
        start=at(2024, 3, 15, 14, 0),
        end=at(2024, 3, 15, 16, 0),
        requested_at=at(2024, 3, 15, 9, 0),
        fields=fields,
    )
    assert ok == []
    bad = engine.check_booking(
        rs,
        start=at(2024, 3, 15, 10, 0),
        end=at(2024, 3, 15, 15, 0),
        requested_at=at(2024, 3, 15, 9, 0),
        fields={"organiser": "办公室", "attendees": ""},
    )
    assert [v.code for v in bad] == ["lead_time", "max_duration", "required_field"]
    assert all(v.clause_number == "M1" and v.blocking for v in bad)
    assert bad[0].message == "须至少提前 2 小时 预订"
    # Lunch break, a Saturday, and National Day 2024 are outside the windows;
    # Sunday 29 September 2024 was an adjusted working day.
    for requested in (at(2024, 3, 15, 12, 0), at(2024, 3, 16, 9, 0), at(2024, 10, 2, 9, 0)):
        out = engine.check_booking(
            rs,
            start=requested + timedelta(days=20),
            end=requested + timedelta(days=20, hours=1),
            requested_at=requested,
            fields=fields,
        )
        assert [v.code for v in out] == ["window"], requested
    assert (
        engine.check_booking(
            rs,
            start=at(2024, 10, 9, 9, 0),
            end=at(2024, 10, 9, 10, 0),
            requested_at=at(2024, 9, 29, 16, 59),
            fields=fields,
        )
        == []
    )
    with pytest.raises(InvalidInput):
        engine.check_booking(
            rs, start=at(2024, 3, 15, 10), end=at(2024, 3, 15, 10), requested_at=at(2024, 3, 1)
        )


def test_it_limits_how_far_ahead_one_may_book(book, world):
    book.add(
        "barber",
        "booking",
        {"resource_class": "barber", "max_advance_days": 7},
        code="SH-1",
        clause="1",
    )
    rs = engine.booking_rules(world.county_a, "barber")
    out = engine.check_booking(
        rs,
        start=at(2024, 3, 25, 10),
        end=at(2024, 3, 25, 10, 30),
        requested_at=at(2024, 3, 15, 10),
    )
    assert [v.code for v in out] == ["max_advance"]
