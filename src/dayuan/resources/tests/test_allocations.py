"""The allocation flow: request → approval → in use → returned / completed, or rejected,
cancelled; every refusal code a request or a decision can give, each leaving nothing
changed (and a refused audit entry); approvals re-checked under the resource's lock;
stock taken by conditional UPDATE and given back; warehouse items handed out; demands
matched, fulfilled and re-opened; who is told (the owner's managers of a request, the
requesting side of a decision; county B never) and the audit entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from dayuan.accounts.choices import Role
from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from dayuan.core.testing import make_org, make_user
from dayuan.notifications.models import Notification
from dayuan.orgs.choices import OrgKind

from .. import events, matching, services
from ..choices import (
    AllocationStatus,
    CostBasis,
    DemandStatus,
    ResourceKind,
    StockStatus,
    TransferKind,
    Visibility,
)
from ..models import Allocation, Closure, Demand, Resource, Transfer
from .factories import MONDAY, allocation, at, demand, on, resource

pytestmark = pytest.mark.django_db

A = AllocationStatus
NOW = at(2026, 12, 1, 9, 0)  # the Tuesday before MONDAY
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin")


# --- helpers ---------------------------------------------------------------------------


def venue(pw, **kw) -> Resource:
    kw.setdefault("capacity", 60)
    return resource(pw.dept_a, ResourceKind.VENUE, name=kw.pop("name", "财政局报告厅"), **kw)


def team(pw, capacity: int = 10, **kw) -> Resource:
    kw.setdefault("visibility", Visibility.CITY)
    return resource(pw.social, ResourceKind.VOLUNTEER_TEAM, capacity=capacity, **kw)


def stock(pw, quantity: int = 10, **kw) -> Resource:
    kw.setdefault("unit_value", 300)
    return resource(pw.dept_a, ResourceKind.ASSET, quantity=quantity, name="办公桌", **kw)


def need(pw, who: str = "a_staff", org=None, **kw) -> Demand:
    return demand(org or pw.world.county_a, pw.user(who), **kw)


def ask(pw, res: Resource, who: str = "a_staff", now=NOW, **kw) -> Allocation:
    return services.request_allocation(actor=pw.user(who), resource_id=res.pk, now=now, **kw)


def ask_range(pw, res: Resource, start, hours: int = 3, **kw) -> Allocation:
    return ask(pw, res, start_at=start, end_at=start + timedelta(hours=hours), **kw)


def decide(pw, alloc: Allocation, approve: bool = True, who: str = "dept_a_manager", **kw):
    kw.setdefault("now", NOW)
    return services.decide_allocation(
        actor=pw.user(who), allocation_id=alloc.pk, approve=approve, **kw
    )


def fresh(obj):
    obj.refresh_from_db()
    return obj


def state() -> tuple:
    """Everything a refused call must leave as it was."""
    return (
        list(Allocation.objects.order_by("pk").values_list("pk", "status", "holds", "version")),
        list(Resource.objects.order_by("pk").values_list("pk", "available", "version")),
        list(Demand.objects.order_by("pk").values_list("pk", "status", "version")),
        Notification.objects.count(),
        Transfer.objects.count(),
        AuditEntry.objects.filter(outcome=Outcome.SUCCESS).count(),
    )


def refused(error: type[Exception], code: str, call, *args, **kw):
    """``call`` is refused with ``code``, changes nothing and leaves a refused entry."""
    before = state()
    kept = AuditEntry.objects.filter(outcome=Outcome.REFUSED).count()
    with pytest.raises(error) as info:
        call(*args, **kw)
    assert info.value.code == code, (info.value.code, info.value.message)
    assert state() == before
    assert AuditEntry.objects.filter(outcome=Outcome.REFUSED).count() == kept + 1
    return info.value


def told(event_type: str) -> set[str]:
    return set(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


# --- the happy path --------------------------------------------------------------------


def test_a_request_waits_for_the_owner_whose_managers_are_told(pw):
    hall = venue(pw, cost_basis=CostBasis.PER_HOUR, cost=100)
    d = need(pw, amount=40)
    a = ask(pw, hall, demand_id=d.pk, note="年度培训")
    assert a.status == A.REQUESTED and not a.holds and a.exclusive
    assert a.number == "DP-20261201-00001"
    assert (a.start_at, a.end_at, a.amount) == (d.start_at, d.end_at, 40)
    assert a.org == pw.dept_a and a.requester_org == pw.world.county_a
    assert a.cost == Decimal("300.00")  # 3 hours × ¥100
    assert a.requested_at == NOW and a.note == "年度培训"
    assert fresh(d).status == DemandStatus.OPEN
    # the nearest managers on the owner's path; nobody of county B
    assert told(events.ALLOCATION_REQUESTED) == {"dept_a_manager"}
    note = Notification.objects.get(event__type=events.ALLOCATION_REQUESTED)
    assert a.number in note.body and note.link == f"/resources/allocations/{a.pk}/"
    assert note.event.org == pw.dept_a
    entry = entries("resources.allocation.request").get()
    assert entry.changes["status"] == [None, A.REQUESTED]
    assert entry.changes["number"] == [None, a.number]
    assert entry.org_id == pw.dept_a.pk and entry.actor_id == pw.user("a_staff").pk


def test_approval_holds_the_venue_matches_the_demand_and_tells_the_requester(pw):
    hall = venue(pw)
    d = need(pw, who="dept_a_staff", org=pw.dept_a)
    a = ask(pw, hall, who="dept_a_staff", demand_id=d.pk)
    a = decide(pw, a, note="同意", version=a.version)
    assert a.status == A.APPROVED and a.holds
    assert a.decided_by == pw.user("dept_a_manager") and a.decided_at == NOW
    assert a.decision_note == "同意" and a.version == 2
    d = fresh(d)
    assert d.status == DemandStatus.MATCHED and d.matched_at == NOW
    assert told(events.ALLOCATION_DECIDED) == {"dept_a_staff"}
    entry = entries("resources.allocation.decide").get()
    assert entry.changes["status"] == [A.REQUESTED, A.APPROVED]
    assert entry.changes["holds"] == [False, True]
    assert entry.changes["demand_status"] == [DemandStatus.OPEN, DemandStatus.MATCHED]


def test_in_use_then_returned_releases_the_venue_and_fulfils_the_demand(pw):
    hall = venue(pw)
    d = need(pw)
    a = decide(pw, ask(pw, hall, demand_id=d.pk))
    later = on(MONDAY, 9)
    a = services.start_use(actor=pw.user("a_staff"), allocation_id=a.pk, now=later)
    assert a.status == A.IN_USE and a.started_at == later and a.holds
    assert fresh(d).status == DemandStatus.MATCHED
    done = on(MONDAY, 12)
    a = services.finish_allocation(
        actor=pw.user("dept_a_manager"), allocation_id=a.pk, note="场地完好", now=done
    )
    assert a.status == A.RETURNED and not a.holds and a.finished_at == done
    d = fresh(d)
    assert d.status == DemandStatus.FULFILLED and d.fulfilled_at == done
    assert entries("resources.allocation.start").count() == 1
    entry = entries("resources.allocation.finish").get()
    assert entry.changes["status"] == [A.IN_USE, A.RETURNED]
    assert entry.changes["demand_status"] == [DemandStatus.MATCHED, DemandStatus.FULFILLED]
    # the same range is free again
    assert decide(pw, ask(pw, hall, start_at=d.start_at, end_at=d.end_at), now=NOW).holds


def test_a_resource_without_approval_is_allocated_at_once_by_the_same_path(pw):
    hall = venue(pw, requires_approval=False)
    d = need(pw)
    a = ask(pw, hall, demand_id=d.pk)
    assert a.status == A.APPROVED and a.holds
    assert a.decided_by is None and a.decided_at == NOW and a.decision_note
    assert fresh(d).status == DemandStatus.MATCHED
    assert entries("resources.allocation.request").count() == 1
    assert entries("resources.allocation.decide").get().changes["auto"] is True
    # the owner is told it was taken; the requester gets the answer directly
    assert told(events.ALLOCATION_REQUESTED) == {"dept_a_manager"}
    note = Notification.objects.get(event__type=events.ALLOCATION_REQUESTED)
    assert "免审批" in note.title
    assert not told(events.ALLOCATION_DECIDED)


def test_rejection_frees_nothing_and_tells_the_requester(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 9))
    a = decide(pw, a, approve=False, note="设备检修")
    assert a.status == A.REJECTED and not a.holds and a.decision_note == "设备检修"
    assert told(events.ALLOCATION_DECIDED) == {"a_staff"}
    note = Notification.objects.get(event__type=events.ALLOCATION_DECIDED)
    assert "未获批准" in note.title
    assert entries("resources.allocation.decide").get().reason == "设备检修"
    refused(Conflict, "invalid_transition", decide, pw, a)


def test_a_direct_request_defaults_to_one_and_the_actors_unit(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 14), hours=2)
    assert a.demand is None and a.amount == 1
    assert a.requester_org == pw.world.county_a and a.cost == 0


# --- stock -----------------------------------------------------------------------------


def test_stock_is_taken_on_approval_saved_value_recorded_and_completed(pw):
    desks = stock(pw, quantity=10, unit_value=Decimal("450.50"))
    d = need(pw, kind=ResourceKind.ASSET, amount=4)
    a = ask(pw, desks, demand_id=d.pk)
    assert fresh(desks).available == 10  # a request holds nothing
    a = decide(pw, a)
    assert a.holds and a.saved == Decimal("1802.00")
    assert fresh(desks).available == 6
    a = services.finish_allocation(actor=pw.user("a_staff"), allocation_id=a.pk, now=NOW)
    assert a.status == A.COMPLETED and not a.holds
    assert fresh(desks).available == 6  # handed over for good
    assert fresh(d).status == DemandStatus.FULFILLED


def test_a_direct_stock_request_without_dates_is_needed_by_tomorrow(pw):
    desks = stock(pw)
    a = ask(pw, desks, amount=2)
    assert (a.start_at, a.end_at) == (NOW, NOW + timedelta(days=1))


def test_cancelling_approved_stock_gives_it_back(pw):
    desks = stock(pw, quantity=10)
    a = decide(pw, ask(pw, desks, amount=7))
    assert fresh(desks).available == 3
    a = services.cancel_allocation(
        actor=pw.user("a_staff"), allocation_id=a.pk, reason="不需要了", now=NOW
    )
    assert a.status == A.CANCELLED and not a.holds and a.decision_note == "不需要了"
    assert fresh(desks).available == 10
    assert entries("resources.allocation.cancel").get().reason == "不需要了"
    assert told(events.ALLOCATION_CANCELLED) == {"dept_a_manager"}


def test_the_conditional_update_refuses_stock_another_took_meanwhile(pw, monkeypatch):
    desks = stock(pw, quantity=5)
    a = ask(pw, desks, amount=4)
    # another approval took stock after the check ran: only the UPDATE can tell
    Resource.objects.filter(pk=desks.pk).update(available=2)
    monkeypatch.setattr(matching, "check", lambda *a, **k: [])
    refused(Conflict, "insufficient_stock", decide, pw, a)
    assert fresh(desks).available == 2


def test_a_warehouse_item_is_handed_out_and_comes_back_only_by_return(pw):
    chairs = resource(
        pw.world.city,
        ResourceKind.ASSET,
        name="会议椅",
        quantity=20,
        unit_value=200,
        visibility=Visibility.CITY,
        stock_status=StockStatus.STORED,
    )
    a = ask(pw, chairs, amount=20)
    a = decide(pw, a, who="city_manager")
    out = Transfer.objects.get(allocation=a)
    assert out.kind == TransferKind.OUT and out.quantity == 20 and out.value == Decimal("4000")
    assert (out.from_org, out.to_org) == (pw.world.city, pw.world.county_a)
    chairs = fresh(chairs)
    assert chairs.available == 0 and chairs.stock_status == StockStatus.OUT
    assert a.saved == Decimal("4000.00")
    err = refused(
        Conflict,
        "invalid_transition",
        services.cancel_allocation,
        actor=pw.user("city_manager"),
        allocation_id=a.pk,
        now=NOW,
    )
    assert err.details["handed_out"] is True


# --- the demand's allocations ----------------------------------------------------------


def test_approving_one_request_withdraws_the_demands_other_requests(pw):
    first, second = venue(pw, name="一号厅"), venue(pw, name="二号厅")
    other_owner = resource(pw.enterprise, ResourceKind.VENUE, capacity=80, name="集团礼堂")
    other_owner.visibility = Visibility.CITY
    other_owner.save()
    d = need(pw)
    a1 = ask(pw, first, demand_id=d.pk)
    a2 = ask(pw, second, demand_id=d.pk)
    a3 = ask(pw, other_owner, demand_id=d.pk)
    decide(pw, a1)
    assert fresh(a2).status == A.CANCELLED and fresh(a3).status == A.CANCELLED
    assert fresh(d).status == DemandStatus.MATCHED
    entry = entries("resources.allocation.decide").get()
    assert entry.changes["withdrawn"] == [a2.number, a3.number]
    # the other owner is told; the approver (who owns the second hall) needs no notice
    assert told(events.ALLOCATION_CANCELLED) == {"ent_manager"}
    # the demand is matched: nothing more can be asked or approved for it
    refused(Conflict, "demand_not_open", ask, pw, second, demand_id=d.pk)


def test_cancelling_the_allocation_that_matched_reopens_the_demand(pw):
    hall = venue(pw)
    d = need(pw)
    a = decide(pw, ask(pw, hall, demand_id=d.pk))
    services.cancel_allocation(actor=pw.user("dept_a_manager"), allocation_id=a.pk, now=NOW)
    d = fresh(d)
    assert d.status == DemandStatus.OPEN and d.matched_at is None
    # the owner cancelled: the requesting side is told, under its own unit
    assert told(events.ALLOCATION_CANCELLED) == {"a_staff"}
    assert Notification.objects.get(event__type=events.ALLOCATION_CANCELLED).event.org == (
        pw.world.county_a
    )
    # and it can be matched again
    assert decide(pw, ask(pw, hall, demand_id=d.pk)).holds


def test_a_manager_acting_for_a_demand_tells_the_poster_too(pw):
    hall = venue(pw)
    d = need(pw, who="dept_a_staff", org=pw.dept_a)
    a = ask(pw, hall, who="a_manager", demand_id=d.pk)
    assert a.requester == pw.user("a_manager") and a.requester_org == pw.dept_a
    decide(pw, a)
    assert told(events.ALLOCATION_DECIDED) == {"a_manager", "dept_a_staff"}


# --- refusals of a request -------------------------------------------------------------


def test_kind_mismatch(pw):
    car = resource(pw.dept_a, ResourceKind.VEHICLE, capacity=5)
    d = need(pw, amount=3)  # a venue
    refused(InvalidInput, "kind_mismatch", ask, pw, car, demand_id=d.pk)


def test_capacity_short(pw):
    small = venue(pw, capacity=20)
    d = need(pw, amount=30)
    err = refused(InvalidInput, "capacity_short", ask, pw, small, demand_id=d.pk)
    assert [r["code"] for r in err.details["refusals"]] == ["capacity_short"]


def test_headcount_exceeded(pw):
    volunteers = team(pw, capacity=10)
    allocation(volunteers, pw.user("a_staff"), amount=8, start_at=on(MONDAY, 9))
    refused(Conflict, "headcount_exceeded", ask_range, pw, volunteers, on(MONDAY, 10), amount=3)
    # two fit beside the eight, and after them the team is free again
    assert ask_range(pw, volunteers, on(MONDAY, 10), amount=2).status == A.REQUESTED
    assert ask_range(pw, volunteers, on(MONDAY, 12), amount=10).status == A.REQUESTED


def test_headcount_exceeded_on_approval_under_the_lock(pw):
    volunteers = team(pw, capacity=10)
    first = ask_range(pw, volunteers, on(MONDAY, 9), amount=6)
    second = ask_range(pw, volunteers, on(MONDAY, 10), amount=6)
    decide(pw, first, who="social_manager")
    refused(Conflict, "headcount_exceeded", decide, pw, second, who="social_manager")


def test_insufficient_stock(pw):
    desks = stock(pw, quantity=5)
    refused(Conflict, "insufficient_stock", ask, pw, desks, amount=6)
    decide(pw, ask(pw, desks, amount=4))
    refused(Conflict, "insufficient_stock", ask, pw, desks, amount=2)


def test_attributes_missing(pw):
    hall = venue(pw, attributes=["sound"])
    d = need(pw, attributes=["projector", "sound"])
    err = refused(InvalidInput, "attributes_missing", ask, pw, hall, demand_id=d.pk)
    assert err.details["missing"] == ["projector"]


def test_outside_windows(pw):
    weekdays = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False}]
    hall = venue(pw, windows=weekdays)
    refused(InvalidInput, "outside_windows", ask_range, pw, hall, on(MONDAY, 17), hours=2)
    assert ask_range(pw, hall, on(MONDAY, 15), hours=3).status == A.REQUESTED


def test_closed(pw):
    hall = venue(pw)
    Closure.objects.create(resource=hall, start_at=on(MONDAY, 0), end_at=on(MONDAY, 12))
    refused(Conflict, "closed", ask_range, pw, hall, on(MONDAY, 11))
    assert ask_range(pw, hall, on(MONDAY, 12)).status == A.REQUESTED  # half-open


def test_resource_taken(pw):
    hall = venue(pw)
    allocation(hall, pw.user("dept_a_staff"), start_at=on(MONDAY, 9))  # 9–12, approved
    refused(Conflict, "resource_taken", ask_range, pw, hall, on(MONDAY, 11))
    assert ask_range(pw, hall, on(MONDAY, 12)).status == A.REQUESTED  # half-open


def test_resource_taken_on_approval_under_the_lock(pw):
    hall = venue(pw)
    first = ask_range(pw, hall, on(MONDAY, 9))
    second = ask_range(pw, hall, on(MONDAY, 10), who="dept_a_staff")
    decide(pw, first)
    refused(Conflict, "resource_taken", decide, pw, second)
    assert fresh(second).status == A.REQUESTED


def test_the_exclusion_constraint_has_the_last_word(pw, monkeypatch):
    """Even when the check is fooled, PostgreSQL's constraint refuses a double hold."""
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    hall = venue(pw)
    first = ask_range(pw, hall, on(MONDAY, 9))
    second = ask_range(pw, hall, on(MONDAY, 10))
    decide(pw, first)
    monkeypatch.setattr(matching, "check", lambda *a, **k: [])
    refused(Conflict, "resource_taken", decide, pw, second)


def test_over_budget(pw):
    hall = venue(pw, cost_basis=CostBasis.PER_HOUR, cost=100)
    d = need(pw, budget=Decimal("200"))  # three hours: ¥300
    refused(InvalidInput, "over_budget", ask, pw, hall, demand_id=d.pk)
    cheap = need(pw, budget=Decimal("300"))
    assert ask(pw, hall, demand_id=cheap.pk).cost == Decimal("300.00")


def test_not_usable_by_the_actor_is_403(pw):
    hall = venue(pw, is_active=False)  # its managers still see it
    refused(
        PermissionDenied, "not_usable", ask_range, pw, hall, on(MONDAY, 9), who="dept_a_manager"
    )


def test_not_usable_by_the_demands_poster_is_403(pw):
    # a department's own hall (仅本单位): its sister department's staff cannot use it
    hall = resource(pw.dept_a, ResourceKind.VENUE, visibility=Visibility.OWNER)
    sister = make_org("甲县文旅局", "dept-a2", OrgKind.DEPARTMENT, pw.world.county_a)
    poster = make_user("dept_a2_staff", sister, Role.STAFF)
    d = demand(sister, poster)
    refused(PermissionDenied, "not_usable", ask, pw, hall, who="a_manager", demand_id=d.pk)


def test_another_countys_resource_does_not_exist(pw):
    hall = venue(pw)
    refused(NotFound, "not_found", ask_range, pw, hall, on(MONDAY, 9), who="b_staff")
    refused(NotFound, "not_found", ask_range, pw, hall, on(MONDAY, 9), who="b_manager")


def test_a_shared_resource_is_usable_across_counties_and_b_is_told_only_of_its_own(pw):
    hall = venue(pw, visibility=Visibility.CITY)
    a = ask_range(pw, hall, on(MONDAY, 9), who="b_staff")
    assert a.requester_org == pw.world.county_b
    assert told(events.ALLOCATION_REQUESTED) == {"dept_a_manager"}
    decide(pw, a)
    assert told(events.ALLOCATION_DECIDED) == {"b_staff"}
    assert Notification.objects.get(event__type=events.ALLOCATION_DECIDED).event.org == (
        pw.world.county_b
    )


def test_county_b_is_never_told_of_county_as_allocations(pw):
    hall = venue(pw)
    d = need(pw)
    a = decide(pw, ask(pw, hall, demand_id=d.pk))
    services.start_use(actor=pw.user("dept_a_manager"), allocation_id=a.pk, now=on(MONDAY, 9))
    services.finish_allocation(actor=pw.user("a_staff"), allocation_id=a.pk, now=on(MONDAY, 12))
    b = ask_range(pw, hall, on(MONDAY, 14))
    services.cancel_allocation(actor=pw.user("dept_a_manager"), allocation_id=b.pk, now=NOW)
    assert Notification.objects.exists()
    assert not Notification.objects.filter(recipient__username__in=B_USERS).exists()
    assert not Notification.objects.filter(recipient__home_org=pw.world.county_b).exists()


def test_window_invalid(pw):
    hall = venue(pw)
    start = on(MONDAY, 9)
    refused(InvalidInput, "window_invalid", ask, pw, hall, start_at=start, end_at=start)
    refused(
        InvalidInput,
        "window_invalid",
        ask,
        pw,
        hall,
        start_at=start.replace(tzinfo=None),
        end_at=start + timedelta(hours=1),
    )
    refused(InvalidInput, "window_invalid", ask, pw, hall, start_at="明天", end_at=start)
    refused(
        InvalidInput,
        "window_invalid",
        ask,
        pw,
        hall,
        start_at=start,
        end_at=start + timedelta(days=400),
    )


def test_window_past(pw):
    hall = venue(pw)
    refused(InvalidInput, "window_past", ask_range, pw, hall, NOW - timedelta(minutes=1))
    a = ask_range(pw, hall, on(MONDAY, 9))
    # approving once the range is over
    refused(InvalidInput, "window_past", decide, pw, a, now=on(MONDAY, 12))


def test_demand_not_open(pw):
    hall = venue(pw)
    waiting = need(pw, status=DemandStatus.SUBMITTED)
    refused(Conflict, "demand_not_open", ask, pw, hall, demand_id=waiting.pk)
    gone = need(pw, status=DemandStatus.CANCELLED)
    refused(Conflict, "demand_not_open", ask, pw, hall, demand_id=gone.pk)


def test_demand_not_open_when_approving_for_a_cancelled_demand(pw):
    hall = venue(pw)
    d = need(pw)
    a = ask(pw, hall, demand_id=d.pk)
    Demand.objects.filter(pk=d.pk).update(status=DemandStatus.CANCELLED)
    refused(Conflict, "demand_not_open", decide, pw, a)


def test_duplicate_request_for_a_demand(pw):
    hall = venue(pw)
    d = need(pw)
    ask(pw, hall, demand_id=d.pk)
    refused(Conflict, "duplicate", ask, pw, hall, demand_id=d.pk)


def test_only_the_poster_or_a_manager_acts_for_a_demand(pw):
    hall = venue(pw, visibility=Visibility.CITY)
    d = need(pw, who="dept_a_staff", org=pw.dept_a)
    refused(
        PermissionDenied, "permission_denied", ask, pw, hall, who="a_dispatcher", demand_id=d.pk
    )
    # county B cannot see it at all
    refused(NotFound, "not_found", ask, pw, hall, who="b_manager", demand_id=d.pk)


# --- refusals of a decision and of the later steps -------------------------------------


def test_only_the_owners_managers_decide(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 9))
    refused(PermissionDenied, "permission_denied", decide, pw, a, who="a_staff")
    refused(NotFound, "not_found", decide, pw, a, who="b_manager")
    # a manager of the requesting unit sees it but does not own the resource
    ent = resource(pw.enterprise, ResourceKind.VENUE, visibility=Visibility.CITY)
    e = ask_range(pw, ent, on(MONDAY, 9))
    refused(PermissionDenied, "permission_denied", decide, pw, e, who="a_manager")
    assert decide(pw, e, who="ent_manager").holds


def test_a_stale_version_is_refused(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 9))
    err = refused(StaleVersion, "stale_version", decide, pw, a, version=a.version + 1)
    assert err.details["current_version"] == a.version


def test_invalid_transitions(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 9))
    start = services.start_use
    finish = services.finish_allocation
    cancel = services.cancel_allocation
    owner = pw.user("dept_a_manager")
    refused(Conflict, "invalid_transition", start, actor=owner, allocation_id=a.pk, now=NOW)
    refused(Conflict, "invalid_transition", finish, actor=owner, allocation_id=a.pk, now=NOW)
    decide(pw, a)
    # an approved venue not yet begun is cancelled, not finished
    refused(Conflict, "invalid_transition", finish, actor=owner, allocation_id=a.pk, now=NOW)
    start(actor=owner, allocation_id=a.pk, now=on(MONDAY, 9))
    refused(Conflict, "invalid_transition", cancel, actor=owner, allocation_id=a.pk, now=NOW)
    refused(Conflict, "invalid_transition", decide, pw, a)
    finish(actor=owner, allocation_id=a.pk, now=on(MONDAY, 11))
    refused(Conflict, "invalid_transition", finish, actor=owner, allocation_id=a.pk, now=NOW)
    refused(Conflict, "invalid_transition", start, actor=owner, allocation_id=a.pk, now=NOW)


def test_the_requester_cancels_only_before_the_start(pw):
    hall = venue(pw)
    a = decide(pw, ask_range(pw, hall, on(MONDAY, 9)))
    err = refused(
        Conflict,
        "invalid_transition",
        services.cancel_allocation,
        actor=pw.user("a_staff"),
        allocation_id=a.pk,
        now=on(MONDAY, 9),
    )
    assert err.details["started"] is True
    # the owner still may (a no-show)
    a = services.cancel_allocation(
        actor=pw.user("dept_a_manager"), allocation_id=a.pk, now=on(MONDAY, 9, 30)
    )
    assert a.status == A.CANCELLED and not a.holds


def test_strangers_in_the_same_county_may_not_touch_an_allocation(pw):
    hall = venue(pw)
    a = ask_range(pw, hall, on(MONDAY, 9))
    refused(
        NotFound,
        "not_found",
        services.cancel_allocation,
        actor=pw.user("dept_a_staff"),
        allocation_id=a.pk,
        now=NOW,
    )
    refused(
        NotFound,
        "not_found",
        services.start_use,
        actor=pw.user("b_manager"),
        allocation_id=a.pk,
        now=NOW,
    )


# --- idempotency -----------------------------------------------------------------------


def test_the_same_client_key_gives_the_same_allocation(pw):
    hall = venue(pw, requires_approval=False)
    first = ask_range(pw, hall, on(MONDAY, 9), client_key="k-1")
    again = ask_range(pw, hall, on(MONDAY, 9), client_key="k-1")  # would be resource_taken
    assert again.pk == first.pk
    assert Allocation.objects.count() == 1
    assert entries("resources.allocation.request").count() == 1
    refused(
        Conflict,
        "client_key_taken",
        ask_range,
        pw,
        hall,
        on(MONDAY, 14),
        who="dept_a_staff",
        client_key="k-1",
    )


def test_numbers_run_per_day(pw):
    hall = venue(pw)
    numbers = [ask_range(pw, hall, on(MONDAY, h)).number for h in (8, 11, 14)]
    assert numbers == [f"DP-20261201-0000{i}" for i in (1, 2, 3)]


# --- cancelling a demand ---------------------------------------------------------------


def test_cancelling_a_demand_cancels_its_requests_and_approved_allocations(pw):
    hall, desks = venue(pw), stock(pw, quantity=10)
    d = need(pw)
    requested = ask(pw, hall, demand_id=d.pk)
    d2 = need(pw, kind=ResourceKind.ASSET, amount=3)
    approved = decide(pw, ask(pw, desks, demand_id=d2.pk))
    assert fresh(desks).available == 7
    services.cancel_demand(actor=pw.user("a_staff"), demand_id=d.pk, reason="活动取消", now=NOW)
    services.cancel_demand(actor=pw.user("a_manager"), demand_id=d2.pk, now=NOW)
    assert fresh(d).status == DemandStatus.CANCELLED and fresh(d).closed_reason == "活动取消"
    assert fresh(d2).status == DemandStatus.CANCELLED
    assert fresh(requested).status == A.CANCELLED
    approved = fresh(approved)
    assert approved.status == A.CANCELLED and not approved.holds
    assert fresh(desks).available == 10
    entry = entries("resources.demand.cancel").first()
    assert entry.changes["allocations_cancelled"] == [requested.number]
    assert "dept_a_manager" in told(events.ALLOCATION_CANCELLED)


def test_a_demand_in_use_cannot_be_cancelled(pw):
    hall = venue(pw)
    d = need(pw)
    a = decide(pw, ask(pw, hall, demand_id=d.pk))
    services.start_use(actor=pw.user("a_staff"), allocation_id=a.pk, now=on(MONDAY, 9))
    refused(
        Conflict,
        "invalid_transition",
        services.cancel_demand,
        actor=pw.user("a_staff"),
        demand_id=d.pk,
        now=on(MONDAY, 10),
    )
