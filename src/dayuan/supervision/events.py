"""Event types of supervision (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

ASSIGNED = register("supervision.assigned", _("督办交办"))
REMINDED = register("supervision.reminded", _("督办催办"))
ESCALATED = register("supervision.escalated", _("督办升级"))
REPORTED = register("supervision.reported", _("督办进展"))
SUBMITTED = register("supervision.submitted", _("督办待审核"))
RETURNED = register("supervision.returned", _("督办退回"))
CLOSED = register("supervision.closed", _("督办办结"))
