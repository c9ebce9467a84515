"""Who sees what in the resource pool, through the query layer: every model, for every
user of the test world (each role of county A and of county B, the vendor's worker, the
assessor, the city manager and the administrator, the enterprise's manager, the social
organisation's manager and worker, a department of county A's staff and manager).

The expected sets are written out by hand from the rules in ``queries``' docstring, as
data: one row per record, naming who sees it. Each check compares every user's view
with the table, both through the visibility function and through the list the pages
and the API use (a list only narrows), and the detail lookups' NotFound."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from dayuan.core.errors import NotFound

from .. import queries
from ..choices import (
    AllocationStatus,
    DemandStatus,
    ResourceKind,
    StockStatus,
    TransferKind,
    Visibility,
)
from ..models import (
    Activity,
    MatchProposal,
    MatchRun,
    MicroProject,
    SignUp,
    Transfer,
    Volunteer,
)
from .factories import MONDAY, allocation, demand, on, resource

pytestmark = pytest.mark.django_db

SEQ = count(1)

# --- row builders (shared with test_queries and test_stats) ------------------------------


def transfer(res, kind, from_org, to_org, actor, *, quantity=1, value=0, at=None, **extra):
    return Transfer.objects.create(
        resource=res,
        org=res.org,
        kind=kind,
        quantity=quantity,
        from_org=from_org,
        to_org=to_org,
        value=Decimal(value),
        at=at or on(MONDAY, 10),
        actor=actor,
        **extra,
    )


def volunteer(org, name, *, user=None, hours=0, **extra):
    return Volunteer.objects.create(org=org, name=name, user=user, hours=Decimal(hours), **extra)


def activity(org, creator, *, title="志愿活动", start_at=None, hours=3, slots=10, **extra):
    start_at = start_at or on(MONDAY, 9)
    return Activity.objects.create(
        org=org,
        title=title,
        start_at=start_at,
        end_at=extra.pop("end_at", start_at + timedelta(hours=hours)),
        slots=slots,
        hours=Decimal(hours),
        created_by=creator,
        **extra,
    )


def signup(act, vol, **extra):
    return SignUp.objects.create(activity=act, volunteer=vol, **extra)


def project(org, leader, *, title="民生微实事", budget=10000, **extra):
    return MicroProject.objects.create(
        org=org,
        number=f"WS-T-{next(SEQ):07d}",
        title=title,
        budget=Decimal(budget),
        leader=leader,
        **extra,
    )


def run(org, by):
    return MatchRun.objects.create(
        org=org,
        run_by=by,
        window_start=on(MONDAY, 0),
        window_end=on(MONDAY + timedelta(days=7), 0),
    )


# --- the people ----------------------------------------------------------------------

A_OVER = {"a_manager", "a_dispatcher", "a_inspector", "a_admin"}  # view_all / manage over A
A_ALL = A_OVER | {"a_staff"}
B_OVER = {"b_manager", "b_dispatcher", "b_inspector", "b_admin"}
B_ALL = B_OVER | {"b_staff"}
CITY = {"city_manager", "admin"}
# users whose nearest centre is the city (besides CITY): the city's centre-wide sharing
CITY_LEVEL = CITY | {"assessor", "ent_manager", "social_manager", "social_worker"}
DEPT_A = {"dept_a_staff", "dept_a_manager"}
SOCIAL = {"social_manager", "social_worker"}
EVERYONE = A_ALL | B_ALL | CITY_LEVEL | DEPT_A | {"vendor_worker"}
NOBODY: set[str] = set()
# county A's centre-wide sharing reaches everyone whose nearest centre is county A
A_CENTRE = A_ALL | DEPT_A | {"vendor_worker"} | CITY


@pytest.fixture
def sw(pw) -> dict[str, Any]:
    """One record of each kind per owner and side; keys name them in the tables."""
    w = pw.world
    u = pw.user
    city, a, b, ent, social, dept = (
        w.city,
        w.county_a,
        w.county_b,
        pw.enterprise,
        pw.social,
        pw.dept_a,
    )
    V = Visibility
    r = {
        "a_owner": resource(a, name="甲县会议室", visibility=V.OWNER),
        "a_centre": resource(a, name="甲县礼堂", visibility=V.CENTRE),
        "a_city": resource(a, name="甲县体育馆", visibility=V.CITY),
        "dept_owner": resource(dept, name="财政局会议室", visibility=V.OWNER),
        "b_centre": resource(b, name="乙县礼堂", visibility=V.CENTRE),
        "b_owner": resource(b, name="乙县会议室", visibility=V.OWNER),
        "city_centre": resource(city, name="市会议中心", visibility=V.CENTRE),
        "ent_public": resource(ent, name="城投球场", visibility=V.PUBLIC),
        "ent_owner": resource(ent, ResourceKind.VEHICLE, name="城投大巴", visibility=V.OWNER),
        "ent_inactive": resource(ent, name="城投旧礼堂", visibility=V.CITY, is_active=False),
        "social_centre": resource(
            social, ResourceKind.VOLUNTEER_TEAM, name="志愿服务队", capacity=30
        ),
        "a_inactive": resource(a, name="甲县旧礼堂", visibility=V.CITY, is_active=False),
        "a_wh_in": resource(
            a,
            ResourceKind.ASSET,
            name="待验办公桌",
            quantity=10,
            visibility=V.CITY,
            stock_status=StockStatus.IN,
        ),
        "a_wh_stored": resource(
            a,
            ResourceKind.ASSET,
            name="在库办公椅",
            quantity=10,
            visibility=V.CITY,
            stock_status=StockStatus.STORED,
        ),
        "b_wh_stored": resource(
            b,
            ResourceKind.ASSET,
            name="乙县在库电脑",
            quantity=5,
            visibility=V.OWNER,
            stock_status=StockStatus.STORED,
        ),
    }
    d = {
        "d_a": demand(a, u("a_staff")),
        "d_dept": demand(
            dept, u("dept_a_staff"), approver=u("a_staff"), status=DemandStatus.SUBMITTED
        ),
        "d_b": demand(b, u("b_staff")),
        "d_ent": demand(ent, u("ent_manager")),
        "d_social": demand(social, u("social_worker"), kind=ResourceKind.VENUE),
        "d_city": demand(city, u("city_manager")),
    }
    tue = on(MONDAY + timedelta(days=1), 9)
    al = {
        "al1": allocation(r["ent_public"], u("a_staff"), demand=d["d_a"]),
        "al2": allocation(r["a_centre"], u("dept_a_staff"), demand=d["d_dept"]),
        "al3": allocation(r["b_centre"], u("b_staff"), demand=d["d_b"]),
        "al4": allocation(r["social_centre"], u("social_worker"), requester_org=social, amount=5),
        "al5": allocation(r["a_city"], u("b_staff"), requester_org=b),
        "al6": allocation(r["ent_public"], u("a_manager"), demand=d["d_a"], start_at=tue),
    }
    t = {
        "t_out": transfer(r["a_wh_stored"], TransferKind.OUT, a, dept, u("a_manager")),
        "t_in": transfer(r["a_wh_stored"], TransferKind.IN, ent, a, u("a_manager")),
        "t_b": transfer(r["b_wh_stored"], TransferKind.OUT, b, b, u("b_manager")),
    }
    v = {
        "v_sw": volunteer(social, "社工志愿者", user=u("social_worker")),
        "v_plain": volunteer(social, "普通志愿者"),
        "v_a": volunteer(a, "甲县志愿者", user=u("a_staff")),
        "v_b": volunteer(b, "乙县志愿者"),
        "v_vendor": volunteer(w.vendor, "物业志愿者"),
    }
    act = {
        "act_social": activity(social, u("social_manager"), title="社区义诊"),
        "act_a": activity(a, u("a_manager"), title="甲县植树"),
        "act_dept": activity(dept, u("dept_a_manager"), title="财政局助老"),
        "act_b": activity(b, u("b_manager"), title="乙县助学"),
    }
    s = {
        "s1": signup(act["act_social"], v["v_sw"]),
        "s2": signup(act["act_a"], v["v_a"]),
        "s3": signup(act["act_b"], v["v_b"]),
        "s4": signup(act["act_a"], v["v_sw"]),
    }
    p = {
        "proj_a": project(a, u("a_manager")),
        "proj_b": project(b, u("b_manager")),
        "proj_city": project(city, u("city_manager")),
        "proj_dept": project(dept, u("dept_a_manager")),
    }
    runs = {"run_a": run(a, u("a_manager")), "run_b": run(b, u("b_manager"))}
    MatchProposal.objects.create(run=runs["run_a"], demand=d["d_a"], resource=r["ent_public"])
    return {"pw": pw, **r, **d, **al, **t, **v, **act, **s, **p, **runs}


def users(pw) -> dict[str, Any]:
    return {name: pw.user(name) for name in sorted(EVERYONE)}


def check(sw, table: dict[str, set[str]], fn) -> None:
    """``fn(user)`` gives the records ``user`` sees; compare with ``table`` for everyone."""
    wrong = {}
    for name, user in users(sw["pw"]).items():
        seen = {x.pk for x in fn(user)}
        got = {key for key in table if sw[key].pk in seen}
        want = {key for key, who in table.items() if name in who}
        if got != want:
            wrong[name] = {"extra": sorted(got - want), "missing": sorted(want - got)}
    assert wrong == {}


def check_detail(sw, table: dict[str, set[str]], getter) -> None:
    """``getter(user, pk)`` returns the record for those who see it, NotFound otherwise."""
    wrong = []
    for name, user in users(sw["pw"]).items():
        for key, who in table.items():
            try:
                assert getter(user, sw[key].pk).pk == sw[key].pk
                found = True
            except NotFound:
                found = False
            if found != (name in who):
                wrong.append((name, key, found))
    assert wrong == []


# --- resources -------------------------------------------------------------------------

USABLE = {
    "a_owner": A_ALL | DEPT_A | CITY,  # 仅本单位: county A and the units under it
    "a_centre": A_CENTRE,
    "a_city": EVERYONE,
    "dept_owner": A_ALL | DEPT_A | CITY,
    "b_centre": B_ALL | CITY,
    "b_owner": B_ALL | CITY,
    "city_centre": CITY_LEVEL,
    "ent_public": EVERYONE,
    "ent_owner": {"ent_manager"} | CITY,
    "ent_inactive": NOBODY,
    "social_centre": CITY_LEVEL,
    "a_inactive": NOBODY,
    "a_wh_in": NOBODY,  # not yet checked in
    "a_wh_stored": EVERYONE,
    "b_wh_stored": B_ALL | CITY,
}
# usable ones, plus whatever the owner's managers and overseers look after
VISIBLE = {
    **USABLE,
    "ent_inactive": {"ent_manager"} | CITY,
    "a_inactive": A_OVER | CITY,
    "a_wh_in": A_OVER | CITY,
}
ACTIVE_VISIBLE = {**VISIBLE, "ent_inactive": NOBODY, "a_inactive": NOBODY}


def test_usable_resources(sw):
    check(sw, USABLE, queries.usable_resources)
    check(sw, USABLE, lambda u: queries.resource_list(u, usable_only=True))


def test_visible_resources(sw):
    check(sw, VISIBLE, queries.visible_resources)
    check(sw, VISIBLE, lambda u: queries.resource_list(u, include_inactive=True))
    check(sw, ACTIVE_VISIBLE, queries.resource_list)
    check_detail(sw, VISIBLE, queries.resource_for)


def test_resource_filters_never_widen(sw):
    a = sw["pw"].world.county_a
    # county B's staff filtering by county A: only what A shares with the city
    got = queries.resource_list(sw["pw"].user("b_staff"), org_id=a.pk)
    assert {x.name for x in got} == {"甲县体育馆", "在库办公椅"}
    # "my resources": those of the orgs one manages, not all one may use
    mine = queries.resource_list(sw["pw"].user("ent_manager"), managed=True, include_inactive=True)
    assert {x.name for x in mine} == {"城投球场", "城投大巴", "城投旧礼堂"}
    assert list(queries.resource_list(sw["pw"].user("a_staff"), managed=True)) == []


def test_closures_and_calendar_of_invisible_resources_are_not_found(sw):
    b_staff = sw["pw"].user("b_staff")
    for key in ("a_owner", "a_inactive", "ent_owner"):
        with pytest.raises(NotFound):
            queries.closure_list(b_staff, sw[key].pk)
        with pytest.raises(NotFound):
            queries.resource_calendar(b_staff, sw[key].pk, MONDAY, MONDAY)


# --- demands ---------------------------------------------------------------------------

DEMANDS = {
    "d_a": {"a_staff"} | A_OVER | CITY,
    "d_dept": DEPT_A | A_ALL | CITY,  # a_staff is its approver
    "d_b": {"b_staff"} | B_OVER | CITY,
    "d_ent": {"ent_manager"} | CITY,
    "d_social": SOCIAL | CITY,
    "d_city": CITY,
}


def test_demands(sw):
    check(sw, DEMANDS, queries.visible_demands)
    check(sw, DEMANDS, queries.demand_list)
    check_detail(sw, DEMANDS, queries.demand_for)


def test_demand_approvals(sw):
    table = {k: NOBODY for k in DEMANDS}
    # submitted: its approver, and the managers of its org (not the other overseers)
    table["d_dept"] = {"a_staff", "dept_a_manager", "a_manager", "a_admin"} | CITY
    check(sw, table, queries.demand_approvals)


def test_my_demands(sw):
    table = {k: NOBODY for k in DEMANDS}
    table |= {
        "d_a": {"a_staff"},
        "d_dept": {"dept_a_staff"},
        "d_b": {"b_staff"},
        "d_ent": {"ent_manager"},
        "d_social": {"social_worker"},
        "d_city": {"city_manager"},
    }
    check(sw, table, lambda u: queries.demand_list(u, mine=True))


# --- allocations -----------------------------------------------------------------------

ALLOCATIONS = {
    "al1": {"a_staff", "ent_manager"} | A_OVER | CITY,
    "al2": DEPT_A | A_OVER | CITY,
    "al3": {"b_staff"} | B_OVER | CITY,
    "al4": SOCIAL | CITY,
    "al5": {"b_staff"} | B_OVER | A_OVER | CITY,  # B used A's gym: both sides see it
    "al6": {"a_staff", "ent_manager"} | A_OVER | CITY,  # a_staff posted its demand
}


def test_allocations(sw):
    check(sw, ALLOCATIONS, queries.visible_allocations)
    check(sw, ALLOCATIONS, queries.allocation_list)
    check_detail(sw, ALLOCATIONS, queries.allocation_for)


def test_allocation_sides(sw):
    mine = {
        "al1": {"a_staff"},
        "al2": {"dept_a_staff"},
        "al3": {"b_staff"},
        "al4": {"social_worker"},
        "al5": {"b_staff"},
        "al6": {"a_staff", "a_manager"},
    }
    check(sw, mine, lambda u: queries.allocation_list(u, side="mine"))
    owner = {
        "al1": {"ent_manager"} | CITY,
        "al2": A_OVER | CITY,
        "al3": B_OVER | CITY,
        "al4": {"social_manager"} | CITY,
        "al5": A_OVER | CITY,
        "al6": {"ent_manager"} | CITY,
    }
    check(sw, owner, lambda u: queries.allocation_list(u, side="owner"))
    unit = {
        "al1": A_OVER | CITY,
        "al2": A_OVER | {"dept_a_manager"} | CITY,
        "al3": B_OVER | CITY,
        "al4": {"social_manager"} | CITY,
        "al5": B_OVER | CITY,
        "al6": A_OVER | CITY,
    }
    check(sw, unit, lambda u: queries.allocation_list(u, side="unit"))


def test_pending_approvals_for_the_owners_managers(sw):
    for key in ALLOCATIONS:
        sw[key].status = AllocationStatus.REQUESTED
        sw[key].holds = False
        sw[key].save(update_fields=["status", "holds"])
    table = {
        "al1": {"ent_manager"} | CITY,
        "al2": {"a_manager", "a_admin"} | CITY,
        "al3": {"b_manager", "b_admin"} | CITY,
        "al4": {"social_manager"} | CITY,
        "al5": {"a_manager", "a_admin"} | CITY,
        "al6": {"ent_manager"} | CITY,
    }
    check(sw, table, queries.pending_approvals)


# --- the warehouse, volunteers, activities, projects, runs -------------------------------

TRANSFERS = {
    "t_out": A_OVER | {"dept_a_manager"} | CITY,
    "t_in": A_OVER | {"ent_manager"} | CITY,
    "t_b": B_OVER | CITY,
}


def test_transfers(sw):
    check(sw, TRANSFERS, queries.visible_transfers)
    check(sw, TRANSFERS, queries.transfer_list)


VOLUNTEERS = {
    "v_sw": SOCIAL | CITY,
    "v_plain": SOCIAL | CITY,
    "v_a": {"a_staff"} | A_OVER | CITY,  # a_staff is that volunteer
    "v_b": B_OVER | CITY,
    "v_vendor": {"vendor_worker"} | A_OVER | CITY,
}


def test_volunteers(sw):
    check(sw, VOLUNTEERS, queries.visible_volunteers)
    check(sw, VOLUNTEERS, queries.volunteer_list)


# county A's work: everyone whose centre is A, and those whose grants reach A
A_WORK = A_ALL | DEPT_A | {"vendor_worker"} | CITY
ACTIVITIES = {
    "act_social": EVERYONE,  # the city's: every county sees the city's
    "act_a": A_WORK,
    "act_dept": A_WORK,
    "act_b": B_ALL | CITY,
}
PROJECTS = {
    "proj_a": A_WORK,
    "proj_dept": A_WORK,
    "proj_b": B_ALL | CITY,
    "proj_city": EVERYONE,
}


def test_activities(sw):
    check(sw, ACTIVITIES, queries.visible_activities)
    check(sw, ACTIVITIES, lambda u: queries.activity_list(u, upcoming=False))
    check_detail(sw, ACTIVITIES, queries.activity_for)


def test_projects(sw):
    check(sw, PROJECTS, queries.visible_projects)
    check(sw, PROJECTS, queries.project_list)
    check_detail(sw, PROJECTS, queries.project_for)


# keepers (resources.volunteer / manage over the activity's org) and the volunteer
SIGNUPS = {
    "s1": SOCIAL | CITY,
    "s2": {"a_staff", "a_manager", "a_admin"} | CITY,
    "s3": {"b_manager", "b_admin"} | CITY,
    "s4": {"social_worker", "a_manager", "a_admin"} | CITY,
}


def test_signups(sw):
    check(sw, SIGNUPS, queries.visible_signups)
    # through an activity's page: one must see the activity first (the social worker
    # does not see county A's tree planting, though a keeper signed them up for it)
    via_activity = {**SIGNUPS, "s4": {"a_manager", "a_admin"} | CITY}

    def through_lists(user):
        out = []
        for key in ACTIVITIES:
            try:
                out += list(queries.signup_list(user, sw[key].pk))
            except NotFound:
                assert user.username not in ACTIVITIES[key]
        return out

    check(sw, via_activity, through_lists)


RUNS = {"run_a": A_OVER | CITY, "run_b": B_OVER | CITY}


def test_match_runs(sw):
    check(sw, RUNS, queries.visible_runs)
    check(sw, RUNS, queries.run_list)
    check_detail(sw, RUNS, queries.run_for)
    with pytest.raises(NotFound):
        queries.proposal_list(sw["pw"].user("b_manager"), sw["run_a"].pk)
    assert len(queries.proposal_list(sw["pw"].user("a_inspector"), sw["run_a"].pk)) == 1


# --- nobody --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "inactive"])
def test_signed_out_and_inactive_users_see_nothing(sw, who):
    if who == "anonymous":
        user = AnonymousUser()
    else:
        user = sw["pw"].user("city_manager")
        user.is_active = False
    lists = [
        queries.usable_resources(user),
        queries.visible_resources(user),
        queries.resource_list(user, include_inactive=True),
        queries.demand_list(user),
        queries.demand_approvals(user),
        queries.allocation_list(user, side="mine"),
        queries.allocation_list(user),
        queries.pending_approvals(user),
        queries.transfer_list(user),
        queries.volunteer_list(user),
        queries.activity_list(user, upcoming=False),
        queries.project_list(user),
        queries.run_list(user),
        queries.visible_signups(user),
    ]
    assert [list(qs) for qs in lists] == [[] for _ in lists]
    with pytest.raises(NotFound):
        queries.resource_for(user, sw["a_city"].pk)
