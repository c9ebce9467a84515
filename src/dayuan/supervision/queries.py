"""Scoped reads of supervision tasks.

A task is seen by holders of ``supervision.view_all`` at its assignee org (``org``) or
its issuing org or an ancestor of either, by its assignee and by its creator. An
escalated task stays where it is: the ancestors it was escalated to already see it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scoped_org_ids
from dayuan.core.tree import subtree_ids
from dayuan.orgs.models import Organization

from .choices import OPEN_TASK, Light
from .models import SupervisionTask, TaskEvent


def overseen_org_ids(user: Any) -> list[int]:
    return scoped_org_ids(user, ACTIONS["supervision.view_all"])


def visibility(user: Any) -> Q:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    cond = Q(assignee=user) | Q(created_by=user)
    if ids := overseen_org_ids(user):
        cond |= Q(org_id__in=ids) | Q(issuer_org_id__in=ids)
    return cond


def tasks(user: Any) -> QuerySet[SupervisionTask]:
    return SupervisionTask.objects.filter(visibility(user))


# --- the light, lists, the board -------------------------------------------------------

# The light's thresholds (``services.light`` tests the same on one loaded task): yellow
# within YELLOW_HOURS of the deadline, in the last (1 - YELLOW_SHARE) of the window from
# issue to deadline, or with a required progress report late.
YELLOW_HOURS = 24
YELLOW_SHARE = 0.8
TASK_RELATED = ("org", "issuer_org", "assignee", "created_by", "escalated_to")


def _report_late(now: datetime) -> Q:
    """A required progress report is late: the last one (or the issue) is at least
    ``report_every_days`` old. One small query for the periods in use keeps the condition
    plain comparisons (no per-row interval arithmetic)."""
    periods = (
        SupervisionTask.objects.filter(status__in=OPEN_TASK, report_every_days__gt=0)
        .order_by()
        .values_list("report_every_days", flat=True)
        .distinct()
    )
    cond = Q(pk__in=[])
    for days in periods:
        before = now - timedelta(days=days)
        cond |= Q(report_every_days=days) & (
            Q(last_report_at__lte=before) | Q(last_report_at__isnull=True, issued_at__lte=before)
        )
    return cond


def light_expr(now: datetime) -> Case:
    """``services.light`` as SQL: done (closed or cancelled), red (past the deadline),
    yellow (see the thresholds above), green."""
    # "in the last part of the window" as durations (the time left against a share of
    # the whole), which both databases compare as numbers
    left = ExpressionWrapper(
        F("deadline") - Value(now, output_field=DateTimeField()), output_field=DurationField()
    )
    tail = ExpressionWrapper(
        (F("deadline") - F("issued_at")) * (1 - YELLOW_SHARE), output_field=DurationField()
    )
    soon = Q(deadline__lte=now + timedelta(hours=YELLOW_HOURS))
    return Case(
        When(~Q(status__in=OPEN_TASK), then=Value(Light.DONE)),
        When(deadline__lt=now, then=Value(Light.RED)),
        When(soon | _report_late(now), then=Value(Light.YELLOW)),
        When(LessThanOrEqual(left, tail), then=Value(Light.YELLOW)),
        default=Value(Light.GREEN),
        output_field=CharField(),
    )


def task_list(
    user: Any,
    *,
    status: str | None = None,
    source: str | None = None,
    org_id: int | None = None,
    assignee_id: int | None = None,
    light: str | None = None,
    overdue: bool | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> QuerySet[SupervisionTask]:
    """Tasks the user sees, each annotated with its ``light``; the nearest deadline first."""
    now = now or timezone.now()
    qs = tasks(user).annotate(light=light_expr(now))
    if status:
        qs = qs.filter(status__in=status.split(","))
    if source:
        qs = qs.filter(source__in=source.split(","))
    if org_id is not None:
        subtree = subtree_ids(Organization, org_id)
        if subtree is None:
            return qs.none()
        qs = qs.filter(org_id__in=subtree)
    if assignee_id is not None:
        qs = qs.filter(assignee_id=assignee_id)
    if light:
        qs = qs.filter(light__in=light.split(","))
    if overdue is not None:
        late = Q(status__in=OPEN_TASK, deadline__lt=now)
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if mine:
        qs = qs.filter(assignee=user)
    return qs.select_related(*TASK_RELATED).order_by("deadline", "id")


def task(user: Any, pk: int, now: datetime | None = None) -> SupervisionTask:
    """One task the user may see (with its ``light``); NotFound otherwise."""
    qs = tasks(user).annotate(light=light_expr(now or timezone.now()))
    found = qs.select_related(*TASK_RELATED).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def events(task: SupervisionTask) -> QuerySet[TaskEvent]:
    return task.events.select_related("actor").order_by("at", "id")


def board(user: Any, by: str = "org", now: datetime | None = None) -> list[dict[str, Any]]:
    """Red/yellow/green (and done) counts per assignee org or per assignee, one grouped
    query over the visible tasks. Rows with red first, then yellow."""
    now = now or timezone.now()
    qs = tasks(user).annotate(light=light_expr(now))
    if by == "person":
        keys = ("assignee_id", "assignee__display_name", "assignee__username")
    else:
        keys = ("org_id", "org__name")
    rows = qs.values(*keys).annotate(
        **{c: Count("id", filter=Q(light=c)) for c in Light.values}, total=Count("id")
    )
    out = []
    for r in rows:
        if by == "person":
            name = r["assignee__display_name"] or r["assignee__username"] or ""
            ident = r["assignee_id"]
        else:
            name, ident = r["org__name"], r["org_id"]
        out.append(
            {"id": ident, "name": name, **{c: r[c] for c in Light.values}, "total": r["total"]}
        )
    out.sort(key=lambda r: (-r["red"], -r["yellow"], r["name"], r["id"] or 0))
    return out


def open_by_org(org_ids: list[int], now: datetime) -> list[dict[str, Any]]:
    """Open and overdue tasks per assignee org among ``org_ids`` (for the dashboards)."""
    rows = (
        SupervisionTask.objects.filter(org_id__in=org_ids, status__in=OPEN_TASK)
        .values("org_id", "org__name", "org__path")
        .annotate(open=Count("id"), overdue=Count("id", filter=Q(deadline__lt=now)))
        .order_by("org__path")
    )
    return [
        {"id": r["org_id"], "name": r["org__name"], "open": r["open"], "overdue": r["overdue"]}
        for r in rows
    ]
