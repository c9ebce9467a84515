"""Event types of work orders (registered with the notifications registry on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

SUBMITTED = register("workorders.submitted", _("新报修"))
DISPATCHED = register("workorders.dispatched", _("工单派单"))
ACCEPTED = register("workorders.accepted", _("工单已接单"))
RESOLVED = register("workorders.resolved", _("工单已完成"))
CANCELLED = register("workorders.cancelled", _("工单已取消"))
REOPENED = register("workorders.reopened", _("工单重新打开"))
TRANSFERRED = register("workorders.transferred", _("工单转派"))
BREACHED = register("workorders.breached", _("工单超时"))
ESCALATED = register("workorders.escalated", _("工单升级督办"))
