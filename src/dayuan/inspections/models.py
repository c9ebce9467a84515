"""Inspections and the closed loop: plans from ``schedule`` rules, checklists from
``checklist`` rules, findings bound to clauses, rectification rounds until verified."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import (
    FindingSource,
    FindingStatus,
    InspectionKind,
    InspectionStatus,
    OccurrenceStatus,
    RectificationStatus,
    Verdict,
)


class Asset(VersionedModel):
    """A piece of equipment a ``schedule`` rule names by ``asset_type`` (lightning rods,
    split air conditioners …), at a location of the org."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("位置"), on_delete=models.PROTECT, related_name="+"
    )
    asset_type = models.CharField(_("设备类型"), max_length=60, db_index=True)
    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编号"), max_length=40, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("设施设备")
        verbose_name_plural = _("设施设备")
        ordering = ["location", "name"]

    def __str__(self) -> str:
        return self.name


class PlanAssignment(VersionedModel):
    """Who performs a scheduled activity in (a subtree of) an org: an inspector, or a
    team (the centre's or a vendor's), optionally with the checklist to use."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    activity = models.CharField(_("计划事项"), max_length=60)  # schedule target activity
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("范围（位置）"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    team = models.ForeignKey(
        "workorders.Team",
        verbose_name=_("执行班组"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("执行人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    vendor = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("责任单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    checklist_code = models.CharField(_("检查表"), max_length=60, blank=True)
    kind = models.CharField(
        _("检查类型"), max_length=12, choices=InspectionKind.choices, default=InspectionKind.PATROL
    )
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("计划分工")
        verbose_name_plural = _("计划分工")
        ordering = ["activity", "id"]


class PlanOccurrence(models.Model):
    """One due instance of a ``schedule`` rule for one location or asset.

    Generated ahead by a job (idempotent: unique per activity, target and period
    start); done when an inspection is submitted for it; missed when its period and
    grace pass with nothing done, which raises a finding against the clause.
    """

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey("standards.Rule", on_delete=models.PROTECT, related_name="+")
    clause = models.ForeignKey("standards.Clause", on_delete=models.PROTECT, related_name="+")
    activity = models.CharField(max_length=60)
    # "loc:<id>" or "asset:<id>": one non-null column for the unique constraint
    target_key = models.CharField(max_length=30)
    location = models.ForeignKey(
        "orgs.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="occurrences"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    due_at = models.DateTimeField()  # period_end + grace
    assignment = models.ForeignKey(
        PlanAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "workorders.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    vendor = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=OccurrenceStatus.choices, default=OccurrenceStatus.PENDING
    )
    done_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("计划任务")
        verbose_name_plural = _("计划任务")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "activity", "target_key", "period_start"],
                name="occurrence_unique",
            )
        ]
        indexes = [
            models.Index(fields=["org", "status", "due_at"], name="occ_org_status_due"),
            # the missed-occurrence job: pending rows past due
            models.Index(fields=["due_at"], name="occ_pending_due", condition=Q(status="pending")),
            models.Index(fields=["inspector", "status", "due_at"], name="occ_inspector"),
        ]


class Inspection(VersionedModel):
    """One filled checklist. Drafts are saved as the inspector goes (``answers``); submit
    grades it, writes one row per item and a judgment per item, and raises findings.

    ``client_key`` is generated by the form when it opens: a second submit (a retry
    after a lost connection, a double tap) finds the same inspection.
    """

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("检查编号"), max_length=24, unique=True)
    kind = models.CharField(_("检查类型"), max_length=12, choices=InspectionKind.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=InspectionStatus.choices, default=InspectionStatus.DRAFT
    )
    checklist_code = models.CharField(_("检查表"), max_length=60)
    checklist_title = models.CharField(_("检查表名称"), max_length=100)
    # The checklist as it was when the inspection began (items, limits, clauses, bands):
    # grading and history stay true after the standard changes.
    checklist = models.JSONField(default=dict)
    rule = models.ForeignKey("standards.Rule", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("地点"), on_delete=models.PROTECT, related_name="+"
    )
    vendor = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("责任单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    occurrence = models.ForeignKey(
        PlanOccurrence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("检查人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    client_key = models.CharField(max_length=64, unique=True)
    answers = models.JSONField(default=dict, blank=True)  # item key -> answer (draft)
    notes = models.JSONField(default=dict, blank=True)  # item key -> note
    summary = models.TextField(_("检查意见"), blank=True)
    started_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(_("得分"), null=True, blank=True)
    grade = models.CharField(_("等级"), max_length=20, blank=True)
    grade_label = models.CharField(max_length=40, blank=True)
    passed = models.BooleanField(_("合格"), null=True)
    failed_by_severity = models.JSONField(default=dict, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("检查")
        verbose_name_plural = _("检查")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["org", "status", "-submitted_at"], name="insp_org_status"),
            models.Index(fields=["vendor", "-submitted_at"], name="insp_vendor"),
            models.Index(fields=["inspector", "status"], name="insp_inspector"),
        ]

    def __str__(self) -> str:
        return self.number


class InspectionItem(models.Model):
    """One answered item of a submitted inspection (for pass rates by clause, location
    and vendor without unpacking JSON)."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    clause = models.ForeignKey(
        "standards.Clause", null=True, on_delete=models.PROTECT, related_name="+"
    )
    severity = models.CharField(max_length=10)
    outcome = models.CharField(max_length=4)  # standards Outcome: pass | fail | na
    value = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()  # the inspection's submission
    location = models.ForeignKey("orgs.Location", on_delete=models.PROTECT, related_name="+")
    vendor = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inspection", "key"], name="insp_item_unique")
        ]
        indexes = [
            # the dashboard's pass rates by org, month, clause, location and vendor:
            # covering, so its grouped scans never read the table (reports.py)
            models.Index(
                fields=["org", "at", "outcome", "clause", "location", "vendor"],
                name="insp_item_dashboard",
            ),
            models.Index(fields=["vendor", "at", "outcome"], name="insp_item_vendor_at"),
            models.Index(fields=["clause", "outcome"], name="insp_item_clause"),
        ]


class InspectionPhoto(TimestampedModel):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="photos")
    item_key = models.CharField(max_length=40, blank=True)
    image = models.ImageField(upload_to="inspections/%Y/%m/")
    thumbnail = models.ImageField(upload_to="inspections/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "inspection__org"


class Finding(VersionedModel):
    """A non-conformance against a clause, from any source; opens one rectification."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("问题编号"), max_length=24, unique=True)
    source = models.CharField(_("来源"), max_length=12, choices=FindingSource.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    clause = models.ForeignKey(
        "standards.Clause", verbose_name=_("条款"), on_delete=models.PROTECT, related_name="+"
    )
    rule = models.ForeignKey(
        "standards.Rule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    severity = models.CharField(_("严重程度"), max_length=10)  # standards Severity
    location = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("地点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The responsible party: a vendor, or else a unit (org) of the centre.
    vendor = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("责任单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    inspection = models.ForeignKey(
        Inspection, null=True, blank=True, on_delete=models.PROTECT, related_name="findings"
    )
    item_key = models.CharField(max_length=40, blank=True)
    occurrence = models.ForeignKey(
        PlanOccurrence, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    workorder = models.ForeignKey(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.TextField(_("问题描述"), max_length=1000)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(_("发现时间"))
    closed_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("问题")
        verbose_name_plural = _("问题")
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["org", "status", "-raised_at"], name="finding_org_status"),
            # the lists' order: a page walks it and stops (queries.finding_visibility)
            models.Index(fields=["-raised_at", "-id"], name="finding_raised"),
            models.Index(fields=["vendor", "status"], name="finding_vendor"),
            models.Index(fields=["clause", "-raised_at"], name="finding_clause"),
        ]
        constraints = [
            # one finding per failed item, and one per missed occurrence
            models.UniqueConstraint(
                fields=["inspection", "item_key"],
                condition=Q(inspection__isnull=False),
                name="finding_unique_item",
            ),
            models.UniqueConstraint(
                fields=["occurrence"],
                condition=Q(occurrence__isnull=False),
                name="finding_unique_occurrence",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class FindingPhoto(TimestampedModel):
    """A photo taken when a finding was raised ad hoc (an inspection's photos stay on the
    inspection, the evidence of a fix on its rectification round)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="findings/%Y/%m/")
    thumbnail = models.ImageField(upload_to="findings/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "finding__org"


class Rectification(VersionedModel):
    """The rectification order (整改单) of a finding: deadline from the clause's severity
    (a ``sla`` rule of category ``rectification``), rounds of evidence and verdicts."""

    finding = models.OneToOneField(Finding, on_delete=models.CASCADE, related_name="rectification")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    # Who must act: the vendor or unit (org), optionally a named person.
    assignee_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("整改单位"), on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("整改责任人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("验收人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=RectificationStatus.choices,
        default=RectificationStatus.ORDERED,
    )
    ordered_at = models.DateTimeField()
    deadline = models.DateTimeField(_("整改期限"))
    minutes = models.PositiveIntegerField(default=0)  # the allowed time, on `calendar`
    calendar = models.CharField(max_length=10, default="working")
    rule = models.ForeignKey(
        "standards.Rule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    round_count = models.PositiveSmallIntegerField(default=0)
    escalation_level = models.PositiveSmallIntegerField(default=0)  # ladder steps notified
    overdue = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_on_time = models.BooleanField(null=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("整改单")
        verbose_name_plural = _("整改单")
        ordering = ["deadline", "id"]
        indexes = [
            models.Index(fields=["org", "status", "deadline"], name="rect_org_status"),
            models.Index(fields=["assignee_org", "status"], name="rect_assignee_org"),
            # the list's order: a page walks it and stops (queries.rectification_visibility)
            models.Index(fields=["deadline", "id"], name="rect_deadline"),
            models.Index(
                fields=["deadline"],
                name="rect_open_deadline",
                condition=Q(status__in=["ordered", "submitted", "returned"]),
            ),
        ]


class RectificationRound(models.Model):
    """One submission of evidence and its verification; every round is kept."""

    rectification = models.ForeignKey(
        Rectification, on_delete=models.CASCADE, related_name="rounds"
    )
    number = models.PositiveSmallIntegerField()
    evidence = models.TextField(_("整改说明"), max_length=2000)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    reason = models.CharField(_("验收意见"), max_length=500, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "rectification__org"

    class Meta:
        ordering = ["rectification", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rectification", "number"], name="rect_round_unique")
        ]


class RectificationPhoto(TimestampedModel):
    round = models.ForeignKey(RectificationRound, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="rectifications/%Y/%m/")
    thumbnail = models.ImageField(upload_to="rectifications/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "round__rectification__org"


class FindingEvent(models.Model):
    """A finding's history: raised, ordered, evidence, verdicts, escalation, closure."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=30)
    note = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    scope_org_field = "finding__org"

    class Meta:
        ordering = ["at", "id"]
