"""Event types of the canteen (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

RESERVED = register("canteen.reserved", _("报餐成功"))
RESERVATION_CANCELLED = register("canteen.reservation_cancelled", _("报餐已取消"))
MENU_CANCELLED = register("canteen.menu_cancelled", _("餐次取消"))
NO_SHOW = register("canteen.no_show", _("报餐未就餐"))
VOUCHERS_ISSUED = register("canteen.vouchers_issued", _("餐券已发放"))
SAMPLE_DUE = register("canteen.sample_due", _("留样到期待清理"))
SAFETY_NONCONFORMANCE = register("canteen.nonconformance", _("食品安全记录不符合"))
CERTIFICATE_EXPIRING = register("canteen.certificate_expiring", _("健康证明即将到期"))
