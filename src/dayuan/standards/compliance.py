"""Compliance measured clause by clause, from the stored judgments.

Every read is scoped: only the judgments of organisations the user reaches are
counted, so a county sees its own numbers and the city sees every county. Each
function is a fixed number of aggregate queries whatever the number of judgments
(the indexes on Judgment (org, clause, at) and (clause, outcome) carry them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.core.models import PATH_STEP
from dayuan.core.scope import scope_paths, scoped

from .choices import Outcome, StandardStatus, VersionStatus
from .models import Clause, Judgment, Standard
from .queries import library

# Below this rate a clause counts as "low compliance" in revision proposals.
LOW_RATE = 0.9


@dataclass(frozen=True)
class ClauseStat:
    clause_id: int
    standard_code: str
    clause_number: str
    clause_text: str
    severity: str
    total: int
    passed: int
    failed: int
    na: int
    rate: float | None  # passed / (passed + failed); None when nothing was judged
    standard_id: int = 0
    standard_title: str = ""
    version_number: int = 0
    position: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OrgStat:
    org_id: int
    org_name: str
    total: int
    passed: int
    failed: int
    na: int
    rate: float | None


def visible_standards(user: Any) -> QuerySet[Standard]:
    """The standards the user may read (the shared library rule of ``queries.library``)."""
    return library(user)


def _aware(value: date | datetime, *, end: bool = False) -> datetime:
    """A date as the start of that day (or of the next day for ``end``), in local time."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if end:
        value = value + timedelta(days=1)
    return timezone.make_aware(datetime.combine(value, time.min))


def judgments(
    user: Any,
    *,
    standard_id: int | None = None,
    clause_id: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> QuerySet[Judgment]:
    """The user's judgments, filtered. ``org_id`` means that org's subtree; ``until``
    as a date includes that whole day. An org the user does not reach is NotFound."""
    qs = scoped(user, Judgment.objects.all())
    if standard_id is not None:
        qs = qs.filter(clause__version__standard_id=standard_id)
    if clause_id is not None:
        qs = qs.filter(clause_id=clause_id)
    if org_id is not None:
        from dayuan.orgs.models import Organization

        org = scoped(user, Organization.objects.filter(pk=org_id)).first()
        if org is None:
            raise NotFound()
        qs = qs.filter(org__path__startswith=org.path)
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if vendor_id is not None:
        qs = qs.filter(vendor_id=vendor_id)
    if since is not None:
        qs = qs.filter(at__gte=_aware(since))
    if until is not None:
        if isinstance(until, datetime):
            qs = qs.filter(at__lte=_aware(until))
        else:
            qs = qs.filter(at__lt=_aware(until, end=True))
    return qs


def _counts() -> dict[str, Any]:
    return {
        "total": Count("id"),
        "passed": Count("id", filter=Q(outcome=Outcome.PASS)),
        "failed": Count("id", filter=Q(outcome=Outcome.FAIL)),
        "na": Count("id", filter=Q(outcome=Outcome.NA)),
    }


def rate(passed: int, failed: int) -> float | None:
    judged = passed + failed
    return passed / judged if judged else None


_CLAUSE_FIELDS = (
    "pk",
    "number",
    "text",
    "severity",
    "position",
    "version__number",
    "version__standard_id",
    "version__standard__code",
    "version__standard__title",
)


def _stats(rows: list[dict[str, Any]]) -> list[ClauseStat]:
    """Counts grouped by clause id, joined to their clauses with one more query."""
    info = {
        c["pk"]: c
        for c in Clause.objects.filter(pk__in=[r["clause_id"] for r in rows]).values(
            *_CLAUSE_FIELDS
        )
    }
    out = []
    for r in rows:
        c = info.get(r["clause_id"])
        if c is None:
            continue
        out.append(
            ClauseStat(
                clause_id=r["clause_id"],
                standard_code=c["version__standard__code"],
                clause_number=c["number"],
                clause_text=c["text"],
                severity=c["severity"],
                total=r["total"],
                passed=r["passed"],
                failed=r["failed"],
                na=r["na"],
                rate=rate(r["passed"], r["failed"]),
                standard_id=c["version__standard_id"],
                standard_title=c["version__standard__title"],
                version_number=c["version__number"],
                position=c["position"],
            )
        )
    return out


def _grouped(user: Any, **filters: Any) -> QuerySet[Any]:
    """One GROUP BY clause_id over the user's judgments: no joins unless a filter needs one."""
    return judgments(user, **filters).values("clause_id").annotate(**_counts())


def clause_compliance(
    user: Any,
    *,
    standard_id: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> list[ClauseStat]:
    """Per-clause counts and rate, in standard and clause order. Two queries after the
    user's grants: the GROUP BY over judgments, then the clauses it names."""
    rows = list(
        _grouped(
            user,
            standard_id=standard_id,
            org_id=org_id,
            location_id=location_id,
            vendor_id=vendor_id,
            since=since,
            until=until,
        ).order_by()
    )
    stats = _stats(rows)
    stats.sort(key=lambda s: (s.standard_code, s.version_number, s.position, s.clause_number))
    return stats


def most_violated(user: Any, limit: int = 10, **filters: Any) -> list[ClauseStat]:
    """Clauses with the most failures (then the lowest rate), failures only."""
    rows = list(
        _grouped(user, **filters)
        .filter(failed__gt=0)
        # Equal failures: fewer passes is the lower rate.
        .order_by("-failed", "passed", "clause_id")[: max(limit, 0)]
    )
    return _stats(rows)


def in_force_clauses(standard_ids: Any) -> QuerySet[Clause]:
    """Clauses that carry rules in the versions currently in force (published, pilots
    included) of the given standards."""
    return Clause.objects.filter(
        version__standard_id__in=standard_ids,
        version__status=VersionStatus.PUBLISHED,
        version__standard__status=StandardStatus.PUBLISHED,
        rules__isnull=False,
    ).distinct()


def never_exercised(
    user: Any,
    standard_id: int | None = None,
    *,
    org_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> list[Clause]:
    """Clauses with rules, of the in-force versions, that nobody in the user's scope
    was judged under in the period: either unused or never reached by the platform."""
    standards = visible_standards(user)
    if standard_id is not None:
        if not standards.filter(pk=standard_id).exists():
            raise NotFound()
        ids: Any = [standard_id]
    else:
        ids = standards.values("pk")
    used = judgments(user, org_id=org_id, since=since, until=until).filter(clause_id=OuterRef("pk"))
    return list(
        in_force_clauses(ids)
        .filter(~Exists(used))
        .select_related("version__standard")
        .order_by("version__standard__code", "position")
    )


def _months_back(today: date, months: int) -> date:
    year, month = today.year, today.month - (months - 1)
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


def trend(
    user: Any, clause_id: int | None = None, months: int = 12, **filters: Any
) -> list[dict[str, Any]]:
    """Monthly compliance over the last ``months`` months (local time), empty months
    included with a None rate, for a line chart."""
    months = max(1, min(months, 60))
    today = timezone.localdate()
    start = _months_back(today, months)
    filters.setdefault("since", start)
    rows = (
        judgments(user, clause_id=clause_id, **filters)
        .annotate(month=TruncMonth("at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(**_counts())
        .order_by("month")
    )
    by_month = {}
    for r in rows:
        m = r["month"]
        key = (m.year, m.month) if m is not None else None
        by_month[key] = r
    out = []
    y, mth = start.year, start.month
    for _i in range(months):
        r = by_month.get((y, mth), {"total": 0, "passed": 0, "failed": 0, "na": 0})
        out.append(
            {
                "month": f"{y:04d}-{mth:02d}",
                "total": r["total"],
                "passed": r["passed"],
                "failed": r["failed"],
                "na": r["na"],
                "rate": rate(r["passed"], r["failed"]),
            }
        )
        mth += 1
        if mth == 13:
            y, mth = y + 1, 1
    return out


def by_org(user: Any, *, org_id: int | None = None, **filters: Any) -> list[OrgStat]:
    """Compliance per unit, side by side: the judgments of each organisation are rolled
    up to the child of the user's top organisation (or of ``org_id``) they fall under,
    so the city sees one row per county. Two queries."""
    from dayuan.orgs.models import Organization

    if org_id is not None:
        root = scoped(user, Organization.objects.filter(pk=org_id)).first()
        if root is None:
            raise NotFound()
        roots = [root.path]
    else:
        roots = scope_paths(user)
    rows = (
        judgments(user, org_id=org_id, **filters)
        .values("org__path")
        .annotate(**_counts())
        .order_by("org__path")
    )
    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        path = r["org__path"]
        root = next((p for p in roots if path.startswith(p)), None)
        if root is None:
            continue
        unit = path[: len(root) + PATH_STEP + 1] if len(path) > len(root) else root
        acc = totals.setdefault(unit, {"total": 0, "passed": 0, "failed": 0, "na": 0})
        for k in acc:
            acc[k] += r[k]
    orgs = {
        path: (pk, name)
        for path, pk, name in Organization.objects.filter(path__in=list(totals)).values_list(
            "path", "pk", "name"
        )
    }
    return [
        OrgStat(
            org_id=orgs.get(p, (0, ""))[0],
            org_name=orgs.get(p, (0, ""))[1],
            rate=rate(v["passed"], v["failed"]),
            **v,
        )
        for p, v in sorted(totals.items())
    ]
