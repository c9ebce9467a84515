from django.db import models
from django.utils.translation import gettext_lazy as _


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("履行中")
    ENDED = "ended", _("已终止")


class PeriodKind(models.TextChoices):
    MONTH = "month", _("月度")
    QUARTER = "quarter", _("季度")
    YEAR = "year", _("年度")


class SubjectKind(models.TextChoices):
    """What a scheme assesses: a vendor under a contract, or a unit (a county centre)."""

    CONTRACT = "contract", _("外包合同")
    ORG = "org", _("单位")


class IndicatorSort(models.TextChoices):
    COMPUTED = "computed", _("数据计算")
    SCORED = "scored", _("人工评分")


class Better(models.TextChoices):
    HIGHER = "higher", _("越高越好")
    LOWER = "lower", _("越低越好")


class ScorerRole(models.TextChoices):
    MANAGER = "manager", _("管理人员")
    ASSESSOR = "assessor", _("第三方评估")


class DeductionKind(models.TextChoices):
    """What a deduction rule matches: findings by severity, or recorded events."""

    FINDING = "finding", _("检查问题")
    EVENT = "event", _("事件")


class EventType(models.TextChoices):
    CRITICISM = "criticism", _("通报批评")
    NOTICE = "notice", _("书面整改通知")
    MEDIA = "media", _("媒体曝光")
    COMPLAINT = "complaint", _("有效投诉")
    OTHER = "other", _("其他")


class RunStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    COMPUTED = "computed", _("已计算")
    REVIEW = "review", _("审核中")
    PUBLISHED = "published", _("已公布")
    APPEALED = "appealed", _("申诉中")
    FINAL = "final", _("已确定")


class AppealStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    UPHELD = "upheld", _("申诉成立")
    DISMISSED = "dismissed", _("申诉驳回")


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class QuestionKind(models.TextChoices):
    RATING = "rating", _("评分（1–5）")
    CHOICE = "choice", _("单选")
    TEXT = "text", _("文字")
