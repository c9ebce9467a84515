from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    BASIC = "basic", _("基础常规服务")
    FEATURED = "featured", _("特色公共服务")
    EXTERNAL = "external", _("外部合作项目")


class Channel(models.TextChoices):
    WEB = "web", _("网页")
    PHONE_APP = "mobile", _("手机")
    DESK = "desk", _("服务台代报（电话）")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("已提交")
    DISPATCHED = "dispatched", _("已派单")
    ACCEPTED = "accepted", _("已接单")
    ON_SITE = "on_site", _("已到场")
    PAUSED = "paused", _("已暂停")
    RESOLVED = "resolved", _("已完成")
    CONFIRMED = "confirmed", _("已确认")
    CLOSED = "closed", _("已关闭")
    CANCELLED = "cancelled", _("已取消")


OPEN_STATUSES = (
    Status.SUBMITTED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.ON_SITE,
    Status.PAUSED,
)


class CloseReason(models.TextChoices):
    CONFIRMED = "confirmed", _("评价后关闭")
    AUTO_UNRATED = "auto_unrated", _("超时自动关闭（未评价）")
    CANCELLED = "cancelled", _("已取消")


class PhotoKind(models.TextChoices):
    REPORT = "report", _("报修照片")
    COMPLETION = "completion", _("完工照片")


# Which transition meets which timer (other timer names are met on resolve).
TIMER_MET_BY = {"respond": "accepted", "arrive": "on_site", "resolve": "resolved"}
