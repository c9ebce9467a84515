"""Scoped reads of the resource pool.

Who sees what (one condition per model, used by every list, page, export and API):

- a **resource** is *usable* (found by matching, requested) by a user while active when
  its owner org is in any of the user's grant subtrees, or it is shared with the whole
  platform (``city``/``public``), or it is shared with its centre (``centre``) and that
  centre is one of the user's own centres (the nearest 市/县 centre above each grant),
  or it is kept to its owner (``owner``, 仅本单位) and the owner is above one of the
  user's grants (the people of the units under the owner).
  A warehouse (公物仓) item is usable once stored. Its owner's managers
  (``resources.manage``) and overseers (``resources.view_all``) see it whatever its
  state;
- a **demand** is visible to its poster, its approver, and ``resources.view_all`` or
  ``resources.manage`` over its org;
- an **allocation** to its requester, the demand's poster, and ``view_all``/``manage``
  over either side: the owner (``org``) or the user (``requester_org``);
- a **transfer** (公物仓 ledger) to ``view_all``/``manage`` over the warehouse's org or
  over the receiving or giving org;
- **volunteers** to ``resources.volunteer``/``view_all``/``manage`` over their team,
  and to the volunteer themself;
- **activities** and **micro-projects** (public-good work, recruited openly) to everyone
  whose centre, or a centre above it, is the organiser's centre, and to anyone whose
  grants reach the organiser;
- **match runs** to ``resources.match``/``view_all`` over the run's org.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns.

Below the conditions: the lists every page and API endpoint uses (each only narrows its
model's visibility), and a resource's calendar (windows, closures, holdings; who holds
it is shown only to those who may see the allocation). Figures are in ``stats``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.models import PATH_STEP
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import grants_of, scoped_org_ids
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from .choices import (
    STOCK_KINDS,
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    Priority,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)
from .models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MatchProposal,
    MatchRun,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)

_CENTRES_ATTR = "_dayuan_resource_centres"


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _org_ids(user: Any, *actions: str) -> list[int]:
    """Orgs in the subtrees where ``user`` holds a role of any of ``actions``."""
    if not _active(user):
        return []
    roles: set[str] = set()
    for action in actions:
        roles |= ACTIONS[action]
    return scoped_org_ids(user, roles)


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- who -------------------------------------------------------------------------------


def _org_centres() -> dict[int, tuple[int | None, int | None]]:
    """org id → (its nearest centre, that centre's parent centre), from one query."""
    rows = {
        pk: (parent, kind)
        for pk, parent, kind in Organization.objects.values_list("pk", "parent_id", "kind")
    }
    centres = set(OrgKind.centres())

    def nearest(pk: int | None) -> int | None:
        while pk is not None and rows[pk][1] not in centres:
            pk = rows[pk][0]
        return pk

    out: dict[int, tuple[int | None, int | None]] = {}
    for pk in rows:
        centre = nearest(pk)
        above = nearest(rows[centre][0]) if centre is not None else None
        out[pk] = (centre, above)
    return out


def centre_of(org: Organization) -> Organization:
    """The owner's centre kept on a resource (the root city when none is above)."""
    centre = org.centre
    if centre is None:  # pragma: no cover - the tree's root is always a city
        raise NotFound()
    return centre


def user_centre_ids(user: Any) -> list[int]:
    """The nearest centre above each of the user's grants (cached on the user)."""
    return _centres(user)[0]


def centre_chain_ids(user: Any) -> list[int]:
    """The user's centres and the centres above them (a county's staff see the city's
    activities and projects; the city's staff see the counties' through their grants)."""
    return _centres(user)[1]


def _centres(user: Any) -> tuple[list[int], list[int]]:
    if not _active(user):
        return [], []
    cached = getattr(user, _CENTRES_ATTR, None)
    if cached is not None:
        return cached
    table = _org_centres()
    own: set[int] = set()
    chain: set[int] = set()
    for grant in grants_of(user):
        centre, above = table.get(grant.org_id, (None, None))
        if centre is not None:
            own.add(centre)
            chain.add(centre)
            while above is not None:
                chain.add(above)
                above = table[above][1]
    result = (sorted(own), sorted(chain))
    setattr(user, _CENTRES_ATTR, result)
    return result


def _orgs_of_centres(centre_ids: list[int]) -> list[int]:
    if not centre_ids:
        return []
    wanted = set(centre_ids)
    return [pk for pk, (centre, _above) in _org_centres().items() if centre in wanted]


def managed_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "resources.manage")


def overseen_org_ids(user: Any) -> list[int]:
    """Orgs where the user manages or oversees the pool."""
    return _org_ids(user, "resources.view_all", "resources.manage")


# --- resources -------------------------------------------------------------------------


def units_above_paths(user: Any) -> list[str]:
    """Paths of the organisations strictly above the user's grants in government units
    (a unit's resource kept to itself, 仅本单位, is usable by the people of the units
    under it; an outsourced company or enterprise placed under a centre is not one)."""
    external = OrgKind.external()
    paths = {g.org.path for g in grants_of(user) if g.org.kind not in external}
    step = PATH_STEP + 1
    return sorted({p[:i] for p in paths for i in range(step, len(p), step)})


def usable_condition(user: Any) -> Q:
    """Active resources ``user`` may find and request."""
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(visibility__in=[Visibility.CITY, Visibility.PUBLIC])
    reach = scoped_org_ids(user)
    if reach:
        cond |= Q(org_id__in=reach)
    centres = user_centre_ids(user)
    if centres:
        cond |= Q(visibility=Visibility.CENTRE, centre_id__in=centres)
    above = units_above_paths(user)
    if above:  # 仅本单位: the owning unit and the units under it
        cond |= Q(visibility=Visibility.OWNER, org__path__in=above)
    # a 公物仓 item is offered once it has been checked in (stored), not while it waits
    stocked = Q(stock_status__isnull=True) | Q(stock_status=StockStatus.STORED)
    return cond & Q(is_active=True) & stocked


def usable_resources(user: Any) -> QuerySet[Resource]:
    return Resource.objects.filter(usable_condition(user))


def visible_resources(user: Any) -> QuerySet[Resource]:
    """Usable ones, and any resource (inactive too) the user manages or oversees."""
    cond = usable_condition(user)
    overseen = overseen_org_ids(user)
    if overseen:
        cond |= Q(org_id__in=overseen)
    return Resource.objects.filter(cond)


def resource_for(user: Any, pk: int) -> Resource:
    return _one(visible_resources(user).select_related("org", "location", "centre"), pk)


# --- demands ---------------------------------------------------------------------------


def demand_condition(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(posted_by=user) | Q(approver=user)
    overseen = overseen_org_ids(user)
    if overseen:
        cond |= Q(org_id__in=overseen)
    return cond


def visible_demands(user: Any) -> QuerySet[Demand]:
    return Demand.objects.filter(demand_condition(user))


def demand_for(user: Any, pk: int) -> Demand:
    return _one(visible_demands(user).select_related("org", "location", "posted_by"), pk)


# --- allocations -----------------------------------------------------------------------


def allocation_condition(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(requester=user) | Q(demand__posted_by=user)
    overseen = overseen_org_ids(user)
    if overseen:
        cond |= Q(org_id__in=overseen) | Q(requester_org_id__in=overseen)
    return cond


def visible_allocations(user: Any) -> QuerySet[Allocation]:
    return Allocation.objects.filter(allocation_condition(user))


def allocation_for(user: Any, pk: int) -> Allocation:
    return _one(
        visible_allocations(user).select_related(
            "resource", "org", "requester_org", "requester", "demand"
        ),
        pk,
    )


# --- the warehouse ---------------------------------------------------------------------


def visible_transfers(user: Any) -> QuerySet[Transfer]:
    overseen = overseen_org_ids(user)
    if not overseen:
        return Transfer.objects.none()
    return Transfer.objects.filter(
        Q(org_id__in=overseen) | Q(to_org_id__in=overseen) | Q(from_org_id__in=overseen)
    )


# --- volunteers, activities, projects --------------------------------------------------


def volunteer_org_ids(user: Any) -> list[int]:
    """Orgs whose volunteers ``user`` keeps (registers, records attendance for)."""
    return _org_ids(user, "resources.volunteer", "resources.manage")


def visible_volunteers(user: Any) -> QuerySet[Volunteer]:
    if not _active(user):
        return Volunteer.objects.none()
    cond = Q(user=user)
    orgs = sorted(set(volunteer_org_ids(user)) | set(_org_ids(user, "resources.view_all")))
    if orgs:
        cond |= Q(org_id__in=orgs)
    return Volunteer.objects.filter(cond)


def public_work_org_ids(user: Any) -> list[int]:
    """Orgs whose activities and micro-projects ``user`` sees: those under the user's
    centres or the centres above them, and any org the user's grants reach."""
    if not _active(user):
        return []
    return sorted(set(_orgs_of_centres(centre_chain_ids(user))) | set(scoped_org_ids(user)))


def visible_activities(user: Any) -> QuerySet[Activity]:
    return Activity.objects.filter(org_id__in=public_work_org_ids(user))


def activity_for(user: Any, pk: int) -> Activity:
    return _one(visible_activities(user).select_related("org", "location", "project"), pk)


def visible_signups(user: Any) -> QuerySet[SignUp]:
    """A volunteer's own sign-ups, and every sign-up of the activities the user keeps."""
    if not _active(user):
        return SignUp.objects.none()
    cond = Q(volunteer__user=user)
    orgs = volunteer_org_ids(user)
    if orgs:
        cond |= Q(activity__org_id__in=orgs)
    return SignUp.objects.filter(cond)


def visible_projects(user: Any) -> QuerySet[MicroProject]:
    return MicroProject.objects.filter(org_id__in=public_work_org_ids(user))


def project_for(user: Any, pk: int) -> MicroProject:
    return _one(visible_projects(user).select_related("org", "leader", "location"), pk)


# --- match runs ------------------------------------------------------------------------


def visible_runs(user: Any) -> QuerySet[MatchRun]:
    orgs = _org_ids(user, "resources.match", "resources.view_all")
    return MatchRun.objects.filter(org_id__in=orgs)


def run_for(user: Any, pk: int) -> MatchRun:
    return _one(visible_runs(user), pk)


# === lists ==============================================================================
#
# Every list starts from the visibility above and only narrows it: a filter can never
# widen what a user sees. Each returns a lazy queryset with ``select_related`` for its
# columns and a total, stable ordering (ties broken by id). Filters on a choice field
# refuse an unknown value with InvalidInput ``bad_filter`` (field named) instead of
# silently returning nothing; ``status`` filters take one value or several separated by
# commas. ``org_id`` filters take the org's whole subtree (a county and its units).

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_CALENDAR_DAYS = 62  # the longest range resource_calendar takes (two months)

RESOURCE_RELATED = ("org", "location")
DEMAND_RELATED = ("org", "posted_by", "location")
ALLOCATION_RELATED = ("resource", "org", "requester_org", "requester", "demand")
TRANSFER_RELATED = ("resource", "org", "from_org", "to_org", "actor")
VOLUNTEER_RELATED = ("org", "user")
ACTIVITY_RELATED = ("org", "location", "project")
PROJECT_RELATED = ("org", "leader", "location")
ALLOCATION_SIDES = ("mine", "owner", "unit")
# kinds in their declared order (venue, facility, vehicle, asset, fund, manpower, team)
_KIND_RANK = Case(
    *(When(kind=k, then=Value(i)) for i, k in enumerate(ResourceKind.values)),
    default=Value(len(ResourceKind.values)),
)


def _choice(value: str | None, choices: type, name: str) -> list[str] | None:
    """``value`` split on commas and checked against ``choices`` (None when empty)."""
    if not value:
        return None
    wanted = [v.strip() for v in str(value).split(",") if v.strip()]
    bad = [v for v in wanted if v not in choices.values]
    if bad or not wanted:
        raise InvalidInput(
            _("筛选条件无效：%(value)s。") % {"value": ",".join(bad) or value},
            code="bad_filter",
            field=name,
        )
    return wanted


def _subtree(org_id: int) -> QuerySet[Organization]:
    """The org and everything under it, as a subquery (one query for the path)."""
    path = Organization.objects.filter(pk=org_id).values_list("path", flat=True).first()
    if path is None:
        return Organization.objects.none()
    return Organization.objects.filter(path__startswith=path).values("pk")


def _text(q: str) -> str:
    return (q or "").strip()[:100]


def resource_list(
    user: Any,
    *,
    kind: str | None = None,
    org_id: int | None = None,
    q: str = "",
    visibility: str | None = None,
    include_inactive: bool = False,
    usable_only: bool = False,
    managed: bool = False,
    min_capacity: int | None = None,
    stock_status: str | None = None,
) -> QuerySet[Resource]:
    """Resources ``user`` sees (``visible_resources``), by kind (in the order of
    ``ResourceKind``) then name.

    By default the active ones: everything usable, and the active resources of the orgs
    the user manages or oversees (a warehouse item waiting to be checked in, too).
    ``include_inactive`` adds the overseen inactive ones; ``usable_only`` keeps those the
    user may request (资源广场); ``managed`` those of the orgs the user manages (我的资源);
    ``q`` searches name, address, description and owner name; ``min_capacity`` (people)
    for the time kinds; ``stock_status`` for 公物仓 items (``in``/``stored``/``out``)."""
    qs = usable_resources(user) if usable_only else visible_resources(user)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if kinds := _choice(kind, ResourceKind, "kind"):
        qs = qs.filter(kind__in=kinds)
    if scopes := _choice(visibility, Visibility, "visibility"):
        qs = qs.filter(visibility__in=scopes)
    if statuses := _choice(stock_status, StockStatus, "stock_status"):
        qs = qs.filter(stock_status__in=statuses)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    if managed:
        qs = qs.filter(org_id__in=managed_org_ids(user))
    if min_capacity is not None:
        qs = qs.filter(capacity__gte=min_capacity)
    if text := _text(q):
        qs = qs.filter(
            Q(name__icontains=text)
            | Q(address__icontains=text)
            | Q(description__icontains=text)
            | Q(org__name__icontains=text)
        )
    return (
        qs.select_related(*RESOURCE_RELATED)
        .alias(kind_rank=_KIND_RANK)
        .order_by("kind_rank", "name", "id")
    )


def demand_list(
    user: Any,
    *,
    status: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
    mine: bool = False,
    org_id: int | None = None,
    q: str = "",
    project_id: int | None = None,
) -> QuerySet[Demand]:
    """Demands ``user`` sees (poster, approver, overseers of the demand's org), the
    latest posted first. ``mine``: those the user posted."""
    qs = visible_demands(user)
    if mine:
        qs = qs.filter(posted_by_id=user.pk) if _active(user) else qs.none()
    if statuses := _choice(status, DemandStatus, "status"):
        qs = qs.filter(status__in=statuses)
    if kinds := _choice(kind, ResourceKind, "kind"):
        qs = qs.filter(kind__in=kinds)
    if priorities := _choice(priority, Priority, "priority"):
        qs = qs.filter(priority__in=priorities)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    if text := _text(q):
        qs = qs.filter(
            Q(title__icontains=text) | Q(number__icontains=text) | Q(description__icontains=text)
        )
    return qs.select_related(*DEMAND_RELATED).order_by("-posted_at", "-id")


def demand_approvals(user: Any) -> QuerySet[Demand]:
    """Demands waiting for sign-off (``submitted``) that ``user`` is the approver of, or
    manages the unit of; the oldest first (a queue)."""
    if not _active(user):
        return Demand.objects.none()
    cond = Q(approver_id=user.pk)
    managed = managed_org_ids(user)
    if managed:
        cond |= Q(org_id__in=managed)
    return (
        visible_demands(user)
        .filter(cond, status=DemandStatus.SUBMITTED)
        .select_related(*DEMAND_RELATED)
        .order_by("posted_at", "id")
    )


def allocation_list(
    user: Any,
    *,
    side: str | None = None,
    status: str | None = None,
    resource_id: int | None = None,
    demand_id: int | None = None,
    project_id: int | None = None,
) -> QuerySet[Allocation]:
    """Allocations ``user`` sees, the latest requested first. ``side``: ``mine`` (the
    user requested it or posted its demand), ``owner`` (resources of the orgs the user
    manages or oversees: requests to approve, loans to follow up), ``unit`` (used by the
    orgs the user manages or oversees)."""
    qs = visible_allocations(user)
    if side:
        if side not in ALLOCATION_SIDES:
            raise InvalidInput(
                _("筛选条件无效：%(value)s。") % {"value": side}, code="bad_filter", field="side"
            )
        if not _active(user):
            qs = qs.none()
        elif side == "mine":
            qs = qs.filter(Q(requester_id=user.pk) | Q(demand__posted_by_id=user.pk))
        elif side == "owner":
            qs = qs.filter(org_id__in=overseen_org_ids(user))
        else:
            qs = qs.filter(requester_org_id__in=overseen_org_ids(user))
    if statuses := _choice(status, AllocationStatus, "status"):
        qs = qs.filter(status__in=statuses)
    if resource_id is not None:
        qs = qs.filter(resource_id=resource_id)
    if demand_id is not None:
        qs = qs.filter(demand_id=demand_id)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.select_related(*ALLOCATION_RELATED).order_by("-requested_at", "-id")


def pending_approvals(user: Any) -> QuerySet[Allocation]:
    """Requests (``requested``) for resources of the orgs ``user`` manages
    (``resources.manage``), the oldest first: the owner's approval queue."""
    managed = managed_org_ids(user)
    if not managed:
        return Allocation.objects.none()
    return (
        Allocation.objects.filter(org_id__in=managed, status=AllocationStatus.REQUESTED)
        .select_related(*ALLOCATION_RELATED)
        .order_by("requested_at", "id")
    )


def transfer_list(
    user: Any,
    *,
    kind: str | None = None,
    resource_id: int | None = None,
    org_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Transfer]:
    """The 公物仓 ledger entries ``user`` sees, the latest first. ``org_id``: entries
    whose warehouse, giving or receiving org is in that subtree; ``start``/``end``:
    local days, inclusive."""
    qs = visible_transfers(user)
    if kinds := _choice(kind, TransferKind, "kind"):
        qs = qs.filter(kind__in=kinds)
    if resource_id is not None:
        qs = qs.filter(resource_id=resource_id)
    if org_id is not None:
        sub = _subtree(org_id)
        qs = qs.filter(Q(org_id__in=sub) | Q(from_org_id__in=sub) | Q(to_org_id__in=sub))
    if start is not None:
        qs = qs.filter(at__gte=local_midnight(start))
    if end is not None:
        qs = qs.filter(at__lt=local_midnight(end + timedelta(days=1)))
    return qs.select_related(*TRANSFER_RELATED).order_by("-at", "-id")


def volunteer_list(
    user: Any, *, org_id: int | None = None, q: str = "", include_inactive: bool = False
) -> QuerySet[Volunteer]:
    """Volunteers ``user`` sees (keepers and overseers of their team, the volunteer
    themself), the most hours first, then by name."""
    qs = visible_volunteers(user)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    if text := _text(q):
        qs = qs.filter(Q(name__icontains=text) | Q(phone__icontains=text))
    return qs.select_related(*VOLUNTEER_RELATED).order_by("-hours", "name", "id")


def activity_list(
    user: Any,
    *,
    upcoming: bool = True,
    now: datetime | None = None,
    org_id: int | None = None,
    status: str | None = None,
    project_id: int | None = None,
    mine: bool = False,
) -> QuerySet[Activity]:
    """Volunteer activities ``user`` sees, each annotated ``signed_up`` (the user holds
    a live sign-up for it). ``upcoming``: those not over and not cancelled or done, the
    soonest first; otherwise all, the latest first. ``mine``: those the user signed up
    for."""
    qs = visible_activities(user)
    if _active(user):
        mine_q = SignUp.objects.filter(activity_id=OuterRef("pk"), volunteer__user_id=user.pk)
        qs = qs.annotate(
            signed_up=Exists(mine_q.exclude(status=SignUpStatus.CANCELLED)),
        )
        if mine:
            qs = qs.filter(signed_up=True)
    else:
        qs = qs.annotate(signed_up=Value(False))
    if statuses := _choice(status, ActivityStatus, "status"):
        qs = qs.filter(status__in=statuses)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    qs = qs.select_related(*ACTIVITY_RELATED)
    if upcoming:
        qs = qs.filter(
            end_at__gt=now or timezone.now(),
            status__in=[ActivityStatus.OPEN, ActivityStatus.CLOSED],
        )
        return qs.order_by("start_at", "id")
    return qs.order_by("-start_at", "-id")


def signup_list(user: Any, activity_id: int) -> QuerySet[SignUp]:
    """The sign-ups of a visible activity (NotFound otherwise) that ``user`` sees: all of
    them for its keepers, the user's own otherwise; in the order they came."""
    activity_for(user, activity_id)
    return (
        visible_signups(user)
        .filter(activity_id=activity_id)
        .select_related("volunteer", "volunteer__org")
        .order_by("created_at", "id")
    )


def project_list(
    user: Any,
    *,
    status: str | None = None,
    org_id: int | None = None,
    q: str = "",
) -> QuerySet[MicroProject]:
    """民生微实事 projects ``user`` sees, the latest first."""
    qs = visible_projects(user)
    if statuses := _choice(status, ProjectStatus, "status"):
        qs = qs.filter(status__in=statuses)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    if text := _text(q):
        qs = qs.filter(Q(title__icontains=text) | Q(number__icontains=text))
    return qs.select_related(*PROJECT_RELATED).order_by("-created_at", "-id")


def run_list(user: Any, *, org_id: int | None = None) -> QuerySet[MatchRun]:
    """Batch match runs ``user`` sees, the latest first."""
    qs = visible_runs(user)
    if org_id is not None:
        qs = qs.filter(org_id__in=_subtree(org_id))
    return qs.select_related("org", "run_by").order_by("-created_at", "-id")


def proposal_list(user: Any, run_id: int) -> QuerySet[MatchProposal]:
    """The proposals of a visible run (NotFound otherwise): matched ones first (by
    score, best first), then the unmatched; each with its demand and resource."""
    run_for(user, run_id)
    return (
        MatchProposal.objects.filter(run_id=run_id)
        .select_related("demand", "demand__org", "resource", "resource__org", "allocation")
        .alias(unmatched=Case(When(resource__isnull=True, then=Value(1)), default=Value(0)))
        .order_by("unmatched", "-score", "demand__start_at", "demand_id")
    )


def closure_list(
    user: Any, resource_id: int, *, upcoming: bool = True, now: datetime | None = None
) -> QuerySet[Closure]:
    """Closures of a visible resource (NotFound otherwise); ``upcoming``: those not
    over yet. By start."""
    resource_for(user, resource_id)
    qs = Closure.objects.filter(resource_id=resource_id)
    if upcoming:
        qs = qs.filter(end_at__gt=now or timezone.now())
    return qs.order_by("start_at", "id")


# --- a resource's calendar -------------------------------------------------------------


def local_midnight(day: date) -> datetime:
    """The start of a local (Asia/Shanghai) day."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _minutes(hhmm: Any) -> int:
    hours, minutes = str(hhmm).split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class OpenSpan:
    """A stretch of a day the resource may be used (one of its weekly windows)."""

    start_at: datetime
    end_at: datetime
    offpeak: bool = False


def open_spans(windows: list[dict[str, Any]] | None, day: date) -> list[OpenSpan]:
    """The resource's open stretches on a local day from its weekly ``windows``
    (``[{"days": [0..6], "start": "HH:MM", "end": "HH:MM", "offpeak": bool}]``, Monday
    0; ``"24:00"`` ends at midnight); the whole day when there are no windows. Malformed
    windows are skipped (the service validates what it stores). By start."""
    base = local_midnight(day)
    if not windows:
        return [OpenSpan(base, base + timedelta(days=1))]
    spans = []
    weekday = day.weekday()
    for w in windows:
        try:
            if weekday not in (w.get("days") or ()):
                continue
            a, b = _minutes(w["start"]), _minutes(w["end"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        if 0 <= a < b <= 24 * 60:
            spans.append(
                OpenSpan(
                    base + timedelta(minutes=a),
                    base + timedelta(minutes=b),
                    bool(w.get("offpeak")),
                )
            )
    return sorted(spans, key=lambda s: (s.start_at, s.end_at, s.offpeak))


def merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching ranges joined, by start."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True)
class Busy:
    """A holding allocation on the calendar. ``allocation`` is given only when the user
    may see it (``allocation_condition``); otherwise the block shows the time taken (and
    the people, for a team) without saying who took it."""

    start_at: datetime
    end_at: datetime
    amount: int
    allocation: Allocation | None


@dataclass
class CalendarDay:
    day: date
    open: list[OpenSpan]  # empty for stock kinds (they have no time windows)
    closures: list[Closure]  # touching the day
    busy: list[Busy]  # holding allocations touching the day


@dataclass
class ResourceCalendar:
    resource: Resource
    start: date
    end: date
    timed: bool  # a time kind (exclusive or headcount); stock kinds have no calendar
    always_open: bool  # no windows: any time (closures and holdings aside)
    days: list[CalendarDay] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    busy: list[Busy] = field(default_factory=list)


def resource_calendar(user: Any, resource_id: int, start: date, end: date) -> ResourceCalendar:
    """A visible resource's (NotFound otherwise) week view over the local days [start,
    end] (inclusive, at most ``MAX_CALENDAR_DAYS``): per day its open windows, its
    closures and its holding allocations (approved, in use). Five to seven queries."""
    if start > end or (end - start).days >= MAX_CALENDAR_DAYS:
        raise InvalidInput(
            _("日期范围无效：开始日期须不晚于结束日期，且跨度不超过 %(days)s 天。")
            % {"days": MAX_CALENDAR_DAYS},
            code="bad_range",
            field="start",
        )
    res = resource_for(user, resource_id)
    lo, hi = local_midnight(start), local_midnight(end + timedelta(days=1))
    closures = list(
        Closure.objects.filter(resource_id=res.pk, start_at__lt=hi, end_at__gt=lo).order_by(
            "start_at", "id"
        )
    )
    held = (
        Allocation.objects.filter(resource_id=res.pk, holds=True, start_at__lt=hi, end_at__gt=lo)
        .annotate(
            seen=Case(
                When(allocation_condition(user), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .select_related("requester_org", "demand")
        .order_by("start_at", "id")
    )
    busy = [Busy(a.start_at, a.end_at, a.amount, a if a.seen else None) for a in held]
    timed = res.kind not in STOCK_KINDS
    days = []
    day = start
    while day <= end:
        d_lo, d_hi = local_midnight(day), local_midnight(day + timedelta(days=1))
        days.append(
            CalendarDay(
                day=day,
                open=open_spans(res.windows, day) if timed else [],
                closures=[c for c in closures if c.start_at < d_hi and c.end_at > d_lo],
                busy=[b for b in busy if b.start_at < d_hi and b.end_at > d_lo],
            )
        )
        day += timedelta(days=1)
    return ResourceCalendar(
        resource=res,
        start=start,
        end=end,
        timed=timed,
        always_open=timed and not res.windows,
        days=days,
        closures=closures,
        busy=busy,
    )
