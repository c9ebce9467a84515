"""The resource pool (资源整合、需求匹配): what departments, enterprises, social
organisations and volunteer teams offer, what units need, and who got what.

Correctness lives in the database:

- an **exclusive** resource (venue, facility, vehicle) never holds two allocations whose
  ranges overlap: on PostgreSQL the exclusion constraint ``resources_no_overlap``
  (migration 0002); on both databases the allocation service locks the resource row
  (``SELECT … FOR UPDATE``; SQLite's IMMEDIATE transaction) before it checks;
- a **headcount** resource (manpower, volunteer team) is checked under the same lock:
  overlapping holding allocations together stay within ``capacity``;
- a **stock** resource (公物仓 asset, fund) moves ``available`` only by conditional
  UPDATE (``available = available - n WHERE available >= n``), with a check constraint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import (
    ActivityStatus,
    AllocationStatus,
    CostBasis,
    DemandStatus,
    Priority,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)


class Resource(VersionedModel):
    """One thing on offer. ``org`` owns it: its managers (``resources.manage``) edit it
    and approve requests for it. ``centre`` is the owner's centre (市 or 县), kept for
    the ``centre`` visibility."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    centre = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+", editable=False
    )
    kind = models.CharField(_("资源类型"), max_length=20, choices=ResourceKind.choices)
    name = models.CharField(_("名称"), max_length=120)
    description = models.CharField(_("说明"), max_length=1000, blank=True)
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("位置"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    # exclusive kinds: how many people it takes; headcount kinds: how many people it has
    capacity = models.PositiveIntegerField(_("容量"), default=0)
    # stock kinds: the quantity received, and what is left to hand out
    quantity = models.PositiveIntegerField(_("数量"), default=0)
    available = models.PositiveIntegerField(_("可用数量"), default=0)
    unit = models.CharField(_("计量单位"), max_length=10, blank=True)
    # Attribute values and free tags, sorted and de-duplicated by the service
    attributes = models.JSONField(_("属性"), default=list, blank=True)
    # When it may be used, weekly: [{"days": [0..6] (Monday 0), "start": "HH:MM",
    # "end": "HH:MM", "offpeak": bool}]; empty = any time. Off-peak windows are the
    # sharing windows of a resource its owner uses by day (courts, car parks).
    windows = models.JSONField(_("开放时段"), default=list, blank=True)
    visibility = models.CharField(
        _("开放范围"), max_length=10, choices=Visibility.choices, default=Visibility.CENTRE
    )
    cost_basis = models.CharField(
        _("收费方式"), max_length=10, choices=CostBasis.choices, default=CostBasis.FREE
    )
    cost = models.DecimalField(_("单价（元）"), max_digits=12, decimal_places=2, default=0)
    # what one unit would cost to buy new: a hand-out from the warehouse saves this
    unit_value = models.DecimalField(
        _("单位价值（元）"), max_digits=12, decimal_places=2, default=0
    )
    requires_approval = models.BooleanField(_("需要审批"), default=True)
    # an owner's preference weight in the ranking (0–100; a department may favour its
    # own resources being used first, an enterprise may offer off-peak only)
    preference = models.PositiveSmallIntegerField(_("推荐权重"), default=50)
    contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("联系人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    contact_phone = models.CharField(_("联系电话"), max_length=30, blank=True)
    # 公物仓 items only (kind asset, in the warehouse); null for everything else
    stock_status = models.CharField(
        _("仓储状态"), max_length=10, choices=StockStatus.choices, null=True, blank=True
    )
    photo = models.ImageField(_("照片"), upload_to="resources/", blank=True)
    photo_thumb = models.ImageField(_("照片缩略图"), upload_to="resources/thumbs/", blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("资源")
        verbose_name_plural = _("资源")
        ordering = ["org_id", "kind", "name", "id"]
        indexes = [
            models.Index(fields=["kind", "is_active", "capacity"], name="resource_kind_cap"),
            models.Index(fields=["kind", "is_active", "available"], name="resource_kind_avail"),
            models.Index(fields=["org", "kind"], name="resource_org_kind"),
            models.Index(fields=["visibility", "kind"], name="resource_visibility"),
            models.Index(fields=["centre", "visibility"], name="resource_centre"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(available__lte=F("quantity")), name="resource_available_le_quantity"
            ),
            models.CheckConstraint(condition=Q(cost__gte=0), name="resource_cost_nonneg"),
            models.CheckConstraint(
                condition=Q(preference__lte=100), name="resource_preference_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Closure(TimestampedModel):
    """A period a resource cannot be used (maintenance, the owner's own event)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="closures")
    start_at = models.DateTimeField(pgettext_lazy("resource", "开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "resource__org"

    class Meta:
        ordering = ["start_at"]
        indexes = [models.Index(fields=["resource", "start_at", "end_at"], name="closure_time")]
        constraints = [
            models.CheckConstraint(condition=Q(start_at__lt=F("end_at")), name="closure_range")
        ]


class MicroProject(VersionedModel):
    """A 民生微实事 micro-project: a small public-good project with a budget, the
    resources committed to it (allocations), volunteer activities, progress and outcome."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("承办单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("项目编号"), max_length=24, unique=True)  # WS-YYYYMMDD-NNNNN
    title = models.CharField(_("项目名称"), max_length=200)
    description = models.CharField(_("项目内容"), max_length=2000, blank=True)
    budget = models.DecimalField(_("预算（元）"), max_digits=12, decimal_places=2)
    spent = models.DecimalField(_("已支出（元）"), max_digits=12, decimal_places=2, default=0)
    status = models.CharField(
        _("状态"), max_length=12, choices=ProjectStatus.choices, default=ProjectStatus.PROPOSED
    )
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    beneficiaries = models.PositiveIntegerField(_("受益人数"), default=0)
    outcome = models.CharField(_("成效"), max_length=2000, blank=True)
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("实施地点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    starts_on = models.DateField(_("计划开始"), null=True, blank=True)
    ends_on = models.DateField(_("计划完成"), null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("民生微实事项目")
        verbose_name_plural = _("民生微实事项目")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "status"], name="project_org_status")]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="project_progress"),
            models.CheckConstraint(condition=Q(budget__gte=0), name="project_budget_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class Demand(VersionedModel):
    """What a unit needs: a kind, an amount (people for venues, vehicles and teams;
    units of stock), attributes, a time window, where, a budget and a priority."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("需求单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("需求编号"), max_length=24, unique=True)  # XQ-YYYYMMDD-NNNNN
    title = models.CharField(_("需求名称"), max_length=200)
    description = models.CharField(_("需求说明"), max_length=2000, blank=True)
    kind = models.CharField(_("资源类型"), max_length=20, choices=ResourceKind.choices)
    amount = models.PositiveIntegerField(_("数量/人数"))
    attributes = models.JSONField(_("所需属性"), default=list, blank=True)
    start_at = models.DateTimeField(pgettext_lazy("resource", "开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("使用地点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    budget = models.DecimalField(
        _("预算上限（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    priority = models.CharField(
        _("优先级"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=DemandStatus.choices, default=DemandStatus.OPEN
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # the unit's approver (审批人) when the demand needs sign-off before it is matched
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    preferred_owner = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("优先提供单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    project = models.ForeignKey(
        MicroProject,
        verbose_name=_("所属微实事项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="demands",
    )
    posted_at = models.DateTimeField(_("发布时间"))
    matched_at = models.DateTimeField(_("匹配时间"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=500, blank=True)
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("需求")
        verbose_name_plural = _("需求")
        ordering = ["-posted_at", "-id"]
        indexes = [
            models.Index(fields=["org", "-posted_at"], name="demand_org_recent"),
            models.Index(fields=["status", "start_at"], name="demand_status_start"),
            models.Index(fields=["posted_by", "-posted_at"], name="demand_poster_recent"),
            models.Index(fields=["kind", "status"], name="demand_kind_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start_at__lt=F("end_at")), name="demand_range"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="demand_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class MatchRun(TimestampedModel):
    """One batch assignment (a week's open demands against the pool): what it was
    asked, what it found, how long it took. Its proposals become requests when applied."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+"
    )  # the centre whose demands were matched
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    demands = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)  # candidate edges given to the solver
    objective = models.JSONField(default=dict, blank=True)  # matched per priority, quality
    seconds = models.FloatField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        ordering = ["-created_at", "-id"]


class MatchProposal(models.Model):
    """The solver's answer for one demand of a run: the resource, or why none."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="proposals")
    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    score = models.FloatField(default=0)
    reasons = models.JSONField(default=list, blank=True)  # [{"code", "text", "value"}]
    unmatched_reason = models.CharField(max_length=40, blank=True)  # a code, see matching
    allocation = models.ForeignKey(
        "Allocation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_org_field = "demand__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "demand"], name="proposal_once_per_run")
        ]


class Allocation(VersionedModel):
    """A resource given (or asked) for a demand, a time range and an amount:
    requested → approved (allocated) → in use → returned / completed; or rejected,
    cancelled. ``holds`` is true while it holds the resource (approved, in use)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("提供单位"), on_delete=models.PROTECT, related_name="+"
    )  # = resource.org: the owner's managers approve and see it
    resource = models.ForeignKey(
        Resource, verbose_name=_("资源"), on_delete=models.PROTECT, related_name="allocations"
    )
    number = models.CharField(_("调配编号"), max_length=24, unique=True)  # DP-YYYYMMDD-NNNNN
    demand = models.ForeignKey(
        Demand,
        verbose_name=_("需求"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocations",
    )
    project = models.ForeignKey(
        MicroProject,
        verbose_name=_("微实事项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocations",
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requester_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("使用单位"), on_delete=models.PROTECT, related_name="+"
    )  # the demand's org (or the requester's unit); its managers see it too
    start_at = models.DateTimeField(pgettext_lazy("resource", "开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    amount = models.PositiveIntegerField(_("数量/人数"))
    status = models.CharField(
        _("状态"),
        max_length=12,
        choices=AllocationStatus.choices,
        default=AllocationStatus.REQUESTED,
    )
    holds = models.BooleanField(default=False)
    exclusive = models.BooleanField(default=False)  # resource kind is exclusive (constraint)
    cost = models.DecimalField(_("费用（元）"), max_digits=12, decimal_places=2, default=0)
    # what the requester did not have to buy (stock from the warehouse: amount × unit value)
    saved = models.DecimalField(_("节约金额（元）"), max_digits=12, decimal_places=2, default=0)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    requested_at = models.DateTimeField(_("申请时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("资源调配")
        verbose_name_plural = _("资源调配")
        ordering = ["-requested_at", "-id"]
        indexes = [
            # availability: a resource's holding allocations by time
            models.Index(
                fields=["resource", "start_at", "end_at"],
                name="allocation_holding_time",
                condition=Q(holds=True),
            ),
            models.Index(fields=["org", "status"], name="allocation_org_status"),
            models.Index(fields=["requester_org", "-requested_at"], name="allocation_req_org"),
            models.Index(fields=["requester", "-requested_at"], name="allocation_requester"),
            models.Index(fields=["demand", "status"], name="allocation_demand"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start_at__lt=F("end_at")), name="allocation_range"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=Q(holds=True, status__in=["approved", "in_use"])
                | Q(
                    holds=False,
                    status__in=["requested", "returned", "completed", "rejected", "cancelled"],
                ),
                name="allocation_holds_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.resource}"


class Transfer(models.Model):
    """The 公物仓 ledger: an asset received into the warehouse, handed out to a unit
    (调剂), returned, or disposed of; with the value it carried."""

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="transfers")
    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="+"
    )  # the warehouse's org (= resource.org)
    kind = models.CharField(_("类型"), max_length=10, choices=TransferKind.choices)
    quantity = models.PositiveIntegerField(_("数量"))
    from_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("移出单位"), on_delete=models.PROTECT, related_name="+"
    )
    to_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("接收单位"), on_delete=models.PROTECT, related_name="+"
    )
    value = models.DecimalField(_("价值（元）"), max_digits=12, decimal_places=2, default=0)
    allocation = models.ForeignKey(
        Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("说明"), max_length=500, blank=True)

    scope_org_field = "org"

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["org", "-at"], name="transfer_org_recent"),
            models.Index(fields=["to_org", "-at"], name="transfer_to_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_quantity_positive")
        ]


class Volunteer(VersionedModel):
    """A registered volunteer of a team (a social organisation, or a centre's own)."""

    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("所属队伍/单位"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="volunteer",
    )
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("联系电话"), max_length=30, blank=True)
    skills = models.JSONField(_("技能"), default=list, blank=True)
    hours = models.DecimalField(
        _("累计服务时长（小时）"), max_digits=8, decimal_places=1, default=0
    )
    activities = models.PositiveIntegerField(_("参加活动次数"), default=0)
    is_active = models.BooleanField(_("在册"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("志愿者")
        verbose_name_plural = _("志愿者")
        ordering = ["org_id", "name", "id"]
        indexes = [models.Index(fields=["org", "-hours"], name="volunteer_org_hours")]
        constraints = [models.CheckConstraint(condition=Q(hours__gte=0), name="volunteer_hours")]

    def __str__(self) -> str:
        return self.name


class Activity(VersionedModel):
    """A volunteer activity with places to sign up for; attendance accrues hours."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("组织单位"), on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(_("活动名称"), max_length=200)
    description = models.CharField(_("活动内容"), max_length=2000, blank=True)
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("地点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    start_at = models.DateTimeField(pgettext_lazy("resource", "开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    slots = models.PositiveIntegerField(_("招募人数"))
    taken = models.PositiveIntegerField(default=0)
    skills = models.JSONField(_("所需技能"), default=list, blank=True)
    # hours credited for attending (the activity's length unless set)
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=1)
    status = models.CharField(
        _("状态"), max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.OPEN
    )
    project = models.ForeignKey(
        MicroProject,
        verbose_name=_("所属微实事项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
    )
    demand = models.ForeignKey(
        Demand, null=True, blank=True, on_delete=models.PROTECT, related_name="activities"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "org"

    class Meta:
        verbose_name = _("志愿活动")
        verbose_name_plural = _("志愿活动")
        ordering = ["-start_at", "-id"]
        indexes = [models.Index(fields=["org", "-start_at"], name="activity_org_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(taken__lte=F("slots")), name="activity_not_over"),
            models.CheckConstraint(condition=Q(start_at__lt=F("end_at")), name="activity_range"),
        ]

    def __str__(self) -> str:
        return self.title


class SignUp(TimestampedModel):
    """A volunteer's place in an activity; attendance credits ``hours`` once."""

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="signups")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="signups")
    status = models.CharField(
        _("状态"), max_length=10, choices=SignUpStatus.choices, default=SignUpStatus.SIGNED
    )
    hours = models.DecimalField(_("记录时长"), max_digits=5, decimal_places=1, default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "activity__org"

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "volunteer"],
                condition=~Q(status="cancelled"),
                name="signup_once",
            )
        ]
