"""Checklist rules: building from clauses, measuring on entry, scoring and grading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dayuan.core.errors import InvalidInput, NotFound
from dayuan.standards import engine
from dayuan.standards.choices import Outcome
from dayuan.standards.engine import Answer
from dayuan.standards.tests.test_engine import RuleBook


@pytest.fixture
def book(world, monkeypatch) -> RuleBook:
    return RuleBook(world.city, monkeypatch)


BANDS = [
    {"grade": "pass", "label": "合格", "max_failed": {"key": 0, "important": 0, "general": 2}},
    {"grade": "conditional", "label": "基本合格", "max_failed": {"key": 0, "important": 2}},
    {"grade": "fail_soft", "label": "整改后复查", "max_failed": {"key": 0}, "passed": False},
]


def kitchen_checklist(book: RuleBook, **extra):
    """A kitchen inspection citing the canteen clauses by number."""
    book.clause("FS-2018", "C1", "每餐次每个品种留样不少于 125 克", "key")
    book.clause("FS-2018", "C2", "留样冰箱温度 0–10 ℃", "important")
    book.clause("FS-2018", "C4", "专间温度不高于 25 ℃", "important")
    params = {
        "checklist": "kitchen.daily",
        "title": "后厨日检",
        "items": [
            {"key": "sample", "text": "留样齐全", "clause": "C1"},
            {
                "key": "fridge",
                "text": "留样冰箱温度",
                "clause": "C2",
                "type": "measure",
                "unit": "℃",
                "min": 0,
                "max": 10,
            },
            {
                "key": "room",
                "text": "专间温度",
                "clause": "C4",
                "type": "measure",
                "unit": "℃",
                "max": 25,
            },
            {"key": "floor", "text": "地面清洁", "severity": "general"},
            {"key": "bins", "text": "垃圾桶加盖", "severity": "general"},
            {"key": "uniform", "text": "工作服整洁", "severity": "general"},
            {
                "key": "hygiene",
                "text": "整体卫生",
                "type": "score",
                "max_score": 10,
                "weight": 2,
                "deductions": [{"label": "油污", "points": 3}, {"label": "积水", "points": 2}],
            },
        ],
        "grades": BANDS,
        **extra,
    }
    return book.add(
        "kitchen.daily",
        "checklist",
        params,
        code="FS-2018",
        clause="C9",
        text="后厨卫生日检",
        severity="general",
    )


def all_pass(**override):
    answers = {
        "sample": "pass",
        "fridge": 4.0,
        "room": 22,
        "floor": "pass",
        "bins": "pass",
        "uniform": "pass",
        "hygiene": Answer(score=10),
    }
    answers.update(override)
    return answers


def test_it_builds_a_checklist_with_the_cited_clauses(book, world):
    kitchen_checklist(book)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")
    assert (cl.code, cl.title, cl.cite["clause"]) == ("kitchen.daily", "后厨日检", "C9")
    sample = cl.item("sample")
    assert (sample.clause_number, sample.severity) == ("C1", "key")
    assert sample.clause_text == "每餐次每个品种留样不少于 125 克"
    assert (cl.item("fridge").severity, cl.item("fridge").min, cl.item("fridge").max) == (
        "important",
        0,
        10,
    )
    floor = cl.item("floor")
    assert (floor.clause_number, floor.severity) == ("C9", "general")
    assert cl.item("hygiene").severity == "general"  # the rule's own clause
    assert book.calls[-1]["target"] == "checklist:kitchen.daily"
    with pytest.raises(NotFound):
        engine.build_checklist(world.county_a, "nothing.here")


def test_it_judges_measured_values_on_entry(book, world):
    kitchen_checklist(book)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")
    fridge, room = cl.item("fridge"), cl.item("room")
    assert engine.judge_measure(fridge, 0) == Outcome.PASS
    assert engine.judge_measure(fridge, 10) == Outcome.PASS
    assert engine.judge_measure(fridge, 10.5) == Outcome.FAIL
    assert engine.judge_measure(fridge, -1) == Outcome.FAIL
    assert engine.judge_measure(room, -40) == Outcome.PASS
    assert engine.judge_measure(room, 26) == Outcome.FAIL
    with pytest.raises(InvalidInput):
        engine.judge_measure(room, None)


def test_it_grades_by_failed_items_per_severity(book, world):
    kitchen_checklist(book)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")

    g = engine.grade_checklist(cl, all_pass())
    assert (g.grade, g.passed, g.score_percent, g.failed_items) == ("pass", True, 100.0, [])

    g = engine.grade_checklist(cl, all_pass(floor="fail", bins="fail"))
    assert (g.grade, g.failed_by_severity["general"]) == ("pass", 2)

    # 0 key and ≤ 2 important failures → conditional pass.
    g = engine.grade_checklist(cl, all_pass(fridge=12.0, room=30))
    assert (g.grade, g.label, g.passed) == ("conditional", "基本合格", True)
    assert g.failed_by_severity == {"key": 0, "important": 2, "general": 0}
    assert g.outcomes["fridge"] == "fail" and g.outcomes["room"] == "fail"

    g = engine.grade_checklist(cl, all_pass(fridge=12.0, room=30, uniform="fail"))
    assert g.grade == "conditional"

    g = engine.grade_checklist(cl, all_pass(sample="fail"))
    assert (g.grade, g.passed, g.failed_items) == ("fail", False, ["sample"])

    g = engine.grade_checklist(cl, all_pass(floor="fail", bins="fail", uniform="fail"))
    assert g.grade == "conditional"  # 3 general failures are over the first band only


def test_it_scores_by_weight_deductions_and_not_applicable(book, world):
    kitchen_checklist(book)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")
    # weights: six items of 1, hygiene 2 → 8 in all
    g = engine.grade_checklist(cl, all_pass(hygiene=Answer(deductions=("油污",))))
    assert g.score_percent == pytest.approx(100 * (6 + 2 * 0.7) / 8)
    assert g.failed_items == ["hygiene"]
    g = engine.grade_checklist(cl, all_pass(hygiene={"deductions": [0, 1]}))
    assert g.score_percent == pytest.approx(100 * (6 + 2 * 0.5) / 8)
    g = engine.grade_checklist(cl, all_pass(floor="na", bins="fail"))
    assert g.score_percent == pytest.approx(100 * 6 / 7)
    assert g.outcomes["floor"] == "na"
    g = engine.grade_checklist(cl, all_pass(fridge=Answer(outcome="na"), room="na"))
    assert g.score_percent == 100.0
    with pytest.raises(InvalidInput) as exc:
        engine.grade_checklist(cl, all_pass(hygiene=Answer(deductions=("虫害",))))
    assert exc.value.code == "bad_answer"


def test_it_refuses_incomplete_or_unknown_answers(book, world):
    kitchen_checklist(book)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")
    answers = all_pass()
    del answers["bins"]
    with pytest.raises(InvalidInput) as exc:
        engine.grade_checklist(cl, answers)
    assert exc.value.code == "checklist_incomplete" and exc.value.details["items"] == ["bins"]
    assert engine.grade_checklist(cl, answers, partial=True).outcomes["bins"] == "na"
    with pytest.raises(InvalidInput) as exc:
        engine.grade_checklist(cl, all_pass(extra="pass"))
    assert exc.value.code == "checklist_unknown_items"


def test_it_passes_on_the_pass_line_alone(book, world):
    book.add(
        "e3.saving",
        "checklist",
        {
            "checklist": "saving.evaluation",
            "title": "节约型机关评价",
            "pass_line": 80,
            "items": [
                {"key": f"area{i}", "text": f"方面 {i}", "type": "score", "max_score": 100}
                for i in range(1, 7)
            ],
        },
        code="GB-29118",
        clause="E3",
    )
    cl = engine.build_checklist(world.county_a, "saving.evaluation")
    scores = {f"area{i}": Answer(score=80) for i in range(1, 7)}
    g = engine.grade_checklist(cl, scores)
    assert (g.score_percent, g.passed, g.grade) == (80.0, True, "pass")
    scores["area6"] = Answer(score=79)
    g = engine.grade_checklist(cl, scores)
    assert not g.passed and g.grade == "fail"


def test_it_needs_the_pass_line_and_a_band_when_both_are_set(book, world):
    kitchen_checklist(book, pass_line=90)
    cl = engine.build_checklist(world.county_a, "kitchen.daily")
    g = engine.grade_checklist(cl, all_pass(hygiene=Answer(score=0)))
    assert g.grade == "pass"  # a general failure; the band holds…
    assert g.score_percent == 75.0 and not g.passed  # …but the score is under the line


# --- properties -----------------------------------------------------------------------

SEVERITY = ["key", "important", "general"]


def rank(cl, grade):
    names = [b.grade for b in cl.grades]
    return names.index(grade.grade) if grade.grade in names else len(names)


@st.composite
def filled_checklists(draw):
    n = draw(st.integers(1, 8))
    items = [
        {
            "key": f"i{k}",
            "text": f"项 {k}",
            "severity": draw(st.sampled_from(SEVERITY)),
            "weight": draw(st.integers(1, 5)),
        }
        for k in range(n)
    ]
    pass_line = draw(st.one_of(st.none(), st.integers(0, 100)))
    params = {
        "checklist": "p.c",
        "title": "t",
        "items": items,
        "grades": [
            {"grade": "A", "max_failed": {"key": 0, "important": 0, "general": 1}, "min_score": 90},
            {"grade": "B", "max_failed": {"key": 0, "important": 2}},
            {"grade": "C", "max_failed": {"key": 1}, "min_score": 50},
        ],
        "pass_line": pass_line,
    }
    from dayuan.standards.rules import ChecklistParams

    parsed = ChecklistParams.model_validate(params)
    failed = draw(st.sets(st.sampled_from([i["key"] for i in items])))
    return parsed, failed


def _checklist(parsed):
    from dayuan.standards.effective import EffectiveRule

    rule = EffectiveRule(
        rule_id=1,
        key="p.c",
        kind="checklist",
        target="checklist:p.c",
        params=parsed,
        raw_params={},
        clause_id=1,
        clause_number="1",
        clause_text="t",
        severity="general",
        binding=False,
        standard_id=1,
        standard_code="S",
        standard_title="S",
        version_id=1,
        version_number=1,
    )
    return engine.checklist_from_rule(rule)


@settings(max_examples=200, deadline=None)
@given(filled_checklists(), st.data())
def test_it_never_improves_the_grade_for_one_more_failure(case, data):
    parsed, failed = case
    cl = _checklist(parsed)
    remaining = [i.key for i in cl.items if i.key not in failed]
    if not remaining:
        return
    extra = data.draw(st.sampled_from(remaining))
    before = engine.grade_checklist(
        cl, {i.key: "fail" if i.key in failed else "pass" for i in cl.items}
    )
    worse = failed | {extra}
    after = engine.grade_checklist(
        cl, {i.key: "fail" if i.key in worse else "pass" for i in cl.items}
    )
    assert after.score_percent <= before.score_percent
    assert rank(cl, after) >= rank(cl, before)
    assert not (after.passed and not before.passed)
    assert sum(after.failed_by_severity.values()) == len(worse)
