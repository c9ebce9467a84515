"""The read side's lists: their filters, their ordering, refused filter values, a
resource's calendar (windows, closures, holdings; whose holding it is only for those
who may see it), the window arithmetic, and on PostgreSQL the indexes the main lists
use. Visibility itself is in test_scope; figures and volume in test_stats."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection

from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind

from .. import queries
from ..choices import (
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    Priority,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)
from ..models import Allocation, Closure, MatchProposal
from .factories import MONDAY, allocation, at, demand, on, resource
from .test_scope import activity, project, run, signup, transfer, volunteer

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
WEEKDAYS = [0, 1, 2, 3, 4]


def names(rows) -> list[str]:
    return [r.name for r in rows]


def pks(rows) -> list[int]:
    return [r.pk for r in rows]


# --- resources -------------------------------------------------------------------------


def test_resource_list_filters_and_order(pw):
    w = pw.world
    hall = make_location(w.county_a, "甲县文化广场", LocationKind.COMPOUND)
    small = resource(w.county_a, name="B小会议室", capacity=20)
    big = resource(w.county_a, name="A大礼堂", capacity=200, location=hall)
    twin = resource(pw.dept_a, name="A大礼堂", capacity=60, address="人民路1号")
    bus = resource(pw.enterprise, ResourceKind.VEHICLE, name="大巴", visibility=Visibility.PUBLIC)
    desks = resource(
        w.county_a,
        ResourceKind.ASSET,
        name="办公桌",
        quantity=8,
        stock_status=StockStatus.STORED,
        description="九成新实木",
    )
    old = resource(w.county_b, name="旧礼堂", is_active=False)
    city = pw.user("city_manager")

    # kind, then name, then id
    assert pks(queries.resource_list(city)) == [big.pk, twin.pk, small.pk, bus.pk, desks.pk]
    assert pks(queries.resource_list(city, kind="asset,vehicle")) == [bus.pk, desks.pk]
    with_old = [big.pk, twin.pk, small.pk, old.pk, bus.pk, desks.pk]
    assert pks(queries.resource_list(city, include_inactive=True)) == with_old
    assert pks(queries.resource_list(city, kind="venue")) == [big.pk, twin.pk, small.pk]
    assert pks(queries.resource_list(city, kind="vehicle,asset")) == [bus.pk, desks.pk]
    assert pks(queries.resource_list(city, kind="venue", min_capacity=60)) == [big.pk, twin.pk]
    assert pks(queries.resource_list(city, visibility="public")) == [bus.pk]
    assert pks(queries.resource_list(city, stock_status="stored")) == [desks.pk]
    # an org filter takes its subtree: county A and its finance bureau
    assert pks(queries.resource_list(city, org_id=w.county_a.pk)) == [
        big.pk,
        twin.pk,
        small.pk,
        desks.pk,
    ]
    assert pks(queries.resource_list(city, org_id=pw.dept_a.pk)) == [twin.pk]
    assert list(queries.resource_list(city, org_id=999_999)) == []
    # text: name, address, description, owner
    assert pks(queries.resource_list(city, q="礼堂")) == [big.pk, twin.pk]
    assert pks(queries.resource_list(city, q="人民路")) == [twin.pk]
    assert pks(queries.resource_list(city, q="实木")) == [desks.pk]
    assert pks(queries.resource_list(city, q=" 城投 ")) == [bus.pk]
    got = queries.resource_list(city, q="礼堂")[0]
    assert (got.org.name, got.location.name) == ("甲县机关服务中心", "甲县文化广场")


@pytest.mark.parametrize(
    ("fn", "kwargs", "field"),
    [
        (queries.resource_list, {"kind": "spaceship"}, "kind"),
        (queries.resource_list, {"kind": "venue,,"}, None),
        (queries.resource_list, {"visibility": "secret"}, "visibility"),
        (queries.resource_list, {"stock_status": "lost"}, "stock_status"),
        (queries.demand_list, {"status": "open,nope"}, "status"),
        (queries.demand_list, {"priority": "asap"}, "priority"),
        (queries.allocation_list, {"side": "theirs"}, "side"),
        (queries.allocation_list, {"status": "held"}, "status"),
        (queries.transfer_list, {"kind": "stolen"}, "kind"),
        (queries.activity_list, {"status": "maybe"}, "status"),
        (queries.project_list, {"status": "dreamt"}, "status"),
    ],
)
def test_unknown_filter_values_are_refused(pw, fn, kwargs, field):
    if field is None:  # empty pieces are ignored, the rest must be valid
        assert list(fn(pw.user("city_manager"), **kwargs)) == []
        return
    with pytest.raises(InvalidInput) as err:
        fn(pw.user("city_manager"), **kwargs)
    assert err.value.code == "bad_filter" and err.value.details == {"field": field}


# --- demands and allocations -----------------------------------------------------------


def test_demand_list_filters_and_order(pw):
    w = pw.world
    staff, other = pw.user("a_staff"), pw.user("dept_a_staff")
    proj = project(w.county_a, pw.user("a_manager"))
    d1 = demand(w.county_a, staff, start_at=on(MONDAY, 9), title="培训场地")
    d2 = demand(w.county_a, staff, start_at=on(MONDAY, 9), title="会议用车", status="matched")
    d3 = demand(
        pw.dept_a,
        other,
        ResourceKind.VOLUNTEER_TEAM,
        start_at=on(TUESDAY, 9),
        priority=Priority.URGENT,
        project=proj,
        title="助老志愿者",
    )
    d4 = demand(w.county_a, staff, start_at=on(MONDAY, 8), status=DemandStatus.CANCELLED)
    manager = pw.user("a_manager")
    # the latest posted first, ties by id (newest first)
    assert pks(queries.demand_list(manager)) == [d3.pk, d2.pk, d1.pk, d4.pk]
    assert pks(queries.demand_list(manager, status="open,matched")) == [d3.pk, d2.pk, d1.pk]
    assert pks(queries.demand_list(manager, kind="volunteer_team")) == [d3.pk]
    assert pks(queries.demand_list(manager, priority="urgent")) == [d3.pk]
    assert pks(queries.demand_list(manager, org_id=pw.dept_a.pk)) == [d3.pk]
    assert pks(queries.demand_list(manager, project_id=proj.pk)) == [d3.pk]
    assert pks(queries.demand_list(manager, q="用车")) == [d2.pk]
    assert pks(queries.demand_list(manager, q=d1.number)) == [d1.pk]
    assert pks(queries.demand_list(manager, mine=True)) == []
    assert pks(queries.demand_list(staff, mine=True)) == [d2.pk, d1.pk, d4.pk]
    first = queries.demand_list(manager)[0]
    assert (first.org.name, first.posted_by.username) == ("甲县财政局", "dept_a_staff")


def test_demand_approvals_oldest_first(pw):
    staff = pw.user("dept_a_staff")
    manager = pw.user("dept_a_manager")
    late = demand(pw.dept_a, staff, start_at=on(TUESDAY, 9), approver=manager, status="submitted")
    early = demand(pw.dept_a, staff, start_at=on(MONDAY, 9), approver=manager, status="submitted")
    demand(pw.dept_a, staff, approver=manager)  # open already
    assert pks(queries.demand_approvals(manager)) == [early.pk, late.pk]
    assert pks(queries.demand_approvals(staff)) == []


def test_allocation_list_filters_and_order(pw):
    w = pw.world
    staff = pw.user("a_staff")
    venue = resource(w.county_a, name="礼堂", capacity=100)
    car = resource(w.county_a, ResourceKind.VEHICLE, name="公务车", capacity=5)
    d = demand(w.county_a, staff)
    a1 = allocation(venue, staff, demand=d, start_at=on(MONDAY, 9))
    a2 = allocation(car, staff, start_at=on(MONDAY, 14), status=AllocationStatus.REQUESTED)
    a3 = allocation(venue, staff, start_at=on(TUESDAY, 9), status=AllocationStatus.RETURNED)
    a4 = allocation(car, staff, start_at=on(MONDAY, 14), status=AllocationStatus.CANCELLED)
    manager = pw.user("a_manager")
    assert pks(queries.allocation_list(manager)) == [a3.pk, a4.pk, a2.pk, a1.pk]
    assert pks(queries.allocation_list(manager, status="approved,requested")) == [a2.pk, a1.pk]
    assert pks(queries.allocation_list(manager, resource_id=venue.pk)) == [a3.pk, a1.pk]
    assert pks(queries.allocation_list(manager, demand_id=d.pk)) == [a1.pk]
    assert pks(queries.allocation_list(staff, side="mine", status="requested")) == [a2.pk]
    got = queries.allocation_list(manager)[0]
    assert (got.resource.name, got.requester_org.name, got.org.name) == (
        "礼堂",
        "甲县机关服务中心",
        "甲县机关服务中心",
    )


def test_pending_approvals_oldest_first(pw):
    w = pw.world
    staff = pw.user("a_staff")
    venue = resource(w.county_a, name="礼堂", capacity=100)
    later = allocation(venue, staff, start_at=on(TUESDAY, 9), status="requested")
    sooner = allocation(venue, staff, start_at=on(MONDAY, 9), status="requested")
    allocation(venue, staff, start_at=on(MONDAY, 14))  # approved already
    assert pks(queries.pending_approvals(pw.user("a_manager"))) == [sooner.pk, later.pk]
    assert pks(queries.pending_approvals(pw.user("a_dispatcher"))) == []  # oversees only


# --- warehouse, volunteers, activities, projects, runs --------------------------------------


def test_transfer_list_filters_by_local_day_and_side(pw):
    w = pw.world
    m = pw.user("a_manager")
    chairs = resource(w.county_a, ResourceKind.ASSET, name="椅子", quantity=20)
    late_sunday, early_monday = at(2026, 12, 6, 23, 30), at(2026, 12, 7, 0, 10)
    t_in = transfer(chairs, TransferKind.IN, pw.enterprise, w.county_a, m, at=late_sunday)
    t_out = transfer(chairs, TransferKind.OUT, w.county_a, pw.dept_a, m, at=early_monday)
    city = pw.user("city_manager")
    assert pks(queries.transfer_list(city)) == [t_out.pk, t_in.pk]
    assert pks(queries.transfer_list(city, end=date(2026, 12, 6))) == [t_in.pk]
    assert pks(queries.transfer_list(city, start=date(2026, 12, 7))) == [t_out.pk]
    assert pks(queries.transfer_list(city, kind="in")) == [t_in.pk]
    assert pks(queries.transfer_list(city, org_id=pw.dept_a.pk)) == [t_out.pk]
    assert pks(queries.transfer_list(city, org_id=pw.enterprise.pk)) == [t_in.pk]
    assert pks(queries.transfer_list(city, resource_id=chairs.pk + 1)) == []


def test_volunteer_list_most_hours_first(pw):
    social = pw.social
    v1 = volunteer(social, "张三", hours=12)
    v2 = volunteer(social, "李四", hours=30, phone="13800000000")
    v3 = volunteer(social, "王五", hours=12)
    v4 = volunteer(social, "赵六", hours=99, is_active=False)
    keeper = pw.user("social_manager")
    assert pks(queries.volunteer_list(keeper)) == [v2.pk, v1.pk, v3.pk]  # 张 < 王 by code point
    assert pks(queries.volunteer_list(keeper, include_inactive=True))[0] == v4.pk
    assert pks(queries.volunteer_list(keeper, q="1380000")) == [v2.pk]
    assert pks(queries.volunteer_list(keeper, org_id=pw.world.county_a.pk)) == []


def test_activity_list_upcoming_mine_and_signed_up(pw):
    w = pw.world
    keeper = pw.user("a_manager")
    staff = pw.user("a_staff")
    me = volunteer(w.county_a, "甲县志愿者", user=staff)
    past = activity(w.county_a, keeper, title="上周", start_at=on(MONDAY - timedelta(days=7), 9))
    today = activity(w.county_a, keeper, title="今天", start_at=on(MONDAY, 9))
    later = activity(w.county_a, keeper, title="明天", start_at=on(TUESDAY, 9))
    off = activity(
        w.county_a, keeper, title="取消", start_at=on(TUESDAY, 8), status=ActivityStatus.CANCELLED
    )
    signup(today, me)
    signup(later, me, status=SignUpStatus.CANCELLED)
    now = on(MONDAY, 10)  # today's is under way: still upcoming until it ends
    got = queries.activity_list(staff, now=now)
    assert pks(got) == [today.pk, later.pk]
    assert [a.signed_up for a in got] == [True, False]
    assert pks(queries.activity_list(staff, upcoming=False)) == [
        later.pk,
        off.pk,
        today.pk,
        past.pk,
    ]
    assert pks(queries.activity_list(staff, upcoming=False, mine=True)) == [today.pk]
    assert pks(queries.activity_list(staff, upcoming=False, status="cancelled")) == [off.pk]
    assert pks(queries.activity_list(staff, now=on(MONDAY, 13))) == [later.pk]
    assert queries.activity_list(staff, now=now)[0].org.name == "甲县机关服务中心"


def test_signup_list_keeper_sees_all_volunteer_sees_own(pw):
    w = pw.world
    keeper = pw.user("a_manager")
    act = activity(w.county_a, keeper)
    me = volunteer(w.county_a, "甲县志愿者", user=pw.user("a_staff"))
    other = volunteer(w.county_a, "另一位")
    s1, s2 = signup(act, me), signup(act, other)
    assert pks(queries.signup_list(keeper, act.pk)) == [s1.pk, s2.pk]
    assert pks(queries.signup_list(pw.user("a_staff"), act.pk)) == [s1.pk]
    with pytest.raises(NotFound):
        queries.signup_list(pw.user("b_manager"), act.pk)


def test_project_list_filters(pw):
    w = pw.world
    leader = pw.user("a_manager")
    p1 = project(w.county_a, leader, title="老旧小区加装扶手")
    p2 = project(pw.dept_a, leader, title="社区食堂", status=ProjectStatus.IN_PROGRESS)
    staff = pw.user("a_staff")
    assert pks(queries.project_list(staff)) == [p2.pk, p1.pk]
    assert pks(queries.project_list(staff, status="in_progress")) == [p2.pk]
    assert pks(queries.project_list(staff, q="扶手")) == [p1.pk]
    assert pks(queries.project_list(staff, org_id=pw.dept_a.pk)) == [p2.pk]
    assert queries.project_list(staff)[0].leader.username == "a_manager"


def test_proposals_matched_best_first_then_unmatched(pw):
    w = pw.world
    m = pw.user("a_manager")
    r = run(w.county_a, m)
    venue = resource(w.county_a, name="礼堂")
    ds = [demand(w.county_a, pw.user("a_staff"), start_at=on(MONDAY, h)) for h in (9, 10, 11, 12)]
    p_none_late = MatchProposal.objects.create(run=r, demand=ds[3], unmatched_reason="outcompeted")
    p_low = MatchProposal.objects.create(run=r, demand=ds[0], resource=venue, score=0.4)
    p_none = MatchProposal.objects.create(
        run=r, demand=ds[1], unmatched_reason="no_candidate:capacity_short"
    )
    p_high = MatchProposal.objects.create(run=r, demand=ds[2], resource=venue, score=0.9)
    assert pks(queries.proposal_list(m, r.pk)) == [p_high.pk, p_low.pk, p_none.pk, p_none_late.pk]
    assert queries.proposal_list(m, r.pk)[0].demand.org.name == "甲县机关服务中心"
    assert pks(queries.run_list(m)) == [r.pk]
    assert pks(queries.run_list(m, org_id=w.county_b.pk)) == []


def test_closure_list(pw):
    venue = resource(pw.world.county_a, name="礼堂")
    done = Closure.objects.create(resource=venue, start_at=on(MONDAY, 8), end_at=on(MONDAY, 12))
    soon = Closure.objects.create(resource=venue, start_at=on(TUESDAY, 8), end_at=on(TUESDAY, 12))
    staff = pw.user("a_staff")
    assert pks(queries.closure_list(staff, venue.pk, now=on(MONDAY, 13))) == [soon.pk]
    assert pks(queries.closure_list(staff, venue.pk, upcoming=False)) == [done.pk, soon.pk]


# --- the calendar ----------------------------------------------------------------------

WINDOWS = [
    {"days": WEEKDAYS, "start": "14:00", "end": "18:00", "offpeak": False},
    {"days": WEEKDAYS, "start": "08:00", "end": "12:00", "offpeak": False},
    {"days": [5], "start": "18:00", "end": "24:00", "offpeak": True},
]


def test_open_spans_and_merging():
    monday = queries.open_spans(WINDOWS, MONDAY)
    assert [(s.start_at.hour, s.end_at.hour, s.offpeak) for s in monday] == [
        (8, 12, False),
        (14, 18, False),
    ]
    (sat,) = queries.open_spans(WINDOWS, MONDAY + timedelta(days=5))
    assert (sat.start_at, sat.end_at, sat.offpeak) == (
        on(MONDAY + timedelta(days=5), 18),
        on(MONDAY + timedelta(days=6), 0),
        True,
    )
    assert queries.open_spans(WINDOWS, MONDAY + timedelta(days=6)) == []
    (whole,) = queries.open_spans([], MONDAY)
    assert (whole.start_at, whole.end_at) == (on(MONDAY, 0), on(TUESDAY, 0))
    broken = [
        {"days": [0], "start": "9", "end": "10:00"},
        {"days": [0], "start": "12:00", "end": "11:00"},
        {"days": [0], "start": "12:00"},
        {"days": 0, "start": "12:00", "end": "13:00"},
        {"days": [0], "start": "20:00", "end": "25:00"},
        "nonsense",
    ]
    assert queries.open_spans(broken, MONDAY) == []
    spans = [(on(MONDAY, 8), on(MONDAY, 10)), (on(MONDAY, 9), on(MONDAY, 11))]
    spans += [(on(MONDAY, 11), on(MONDAY, 12)), (on(MONDAY, 14), on(MONDAY, 15))]
    assert queries.merged(spans) == [
        (on(MONDAY, 8), on(MONDAY, 12)),
        (on(MONDAY, 14), on(MONDAY, 15)),
    ]


def test_resource_calendar_shows_whose_holding_only_to_those_who_see_it(pw):
    w = pw.world
    gym = resource(w.county_a, name="体育馆", visibility=Visibility.CITY, windows=WINDOWS)
    Closure.objects.create(
        resource=gym, start_at=on(TUESDAY, 8), end_at=on(TUESDAY, 12), reason="检修"
    )
    Closure.objects.create(
        resource=gym, start_at=on(MONDAY - timedelta(days=3), 8), end_at=on(MONDAY, 1)
    )
    mine = allocation(gym, pw.user("a_staff"), start_at=on(MONDAY, 8), end_at=on(MONDAY, 11))
    theirs = allocation(
        gym, pw.user("b_staff"), start_at=on(MONDAY, 14), end_at=on(MONDAY, 17), note="乙县培训"
    )
    allocation(gym, pw.user("b_staff"), start_at=on(TUESDAY, 14), status="requested")
    allocation(gym, pw.user("b_staff"), start_at=on(MONDAY + timedelta(days=9), 14))

    cal = queries.resource_calendar(pw.user("a_staff"), gym.pk, MONDAY, MONDAY + timedelta(6))
    assert (cal.timed, cal.always_open, len(cal.days)) == (True, False, 7)
    monday, tuesday = cal.days[0], cal.days[1]
    assert [(s.start_at.hour, s.end_at.hour) for s in monday.open] == [(8, 12), (14, 18)]
    assert [c.reason for c in tuesday.closures] == ["检修"]
    assert len(monday.closures) == 1  # the weekend's closure runs into Monday's 01:00
    assert [(b.start_at, b.amount) for b in monday.busy] == [
        (mine.start_at, 1),
        (theirs.start_at, 1),
    ]
    # a_staff requested the morning: theirs; the afternoon is county B's, shown as taken
    assert monday.busy[0].allocation == mine and monday.busy[1].allocation is None
    assert tuesday.busy == []  # only holding allocations are on the calendar
    assert len(cal.busy) == 2 and len(cal.closures) == 2

    b_view = queries.resource_calendar(pw.user("b_staff"), gym.pk, MONDAY, MONDAY)
    assert [b.allocation for b in b_view.days[0].busy] == [None, theirs]
    city_view = queries.resource_calendar(pw.user("city_manager"), gym.pk, MONDAY, MONDAY)
    assert [b.allocation for b in city_view.days[0].busy] == [mine, theirs]
    assert city_view.busy[1].allocation.note == "乙县培训"


def test_resource_calendar_of_stock_and_bad_ranges(pw):
    desks = resource(
        pw.world.county_a,
        ResourceKind.ASSET,
        name="办公桌",
        quantity=5,
        stock_status=StockStatus.STORED,
    )
    cal = queries.resource_calendar(pw.user("a_staff"), desks.pk, MONDAY, MONDAY)
    assert (cal.timed, cal.always_open, cal.days[0].open) == (False, False, [])
    venue = resource(pw.world.county_a, name="礼堂")
    always = queries.resource_calendar(pw.user("a_staff"), venue.pk, MONDAY, MONDAY)
    assert always.always_open and len(always.days[0].open) == 1
    for start, end in ((TUESDAY, MONDAY), (MONDAY, MONDAY + timedelta(days=62))):
        with pytest.raises(InvalidInput) as err:
            queries.resource_calendar(pw.user("a_staff"), venue.pk, start, end)
        assert err.value.code == "bad_range"


def test_resource_calendar_query_count(pw, django_assert_max_num_queries):
    gym = resource(pw.world.county_a, name="体育馆", windows=WINDOWS)
    for i in range(30):
        start = on(MONDAY + timedelta(days=i % 5), 8 + i // 5)
        allocation(gym, pw.user("a_staff"), start_at=start, end_at=start + timedelta(minutes=50))
    staff = type(pw.user("a_staff")).objects.get(pk=pw.user("a_staff").pk)
    with django_assert_max_num_queries(8):
        cal = queries.resource_calendar(staff, gym.pk, MONDAY, MONDAY + timedelta(days=6))
        assert sum(len(d.busy) for d in cal.days) == 30
        assert all(b.allocation.requester_org.name for b in cal.busy)


# --- indexes (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index plans on PostgreSQL")
def test_lists_can_use_their_indexes(pw):
    """With sequential scans priced out, each hot query's plan names the index built for
    it: if the query's shape drifted from the index, the plan would fall back to a scan."""
    w = pw.world
    staff, manager = pw.user("a_staff"), pw.user("a_manager")
    venue = resource(w.county_a, name="礼堂")
    allocation(venue, staff, status="requested")
    demand(w.county_a, staff)
    volunteer(w.county_a, "志愿者", hours=3)
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
    hour = (on(MONDAY, 0), on(TUESDAY, 0))
    plans = [  # (query, its main table, the indexes that serve it)
        (queries.pending_approvals(manager), "resources_allocation", ["allocation_org_status"]),
        (
            queries.demand_list(staff, mine=True),
            "resources_demand",
            ["demand_poster_recent", "resources_demand_posted_by_id"],
        ),
        (
            queries.volunteer_list(manager),
            "resources_volunteer",
            ["volunteer_org_hours", "resources_volunteer_org_id"],
        ),
        (
            queries.resource_list(manager, kind="venue", min_capacity=10),
            "resources_resource",
            ["resource_kind_cap", "resource_kind_avail", "resource_org_kind", "resource_centre"],
        ),
        # the holdings resource_calendar and the availability checks read
        (
            Allocation.objects.filter(
                resource_id=venue.pk, holds=True, start_at__lt=hour[1], end_at__gt=hour[0]
            ),
            "resources_allocation",
            # its partial index, the exclusion constraint's GiST index (same columns) or
            # another index of the table: the planner picks by the statistics, and a
            # one-row table gives it little to go on; what matters is no table scan
            ["allocation_", "resources_no_overlap", "resources_allocation_"],
        ),
    ]
    for qs, table, indexes in plans:
        plan = qs.explain()
        assert f"Seq Scan on {table}" not in plan, plan
        assert any(f" {name}" in plan for name in indexes), (indexes, plan)
