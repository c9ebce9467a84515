"""Resource pool API (资源整合、需求匹配) under ``/api/v1/resources``: resources (list,
detail, create, update, photo, closures, calendar), demands (list, post, decide, cancel,
ranked matches with their reasons), allocations (request → approve → in use → returned,
pending approvals), batch match runs (run, proposals, apply), the 公物仓 warehouse
(receive, store, return, dispose, transfers), volunteers, activities (sign-up,
attendance), micro-projects (民生微实事) and the stats.

Reads go through ``queries`` (an invisible resource, demand, allocation, run, activity,
project or volunteer is a 404, never a 403); writes through the services (``services``,
``batch``, ``warehouse``, ``volunteers``, ``projects``). ``Idempotency-Key`` on POSTs is
handled by the middleware; posting a demand and requesting an allocation are also
idempotent by their ``client_key``. An update carries the ``version`` it was read at
(409 ``stale_version`` when someone changed it since).

No ``from __future__ import annotations`` here: paginated endpoints' query parameters
(dates, literals) are resolved by Ninja outside this module's namespace.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.files import private_file

from . import (
    batch,
    export,
    matching,
    projects,
    queries,
    services,
    stats,
    volunteers,
    warehouse,
)
from .choices import (
    Attribute,
    CostBasis,
    Priority,
    ResourceKind,
    Visibility,
)
from .models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MatchRun,
    MicroProject,
    Resource,
)

router = Router(tags=["resources"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_PERIOD_DAYS = 30
MAX_MATCHES = 100
HHMM = r"^([01]\d|2[0-4]):[0-5]\d$"


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


def _labels(choices: Any, values: list[str] | None) -> list[str]:
    labels = dict(choices.choices)
    return [str(labels.get(v, v)) for v in values or ()]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """A payload's dict for a service: enum members as their values."""
    out = {}
    for key, value in data.items():
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, list):
            value = [v.value if isinstance(v, Enum) else v for v in value]
        out[key] = value
    return out


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    """The last 30 days by default; ``stats`` refuses a bad range (``bad_range``)."""
    end = end or timezone.localdate()
    return start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end


# --- schemas: resources ----------------------------------------------------------------


class WindowIn(Schema):
    days: list[int] = Field(..., min_length=1, max_length=7, description="星期几，周一为 0")
    start: str = Field(..., pattern=HHMM, description="HH:MM，上海时间")
    end: str = Field(..., pattern=HHMM)
    offpeak: bool = Field(False, description="错峰共享时段")


class WindowOut(Schema):
    days: list[int]
    start: str
    end: str
    offpeak: bool = False


class ResourceOut(Schema):
    id: int
    org_id: int
    org_name: str
    kind: str
    kind_label: str
    name: str
    description: str
    location_id: int | None
    location_name: str | None
    address: str
    capacity: int = Field(description="场地/设施/车辆：可容纳人数；人力/志愿服务队：人数")
    quantity: int = Field(description="物资/资金：入库数量")
    available: int = Field(description="物资/资金：可用数量")
    unit: str
    attributes: list[str]
    attribute_labels: list[str]
    visibility: str
    visibility_label: str
    cost_basis: str
    cost_basis_label: str
    cost: Decimal
    unit_value: Decimal
    requires_approval: bool
    preference: int
    stock_status: str | None
    stock_status_label: str | None
    photo_url: str | None
    thumb_url: str | None
    is_active: bool
    version: int

    @staticmethod
    def resolve_org_name(obj: Resource) -> str:
        return obj.org.name

    @staticmethod
    def resolve_kind_label(obj: Resource) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_location_name(obj: Resource) -> str | None:
        return obj.location.name if obj.location_id else None

    @staticmethod
    def resolve_attribute_labels(obj: Resource) -> list[str]:
        return _labels(Attribute, obj.attributes)

    @staticmethod
    def resolve_visibility_label(obj: Resource) -> str:
        return str(obj.get_visibility_display())

    @staticmethod
    def resolve_cost_basis_label(obj: Resource) -> str:
        return str(obj.get_cost_basis_display())

    @staticmethod
    def resolve_stock_status_label(obj: Resource) -> str | None:
        return str(obj.get_stock_status_display()) if obj.stock_status else None

    @staticmethod
    def resolve_photo_url(obj: Resource) -> str | None:
        return f"/api/v1/resources/{obj.pk}/photo" if obj.photo else None

    @staticmethod
    def resolve_thumb_url(obj: Resource) -> str | None:
        return f"/api/v1/resources/{obj.pk}/photo?thumb=1" if obj.photo else None


class ClosureOut(Schema):
    id: int
    resource_id: int
    start_at: datetime
    end_at: datetime
    reason: str
    created_by_id: int | None


class ResourceDetailOut(ResourceOut):
    windows: list[WindowOut] = Field(description="每周开放时段；空表示任何时间")
    contact_id: int | None
    contact_name: str | None
    contact_phone: str
    closures: list[ClosureOut] = Field(description="尚未结束的停用时段")
    actions: list[str] = Field(description="当前用户可做的事：request / manage")

    @staticmethod
    def resolve_contact_name(obj: Resource) -> str | None:
        return _name(obj.contact) if obj.contact_id else None

    @staticmethod
    def resolve_closures(obj: Any) -> list[Any]:
        return obj.closures_list

    @staticmethod
    def resolve_actions(obj: Any) -> list[str]:
        return obj.actions_list


class ResourceIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=1000)
    location_id: int | None = None
    address: str = Field("", max_length=200)
    capacity: int = Field(0, ge=0, le=1_000_000)
    unit: str = Field("", max_length=10)
    attributes: list[str] = Field(default_factory=list, max_length=20)
    windows: list[WindowIn] = Field(default_factory=list, max_length=28)
    visibility: Visibility = Visibility.CENTRE
    cost_basis: CostBasis = CostBasis.FREE
    cost: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    unit_value: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    requires_approval: bool = True
    preference: int = Field(50, ge=0, le=100)
    contact_id: int | None = None
    contact_phone: str = Field("", max_length=30)
    is_active: bool = True

    def data(self, *, partial: bool = False) -> dict[str, Any]:
        """The service's ``data``: only the fields sent (``partial``; the service keeps the
        others, or on creating takes the model's defaults), else every field."""
        data = _plain(self.dict(exclude_unset=partial))
        if "windows" in data:
            data["windows"] = [w.dict() for w in self.windows]
        return data


class ResourceCreateIn(ResourceIn):
    org_id: int
    kind: ResourceKind
    quantity: int = Field(0, ge=0, le=1_000_000_000, description="物资/资金：入库数量")


class ResourceUpdateIn(ResourceIn):
    version: int


class ClosureIn(Schema):
    start_at: datetime
    end_at: datetime
    reason: str = Field("", max_length=200)


class OpenSpanOut(Schema):
    start_at: datetime
    end_at: datetime
    offpeak: bool


class BusyOut(Schema):
    start_at: datetime
    end_at: datetime
    amount: int
    allocation_id: int | None = Field(description="调配；仅对可查看该调配的用户给出")
    allocation_number: str | None
    requester_org_name: str | None

    @staticmethod
    def resolve_allocation_id(obj: Any) -> int | None:
        return obj.allocation.pk if obj.allocation is not None else None

    @staticmethod
    def resolve_allocation_number(obj: Any) -> str | None:
        return obj.allocation.number if obj.allocation is not None else None

    @staticmethod
    def resolve_requester_org_name(obj: Any) -> str | None:
        return obj.allocation.requester_org.name if obj.allocation is not None else None


class CalendarDayOut(Schema):
    day: date
    open: list[OpenSpanOut] = Field(description="当天开放时段；物资/资金无时段")
    closures: list[ClosureOut]
    busy: list[BusyOut] = Field(description="已占用（已调配、使用中）")


class CalendarOut(Schema):
    resource_id: int
    start: date
    end: date
    timed: bool = Field(description="按时段使用的资源（场地、设施、车辆、人力、志愿服务队）")
    always_open: bool = Field(description="未设开放时段：任何时间可用（停用与占用除外）")
    days: list[CalendarDayOut]

    @staticmethod
    def resolve_resource_id(obj: Any) -> int:
        return obj.resource.pk


# --- schemas: demands and matches ------------------------------------------------------


class DemandOut(Schema):
    id: int
    number: str
    org_id: int
    org_name: str
    title: str
    description: str
    kind: str
    kind_label: str
    amount: int
    attributes: list[str]
    attribute_labels: list[str]
    start_at: datetime
    end_at: datetime
    location_id: int | None
    location_name: str | None
    budget: Decimal | None
    priority: str
    priority_label: str
    status: str
    status_label: str
    posted_by_id: int
    posted_by_name: str
    approver_id: int | None
    approved_at: datetime | None
    preferred_owner_id: int | None
    project_id: int | None
    posted_at: datetime
    matched_at: datetime | None
    fulfilled_at: datetime | None
    closed_reason: str
    version: int

    @staticmethod
    def resolve_org_name(obj: Demand) -> str:
        return obj.org.name

    @staticmethod
    def resolve_kind_label(obj: Demand) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_attribute_labels(obj: Demand) -> list[str]:
        return _labels(Attribute, obj.attributes)

    @staticmethod
    def resolve_location_name(obj: Demand) -> str | None:
        return obj.location.name if obj.location_id else None

    @staticmethod
    def resolve_priority_label(obj: Demand) -> str:
        return str(obj.get_priority_display())

    @staticmethod
    def resolve_status_label(obj: Demand) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_posted_by_name(obj: Demand) -> str:
        return _name(obj.posted_by) or ""


class AllocationOut(Schema):
    id: int
    number: str
    org_id: int
    org_name: str
    resource_id: int
    resource_name: str
    resource_kind: str
    resource_kind_label: str
    demand_id: int | None
    project_id: int | None
    requester_id: int
    requester_name: str
    requester_org_id: int
    requester_org_name: str
    start_at: datetime
    end_at: datetime
    amount: int
    status: str
    status_label: str
    cost: Decimal
    saved: Decimal
    note: str
    requested_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str
    started_at: datetime | None
    finished_at: datetime | None
    run_id: int | None
    version: int

    @staticmethod
    def resolve_org_name(obj: Allocation) -> str:
        return obj.org.name

    @staticmethod
    def resolve_resource_name(obj: Allocation) -> str:
        return obj.resource.name

    @staticmethod
    def resolve_resource_kind(obj: Allocation) -> str:
        return obj.resource.kind

    @staticmethod
    def resolve_resource_kind_label(obj: Allocation) -> str:
        return str(obj.resource.get_kind_display())

    @staticmethod
    def resolve_requester_name(obj: Allocation) -> str:
        return _name(obj.requester) or ""

    @staticmethod
    def resolve_requester_org_name(obj: Allocation) -> str:
        return obj.requester_org.name

    @staticmethod
    def resolve_status_label(obj: Allocation) -> str:
        return str(obj.get_status_display())


class DemandDetailOut(DemandOut):
    approver_name: str | None
    preferred_owner_name: str | None
    allocations: list[AllocationOut] = Field(description="本需求的调配（当前用户可见的）")

    @staticmethod
    def resolve_approver_name(obj: Demand) -> str | None:
        return _name(obj.approver) if obj.approver_id else None

    @staticmethod
    def resolve_preferred_owner_name(obj: Demand) -> str | None:
        return obj.preferred_owner.name if obj.preferred_owner_id else None

    @staticmethod
    def resolve_allocations(obj: Any) -> list[Any]:
        return obj.allocations_list


class DemandIn(Schema):
    org_id: int | None = Field(None, description="需求单位；默认本人所在单位")
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    kind: ResourceKind
    amount: int = Field(..., ge=1, le=1_000_000_000, description="人数或数量")
    attributes: list[str] = Field(default_factory=list, max_length=20)
    start_at: datetime
    end_at: datetime
    location_id: int | None = None
    budget: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    priority: Priority = Priority.NORMAL
    approver_id: int | None = Field(None, description="本单位审批人；设置后需审核通过才匹配")
    preferred_owner_id: int | None = None
    project_id: int | None = None
    client_key: str | None = Field(
        None, min_length=8, max_length=64, description="表单打开时生成；重复提交返回同一需求"
    )


class DecideIn(Schema):
    approve: bool
    note: str = Field("", max_length=500)


class VersionedDecideIn(DecideIn):
    version: int | None = None


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


class ReasonOut(Schema):
    code: str = Field(description="proximity / fit / cost / balance / preference")
    text: str
    value: float


class CandidateOut(Schema):
    resource: ResourceOut
    score: float = Field(description="Σ 权重 × 分项，0–1")
    parts: dict[str, float]
    reasons: list[ReasonOut]
    cost: Decimal = Field(description="预计费用（元）")


class MatchesOut(Schema):
    demand_id: int
    considered: int = Field(description="发布人可用的同类资源数")
    excluded: dict[str, int] = Field(description="不满足硬性条件而排除的资源数，按原因代码")
    weights: dict[str, float]
    candidates: list[CandidateOut]


# --- schemas: allocations --------------------------------------------------------------


class AllocationIn(Schema):
    resource_id: int
    demand_id: int | None = Field(None, description="为某个需求申请；时段和数量默认取自需求")
    start_at: datetime | None = None
    end_at: datetime | None = None
    amount: int | None = Field(None, ge=1, le=1_000_000_000)
    note: str = Field("", max_length=500)
    project_id: int | None = None
    client_key: str | None = Field(
        None, min_length=8, max_length=64, description="表单打开时生成；重复提交返回同一申请"
    )


class NoteIn(Schema):
    note: str = Field("", max_length=500)


# --- schemas: match runs ---------------------------------------------------------------


class MatchRunOut(Schema):
    id: int
    org_id: int
    run_by_id: int
    window_start: datetime
    window_end: datetime
    demands: int
    matched: int
    candidates: int
    objective: dict[str, Any]
    seconds: float
    applied_at: datetime | None
    created_at: datetime


class ProposalOut(Schema):
    demand_id: int
    demand_number: str
    demand_title: str
    priority: str
    priority_label: str
    resource_id: int | None
    resource_name: str | None
    score: float
    reasons: list[dict[str, Any]]
    unmatched_reason: str = Field(description="未匹配原因：no_candidate:<代码> / outcompeted 等")
    allocation_id: int | None

    @staticmethod
    def resolve_demand_number(obj: Any) -> str:
        return obj.demand.number

    @staticmethod
    def resolve_demand_title(obj: Any) -> str:
        return obj.demand.title

    @staticmethod
    def resolve_priority(obj: Any) -> str:
        return obj.demand.priority

    @staticmethod
    def resolve_priority_label(obj: Any) -> str:
        return str(obj.demand.get_priority_display())

    @staticmethod
    def resolve_resource_name(obj: Any) -> str | None:
        return obj.resource.name if obj.resource_id else None


class MatchRunDetailOut(MatchRunOut):
    proposals: list[ProposalOut]

    @staticmethod
    def resolve_proposals(obj: Any) -> list[Any]:
        return obj.proposals_list


class MatchRunIn(Schema):
    org_id: int = Field(description="匹配该单位及下级单位的待匹配需求")
    window_start: datetime
    window_end: datetime
    candidates_per_demand: int = Field(10, ge=1, le=50)


# --- schemas: the warehouse ------------------------------------------------------------


class TransferOut(Schema):
    id: int
    resource_id: int
    resource_name: str
    org_id: int
    kind: str
    kind_label: str
    quantity: int
    from_org_id: int
    from_org_name: str
    to_org_id: int
    to_org_name: str
    value: Decimal
    allocation_id: int | None
    at: datetime
    actor_id: int
    note: str

    @staticmethod
    def resolve_resource_name(obj: Any) -> str:
        return obj.resource.name

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_from_org_name(obj: Any) -> str:
        return obj.from_org.name

    @staticmethod
    def resolve_to_org_name(obj: Any) -> str:
        return obj.to_org.name


class ReceiveIn(Schema):
    warehouse_org_id: int = Field(description="公物仓所属单位")
    from_org_id: int = Field(description="移交物资的单位")
    name: str = Field(..., min_length=1, max_length=120)
    quantity: int = Field(..., ge=1, le=1_000_000)
    unit_value: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    attributes: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field("", max_length=1000)
    location_id: int | None = None
    visibility: Visibility = Visibility.CITY


class ReturnIn(Schema):
    allocation_id: int
    quantity: int = Field(..., ge=1, le=1_000_000)
    note: str = Field("", max_length=500)


class DisposeIn(Schema):
    quantity: int = Field(..., ge=1, le=1_000_000)
    reason: str = Field(..., min_length=1, max_length=500)


# --- schemas: volunteers and activities ------------------------------------------------


class VolunteerOut(Schema):
    id: int
    org_id: int
    org_name: str
    user_id: int | None
    name: str
    phone: str
    skills: list[str]
    skill_labels: list[str]
    hours: Decimal
    activities: int
    is_active: bool
    version: int

    @staticmethod
    def resolve_org_name(obj: Any) -> str:
        return obj.org.name

    @staticmethod
    def resolve_skill_labels(obj: Any) -> list[str]:
        return _labels(Attribute, obj.skills)


class VolunteerIn(Schema):
    org_id: int
    name: str = Field(..., min_length=1, max_length=50)
    phone: str = Field("", max_length=30)
    skills: list[str] = Field(default_factory=list, max_length=20)
    user_id: int | None = Field(None, description="对应的系统用户（可选）")


class VolunteerUpdateIn(Schema):
    name: str = Field(..., min_length=1, max_length=50)
    phone: str = Field("", max_length=30)
    skills: list[str] = Field(default_factory=list, max_length=20)
    is_active: bool = True
    version: int


class EnrolIn(Schema):
    org_id: int = Field(description="加入的志愿服务队（单位）")
    skills: list[str] = Field(default_factory=list, max_length=20)
    phone: str = Field("", max_length=30)


class ActivityOut(Schema):
    id: int
    org_id: int
    org_name: str
    title: str
    description: str
    location_id: int | None
    location_name: str | None
    address: str
    start_at: datetime
    end_at: datetime
    slots: int
    taken: int
    skills: list[str]
    skill_labels: list[str]
    hours: Decimal
    status: str
    status_label: str
    project_id: int | None
    demand_id: int | None
    signed_up: bool = Field(False, description="当前用户已报名")
    version: int

    @staticmethod
    def resolve_signed_up(obj: Activity) -> bool:
        return bool(getattr(obj, "signed_up", False))

    @staticmethod
    def resolve_org_name(obj: Activity) -> str:
        return obj.org.name

    @staticmethod
    def resolve_location_name(obj: Activity) -> str | None:
        return obj.location.name if obj.location_id else None

    @staticmethod
    def resolve_skill_labels(obj: Activity) -> list[str]:
        return _labels(Attribute, obj.skills)

    @staticmethod
    def resolve_status_label(obj: Activity) -> str:
        return str(obj.get_status_display())


class SignUpOut(Schema):
    id: int
    activity_id: int
    volunteer_id: int
    volunteer_name: str
    status: str
    status_label: str
    hours: Decimal
    recorded_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_volunteer_name(obj: Any) -> str:
        return obj.volunteer.name

    @staticmethod
    def resolve_status_label(obj: Any) -> str:
        return str(obj.get_status_display())


class ActivityDetailOut(ActivityOut):
    signups: list[SignUpOut] = Field(description="报名：组织者看到全部，志愿者看到自己的")

    @staticmethod
    def resolve_signups(obj: Any) -> list[Any]:
        return obj.signups_list


class ActivityIn(Schema):
    org_id: int
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    location_id: int | None = None
    address: str = Field("", max_length=200)
    start_at: datetime
    end_at: datetime
    slots: int = Field(..., ge=1, le=100_000)
    skills: list[str] = Field(default_factory=list, max_length=20)
    hours: Decimal | None = Field(
        None, ge=0, le=1000, max_digits=5, decimal_places=1, description="默认按活动时长"
    )
    project_id: int | None = None
    demand_id: int | None = None


class SignUpIn(Schema):
    volunteer_id: int | None = Field(None, description="为本队志愿者报名；不填为本人报名")


class AttendanceIn(Schema):
    attended: list[int] = Field(
        default_factory=list, max_length=10_000, description="出席的志愿者 id"
    )
    absent: list[int] = Field(
        default_factory=list, max_length=10_000, description="缺席的志愿者 id"
    )
    hours: Decimal | None = Field(None, ge=0, le=1000, max_digits=5, decimal_places=1)


# --- schemas: micro-projects -----------------------------------------------------------


class ProjectOut(Schema):
    id: int
    number: str
    org_id: int
    org_name: str
    title: str
    description: str
    budget: Decimal
    spent: Decimal
    status: str
    status_label: str
    progress: int
    beneficiaries: int
    outcome: str
    location_id: int | None
    leader_id: int
    leader_name: str
    starts_on: date | None
    ends_on: date | None
    approved_at: datetime | None
    completed_at: datetime | None
    version: int

    @staticmethod
    def resolve_org_name(obj: MicroProject) -> str:
        return obj.org.name

    @staticmethod
    def resolve_status_label(obj: MicroProject) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_leader_name(obj: MicroProject) -> str:
        return _name(obj.leader) or ""


class CommittedOut(Schema):
    kind: str
    label: str
    count: int
    amount: int
    cost: Decimal
    saved: Decimal


class ProjectSummaryOut(Schema):
    budget: Decimal
    spent: Decimal
    remaining: Decimal
    allocations: list[CommittedOut] = Field(description="已投入的资源（按类型）")
    allocations_pending: int = Field(description="待审批的资源申请")
    funds: Decimal = Field(description="获得的资金（元）")
    cost: Decimal
    saved: Decimal = Field(description="调剂节约（元）")
    activities: int
    volunteers: int
    volunteer_hours: Decimal
    demands: dict[str, int] = Field(description="需求数，按状态")
    demands_total: int


class ProjectDetailOut(ProjectOut):
    summary: ProjectSummaryOut = Field(description="投入的资源、资金、志愿时长和需求")

    @staticmethod
    def resolve_summary(obj: Any) -> dict[str, Any]:
        return obj.summary_dict


class ProjectIn(Schema):
    org_id: int
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    budget: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    location_id: int | None = None
    leader_id: int | None = Field(None, description="负责人；默认本人")
    starts_on: date | None = None
    ends_on: date | None = None


class ProgressIn(Schema):
    progress: int = Field(..., ge=0, le=100)
    spent: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    beneficiaries: int | None = Field(None, ge=0, le=100_000_000)
    note: str = Field("", max_length=500)
    version: int | None = None


class CompleteIn(Schema):
    outcome: str = Field(..., min_length=1, max_length=2000)
    beneficiaries: int = Field(..., ge=0, le=100_000_000)
    spent: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)


# --- helpers ---------------------------------------------------------------------------


def _resource_detail(user: Any, pk: int) -> Resource:
    """The resource with its closures still to come and what ``user`` may do with it."""
    r = queries.resource_for(user, pk)
    r.closures_list = list(r.closures.filter(end_at__gt=timezone.now()).order_by("start_at"))
    actions = []
    if queries.usable_resources(user).filter(pk=pk).exists():
        actions.append("request")
    if r.org_id in queries.managed_org_ids(user):
        actions.append("manage")
    r.actions_list = actions
    return r


def _demand_detail(user: Any, pk: int) -> Demand:
    d = queries.demand_for(user, pk)
    d.allocations_list = list(queries.allocation_list(user, demand_id=pk))
    return d


def _allocation(user: Any, pk: int) -> Allocation:
    return queries.allocation_for(user, pk)


def _run_detail(user: Any, pk: int) -> MatchRun:
    """The run with its proposals: matched ones first (best first), then the unmatched."""
    run = queries.run_for(user, pk)
    run.proposals_list = list(queries.proposal_list(user, pk))
    return run


def _activity_detail(user: Any, pk: int) -> Activity:
    a = queries.activity_for(user, pk)
    a.signups_list = list(queries.signup_list(user, pk))
    a.signed_up = any(s.volunteer.user_id == user.pk and s.status != "cancelled"
                      for s in a.signups_list)  # fmt: skip
    return a


def _project_detail(user: Any, pk: int) -> MicroProject:
    p = queries.project_for(user, pk)
    p.summary_dict = projects.project_summary(p)
    return p


def _closure(user: Any, pk: int) -> Closure:
    """A closure of a resource the caller sees (else 404)."""
    found = (
        Closure.objects.filter(pk=pk, resource__in=queries.visible_resources(user))
        .select_related("resource")
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def _volunteer(user: Any, pk: int) -> Any:
    found = queries.visible_volunteers(user).select_related("org").filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def _signup(user: Any, pk: int) -> Any:
    found = queries.visible_signups(user).select_related("volunteer").filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- resources -------------------------------------------------------------------------


@router.get("", response=list[ResourceOut])
@paginate(Page)
def list_resources(
    request: HttpRequest,
    kind: str | None = None,
    org_id: int | None = None,
    q: str = "",
    visibility: str | None = None,
    include_inactive: bool = False,
    usable_only: bool = False,
    managed: bool = False,
    min_capacity: int | None = None,
    stock_status: str | None = None,
):
    """Resources the caller sees, by kind and name: those it may use and the active ones
    of the orgs it manages or oversees (``include_inactive``: the inactive ones too).
    ``usable_only``: only those it may request (资源广场); ``managed``: those of the orgs
    it manages (我的资源); ``kind``, ``visibility``, ``stock_status`` take one value or
    several separated by commas (422 ``bad_filter`` for an unknown one); ``org_id`` the
    owner's subtree; ``q`` searches name, address, description and owner."""
    return queries.resource_list(
        request.auth,
        kind=kind,
        org_id=org_id,
        q=q,
        visibility=visibility,
        include_inactive=include_inactive,
        usable_only=usable_only,
        managed=managed,
        min_capacity=min_capacity,
        stock_status=stock_status,
    )


@router.post("", response={201: ResourceDetailOut, **ERRORS})
def create_resource(request: HttpRequest, payload: ResourceCreateIn):
    """A resource on offer (managers of ``org_id``): a venue, facility or vehicle with a
    capacity, a team with its headcount, stock with its quantity; weekly windows,
    attributes, cost and who may use it."""
    r = services.save_resource(actor=request.auth, data=payload.data(partial=True))
    return Status(201, _resource_detail(request.auth, r.pk))


@router.get("/{int:resource_id}", response={200: ResourceDetailOut, 404: ErrorOut})
def get_resource(request: HttpRequest, resource_id: int):
    """The resource, its windows, closures to come and what the caller may do."""
    return _resource_detail(request.auth, resource_id)


@router.put("/{int:resource_id}", response={200: ResourceDetailOut, **ERRORS})
def update_resource(request: HttpRequest, resource_id: int, payload: ResourceUpdateIn):
    """Change a resource (its owner's managers); fields left out keep their value; the
    kind, owner and stock quantity stay (the warehouse moves stock)."""
    queries.resource_for(request.auth, resource_id)
    data = payload.data(partial=True)
    version = data.pop("version")
    services.save_resource(actor=request.auth, resource_id=resource_id, data=data, version=version)
    return _resource_detail(request.auth, resource_id)


@router.get("/{int:resource_id}/photo", response={200: None, 404: ErrorOut})
def resource_photo(request: HttpRequest, resource_id: int, thumb: bool = False):
    """The resource's photo (``?thumb=1`` for the thumbnail)."""
    r = queries.resource_for(request.auth, resource_id)
    if not r.photo:
        raise NotFound()
    return private_file(r.photo_thumb if thumb and r.photo_thumb else r.photo)


@router.post("/{int:resource_id}/photo", response={200: ResourceDetailOut, **ERRORS})
def upload_resource_photo(request: HttpRequest, resource_id: int, photo: File[UploadedFile]):
    """Replace the resource's photo (multipart/form-data; JPEG, PNG or WebP, re-encoded
    with EXIF and GPS stripped, a thumbnail made); its owner's managers."""
    queries.resource_for(request.auth, resource_id)
    services.set_resource_photo(actor=request.auth, resource_id=resource_id, upload=photo)
    return _resource_detail(request.auth, resource_id)


@router.delete("/{int:resource_id}/photo", response={200: ResourceDetailOut, **ERRORS})
def remove_resource_photo(request: HttpRequest, resource_id: int):
    """Remove the resource's photo (its owner's managers)."""
    queries.resource_for(request.auth, resource_id)
    services.set_resource_photo(actor=request.auth, resource_id=resource_id, upload=None)
    return _resource_detail(request.auth, resource_id)


@router.get("/{int:resource_id}/calendar", response={200: CalendarOut, **ERRORS})
def resource_calendar(
    request: HttpRequest, resource_id: int, start: date | None = None, end: date | None = None
):
    """Day by day from ``start`` (default this week's Monday) to ``end`` (default a week
    on; 422 ``bad_range`` beyond two months): the resource's open windows, closures and
    holdings; who holds it only to those who may see that allocation."""
    if start is None:
        today = timezone.localdate()
        start = today - timedelta(days=today.weekday())
    end = end or start + timedelta(days=6)
    return queries.resource_calendar(request.auth, resource_id, start, end)


@router.get("/{int:resource_id}/closures", response={200: list[ClosureOut], 404: ErrorOut})
def list_closures(request: HttpRequest, resource_id: int, past: bool = False):
    """The resource's closures not over yet (``past``: all of them), by start."""
    return list(queries.closure_list(request.auth, resource_id, upcoming=not past))


@router.post("/{int:resource_id}/closures", response={201: ClosureOut, **ERRORS})
def add_closure(request: HttpRequest, resource_id: int, payload: ClosureIn):
    """A period the resource cannot be used (maintenance, the owner's own event); its
    owner's managers. Requests overlapping it are refused with ``closed``."""
    queries.resource_for(request.auth, resource_id)
    c = services.add_closure(actor=request.auth, resource_id=resource_id, **payload.dict())
    return Status(201, c)


@router.delete("/closures/{int:closure_id}", response={204: None, **ERRORS})
def remove_closure(request: HttpRequest, closure_id: int):
    """Remove a closure (its resource's managers)."""
    _closure(request.auth, closure_id)
    services.remove_closure(actor=request.auth, closure_id=closure_id)
    return Status(204, None)


# --- demands ---------------------------------------------------------------------------


@router.get("/demands", response=list[DemandOut])
@paginate(Page)
def list_demands(
    request: HttpRequest,
    status: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
    mine: bool = False,
    org_id: int | None = None,
    q: str = "",
    project_id: int | None = None,
):
    """Demands the caller posted, approves, manages or oversees, the latest first
    (``mine``: only the caller's); ``status``, ``kind``, ``priority`` take one value or
    several separated by commas; ``org_id`` the unit's subtree; ``q`` title or number."""
    return queries.demand_list(
        request.auth, status=status, kind=kind, priority=priority, mine=mine, org_id=org_id,
        q=q, project_id=project_id,
    )  # fmt: skip


@router.get("/demands/approvals", response=list[DemandOut])
@paginate(Page)
def list_demand_approvals(request: HttpRequest):
    """待审核: submitted demands the caller is the approver of or manages the unit of,
    the oldest first."""
    return queries.demand_approvals(request.auth)


@router.post("/demands", response={201: DemandDetailOut, **ERRORS})
def post_demand(request: HttpRequest, payload: DemandIn):
    """Post what a unit needs: kind, people or quantity, attributes, time window, where,
    budget, priority. With an ``approver_id`` it waits for that approver (待审核), else
    it is open for matching at once. 422 ``window_invalid``, ``window_past``."""
    data = _plain(payload.dict(exclude={"client_key"}))
    d = services.post_demand(actor=request.auth, data=data, client_key=payload.client_key)
    return Status(201, _demand_detail(request.auth, d.pk))


@router.get("/demands/{int:demand_id}", response={200: DemandDetailOut, 404: ErrorOut})
def get_demand(request: HttpRequest, demand_id: int):
    """The demand and its allocations."""
    return _demand_detail(request.auth, demand_id)


@router.post("/demands/{int:demand_id}/decide", response={200: DemandDetailOut, **ERRORS})
def decide_demand(request: HttpRequest, demand_id: int, payload: DecideIn):
    """The unit's approver approves (open for matching) or rejects a submitted demand
    (409 ``invalid_transition`` once decided)."""
    queries.demand_for(request.auth, demand_id)
    services.decide_demand(actor=request.auth, demand_id=demand_id, **payload.dict())
    return _demand_detail(request.auth, demand_id)


@router.post("/demands/{int:demand_id}/cancel", response={200: DemandDetailOut, **ERRORS})
def cancel_demand(request: HttpRequest, demand_id: int, payload: ReasonIn):
    """Withdraw a demand (its poster or a manager of its unit); its pending requests are
    cancelled with it."""
    queries.demand_for(request.auth, demand_id)
    services.cancel_demand(actor=request.auth, demand_id=demand_id, reason=payload.reason)
    return _demand_detail(request.auth, demand_id)


@router.get("/demands/{int:demand_id}/matches", response={200: MatchesOut, **ERRORS})
def demand_matches(request: HttpRequest, demand_id: int, limit: int = 20):
    """Resources that meet every hard constraint of the demand (kind, amount, attributes,
    windows, closures, holdings, who may use it, budget), best first, each with its score,
    the parts of the score and a sentence per part; and how many were excluded, by
    reason."""
    if not 1 <= limit <= MAX_MATCHES:
        raise InvalidInput(
            _("limit 须在 1 至 %(max)s 之间。") % {"max": MAX_MATCHES},
            code="bad_limit",
            field="limit",
        )
    d = queries.demand_for(request.auth, demand_id)
    result = matching.match(request.auth, d, limit=limit)
    return {
        "demand_id": d.pk,
        "considered": result.considered,
        "excluded": result.excluded,
        "weights": matching.WEIGHTS,
        "candidates": result.candidates,
    }


# --- allocations -----------------------------------------------------------------------


@router.get("/allocations", response=list[AllocationOut])
@paginate(Page)
def list_allocations(
    request: HttpRequest,
    side: str | None = None,
    status: str | None = None,
    resource_id: int | None = None,
    demand_id: int | None = None,
    project_id: int | None = None,
):
    """Allocations the caller sees, the latest first. ``side``: ``mine`` (asked for by
    the caller or for its demand), ``owner`` (resources of the orgs it manages or
    oversees), ``unit`` (used by those orgs); 422 ``bad_filter`` for another."""
    return queries.allocation_list(
        request.auth, side=side, status=status, resource_id=resource_id, demand_id=demand_id,
        project_id=project_id,
    )  # fmt: skip


@router.get("/allocations/pending", response=list[AllocationOut])
@paginate(Page)
def list_pending_approvals(request: HttpRequest):
    """待审批: requests for resources the caller manages, the oldest first."""
    return queries.pending_approvals(request.auth)


@router.post("/allocations", response={201: AllocationOut, **ERRORS})
def request_allocation(request: HttpRequest, payload: AllocationIn):
    """Ask for a resource, for a demand (its window and amount by default) or directly.
    Every hard constraint is checked again: 422 ``capacity_short``,
    ``attributes_missing``, ``outside_windows``, ``over_budget``, ``kind_mismatch``; 409
    ``resource_taken``, ``closed``, ``headcount_exceeded``, ``insufficient_stock``,
    ``demand_not_open``; 403 ``not_usable``. A resource that needs no approval is
    allocated at once."""
    queries.resource_for(request.auth, payload.resource_id)
    if payload.demand_id is not None:
        queries.demand_for(request.auth, payload.demand_id)
    a = services.request_allocation(actor=request.auth, **payload.dict())
    return Status(201, _allocation(request.auth, a.pk))


@router.get("/allocations/{int:allocation_id}", response={200: AllocationOut, 404: ErrorOut})
def get_allocation(request: HttpRequest, allocation_id: int):
    return _allocation(request.auth, allocation_id)


@router.post("/allocations/{int:allocation_id}/decide", response={200: AllocationOut, **ERRORS})
def decide_allocation(request: HttpRequest, allocation_id: int, payload: VersionedDecideIn):
    """The owner's managers approve (已调配: the resource is held; stock is taken) or
    reject a request. 409 ``resource_taken``, ``headcount_exceeded``,
    ``insufficient_stock`` when it no longer fits; ``invalid_transition`` once decided."""
    _allocation(request.auth, allocation_id)
    services.decide_allocation(actor=request.auth, allocation_id=allocation_id, **payload.dict())
    return _allocation(request.auth, allocation_id)


@router.post("/allocations/{int:allocation_id}/start", response={200: AllocationOut, **ERRORS})
def start_use(request: HttpRequest, allocation_id: int):
    """Hand the resource over: approved → in use."""
    _allocation(request.auth, allocation_id)
    services.start_use(actor=request.auth, allocation_id=allocation_id)
    return _allocation(request.auth, allocation_id)


@router.post("/allocations/{int:allocation_id}/finish", response={200: AllocationOut, **ERRORS})
def finish_allocation(request: HttpRequest, allocation_id: int, payload: NoteIn):
    """Returned (time kinds) or completed (stock); the demand is fulfilled when none of
    its allocations is still open."""
    _allocation(request.auth, allocation_id)
    services.finish_allocation(actor=request.auth, allocation_id=allocation_id, note=payload.note)
    return _allocation(request.auth, allocation_id)


@router.post("/allocations/{int:allocation_id}/cancel", response={200: AllocationOut, **ERRORS})
def cancel_allocation(request: HttpRequest, allocation_id: int, payload: ReasonIn):
    """Cancel (the requester before it starts, or the owner's managers); the hold is
    released and stock given back."""
    _allocation(request.auth, allocation_id)
    services.cancel_allocation(
        actor=request.auth, allocation_id=allocation_id, reason=payload.reason
    )
    return _allocation(request.auth, allocation_id)


# --- batch matching --------------------------------------------------------------------


@router.get("/match-runs", response=list[MatchRunOut])
@paginate(Page)
def list_match_runs(request: HttpRequest, org_id: int | None = None):
    """Batch match runs over the orgs the caller matches or oversees, the latest first."""
    return queries.run_list(request.auth, org_id=org_id)


@router.post("/match-runs", response={201: MatchRunDetailOut, **ERRORS})
def run_batch(request: HttpRequest, payload: MatchRunIn):
    """Match every open demand of ``org_id``'s units whose window starts in
    [``window_start``, ``window_end``) at once: the most demands by priority (urgent
    first), then the best total score, no resource given twice; what stayed unmatched
    and why. Nothing is allocated until the run is applied."""
    run = batch.run_batch(actor=request.auth, **payload.dict())
    return Status(201, _run_detail(request.auth, run.pk))


@router.get("/match-runs/{int:run_id}", response={200: MatchRunDetailOut, 404: ErrorOut})
def get_match_run(request: HttpRequest, run_id: int):
    """The run with a proposal per demand: the resource and its reasons, or why none."""
    return _run_detail(request.auth, run_id)


@router.post("/match-runs/{int:run_id}/apply", response={200: MatchRunDetailOut, **ERRORS})
def apply_match_run(request: HttpRequest, run_id: int):
    """Turn the run's proposals into requests (a proposal refused now keeps the reason);
    once (409 ``already_applied``)."""
    queries.run_for(request.auth, run_id)
    batch.apply_run(actor=request.auth, run_id=run_id)
    return _run_detail(request.auth, run_id)


# --- the warehouse (公物仓) -------------------------------------------------------------


@router.get("/warehouse/transfers", response=list[TransferOut])
@paginate(Page)
def list_transfers(
    request: HttpRequest,
    kind: str | None = None,
    resource_id: int | None = None,
    org_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
):
    """The warehouse ledger (in, out, return, dispose) over the orgs the caller manages
    or oversees, the latest first; ``start``–``end`` are local days, inclusive."""
    return queries.transfer_list(
        request.auth, kind=kind, resource_id=resource_id, org_id=org_id, start=start, end=end
    )


@router.post("/warehouse/receive", response={201: ResourceDetailOut, **ERRORS})
def receive_items(request: HttpRequest, payload: ReceiveIn):
    """入库: surplus assets handed in by a unit (managers of the warehouse's org); they
    wait for the check (入库待验) before anyone may ask for them."""
    data = _plain(payload.dict())
    r = warehouse.receive(actor=request.auth, **data)
    return Status(201, _resource_detail(request.auth, r.pk))


@router.post(
    "/warehouse/items/{int:resource_id}/store", response={200: ResourceDetailOut, **ERRORS}
)
def store_items(request: HttpRequest, resource_id: int):
    """验收入库: checked and stored, now offered to units (先调剂后购置)."""
    queries.resource_for(request.auth, resource_id)
    warehouse.store(actor=request.auth, resource_id=resource_id)
    return _resource_detail(request.auth, resource_id)


@router.post("/warehouse/returns", response={201: TransferOut, **ERRORS})
def return_items(request: HttpRequest, payload: ReturnIn):
    """归还入库: items handed out by an allocation come back to stock (no more than were
    handed out)."""
    _allocation(request.auth, payload.allocation_id)
    t = warehouse.return_items(actor=request.auth, **payload.dict())
    return Status(201, t)


@router.post("/warehouse/items/{int:resource_id}/dispose", response={201: TransferOut, **ERRORS})
def dispose_items(request: HttpRequest, resource_id: int, payload: DisposeIn):
    """报废处置: take items out of stock for good (409 ``insufficient_stock``)."""
    queries.resource_for(request.auth, resource_id)
    t = warehouse.dispose(actor=request.auth, resource_id=resource_id, **payload.dict())
    return Status(201, t)


# --- volunteers ------------------------------------------------------------------------


@router.get("/volunteers", response=list[VolunteerOut])
@paginate(Page)
def list_volunteers(
    request: HttpRequest, org_id: int | None = None, q: str = "", include_inactive: bool = False
):
    """Volunteers of the teams the caller keeps or oversees (and the caller's own
    record), the most hours first."""
    return queries.volunteer_list(
        request.auth, org_id=org_id, q=q, include_inactive=include_inactive
    )


@router.post("/volunteers", response={201: VolunteerOut, **ERRORS})
def register_volunteer(request: HttpRequest, payload: VolunteerIn):
    """Register a volunteer in a team (its keepers)."""
    v = volunteers.register_volunteer(actor=request.auth, **payload.dict())
    return Status(201, _volunteer(request.auth, v.pk))


@router.post("/volunteers/enrol", response={201: VolunteerOut, **ERRORS})
def enrol_self(request: HttpRequest, payload: EnrolIn):
    """Join a volunteer team as oneself (once: 409 ``duplicate``)."""
    v = volunteers.enrol_self(actor=request.auth, **payload.dict())
    return Status(201, _volunteer(request.auth, v.pk))


@router.get("/volunteers/{int:volunteer_id}", response={200: VolunteerOut, 404: ErrorOut})
def get_volunteer(request: HttpRequest, volunteer_id: int):
    return _volunteer(request.auth, volunteer_id)


@router.put("/volunteers/{int:volunteer_id}", response={200: VolunteerOut, **ERRORS})
def update_volunteer(request: HttpRequest, volunteer_id: int, payload: VolunteerUpdateIn):
    """Change a volunteer's record (the team's keepers); fields left out keep their
    value."""
    _volunteer(request.auth, volunteer_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    volunteers.update_volunteer(
        actor=request.auth, volunteer_id=volunteer_id, data=data, version=version
    )
    return _volunteer(request.auth, volunteer_id)


# --- activities ------------------------------------------------------------------------


@router.get("/activities", response=list[ActivityOut])
@paginate(Page)
def list_activities(
    request: HttpRequest,
    upcoming: bool = True,
    status: str | None = None,
    org_id: int | None = None,
    project_id: int | None = None,
    mine: bool = False,
):
    """Volunteer activities the caller may join (``upcoming``: not over, not cancelled or
    done, the soonest first; else all, the latest first; ``mine``: those it signed up
    for)."""
    return queries.activity_list(
        request.auth, upcoming=upcoming, status=status, org_id=org_id, project_id=project_id,
        mine=mine,
    )  # fmt: skip


@router.post("/activities", response={201: ActivityDetailOut, **ERRORS})
def create_activity(request: HttpRequest, payload: ActivityIn):
    """A volunteer activity with places (the organising team's keepers)."""
    a = volunteers.create_activity(actor=request.auth, data=payload.dict())
    return Status(201, _activity_detail(request.auth, a.pk))


@router.get("/activities/{int:activity_id}", response={200: ActivityDetailOut, 404: ErrorOut})
def get_activity(request: HttpRequest, activity_id: int):
    return _activity_detail(request.auth, activity_id)


@router.post("/activities/{int:activity_id}/sign-ups", response={201: SignUpOut, **ERRORS})
def sign_up(request: HttpRequest, activity_id: int, payload: SignUpIn):
    """Take a place: oneself (409 ``not_volunteer`` without a volunteer record) or, for a
    keeper, a volunteer of the team. 409 ``activity_full``, ``duplicate``."""
    queries.activity_for(request.auth, activity_id)
    if payload.volunteer_id is not None:
        _volunteer(request.auth, payload.volunteer_id)
    s = volunteers.sign_up(
        actor=request.auth, activity_id=activity_id, volunteer_id=payload.volunteer_id
    )
    return Status(201, _signup(request.auth, s.pk))


@router.post("/sign-ups/{int:signup_id}/cancel", response={200: SignUpOut, **ERRORS})
def cancel_sign_up(request: HttpRequest, signup_id: int):
    """Give the place back before the activity starts."""
    _signup(request.auth, signup_id)
    volunteers.cancel_sign_up(actor=request.auth, signup_id=signup_id)
    return _signup(request.auth, signup_id)


@router.post(
    "/activities/{int:activity_id}/attendance", response={200: ActivityDetailOut, **ERRORS}
)
def record_attendance(request: HttpRequest, activity_id: int, payload: AttendanceIn):
    """After the start, the keepers mark who came (hours credited once) and who did not;
    the activity is done."""
    queries.activity_for(request.auth, activity_id)
    volunteers.record_attendance(actor=request.auth, activity_id=activity_id, **payload.dict())
    return _activity_detail(request.auth, activity_id)


@router.post("/activities/{int:activity_id}/cancel", response={200: ActivityDetailOut, **ERRORS})
def cancel_activity(request: HttpRequest, activity_id: int, payload: ReasonIn):
    """Cancel the activity; those signed up are told."""
    queries.activity_for(request.auth, activity_id)
    volunteers.cancel_activity(actor=request.auth, activity_id=activity_id, reason=payload.reason)
    return _activity_detail(request.auth, activity_id)


# --- micro-projects --------------------------------------------------------------------


@router.get("/projects", response=list[ProjectOut])
@paginate(Page)
def list_projects(
    request: HttpRequest, status: str | None = None, org_id: int | None = None, q: str = ""
):
    """民生微实事 projects of the caller's centres, the latest first."""
    return queries.project_list(request.auth, status=status, org_id=org_id, q=q)


@router.post("/projects", response={201: ProjectDetailOut, **ERRORS})
def create_project(request: HttpRequest, payload: ProjectIn):
    """Propose a micro-project (申报) with its budget; managers approve it (立项)."""
    p = projects.create_project(actor=request.auth, data=payload.dict())
    return Status(201, _project_detail(request.auth, p.pk))


@router.get("/projects/{int:project_id}", response={200: ProjectDetailOut, 404: ErrorOut})
def get_project(request: HttpRequest, project_id: int):
    """The project with what was committed to it: allocations by kind, funds, volunteer
    hours of its activities, its demands."""
    return _project_detail(request.auth, project_id)


@router.post("/projects/{int:project_id}/decide", response={200: ProjectDetailOut, **ERRORS})
def decide_project(request: HttpRequest, project_id: int, payload: DecideIn):
    """Approve (立项) or reject a proposed project (managers of its org)."""
    queries.project_for(request.auth, project_id)
    projects.decide_project(actor=request.auth, project_id=project_id, **payload.dict())
    return _project_detail(request.auth, project_id)


@router.post("/projects/{int:project_id}/progress", response={200: ProjectDetailOut, **ERRORS})
def update_progress(request: HttpRequest, project_id: int, payload: ProgressIn):
    """Report progress (%), spending (≤ budget) and people reached."""
    queries.project_for(request.auth, project_id)
    projects.update_progress(actor=request.auth, project_id=project_id, **payload.dict())
    return _project_detail(request.auth, project_id)


@router.post("/projects/{int:project_id}/complete", response={200: ProjectDetailOut, **ERRORS})
def complete_project(request: HttpRequest, project_id: int, payload: CompleteIn):
    """Close the project with its outcome, the people it reached and what it spent."""
    queries.project_for(request.auth, project_id)
    projects.complete_project(actor=request.auth, project_id=project_id, **payload.dict())
    return _project_detail(request.auth, project_id)


# --- stats -----------------------------------------------------------------------------


@router.get("/stats", response={200: dict[str, Any], 404: ErrorOut, 422: ErrorOut})
def pool_stats(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    org_id: int | None = None,
):
    """Utilisation by kind and by owner, demand fulfilment rate and time to match,
    savings from reuse by requesting unit, volunteer hours by team, projects by status
    and every centre side by side (default: the last 30 days), over the orgs the caller
    oversees."""
    start, end = _period(start, end)
    return stats.pool_stats(request.auth, start=start, end=end, org_id=org_id).as_dict()


@router.get("/stats/export.xlsx", response={200: None, 404: ErrorOut, 422: ErrorOut})
def export_stats(request: HttpRequest, start: date, end: date, org_id: int | None = None):
    """The stats of ``start``–``end`` (both required: a file states its period) as an
    Excel workbook, one sheet per table."""
    body = export.pool_stats_xlsx(request.auth, start=start, end=end, org_id=org_id)
    response = HttpResponse(body, content_type=XLSX)
    response["Content-Disposition"] = (
        f'attachment; filename="resources-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"'
    )
    response["Cache-Control"] = "private, no-store"
    return response
