"""The vocabularies of the resource pool: kinds of resource, who may use one, the
states of demands, allocations, warehouse items, volunteer sign-ups and micro-projects."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ResourceKind(models.TextChoices):
    VENUE = "venue", _("场地")
    FACILITY = "facility", _("设施")
    VEHICLE = "vehicle", _("车辆")
    ASSET = "asset", _("物资/资产")
    FUND = "fund", _("资金")
    MANPOWER = "manpower", _("人力")
    VOLUNTEER_TEAM = "volunteer_team", _("志愿服务队")


# How a kind is held, which decides the matching and allocation rules:
# - EXCLUSIVE: one allocation at a time over a time range (a venue, a court, a car);
#   ``capacity`` is how many people it takes, a demand needs capacity >= its amount;
# - HEADCOUNT: people over a time range; overlapping allocations together may not exceed
#   ``capacity`` (a team of 30 can send 20 here and 10 there at once);
# - STOCK: a quantity handed over for good (furniture from the 公物仓, funds); ``available``
#   falls by conditional UPDATE and never below zero.
EXCLUSIVE_KINDS = frozenset({ResourceKind.VENUE, ResourceKind.FACILITY, ResourceKind.VEHICLE})
HEADCOUNT_KINDS = frozenset({ResourceKind.MANPOWER, ResourceKind.VOLUNTEER_TEAM})
STOCK_KINDS = frozenset({ResourceKind.ASSET, ResourceKind.FUND})

# the unit a kind is counted in (capacity for exclusive kinds, quantity otherwise)
KIND_UNITS = {
    ResourceKind.VENUE: _("人"),
    ResourceKind.FACILITY: _("人"),
    ResourceKind.VEHICLE: _("座"),
    ResourceKind.ASSET: _("件"),
    ResourceKind.FUND: _("元"),
    ResourceKind.MANPOWER: _("人"),
    ResourceKind.VOLUNTEER_TEAM: _("人"),
}


class Visibility(models.TextChoices):
    """Who may find and request a resource (its owner's managers always may)."""

    OWNER = "owner", _("仅本单位")  # the owner org's subtree
    CENTRE = "centre", _("本级中心范围")  # everyone under the owner's centre (市 or 县)
    CITY = "city", _("全市共享")  # every organisation of the platform
    PUBLIC = "public", _("向社会开放")  # the city, and listed as open to society


class CostBasis(models.TextChoices):
    FREE = "free", _("免费")
    PER_HOUR = "per_hour", _("按小时")
    PER_USE = "per_use", _("按次")
    PER_UNIT = "per_unit", _("按数量")


class Priority(models.TextChoices):
    LOW = "low", _("低")
    NORMAL = "normal", _("普通")
    HIGH = "high", _("高")
    URGENT = "urgent", _("紧急")


# the batch assignment serves higher levels first (a level outweighs all below it)
PRIORITY_LEVEL = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class DemandStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待审核")  # waiting for the unit's approver
    OPEN = "open", _("待匹配")
    MATCHED = "matched", _("已匹配")  # an allocation was approved for it
    FULFILLED = "fulfilled", _("已完成")
    CANCELLED = "cancelled", _("已取消")
    REJECTED = "rejected", pgettext_lazy("demand", "已驳回")
    EXPIRED = "expired", _("已过期")  # its window passed unmatched


DEMAND_LIVE = (DemandStatus.SUBMITTED, DemandStatus.OPEN, DemandStatus.MATCHED)


class AllocationStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已调配")
    IN_USE = "in_use", _("使用中")
    RETURNED = "returned", _("已归还")
    COMPLETED = "completed", _("已完成")
    REJECTED = "rejected", pgettext_lazy("allocation", "已驳回")
    CANCELLED = "cancelled", _("已取消")


# statuses that hold the resource (the exclusion constraint's WHERE clause and every
# availability query use ``holds``)
HOLDING = (AllocationStatus.APPROVED, AllocationStatus.IN_USE)
OPEN_ALLOCATION = (AllocationStatus.REQUESTED, *HOLDING)


class StockStatus(models.TextChoices):
    """A 公物仓 item: received (入库待验), stored and available (在库), all handed out (出库)."""

    IN = "in", _("入库待验")
    STORED = "stored", _("在库")
    OUT = "out", _("已出库")


class TransferKind(models.TextChoices):
    IN = "in", _("入库")
    OUT = "out", _("出库调剂")
    RETURN = "return", _("归还入库")
    DISPOSE = "dispose", _("报废处置")


class ActivityStatus(models.TextChoices):
    OPEN = "open", _("报名中")
    CLOSED = "closed", _("报名截止")
    DONE = "done", _("已结束")
    CANCELLED = "cancelled", _("已取消")


class SignUpStatus(models.TextChoices):
    SIGNED = "signed", _("已报名")
    ATTENDED = "attended", _("已参加")
    ABSENT = "absent", _("缺席")
    CANCELLED = "cancelled", _("已取消")


class ProjectStatus(models.TextChoices):
    PROPOSED = "proposed", _("申报中")
    APPROVED = "approved", _("已立项")
    IN_PROGRESS = "in_progress", _("实施中")
    COMPLETED = "completed", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Attribute(models.TextChoices):
    """Attributes a demand may require and a resource may offer (equipment, skills,
    conditions); free tags are allowed too, these are the suggested ones."""

    PROJECTOR = "projector", _("投影")
    SOUND = "sound", _("音响")
    LED = "led", _("LED屏")
    VIDEO_CONF = "video_conf", _("视频会议")
    ACCESSIBLE = "accessible", _("无障碍")
    PARKING = "parking", _("停车")
    AIR_CON = "air_con", _("空调")
    STAGE = "stage", _("舞台")
    OUTDOOR = "outdoor", _("室外")
    BASKETBALL = "basketball", _("篮球")
    BADMINTON = "badminton", _("羽毛球")
    KITCHEN = "kitchen", _("厨房")
    FIRST_AID = "first_aid", _("急救")
    DRIVING = "driving", _("驾驶")
    ELECTRICIAN = "electrician", _("电工")
    IT = "it", _("信息技术")
    TEACHING = "teaching", _("授课")
    ELDER_CARE = "elder_care", _("助老")
    LAW = "law", _("法律咨询")
    PHOTOGRAPHY = "photography", _("摄影")
    OFFICE_FURNITURE = "office_furniture", _("办公家具")
    COMPUTER = "computer", _("电脑设备")
    TENT = "tent", _("帐篷")
    SEATS_45 = "seats_45", _("大客车")
