"""Schedule rules: period grids, seasonal variants, missed occurrences."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dayuan.standards import engine
from dayuan.standards.rules import ScheduleParams
from dayuan.standards.tests.test_engine import SH, RuleBook, at


@pytest.fixture
def book(world, monkeypatch) -> RuleBook:
    return RuleBook(world.city, monkeypatch)


LIGHTNING = {
    "target": {"asset_type": "lightning_rod", "activity": "patrol.lightning_rod"},
    "frequency": {"every": 1, "unit": "quarter"},
    "seasons": [
        {"label": "雷雨季", "months": [4, 5, 6, 7, 8, 9], "frequency": {"unit": "half_month"}}
    ],
}
LAWN = {
    "target": {"location_tag": "草坪", "activity": "green.mow"},
    "frequency": {"every": 1, "unit": "quarter"},
    "seasons": [
        {"label": "春夏", "months": [3, 4, 5, 6, 7, 8], "frequency": {"every": 2, "unit": "month"}}
    ],
}


def spans(occs):
    return [(o.period_start, o.period_end) for o in occs]


def test_it_patrols_lightning_rods_half_monthly_in_july_and_quarterly_in_november(book, world):
    book.add("p9.rods", "schedule", LIGHTNING, code="JG-2015", clause="P9", text="避雷针巡查")
    july = engine.due_occurrences(world.county_a, at(2024, 7, 1), at(2024, 8, 1))
    assert spans(july) == [
        (at(2024, 7, 1), at(2024, 7, 16)),
        (at(2024, 7, 16), at(2024, 8, 1)),
    ]
    o = july[0]
    assert (o.activity, o.target_type, o.target, o.rule_key) == (
        "patrol.lightning_rod",
        "asset_type",
        "lightning_rod",
        "p9.rods",
    )
    assert o.cite["clause"] == "P9" and o.due == at(2024, 7, 16)
    november = engine.due_occurrences(world.county_a, at(2024, 11, 1), at(2024, 12, 1))
    assert spans(november) == [(at(2024, 10, 1), at(2025, 1, 1))]
    year = engine.due_occurrences(world.county_a, at(2024, 1, 1), at(2025, 1, 1))
    assert len(year) == 1 + 12 + 1  # Jan–Mar, 12 half-months, Oct–Dec
    assert book.calls[-1]["kind"] == "schedule"


def test_it_mows_lawns_every_two_months_in_spring_and_summer_quarterly_otherwise(book, world):
    book.add("p13.lawn", "schedule", LAWN, code="JG-2015", clause="P13", text="草坪修剪")
    year = engine.due_occurrences(world.county_a, at(2024, 1, 1), at(2025, 1, 1))
    assert spans(year) == [
        (at(2023, 12, 1), at(2024, 3, 1)),
        (at(2024, 3, 1), at(2024, 5, 1)),
        (at(2024, 5, 1), at(2024, 7, 1)),
        (at(2024, 7, 1), at(2024, 9, 1)),
        (at(2024, 9, 1), at(2024, 12, 1)),
        (at(2024, 12, 1), at(2025, 3, 1)),
    ]
    assert year[0].target_type == "location_tag" and year[0].target == "草坪"


def test_it_filters_by_activity(book, world):
    book.add("p9.rods", "schedule", LIGHTNING, code="JG-2015", clause="P9")
    book.add("p13.lawn", "schedule", LAWN, code="JG-2015", clause="P13")
    occ = engine.due_occurrences(
        world.county_a, at(2024, 7, 1), at(2024, 7, 2), activity="green.mow"
    )
    assert [o.rule_key for o in occ] == ["p13.lawn"]
    assert book.calls[-1]["target"] == "schedule:green.mow"
    assert engine.due_occurrences(world.county_a, at(2024, 7, 2), at(2024, 7, 1)) == []


def test_it_serves_three_meals_a_day(book, world):
    book.add(
        "c1.sample_meal",
        "schedule",
        {
            "target": {"record_type": "canteen.sample", "activity": "canteen.sample"},
            "frequency": {"unit": "meal"},
            "grace_hours": 1,
        },
        code="FS-2018",
        clause="C1",
    )
    occ = engine.due_occurrences(world.county_a, at(2024, 3, 15, 10), at(2024, 3, 16, 10))
    assert spans(occ) == [
        (at(2024, 3, 15, 11), at(2024, 3, 15, 13)),
        (at(2024, 3, 15, 17), at(2024, 3, 15, 19)),
        (at(2024, 3, 16, 7), at(2024, 3, 16, 9)),
    ]
    assert occ[0].grace_hours == 1


@pytest.mark.parametrize(
    ("frequency", "start", "expected"),
    [
        ({"unit": "day"}, at(2024, 3, 15, 10), (at(2024, 3, 15), at(2024, 3, 16))),
        ({"unit": "week"}, at(2024, 3, 15, 10), (at(2024, 3, 11), at(2024, 3, 18))),
        ({"unit": "half_month"}, at(2024, 2, 20), (at(2024, 2, 16), at(2024, 3, 1))),
        ({"unit": "month"}, at(2024, 2, 20), (at(2024, 2, 1), at(2024, 3, 1))),
        ({"every": 2, "unit": "month"}, at(2024, 2, 20), (at(2024, 1, 1), at(2024, 3, 1))),
        ({"every": 6, "unit": "month"}, at(2024, 8, 2), (at(2024, 7, 1), at(2025, 1, 1))),
        ({"unit": "quarter"}, at(2024, 5, 5), (at(2024, 4, 1), at(2024, 7, 1))),
        ({"unit": "year"}, at(2024, 5, 5), (at(2024, 1, 1), at(2025, 1, 1))),
        ({"every": 2, "unit": "week"}, at(2024, 1, 10), (at(2024, 1, 1), at(2024, 1, 15))),
    ],
)
def test_it_aligns_periods_to_the_calendar(frequency, start, expected):
    params = ScheduleParams.model_validate(
        {"target": {"location_tag": "x", "activity": "a"}, "frequency": frequency}
    )
    first = next(engine.schedule_periods(params, start, start + timedelta(hours=1)))
    assert first == expected


def test_it_tells_a_missed_occurrence(book, world):
    book.add(
        "p11.stairs",
        "schedule",
        {
            "target": {"location_tag": "楼梯", "activity": "clean.stairs"},
            "frequency": {"unit": "day"},
            "grace_hours": 2,
        },
        code="JG-2015",
        clause="P11",
    )
    (occ,) = engine.due_occurrences(world.county_a, at(2024, 3, 15, 9), at(2024, 3, 15, 10))
    assert not engine.missed(occ, [], at(2024, 3, 16, 1, 59))  # still within grace
    assert engine.missed(occ, [], at(2024, 3, 16, 2, 1))
    assert not engine.missed(occ, [at(2024, 3, 15, 8)], at(2024, 3, 17))
    assert not engine.missed(occ, [at(2024, 3, 16, 1)], at(2024, 3, 17))  # done in grace
    assert engine.missed(occ, [at(2024, 3, 14, 23), at(2024, 3, 16, 3)], at(2024, 3, 17))


# --- properties -----------------------------------------------------------------------

UNITS = ["day", "week", "half_month", "month", "quarter", "year"]
frequencies = st.builds(
    lambda every, unit: {"every": every, "unit": unit},
    st.integers(1, 5),
    st.sampled_from(UNITS),
)
seasons = st.one_of(
    st.just([]),
    st.builds(
        lambda months, freq: [{"months": sorted(months), "frequency": freq}],
        st.sets(st.integers(1, 12), min_size=1, max_size=11),
        frequencies,
    ),
)
instants = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=SH)
)


@settings(max_examples=150, deadline=None)
@given(frequencies, seasons, instants, st.integers(1, 400 * 24))
def test_it_tiles_the_window_without_gaps_or_overlaps(freq, season_list, start, hours):
    params = ScheduleParams.model_validate(
        {"target": {"asset_type": "x", "activity": "a"}, "frequency": freq, "seasons": season_list}
    )
    end = start + timedelta(hours=hours)
    periods = list(engine.schedule_periods(params, start, end))
    assert periods
    assert periods[0][0] <= start < periods[0][1]
    assert periods[-1][0] < end <= periods[-1][1]
    for (a0, a1), (b0, b1) in itertools.pairwise(periods):
        assert a0 < a1 and a1 == b0 and b0 < b1
    for p0, p1 in periods:
        local = p0.astimezone(SH)
        assert (local.hour, local.minute) == (0, 0)  # periods start at midnight
        # A period is at most as long as the frequency of the month it starts in (real
        # months run to 31 days where period_days counts 30).
        limit = params.frequency_for_month(local.month).period_days() * 1.04 + 1
        assert (p1 - p0).total_seconds() / 86400 <= limit


@settings(max_examples=60, deadline=None)
@given(instants, st.integers(1, 20 * 24), st.integers(1, 4))
def test_it_keeps_meals_in_order_and_apart(start, hours, every):
    params = ScheduleParams.model_validate(
        {
            "target": {"record_type": "x", "activity": "a"},
            "frequency": {"every": every, "unit": "meal"},
        }
    )
    end = start + timedelta(hours=hours)
    periods = list(engine.schedule_periods(params, start, end))
    for p0, p1 in periods:
        assert p0 < p1 and p1 > start and p0 < end
    for (_, a1), (b0, _) in itertools.pairwise(periods):
        assert a1 <= b0
    if every == 1:
        for p0, p1 in periods:
            assert (p0.astimezone(SH).hour, p1 - p0) in {
                (7, timedelta(hours=2)),
                (11, timedelta(hours=2)),
                (17, timedelta(hours=2)),
            }
