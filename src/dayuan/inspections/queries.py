"""Scoped reads of plans, inspections, findings and rectification orders.

Who sees what (one condition per model, used by every list, page, export, API and
service):

- holders of ``inspections.view_all`` at the record's org or an ancestor see it all;
- the responsible party (a vendor or unit) sees the inspections, findings and
  rectification orders naming it, through its people holding ``inspections.rectify``
  at that org (a vendor's workers see their own vendor's findings, nothing else of the
  county);
- the inspector sees their own inspections and occurrences; a team member sees the
  team's occurrences; the named assignee or verifier sees their rectification orders.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns. What a finding's condition asks of its
rectification order (and an order's of its finding) is an ``EXISTS`` on that one row,
not a join: no DISTINCT, and a list page walks its order's index and stops early.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scoped_org_ids
from dayuan.core.tree import subtree_ids
from dayuan.orgs.models import Location, Organization
from dayuan.standards.choices import RuleKind
from dayuan.standards.effective import effective_rules
from dayuan.standards.models import Clause

from .choices import OPEN_RECTIFICATION, OccurrenceStatus
from .models import (
    Asset,
    Finding,
    Inspection,
    PlanAssignment,
    PlanOccurrence,
    Rectification,
    RectificationRound,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRACE_MAX = 500  # findings shown by a clause trace (newest first)


def _org_ids(user: Any, action: str) -> list[int]:
    return scoped_org_ids(user, ACTIONS[action])


def overseen_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` sees every inspection record (``inspections.view_all``)."""
    return _org_ids(user, "inspections.view_all")


def party_org_ids(user: Any) -> list[int]:
    """Orgs for which ``user`` answers as the responsible party (``inspections.rectify``)."""
    return _org_ids(user, "inspections.rectify")


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _team_ids(user: Any) -> list[int]:
    from dayuan.workorders.models import TeamMember

    return list(TeamMember.objects.filter(user=user).values_list("team_id", flat=True))


def inspection_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(inspector=user)
    if ids := overseen_org_ids(user):
        cond |= Q(org_id__in=ids)
    if ids := party_org_ids(user):
        cond |= Q(vendor_id__in=ids)
    return cond


def occurrence_visibility(user: Any) -> Q:
    """As ``inspection_visibility``, and the occurrences planned for the user's teams."""
    cond = inspection_visibility(user)
    if _active(user) and (ids := _team_ids(user)):
        cond |= Q(team_id__in=ids)
    return cond


def _on_finding(user: Any, party: list[int]) -> Q:
    """Who sees a finding by its own columns: its raiser, its org's overseers, its
    vendor's party (``party``: ``party_org_ids(user)``)."""
    cond = Q(raised_by=user)
    if ids := overseen_org_ids(user):
        cond |= Q(org_id__in=ids)
    if party:
        cond |= Q(vendor_id__in=party)
    return cond


def _on_order(user: Any, party: list[int]) -> Q:
    """Who sees a rectification order by its own columns: its assignee, its verifier,
    the party it is assigned to."""
    cond = Q(assignee=user) | Q(verifier=user)
    if party:
        cond |= Q(assignee_org_id__in=party)
    return cond


def finding_visibility(user: Any) -> Q:
    """The order's assignee, verifier and party are tested by an ``EXISTS`` on the order
    (its unique ``finding_id`` index) rather than a join: the condition stays on the
    finding's own columns, so no DISTINCT, and a page can walk the ``raised_at`` index
    and stop at its last row instead of joining and sorting every visible finding."""
    if not _active(user):
        return Q(pk__in=[])
    party = party_org_ids(user)
    orders = Rectification.objects.filter(_on_order(user, party), finding_id=OuterRef("pk"))
    return _on_finding(user, party) | Q(Exists(orders))


def rectification_visibility(user: Any) -> Q:
    """As ``finding_visibility``, for the order: its finding's raiser, org and vendor by
    an ``EXISTS`` on the finding (its primary key), so a page walks the order's
    ``deadline`` index."""
    if not _active(user):
        return Q(pk__in=[])
    party = party_org_ids(user)
    findings = Finding.objects.filter(_on_finding(user, party), pk=OuterRef("finding_id"))
    return _on_order(user, party) | Q(Exists(findings))


def assets(
    user: Any,
    *,
    org_id: int | None = None,
    location_id: int | None = None,
    asset_type: str | None = None,
) -> QuerySet[Asset]:
    """Assets of the orgs the user oversees."""
    qs = Asset.objects.filter(org_id__in=overseen_org_ids(user) if _active(user) else [])
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if location_id is not None:
        qs = _in_subtree(qs, "location_id", Location, location_id)
    if asset_type:
        qs = qs.filter(asset_type=asset_type)
    return qs.select_related("location").order_by("location__path", "name", "id")


def assignments(
    user: Any, *, org_id: int | None = None, activity: str | None = None
) -> QuerySet[PlanAssignment]:
    """Plan assignments of the orgs the user oversees, and those naming the user, the
    user's team or the party the user answers for."""
    if not _active(user):
        return PlanAssignment.objects.none()
    cond = Q(inspector=user)
    if ids := overseen_org_ids(user):
        cond |= Q(org_id__in=ids)
    if ids := party_org_ids(user):
        cond |= Q(vendor_id__in=ids)
    if ids := _team_ids(user):
        cond |= Q(team_id__in=ids)
    qs = PlanAssignment.objects.filter(cond)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if activity:
        qs = qs.filter(activity=activity)
    return qs.select_related("location", "team", "inspector", "vendor").order_by("activity", "id")


def occurrences(user: Any) -> QuerySet[PlanOccurrence]:
    return PlanOccurrence.objects.filter(occurrence_visibility(user))


def inspections(user: Any) -> QuerySet[Inspection]:
    return Inspection.objects.filter(inspection_visibility(user))


def findings(user: Any) -> QuerySet[Finding]:
    return Finding.objects.filter(finding_visibility(user))


def rectifications(user: Any) -> QuerySet[Rectification]:
    return Rectification.objects.filter(rectification_visibility(user))


# --- lists and detail getters ----------------------------------------------------------


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    day = timezone.localdate(now)
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


class OccurrenceView(StrEnum):
    """Upcoming: pending, its period not over; today: pending, its period ends by
    midnight; overdue: pending, the period over (within grace, or past due and not yet
    marked missed by the job); missed: marked missed."""

    UPCOMING = "upcoming"
    TODAY = "today"
    OVERDUE = "overdue"
    MISSED = "missed"


def occurrence_list(
    user: Any,
    *,
    view: str | None = None,
    status: str | None = None,
    org_id: int | None = None,
    activity: str | None = None,
    inspector_id: int | None = None,
    team_id: int | None = None,
    location_id: int | None = None,
    now: datetime | None = None,
) -> QuerySet[PlanOccurrence]:
    now = now or timezone.now()
    qs = occurrences(user)
    pending = OccurrenceStatus.PENDING
    if view == OccurrenceView.UPCOMING:
        qs = qs.filter(status=pending, period_end__gt=now)
    elif view == OccurrenceView.TODAY:
        start, end = _day_bounds(now)
        qs = qs.filter(status=pending, period_end__gt=max(start, now), period_end__lte=end)
    elif view == OccurrenceView.OVERDUE:
        qs = qs.filter(status=pending, period_end__lte=now)
    elif view == OccurrenceView.MISSED:
        qs = qs.filter(status=OccurrenceStatus.MISSED)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if location_id is not None:
        qs = _in_subtree(qs, "location_id", Location, location_id)
    if activity:
        qs = qs.filter(activity=activity)
    if inspector_id is not None:
        qs = qs.filter(inspector_id=inspector_id)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    return qs.select_related(*OCCURRENCE_RELATED).order_by("due_at", "id")


def _in_subtree(qs: QuerySet, field: str, model: Any, pk: int) -> QuerySet:
    ids = subtree_ids(model, pk)
    return qs.none() if ids is None else qs.filter(**{f"{field}__in": ids})


def _period(qs: QuerySet, field: str, since: date | None, until: date | None) -> QuerySet:
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": datetime.combine(since, time.min, tzinfo=SHANGHAI)})
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        qs = qs.filter(**{f"{field}__lt": end})
    return qs


OCCURRENCE_RELATED = ("org", "clause", "location", "asset", "team", "inspector", "vendor")
INSPECTION_RELATED = ("org", "location", "vendor", "inspector")
FINDING_RELATED = (
    "org",
    "clause__version__standard",
    "location",
    "vendor",
    "raised_by",
    "rectification__assignee_org",
    "rectification__assignee",
    "rectification__verifier",
)
RECTIFICATION_RELATED = (
    "org",
    "assignee_org",
    "assignee",
    "verifier",
    "finding__clause__version__standard",
    "finding__location",
    "finding__vendor",
)


def inspection_list(
    user: Any,
    *,
    kind: str | None = None,
    status: str | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    inspector_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[Inspection]:
    """Newest first; the date range is on the start of the inspection."""
    qs = inspections(user)
    if kind:
        qs = qs.filter(kind__in=kind.split(","))
    if status:
        qs = qs.filter(status__in=status.split(","))
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if location_id is not None:
        qs = _in_subtree(qs, "location_id", Location, location_id)
    if vendor_id is not None:
        qs = qs.filter(vendor_id=vendor_id)
    if inspector_id is not None:
        qs = qs.filter(inspector_id=inspector_id)
    qs = _period(qs, "started_at", since, until)
    return qs.select_related(*INSPECTION_RELATED).order_by("-started_at", "-id")


def _late(prefix: str, now: datetime) -> Q:
    """An open rectification order flagged overdue or past its deadline now."""
    return Q(**{f"{prefix}status__in": OPEN_RECTIFICATION}) & (
        Q(**{f"{prefix}overdue": True}) | Q(**{f"{prefix}deadline__lt": now})
    )


def finding_list(
    user: Any,
    *,
    status: str | None = None,
    clause_id: int | None = None,
    severity: str | None = None,
    source: str | None = None,
    vendor_id: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    overdue: bool | None = None,
    since: date | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> QuerySet[Finding]:
    """Newest first."""
    qs = findings(user)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if clause_id is not None:
        qs = qs.filter(clause_id=clause_id)
    if severity:
        qs = qs.filter(severity__in=severity.split(","))
    if source:
        qs = qs.filter(source__in=source.split(","))
    if vendor_id is not None:
        qs = qs.filter(vendor_id=vendor_id)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    if location_id is not None:
        qs = _in_subtree(qs, "location_id", Location, location_id)
    if overdue is not None:
        late = _late("rectification__", now or timezone.now())
        qs = qs.filter(late) if overdue else qs.exclude(late)
    qs = _period(qs, "raised_at", since, until)
    return qs.select_related(*FINDING_RELATED).order_by("-raised_at", "-id")


def rectification_list(
    user: Any,
    *,
    status: str | None = None,
    overdue: bool | None = None,
    assignee_org_id: int | None = None,
    assignee_id: int | None = None,
    org_id: int | None = None,
    now: datetime | None = None,
) -> QuerySet[Rectification]:
    """The nearest deadline first."""
    qs = rectifications(user)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if overdue is not None:
        late = _late("", now or timezone.now())
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if assignee_org_id is not None:
        qs = qs.filter(assignee_org_id=assignee_org_id)
    if assignee_id is not None:
        qs = qs.filter(assignee_id=assignee_id)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", Organization, org_id)
    return qs.select_related(*RECTIFICATION_RELATED).order_by("deadline", "id")


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def occurrence(user: Any, pk: int) -> PlanOccurrence:
    return _one(occurrences(user).select_related(*OCCURRENCE_RELATED), pk)


def inspection(user: Any, pk: int) -> Inspection:
    return _one(inspections(user).select_related(*INSPECTION_RELATED, "rule"), pk)


def finding(user: Any, pk: int) -> Finding:
    return _one(findings(user).select_related(*FINDING_RELATED), pk)


def rectification(user: Any, pk: int) -> Rectification:
    return _one(rectifications(user).select_related(*RECTIFICATION_RELATED, "finding__org"), pk)


def rounds(rect: Rectification) -> list[RectificationRound]:
    """Every round of evidence and verdict, first first, photos prefetched."""
    return list(
        rect.rounds.select_related("submitted_by", "verified_by")
        .prefetch_related("photos")
        .order_by("number")
    )


def finding_history(user: Any, finding_id: int) -> dict[str, Any]:
    """A finding, its events, its rectification order and every round (a fixed number of
    queries)."""
    found = finding(user, finding_id)
    rect = (
        Rectification.objects.filter(finding=found)
        .select_related("assignee_org", "assignee", "verifier")
        .first()
    )
    return {
        "finding": found,
        "events": list(found.events.select_related("actor").order_by("at", "id")),
        "rectification": rect,
        "rounds": rounds(rect) if rect is not None else [],
    }


def same_clauses(clause: Clause) -> list[int]:
    """The clause and the clauses with its number in the other versions of its standard."""
    return list(
        Clause.objects.filter(
            version__standard_id=clause.version.standard_id, number=clause.number
        ).values_list("pk", flat=True)
    )


def trace_clause(user: Any, clause_id: int) -> dict[str, Any]:
    """From a clause: every finding (of any version of the clause) the user may see, its
    rectification order, every round and verdict. Newest finding first."""
    clause = Clause.objects.select_related("version__standard").filter(pk=clause_id).first()
    if clause is None:
        raise NotFound()
    ids = same_clauses(clause)
    found = list(
        findings(user)
        .filter(clause_id__in=ids)
        .select_related(*FINDING_RELATED)
        .order_by("-raised_at", "-id")[:TRACE_MAX]
    )
    by_rect: dict[int, list[RectificationRound]] = {}
    rect_ids = [f.rectification.pk for f in found if rect_of(f) is not None]
    for r in (
        RectificationRound.objects.filter(rectification_id__in=rect_ids)
        .select_related("submitted_by", "verified_by")
        .prefetch_related("photos")
        .order_by("rectification_id", "number")
    ):
        by_rect.setdefault(r.rectification_id, []).append(r)
    rows = []
    for f in found:
        rect = rect_of(f)
        rows.append(
            {
                "finding": f,
                "rectification": rect,
                "rounds": by_rect.get(rect.pk, []) if rect else [],
            }
        )
    return {"clause": clause, "clause_ids": ids, "findings": rows}


def is_late(rect: Rectification, now: datetime) -> bool:
    """As ``_late``, for one loaded order."""
    return rect.status in OPEN_RECTIFICATION and (rect.overdue or rect.deadline < now)


def rect_of(f: Finding) -> Rectification | None:
    """The finding's order, or None (without raising) before it has one."""
    try:
        return f.rectification
    except Rectification.DoesNotExist:
        return None


def clause_choices(user: Any, org: Any) -> list[dict[str, Any]]:
    """The clauses of the standards in force at ``org``, for the ad hoc finding picker:
    clauses behind a checklist item or a schedule first, then the rest in order.
    NotFound when the user neither oversees nor answers for ``org``."""
    org_id = org if isinstance(org, int) else org.pk
    if org_id not in set(overseen_org_ids(user)) | set(party_org_ids(user)):
        raise NotFound()
    rules = effective_rules(org_id)
    versions = {r.version_id for r in rules}
    first: set[tuple[int, str]] = set()
    for r in rules:
        if r.kind in (RuleKind.CHECKLIST, RuleKind.SCHEDULE):
            first.add((r.version_id, r.clause_number))
        if r.kind == RuleKind.CHECKLIST:
            for it in r.params.items:  # type: ignore[union-attr]
                if it.clause:
                    first.add((r.version_id, it.clause))
    rows = Clause.objects.filter(version_id__in=versions).select_related("version__standard")
    out = [
        {
            "id": c.pk,
            "number": c.number,
            "text": c.text,
            "severity": c.severity,
            "binding": c.binding,
            "standard_code": c.version.standard.code,
            "version_number": c.version.number,
            "suggested": (c.version_id, c.number) in first,
            "position": c.position,
        }
        for c in rows
    ]
    out.sort(key=lambda c: (not c["suggested"], c["standard_code"], c["position"]))
    return out
