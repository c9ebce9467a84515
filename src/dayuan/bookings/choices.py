from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ResourceClass(models.TextChoices):
    """The ``resource_class`` a room's ``booking`` rules are looked up by."""

    MEETING_ROOM = "meeting_room", _("会议室")
    STANDARD_ROOM = "standard_room", _("普通会议室")
    LARGE_HALL = "large_hall", _("大会议厅")
    SHARED_ROOM = "shared_room", _("共享会议室")
    VENUE = "venue", _("共享场地")


class Equipment(models.TextChoices):
    PROJECTOR = "projector", _("投影仪")
    SCREEN = "screen", _("显示屏")
    VIDEO = "video", _("视频会议")
    MICROPHONE = "microphone", _("话筒音响")
    WHITEBOARD = "whiteboard", _("白板")
    NAME_CARDS = "name_cards", _("桌签")
    RECORDING = "recording", _("录音录像")


class OpenDays(models.TextChoices):
    WORKDAYS = "workdays", _("工作日")
    ALL = "all", _("每天")


class MeetingType(models.TextChoices):
    OFFICE = "office", _("办公会")
    STUDY = "study", _("学习会")
    TRAINING = "training", _("培训")
    RECEPTION = "reception", _("接待座谈")
    VIDEO = "video", pgettext_lazy("meeting type", "视频会议")
    OTHER = "other", _("其他")


class Priority(models.TextChoices):
    """重要优先、紧急优先: a manager may displace a lower-priority booking."""

    NORMAL = "normal", pgettext_lazy("priority", "一般")
    IMPORTANT = "important", _("重要")
    URGENT = "urgent", _("紧急")


PRIORITY_RANK = {Priority.NORMAL: 0, Priority.IMPORTANT: 1, Priority.URGENT: 2}


class BookingStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    CONFIRMED = "confirmed", _("已确认")
    CHECKED_IN = "checked_in", _("已签到")
    COMPLETED = "completed", pgettext_lazy("booking", "已结束")
    CANCELLED = "cancelled", _("已取消")
    REJECTED = "rejected", _("未通过")
    RELEASED = "released", _("未签到已释放")
    DISPLACED = "displaced", _("已被调整")


# A booking in one of these holds its room: the exclusion constraint and the overlap
# check only consider these (``Booking.active`` mirrors it as a column).
ACTIVE_BOOKING = (BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


class ServiceKind(models.TextChoices):
    """Meeting services; each becomes a work order in the category with the same code
    (``meeting.tea`` …) for the responsible team."""

    TEA = "tea", _("茶水服务")
    AV = "av", _("音视频保障")
    NAME_CARDS = "name_cards", _("桌签制作")
    BANNER = "banner", _("横幅制作")
    LAYOUT = "layout", _("会场布置")
    CLEANING = "cleaning", _("会后保洁")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("已预约")
    DONE = "done", _("已服务")
    CANCELLED = "cancelled", _("已取消")
    NO_SHOW = "no_show", _("爽约")
