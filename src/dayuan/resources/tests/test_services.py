"""Resources, closures and demands: offering and editing a resource (kind-specific
fields, windows, attributes, money, fixed fields, versions, photos), closing it for a
period, posting demands (open at once, or waiting for the unit's approver, who is
told), deciding and cancelling them; who may (the owner's managers; another county
does not see it); the audit entries; and the hourly job (expiry, overdue reminders,
idempotent)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.testing import make_location
from dayuan.notifications.models import Notification
from dayuan.orgs.choices import LocationKind
from dayuan.workorders.tests.core_factories import gps_jpeg, upload

from .. import events, services, tasks
from ..choices import (
    AllocationStatus,
    CostBasis,
    DemandStatus,
    Priority,
    ResourceKind,
    Visibility,
)
from ..models import Allocation, Closure, Demand, Resource
from .factories import MONDAY, allocation, at, demand, on, resource

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 1, 9, 0)
WEEKDAYS = {"days": [4, 0, 2, 1, 3], "start": "08:00", "end": "18:00"}


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


def told(event_type: str) -> set[str]:
    return set(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def fresh(obj):
    obj.refresh_from_db()
    return obj


def state() -> tuple:
    return (
        list(Resource.objects.order_by("pk").values_list("pk", "version", "name", "available")),
        list(Closure.objects.order_by("pk").values_list("pk", "start_at")),
        list(Demand.objects.order_by("pk").values_list("pk", "status", "version")),
        Notification.objects.count(),
        AuditEntry.objects.filter(outcome=Outcome.SUCCESS).count(),
    )


def refused(error: type[Exception], code: str, call, *args, **kw):
    before = state()
    kept = AuditEntry.objects.filter(outcome=Outcome.REFUSED).count()
    with pytest.raises(error) as info:
        call(*args, **kw)
    assert info.value.code == code, (info.value.code, info.value.message)
    assert state() == before
    assert AuditEntry.objects.filter(outcome=Outcome.REFUSED).count() == kept + 1
    return info.value


def offer(pw, who: str = "dept_a_manager", **data) -> Resource:
    fields = {
        "org_id": pw.dept_a.pk,
        "kind": ResourceKind.VENUE,
        "name": "财政局报告厅",
        "capacity": 120,
        **data,
    }
    return services.save_resource(actor=pw.user(who), data=fields)


def edit(pw, res: Resource, who: str = "dept_a_manager", version=None, **data) -> Resource:
    return services.save_resource(
        actor=pw.user(who), resource_id=res.pk, data=data, version=version
    )


# --- resources -------------------------------------------------------------------------


def test_offering_a_venue_keeps_the_owners_centre_and_normalised_fields(pw):
    hall = offer(
        pw,
        description="可容纳120人",
        attributes=[" projector ", "sound", "projector", "舞台灯光"],
        windows=[WEEKDAYS, {"days": [5], "start": "18:00", "end": "24:00", "offpeak": True}],
        visibility=Visibility.CITY,
        cost_basis=CostBasis.PER_HOUR,
        cost="150.50",
        preference=80,
        contact_id=pw.user("dept_a_staff").pk,
        contact_phone="0571-88888888",
        requires_approval=False,
    )
    hall = fresh(hall)
    assert (hall.org, hall.centre, hall.kind) == (pw.dept_a, pw.world.county_a, "venue")
    assert hall.capacity == 120 and hall.quantity == 0 and hall.unit == "人"
    assert hall.attributes == ["projector", "sound", "舞台灯光"]
    assert hall.windows == [
        {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False},
        {"days": [5], "start": "18:00", "end": "24:00", "offpeak": True},
    ]
    assert hall.cost == Decimal("150.50") and hall.preference == 80
    assert hall.contact == pw.user("dept_a_staff") and not hall.requires_approval
    entry = entries("resources.resource.save").get()
    assert entry.changes["name"] == [None, "财政局报告厅"]
    assert entry.changes["capacity"] == [None, 120]
    assert entry.org_id == pw.dept_a.pk


def test_offering_stock_makes_all_of_it_available(pw):
    desks = offer(pw, kind=ResourceKind.ASSET, name="办公桌", capacity=None, quantity=40)
    assert (desks.quantity, desks.available, desks.capacity, desks.unit) == (40, 40, 0, "件")
    fund = offer(pw, kind=ResourceKind.FUND, name="微实事资金", capacity=None, quantity=50000)
    assert fund.available == 50000 and fund.unit == "元"


def test_editing_keeps_missing_keys_bumps_the_version_and_audits_the_diff(pw):
    hall = offer(pw)
    hall = edit(pw, hall, version=1, name="一号报告厅", capacity=100)
    assert (hall.name, hall.capacity, hall.version) == ("一号报告厅", 100, 2)
    assert hall.kind == ResourceKind.VENUE and hall.visibility == Visibility.CENTRE
    entry = entries("resources.resource.save").last()
    assert entry.changes == {
        "capacity": [120, 100],
        "name": ["财政局报告厅", "一号报告厅"],
        "version": [1, 2],
    }
    refused(StaleVersion, "stale_version", edit, pw, hall, version=1, name="旧")


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"org_id": None}, "required", "org_id"),
        ({"capacity": 0}, "out_of_range", "capacity"),
        ({"capacity": None}, "out_of_range", "capacity"),
        ({"capacity": 2.5}, "out_of_range", "capacity"),
        ({"quantity": 5}, "invalid", "quantity"),
        ({"kind": "spaceship"}, "invalid_choice", "kind"),
        ({"name": "  "}, "required", "name"),
        ({"name": "厅" * 121}, "too_long", "name"),
        ({"colour": "red"}, "unknown_field", "colour"),
        ({"attributes": "projector"}, "invalid_attributes", "attributes"),
        ({"attributes": ["x" * 31]}, "invalid_attributes", "attributes"),
        ({"attributes": [f"a{i}" for i in range(21)]}, "invalid_attributes", "attributes"),
        ({"attributes": [3]}, "invalid_attributes", "attributes"),
        (
            {"windows": [{"days": [7], "start": "08:00", "end": "10:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [], "start": "08:00", "end": "10:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "8:00", "end": "10:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "10:00", "end": "10:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "24:00", "end": "24:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "08:00", "end": "25:00"}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "08:00", "end": "09:00", "x": 1}]},
            "invalid_windows",
            "windows",
        ),
        (
            {"windows": [{"days": [1], "start": "08:00", "end": "09:00", "offpeak": "yes"}]},
            "invalid_windows",
            "windows",
        ),
        ({"windows": {"days": [1]}}, "invalid_windows", "windows"),
        ({"visibility": "galaxy"}, "invalid_choice", "visibility"),
        ({"cost_basis": CostBasis.PER_USE, "cost": "-1"}, "invalid_amount", "cost"),
        ({"cost_basis": CostBasis.PER_USE, "cost": "1.234"}, "invalid_amount", "cost"),
        ({"cost_basis": CostBasis.PER_USE, "cost": "NaN"}, "invalid_amount", "cost"),
        ({"cost": "10"}, "invalid_amount", "cost"),  # a free resource costs nothing
        ({"preference": 101}, "out_of_range", "preference"),
        ({"requires_approval": "no"}, "invalid", "requires_approval"),
        ({"contact_id": 10**9}, "invalid_contact", "contact_id"),
        ({"location_id": 10**9}, "invalid_location", "location_id"),
    ],
)
def test_a_bad_field_is_refused_and_nothing_is_written(pw, data, code, field):
    err = refused(InvalidInput, code, offer, pw, **data)
    assert err.details.get("field") == field


def test_stock_needs_a_quantity_and_no_capacity(pw):
    asset = {"kind": ResourceKind.ASSET, "name": "电脑", "capacity": None}
    refused(InvalidInput, "required", offer, pw, **asset)
    refused(InvalidInput, "out_of_range", offer, pw, **asset, quantity=0)
    refused(InvalidInput, "invalid", offer, pw, **{**asset, "capacity": 3}, quantity=3)


def test_a_contact_from_another_county_is_refused(pw):
    refused(InvalidInput, "invalid_contact", offer, pw, contact_id=pw.user("b_staff").pk)


def test_a_location_of_another_county_is_refused_one_of_the_owner_taken(pw):
    room_b = pw.world.rooms["b"]
    refused(InvalidInput, "invalid_location", offer, pw, location_id=room_b.pk)
    hall = make_location(pw.dept_a, "财政局大楼", LocationKind.BUILDING)
    assert offer(pw, location_id=hall.pk).location == hall


def test_org_kind_and_quantity_are_fixed_after_creation(pw):
    hall = offer(pw)
    refused(InvalidInput, "field_fixed", edit, pw, hall, kind=ResourceKind.VEHICLE)
    refused(InvalidInput, "field_fixed", edit, pw, hall, org_id=pw.world.county_a.pk)
    desks = offer(pw, kind=ResourceKind.ASSET, name="桌", capacity=None, quantity=4)
    refused(InvalidInput, "field_fixed", edit, pw, desks, quantity=10)
    assert edit(pw, desks, org_id=pw.dept_a.pk, quantity=4, name="书桌").name == "书桌"


def test_only_the_owners_managers_offer_and_edit(pw):
    refused(PermissionDenied, "permission_denied", offer, pw, who="dept_a_staff")
    refused(NotFound, "not_found", offer, pw, who="b_manager")  # county A does not exist for B
    hall = offer(pw)
    refused(PermissionDenied, "permission_denied", edit, pw, hall, who="a_staff", name="x")
    refused(NotFound, "not_found", edit, pw, hall, who="b_manager", name="x")
    # the county's managers manage their departments' resources
    assert edit(pw, hall, who="a_manager", name="报告厅").name == "报告厅"
    # and an enterprise's manager its own
    ent = offer(pw, who="ent_manager", org_id=pw.enterprise.pk, name="集团礼堂")
    assert ent.centre == pw.world.city


def test_deactivating_hides_it_from_users_but_not_from_its_managers(pw):
    hall = offer(pw)
    edit(pw, hall, is_active=False)
    from .. import queries

    assert not queries.usable_resources(pw.user("a_staff")).filter(pk=hall.pk).exists()
    assert queries.visible_resources(pw.user("dept_a_manager")).filter(pk=hall.pk).exists()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_photo_is_re_encoded_without_gps_and_removed_again(
    pw, media, django_capture_on_commit_callbacks
):
    hall = offer(pw)
    hall = services.set_resource_photo(
        actor=pw.user("dept_a_manager"), resource_id=hall.pk, upload=upload(gps_jpeg((800, 600)))
    )
    assert hall.photo.name.startswith("resources/") and hall.photo_thumb.name
    with default_storage.open(hall.photo.name) as f:
        img = Image.open(f)
        img.load()
    assert len(img.getexif()) == 0 and img.size == (800, 600)
    entry = entries("resources.resource.photo").get()
    assert entry.changes["photo"] == [None, hall.photo.name]
    old = hall.photo.name
    with django_capture_on_commit_callbacks(execute=True):
        hall = services.set_resource_photo(
            actor=pw.user("dept_a_manager"), resource_id=hall.pk, upload=None
        )
    assert not hall.photo and not default_storage.exists(old)
    refused(
        PermissionDenied,
        "permission_denied",
        services.set_resource_photo,
        actor=pw.user("a_staff"),
        resource_id=hall.pk,
        upload=upload(gps_jpeg()),
    )


def test_a_bad_photo_is_refused(pw, media):
    hall = offer(pw)
    refused(
        InvalidInput,
        "invalid_photo",
        services.set_resource_photo,
        actor=pw.user("dept_a_manager"),
        resource_id=hall.pk,
        upload=upload(b"not an image", "x.jpg"),
    )


# --- closures --------------------------------------------------------------------------


def close(pw, res, start, end, who="dept_a_manager", reason="设备检修"):
    return services.add_closure(
        actor=pw.user(who), resource_id=res.pk, start_at=start, end_at=end, reason=reason
    )


def test_a_closure_is_added_and_removed_by_the_owners_managers(pw):
    hall = resource(pw.dept_a, ResourceKind.VENUE)
    c = close(pw, hall, on(MONDAY, 8), on(MONDAY, 18))
    assert (c.resource, c.reason, c.created_by) == (hall, "设备检修", pw.user("dept_a_manager"))
    assert entries("resources.closure.add").get().changes["resource_id"] == hall.pk
    refused(
        PermissionDenied,
        "permission_denied",
        services.remove_closure,
        actor=pw.user("a_staff"),
        closure_id=c.pk,
    )
    refused(
        NotFound, "not_found", services.remove_closure, actor=pw.user("b_manager"), closure_id=c.pk
    )
    services.remove_closure(actor=pw.user("dept_a_manager"), closure_id=c.pk)
    assert not Closure.objects.exists()
    assert entries("resources.closure.remove").get().changes["resource_id"] == hall.pk


def test_a_closure_over_an_approved_allocation_is_refused(pw):
    hall = resource(pw.dept_a, ResourceKind.VENUE)
    a = allocation(hall, pw.user("a_staff"), start_at=on(MONDAY, 9))
    err = refused(Conflict, "resource_taken", close, pw, hall, on(MONDAY, 11), on(MONDAY, 13))
    assert err.details["allocations"] == [a.number]
    assert close(pw, hall, on(MONDAY, 12), on(MONDAY, 13)).pk  # half-open: free from 12


def test_closure_refusals(pw):
    hall = resource(pw.dept_a, ResourceKind.VENUE)
    refused(InvalidInput, "window_invalid", close, pw, hall, on(MONDAY, 9), on(MONDAY, 9))
    refused(
        PermissionDenied,
        "permission_denied",
        close,
        pw,
        hall,
        on(MONDAY, 9),
        on(MONDAY, 10),
        who="dept_a_staff",
    )
    refused(NotFound, "not_found", close, pw, hall, on(MONDAY, 9), on(MONDAY, 10), who="b_manager")
    desks = resource(pw.dept_a, ResourceKind.ASSET, quantity=3)
    refused(InvalidInput, "kind_mismatch", close, pw, desks, on(MONDAY, 9), on(MONDAY, 10))


# --- demands ---------------------------------------------------------------------------


def post(pw, who="a_staff", client_key=None, now=NOW, **data) -> Demand:
    fields = {
        "title": "新任干部培训",
        "kind": ResourceKind.VENUE,
        "amount": 80,
        "start_at": on(MONDAY, 9),
        "end_at": on(MONDAY, 17),
        **data,
    }
    return services.post_demand(actor=pw.user(who), data=fields, client_key=client_key, now=now)


def test_a_demand_without_approver_is_open_at_once(pw):
    hall = make_location(pw.world.county_a, "党校", LocationKind.BUILDING)
    d = post(
        pw,
        attributes=["projector", "sound", "projector"],
        budget="2000",
        priority=Priority.HIGH,
        location_id=hall.pk,
        preferred_owner_id=pw.enterprise.pk,
        description="需要投影和音响",
    )
    assert d.status == DemandStatus.OPEN and d.number == "XQ-20261201-00001"
    assert d.org == pw.world.county_a and d.posted_by == pw.user("a_staff")
    assert d.attributes == ["projector", "sound"] and d.budget == Decimal("2000.00")
    assert (d.priority, d.location, d.preferred_owner) == ("high", hall, pw.enterprise)
    assert d.posted_at == NOW
    entry = entries("resources.demand.post").get()
    assert entry.changes["status"] == [None, DemandStatus.OPEN]
    assert not Notification.objects.exists()


def test_a_demand_with_an_approver_waits_and_the_approver_is_told(pw):
    d = post(pw, who="dept_a_staff", org_id=pw.dept_a.pk, approver_id=pw.user("dept_a_manager").pk)
    assert d.status == DemandStatus.SUBMITTED and d.approver == pw.user("dept_a_manager")
    assert told(events.DEMAND_SUBMITTED) == {"dept_a_manager"}
    assert not Notification.objects.filter(recipient__home_org=pw.world.county_b).exists()
    note = Notification.objects.get()
    assert d.number in note.body and note.link == f"/resources/demands/{d.pk}/"
    d = services.decide_demand(
        actor=pw.user("dept_a_manager"), demand_id=d.pk, approve=True, note="同意", now=NOW
    )
    assert d.status == DemandStatus.OPEN and d.approved_at == NOW
    assert told(events.DEMAND_DECIDED) == {"dept_a_staff"}
    assert entries("resources.demand.decide").get().changes["status"] == [
        DemandStatus.SUBMITTED,
        DemandStatus.OPEN,
    ]
    refused(
        Conflict,
        "invalid_transition",
        services.decide_demand,
        actor=pw.user("dept_a_manager"),
        demand_id=d.pk,
        approve=False,
        now=NOW,
    )


def test_a_rejected_demand_keeps_the_reason(pw):
    d = post(pw, approver_id=pw.user("a_manager").pk)
    d = services.decide_demand(
        actor=pw.user("a_manager"), demand_id=d.pk, approve=False, note="预算不足", now=NOW
    )
    assert d.status == DemandStatus.REJECTED and d.closed_reason == "预算不足"
    note = Notification.objects.get(event__type=events.DEMAND_DECIDED)
    assert note.recipient == pw.user("a_staff") and "未通过" in note.title


def test_only_the_approver_or_a_manager_decides(pw):
    d = post(pw, who="dept_a_staff", org_id=pw.dept_a.pk, approver_id=pw.user("dept_a_manager").pk)
    decide = services.decide_demand
    refused(
        PermissionDenied,
        "permission_denied",
        decide,
        actor=pw.user("dept_a_staff"),
        demand_id=d.pk,
        approve=True,
        now=NOW,
    )
    refused(
        NotFound,
        "not_found",
        decide,
        actor=pw.user("b_manager"),
        demand_id=d.pk,
        approve=True,
        now=NOW,
    )
    refused(
        InvalidInput,
        "window_past",
        decide,
        actor=pw.user("a_manager"),
        demand_id=d.pk,
        approve=True,
        now=on(MONDAY, 9),
    )
    assert (
        decide(actor=pw.user("a_manager"), demand_id=d.pk, approve=True, now=NOW).status == "open"
    )


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"kind": "rocket"}, "invalid_choice", "kind"),
        ({"amount": 0}, "out_of_range", "amount"),
        ({"title": ""}, "required", "title"),
        ({"start_at": None}, "window_invalid", "start_at"),
        ({"end_at": on(MONDAY, 8)}, "window_invalid", "end_at"),
        ({"budget": "-5"}, "invalid_amount", "budget"),
        ({"priority": "panic"}, "invalid_choice", "priority"),
        ({"approver_id": 10**9}, "invalid_approver", "approver_id"),
        ({"preferred_owner_id": 10**9}, "invalid_org", "preferred_owner_id"),
        ({"project_id": 10**9}, "invalid_project", "project_id"),
        ({"location_id": 10**9}, "invalid_location", "location_id"),
        ({"colour": "red"}, "unknown_field", "colour"),
    ],
)
def test_a_bad_demand_is_refused(pw, data, code, field):
    err = refused(InvalidInput, code, post, pw, **data)
    assert err.details.get("field") == field


def test_a_demand_in_the_past_or_for_another_county_is_refused(pw):
    refused(InvalidInput, "window_past", post, pw, now=on(MONDAY, 9))
    refused(InvalidInput, "invalid_org", post, pw, org_id=pw.world.county_b.pk)
    # the approver must manage the demand's unit: county B's manager does not
    refused(InvalidInput, "invalid_approver", post, pw, approver_id=pw.user("b_manager").pk)
    refused(InvalidInput, "invalid_approver", post, pw, approver_id=pw.user("a_dispatcher").pk)


def test_the_same_client_key_gives_the_same_demand(pw):
    first = post(pw, client_key="d-1")
    assert post(pw, client_key="d-1", title="再发一次").pk == first.pk
    assert Demand.objects.count() == 1 and entries("resources.demand.post").count() == 1
    refused(Conflict, "client_key_taken", post, pw, who="a_manager", client_key="d-1")


def test_a_submitted_demand_can_be_cancelled_by_its_poster_only(pw):
    d = post(pw, approver_id=pw.user("a_manager").pk)
    cancel = services.cancel_demand
    refused(
        PermissionDenied,
        "permission_denied",
        cancel,
        actor=pw.user("a_dispatcher"),
        demand_id=d.pk,
        now=NOW,
    )
    refused(NotFound, "not_found", cancel, actor=pw.user("b_staff"), demand_id=d.pk, now=NOW)
    d = cancel(actor=pw.user("a_staff"), demand_id=d.pk, reason="改期", now=NOW)
    assert d.status == DemandStatus.CANCELLED and d.closed_reason == "改期"
    refused(
        Conflict, "invalid_transition", cancel, actor=pw.user("a_staff"), demand_id=d.pk, now=NOW
    )


# --- the hourly job --------------------------------------------------------------------


def test_the_hourly_job_expires_demands_and_stale_requests_once(pw):
    hall = resource(pw.dept_a, ResourceKind.VENUE)
    staff = pw.user("a_staff")
    passed = demand(pw.world.county_a, staff, start_at=on(MONDAY, 9))  # ends 12:00
    waiting = demand(
        pw.world.county_a, staff, status=DemandStatus.SUBMITTED, start_at=on(MONDAY, 8)
    )
    later = demand(pw.world.county_a, staff, start_at=on(MONDAY, 14))
    matched = demand(pw.world.county_a, staff, status=DemandStatus.MATCHED, start_at=on(MONDAY, 9))
    pending = allocation(hall, staff, demand=passed, status=AllocationStatus.REQUESTED)
    direct = allocation(hall, staff, status=AllocationStatus.REQUESTED, start_at=on(MONDAY, 10))
    upcoming = allocation(hall, staff, status=AllocationStatus.REQUESTED, start_at=on(MONDAY, 13))
    noon = on(MONDAY, 13, 30)
    result = tasks.run_hourly(now=noon)
    assert result == tasks.HourlyResult(demands_expired=2, requests_expired=1, overdue_reminded=0)
    assert fresh(passed).status == DemandStatus.EXPIRED and fresh(passed).closed_reason
    assert fresh(waiting).status == DemandStatus.EXPIRED
    assert fresh(later).status == DemandStatus.OPEN
    assert fresh(matched).status == DemandStatus.MATCHED
    assert fresh(pending).status == AllocationStatus.CANCELLED
    assert fresh(direct).status == AllocationStatus.CANCELLED
    assert fresh(upcoming).status == AllocationStatus.REQUESTED
    assert entries("resources.demand.expire").count() == 2
    assert entries("resources.allocation.expire").count() == 2
    assert entries("resources.demand.expire").first().actor_id is None
    # again: nothing more to do
    assert tasks.run_hourly(now=noon) == tasks.HourlyResult(0, 0, 0)
    assert entries("resources.demand.expire").count() == 2


def test_the_hourly_job_reports_overdue_allocations_once_to_both_sides(pw):
    hall = resource(pw.dept_a, ResourceKind.VENUE)
    d = demand(pw.world.county_a, pw.user("a_staff"), status=DemandStatus.MATCHED)
    late = allocation(
        hall, pw.user("a_manager"), demand=d, status=AllocationStatus.IN_USE, start_at=on(MONDAY, 9)
    )
    allocation(hall, pw.user("a_staff"), status=AllocationStatus.IN_USE, start_at=on(MONDAY, 13))
    assert tasks.remind_overdue(now=on(MONDAY, 12, 30)) == 1
    assert told(events.ALLOCATION_OVERDUE) == {"dept_a_manager", "a_manager", "a_staff"}
    assert tasks.remind_overdue(now=on(MONDAY, 13, 30)) == 0
    assert Notification.objects.filter(event__type=events.ALLOCATION_OVERDUE).count() == 3
    notes = Notification.objects.filter(event__type=events.ALLOCATION_OVERDUE)
    assert all(late.number in n.body for n in notes)
    assert not notes.filter(recipient__home_org=pw.world.county_b).exists()


def test_the_periodic_task_runs_the_job(pw):
    result = tasks.resources_hourly.call_local()
    assert isinstance(result, tasks.HourlyResult)


def test_expired_demand_is_skipped_when_it_was_matched_meanwhile(pw):
    d = demand(pw.world.county_a, pw.user("a_staff"), start_at=on(MONDAY, 9))
    Demand.objects.filter(pk=d.pk).update(status=DemandStatus.MATCHED)
    assert services.expire_demand(d.pk, now=on(MONDAY, 13)) is False
    assert fresh(d).status == DemandStatus.MATCHED
    assert not Allocation.objects.exists()
