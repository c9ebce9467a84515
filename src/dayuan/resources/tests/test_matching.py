"""Matching: every hard constraint of ``check`` on its own, the cost estimate, the
ranking's order, parts and reasons, scope (county B's poster never gets county A's
owner-only or centre-only resources; city-shared ones yes), a constant number of
queries at 2,000 resources, and the vectorised engine held equal to ``check`` on random
pools."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dayuan.core.errors import NotFound
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind

from .. import matching, queries
from ..choices import (
    EXCLUSIVE_KINDS,
    HEADCOUNT_KINDS,
    STOCK_KINDS,
    AllocationStatus,
    ResourceKind,
    Visibility,
)
from ..matching import WEIGHTS, Need, check, estimate_cost, match
from ..models import Closure, Resource
from .factories import MONDAY, allocation, at, demand, on, resource

pytestmark = pytest.mark.django_db

NOW = on(MONDAY, 8) - timedelta(days=2)  # the Saturday before
FRIDAY = MONDAY + timedelta(days=4)
SATURDAY = MONDAY + timedelta(days=5)
OFFICE = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False}]
COURT = [
    {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "22:00", "offpeak": True},
    {"days": [5, 6], "start": "08:00", "end": "22:00", "offpeak": False},
]


def need(kind=ResourceKind.VENUE, amount=30, start=None, end=None, **kw) -> Need:
    start = start or on(MONDAY, 9)
    return Need(
        kind=kind, amount=amount, start_at=start, end_at=end or start + timedelta(hours=3), **kw
    )


def codes(refusals) -> list[str]:
    return [r.code for r in refusals]


# --- the cost estimate ---------------------------------------------------------------


def test_estimate_cost_by_basis(pw):
    w = pw.world
    n = need(amount=4, start=on(MONDAY, 9), end=on(MONDAY, 11, 10))  # 2 h 10 min -> 2.5 h
    assert estimate_cost(resource(w.county_a), n) == Decimal("0.00")
    hourly = resource(w.county_a, cost=Decimal("80.50"), cost_basis="per_hour")
    assert estimate_cost(hourly, n) == Decimal("201.25")
    exact = need(start=on(MONDAY, 9), end=on(MONDAY, 11, 30))
    assert estimate_cost(hourly, exact) == Decimal("201.25")
    assert estimate_cost(resource(w.county_a, cost=300, cost_basis="per_use"), n) == 300
    per_unit = resource(w.county_a, ResourceKind.ASSET, quantity=10, cost=12, cost_basis="per_unit")
    assert estimate_cost(per_unit, need(ResourceKind.ASSET, amount=4)) == 48


# --- hard constraints, one at a time ---------------------------------------------------


def test_kind_mismatch_is_the_only_refusal(pw):
    team = resource(pw.social, ResourceKind.VOLUNTEER_TEAM, capacity=1)
    refusals = check(team, need(ResourceKind.VENUE, amount=500))
    assert codes(refusals) == ["kind_mismatch"]
    assert "场地" in refusals[0].message and "志愿服务队" in refusals[0].message


def test_capacity_of_exclusive_kinds(pw):
    hall = resource(pw.world.county_a, capacity=50)
    assert check(hall, need(amount=50)) == []
    refusals = check(hall, need(amount=51))
    assert codes(refusals) == ["capacity_short"]
    assert refusals[0].details == {"capacity": 50, "amount": 51}
    assert "可容纳 50 人" in refusals[0].message


def test_headcount_counts_the_busiest_moment_of_overlapping_holds(pw):
    w = pw.world
    team = resource(pw.social, ResourceKind.VOLUNTEER_TEAM, capacity=20, visibility="city")
    staff = w.user("a_staff")
    assert codes(check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=21))) == [
        "headcount_exceeded"
    ]
    # two holds one after the other (9-11, 11-13): the busiest moment is 10, not 20
    allocation(team, staff, start_at=on(MONDAY, 9), end_at=on(MONDAY, 11), amount=10)
    allocation(team, staff, start_at=on(MONDAY, 11), end_at=on(MONDAY, 13), amount=10)
    whole = dict(start=on(MONDAY, 9), end=on(MONDAY, 13))
    assert check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=10, **whole)) == []
    refusals = check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=11, **whole))
    assert codes(refusals) == ["headcount_exceeded"]
    assert refusals[0].details == {"capacity": 20, "held": 10, "amount": 11}
    # an overlapping third hold (10-12, 6 people) makes 16 at once
    third = allocation(team, staff, start_at=on(MONDAY, 10), end_at=on(MONDAY, 12), amount=6)
    assert codes(check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=5, **whole))) == [
        "headcount_exceeded"
    ]
    assert check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=4, **whole)) == []
    # ... unless that allocation is the one being re-checked; requests do not hold
    assert (
        check(team, need(ResourceKind.VOLUNTEER_TEAM, amount=10, **whole),
              exclude_allocation_id=third.pk) == []
    )  # fmt: skip
    allocation(team, staff, amount=20, status=AllocationStatus.REQUESTED)
    allocation(team, staff, amount=20, status=AllocationStatus.CANCELLED)
    # after 13:00 the team is free again
    later = need(ResourceKind.VOLUNTEER_TEAM, amount=20, start=on(MONDAY, 13))
    assert check(team, later) == []


def test_stock_takes_available_and_ignores_windows_and_closures(pw):
    w = pw.world
    desks = resource(w.county_a, ResourceKind.ASSET, quantity=12, windows=OFFICE)
    Resource.objects.filter(pk=desks.pk).update(available=10)
    desks.refresh_from_db()
    Closure.objects.create(resource=desks, start_at=on(SATURDAY, 0), end_at=on(SATURDAY, 23))
    weekend = dict(start=on(SATURDAY, 9))
    assert check(desks, need(ResourceKind.ASSET, amount=10, **weekend)) == []
    refusals = check(desks, need(ResourceKind.ASSET, amount=11, **weekend))
    assert codes(refusals) == ["insufficient_stock"]
    assert refusals[0].details == {"available": 10, "amount": 11}
    assert "可用 10件" in refusals[0].message


def test_attributes_must_all_be_offered(pw):
    hall = resource(pw.world.county_a, attributes=["projector", "air_con", "自带茶歇"])
    assert check(hall, need(attributes=("projector",))) == []
    assert check(hall, need(attributes=("air_con", "projector", "自带茶歇"))) == []
    refusals = check(hall, need(attributes=("projector", "sound", "舞蹈把杆")))
    assert codes(refusals) == ["attributes_missing"]
    assert refusals[0].details == {"missing": ["sound", "舞蹈把杆"]}
    assert "音响" in refusals[0].message and "舞蹈把杆" in refusals[0].message


def test_weekly_windows_office_hours(pw):
    hall = resource(pw.world.county_a, windows=OFFICE)
    assert check(hall, need(start=on(MONDAY, 8), end=on(MONDAY, 18))) == []
    assert codes(check(hall, need(start=on(MONDAY, 17), end=on(MONDAY, 19)))) == ["outside_windows"]
    assert codes(check(hall, need(start=on(MONDAY, 7, 59), end=on(MONDAY, 9)))) == [
        "outside_windows"
    ]
    assert codes(check(hall, need(start=on(SATURDAY, 9)))) == ["outside_windows"]
    # the same instants given in UTC are judged in Asia/Shanghai
    utc = need(start=on(MONDAY, 9).astimezone(UTC), end=on(MONDAY, 12).astimezone(UTC))
    assert check(hall, utc) == []
    # two days in a row: the night between is not open
    assert codes(check(hall, need(start=on(MONDAY, 9), end=on(MONDAY, 9) + timedelta(days=1)))) == [
        "outside_windows"
    ]
    # no windows: any time
    assert check(resource(pw.world.county_a), need(start=on(SATURDAY, 2))) == []


def test_off_peak_sharing_windows(pw):
    court = resource(pw.enterprise, windows=COURT, visibility="city")
    assert check(court, need(start=on(MONDAY, 19), end=on(MONDAY, 21))) == []
    assert check(court, need(start=on(MONDAY, 18), end=on(MONDAY, 22))) == []
    assert codes(check(court, need(start=on(MONDAY, 10), end=on(MONDAY, 12)))) == [
        "outside_windows"
    ]
    # straddling the two windows of a weekday evening is not inside one
    assert codes(check(court, need(start=on(MONDAY, 17), end=on(MONDAY, 19)))) == [
        "outside_windows"
    ]
    assert check(court, need(start=on(SATURDAY, 10), end=on(SATURDAY, 12))) == []


def test_ranges_crossing_midnight_need_a_window_on_each_day(pw):
    night = [
        {"days": [4], "start": "20:00", "end": "24:00"},
        {"days": [5], "start": "00:00", "end": "02:00"},
    ]
    hall = resource(pw.world.county_a, windows=night)
    fri_night = on(FRIDAY, 22)
    assert check(hall, need(start=fri_night, end=on(SATURDAY, 1))) == []
    assert check(hall, need(start=fri_night, end=on(SATURDAY, 2))) == []
    assert codes(check(hall, need(start=fri_night, end=on(SATURDAY, 3)))) == ["outside_windows"]
    thu_night = on(FRIDAY - timedelta(days=1), 22)
    assert codes(check(hall, need(start=thu_night, end=on(FRIDAY, 1)))) == ["outside_windows"]
    # ending exactly at midnight touches Friday only; "23:59" as an end means midnight
    assert check(hall, need(start=on(FRIDAY, 20), end=on(SATURDAY, 0))) == []
    late = resource(pw.world.county_a, windows=[{"days": [4], "start": "20:00", "end": "23:59"}])
    assert check(late, need(start=on(FRIDAY, 20), end=on(SATURDAY, 0))) == []
    assert codes(check(late, need(start=on(FRIDAY, 20), end=on(SATURDAY, 0, 30)))) == [
        "outside_windows"
    ]


def test_closures_block_overlapping_ranges_only(pw):
    hall = resource(pw.world.county_a)
    Closure.objects.create(
        resource=hall, start_at=on(MONDAY, 12), end_at=on(MONDAY, 14), reason="线路检修"
    )
    refusals = check(hall, need(start=on(MONDAY, 11), end=on(MONDAY, 13)))
    assert codes(refusals) == ["closed"]
    assert "线路检修" in refusals[0].message
    assert check(hall, need(start=on(MONDAY, 9), end=on(MONDAY, 12))) == []  # half-open
    assert check(hall, need(start=on(MONDAY, 14), end=on(MONDAY, 16))) == []


def test_exclusive_overlap_with_half_open_boundaries(pw):
    w = pw.world
    hall = resource(w.county_a)
    staff = w.user("a_staff")
    held = allocation(hall, staff, start_at=on(MONDAY, 9), end_at=on(MONDAY, 12))
    assert codes(check(hall, need(start=on(MONDAY, 11), end=on(MONDAY, 13)))) == ["resource_taken"]
    assert codes(check(hall, need(start=on(MONDAY, 8), end=on(MONDAY, 9, 1)))) == ["resource_taken"]
    assert check(hall, need(start=on(MONDAY, 12), end=on(MONDAY, 14))) == []
    assert check(hall, need(start=on(MONDAY, 7), end=on(MONDAY, 9))) == []
    # only holding allocations count; the allocation itself can be left out
    allocation(hall, staff, start_at=on(MONDAY, 14), status=AllocationStatus.REQUESTED)
    allocation(hall, staff, start_at=on(MONDAY, 14), status=AllocationStatus.RETURNED)
    assert check(hall, need(start=on(MONDAY, 14), end=on(MONDAY, 16))) == []
    assert check(hall, need(), exclude_allocation_id=held.pk) == []


def test_budget_against_the_estimate(pw):
    hall = resource(pw.world.county_a, cost=100, cost_basis="per_hour")
    assert check(hall, need(budget=Decimal("300"))) == []  # 3 h x 100
    refusals = check(hall, need(budget=Decimal("250")))
    assert codes(refusals) == ["over_budget"]
    assert "¥300" in refusals[0].message and "¥250" in refusals[0].message
    assert check(hall, need()) == []  # no budget, no limit


def test_every_failed_constraint_is_listed_in_order(pw):
    w = pw.world
    hall = resource(w.county_a, capacity=10, windows=OFFICE, cost=100, cost_basis="per_use")
    allocation(hall, w.user("a_staff"), start_at=on(SATURDAY, 9))
    Closure.objects.create(resource=hall, start_at=on(SATURDAY, 0), end_at=on(SATURDAY, 23))
    refusals = check(
        hall,
        need(amount=11, start=on(SATURDAY, 9), attributes=("stage",), budget=Decimal(50)),
        user=w.user("b_staff"),
    )
    assert codes(refusals) == [
        "capacity_short",
        "attributes_missing",
        "outside_windows",
        "closed",
        "resource_taken",
        "over_budget",
        "not_usable",
    ]
    assert all(r.message for r in refusals)


# --- scope ---------------------------------------------------------------------------


def test_scope_county_b_never_gets_county_a_own_or_centre_resources(pw):
    w = pw.world
    own = resource(w.county_a, name="甲县自用会议室", visibility=Visibility.OWNER)
    centre = resource(w.county_a, name="甲县中心报告厅", visibility=Visibility.CENTRE)
    dept = resource(pw.dept_a, name="甲县财政局会议室", visibility=Visibility.CENTRE)
    shared = resource(w.county_a, name="甲县共享礼堂", visibility=Visibility.CITY)
    public = resource(pw.enterprise, name="城投体育馆", visibility=Visibility.PUBLIC)
    b_own = resource(w.county_b, name="乙县会议室", visibility=Visibility.OWNER)
    b_staff, a_staff = w.user("b_staff"), w.user("a_staff")

    for r in (own, centre, dept):
        assert codes(check(r, need(), user=b_staff)) == ["not_usable"]
    for r in (shared, public, b_own):
        assert check(r, need(), user=b_staff) == []

    b_demand = demand(w.county_b, b_staff)
    names = {c.resource.name for c in match(b_staff, b_demand, now=NOW).candidates}
    assert names == {"甲县共享礼堂", "城投体育馆", "乙县会议室"}
    a_demand = demand(w.county_a, a_staff)
    names = {c.resource.name for c in match(a_staff, a_demand, now=NOW).candidates}
    assert names == {
        "甲县自用会议室",
        "甲县中心报告厅",
        "甲县财政局会议室",
        "甲县共享礼堂",
        "城投体育馆",
    }
    # county A's owner-only (仅本单位) resource is for the people of county A and of the
    # units under it: a department's staff may use it
    dept_staff = pw.user("dept_a_staff")
    d = demand(pw.dept_a, dept_staff)
    names = {c.resource.name for c in match(dept_staff, d, now=NOW).candidates}
    assert "甲县自用会议室" in names and "甲县中心报告厅" in names


def test_match_ranks_for_the_poster_not_for_the_viewer(pw):
    w = pw.world
    resource(w.county_a, name="甲县中心报告厅", visibility=Visibility.CENTRE)
    b_demand = demand(w.county_b, w.user("b_staff"))
    # the city manager sees the demand, but the ranking is of what its poster may use
    result = match(w.user("city_manager"), b_demand, now=NOW)
    assert result.candidates == [] and result.considered == 0


def test_match_needs_the_demand_to_be_visible(pw):
    w = pw.world
    a_demand = demand(w.county_a, w.user("a_staff"))
    with pytest.raises(NotFound):
        match(w.user("b_manager"), a_demand, now=NOW)
    with pytest.raises(NotFound):
        match(w.user("b_staff"), a_demand, now=NOW)
    assert match(w.user("a_manager"), a_demand, now=NOW).considered == 0


# --- ranking ---------------------------------------------------------------------------


def _place(pw):
    """Rooms of county A's building: the demand's room, a room on the same floor, one
    upstairs; and another compound."""
    w = pw.world
    room = w.rooms["a"]
    floor = room.parent
    building = floor.parent
    neighbour = make_location(w.county_a, "102会议室", LocationKind.ROOM, floor)
    upstairs_floor = make_location(w.county_a, "3层", LocationKind.FLOOR, building)
    upstairs = make_location(w.county_a, "301会议室", LocationKind.ROOM, upstairs_floor)
    elsewhere = w.rooms["b"]
    return room, neighbour, upstairs, elsewhere


def test_ranking_order_parts_and_reasons(pw):
    w = pw.world
    room, neighbour, upstairs, elsewhere = _place(pw)
    staff = w.user("a_staff")
    here = resource(w.county_a, name="本室", capacity=60, location=room)
    resource(w.county_a, name="同层", capacity=60, location=neighbour, preference=80)
    resource(w.county_a, name="楼上", capacity=100, location=upstairs, cost=300,
               cost_basis="per_use")  # fmt: skip
    resource(w.county_b, name="乙县", capacity=50, location=elsewhere, visibility="city")
    resource(pw.enterprise, name="城投", capacity=200, visibility="city")
    # 72 hours held in the last 30 days of a resource open around the clock (720 h)
    allocation(here, staff, start_at=NOW - timedelta(days=10), end_at=NOW - timedelta(days=7),
               status=AllocationStatus.RETURNED)  # fmt: skip
    d = demand(w.county_a, staff, amount=50, location=room, budget=Decimal(500),
               preferred_owner=pw.enterprise)  # fmt: skip
    result = match(staff, d, now=NOW)
    assert result.considered == 5 and result.excluded == {}
    by_name = {c.resource.name: c for c in result.candidates}

    # every part as documented, and the score their weighted sum
    assert by_name["本室"].parts == {
        "proximity": 1.0, "fit": round(50 / 60, 4), "cost": 1.0, "balance": 0.9,
        "preference": 0.5,
    }  # fmt: skip
    assert by_name["同层"].parts["proximity"] == round(1 / 3, 4)  # floor in common: d = 2
    assert by_name["楼上"].parts["proximity"] == 0.2  # building in common: d = 4
    assert by_name["楼上"].parts["cost"] == 0.4  # 1 - 300/500
    assert by_name["楼上"].parts["fit"] == 0.5
    assert by_name["乙县"].parts["proximity"] == round(1 / 9, 4)  # no compound in common
    assert by_name["乙县"].parts["fit"] == 1.0
    assert by_name["城投"].parts["preference"] == 1.0
    # no location: city centre → county A (1) vs city → enterprise (1): 2, plus 1
    assert by_name["城投"].parts["proximity"] == 0.25
    for c in result.candidates:
        assert c.score == pytest.approx(sum(WEIGHTS[k] * v for k, v in c.parts.items()), abs=1e-3)
        assert [r.code for r in c.reasons] == list(WEIGHTS)
        assert all(0 <= v <= 1 for v in c.parts.values())
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert [c.resource.name for c in result.candidates] == ["本室", "同层", "乙县", "城投", "楼上"]

    def texts(name):
        return {r.code: r.text for r in by_name[name].reasons}

    assert texts("本室") == {
        "proximity": "同一地点",
        "fit": "可容纳 60 人，需 50 人",
        "cost": "免费",
        "balance": "近30天使用率 10%",
        "preference": "提供方推荐权重 50",
    }
    assert texts("同层")["proximity"] == "同一楼层，距离 2"
    assert texts("同层")["preference"] == "提供方推荐权重 80"
    assert texts("楼上")["proximity"] == "同一楼栋，距离 4"
    assert texts("楼上")["cost"] == "预计费用 ¥300，预算 ¥500"
    assert texts("乙县")["proximity"] == "不在同一大院，距离 8"
    assert texts("城投")["preference"] == "优先提供单位"
    assert texts("城投")["proximity"] == "未标注位置，按单位层级距离 3"
    assert by_name["楼上"].cost == Decimal("300.00")


def test_ranking_prefers_the_nearer_then_the_older(pw):
    w = pw.world
    room, neighbour, upstairs, _elsewhere = _place(pw)
    staff = w.user("a_staff")
    twin_a = resource(w.county_a, name="甲", location=upstairs)
    twin_b = resource(w.county_a, name="乙", location=upstairs)
    nearer = resource(w.county_a, name="近", location=neighbour)
    d = demand(w.county_a, staff, location=room)
    result = match(staff, d, now=NOW)
    assert [c.resource.pk for c in result.candidates] == [nearer.pk, twin_a.pk, twin_b.pk]
    assert len(match(staff, d, limit=2, now=NOW).candidates) == 2


def test_cost_part_without_budget_and_utilisation_of_stock(pw):
    w = pw.world
    staff = w.user("a_staff")
    priced = resource(w.county_a, name="收费", cost=100, cost_basis="per_use")
    d = demand(w.county_a, staff)
    (c,) = match(staff, d, now=NOW).candidates
    assert c.resource == priced
    assert c.parts["cost"] == 0.5  # 1 / (1 + 100/100)
    assert {r.code: r.text for r in c.reasons}["cost"] == "预计费用 ¥100"

    desks = resource(w.county_a, ResourceKind.ASSET, name="办公桌", quantity=40)
    Resource.objects.filter(pk=desks.pk).update(available=30)
    d = demand(w.county_a, staff, ResourceKind.ASSET, amount=5)
    (c,) = match(staff, d, now=NOW).candidates
    assert c.parts["balance"] == 0.75
    assert c.parts["fit"] == 1.0
    assert {r.code: r.text for r in c.reasons}["fit"] == "可用 30件，需 5件"
    assert {r.code: r.text for r in c.reasons}["balance"] == "近30天使用率 25%"


def test_utilisation_counts_window_hours(pw):
    w = pw.world
    staff = w.user("a_staff")
    hall = resource(w.county_a, name="办公时段", windows=OFFICE)  # 50 h a week
    # 30 hours held in the last 30 days; the window hours of 30 days: 50 x 30 / 7
    start = NOW - timedelta(days=9)
    for k in range(3):
        allocation(hall, staff, start_at=start + timedelta(days=k), amount=1,
                   end_at=start + timedelta(days=k, hours=10),
                   status=AllocationStatus.COMPLETED)  # fmt: skip
    # one long before does not count
    allocation(hall, staff, start_at=NOW - timedelta(days=60), status=AllocationStatus.RETURNED)
    (c,) = match(staff, demand(w.county_a, staff), now=NOW).candidates
    assert c.parts["balance"] == round(1 - 30 / (50 * 30 / 7), 4)
    assert {r.code: r.text for r in c.reasons}["balance"] == "近30天使用率 14%"


def test_match_counts_exclusions_under_the_first_refusal(pw):
    w = pw.world
    staff = w.user("a_staff")
    resource(w.county_a, name="小", capacity=10)
    taken = resource(w.county_a, name="占用")
    allocation(taken, staff)
    closed = resource(w.county_a, name="检修")
    Closure.objects.create(resource=closed, start_at=on(MONDAY, 0), end_at=on(MONDAY, 23))
    resource(w.county_a, name="周末", windows=[{"days": [5, 6], "start": "08:00", "end": "20:00"}])
    resource(w.county_a, name="小且周末", capacity=10, windows=[{"days": [5], "start": "08:00",
             "end": "20:00"}])  # fmt: skip
    resource(w.county_a, name="贵", cost=1000, cost_basis="per_use")
    resource(w.county_a, name="合适")
    resource(w.county_a, ResourceKind.VEHICLE, name="车")  # another kind: not considered
    d = demand(w.county_a, staff, budget=Decimal(500))
    result = match(staff, d, now=NOW)
    assert [c.resource.name for c in result.candidates] == ["合适"]
    assert result.considered == 7
    assert result.excluded == {
        "capacity_short": 2,
        "outside_windows": 1,
        "closed": 1,
        "resource_taken": 1,
        "over_budget": 1,
    }


def test_match_query_count_is_constant(pw, django_assert_max_num_queries):
    w = pw.world
    staff = w.user("a_staff")
    room = w.rooms["a"]
    d = demand(w.county_a, staff, location=room, attributes=["projector"], budget=Decimal(900))
    rng = random.Random(9)

    def add(n):
        rows = [
            Resource(org=w.county_a if i % 3 else pw.enterprise,
                     centre=w.county_a if i % 3 else w.city, kind=ResourceKind.VENUE,
                     name=f"场地{i}", capacity=rng.randint(10, 200), unit="人",
                     attributes=sorted(rng.sample(["projector", "sound", "stage"], 2)),
                     windows=OFFICE if i % 2 else [], visibility="city" if i % 3 == 0 else "centre",
                     location=room if i % 4 == 0 else None,
                     cost=rng.choice([0, 100, 500]), cost_basis=rng.choice(["free", "per_hour"]))
            for i in range(n)
        ]  # fmt: skip
        made = Resource.objects.bulk_create(rows)
        for r in made[::10]:
            allocation(r, staff)
            Closure.objects.create(resource=r, start_at=on(MONDAY, 10), end_at=on(MONDAY, 11))
            allocation(r, staff, start_at=NOW - timedelta(days=3), status=AllocationStatus.RETURNED)

    add(20)
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh user: nothing cached
    with CaptureQueriesContext(connection) as small:
        few = match(staff, d, now=NOW)
    assert few.candidates
    add(2000)
    staff = type(staff).objects.get(pk=staff.pk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        many = match(staff, d, limit=20, now=NOW)
    assert many.considered == 2020 and len(many.candidates) == 20
    assert sum(many.excluded.values()) + 20 <= 2020


# --- the engine equals check ---------------------------------------------------------

KINDS = [ResourceKind.VENUE, ResourceKind.VOLUNTEER_TEAM, ResourceKind.ASSET]
ATTRS = ["projector", "sound", "stage", "first_aid"]
WINDOW_CHOICES = [[], OFFICE, COURT, [{"days": [0, 1], "start": "09:00", "end": "12:00"}]]


def _random_pool(pw, rng: random.Random) -> list[Resource]:
    w = pw.world
    owners = [w.county_a, w.county_b, pw.enterprise, pw.social, pw.dept_a, w.city]
    staff = w.user("a_staff")
    made = []
    for i in range(45):
        kind = rng.choice(KINDS)
        r = resource(
            rng.choice(owners), kind, name=f"r{i}", capacity=rng.randint(1, 60),
            quantity=rng.randint(1, 30), attributes=rng.sample(ATTRS, rng.randint(0, 3)),
            windows=rng.choice(WINDOW_CHOICES), visibility=rng.choice(Visibility.values),
            cost=rng.choice([0, 50, 120]), cost_basis=rng.choice(["free", "per_hour", "per_use",
                                                                  "per_unit"]),
            preference=rng.randint(0, 100),
        )  # fmt: skip
        if kind in STOCK_KINDS and rng.random() < 0.5:
            Resource.objects.filter(pk=r.pk).update(available=rng.randint(0, r.quantity))
            r.refresh_from_db()
        if rng.random() < 0.1:
            Resource.objects.filter(pk=r.pk).update(is_active=False)
        if kind not in STOCK_KINDS:
            for _ in range(rng.randint(0, 3)):
                s = on(MONDAY + timedelta(days=rng.randint(0, 5)), rng.randint(6, 20))
                e = s + timedelta(hours=rng.randint(1, 4))
                if rng.random() < 0.3:
                    Closure.objects.create(resource=r, start_at=s, end_at=e)
                else:
                    allocation(r, staff, start_at=s, end_at=e, amount=rng.randint(1, 15),
                               status=rng.choice([AllocationStatus.APPROVED,
                                                  AllocationStatus.IN_USE,
                                                  AllocationStatus.REQUESTED]))  # fmt: skip
        made.append(r)
    return made


def _random_need(rng: random.Random) -> Need:
    kind = rng.choice(KINDS)
    start = on(MONDAY + timedelta(days=rng.randint(0, 5)), rng.randint(6, 21), rng.choice([0, 30]))
    return Need(
        kind=kind,
        amount=rng.randint(1, 40),
        start_at=start,
        end_at=start + timedelta(minutes=rng.choice([30, 60, 90, 180, 300])),
        attributes=tuple(sorted(rng.sample(ATTRS, rng.randint(0, 2)))),
        budget=rng.choice([None, Decimal(0), Decimal(100), Decimal(400)]),
    )


def test_engine_agrees_with_check_on_random_pools(pw):
    rng = random.Random(2026)
    w = pw.world
    _random_pool(pw, rng)
    users = [w.user("a_staff"), w.user("b_staff"), pw.user("dept_a_staff"), w.user("city_manager")]
    compared = 0
    for _ in range(30):
        n = _random_need(rng)
        user = rng.choice(users)
        pool = matching.Pool.load(
            queries.usable_resources(user), kinds=[n.kind], start=n.start_at, end=n.end_at, now=NOW
        )
        kp = pool.kinds[n.kind]
        ev = kp.evaluate(n)
        engine = {int(kp.ids[i]) for i in ev.eligible}
        usable = set(
            queries.usable_resources(user).filter(kind=n.kind).values_list("pk", flat=True)
        )
        expected, first = set(), Counter()
        for r in Resource.objects.filter(kind=n.kind):
            refusals = check(r, n, user=user)
            if r.pk not in usable:
                assert "not_usable" in codes(refusals)
            elif not refusals:
                expected.add(r.pk)
            else:
                first[refusals[0].code] += 1
        assert engine == expected
        assert ev.excluded == dict(first)
        assert ev.considered == len(usable)
        compared += len(expected)
    assert compared > 15  # the random cases do find fits


def test_need_of_a_demand(pw):
    w = pw.world
    d = demand(w.county_a, w.user("a_staff"), ResourceKind.VEHICLE, amount=7,
               attributes=["seats_45", "driving", "driving"], budget=Decimal(800),
               location=w.rooms["a"], preferred_owner=pw.enterprise,
               priority="urgent", start_at=at(2026, 12, 8, 7))  # fmt: skip
    n = Need.of(d)
    assert n == Need(kind="vehicle", amount=7, start_at=at(2026, 12, 8, 7),
                     end_at=at(2026, 12, 8, 10), attributes=("driving", "seats_45"),
                     budget=Decimal(800), location_id=w.rooms["a"].pk, org_id=w.county_a.pk,
                     preferred_owner_id=pw.enterprise.pk, priority="urgent")  # fmt: skip
    assert ResourceKind.VEHICLE in EXCLUSIVE_KINDS and not HEADCOUNT_KINDS & {n.kind}
