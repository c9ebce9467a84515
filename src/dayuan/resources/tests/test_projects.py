"""民生微实事 micro-projects: proposed by anyone for their unit, approved (or turned
down) by a manager, carried out by the leader (progress, spending within the budget,
people reached) and completed with an outcome; the summary adds up the resources
committed, funds, volunteer hours and demands. County B sees none of county A's."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion

from .. import projects as ps
from .. import queries
from ..choices import (
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
)
from ..models import Activity, MicroProject, SignUp, Volunteer
from .factories import MONDAY, allocation, at, demand, on, resource

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 1, 10, 0)


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


def propose(pw, user="a_staff", **data) -> MicroProject:
    fields = {
        "org_id": pw.world.county_a.pk,
        "title": "老旧小区加装扶手",
        "description": "为 3 栋老楼加装楼梯扶手",
        "budget": "50000",
        "starts_on": date(2026, 12, 10),
        "ends_on": date(2027, 1, 31),
        **data,
    }
    return ps.create_project(actor=pw.user(user), data=fields, now=NOW)


def approved(pw, **data) -> MicroProject:
    project = propose(pw, **data)
    return ps.decide_project(
        actor=pw.user("a_manager"), project_id=project.pk, approve=True, now=NOW
    )


# --- proposing and deciding ------------------------------------------------------------------


def test_anyone_proposes_for_their_unit_and_a_manager_approves(pw):
    project = propose(pw, location_id=pw.world.rooms["a"].pk)
    assert (project.status, project.number, project.leader) == (
        ProjectStatus.PROPOSED,
        "WS-20261201-00001",
        pw.user("a_staff"),
    )
    assert (project.budget, project.spent, project.progress) == (Decimal("50000.00"), 0, 0)
    assert project.location == pw.world.rooms["a"]
    entry = entries("resources.project.create").get()
    assert entry.org_id == pw.world.county_a.pk and entry.changes["status"] == [None, "proposed"]
    assert propose(pw, title="第二个").number == "WS-20261201-00002"
    # seen by the whole county and the city; not by county B
    for who in ("a_staff", "dept_a_staff", "city_manager", "a_dispatcher"):
        assert queries.visible_projects(pw.user(who)).filter(pk=project.pk).exists()
    for who in ("b_staff", "b_manager"):
        assert not queries.visible_projects(pw.user(who)).filter(pk=project.pk).exists()

    with pytest.raises(PermissionDenied):
        ps.decide_project(actor=pw.user("a_staff"), project_id=project.pk, approve=True)
    with pytest.raises(NotFound):
        ps.decide_project(actor=pw.user("b_manager"), project_id=project.pk, approve=True)
    done = ps.decide_project(
        actor=pw.user("a_manager"), project_id=project.pk, approve=True, note="同意", now=NOW
    )
    assert (done.status, done.approved_at, done.version) == (ProjectStatus.APPROVED, NOW, 2)
    entry = entries("resources.project.decide").get()
    assert entry.changes["status"] == ["proposed", "approved"] and entry.reason == "同意"
    with pytest.raises(Conflict) as exc:
        ps.decide_project(actor=pw.user("a_manager"), project_id=project.pk, approve=False)
    assert exc.value.code == "invalid_transition"
    assert entries("resources.project.decide", Outcome.REFUSED).count() == 3


def test_a_project_turned_down_is_cancelled(pw):
    project = propose(pw)
    got = ps.decide_project(actor=pw.user("city_manager"), project_id=project.pk, approve=False)
    assert (got.status, got.approved_at) == (ProjectStatus.CANCELLED, None)
    with pytest.raises(Conflict):
        ps.update_progress(actor=pw.user("a_staff"), project_id=project.pk, progress=10)


@pytest.mark.parametrize(
    ("user", "data", "error", "code"),
    [
        ("b_staff", {}, NotFound, "not_found"),
        ("a_staff", {"org_id": None}, NotFound, "not_found"),
        ("a_staff", {"budget": "-1"}, InvalidInput, "invalid_amount"),
        ("a_staff", {"budget": "abc"}, InvalidInput, "invalid_amount"),
        ("a_staff", {"budget": None}, InvalidInput, "invalid_amount"),
        ("a_staff", {"title": " "}, InvalidInput, "required"),
        ("a_staff", {"leader_id": "b_staff"}, InvalidInput, "invalid_leader"),
        ("a_staff", {"location_id": "b_room"}, InvalidInput, "invalid_location"),
        ("a_staff", {"ends_on": date(2026, 12, 1)}, InvalidInput, "window_invalid"),
        ("a_staff", {"starts_on": datetime(2026, 12, 1, 9)}, InvalidInput, "invalid_day"),
        ("a_staff", {"progress": 10}, InvalidInput, "unknown_field"),
    ],
)
def test_create_refusals_change_nothing(pw, user, data, error, code):
    if data.get("leader_id") == "b_staff":
        data["leader_id"] = pw.user("b_staff").pk
    if data.get("location_id") == "b_room":
        data["location_id"] = pw.world.rooms["b"].pk
    with pytest.raises(error) as exc:
        propose(pw, user=user, **data)
    assert exc.value.code == code
    assert not MicroProject.objects.exists()
    assert entries("resources.project.create", Outcome.REFUSED).count() == 1


def test_the_leader_must_reach_the_unit(pw):
    project = propose(pw, leader_id=pw.user("a_inspector").pk)
    assert project.leader == pw.user("a_inspector")
    # the department's manager reaches the department, not county A itself
    with pytest.raises(InvalidInput) as exc:
        propose(pw, leader_id=pw.user("dept_a_manager").pk)
    assert exc.value.code == "invalid_leader"
    own = propose(pw, org_id=pw.dept_a.pk, leader_id=pw.user("dept_a_manager").pk)
    assert own.leader == pw.user("dept_a_manager") and own.org == pw.dept_a


# --- carrying it out ------------------------------------------------------------------------


def test_progress_within_the_budget_then_completion(pw):
    project = approved(pw)
    leader = pw.user("a_staff")
    with pytest.raises(StaleVersion):
        ps.update_progress(actor=leader, project_id=project.pk, progress=10, version=1)
    got = ps.update_progress(
        actor=leader,
        project_id=project.pk,
        progress=30,
        spent=Decimal("12000"),
        beneficiaries=120,
        note="完成 1 栋",
        version=2,
        now=NOW,
    )
    assert (got.status, got.progress, got.spent, got.beneficiaries, got.version) == (
        ProjectStatus.IN_PROGRESS,
        30,
        Decimal("12000.00"),
        120,
        3,
    )
    entry = entries("resources.project.progress").get()
    assert entry.changes["status"] == ["approved", "in_progress"] and entry.reason == "完成 1 栋"
    # over the budget: refused, nothing changed
    with pytest.raises(InvalidInput) as exc:
        ps.update_progress(actor=leader, project_id=project.pk, progress=60, spent="50000.01")
    assert exc.value.code == "over_budget" and exc.value.details["field"] == "spent"
    for bad in (101, -1, "50", True):
        with pytest.raises(InvalidInput) as exc:
            ps.update_progress(actor=leader, project_id=project.pk, progress=bad)
        assert exc.value.code == "out_of_range"
    with pytest.raises(PermissionDenied):  # sees it, but neither leads nor manages it
        ps.update_progress(actor=pw.user("dept_a_staff"), project_id=project.pk, progress=50)
    with pytest.raises(NotFound):
        ps.update_progress(actor=pw.user("b_manager"), project_id=project.pk, progress=50)
    project.refresh_from_db()
    assert (project.progress, project.spent) == (30, Decimal("12000.00"))
    # a manager may report too
    ps.update_progress(actor=pw.user("a_manager"), project_id=project.pk, progress=80)

    with pytest.raises(InvalidInput) as exc:
        ps.complete_project(
            actor=leader, project_id=project.pk, outcome="", beneficiaries=300, spent=1
        )
    assert exc.value.code == "required"
    with pytest.raises(InvalidInput) as exc:
        ps.complete_project(
            actor=leader, project_id=project.pk, outcome="完成", beneficiaries=300, spent=60000
        )
    assert exc.value.code == "over_budget"
    done = ps.complete_project(
        actor=leader,
        project_id=project.pk,
        outcome="3 栋楼加装扶手 240 米",
        beneficiaries=360,
        spent=Decimal("48500.50"),
        now=NOW + timedelta(days=40),
    )
    assert (done.status, done.progress, done.beneficiaries, done.spent) == (
        ProjectStatus.COMPLETED,
        100,
        360,
        Decimal("48500.50"),
    )
    assert done.completed_at == NOW + timedelta(days=40) and done.outcome.startswith("3 栋楼")
    for call in (
        lambda: ps.complete_project(
            actor=leader, project_id=project.pk, outcome="再次", beneficiaries=1, spent=1
        ),
        lambda: ps.update_progress(actor=leader, project_id=project.pk, progress=100),
    ):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.code == "invalid_transition"
    assert entries("resources.project.complete").count() == 1
    assert entries("resources.project.complete", Outcome.REFUSED).count() == 3


def test_a_proposed_project_cannot_progress(pw):
    project = propose(pw)
    with pytest.raises(Conflict) as exc:
        ps.update_progress(actor=pw.user("a_staff"), project_id=project.pk, progress=10)
    assert exc.value.code == "invalid_transition"
    with pytest.raises(Conflict):
        ps.complete_project(
            actor=pw.user("a_manager"), project_id=project.pk, outcome="x", beneficiaries=1, spent=0
        )


# --- the summary ------------------------------------------------------------------------------


def test_summary_adds_up_resources_funds_hours_and_demands(pw, django_assert_max_num_queries):
    project = approved(pw)
    staff = pw.user("a_staff")
    hall = resource(pw.world.county_a, name="礼堂", cost=300, cost_basis="per_use")
    van = resource(pw.enterprise, ResourceKind.VEHICLE, name="中巴", visibility="city")
    chairs = resource(pw.world.city, ResourceKind.ASSET, quantity=40, unit_value=350)
    fund = resource(pw.world.city, ResourceKind.FUND, quantity=100000, name="微实事资金")
    allocation(hall, staff, project=project, cost=Decimal("300"))
    allocation(van, staff, project=project, status=AllocationStatus.RETURNED)
    allocation(chairs, staff, project=project, amount=5, saved=Decimal("1750"), status="completed")
    allocation(fund, staff, project=project, amount=20000, status=AllocationStatus.IN_USE)
    allocation(fund, staff, project=project, amount=3000, status=AllocationStatus.APPROVED)
    allocation(fund, staff, project=project, amount=9999, status=AllocationStatus.REQUESTED)
    allocation(fund, staff, project=project, amount=8888, status=AllocationStatus.CANCELLED)
    allocation(fund, staff, amount=7777)  # another project's (none)
    # demands posted for it
    demand(pw.world.county_a, staff, project=project)
    demand(pw.world.county_a, staff, project=project, status=DemandStatus.MATCHED)
    demand(pw.world.county_a, staff, project=project, status=DemandStatus.MATCHED)
    demand(pw.world.county_a, staff, status=DemandStatus.MATCHED)
    # two activities: one held (3 attended, 1 absent), one called off
    held = Activity.objects.create(
        org=pw.world.county_a,
        title="安装日",
        start_at=on(MONDAY, 9),
        end_at=on(MONDAY, 12),
        slots=10,
        hours=Decimal("3"),
        project=project,
        status=ActivityStatus.DONE,
        created_by=pw.user("a_manager"),
    )
    Activity.objects.create(
        org=pw.world.county_a,
        title="取消",
        start_at=on(MONDAY, 14),
        end_at=on(MONDAY, 15),
        slots=5,
        hours=1,
        project=project,
        status=ActivityStatus.CANCELLED,
        created_by=pw.user("a_manager"),
    )
    for i, (status, hours) in enumerate(
        [("attended", "3"), ("attended", "3"), ("attended", "2.5"), ("absent", "0")]
    ):
        v = Volunteer.objects.create(org=pw.world.county_a, name=f"志愿者{i}")
        SignUp.objects.create(activity=held, volunteer=v, status=status, hours=Decimal(hours))

    with django_assert_max_num_queries(5):
        s = ps.project_summary(project)
    kinds = {a["kind"]: a for a in s["allocations"]}
    assert set(kinds) == {"asset", "fund", "vehicle", "venue"}
    assert (kinds["fund"]["count"], kinds["fund"]["amount"]) == (2, 23000)
    assert kinds["asset"]["saved"] == Decimal("1750") and kinds["asset"]["amount"] == 5
    assert kinds["venue"]["cost"] == Decimal("300") and kinds["venue"]["label"] == "场地"
    assert s["funds"] == Decimal("23000.00")
    assert (s["saved"], s["cost"], s["allocations_pending"]) == (
        Decimal("1750"),
        Decimal("300"),
        1,
    )
    assert (s["activities"], s["volunteers"], s["volunteer_hours"]) == (1, 3, Decimal("8.5"))
    assert s["demands"] == {"open": 1, "matched": 2} and s["demands_total"] == 3
    assert (s["budget"], s["spent"], s["remaining"]) == (
        Decimal("50000.00"),
        Decimal("0.00"),
        Decimal("50000.00"),
    )
    # an empty project sums to zeros
    empty = ps.project_summary(propose(pw, title="空"))
    assert empty["allocations"] == [] and empty["volunteer_hours"] == 0
    assert empty["funds"] == 0 and empty["demands"] == {} and empty["activities"] == 0
