"""Dashboard figures from rows written straight to the tables, checked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind
from dayuan.workorders import reports
from dayuan.workorders.choices import Status
from dayuan.workorders.models import ServiceCategory

from .test_views import build_repair, orm_order, orm_timer

SH = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
DAY2 = datetime(2026, 3, 3, 23, 30, tzinfo=SH)  # late evening: still 3 March in Shanghai
PERIOD = reports.Period(DAY1.date(), DAY2.date() + timedelta(days=1))
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=SH)


@pytest.fixture
def rows(world):
    category, team = build_repair(world)
    clean = ServiceCategory.objects.create(
        org=world.city, code="clean", name="保洁", sla_category="clean"
    )
    a_room, b_room = world.rooms["a"], world.rooms["b"]
    # a second building in county A's compound
    compound = a_room.parent.parent.parent
    b2 = make_location(world.county_a, "甲县2号楼", LocationKind.BUILDING, compound)
    b2_room = make_location(world.county_a, "201室", LocationKind.ROOM, b2)
    o = {}
    o["a1"] = orm_order(
        world,
        category,
        a_room,
        status=Status.CONFIRMED,
        submitted_at=DAY1,
        rating=5,
        team=team,
        vendor=world.vendor,
    )
    o["a2"] = orm_order(
        world,
        category,
        a_room,
        status=Status.CONFIRMED,
        submitted_at=DAY1,
        rating=3,
        team=team,
        vendor=world.vendor,
    )
    o["a3"] = orm_order(world, clean, b2_room, status=Status.CLOSED, submitted_at=DAY2)  # unrated
    o["a4"] = orm_order(world, category, b2_room, status=Status.DISPATCHED, submitted_at=DAY2)
    o["b1"] = orm_order(
        world,
        category,
        b_room,
        status=Status.CONFIRMED,
        submitted_at=DAY2,
        rating=4,
        requester=world.user("b_staff"),
    )
    o["old"] = orm_order(world, category, a_room, submitted_at=DAY1 - timedelta(days=40))
    # clocks: respond met in time (a1, b1), met late (a2), open and past due (a4);
    # resolve met in time (a1), still running and not yet due (a4 created now-ish)
    orm_timer(o["a1"], "respond", minutes=30, met_after=10)
    orm_timer(o["a2"], "respond", minutes=30, met_after=45, breached=True)
    orm_timer(o["a4"], "respond", minutes=30)  # due DAY2 + 30 min < NOW: overdue
    orm_timer(o["b1"], "respond", minutes=30, met_after=5)
    orm_timer(o["a1"], "resolve", minutes=240, met_after=100)
    orm_timer(o["a4"], "resolve", minutes=60 * 24 * 7)  # running, not due
    return o


def test_it_counts_volumes_by_day_category_building_vendor_and_org(world, rows):
    data = reports.dashboard(world.user("city_manager"), PERIOD, now=NOW)
    assert data["totals"] == {"total": 5, "open": 1, "overdue": 2}  # a2 late-met, a4 past due
    days = {r["day"]: r["count"] for r in data["by_day"]}
    assert days == {"2026-03-02": 2, "2026-03-03": 3, "2026-03-04": 0}
    assert {r["name"]: r["count"] for r in data["by_category"]} == {"水电维修": 4, "保洁": 1}
    buildings = {r["name"]: r["count"] for r in data["by_building"]}
    assert buildings == {"甲县1号楼": 2, "甲县2号楼": 2, "乙县1号楼": 1}
    vendors = {r["name"]: (r["count"], r["mean_rating"]) for r in data["by_vendor"]}
    assert vendors == {"甲县物业服务公司": (2, 4.0), "": (3, 4.0)}
    # the city sees the counties side by side
    orgs = {r["name"]: r for r in data["by_org"]}
    assert set(orgs) == {"甲县机关服务中心", "乙县机关服务中心"}
    assert orgs["甲县机关服务中心"]["count"] == 4 and orgs["甲县机关服务中心"]["open"] == 1
    assert orgs["甲县机关服务中心"]["overdue"] == 2
    assert orgs["甲县机关服务中心"]["satisfied_rate"] == 0.5  # 5 and 3 rated; a3 unrated
    assert orgs["乙县机关服务中心"]["satisfied_rate"] == 1.0


def test_it_rates_on_time_per_clock_over_decided_clocks_only(world, rows):
    data = reports.dashboard(world.user("city_manager"), PERIOD, now=NOW)
    by_name = {r["name"]: r for r in data["on_time"]}
    # respond: a1 and b1 in time, a2 late; a4's is open (undecided) -> 2 / 3
    assert (by_name["respond"]["on_time"], by_name["respond"]["decided"]) == (2, 3)
    assert by_name["respond"]["rate"] == round(2 / 3, 4)
    assert by_name["respond"]["label"] == "响应"
    assert (by_name["resolve"]["on_time"], by_name["resolve"]["decided"]) == (1, 1)


def test_unrated_orders_never_count_as_satisfied(world, rows):
    data = reports.dashboard(world.user("city_manager"), PERIOD, now=NOW)
    # rated: 5, 3, 4 -> mean 4.0, 4–5 share 2/3; a3 (closed unrated) and a4 are left out
    assert data["satisfaction"] == {"rated": 3, "mean": 4.0, "satisfied_rate": round(2 / 3, 4)}


def test_a_county_sees_only_its_own_figures(world, rows):
    data = reports.dashboard(world.user("a_manager"), PERIOD, now=NOW)
    assert data["totals"]["total"] == 4
    assert [r["name"] for r in data["by_org"]] == ["甲县机关服务中心"]
    assert "乙县1号楼" not in {r["name"] for r in data["by_building"]}
    b = reports.dashboard(world.user("b_dispatcher"), PERIOD, now=NOW)
    assert b["totals"]["total"] == 1 and b["satisfaction"]["mean"] == 4.0
    # staff and vendor workers oversee nothing
    assert reports.dashboard(world.user("a_staff"), PERIOD, now=NOW)["totals"]["total"] == 0
    assert reports.dashboard(world.user("vendor_worker"), PERIOD, now=NOW)["totals"]["total"] == 0
    # a city manager narrowing to county B gets B only; county A cannot narrow to B
    city_b = reports.dashboard(
        world.user("city_manager"), PERIOD, org_id=world.county_b.pk, now=NOW
    )
    assert city_b["totals"]["total"] == 1
    a_b = reports.dashboard(world.user("a_manager"), PERIOD, org_id=world.county_b.pk, now=NOW)
    assert a_b["totals"]["total"] == 0


def test_the_period_bounds_are_shanghai_days(world, rows):
    one_day = reports.Period(DAY2.date(), DAY2.date())
    data = reports.dashboard(world.user("city_manager"), one_day, now=NOW)
    assert data["totals"]["total"] == 3
    assert data["by_day"] == [{"day": "2026-03-03", "count": 3}]
