"""Scoped reads of work orders.

Who sees an order (one queryset, used by every list, page, export and service):
(a) holders of ``workorders.view_all`` at the order's org or an ancestor, (b) its
requester, (c) its assignee and the members of its team. The user's subtree org ids and
team ids are resolved first (a few rows each), so the condition is a plain OR of
``IN``/``=`` tests on indexed columns that PostgreSQL answers with a BitmapOr instead of
a join on the org path plus a subquery that forces a sequential scan. Vendor workers'
grants sit at the vendor org below the county, so (c) is how they see their queue, and
they see nothing else of the county.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scoped_org_ids
from dayuan.core.tree import subtree_ids
from dayuan.orgs.models import Location, Organization

from .choices import OPEN_STATUSES, Status
from .models import ServiceCategory, TeamMember, WorkOrder, WorkOrderEvent, WorkOrderTimer
from .sla import RUNNING


def overseen_org_ids(user: Any) -> list[int]:
    """Ids of the organisations in the subtrees where ``user`` holds
    ``workorders.view_all`` (organisations are few: one small query)."""
    return scoped_org_ids(user, ACTIONS["workorders.view_all"])


def visibility(user: Any) -> Q:
    """The condition "``user`` may see this order" (nothing for anonymous users)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    cond = Q(requester=user) | Q(assignee=user)
    org_ids = overseen_org_ids(user)
    if org_ids:
        cond |= Q(org_id__in=org_ids)
    team_ids = list(TeamMember.objects.filter(user=user).values_list("team_id", flat=True))
    if team_ids:
        cond |= Q(team_id__in=team_ids)
    return cond


def category_ids(category_id: int) -> list[int]:
    """The category and its sub-categories (resolved first, so the filter is an ``IN``)."""
    children = ServiceCategory.objects.filter(parent_id=category_id).values_list("pk", flat=True)
    return [category_id, *children]


def late_q(now: Any) -> Q:
    """As ``sla.overdue_q`` (flagged, or a running order with an unmet clock past due),
    with the clocks as an ``IN`` subquery on the open-clock index instead of a join."""
    late = WorkOrderTimer.objects.filter(met_at__isnull=True, due_at__lt=now)
    return Q(overdue=True) | Q(status__in=RUNNING, pk__in=late.values("workorder_id"))


def visible(user: Any) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(visibility(user))


def can_see(user: Any, order: WorkOrder) -> bool:
    return visible(user).filter(pk=order.pk).exists()


def _with_related(qs: QuerySet[WorkOrder]) -> QuerySet[WorkOrder]:
    return qs.select_related("category", "location", "requester", "assignee", "team", "vendor")


def orders(
    user: Any,
    *,
    status: str | None = None,
    category_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    org_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    mine: bool = False,
    assigned: bool = False,
) -> QuerySet[WorkOrder]:
    """The orders ``user`` sees, filtered. ``status`` may list several, comma-separated;
    ``category_id`` includes its sub-categories; ``location_id`` and ``org_id`` take the
    whole subtree."""
    qs = visible(user)
    if status:
        wanted = [s for s in status.split(",") if s in Status.values]
        qs = qs.filter(status__in=wanted)
    if category_id is not None:
        qs = qs.filter(category_id__in=category_ids(category_id))
    if location_id is not None:
        path = Location.objects.filter(pk=location_id).values_list("path", flat=True).first()
        if path is None:
            return qs.none()
        qs = qs.filter(location__path__startswith=path)
    if org_id is not None:
        subtree = subtree_ids(Organization, org_id)
        if subtree is None:
            return qs.none()
        qs = qs.filter(org_id__in=subtree)
    if vendor_id is not None:
        qs = qs.filter(vendor_id=vendor_id)
    if overdue is not None:
        late = late_q(timezone.now())
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if q:
        q = q.strip()
        qs = qs.filter(Q(number__icontains=q) | Q(description__icontains=q))
    if mine:
        qs = qs.filter(requester=user)
    if assigned:
        qs = qs.filter(assignee=user)
    return _with_related(qs).order_by("-submitted_at", "-id")


def order(user: Any, pk: int) -> WorkOrder:
    """One order the user may see; 404 otherwise (its existence is not revealed)."""
    found = _with_related(visible(user)).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def queue(user: Any) -> QuerySet[WorkOrder]:
    """A worker's open orders: assigned to them, or to their team with nobody assigned
    yet; the most urgent clock first (orders without clocks last, oldest first)."""
    teams = list(TeamMember.objects.filter(user=user).values_list("team_id", flat=True))
    qs = (
        WorkOrder.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(assignee=user) | Q(assignee__isnull=True, team_id__in=teams))
        .annotate(next_due=Min("timers__due_at", filter=Q(timers__met_at__isnull=True)))
    )
    return _with_related(qs).order_by(F("next_due").asc(nulls_last=True), "submitted_at", "id")


def timeline(order: WorkOrder) -> QuerySet[WorkOrderEvent]:
    return order.events.select_related("actor").order_by("at", "id")
