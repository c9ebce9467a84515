"""Plans from ``schedule`` rules: occurrences ahead, and missed ones turned into findings.

``generate_occurrences`` is idempotent (one row per activity, target and period start:
the unique constraint decides, ``ignore_conflicts`` skips what exists). Each centre
(city or county) generates for the locations and assets of its own units, by the
rules in force for it; a unit under a nested centre belongs to that centre.

``detect_missed`` claims each overdue occurrence with a conditional UPDATE (pending →
missed), so two runs at once raise one finding per occurrence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.notifications.services import emit
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Location, Organization
from dayuan.standards import engine
from dayuan.standards.choices import RuleKind
from dayuan.standards.effective import effective_rules
from dayuan.workorders.models import TeamMember

from . import events
from .choices import FindingSource, OccurrenceStatus
from .models import Asset, PlanAssignment, PlanOccurrence

log = logging.getLogger(__name__)

BATCH = 5000


def _unit_org_ids(centre: Organization, orgs: list[Organization]) -> list[int]:
    """The orgs whose nearest centre is ``centre``."""
    nested = [
        o.path
        for o in orgs
        if o.kind in OrgKind.centres() and o.pk != centre.pk and o.path.startswith(centre.path)
    ]
    return [
        o.pk
        for o in orgs
        if o.path.startswith(centre.path) and not any(o.path.startswith(p) for p in nested)
    ]


class _Target(NamedTuple):
    key: str  # target_key: "loc:<id>" or "asset:<id>"
    location_id: int
    asset_id: int | None
    path: str  # the location's path
    org_path: str  # the path of the location's (or asset's) org


def _pick(assignments: list[PlanAssignment], target: _Target) -> PlanAssignment | None:
    """The most specific assignment whose org and location subtree hold the target."""
    best, best_rank = None, (-1, -1)
    for a in assignments:
        if not target.org_path.startswith(a.org.path):
            continue
        loc_path = a.location.path if a.location_id else ""
        if not target.path.startswith(loc_path):
            continue
        rank = (len(loc_path), len(a.org.path))
        if rank > best_rank:
            best, best_rank = a, rank
    return best


def _targets(
    unit_ids: list[int], tags: set[str], asset_types: set[str]
) -> tuple[dict[str, list[_Target]], dict[str, list[_Target]]]:
    by_tag: dict[str, list[_Target]] = {t: [] for t in tags}
    by_type: dict[str, list[_Target]] = {t: [] for t in asset_types}
    if tags:
        for pk, path, loc_tags, org_path in Location.objects.filter(
            org_id__in=unit_ids, is_active=True
        ).values_list("pk", "path", "tags", "org__path"):
            for tag in tags.intersection(loc_tags or ()):
                by_tag[tag].append(_Target(f"loc:{pk}", pk, None, path, org_path))
    if asset_types:
        for pk, asset_type, loc_id, path, org_path in (
            Asset.objects.filter(org_id__in=unit_ids, is_active=True, asset_type__in=asset_types)
            .order_by("pk")
            .values_list("pk", "asset_type", "location_id", "location__path", "org__path")
        ):
            by_type[asset_type].append(_Target(f"asset:{pk}", loc_id, pk, path, org_path))
    return by_tag, by_type


def _rows(
    centre: Organization, occurrences: list[engine.Occurrence], unit_ids: list[int]
) -> Iterator[PlanOccurrence]:
    tags = {o.target for o in occurrences if o.target_type == "location_tag"}
    types = {o.target for o in occurrences if o.target_type == "asset_type"}
    by_tag, by_type = _targets(unit_ids, tags, types)
    assignments: dict[str, list[PlanAssignment]] = {}
    for a in PlanAssignment.objects.filter(org_id__in=unit_ids, is_active=True).select_related(
        "org", "location"
    ):
        assignments.setdefault(a.activity, []).append(a)
    picked: dict[tuple[str, str], PlanAssignment | None] = {}
    for occ in occurrences:
        targets = (by_tag if occ.target_type == "location_tag" else by_type).get(occ.target, [])
        due = occ.period_end + timedelta(hours=occ.grace_hours)
        for t in targets:
            cache_key = (occ.activity, t.key)
            if cache_key not in picked:
                picked[cache_key] = _pick(assignments.get(occ.activity, []), t)
            a = picked[cache_key]
            yield PlanOccurrence(
                org_id=centre.pk,
                rule_id=occ.rule_id,
                clause_id=occ.clause_id,
                activity=occ.activity,
                target_key=t.key,
                location_id=t.location_id,
                asset_id=t.asset_id,
                period_start=occ.period_start,
                period_end=occ.period_end,
                due_at=due,
                assignment=a,
                team_id=a.team_id if a else None,
                inspector_id=a.inspector_id if a else None,
                vendor_id=a.vendor_id if a else None,
            )


def generate_occurrences(*, org: Organization | None = None, start: datetime, end: datetime) -> int:
    """Create the occurrences due in ``[start, end)`` for ``org`` (every centre when
    None); returns how many rows were new."""
    orgs = list(Organization.objects.filter(is_active=True).only("id", "path", "kind"))
    centres = [org] if org is not None else [o for o in orgs if o.kind in OrgKind.centres()]
    created = 0
    for centre in centres:
        rules = effective_rules(centre, kind=RuleKind.SCHEDULE, at=start)
        occurrences = [
            o
            for o in engine.occurrences_of(rules, start, end)
            if o.target_type in ("location_tag", "asset_type")
        ]
        if not occurrences:
            continue
        unit_ids = _unit_org_ids(centre, orgs)
        first = min(o.period_start for o in occurrences)
        last = max(o.period_start for o in occurrences)
        window = PlanOccurrence.objects.filter(
            org_id=centre.pk, period_start__gte=first, period_start__lte=last
        )
        before = window.count()
        batch: list[PlanOccurrence] = []
        for row in _rows(centre, occurrences, unit_ids):
            batch.append(row)
            if len(batch) >= BATCH:
                PlanOccurrence.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        if batch:
            PlanOccurrence.objects.bulk_create(batch, ignore_conflicts=True)
        created += window.count() - before
    return created


def _missed_recipients(occ: PlanOccurrence) -> list[Any]:
    if occ.inspector_id:
        return [occ.inspector]
    if occ.team_id:
        return [
            m.user
            for m in TeamMember.objects.filter(
                team_id=occ.team_id, user__is_active=True
            ).select_related("user")
        ]
    return []


def _mark_missed(occ_id: int, now: datetime) -> bool:
    from .services import open_finding

    with transaction.atomic():
        claimed = PlanOccurrence.objects.filter(pk=occ_id, status=OccurrenceStatus.PENDING).update(
            status=OccurrenceStatus.MISSED
        )
        if not claimed:
            return False  # done meanwhile, or another run took it
        occ = PlanOccurrence.objects.select_related(
            "org", "clause", "location", "location__org", "vendor", "asset", "inspector", "team"
        ).get(pk=occ_id)
        period = (
            f"{timezone.localtime(occ.period_start):%Y-%m-%d %H:%M}"
            f"–{timezone.localtime(occ.period_end):%Y-%m-%d %H:%M}"
        )
        target = occ.asset.name if occ.asset_id else (occ.location.name if occ.location else "")
        description = _("漏检：%(target)s 未在 %(period)s 完成“%(clause)s”") % {
            "target": target,
            "period": period,
            "clause": occ.clause.text[:200],
        }
        finding = open_finding(
            org=occ.org,
            clause=occ.clause,
            rule=occ.rule_id,
            severity=occ.clause.severity,
            location=occ.location,
            vendor=occ.vendor,
            source=FindingSource.MISSED,
            description=description,
            actor=None,
            now=now,
            occurrence=occ,
        )
        recipients = _missed_recipients(occ)
        if recipients:
            emit(
                events.OCCURRENCE_MISSED,
                org=occ.vendor or occ.org,
                recipients=recipients,
                title=_("漏检：%(target)s") % {"target": target},
                body=description,
                link=f"/inspections/findings/{finding.pk}/",
                object=occ,
                dedupe_key=f"occurrence:{occ.pk}:missed",
                payload={"occurrence_id": occ.pk, "finding": finding.number},
            )
    return True


def detect_missed(now: datetime | None = None) -> dict[str, int]:
    """Pending occurrences past their due time (period end plus grace) become missed,
    each with one finding against its clause."""
    now = now or timezone.now()
    ids = list(
        PlanOccurrence.objects.filter(status=OccurrenceStatus.PENDING, due_at__lt=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)
    )
    missed = 0
    for occ_id in ids:
        if _mark_missed(occ_id, now):
            missed += 1
    return {"candidates": len(ids), "missed": missed}
