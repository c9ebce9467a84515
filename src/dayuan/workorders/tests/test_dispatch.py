"""Automatic dispatch: team by responsibility, worker by skill, duty and load."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.core.testing import make_location, make_user
from dayuan.orgs.choices import LocationKind
from dayuan.workorders import dispatch
from dayuan.workorders.choices import Status
from dayuan.workorders.models import (
    Responsibility,
    ServiceCategory,
    Team,
    TeamMember,
    WorkOrder,
)

_numbers = itertools.count(1)


# --- builders shared by the dispatch helper's tests (ORM rows, no services) -----------


def make_category(org, code="repair", name="维修", *, parent=None, skill="", sla="repair"):
    return ServiceCategory.objects.create(
        org=org, code=code, name=name, parent=parent, skill=skill, sla_category=sla
    )


def make_team(org, name, *, vendor=None, members=(), is_active=True):
    team = Team.objects.create(org=org, name=name, vendor=vendor, is_active=is_active)
    for user, skills, on_duty in members:
        TeamMember.objects.create(team=team, user=user, skills=list(skills), on_duty=on_duty)
    return team


def make_order(world, category, location, *, status=Status.SUBMITTED, **fields):
    now = timezone.now()
    requester = fields.pop("requester", None) or world.user("a_staff")
    return WorkOrder.objects.create(
        org=location.org,
        number=f"T{next(_numbers):09d}",
        category=category,
        location=location,
        description="水龙头漏水",
        requester=requester,
        created_by=requester,
        status=status,
        submitted_at=fields.pop("submitted_at", now),
        **fields,
    )


def places(world, key="a"):
    """room -> floor -> building -> compound of the world's first room of a county."""
    room = world.rooms[key]
    floor = room.parent
    building = floor.parent
    compound = building.parent
    return room, floor, building, compound


@pytest.fixture
def workers(world):
    org = world.county_a
    return {
        name: make_user(name, org, Role.WORKER, display_name=label)
        for name, label in (("w_zhang", "张师傅"), ("w_li", "李师傅"), ("w_wang", "王师傅"))
    }


# --- team -------------------------------------------------------------------------------


def test_it_prefers_the_building_responsibility_over_the_compound_one(world, workers):
    room, _floor, building, compound = places(world)
    repair = make_category(world.city)
    building_team = make_team(world.county_a, "一号楼维修班", members=[(workers["w_li"], [], True)])
    compound_team = make_team(
        world.county_a, "大院维修班", members=[(workers["w_zhang"], [], True)]
    )
    Responsibility.objects.create(
        org=world.county_a, category=repair, location=compound, team=compound_team
    )
    Responsibility.objects.create(
        org=world.county_a, category=repair, location=building, team=building_team
    )
    # A room in building 1 goes to the building's team ...
    choice = dispatch.choose(make_order(world, repair, room))
    assert choice.team == building_team
    assert choice.assignee == workers["w_li"]
    assert "一号楼维修班" in choice.reason and building.name in choice.reason
    # ... a room in another building of the same compound to the compound's team.
    other = make_location(world.county_a, "2号楼", LocationKind.BUILDING, compound)
    other_room = make_location(
        world.county_a,
        "201室",
        LocationKind.ROOM,
        make_location(world.county_a, "2层", LocationKind.FLOOR, other),
    )
    choice = dispatch.choose(make_order(world, repair, other_room))
    assert choice.team == compound_team
    assert choice.assignee == workers["w_zhang"]


def test_it_falls_back_to_the_whole_org_and_then_to_the_parent_category(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city)
    plumbing = make_category(world.city, "repair.plumbing", "水电", parent=repair)
    general = make_team(world.county_a, "综合班", members=[(workers["w_zhang"], [], True)])
    Responsibility.objects.create(org=world.county_a, category=repair, location=None, team=general)
    choice = dispatch.choose(make_order(world, plumbing, room))
    assert choice.team == general
    assert "全单位" in choice.reason
    # An exact-category responsibility beats the parent's, even farther up the locations.
    plumbers = make_team(world.county_a, "水电班", members=[(workers["w_li"], [], True)])
    Responsibility.objects.create(
        org=world.county_a, category=plumbing, location=None, team=plumbers
    )
    assert dispatch.choose(make_order(world, plumbing, room)).team == plumbers


def test_it_uses_the_nearest_org_and_ignores_inactive_teams(world, workers):
    room_a, *_ = places(world, "a")
    room_b, *_ = places(world, "b")
    repair = make_category(world.city)
    city_team = make_team(world.city, "市中心维修队")
    county_team = make_team(world.county_a, "甲县维修班", members=[(workers["w_li"], [], True)])
    Responsibility.objects.create(org=world.city, category=repair, location=None, team=city_team)
    Responsibility.objects.create(
        org=world.county_a, category=repair, location=None, team=county_team
    )
    assert dispatch.choose(make_order(world, repair, room_a)).team == county_team
    # County B has none of its own: the city's answers for it.
    choice = dispatch.choose(make_order(world, repair, room_b, requester=world.user("b_staff")))
    assert choice.team == city_team
    assert choice.assignee is None  # the city team has nobody on duty: the team's queue
    assert "待领" in choice.reason
    county_team.is_active = False
    county_team.save()
    assert dispatch.choose(make_order(world, repair, room_a)).team == city_team


def test_it_returns_none_without_a_responsibility(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city)
    # A responsibility for another subtree (county B's compound) does not cover county A.
    _b_room, _f, _b_building, b_compound = places(world, "b")
    team_b = make_team(world.county_b, "乙县维修班")
    Responsibility.objects.create(
        org=world.county_b, category=repair, location=b_compound, team=team_b
    )
    order = make_order(world, repair, room)
    assert dispatch.choose(order) is None
    reason = dispatch.no_match_reason(order)
    assert "维修" in reason and "人工派单" in reason
    order.refresh_from_db()
    assert order.status == Status.SUBMITTED and order.team is None


# --- worker -----------------------------------------------------------------------------


def test_it_picks_an_on_duty_member_with_the_skill(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city, skill="水电")
    team = make_team(
        world.county_a,
        "维修班",
        members=[
            (workers["w_zhang"], ["木工"], True),  # on duty, no skill
            (workers["w_li"], ["水电"], False),  # skill, off duty
            (workers["w_wang"], ["水电", "空调"], True),  # both
        ],
    )
    Responsibility.objects.create(org=world.county_a, category=repair, team=team)
    choice = dispatch.choose(make_order(world, repair, room))
    assert choice.assignee == workers["w_wang"]
    assert "水电" in choice.reason and "王师傅" in choice.reason
    # Nobody on duty with the skill: the team still gets it, nobody in particular.
    TeamMember.objects.filter(user=workers["w_wang"]).update(on_duty=False)
    choice = dispatch.choose(make_order(world, repair, room))
    assert choice.team == team and choice.assignee is None
    assert "水电" in choice.reason
    # An inactive user is never chosen.
    TeamMember.objects.filter(user=workers["w_li"]).update(on_duty=True)
    workers["w_li"].is_active = False
    workers["w_li"].save()
    assert dispatch.choose(make_order(world, repair, room)).assignee is None


def test_it_inherits_the_parent_categorys_skill(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city, skill="维修")
    plumbing = make_category(world.city, "repair.plumbing", "水电", parent=repair)
    team = make_team(
        world.county_a,
        "维修班",
        members=[(workers["w_zhang"], [], True), (workers["w_li"], ["维修"], True)],
    )
    Responsibility.objects.create(org=world.county_a, category=repair, team=team)
    assert dispatch.choose(make_order(world, plumbing, room)).assignee == workers["w_li"]


def test_it_picks_the_least_open_load_then_the_longest_idle(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city)
    team = make_team(world.county_a, "维修班", members=[(u, [], True) for u in workers.values()])
    Responsibility.objects.create(org=world.county_a, category=repair, team=team)
    now = timezone.now()
    zhang, li, wang = workers["w_zhang"], workers["w_li"], workers["w_wang"]
    for _ in range(2):
        make_order(world, repair, room, status=Status.ACCEPTED, assignee=li, dispatched_at=now)
    make_order(world, repair, room, status=Status.PAUSED, assignee=zhang, dispatched_at=now)
    make_order(world, repair, room, status=Status.DISPATCHED, assignee=wang, dispatched_at=now)
    for _ in range(5):  # finished work is no load
        make_order(world, repair, room, status=Status.CLOSED, assignee=zhang, dispatched_at=now)
    # zhang and wang have one open order each; li two. Tie: the one assigned longest ago.
    WorkOrder.objects.filter(assignee=zhang).update(dispatched_at=now - timedelta(days=3))
    choice = dispatch.choose(make_order(world, repair, room))
    assert choice.assignee == zhang
    assert "未完成工单 1 件" in choice.reason
    # Someone never assigned at all beats anyone with the same load.
    newcomer = make_user("w_zz_new", world.county_a, Role.WORKER)
    TeamMember.objects.create(team=team, user=newcomer)
    WorkOrder.objects.filter(
        assignee__in=[zhang, wang], status__in=[Status.PAUSED, Status.DISPATCHED]
    ).update(status=Status.RESOLVED)
    assert dispatch.choose(make_order(world, repair, room)).assignee == newcomer


def test_it_breaks_full_ties_by_username(world, workers):
    room, *_ = places(world)
    repair = make_category(world.city)
    team = make_team(world.county_a, "维修班", members=[(u, [], True) for u in workers.values()])
    Responsibility.objects.create(org=world.county_a, category=repair, team=team)
    assert dispatch.choose(make_order(world, repair, room)).assignee == workers["w_li"]


def test_it_runs_a_constant_number_of_queries(world, django_assert_max_num_queries):
    room, _floor, building, compound = places(world)
    repair = make_category(world.city, skill="水电")
    plumbing = make_category(world.city, "repair.plumbing", "水电", parent=repair)
    small = make_team(
        world.county_a,
        "小班",
        members=[(make_user("s1", world.county_a, Role.WORKER), ["水电"], True)],
    )
    Responsibility.objects.create(
        org=world.county_a, category=repair, location=compound, team=small
    )
    order = WorkOrder.objects.get(pk=make_order(world, plumbing, room).pk)  # a bare instance
    with django_assert_max_num_queries(4):
        assert dispatch.choose(order).team == small
    # Ten times the members, responsibilities at every level and a long history.
    big = make_team(world.county_a, "大班")
    for i in range(12):
        user = make_user(f"big{i}", world.county_a, Role.WORKER)
        TeamMember.objects.create(team=big, user=user, skills=["水电"], on_duty=i % 3 != 0)
        for status in (Status.ACCEPTED, Status.CLOSED, Status.CLOSED):
            make_order(
                world, repair, room, status=status, assignee=user, dispatched_at=timezone.now()
            )
    for loc in (building, room.parent, None):
        Responsibility.objects.create(org=world.county_a, category=plumbing, location=loc, team=big)
    Responsibility.objects.create(org=world.city, category=repair, location=None, team=big)
    order = WorkOrder.objects.get(pk=order.pk)
    with django_assert_max_num_queries(4):
        choice = dispatch.choose(order)
    assert choice.team == big and choice.assignee is not None


# --- through the lifecycle service --------------------------------------------------------


def test_it_drives_the_services_auto_dispatch(world, workers):
    from dayuan.core.errors import Conflict
    from dayuan.workorders import services
    from dayuan.workorders.models import WorkOrderEvent

    room, _floor, building, _compound = places(world)
    repair = make_category(world.city)
    desk = world.user("a_dispatcher")
    # No responsibility: refused with a reason, the order stays submitted and unassigned.
    order = make_order(world, repair, room)
    with pytest.raises(Conflict) as exc:
        services.auto_dispatch(actor=desk, order_id=order.pk)
    assert exc.value.code == "no_responsible_team"
    order.refresh_from_db()
    assert (order.status, order.team_id, order.assignee_id) == (Status.SUBMITTED, None, None)
    # With one, the choice and its reason land on the order and its timeline.
    team = make_team(world.county_a, "一号楼维修班", members=[(workers["w_li"], [], True)])
    Responsibility.objects.create(org=world.county_a, category=repair, location=building, team=team)
    order = services.auto_dispatch(actor=desk, order_id=order.pk, version=order.version)
    assert order.status == Status.DISPATCHED
    assert (order.team, order.assignee) == (team, workers["w_li"])
    event = WorkOrderEvent.objects.filter(workorder=order, action="auto_dispatch").get()
    assert "一号楼维修班" in event.note and "李师傅" in event.note
