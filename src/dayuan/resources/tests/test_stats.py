"""The pool's figures: computed by hand on a small week (utilisation by kind and owner,
fulfilment rate, time to match median and p90, savings, volunteer hours, projects, the
centres side by side), their scope (county B sees none of A's; an org filter outside
one's scope is NotFound), the Excel export, and fixed query counts at volume (2,000
resources, 5,000 demands, 5,000 allocations, with the lists the pages use)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
from openpyxl import load_workbook

from dayuan.core.errors import InvalidInput, NotFound

from .. import export, queries, stats
from ..choices import (
    EXCLUSIVE_KINDS,
    HOLDING,
    STOCK_KINDS,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
)
from ..models import Allocation, Closure, Demand, Resource, Transfer, Volunteer
from .factories import MONDAY, allocation, at, demand, on, resource
from .test_scope import activity, project, signup, volunteer

pytestmark = pytest.mark.django_db

SUNDAY = MONDAY + timedelta(days=6)
WEEK = {"start": MONDAY, "end": SUNDAY}
K = ResourceKind
S = AllocationStatus
D = DemandStatus
NUMBERS = count(1)


def day(n: int, hh: int, mm: int = 0):
    """``n`` days after MONDAY at hh:mm local."""
    return on(MONDAY + timedelta(days=n), hh, mm)


def posted(d: Demand, at_, matched=None) -> Demand:
    Demand.objects.filter(pk=d.pk).update(posted_at=at_, matched_at=matched)
    return d


@pytest.fixture
def week(pw):
    """County A's week (Mon 7 – Sun 13 December 2026) and a little of county B's."""
    w = pw.world
    a, b, dept = w.county_a, w.county_b, pw.dept_a
    staff, mgr = pw.user("a_staff"), pw.user("a_manager")
    office = [
        {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "12:00"},
        {"days": [0, 1, 2, 3, 4], "start": "14:00", "end": "18:00"},
    ]
    # V1: 40 h of windows, less 2 h closed on Tuesday morning (Saturday's is outside) = 38
    v1 = resource(a, name="会议室", windows=office)
    Closure.objects.create(resource=v1, start_at=day(1, 8), end_at=day(1, 10))
    Closure.objects.create(resource=v1, start_at=day(5, 9), end_at=day(5, 10))
    allocation(v1, staff, start_at=day(0, 8), end_at=day(0, 11))  # 3 h
    allocation(v1, staff, start_at=day(2, 14), end_at=day(2, 18), status=S.RETURNED)  # 4 h
    allocation(v1, staff, start_at=day(3, 8), end_at=day(3, 12), status=S.CANCELLED)
    allocation(v1, staff, start_at=day(4, 8), end_at=day(4, 12), status=S.REQUESTED)
    allocation(v1, staff, start_at=day(6, 22), end_at=day(7, 2))  # 2 h inside the week
    allocation(v1, staff, start_at=day(-1, 20), end_at=day(-1, 22))  # the week before
    # V2: no windows, 168 h; 12 h in use
    v2 = resource(a, name="礼堂")
    allocation(v2, staff, start_at=day(0, 9), end_at=day(0, 21), status=S.IN_USE)
    resource(a, name="停用礼堂", is_active=False)  # not counted
    # an inactive vehicle still counts for the week it was used: 2 of 168 h
    car = resource(a, K.VEHICLE, name="旧车", capacity=5, is_active=False)
    allocation(car, staff, start_at=day(0, 8), end_at=day(0, 10), status=S.RETURNED)
    # a team of 20 open 10 h on Saturday and Sunday: 10 people × 4 h + 20 × 10 h
    # = 240 person-hours = 12 team-hours of 20
    weekend = [{"days": [5, 6], "start": "08:00", "end": "18:00"}]
    team = resource(a, K.VOLUNTEER_TEAM, name="青年突击队", capacity=20, windows=weekend)
    allocation(team, staff, start_at=day(5, 8), end_at=day(5, 12), amount=10)
    allocation(team, staff, start_at=day(6, 8), end_at=day(6, 18), amount=20)
    # the warehouse: 50 chairs at ¥300; handed out in the week 10 + 5 + 3 (to county B)
    chairs = resource(
        a, K.ASSET, name="椅子", quantity=50, unit_value=300, stock_status=StockStatus.STORED
    )

    def take(n, status, decided, org, saved):
        allocation(
            chairs,
            staff,
            amount=n,
            status=status,
            decided_at=decided,
            requester_org=org,
            saved=Decimal(saved),
        )

    take(10, S.COMPLETED, day(1, 10), dept, 3000)
    take(5, S.APPROVED, day(2, 10), a, 1500)
    take(3, S.APPROVED, day(3, 10), b, 900)
    take(20, S.CANCELLED, day(2, 11), a, 6000)
    take(4, S.APPROVED, day(-6, 10), a, 1200)  # decided the week before
    # the finance bureau's fund: 30,000 of 100,000 granted on Monday
    fund = resource(dept, K.FUND, name="微实事资金", quantity=100_000)
    allocation(fund, staff, amount=30_000, decided_at=day(0, 15), status=S.COMPLETED)

    # demands (posted in the week, not cancelled: 8; matched or fulfilled: 5)
    def need(org, who, status, at_, matched=None, kind=K.VENUE):
        return posted(demand(org, who, kind, status=status), at_, matched)

    need(a, staff, D.MATCHED, day(0, 9), day(0, 10))  # 1 h
    need(a, staff, D.FULFILLED, day(0, 9), day(0, 11))  # 2 h
    need(a, staff, D.MATCHED, day(1, 9), day(1, 12))  # 3 h
    need(a, staff, D.FULFILLED, day(2, 9), day(2, 19))  # 10 h
    need(a, staff, D.OPEN, day(3, 9))
    need(a, staff, D.EXPIRED, day(3, 9))
    need(a, staff, D.REJECTED, day(4, 9))
    need(a, staff, D.CANCELLED, day(4, 9), day(4, 10))  # not counted, nor its wait
    need(a, staff, D.OPEN, day(-6, 9))  # the week before
    need(dept, pw.user("dept_a_staff"), D.MATCHED, day(5, 9), day(5, 9, 30), K.ASSET)  # 0.5 h

    # volunteers: hours of attended sign-ups of A's activities starting in the week
    social_v1 = volunteer(pw.social, "社工一")
    social_v5 = volunteer(pw.social, "社工五")
    a_v2 = volunteer(a, "甲县二")
    a_v3 = volunteer(a, "甲县三")
    a_v4 = volunteer(a, "甲县四")
    act1 = activity(a, mgr, start_at=day(0, 9), hours=3)
    signup(act1, social_v1, status=SignUpStatus.ATTENDED, hours=Decimal(3))
    signup(act1, a_v2, status=SignUpStatus.ATTENDED, hours=Decimal(3))
    signup(act1, a_v3, status=SignUpStatus.ABSENT)
    signup(act1, a_v4)
    act2 = activity(dept, pw.user("dept_a_manager"), start_at=day(5, 9), hours=4.5)
    signup(act2, a_v2, status=SignUpStatus.ATTENDED, hours=Decimal("4.5"))
    signup(act2, social_v5, status=SignUpStatus.ATTENDED, hours=Decimal("4.5"))
    act3 = activity(a, mgr, start_at=day(-6, 9), hours=2)  # the week before
    signup(act3, social_v1, status=SignUpStatus.ATTENDED, hours=Decimal(2))
    act4 = activity(pw.social, pw.user("social_manager"), start_at=day(0, 9), hours=5)  # city's
    signup(act4, a_v2, status=SignUpStatus.ATTENDED, hours=Decimal(5))

    # projects whose planned span meets the week
    project(
        a,
        mgr,
        status=ProjectStatus.APPROVED,
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 31),
        spent=Decimal(2000),
        beneficiaries=100,
    )
    project(dept, mgr, status=ProjectStatus.IN_PROGRESS, budget=5000, spent=1000, beneficiaries=50)
    project(
        a,
        mgr,
        status=ProjectStatus.COMPLETED,
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
    )
    project(a, mgr, budget=3000, starts_on=date(2026, 12, 10))

    # county B: a hall used 24 of 168 h; a demand matched in 4 h
    hall = resource(b, name="乙县礼堂")
    allocation(hall, pw.user("b_staff"), start_at=day(0, 0), end_at=day(1, 0))
    need(b, pw.user("b_staff"), D.MATCHED, day(0, 9), day(0, 13))
    return pw


def kind_row(rows, kind):
    return next(r for r in rows if r.kind == kind)


def test_county_a_week_by_hand(week):
    got = stats.pool_stats(week.user("a_manager"), **WEEK)
    a = week.world.county_a
    assert got.resources == 6  # V1, V2, the inactive car used, the team, chairs, fund
    # time kinds: (9 + 12 + 2 + 12) / (38 + 168 + 168 + 20) resource-hours
    assert got.time_rate == round(35 / 394, 4) == 0.0888
    venue = kind_row(got.by_kind, K.VENUE)
    assert (venue.resources, venue.used, venue.capacity, venue.allocations) == (2, 21, 206, 4)
    assert venue.rate == 0.1019
    car = kind_row(got.by_kind, K.VEHICLE)
    assert (car.used, car.capacity, car.rate) == (2, 168, 0.0119)
    team = kind_row(got.by_kind, K.VOLUNTEER_TEAM)
    assert (team.used, team.capacity, team.rate, team.allocations) == (12, 20, 0.6, 2)
    chairs = kind_row(got.by_kind, K.ASSET)
    assert (chairs.used, chairs.capacity, chairs.rate, chairs.allocations) == (18, 50, 0.36, 3)
    fund = kind_row(got.by_kind, K.FUND)
    assert (fund.used, fund.capacity, fund.rate) == (30_000, 100_000, 0.3)
    assert kind_row(got.by_kind, K.FACILITY).rate is None
    assert [r.kind for r in got.by_kind] == list(ResourceKind.values)

    # by owner: county A's time kinds, the bureau's fund
    assert [(o.name, o.centre_name) for o in got.by_owner] == [
        ("甲县机关服务中心", "甲县"),
        ("甲县财政局", "甲县"),
    ]
    county, bureau = got.by_owner
    assert (county.resources, county.time_rate) == (5, 0.0888)
    assert [k.kind for k in county.kinds] == [K.VENUE, K.VEHICLE, K.ASSET, K.VOLUNTEER_TEAM]
    assert bureau.time_rate is None and [(k.kind, k.rate) for k in bureau.kinds] == [(K.FUND, 0.3)]

    # demands: 5 of 8; waits 0.5, 1, 2, 3, 10 h
    d = got.demands
    assert (d.posted, d.fulfilled, d.rate) == (8, 5, 0.625)
    assert (d.matched, d.median_hours, d.p90_hours) == (5, 2, 7.2)  # 3 + 0.6 × (10 − 3)
    assert d.by_status == {"matched": 3, "fulfilled": 2, "open": 1, "expired": 1, "rejected": 1}
    venues = kind_row(got.demands_by_kind, K.VENUE)
    assert (venues.posted, venues.fulfilled, venues.median_hours, venues.p90_hours) == (
        7,
        4,
        2.5,
        7.9,
    )
    assets = kind_row(got.demands_by_kind, K.ASSET)
    assert (assets.posted, assets.median_hours, assets.p90_hours) == (1, 0.5, 0.5)
    assert kind_row(got.demands_by_kind, K.FUND).rate is None
    assert [(r.org_id, r.posted) for r in got.demands_by_org] == [(a.pk, 7), (week.dept_a.pk, 1)]

    # savings by the requesting org; B's chairs are B's saving
    assert got.saved == Decimal(4500)
    assert [(s.name, s.allocations, s.saved) for s in got.savings_by_org] == [
        ("甲县财政局", 1, Decimal(3000)),
        ("甲县机关服务中心", 1, Decimal(1500)),
    ]

    # volunteer hours of A's activities, by the volunteers' team
    assert (got.volunteer_hours, got.attendances, got.volunteers) == (Decimal("15.0"), 4, 3)
    assert [(t.name, t.hours, t.attendances, t.volunteers) for t in got.hours_by_team] == [
        ("甲县机关服务中心", Decimal("7.5"), 2, 1),
        ("市志愿者协会", Decimal("7.5"), 2, 2),
    ]

    # projects meeting the week
    projects = {p.status: (p.projects, p.budget, p.spent, p.beneficiaries) for p in got.projects}
    assert projects == {
        "proposed": (1, Decimal(3000), Decimal(0), 0),
        "approved": (1, Decimal(10000), Decimal(2000), 100),
        "in_progress": (1, Decimal(5000), Decimal(1000), 50),
        "completed": (0, Decimal(0), Decimal(0), 0),
        "cancelled": (0, Decimal(0), Decimal(0), 0),
    }

    # one centre
    (row,) = got.by_centre
    assert (row.org_id, row.name, row.resources, row.time_rate) == (a.pk, "甲县", 6, 0.0888)
    assert (row.demands.posted, row.demands.rate, row.demands.median_hours) == (8, 0.625, 2)
    assert (row.saved, row.volunteer_hours, row.projects) == (Decimal(4500), Decimal("15.0"), 3)
    assert kind_row(row.kinds, K.ASSET).rate == 0.36


def test_the_city_sees_every_centre_side_by_side(week):
    got = stats.pool_stats(week.user("city_manager"), **WEEK)
    w = week.world
    assert [(c.org_id, c.name) for c in got.by_centre] == [
        (w.city.pk, "市"),
        (w.county_a.pk, "甲县"),
        (w.county_b.pk, "乙县"),
    ]
    city, a, b = got.by_centre
    assert (a.resources, a.time_rate, a.saved, a.demands.posted) == (6, 0.0888, 4500, 8)
    assert (b.resources, b.time_rate, b.saved) == (1, round(24 / 168, 4), Decimal(900))
    assert (b.demands.posted, b.demands.fulfilled, b.demands.median_hours) == (1, 1, 4)
    # the city's own row: the social association's activity (5 h), nothing else
    assert (city.resources, city.volunteer_hours, city.demands.posted) == (0, Decimal(5), 0)
    assert city.time_rate is None and city.demands.rate is None
    assert got.resources == 7 and got.saved == Decimal(5400)
    assert got.volunteer_hours == Decimal("20.0")
    assert got.demands.posted == 9 and got.demands.fulfilled == 6
    assert got.time_rate == round((35 + 24) / (394 + 168), 4)


def test_scope_and_org_filter(week):
    w = week.world
    b = stats.pool_stats(week.user("b_manager"), **WEEK)
    assert [c.org_id for c in b.by_centre] == [w.county_b.pk]
    assert (b.resources, b.saved, b.volunteer_hours, b.demands.posted) == (1, 900, 0, 1)
    assert [o.org_id for o in b.by_owner] == [w.county_b.pk]
    for who in ("b_manager", "b_staff", "ent_manager"):
        with pytest.raises(NotFound):
            stats.pool_stats(week.user(who), org_id=w.county_a.pk, **WEEK)
    nothing = stats.pool_stats(week.user("a_staff"), **WEEK)
    assert (nothing.resources, nothing.by_centre, nothing.by_owner) == (0, [], [])
    assert (nothing.demands.posted, nothing.demands.rate, nothing.saved) == (0, None, 0)
    # the bureau's manager, and county A's manager narrowed to the bureau: the same figures
    bureau = stats.pool_stats(week.user("dept_a_manager"), **WEEK)
    narrowed = stats.pool_stats(week.user("a_manager"), org_id=week.dept_a.pk, **WEEK)
    for got in (bureau, narrowed):
        assert (got.resources, got.time_rate) == (1, None)
        assert kind_row(got.by_kind, K.FUND).rate == 0.3
        assert (got.demands.posted, got.demands.median_hours) == (1, 0.5)
        assert got.saved == Decimal(3000)
        assert got.volunteer_hours == Decimal(9)
        assert sum(p.projects for p in got.projects) == 1
        assert [c.name for c in got.by_centre] == ["甲县"]
    assert bureau.as_dict() == {**narrowed.as_dict(), "org_id": None}


def test_bad_ranges(week):
    for start, end in ((SUNDAY, MONDAY), (MONDAY, MONDAY + timedelta(days=366))):
        with pytest.raises(InvalidInput) as err:
            stats.pool_stats(week.user("a_manager"), start=start, end=end)
        assert err.value.code == "bad_range"


def test_percentile():
    assert stats.percentile([], 0.5) is None
    assert stats.percentile([4], 0.9) == 4
    assert stats.percentile([10, 1, 3, 2], 0.5) == 2.5
    assert stats.percentile([1, 2, 3, 10], 0.9) == 7.9


def test_open_hours_less_closures_inside_windows():
    office = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "12:00"}]
    oh = stats._OpenHours(MONDAY, SUNDAY)
    assert oh.hours(office, []) == 20
    # a closure from Monday 10:00 to Tuesday 09:00: 2 h Monday + 1 h Tuesday
    assert oh.hours(office, [(day(0, 10), day(1, 9))]) == 17
    # overlapping closures count once; one reaching past the week only inside it
    assert oh.hours(office, [(day(0, 10), day(1, 9)), (day(0, 11), day(0, 12))]) == 17
    assert oh.hours(office, [(day(4, 11), day(9, 0))]) == 19
    assert oh.hours([], [(day(6, 12), day(8, 0))]) == 168 - 12
    assert stats._weekday_counts(MONDAY, MONDAY + timedelta(days=9)) == [2, 2, 2, 1, 1, 1, 1]


def test_export(week):
    data = export.pool_stats_xlsx(week.user("city_manager"), **WEEK)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [
        "一盘棋",
        "资源利用（按类型）",
        "资源利用（按提供单位）",
        "需求（按类型）",
        "需求（按单位）",
        "节约资金",
        "志愿服务",
        "微实事项目",
    ]
    board = list(wb["一盘棋"].values)
    assert board[0][:3] == ("中心", "资源数", "时段类利用率")
    assert [r[0] for r in board[1:]] == ["市", "甲县", "乙县", "合计"]
    assert board[2][2] == "8.9%" and board[-1][1] == 7
    saved = board[0].index("节约金额（元）")
    assert [r[saved] for r in board[1:]] == [0, 4500, 900, 5400]
    kinds = list(wb["资源利用（按类型）"].values)
    assert kinds[1][:6] == ("场地", 3, "资源·小时", 45, 374, "12.0%")
    savings = list(wb["节约资金"].values)
    assert savings[-1] == ("合计", 3, 5400)
    with pytest.raises(NotFound):
        export.pool_stats_xlsx(week.user("b_manager"), org_id=week.world.county_a.pk, **WEEK)


# --- volume ----------------------------------------------------------------------------

N_RESOURCES, N_DEMANDS, N_ALLOCATIONS = 2_000, 5_000, 5_000
START = MONDAY - timedelta(days=60)


@pytest.fixture
def volume(pw):
    """2,000 resources over county A, its bureau, county B, the enterprise and the
    association; 5,000 demands and 5,000 allocations over the 60 days before MONDAY (a
    resource's allocations on different days, so exclusive ones never overlap); 300
    volunteers, 40 activities with sign-ups, 30 projects, 200 warehouse transfers."""
    w = pw.world
    owners = [w.county_a, pw.dept_a, w.county_b, pw.enterprise, pw.social]
    centre = {o.pk: o.centre for o in owners}
    kinds = list(ResourceKind.values)
    office = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]
    rs = []
    for i in range(N_RESOURCES):
        kind = kinds[i % len(kinds)]
        org = owners[i % len(owners)]
        stock = kind in STOCK_KINDS
        rs.append(
            Resource(
                org=org,
                centre=centre[org.pk],
                kind=kind,
                name=f"资源{i:05d}",
                capacity=0 if stock else 10 + i % 90,
                quantity=1000 if stock else 0,
                available=1000 if stock else 0,
                windows=office if i % 3 else [],
                visibility=["owner", "centre", "city", "public"][i % 4],
                unit_value=Decimal(100) if stock else Decimal(0),
            )
        )
    rs = Resource.objects.bulk_create(rs)
    posters = [pw.user(n) for n in ("a_staff", "dept_a_staff", "b_staff", "a_manager")]
    statuses = list(DemandStatus.values)
    ds = []
    for i in range(N_DEMANDS):
        poster = posters[i % len(posters)]
        start = on(START + timedelta(days=i % 60), 8 + i % 10)
        status = statuses[i % len(statuses)]
        ds.append(
            Demand(
                org=poster.home_org,
                number=f"XQ-V-{i:07d}",
                title=f"需求{i}",
                kind=kinds[i % len(kinds)],
                amount=1 + i % 30,
                start_at=start,
                end_at=start + timedelta(hours=2),
                status=status,
                posted_by=poster,
                posted_at=start - timedelta(days=2),
                matched_at=start - timedelta(hours=30 - i % 24)
                if status in (D.MATCHED, D.FULFILLED)
                else None,
            )
        )
    ds = Demand.objects.bulk_create(ds)
    alloc_statuses = list(AllocationStatus.values)
    allocs = []
    for i in range(N_ALLOCATIONS):
        r = rs[i % N_RESOURCES]
        day_ = START + timedelta(days=(i // N_RESOURCES) * 7 + i % 5)
        start = on(day_, 9)
        status = alloc_statuses[i % len(alloc_statuses)]
        d = ds[i]
        allocs.append(
            Allocation(
                org_id=r.org_id,
                resource=r,
                number=f"DP-V-{i:07d}",
                demand=d,
                requester_id=d.posted_by_id,
                requester_org_id=d.org_id,
                start_at=start,
                end_at=start + timedelta(hours=3),
                amount=1 + i % 5,
                status=status,
                holds=status in HOLDING,
                exclusive=r.kind in EXCLUSIVE_KINDS,
                requested_at=start - timedelta(days=1),
                decided_at=start - timedelta(hours=12),
                saved=Decimal(100) * (1 + i % 5) if r.kind in STOCK_KINDS else 0,
            )
        )
    Allocation.objects.bulk_create(allocs)
    vols = Volunteer.objects.bulk_create(
        Volunteer(org=owners[i % len(owners)], name=f"志愿者{i}", hours=i % 40) for i in range(300)
    )
    for i in range(40):
        act = activity(
            owners[i % len(owners)], pw.user("a_manager"), start_at=on(START, 9) + timedelta(i)
        )
        for v in vols[i * 7 : i * 7 + 7]:
            signup(act, v, status=SignUpStatus.ATTENDED, hours=Decimal(3))
    for i in range(30):
        project(owners[i % len(owners)], pw.user("a_manager"), status=ProjectStatus.values[i % 5])
    Transfer.objects.bulk_create(
        Transfer(
            resource=rs[3 + 7 * (i % 50)],  # assets
            org_id=rs[3 + 7 * (i % 50)].org_id,
            kind="out",
            quantity=1,
            from_org_id=rs[3 + 7 * (i % 50)].org_id,
            to_org=owners[i % len(owners)],
            value=Decimal(100),
            at=at(2026, 11, 1, 9) + timedelta(hours=i),
            actor=pw.user("a_manager"),
        )
        for i in range(200)
    )
    return pw


def test_query_counts_at_volume(volume, django_assert_max_num_queries):
    assert Resource.objects.count() >= 2_000
    assert Demand.objects.count() == N_DEMANDS and Allocation.objects.count() == N_ALLOCATIONS
    fresh = type(volume.user("a_staff")).objects.get  # a fresh user: grants load once

    city = fresh(pk=volume.user("city_manager").pk)
    with django_assert_max_num_queries(14):
        got = stats.pool_stats(city, start=START, end=MONDAY - timedelta(days=1))
    assert len(got.by_centre) == 3
    assert got.resources == N_RESOURCES
    assert got.demands.posted > 3_000 and got.demands.median_hours is not None
    assert 0 < got.time_rate < 1 and got.saved > 0 and got.volunteer_hours == 40 * 7 * 3
    manager = fresh(pk=volume.user("a_manager").pk)
    with django_assert_max_num_queries(14):
        mine = stats.pool_stats(manager, start=START, end=MONDAY - timedelta(days=1))
        assert [c.name for c in mine.by_centre] == ["甲县"]
    with django_assert_max_num_queries(14):
        assert export.pool_stats_xlsx(manager, start=START, end=MONDAY - timedelta(days=1))

    def page(qs, *columns):
        rows = list(qs[:50])
        assert len(rows) == 50
        for r in rows:
            for c in columns:
                assert getattr(r, c) is not None or c in ("location", "demand")

    staff = fresh(pk=volume.user("a_staff").pk)
    with django_assert_max_num_queries(6):
        page(queries.resource_list(staff, usable_only=True), "org", "location")
    with django_assert_max_num_queries(6):
        page(queries.resource_list(manager, kind="venue", min_capacity=20), "org")
    with django_assert_max_num_queries(4):
        page(queries.demand_list(staff, mine=True), "org", "posted_by")
    with django_assert_max_num_queries(5):
        page(queries.demand_list(manager, status="open,matched"), "org", "posted_by")
    with django_assert_max_num_queries(5):
        page(queries.allocation_list(manager), "resource", "requester_org", "requester", "demand")
    with django_assert_max_num_queries(5):
        page(queries.allocation_list(staff, side="mine"), "resource", "org")
    with django_assert_max_num_queries(3):
        page(queries.pending_approvals(manager), "resource", "requester")
    with django_assert_max_num_queries(4):
        page(queries.transfer_list(city), "resource", "to_org", "actor")
    with django_assert_max_num_queries(4):
        page(queries.volunteer_list(city), "org")
    with django_assert_max_num_queries(4):
        rows = list(queries.activity_list(staff, upcoming=False)[:50])
        assert rows and all(r.org and r.signed_up is False for r in rows)
