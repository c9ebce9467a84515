"""Periodic jobs of work orders: the escalation ladder and closing unrated work.

Both are recomputed from the database on every run and safe to run twice or in several
workers at once: a ladder step is claimed by a conditional UPDATE of the timer's
``escalation_level`` and its notification carries a dedupe key per (clock run, step);
auto-close goes through the lifecycle service, which refuses an order no longer
resolved. If every run were lost, clocks and breaches would still be right (they are
stored due times); only the notifications would be late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from dayuan.core.errors import DomainError
from dayuan.notifications.services import emit

from . import events, sla
from .catalogue import ancestor_paths
from .choices import Status
from .models import WorkOrder, WorkOrderTimer

log = logging.getLogger(__name__)

ASSIGNEE_ROLES = {"worker", "assignee"}  # ladder roles that mean "the order's worker"
ACTION_LABELS = {
    "warn": gettext_lazy("预警"),
    "escalate": gettext_lazy("升级"),
    "escalate_further": gettext_lazy("再次升级"),
}


def _link(order: WorkOrder) -> str:
    try:
        return reverse("workorders:detail", args=[order.pk])
    except NoReverseMatch:
        return f"/workorders/{order.pk}/"


def role_holders(org: Any, roles: set[str]) -> list[Any]:
    """For each role, the active users holding it at the nearest organisation on the
    order's path (the order's org, else its nearest ancestor with such a holder).

    Grants at a sibling subtree are never on the path, so county B's dispatchers are
    never chosen for county A's orders (and ``emit`` would drop them anyway).
    """
    from dayuan.accounts.models import Grant

    if not roles:
        return []
    grants = (
        Grant.objects.filter(
            role__in=roles,
            org__path__in=ancestor_paths(org.path),
            org__is_active=True,
            user__is_active=True,
        )
        .select_related("user", "org")
        .order_by("user__username")
    )
    nearest: dict[str, int] = {}
    by_role: dict[str, list[Any]] = {}
    for g in grants:
        depth = len(g.org.path)
        if depth > nearest.get(g.role, -1):
            nearest[g.role] = depth
            by_role[g.role] = []
        if depth == nearest[g.role]:
            by_role[g.role].append(g.user)
    seen: set[int] = set()
    users = []
    for role in sorted(by_role):
        for user in by_role[role]:
            if user.pk not in seen:
                seen.add(user.pk)
                users.append(user)
    return users


def _dedupe_key(timer: WorkOrderTimer, level: int, suffix: str = "") -> str:
    # A reopened order restarts its clocks (new started_at, level 0): a new run of the
    # ladder, so the key names the run as well as the step.
    run = int(timer.started_at.timestamp())
    return f"workorders.escalated:{timer.pk}:{run}:{level}{suffix}"


def _notify_step(order: WorkOrder, timer: WorkOrderTimer, step: Any, level: int) -> int:
    """Emit one ladder step to the roles it names; returns the number of emits."""
    roles = {str(r) for r in (step.notify or [])}
    local_due = timezone.localtime(timer.due_at)
    action = ACTION_LABELS.get(step.action, step.action)
    title = _("【%(action)s】工单 %(number)s「%(label)s」时限已用 %(percent)s%%") % {
        "action": action,
        "number": order.number,
        "label": timer.label,
        "percent": step.at_percent,
    }
    body = _("%(category)s · %(location)s，应于 %(due)s 前完成「%(label)s」。") % {
        "category": order.category.name,
        "location": order.location.name,
        "due": local_due.strftime("%Y-%m-%d %H:%M"),
        "label": timer.label,
    }
    payload = {
        "workorder_id": order.pk,
        "number": order.number,
        "timer": timer.name,
        "level": level,
        "at_percent": step.at_percent,
        "action": step.action,
        "roles": sorted(roles),
        "due_at": timer.due_at.isoformat(),
        "rule_id": timer.rule_id,
        "clause_id": timer.clause_id,
    }
    emitted = 0
    staff_roles = roles - ASSIGNEE_ROLES
    if staff_roles or not roles:
        emit(
            events.ESCALATED,
            org=order.org,
            recipients=role_holders(order.org, staff_roles),
            title=title,
            body=body,
            link=_link(order),
            object=order,
            dedupe_key=_dedupe_key(timer, level),
            payload=payload,
        )
        emitted += 1
    if roles & ASSIGNEE_ROLES and order.assignee_id is not None:
        emit(
            events.ESCALATED,
            org=order.vendor or order.org,
            recipients=[order.assignee],
            title=title,
            body=body,
            link=_link(order),
            object=order,
            dedupe_key=_dedupe_key(timer, level, ":assignee"),
            payload=payload,
        )
        emitted += 1
    return emitted


def escalate_overdue(now: datetime | None = None) -> dict[str, int]:
    """Notify every newly reached step of every running clock's ladder, once; a clock
    past its last step raises a supervision task; then mark clocks past due as
    breached (``sla.check_breaches``)."""
    from dayuan.supervision import services as supervision  # it uses role_holders

    now = now or timezone.now()
    steps_notified = 0
    for timer, steps in sla.escalations_due(now):
        if not steps:
            continue
        start = timer.escalation_level
        with transaction.atomic():
            if not sla.mark_escalated(timer, start + len(steps)):
                continue  # another run claimed these steps
            order = (
                WorkOrder.objects.select_related(
                    "org", "category", "location", "assignee", "vendor"
                )
                .filter(pk=timer.workorder_id)
                .first()
            )
            if order is None:
                continue
            for offset, step in enumerate(steps, start=1):
                _notify_step(order, timer, step, start + offset)
                steps_notified += 1
            if timer.escalation_level >= timer.ladder_length:
                # past the last step: 督办 (one task per order, however often we get here)
                supervision.raise_from_workorder(order, timer, now=now)
    breached = sla.check_breaches(now)
    return {"steps": steps_notified, "breached": len(breached)}


def auto_close_unrated(now: datetime | None = None) -> dict[str, int]:
    """Close work resolved more than ``WORKORDER_AUTOCLOSE_DAYS`` ago that the requester
    neither confirmed nor rated: close reason ``auto_unrated``, rating stays NULL (an
    unrated order is never counted as satisfied)."""
    from . import services

    now = now or timezone.now()
    days = getattr(settings, "WORKORDER_AUTOCLOSE_DAYS", 3)
    cutoff = now - timedelta(days=days)
    ids = list(
        WorkOrder.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
        .order_by("resolved_at", "pk")
        .values_list("pk", flat=True)
    )
    closed = skipped = 0
    for order_id in ids:
        try:
            services.close_unrated(order_id=order_id, now=now)
        except DomainError as exc:  # confirmed or reopened meanwhile: nothing to do
            log.info("auto-close skipped order %s: %s", order_id, exc.code)
            skipped += 1
            continue
        closed += 1
    return {"closed": closed, "skipped": skipped}


@db_periodic_task(crontab(minute="*"))
def escalate_overdue_every_minute() -> dict[str, int]:
    return escalate_overdue()


@db_periodic_task(crontab(minute="*/15"))
def auto_close_unrated_every_quarter_hour() -> dict[str, int]:
    return auto_close_unrated()
