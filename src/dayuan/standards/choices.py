from django.db import models
from django.utils.translation import gettext_lazy as _


class Domain(models.TextChoices):
    PROPERTY = "property", _("物业·维修·巡检")
    MEETING = "meeting", _("会议服务")
    CANTEEN = "canteen", _("食堂·食品安全")
    ENERGY = "energy", _("节能·满意度")
    GENERAL = "general", _("综合")


class StandardStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    RETIRED = "retired", _("已废止")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已被替代")


class Severity(models.TextChoices):
    KEY = "key", _("关键")
    IMPORTANT = "important", _("重要")
    GENERAL = "general", _("一般")


class RuleKind(models.TextChoices):
    SLA = "sla", _("时限")
    RECORD = "record", _("记录约束")
    SCHEDULE = "schedule", _("周期计划")
    CHECKLIST = "checklist", _("检查表")
    KPI = "kpi", _("指标")
    BOOKING = "booking", _("预订规则")


class Outcome(models.TextChoices):
    PASS = "pass", _("符合")
    FAIL = "fail", _("不符合")
    NA = "na", _("不适用")
