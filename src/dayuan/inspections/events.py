"""Event types of inspections and rectification (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

OCCURRENCE_DUE = register("inspections.occurrence_due", _("检查计划到期"))
OCCURRENCE_MISSED = register("inspections.occurrence_missed", _("检查计划漏检"))
FINDING_RAISED = register("inspections.finding_raised", _("发现问题"))
RECTIFICATION_ORDERED = register("inspections.rectification_ordered", _("整改通知"))
RECTIFICATION_SUBMITTED = register("inspections.rectification_submitted", _("整改待验收"))
RECTIFICATION_REJECTED = register("inspections.rectification_rejected", _("整改退回"))
RECTIFICATION_ACCEPTED = register("inspections.rectification_accepted", _("整改验收通过"))
RECTIFICATION_ESCALATED = register("inspections.rectification_escalated", _("整改超期升级"))
