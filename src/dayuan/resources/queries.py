"""Scoped reads of the resource pool.

Who sees what (one condition per model, used by every list, page, export and API):

- a **resource** is *usable* (found by matching, requested) by a user while active when
  its owner org is in any of the user's grant subtrees, or it is shared with the whole
  platform (``city``/``public``), or it is shared with its centre (``centre``) and that
  centre is one of the user's own centres (the nearest 市/县 centre above each grant).
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
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import grants_of, scoped_org_ids
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from .choices import StockStatus, Visibility
from .models import (
    Activity,
    Allocation,
    Demand,
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
