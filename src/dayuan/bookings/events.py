"""Event types of bookings and appointments (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

BOOKED = register("bookings.booked", _("会议室预订成功"))
PENDING = register("bookings.pending", _("会议室预订待审批"))
APPROVED = register("bookings.approved", _("会议室预订已批准"))
REJECTED = register("bookings.rejected", _("会议室预订未通过"))
CANCELLED = register("bookings.cancelled", _("会议室预订已取消"))
DISPLACED = register("bookings.displaced", _("会议室预订被调整"))
RELEASED = register("bookings.released", _("未签到，会议室已释放"))
REMINDER = register("bookings.reminder", _("会议即将开始"))
APPOINTMENT_BOOKED = register("bookings.appointment_booked", _("服务预约成功"))
APPOINTMENT_CANCELLED = register("bookings.appointment_cancelled", _("服务预约已取消"))
