"""Supervision (督办): tasks with an assignee, a deadline, progress reports, reminders
(催办) and escalation up the org tree until they are closed and reviewed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import VersionedModel

from .choices import TaskSource, TaskStatus


class SupervisionTask(VersionedModel):
    """One 督办 item. ``org`` is the assignee's organisation (its subtree and ancestors
    see it); ``issuer_org`` is where it was issued (a city task for a county)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("承办单位"), on_delete=models.PROTECT, related_name="+"
    )
    issuer_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("督办单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("督办编号"), max_length=24, unique=True)
    title = models.CharField(_("督办事项"), max_length=200)
    instruction = models.TextField(_("督办要求"), max_length=2000)
    source = models.CharField(_("来源"), max_length=14, choices=TaskSource.choices)
    status = models.CharField(
        _("状态"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("承办人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(_("交办时间"))  # the clock's start (light, ladder)
    deadline = models.DateTimeField(_("办结时限"))
    # A progress report is due every `report_every_days` days while open (0: none).
    report_every_days = models.PositiveSmallIntegerField(_("进展报告周期（天）"), default=0)
    last_report_at = models.DateTimeField(null=True, blank=True)
    # The last progress-report reminder (one per missed reporting period)
    report_reminded_at = models.DateTimeField(null=True, blank=True)
    # Where it came from when raised automatically (one task per source object).
    rectification = models.ForeignKey(
        "inspections.Rectification",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    workorder = models.ForeignKey(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Reminder and escalation bookkeeping (a job claims each step by a conditional UPDATE)
    reminded_before = models.BooleanField(default=False)
    overdue_reminders = models.PositiveSmallIntegerField(default=0)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_to = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(_("办理结果"), blank=True)
    review_note = models.CharField(_("审核意见"), max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_on_time = models.BooleanField(null=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("督办事项")
        verbose_name_plural = _("督办事项")
        ordering = ["deadline", "id"]
        indexes = [
            models.Index(fields=["org", "status", "deadline"], name="sup_org_status"),
            models.Index(fields=["issuer_org", "status"], name="sup_issuer"),
            models.Index(fields=["assignee", "status"], name="sup_assignee"),
            models.Index(
                fields=["deadline"],
                name="sup_open_deadline",
                condition=Q(status__in=["open", "in_progress", "submitted"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rectification"],
                condition=Q(rectification__isnull=False),
                name="sup_unique_rectification",
            ),
            models.UniqueConstraint(
                fields=["workorder"],
                condition=Q(workorder__isnull=False),
                name="sup_unique_workorder",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TaskEvent(models.Model):
    """A task's history: created, accepted, reports, reminders, escalations, review."""

    task = models.ForeignKey(SupervisionTask, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20)  # created|accepted|report|remind|escalate|…
    note = models.TextField(blank=True, max_length=2000)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)  # percent, reports
    data = models.JSONField(default=dict, blank=True)

    scope_org_field = "task__org"

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["task", "action", "at"], name="sup_event_task")]
