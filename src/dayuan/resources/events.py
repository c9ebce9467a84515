"""Event types of the resource pool (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

DEMAND_SUBMITTED = register("resources.demand_submitted", _("需求待审核"))
DEMAND_DECIDED = register("resources.demand_decided", _("需求审核结果"))
ALLOCATION_REQUESTED = register("resources.allocation_requested", _("资源使用申请"))
ALLOCATION_DECIDED = register("resources.allocation_decided", _("资源申请审批结果"))
ALLOCATION_CANCELLED = register("resources.allocation_cancelled", _("资源调配已取消"))
ALLOCATION_OVERDUE = register("resources.allocation_overdue", _("资源逾期未归还"))
ACTIVITY_CANCELLED = register("resources.activity_cancelled", _("志愿活动取消"))
