"""Figures of the resource pool (资源统计) over a period, for the orgs a user oversees.

``pool_stats(user, start=…, end=…)`` counts only what belongs to the orgs where the user
holds ``resources.view_all`` or ``resources.manage`` (``queries.overseen_org_ids``),
narrowed to one org's subtree with ``org_id``. The period is the local days [start, end]
(Asia/Shanghai, inclusive, at most ``MAX_DAYS``). Each figure says whose it is:

- **utilisation**, by kind and by owner (the resource's org):
  - time kinds (venue, facility, vehicle; manpower, volunteer team) in *resource-hours*:
    held = Σ over allocations that held the resource (approved, in use, returned) of
    their hours inside the period, a headcount allocation weighted by amount/capacity
    (10 of a team of 20 for 3 h = 1.5); open = the hours of the resource's weekly
    windows in the period (24 h a day without windows) less its closures inside them;
    utilisation = held / open;
  - stock kinds (asset, fund): handed out = the amounts of allocations approved in the
    period (still approved, in use, completed or returned: a cancelled one gave its stock
    back), received = the resources' quantity; utilisation = handed out / received,
    per kind only (pieces and yuan do not add up);
  - the resources counted are the active ones plus any inactive one used in the period;
- **demands** (the demand's org), posted in the period and not cancelled: fulfilment
  rate = (matched + fulfilled) / all of them; time to match = hours from posting to the
  first approved allocation (``matched_at``), median and 90th percentile (linear
  interpolation between the closest ranks, as numpy's default);
- **savings from reuse** (the requesting org): Σ ``allocation.saved`` (amount × unit
  value of what the warehouse handed out) of allocations approved in the period and not
  cancelled. The 公物仓's OUT transfers carry the same value and are not added again;
- **volunteer hours** (by the volunteer's team): hours recorded on attended sign-ups of
  activities that start in the period and are organised by an org in scope;
- **micro-projects** by status (the project's org): those whose planned span
  [starts_on, ends_on] (open-ended when unset) meets the period, with budget, spent and
  beneficiaries;
- **by_centre** (一盘棋): the same figures for every centre (市 or 县) side by side, each
  over the orgs whose nearest centre it is (the city's row is the city's own units).

A fixed number of queries (about 14) whatever the volume: orgs are loaded once, every
other figure is one ``GROUP BY`` or one narrow row list.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils.translation import gettext as _

from dayuan.bookings.queries import _short_org_name
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from . import queries
from .choices import (
    HEADCOUNT_KINDS,
    STOCK_KINDS,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
)
from .models import Allocation, Closure, Demand, MicroProject, Resource, SignUp

MAX_DAYS = 366
# allocations that held a time resource (a returned one held it until it came back)
TIME_HELD = (
    AllocationStatus.APPROVED,
    AllocationStatus.IN_USE,
    AllocationStatus.RETURNED,
    AllocationStatus.COMPLETED,
)
# allocations that took stock and kept it (a cancelled or rejected one took nothing)
STOCK_TAKEN = TIME_HELD
FULFILLED = (DemandStatus.MATCHED, DemandStatus.FULFILLED)
TIME_KINDS = tuple(k for k in ResourceKind.values if k not in STOCK_KINDS)
_REF_MONDAY = date(2024, 1, 1)  # any Monday: weekly windows are the same every week


# --- the figures -----------------------------------------------------------------------


@dataclass
class KindUse:
    """Utilisation of one kind (overall, for one owner, or for one centre)."""

    kind: str
    label: str
    resources: int = 0
    used: float = 0.0  # time kinds: resource-hours held; stock: units handed out
    capacity: float = 0.0  # time kinds: open resource-hours; stock: units received
    allocations: int = 0  # the allocations counted in ``used``
    rate: float | None = None  # used / capacity


@dataclass
class OwnerUse:
    """Utilisation of the resources one org offers."""

    org_id: int
    name: str
    centre_id: int | None
    centre_name: str
    resources: int = 0
    time_rate: float | None = None  # over its time kinds, in resource-hours
    kinds: list[KindUse] = field(default_factory=list)  # only the kinds it offers


@dataclass
class DemandFigures:
    """Demands posted in the period (not cancelled): overall, per kind, per org."""

    label: str
    org_id: int | None = None
    kind: str | None = None
    posted: int = 0
    fulfilled: int = 0  # matched or fulfilled
    rate: float | None = None  # fulfilled / posted
    matched: int = 0  # with a matching time (time to match known)
    median_hours: float | None = None
    p90_hours: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass
class OrgSaving:
    org_id: int
    name: str
    allocations: int  # allocations with a saving
    saved: Decimal


@dataclass
class TeamHours:
    org_id: int
    name: str
    hours: Decimal
    attendances: int
    volunteers: int


@dataclass
class ProjectRow:
    status: str
    label: str
    projects: int = 0
    budget: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    beneficiaries: int = 0


@dataclass
class CentreRow:
    """One centre's figures (一盘棋): over the orgs whose nearest centre it is."""

    org_id: int
    name: str  # short: 甲县, not 甲县机关服务中心
    resources: int = 0
    time_rate: float | None = None
    kinds: list[KindUse] = field(default_factory=list)  # every kind, in kind order
    demands: DemandFigures | None = None
    saved: Decimal = Decimal(0)
    volunteer_hours: Decimal = Decimal(0)
    projects: int = 0


@dataclass
class PoolStats:
    start: date
    end: date
    org_id: int | None
    resources: int = 0
    time_rate: float | None = None  # every time kind together, in resource-hours
    by_kind: list[KindUse] = field(default_factory=list)  # every kind, in kind order
    by_owner: list[OwnerUse] = field(default_factory=list)  # by centre, then org path
    demands: DemandFigures | None = None
    demands_by_kind: list[DemandFigures] = field(default_factory=list)  # every kind
    demands_by_org: list[DemandFigures] = field(default_factory=list)  # orgs that posted
    saved: Decimal = Decimal(0)
    savings_by_org: list[OrgSaving] = field(default_factory=list)  # most saved first
    volunteer_hours: Decimal = Decimal(0)
    attendances: int = 0
    volunteers: int = 0
    hours_by_team: list[TeamHours] = field(default_factory=list)  # most hours first
    projects: list[ProjectRow] = field(default_factory=list)  # every status
    by_centre: list[CentreRow] = field(default_factory=list)  # by org path

    def as_dict(self) -> dict[str, Any]:
        """Plain dicts and lists (dates, Decimals as they are) for JSON or templates."""
        return asdict(self)


# --- helpers ---------------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation between the
    closest ranks (numpy's default): the median of [1, 2, 3, 10] is 2.5, its 90th
    percentile 7.9. None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 2)


def _hours(d: timedelta | None) -> float:
    return d.total_seconds() / 3600 if d else 0.0


def _kind_label(kind: str) -> str:
    return str(ResourceKind(kind).label)


def _weekday_counts(start: date, end: date) -> list[int]:
    """How many of each weekday (Monday 0) the days [start, end] hold."""
    days = (end - start).days + 1
    counts = [days // 7] * 7
    for i in range(days % 7):
        counts[(start.weekday() + i) % 7] += 1
    return counts


def _spans_hours(windows: list[dict[str, Any]], day: date) -> float:
    spans = queries.merged([(s.start_at, s.end_at) for s in queries.open_spans(windows, day)])
    return sum(_hours(b - a) for a, b in spans)


class _OpenHours:
    """Open hours of a resource's weekly windows over the period, less its closures
    inside them; the weekly pattern is computed once per distinct set of windows."""

    def __init__(self, start: date, end: date) -> None:
        self.start, self.end = start, end
        self.counts = _weekday_counts(start, end)
        self.lo = queries.local_midnight(start)
        self.hi = queries.local_midnight(end + timedelta(days=1))
        self._weekly: dict[str, list[float]] = {}

    def weekly(self, windows: list[dict[str, Any]]) -> list[float]:
        key = json.dumps(windows or [], sort_keys=True, ensure_ascii=False)
        if key not in self._weekly:
            self._weekly[key] = [
                _spans_hours(windows, _REF_MONDAY + timedelta(days=wd)) for wd in range(7)
            ]
        return self._weekly[key]

    def hours(
        self, windows: list[dict[str, Any]], closures: list[tuple[datetime, datetime]]
    ) -> float:
        total = sum(c * h for c, h in zip(self.counts, self.weekly(windows), strict=True))
        for a, b in queries.merged(
            [(max(a, self.lo), min(b, self.hi)) for a, b in closures if a < self.hi and b > self.lo]
        ):
            day = a.astimezone(queries.SHANGHAI).date()
            while queries.local_midnight(day) < b:
                for s in queries.open_spans(windows, day):
                    overlap = min(b, s.end_at) - max(a, s.start_at)
                    if overlap > timedelta(0):
                        total -= _hours(overlap)
                day += timedelta(days=1)
        return max(total, 0.0)


@dataclass
class _Orgs:
    """Every organisation (they are few), with its nearest centre."""

    name: dict[int, str]
    path: dict[int, str]
    centre: dict[int, int | None]

    @classmethod
    def load(cls) -> _Orgs:
        rows = list(Organization.objects.values_list("pk", "parent_id", "kind", "name", "path"))
        parent = {pk: p for pk, p, _k, _n, _p in rows}
        kind = {pk: k for pk, _p, k, _n, _p2 in rows}
        centres = set(OrgKind.centres())
        centre: dict[int, int | None] = {}
        for pk in parent:
            node: int | None = pk
            while node is not None and kind[node] not in centres:
                node = parent[node]
            centre[pk] = node
        return cls(
            name={pk: n for pk, _p, _k, n, _p2 in rows},
            path={pk: p for pk, _p, _k, _n, p in rows},
            centre=centre,
        )


def _check_range(start: date, end: date) -> None:
    if start > end or (end - start).days >= MAX_DAYS:
        raise InvalidInput(
            _("日期范围无效：开始日期须不晚于结束日期，且跨度不超过 %(days)s 天。")
            % {"days": MAX_DAYS},
            code="bad_range",
            field="start",
        )


class _Use:
    """Accumulates utilisation per kind for one group (all, an owner, a centre)."""

    def __init__(self) -> None:
        self.kinds: dict[str, KindUse] = {}

    def add(self, kind: str, used: float, capacity: float, allocations: int) -> None:
        k = self.kinds.get(kind)
        if k is None:
            k = self.kinds[kind] = KindUse(kind=kind, label=_kind_label(kind))
        k.resources += 1
        k.used += used
        k.capacity += capacity
        k.allocations += allocations

    def rows(self, every_kind: bool) -> list[KindUse]:
        out = []
        for kind in ResourceKind.values:
            k = self.kinds.get(kind)
            if k is None:
                if not every_kind:
                    continue
                k = KindUse(kind=kind, label=_kind_label(kind))
            k.used, k.capacity = round(k.used, 2), round(k.capacity, 2)
            k.rate = _ratio(k.used, k.capacity)
            out.append(k)
        return out

    def resources(self) -> int:
        return sum(k.resources for k in self.kinds.values())

    def time_rate(self) -> float | None:
        used = sum(k.used for k in self.kinds.values() if k.kind not in STOCK_KINDS)
        capacity = sum(k.capacity for k in self.kinds.values() if k.kind not in STOCK_KINDS)
        return _ratio(used, capacity)


class _Demands:
    """Accumulates demand figures for one group."""

    def __init__(self, label: str, **key: Any) -> None:
        self.fig = DemandFigures(label=label, **key)
        self.waits: list[float] = []

    def count(self, status: str, n: int) -> None:
        self.fig.by_status[status] = self.fig.by_status.get(status, 0) + n
        self.fig.posted += n
        if status in FULFILLED:
            self.fig.fulfilled += n

    def done(self) -> DemandFigures:
        f = self.fig
        f.rate = _ratio(f.fulfilled, f.posted)
        f.matched = len(self.waits)
        f.median_hours = percentile(self.waits, 0.5)
        f.p90_hours = percentile(self.waits, 0.9)
        return f


# --- the report ------------------------------------------------------------------------


def pool_stats(user: Any, *, start: date, end: date, org_id: int | None = None) -> PoolStats:
    """The pool's figures over the local days [start, end] for the orgs ``user``
    oversees (``org_id``: that org's subtree, NotFound when it is not among them; a user
    who oversees nothing gets empty figures). See the module docstring for each figure."""
    _check_range(start, end)
    overseen = set(queries.overseen_org_ids(user))
    orgs = _Orgs.load()
    if org_id is not None:
        if org_id not in overseen:
            raise NotFound()
        root = orgs.path[org_id]
        scope = sorted(pk for pk in overseen if orgs.path[pk].startswith(root))
    else:
        scope = sorted(overseen)
    stats = PoolStats(start=start, end=end, org_id=org_id)
    lo = queries.local_midnight(start)
    hi = queries.local_midnight(end + timedelta(days=1))

    def centre_of(pk: int) -> int | None:
        return orgs.centre.get(pk)

    centres = sorted(
        {c for c in (centre_of(pk) for pk in scope) if c is not None}, key=lambda c: orgs.path[c]
    )

    # -- utilisation
    resources = list(
        Resource.objects.filter(org_id__in=scope)
        .values_list("pk", "org_id", "kind", "capacity", "quantity", "windows", "is_active")
        .order_by()
    )
    closures: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for rid, a, b in (
        Closure.objects.filter(resource__org_id__in=scope, start_at__lt=hi, end_at__gt=lo)
        .values_list("resource_id", "start_at", "end_at")
        .order_by()
    ):
        closures[rid].append((a, b))
    clipped = ExpressionWrapper(
        Least(F("end_at"), Value(hi)) - Greatest(F("start_at"), Value(lo)),
        output_field=DurationField(),
    )
    held: dict[int, list[tuple[int, float, int]]] = defaultdict(list)  # amount, hours, n
    for r in (
        Allocation.objects.filter(
            org_id__in=scope,
            status__in=TIME_HELD,
            resource__kind__in=TIME_KINDS,
            start_at__lt=hi,
            end_at__gt=lo,
        )
        .values("resource_id", "amount")
        .annotate(d=Sum(clipped), n=Count("pk"))
        .order_by()
    ):
        held[r["resource_id"]].append((r["amount"], _hours(r["d"]), r["n"]))
    taken: dict[int, tuple[int, int]] = {}
    for r in (
        Allocation.objects.filter(
            org_id__in=scope, status__in=STOCK_TAKEN, resource__kind__in=STOCK_KINDS
        )
        .annotate(taken_at=Coalesce("decided_at", "requested_at"))
        .filter(taken_at__gte=lo, taken_at__lt=hi)
        .values("resource_id")
        .annotate(units=Sum("amount"), n=Count("pk"))
        .order_by()
    ):
        taken[r["resource_id"]] = (r["units"] or 0, r["n"])

    hours = _OpenHours(start, end)
    total, by_owner, by_centre = _Use(), defaultdict(_Use), defaultdict(_Use)
    for rid, owner, kind, capacity, quantity, windows, active in resources:
        if kind in STOCK_KINDS:
            units, n = taken.get(rid, (0, 0))
            if not active and not n:
                continue
            used, cap = float(units), float(quantity)
        else:
            rows = held.get(rid, [])
            if not active and not rows:
                continue
            n = sum(x[2] for x in rows)
            if kind in HEADCOUNT_KINDS:
                used = sum(a * h for a, h, _n in rows) / capacity if capacity else 0.0
            else:
                used = sum(h for _a, h, _n in rows)
            cap = hours.hours(windows, closures.get(rid, []))
        for acc in (total, by_owner[owner], by_centre[centre_of(owner)]):
            acc.add(kind, used, cap, n)
    stats.resources = total.resources()
    stats.time_rate = total.time_rate()
    stats.by_kind = total.rows(every_kind=True)
    for owner in sorted(
        by_owner, key=lambda pk: (orgs.path.get(centre_of(pk) or 0, ""), orgs.path[pk])
    ):
        acc = by_owner[owner]
        c = centre_of(owner)
        stats.by_owner.append(
            OwnerUse(
                org_id=owner,
                name=orgs.name[owner],
                centre_id=c,
                centre_name=_short_org_name(orgs.name[c]) if c else "",
                resources=acc.resources(),
                time_rate=acc.time_rate(),
                kinds=acc.rows(every_kind=False),
            )
        )

    # -- demands
    all_d = _Demands(_("全部"))
    kind_d = {k: _Demands(_kind_label(k), kind=k) for k in ResourceKind.values}
    org_d: dict[int, _Demands] = {}
    centre_d: dict[int | None, _Demands] = {}

    def demand_groups(org: int, kind: str) -> list[_Demands]:
        if org not in org_d:
            org_d[org] = _Demands(orgs.name[org], org_id=org)
        c = centre_of(org)
        if c not in centre_d:
            centre_d[c] = _Demands(_short_org_name(orgs.name[c]) if c else "", org_id=c)
        groups = [all_d, org_d[org], centre_d[c]]
        if kind in kind_d:
            groups.append(kind_d[kind])
        return groups

    posted = Demand.objects.filter(org_id__in=scope, posted_at__gte=lo, posted_at__lt=hi).exclude(
        status=DemandStatus.CANCELLED
    )
    for r in posted.values("org_id", "kind", "status").annotate(n=Count("pk")).order_by():
        for g in demand_groups(r["org_id"], r["kind"]):
            g.count(r["status"], r["n"])
    for org, kind, p, m in posted.filter(matched_at__isnull=False).values_list(
        "org_id", "kind", "posted_at", "matched_at"
    ):
        wait = max(_hours(m - p), 0.0)
        for g in demand_groups(org, kind):
            g.waits.append(wait)
    stats.demands = all_d.done()
    stats.demands_by_kind = [kind_d[k].done() for k in ResourceKind.values]
    stats.demands_by_org = [org_d[pk].done() for pk in sorted(org_d, key=lambda pk: orgs.path[pk])]

    # -- savings from reuse
    saved_by_centre: dict[int | None, Decimal] = defaultdict(Decimal)
    for r in (
        Allocation.objects.filter(requester_org_id__in=scope, status__in=STOCK_TAKEN, saved__gt=0)
        .annotate(taken_at=Coalesce("decided_at", "requested_at"))
        .filter(taken_at__gte=lo, taken_at__lt=hi)
        .values("requester_org_id")
        .annotate(saved=Sum("saved"), n=Count("pk"))
        .order_by()
    ):
        org = r["requester_org_id"]
        stats.savings_by_org.append(OrgSaving(org, orgs.name[org], r["n"], r["saved"]))
        saved_by_centre[centre_of(org)] += r["saved"]
    stats.savings_by_org.sort(key=lambda s: (-s.saved, orgs.path[s.org_id]))
    stats.saved = sum((s.saved for s in stats.savings_by_org), Decimal(0))

    # -- volunteer hours
    attended = SignUp.objects.filter(
        status=SignUpStatus.ATTENDED,
        activity__org_id__in=scope,
        activity__start_at__gte=lo,
        activity__start_at__lt=hi,
    )
    for r in (
        attended.values("volunteer__org_id")
        .annotate(hours=Sum("hours"), n=Count("pk"), people=Count("volunteer_id", distinct=True))
        .order_by()
    ):
        team = r["volunteer__org_id"]
        stats.hours_by_team.append(
            TeamHours(team, orgs.name[team], r["hours"] or Decimal(0), r["n"], r["people"])
        )
    stats.hours_by_team.sort(key=lambda t: (-t.hours, orgs.path[t.org_id]))
    stats.volunteer_hours = sum((t.hours for t in stats.hours_by_team), Decimal(0))
    stats.attendances = sum(t.attendances for t in stats.hours_by_team)
    stats.volunteers = sum(t.volunteers for t in stats.hours_by_team)
    hours_by_centre: dict[int | None, Decimal] = defaultdict(Decimal)
    for r in attended.values("activity__org_id").annotate(hours=Sum("hours")).order_by():
        hours_by_centre[centre_of(r["activity__org_id"])] += r["hours"] or Decimal(0)

    # -- micro-projects
    rows = {s: ProjectRow(s, str(ProjectStatus(s).label)) for s in ProjectStatus.values}
    projects_by_centre: dict[int | None, int] = defaultdict(int)
    for r in (
        MicroProject.objects.filter(org_id__in=scope)
        .filter(Q(starts_on__lte=end) | Q(starts_on__isnull=True))
        .filter(Q(ends_on__gte=start) | Q(ends_on__isnull=True))
        .values("org_id", "status")
        .annotate(
            n=Count("pk"), budget=Sum("budget"), spent=Sum("spent"), people=Sum("beneficiaries")
        )
        .order_by()
    ):
        row = rows[r["status"]]
        row.projects += r["n"]
        row.budget += r["budget"] or 0
        row.spent += r["spent"] or 0
        row.beneficiaries += r["people"] or 0
        projects_by_centre[centre_of(r["org_id"])] += r["n"]
    stats.projects = list(rows.values())

    # -- 一盘棋: every centre side by side
    for c in centres:
        use = by_centre.get(c) or _Use()
        demands = centre_d.get(c)
        stats.by_centre.append(
            CentreRow(
                org_id=c,
                name=_short_org_name(orgs.name[c]),
                resources=use.resources(),
                time_rate=use.time_rate(),
                kinds=use.rows(every_kind=True),
                demands=demands.done()
                if demands
                else DemandFigures(label=_short_org_name(orgs.name[c]), org_id=c),
                saved=saved_by_centre.get(c, Decimal(0)),
                volunteer_hours=hours_by_centre.get(c, Decimal(0)),
                projects=projects_by_centre.get(c, 0),
            )
        )
    return stats
