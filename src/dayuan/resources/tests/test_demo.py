"""The resource-pool demo: some three hundred resources from every kind of owner, a
month of demands and allocations whose statuses, holds, stock and savings agree, the
公物仓's ledger adding up, volunteers' hours that are the sum of their attended sign-ups,
the present lived through the services, every demo login with a demand that has
matches, each county kept to its own, and a second load that adds nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, Q, Sum

from dayuan.accounts.models import User
from dayuan.audit.models import AuditEntry
from dayuan.orgs.models import Organization
from dayuan.resources import demo as rs_demo
from dayuan.resources import matching, queries
from dayuan.resources.choices import (
    EXCLUSIVE_KINDS,
    HEADCOUNT_KINDS,
    HOLDING,
    STOCK_KINDS,
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)
from dayuan.resources.models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 9, 10, 30, tzinfo=SH)  # a Wednesday in a plain working week
COUNTIES = ("dongcheng", "xihu", "nanshan")
A = AllocationStatus
D = DemandStatus


def _load() -> dict:
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in COUNTIES]
    return rs_demo.load_demo(admin, city, counties, months=1, now=NOW)


@pytest.fixture(scope="module")
def loaded(module_db):
    """The core demo world (small histories; no bookings, canteen or inspections), then
    the pool's month at a fixed instant."""
    from dayuan.bookings import demo as bk_demo
    from dayuan.canteen import demo as ct_demo
    from dayuan.core import demo as core_demo
    from dayuan.inspections import demo as insp_demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rs_demo, "load_demo", lambda *args, **kwargs: {})
        mp.setattr(bk_demo, "load_demo", lambda *args, **kwargs: {})  # not needed here
        mp.setattr(ct_demo, "load_demo", lambda *args, **kwargs: {})  # nor this
        mp.setattr(insp_demo, "load_demo", lambda *args, **kwargs: {})  # nor this
        core_demo.load_demo()
    return _load()


def _user(name: str) -> User:
    return User.objects.get(username=name)


def test_every_call_of_the_present_was_a_valid_one(loaded):
    assert "refusals" not in loaded, loaded.get("refusals")
    for key in ("demands_posted", "requests", "approved", "warehouse_received",
                "warehouse_stored", "volunteers_enrolled", "signed_up", "attendance_recorded",
                "projects_created", "projects_approved", "closures_added"):  # fmt: skip
        assert loaded.get(key, 0) > 0, key
    actions = Counter(AuditEntry.objects.values_list("action", flat=True))
    assert actions["resources.demand.post"] == loaded["demands_posted"]
    for action in ("resources.allocation.request", "resources.allocation.decide",
                   "resources.warehouse.receive", "resources.warehouse.store",
                   "resources.volunteer.enrol", "resources.volunteer.sign_up",
                   "resources.activity.attendance", "resources.activity.create",
                   "resources.project.create", "resources.project.decide",
                   "resources.closure.add", "resources.demand.decide"):  # fmt: skip
        assert actions[action] > 0, action
    assert not AuditEntry.objects.filter(action__startswith="resources.", outcome="refused")
    # one car was not returned on time: the hourly job told both sides, once
    overdue = Allocation.objects.filter(status=A.IN_USE, end_at__lt=NOW)
    assert overdue.count() == 1 and overdue.get().resource.kind == ResourceKind.VEHICLE
    assert loaded["overdue_reminded"] == 1


def test_the_pool_has_every_kind_and_every_kind_of_owner(loaded):
    pool = Resource.objects.select_related("org", "centre")
    assert 250 <= pool.count() <= 360
    kinds = Counter(pool.values_list("kind", flat=True))
    assert set(kinds) == set(ResourceKind.values), kinds
    owners = {r.org.code for r in pool}
    assert {"city-investment", "dongcheng-tourism", "city-volunteers",
            "dongcheng-volunteers"} <= owners  # fmt: skip
    for centre in ("city", *COUNTIES):  # every centre's departments offer something
        assert any(code.startswith(f"{centre}-dept-") for code in owners), centre
    enterprises = Organization.objects.filter(kind="enterprise")
    assert {o.code for o in enterprises} >= {"city-investment", "dongcheng-tourism"}
    names = " ".join(pool.values_list("name", flat=True))
    for word in ("多功能厅", "篮球场(错峰开放)", "停车场(夜间共享)", "中型客车", "办公桌",
                 "民生微实事资金", "志愿服务队", "公益基金"):  # fmt: skip
        assert word in names, word
    for r in pool:
        # as ``services.save_resource`` / ``warehouse.receive`` write them
        assert r.centre == r.org.centre, r
        assert r.attributes == sorted(set(r.attributes)), r
        assert r.unit and r.preference <= 100 and r.cost >= 0
        if r.kind in STOCK_KINDS:
            assert r.capacity == 0 and r.windows == [] and 0 <= r.available <= r.quantity
            assert r.quantity > 0 or r.stock_status == StockStatus.OUT
        else:
            assert r.capacity > 0 and r.quantity == 0 and r.stock_status is None
        for w in r.windows:
            assert set(w) == {"days", "start", "end", "offpeak"}
            assert set(w["days"]) <= set(range(7)) and w["start"] < w["end"]
    shared = [r for r in pool if any(w["offpeak"] for w in r.windows)]
    assert len(shared) >= 10  # courts, car parks, rooms lent out evenings and weekends
    assert {Visibility.PUBLIC, Visibility.CITY, Visibility.CENTRE, Visibility.OWNER} <= set(
        pool.values_list("visibility", flat=True)
    )
    closures = Closure.objects.all()
    assert closures.filter(end_at__lte=NOW).exists() and closures.filter(start_at__gt=NOW)
    assert not closures.filter(resource__kind__in=STOCK_KINDS).exists()


def test_statuses_holds_and_times_agree(loaded):
    allocations = Allocation.objects.select_related("resource", "demand")
    statuses = Counter(a.status for a in allocations)
    assert set(statuses) == set(A.values), statuses
    for a in allocations:
        assert a.holds == (a.status in HOLDING), a.number
        assert a.exclusive == (a.resource.kind in EXCLUSIVE_KINDS), a.number
        assert a.org_id == a.resource.org_id
        assert a.start_at < a.end_at and a.requested_at <= NOW
        if a.demand_id:
            assert a.requester_org_id == a.demand.org_id
            assert (a.start_at, a.end_at, a.amount) == (
                a.demand.start_at,
                a.demand.end_at,
                a.demand.amount,
            )
        if a.status == A.REQUESTED:
            assert a.end_at > NOW and a.decided_at is None  # the job withdraws older ones
        if a.status in (A.APPROVED, A.IN_USE, A.RETURNED, A.COMPLETED, A.REJECTED):
            assert a.requested_at <= a.decided_at <= NOW, a.number
            # decided by an owner's manager, or approved at once when none is needed
            assert (a.decided_by_id is None) == (
                a.status != A.REJECTED and not a.resource.requires_approval
            ), a.number
        if a.status == A.IN_USE:
            assert a.started_at <= NOW and a.finished_at is None
        if a.status in (A.RETURNED, A.COMPLETED):
            assert a.finished_at <= NOW
        if a.resource.kind in STOCK_KINDS and a.status in (*HOLDING, A.COMPLETED, A.RETURNED):
            assert a.saved == a.amount * a.resource.unit_value, a.number
        else:
            assert a.saved == 0, a.number
    open_allocations = Q(allocations__status__in=[A.REQUESTED, *HOLDING])
    demands = Demand.objects.annotate(
        holding=Count("allocations", filter=Q(allocations__holds=True)),
        used=Count("allocations", filter=Q(allocations__status__in=[A.RETURNED, A.COMPLETED])),
        live=Count("allocations", filter=open_allocations),
        any=Count("allocations"),
    )
    seen = Counter(d.status for d in demands)
    assert {D.OPEN, D.MATCHED, D.FULFILLED, D.EXPIRED, D.CANCELLED, D.SUBMITTED} <= set(seen)
    for d in demands:
        assert d.posted_at <= NOW and d.start_at < d.end_at
        if d.status == D.MATCHED:
            assert d.holding >= 1 and d.matched_at <= NOW, d.number
        elif d.status == D.FULFILLED:
            assert d.used >= 1 and d.live == 0 and d.fulfilled_at <= NOW, d.number
        elif d.status in (D.OPEN, D.SUBMITTED):
            assert d.end_at > NOW and d.holding == 0, d.number  # the job expires the rest
        elif d.status == D.REJECTED:
            assert d.any == 0 and d.approver_id is not None, d.number
        else:  # expired, cancelled
            assert d.live == 0, d.number
    for model, prefix in ((Demand, "XQ"), (Allocation, "DP"), (MicroProject, "WS")):
        numbers = list(model.objects.values_list("number", flat=True))
        assert len(numbers) == len(set(numbers))
        assert all(n.startswith(prefix + "-") and len(n) == 17 for n in numbers), prefix


def test_nothing_is_held_twice_and_every_use_meets_the_hard_constraints(loaded):
    """No exclusive resource held twice at once; teams within their headcount; every
    approved, in-use or past use inside the windows, outside the closures, within the
    capacity and with the attributes asked for, by the matching's own check."""
    holding = defaultdict(list)
    for a in Allocation.objects.filter(holds=True).order_by("start_at"):
        holding[a.resource_id].append(a)
    for allocations in holding.values():
        res = allocations[0].resource
        if res.kind in EXCLUSIVE_KINDS:
            for x, y in pairwise(allocations):
                assert x.end_at <= y.start_at, (x.number, y.number)
        if res.kind in HEADCOUNT_KINDS:  # the busiest moment is some use's start
            for x in allocations:
                busy = sum(y.amount for y in allocations if y.start_at <= x.start_at < y.end_at)
                assert busy <= res.capacity, x.number
    used = (
        Allocation.objects.filter(status__in=[*HOLDING, A.RETURNED])
        .exclude(resource__kind__in=STOCK_KINDS)
        .select_related("resource", "demand")
    )
    assert used.count() > 50
    for a in used:
        need = matching.Need(
            kind=a.resource.kind,
            amount=a.amount,
            start_at=a.start_at,
            end_at=a.end_at,
            attributes=tuple(a.demand.attributes) if a.demand else (),
        )
        refusals = matching.check(a.resource, need, exclude_allocation_id=a.pk)
        assert refusals == [], (a.number, [r.code for r in refusals])


def test_stock_and_the_warehouse_ledger_add_up(loaded):
    """Warehouse items: quantity = available + handed out − returned, and what came in
    less what was written off; other stock: available = quantity − taken."""
    moved = defaultdict(Counter)
    for resource_id, kind, quantity in Transfer.objects.values_list(
        "resource_id", "kind", "quantity"
    ):
        moved[resource_id][kind] += quantity
    taken = dict(
        Allocation.objects.filter(status__in=[*HOLDING, A.COMPLETED])
        .values("resource_id")
        .annotate(n=Sum("amount"))
        .values_list("resource_id", "n")
    )
    stock = Resource.objects.filter(kind__in=STOCK_KINDS)
    warehouse = stock.filter(stock_status__isnull=False)
    assert warehouse.count() >= 100
    assert set(warehouse.values_list("stock_status", flat=True)) == set(StockStatus.values)
    for r in warehouse:
        m = moved[r.pk]
        assert r.quantity == r.available + m[TransferKind.OUT] - m[TransferKind.RETURN], r.name
        assert r.quantity == m[TransferKind.IN] - m[TransferKind.DISPOSE], r.name
        assert (r.stock_status == StockStatus.OUT) == (r.available == 0), r.name
        if r.stock_status == StockStatus.IN:
            assert not Allocation.objects.filter(resource=r).exists()
    for r in stock.filter(stock_status__isnull=True):
        assert r.available == r.quantity - taken.get(r.pk, 0), r.name
    # every hand-out is in the ledger with the value it saved
    outs = Transfer.objects.filter(kind=TransferKind.OUT).select_related("allocation")
    assert outs.exists() and Transfer.objects.filter(kind=TransferKind.RETURN).exists()
    assert Transfer.objects.filter(kind=TransferKind.DISPOSE).exists()
    for t in outs:
        assert t.allocation.amount == t.quantity and t.allocation.saved == t.value
        assert t.to_org_id == t.allocation.requester_org_id
    assert Allocation.objects.filter(saved__gt=0).aggregate(s=Sum("saved"))["s"] > Decimal(10_000)


def test_volunteer_hours_are_the_sum_of_their_attended_sign_ups(loaded):
    attended = SignUp.objects.filter(status=SignUpStatus.ATTENDED)
    sums = dict(attended.values("volunteer").annotate(h=Sum("hours")).values_list("volunteer", "h"))
    times = Counter(attended.values_list("volunteer_id", flat=True))
    volunteers = Volunteer.objects.all()
    assert volunteers.count() > 100 and volunteers.filter(hours__gt=0).count() > 30
    for v in volunteers:
        assert v.hours == (sums.get(v.pk) or 0), v.name
        assert v.activities == times[v.pk], v.name
    assert not SignUp.objects.exclude(status=SignUpStatus.ATTENDED).exclude(hours=0).exists()
    for a in Activity.objects.annotate(
        live=Count("signups", filter=~Q(signups__status=SignUpStatus.CANCELLED))
    ):
        assert a.taken == a.live <= a.slots, a.title
        if a.status == ActivityStatus.DONE:
            assert a.start_at <= NOW
        if a.start_at > NOW:
            assert a.status in (ActivityStatus.OPEN, ActivityStatus.CANCELLED)
    # the volunteer station recorded the last activity's attendance through the service
    recorded = AuditEntry.objects.filter(action="resources.activity.attendance").first()
    assert recorded.actor_id == _user("volunteers_worker").pk
    # staff joined teams and signed up for what comes next
    for username in ("city_staff", "dongcheng_staff"):
        mine = Volunteer.objects.get(user=_user(username))
        assert SignUp.objects.filter(
            volunteer=mine, status=SignUpStatus.SIGNED, activity__start_at__gt=NOW
        ).exists()


def test_every_demo_login_has_a_demand_with_matches(loaded):
    from dayuan.core.demo import DEMO_LOGINS

    logins = [u for u, _r, _o in DEMO_LOGINS] + [p.username for p in rs_demo.POOL_LOGINS]
    for username in logins:
        user = _user(username)
        mine = queries.visible_demands(user).filter(posted_by=user, start_at__gt=NOW)
        assert mine.exists(), username
        waiting = mine.filter(status__in=[D.OPEN, D.SUBMITTED]).order_by("-posted_at")
        shown = (matching.match(user, d, now=NOW) for d in waiting)
        matched = mine.filter(status=D.MATCHED).exists()
        assert matched or any(r.candidates for r in shown), username
    # owners have requests to decide; one demand waits for its unit's approver
    assert queries.pending_approvals(_user("city_manager")).exists()
    assert Demand.objects.filter(
        status=D.SUBMITTED, posted_by=_user("nanshan_staff"), approver=_user("nanshan_manager")
    ).exists()
    # and some were approved by the owner's manager through the service just now
    decided = AuditEntry.objects.filter(action="resources.allocation.decide")
    for username in ("city_staff", "dongcheng_staff"):
        allocation = Allocation.objects.get(
            requester=_user(username), status=A.APPROVED, decided_by__isnull=False,
            pk__in=[int(pk) for pk in decided.values_list("object_id", flat=True)],
        )  # fmt: skip
        assert allocation.demand.status == D.MATCHED


def test_the_warehouse_projects_and_batch_of_the_present(loaded):
    waiting = Resource.objects.filter(stock_status=StockStatus.IN)
    assert waiting.count() == 1 and waiting.get().org.name == "资产管理科"
    assert not queries.usable_resources(_user("city_staff")).filter(pk=waiting.get().pk)
    statuses = set(MicroProject.objects.values_list("status", flat=True))
    assert statuses == set(ProjectStatus.values)
    funded = MicroProject.objects.filter(allocations__resource__kind=ResourceKind.FUND)
    assert funded.exists()
    for p in MicroProject.objects.all():
        assert p.spent <= p.budget and (p.status != ProjectStatus.COMPLETED or p.outcome)
    # the demo's open demands for next week are what the batch matching is for
    from dayuan.resources import batch

    monday = NOW.date() + timedelta(days=7 - NOW.weekday())
    start = datetime.combine(monday, datetime.min.time(), tzinfo=SH)
    run = batch.run_batch(
        actor=_user("city_manager"),
        org_id=Organization.objects.get(code="city").pk,
        window_start=start - timedelta(days=7),
        window_end=start + timedelta(days=7),
        now=NOW,
    )
    assert run.demands > 0 and run.matched > 0


def test_each_county_keeps_to_its_own(loaded):
    dongcheng = Organization.objects.get(code="dongcheng")
    xihu = Organization.objects.get(code="xihu")
    for username in ("xihu_staff", "xihu_manager"):
        user = _user(username)
        usable = queries.usable_resources(user)
        assert usable.exists()
        # another county's own and centre-wide resources are not theirs to use
        assert not usable.filter(
            org__path__startswith=dongcheng.path,
            visibility__in=[Visibility.OWNER, Visibility.CENTRE],
        ).exists()
        assert not queries.visible_demands(user).exclude(org__path__startswith=xihu.path)
    manager = _user("dongcheng_manager")
    assert queries.visible_demands(manager).exists()
    assert not queries.visible_demands(manager).exclude(org__path__startswith=dongcheng.path)
    assert not queries.visible_allocations(_user("xihu_manager")).filter(
        org__path__startswith=dongcheng.path, requester_org__path__startswith=dongcheng.path
    )
    team = Organization.objects.get(code="dongcheng-volunteers")
    assert queries.visible_volunteers(_user("dcvolunteers_manager")).filter(org=team).exists()
    assert not queries.visible_volunteers(_user("xihu_manager")).exists()
    city = _user("city_manager")
    assert queries.visible_demands(city).filter(org__path__startswith=dongcheng.path).exists()


def test_a_second_load_adds_nothing(loaded):
    models = (Resource, Demand, Allocation, Transfer, Volunteer, Activity, SignUp, MicroProject)
    before = [m.objects.count() for m in models]
    again = _load()
    assert again == {}
    assert [m.objects.count() for m in models] == before


def test_the_printed_logins_name_the_pool_logins(loaded):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("demo", "--if-empty", "--url", "http://127.0.0.1:8000/", stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.strip()}
    assert "市城市建设投资集团有限公司" in lines["cityinvest_manager"]
    assert "东城区文化旅游发展集团有限公司" in lines["tourism_manager"]
    assert "市志愿者协会" in lines["volunteers_worker"] and "worker" in lines["volunteers_worker"]
    assert "资产管理科" in lines["warehouse_manager"]


def test_the_admin_shows_the_pool_and_corrects_only_descriptions(loaded, client):
    root = User.objects.create_superuser("pool_root", "root@example.gov.cn", "x-Secret-2026")
    client.force_login(root)
    for model in ("resource", "demand", "allocation", "transfer", "matchrun", "volunteer",
                  "activity", "microproject"):  # fmt: skip
        resp = client.get(f"/admin/resources/{model}/")
        assert resp.status_code == 200, model
        assert client.get(f"/admin/resources/{model}/add/").status_code == 403, model
    allocation = Allocation.objects.first()
    page = client.get(f"/admin/resources/allocation/{allocation.pk}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content
    hall = Resource.objects.filter(name__endswith="多功能厅", closures__isnull=True).first()
    page = client.get(f"/admin/resources/resource/{hall.pk}/change/")
    assert page.status_code == 200
    assert b'name="capacity"' not in page.content and b'name="windows"' not in page.content
    before = (hall.capacity, hall.windows, hall.version)
    resp = client.post(
        f"/admin/resources/resource/{hall.pk}/change/",
        {
            "name": hall.name,
            "description": "周一上午设备例行检查",
            "address": hall.address,
            "visibility": hall.visibility,
            "requires_approval": "on",
            "preference": hall.preference,
            "contact": hall.contact_id or "",
            "contact_phone": hall.contact_phone,
            "is_active": "on",
            "closures-TOTAL_FORMS": "0",
            "closures-INITIAL_FORMS": "0",
        },
    )
    assert resp.status_code == 302, resp.content[:2000]
    hall.refresh_from_db()
    assert hall.description == "周一上午设备例行检查"
    assert (hall.capacity, hall.windows, hall.version) == (*before[:2], before[2] + 1)
