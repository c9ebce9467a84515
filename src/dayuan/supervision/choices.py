from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskSource(models.TextChoices):
    INSTRUCTION = "instruction", _("领导批示")
    COMPLAINT = "complaint", _("投诉")
    RECTIFICATION = "rectification", _("整改超期")
    WORKORDER = "workorder", _("工单超期")
    OTHER = "other", _("其他")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待签收")
    IN_PROGRESS = "in_progress", _("办理中")
    SUBMITTED = "submitted", _("待审核")
    CLOSED = "closed", _("已办结")
    CANCELLED = "cancelled", _("已撤销")


OPEN_TASK = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.SUBMITTED)


class Light(models.TextChoices):
    """The board's colour: red overdue, yellow due soon or a progress report late."""

    RED = "red", _("红灯（已超期）")
    YELLOW = "yellow", _("黄灯（临期或进展未报）")
    GREEN = "green", _("绿灯（正常）")
    DONE = "done", _("已办结")
