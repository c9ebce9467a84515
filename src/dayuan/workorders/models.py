"""Service requests and work orders: catalogue, responsibility, orders, clocks, timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import Channel, CloseReason, PhotoKind, Status, Tier, Urgency


class ServiceCategory(VersionedModel):
    """A service people can request (维修·水电, 保洁 …). Defined by a centre; visible to its
    subtree (a city category serves every county unless a county defines its own)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.CharField(_("编码"), max_length=60)  # e.g. repair.plumbing
    name = models.CharField(_("名称"), max_length=60)
    tier = models.CharField(_("服务层级"), max_length=10, choices=Tier.choices, default=Tier.BASIC)
    # The category the standards' sla rules name (``workorder:<sla_category>``); a
    # sub-category usually shares its parent's (repair.plumbing -> repair).
    sla_category = models.CharField(_("时限规则类别"), max_length=60)
    skill = models.CharField(_("所需技能"), max_length=40, blank=True)
    icon = models.CharField(max_length=30, blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("服务类别")
        verbose_name_plural = _("服务类别")
        ordering = ["position", "code"]
        constraints = [models.UniqueConstraint(fields=["org", "code"], name="category_unique_code")]

    def __str__(self) -> str:
        return self.name


class Team(VersionedModel):
    """A group of workers: the centre's own maintenance team or a vendor's crew."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    vendor = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("外包单位"),
    )
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("服务班组")
        verbose_name_plural = _("服务班组")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    skills = models.JSONField(_("技能"), default=list, blank=True)
    on_duty = models.BooleanField(_("在岗"), default=True)

    scope_org_field = "team__org"

    class Meta:
        verbose_name = _("班组成员")
        verbose_name_plural = _("班组成员")
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]


class Responsibility(models.Model):
    """Who answers for a category in a location subtree (nearest location wins)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(ServiceCategory, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        "orgs.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="responsibilities")

    scope_org_field = "org"

    class Meta:
        verbose_name = _("责任分工")
        verbose_name_plural = _("责任分工")
        constraints = [
            models.UniqueConstraint(
                fields=["org", "category", "location"], name="responsibility_unique"
            ),
            # NULL locations are distinct in a unique index: one whole-org row per category
            models.UniqueConstraint(
                fields=["org", "category"],
                condition=Q(location__isnull=True),
                name="responsibility_unique_whole_org",
            ),
        ]


class WorkOrder(VersionedModel):
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("工单号"), max_length=20, unique=True)
    category = models.ForeignKey(
        ServiceCategory, verbose_name=_("服务类别"), on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("地点"), on_delete=models.PROTECT, related_name="+"
    )
    description = models.TextField(_("问题描述"), max_length=1000)
    urgency = models.CharField(
        _("紧急程度"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    channel = models.CharField(
        _("渠道"), max_length=10, choices=Channel.choices, default=Channel.WEB
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("报修人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=Status.choices, default=Status.SUBMITTED
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    vendor = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("外包单位"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("处理人"),
    )
    submitted_at = models.DateTimeField(_("提交时间"))
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=40, blank=True)
    status_before_pause = models.CharField(max_length=12, blank=True)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    resolution = models.TextField(_("处理说明"), blank=True)
    materials = models.JSONField(_("耗材"), default=list, blank=True)  # [{name, qty, unit, price}]
    cost = models.DecimalField(_("费用(元)"), max_digits=10, decimal_places=2, default=0)
    rating = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    rating_tags = models.JSONField(_("评价标签"), default=list, blank=True)
    rating_comment = models.CharField(_("评价内容"), max_length=500, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)  # denormalised: any timer breached

    scope_org_field = "org"

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            # the scoped list: org subtree (via org_id) by status, newest first
            models.Index(fields=["org", "status", "-submitted_at"], name="wo_org_status_recent"),
            models.Index(fields=["org", "-submitted_at"], name="wo_org_recent"),
            # a worker's queue
            models.Index(fields=["assignee", "status"], name="wo_assignee_status"),
            models.Index(fields=["category", "submitted_at"], name="wo_category_time"),
            # the list filtered by status across many orgs, in the list's order: an ordered
            # index scan that stops after the page instead of sorting every match
            models.Index(fields=["status", "-submitted_at", "-id"], name="wo_status_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="wo_rating_1_5",
            )
        ]

    def __str__(self) -> str:
        return self.number


class WorkOrderTimer(models.Model):
    """One SLA clock of an order, from the effective ``sla`` rule when the clock started.

    ``due_at`` is stored when the clock starts and moved on resume by the paused
    working time; a breach is the query ``met_at is null and due_at < now`` (or
    ``met_at > due_at``), so it is right even if every job were lost.
    """

    workorder = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="timers")
    name = models.CharField(max_length=30)
    label = models.CharField(max_length=40)
    minutes = models.PositiveIntegerField()
    calendar = models.CharField(max_length=10)  # working | 24x7
    anchor = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    paused_minutes = models.PositiveIntegerField(default=0)
    met_at = models.DateTimeField(null=True, blank=True)
    breached = models.BooleanField(default=False)  # set when met late, or by the job
    escalation_level = models.PositiveSmallIntegerField(default=0)  # ladder steps notified
    rule = models.ForeignKey("standards.Rule", on_delete=models.PROTECT, related_name="+")
    clause = models.ForeignKey("standards.Clause", on_delete=models.PROTECT, related_name="+")

    scope_org_field = "workorder__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workorder", "name"], name="wo_timer_unique")
        ]
        indexes = [
            # open clocks by due time: the escalation job and the overdue filter
            models.Index(
                fields=["due_at"], name="wo_timer_open_due", condition=Q(met_at__isnull=True)
            ),
            # the dashboard: clocks of a period's orders (a clock starts at or after its
            # order's submission), and breached or unmet clocks for the overdue count
            models.Index(fields=["started_at", "name"], name="wo_timer_started"),
            models.Index(
                fields=["started_at"],
                name="wo_timer_unsettled",
                condition=Q(breached=True) | Q(met_at__isnull=True),
            ),
        ]


class WorkOrderEvent(models.Model):
    """The order's timeline: every transition with who, when and why."""

    workorder = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    note = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    scope_org_field = "workorder__org"

    class Meta:
        ordering = ["at", "id"]


class WorkOrderPhoto(TimestampedModel):
    workorder = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=12, choices=PhotoKind.choices)
    image = models.ImageField(upload_to="workorders/%Y/%m/")
    thumbnail = models.ImageField(upload_to="workorders/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "workorder__org"
