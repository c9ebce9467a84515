"""Builders for the resource-pool tests: the shared test world (city, counties A and B,
A's vendor) plus an enterprise and a social organisation (a volunteer association)
under the city, with a manager each; and row builders for resources, demands and
allocations that write what the services would (centre, unit, holds, exclusive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dayuan.accounts.choices import Role
from dayuan.core.testing import World, make_org, make_user
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from ..choices import (
    EXCLUSIVE_KINDS,
    HOLDING,
    KIND_UNITS,
    STOCK_KINDS,
    AllocationStatus,
    DemandStatus,
    Priority,
    ResourceKind,
    Visibility,
)
from ..models import Allocation, Demand, Resource

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A Monday in a plain working week: 2026-12-07. Tests pin ``now`` to times around it.
MONDAY = date(2026, 12, 7)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def on(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


@dataclass
class PoolWorld:
    world: World
    enterprise: Organization
    social: Organization
    dept_a: Organization  # a department under county A
    users: dict[str, Any] = field(default_factory=dict)

    def user(self, name: str) -> Any:
        return self.users.get(name) or self.world.user(name)


def build(world: World) -> PoolWorld:
    """The pool world: users ``ent_manager`` (enterprise), ``social_manager`` and
    ``social_worker`` (the volunteer association), ``dept_a_staff`` and
    ``dept_a_manager`` (a department of county A)."""
    enterprise = make_org("市城投集团", "ent", OrgKind.ENTERPRISE, world.city)
    social = make_org("市志愿者协会", "social", OrgKind.SOCIAL, world.city)
    dept_a = make_org("甲县财政局", "dept-a", OrgKind.DEPARTMENT, world.county_a)
    pw = PoolWorld(world, enterprise, social, dept_a)
    pw.users["ent_manager"] = make_user("ent_manager", enterprise, Role.MANAGER)
    pw.users["social_manager"] = make_user("social_manager", social, Role.MANAGER)
    pw.users["social_worker"] = make_user("social_worker", social, Role.WORKER)
    pw.users["dept_a_staff"] = make_user("dept_a_staff", dept_a, Role.STAFF)
    pw.users["dept_a_manager"] = make_user("dept_a_manager", dept_a, Role.MANAGER)
    return pw


def resource(
    org: Organization,
    kind: str = ResourceKind.VENUE,
    *,
    name: str | None = None,
    capacity: int = 50,
    quantity: int = 0,
    attributes: list[str] | None = None,
    windows: list[dict[str, Any]] | None = None,
    visibility: str = Visibility.CENTRE,
    location: Any = None,
    cost: Decimal | int = 0,
    cost_basis: str = "free",
    unit_value: Decimal | int = 0,
    requires_approval: bool = True,
    preference: int = 50,
    **extra: Any,
) -> Resource:
    centre = org.centre
    assert centre is not None
    stock = kind in STOCK_KINDS
    return Resource.objects.create(
        org=org,
        centre=centre,
        kind=kind,
        name=name or f"{org.name}{kind}",
        capacity=0 if stock else capacity,
        quantity=quantity if stock else 0,
        available=quantity if stock else 0,
        unit=str(KIND_UNITS[kind]),
        attributes=sorted(set(attributes or [])),
        windows=windows or [],
        visibility=visibility,
        location=location,
        cost=Decimal(cost),
        cost_basis=cost_basis,
        unit_value=Decimal(unit_value),
        requires_approval=requires_approval,
        preference=preference,
        **extra,
    )


_demand_seq = [0]


def demand(
    org: Organization,
    poster: Any,
    kind: str = ResourceKind.VENUE,
    *,
    amount: int = 30,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    attributes: list[str] | None = None,
    priority: str = Priority.NORMAL,
    status: str = DemandStatus.OPEN,
    budget: Decimal | None = None,
    location: Any = None,
    title: str = "培训场地",
    **extra: Any,
) -> Demand:
    _demand_seq[0] += 1
    start_at = start_at or on(MONDAY, 9)
    return Demand.objects.create(
        org=org,
        number=f"XQ-T-{_demand_seq[0]:07d}",
        title=title,
        kind=kind,
        amount=amount,
        attributes=sorted(set(attributes or [])),
        start_at=start_at,
        end_at=end_at or start_at + timedelta(hours=3),
        priority=priority,
        status=status,
        budget=budget,
        location=location,
        posted_by=poster,
        posted_at=start_at - timedelta(days=3),
        **extra,
    )


_alloc_seq = [0]


def allocation(
    res: Resource,
    requester: Any,
    *,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    amount: int = 1,
    status: str = AllocationStatus.APPROVED,
    demand: Demand | None = None,
    requester_org: Organization | None = None,
    **extra: Any,
) -> Allocation:
    _alloc_seq[0] += 1
    start_at = start_at or on(MONDAY, 9)
    return Allocation.objects.create(
        org=res.org,
        resource=res,
        number=f"DP-T-{_alloc_seq[0]:07d}",
        demand=demand,
        requester=requester,
        requester_org=requester_org or (demand.org if demand else requester.home_org),
        start_at=start_at,
        end_at=end_at or start_at + timedelta(hours=3),
        amount=amount,
        status=status,
        holds=status in HOLDING,
        exclusive=res.kind in EXCLUSIVE_KINDS,
        requested_at=start_at - timedelta(days=2),
        **extra,
    )
