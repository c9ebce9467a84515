from django.db import models
from django.utils.translation import gettext_lazy as _


class InspectionKind(models.TextChoices):
    SELF = "self", _("自查")
    PATROL = "patrol", _("巡检")
    SPECIAL = "special", _("专项检查")
    THIRD_PARTY = "third_party", _("第三方检查")


class InspectionStatus(models.TextChoices):
    DRAFT = "draft", _("填写中")
    SUBMITTED = "submitted", _("已提交")
    CANCELLED = "cancelled", _("已作废")


class OccurrenceStatus(models.TextChoices):
    PENDING = "pending", _("待执行")
    DONE = "done", _("已完成")
    MISSED = "missed", _("漏检")
    CANCELLED = "cancelled", _("已取消")


class FindingSource(models.TextChoices):
    INSPECTION = "inspection", _("检查发现")
    MISSED = "missed", _("计划漏检")
    WORKORDER = "workorder", _("工单")
    COMPLAINT = "complaint", _("投诉")
    WALKROUND = "walkround", _("领导巡查")
    OTHER = "other", _("其他")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("整改中")
    CLOSED = "closed", _("已闭环")
    CANCELLED = "cancelled", _("已撤销")


class RectificationStatus(models.TextChoices):
    ORDERED = "ordered", _("待整改")
    SUBMITTED = "submitted", _("待验收")
    RETURNED = "returned", _("退回重整")
    ACCEPTED = "accepted", _("验收通过")
    CANCELLED = "cancelled", _("已撤销")


OPEN_RECTIFICATION = (
    RectificationStatus.ORDERED,
    RectificationStatus.SUBMITTED,
    RectificationStatus.RETURNED,
)
# The responsible party's move: the clock runs while the order is in one of these.
AWAITING_PARTY = (RectificationStatus.ORDERED, RectificationStatus.RETURNED)


class Verdict(models.TextChoices):
    ACCEPT = "accept", _("通过")
    REJECT = "reject", _("不通过")
