"""Matching resources to needs: the hard constraints, the cost estimate and the ranking.

Reads only; nothing here writes. Three entry points:

- ``check(resource, need)`` lists every hard constraint one resource fails for a need
  (a demand, or a direct request): the services call it before they write, so a request
  and a match refuse for the same reasons with the same codes;
- ``match(user, demand)`` ranks every resource usable by the demand's poster that
  passes them all, best first, each with its score, the parts of the score and one
  human sentence per part (those too small for the amount are counted in SQL and not
  loaded);
- ``Pool`` is the engine behind ``match`` and the batch (``batch.run_batch``): the
  resources of some kinds loaded once with their closures, holding allocations and
  last-30-days use, as numpy arrays, so one need is checked and scored against
  thousands of resources with a few vector operations and a constant number of queries.
  ``check`` is the plain reference the tests hold the engine to.

Hard constraints (refusal codes in this order; ``match`` counts each excluded resource
once, under the first code it fails):

1. ``kind_mismatch`` — the resource is of another kind;
2. the amount fits: exclusive kinds (venue, facility, vehicle) ``capacity_short`` when
   the people exceed ``capacity``; headcount kinds (manpower, volunteer team)
   ``headcount_exceeded`` when the amount plus the busiest moment of the holding
   allocations overlapping the range exceeds ``capacity``; stock kinds (asset, fund)
   ``insufficient_stock`` when the amount exceeds ``available``;
3. ``attributes_missing`` — the need's attributes are not all among the resource's;
4. time kinds only (exclusive and headcount): ``outside_windows`` — the range is not
   inside the weekly windows (empty list = any time): on every calendar day the range
   touches (Asia/Shanghai), that day's part of it must lie inside one window listing
   the weekday (Monday 0), so a range crossing midnight needs a window on each day; an
   end of ``24:00`` or ``23:59`` means midnight; off-peak (sharing) windows count like
   any other; ``closed`` — a closure overlaps it; ``resource_taken`` (exclusive kinds) —
   a holding allocation overlaps it; ranges are half-open, so 9–11 and 11–13 do not
   overlap;
5. ``over_budget`` — the estimated cost exceeds the need's budget (when it has one);
6. ``not_usable`` — outside ``queries.usable_condition`` of the user (``check`` with a
   user; ``match`` only ever looks at the poster's usable resources).

Estimated cost: free → 0; per hour → cost × hours, the hours rounded up to the half
hour; per use → cost; per unit → cost × amount; rounded to the fen.

Score (what ``match`` ranks by, and the batch's quality) = Σ WEIGHTS[p] × part p, every
part in [0, 1], WEIGHTS = proximity 0.30, fit 0.20, cost 0.20, balance 0.15,
preference 0.15:

- **proximity** = 1 / (1 + d), d the distance in the location tree between the need's
  location and the resource's: depth(a) + depth(b) − 2 × depth(their deepest common
  ancestor), from the materialised paths (two different compounds count as joined one
  level above their roots); when either has no location, the same distance between the
  need's org and the resource's org in the organisation tree, plus 1;
- **fit** = amount / capacity for exclusive kinds (a snug room scores high); 1 otherwise;
- **cost** = 1 when the estimate is 0; with a budget 1 − estimate / budget; without
  one 1 / (1 + estimate / 100 yuan);
- **balance** = 1 − utilisation in the last 30 days: time kinds, the hours held by
  approved, in-use, returned or completed allocations within those 30 days over the
  window hours of 30 days (weekly window hours × 30 / 7; 720 h when always open),
  capped at 1; stock kinds, 1 − available / quantity taken as the utilisation;
- **preference** = 1 when the resource's owner is the need's preferred owner, else the
  owner's preference weight / 100.

Ties are broken by the resource id (older first). Each candidate carries one reason
per part, e.g. 「同一楼栋，距离 2」「可容纳 60 人，需 50 人」「免费」
「预计费用 ¥300，预算 ¥500」「近30天使用率 12%」「优先提供单位」.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.db.models import (
    Count,
    DateTimeField,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dayuan.orgs.choices import LocationKind
from dayuan.orgs.models import Location

from . import queries
from .choices import (
    EXCLUSIVE_KINDS,
    HEADCOUNT_KINDS,
    KIND_UNITS,
    STOCK_KINDS,
    AllocationStatus,
    Attribute,
    CostBasis,
    ResourceKind,
)
from .models import Allocation, Closure, Demand, Resource

SHANGHAI = ZoneInfo("Asia/Shanghai")

WEIGHTS: dict[str, float] = {
    "proximity": 0.30,
    "fit": 0.20,
    "cost": 0.20,
    "balance": 0.15,
    "preference": 0.15,
}

# the order refusals are listed (and the first one an excluded resource is counted under)
REFUSAL_ORDER = (
    "kind_mismatch",
    "capacity_short",
    "headcount_exceeded",
    "insufficient_stock",
    "attributes_missing",
    "outside_windows",
    "closed",
    "resource_taken",
    "over_budget",
    "not_usable",
)

USAGE_DAYS = 30
# allocations that used the resource (for the balance part)
USED = (
    AllocationStatus.APPROVED,
    AllocationStatus.IN_USE,
    AllocationStatus.RETURNED,
    AllocationStatus.COMPLETED,
)
_CENT = Decimal("0.01")
_DAY_MINUTES = 24 * 60


# --- what is asked, and the answers --------------------------------------------------


@dataclass(frozen=True)
class Need:
    """What is asked: a demand, or a direct request."""

    kind: str
    amount: int
    start_at: datetime
    end_at: datetime
    attributes: tuple[str, ...] = ()
    budget: Decimal | None = None
    location_id: int | None = None
    org_id: int | None = None
    preferred_owner_id: int | None = None
    priority: str = "normal"

    @classmethod
    def of(cls, demand: Demand) -> Need:
        return cls(
            kind=demand.kind,
            amount=demand.amount,
            start_at=demand.start_at,
            end_at=demand.end_at,
            attributes=tuple(sorted(set(demand.attributes or ()))),
            budget=demand.budget,
            location_id=demand.location_id,
            org_id=demand.org_id,
            preferred_owner_id=demand.preferred_owner_id,
            priority=demand.priority,
        )


@dataclass(frozen=True)
class Refusal:
    """One failed hard constraint (``message`` already translated)."""

    code: str
    message: str
    details: dict


@dataclass(frozen=True)
class Reason:
    """One line of the ranking's explanation: ``code`` names the part of the score."""

    code: str
    text: str
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "value": self.value}


@dataclass
class Candidate:
    resource: Resource
    score: float
    parts: dict[str, float]
    reasons: list[Reason]
    cost: Decimal


@dataclass
class MatchResult:
    candidates: list[Candidate]  # best first, at most ``limit``
    considered: int  # resources of the kind usable by the poster
    excluded: dict[str, int]  # refusal code -> how many were excluded for it (first code)


# --- shared rules --------------------------------------------------------------------


def is_time_kind(kind: str) -> bool:
    return kind in EXCLUSIVE_KINDS or kind in HEADCOUNT_KINDS


def _minute(value: Any, *, end: bool) -> int | None:
    try:
        hh, mm = str(value).split(":")
        minute = int(hh) * 60 + int(mm)
    except (TypeError, ValueError):
        return None
    if end and minute in (0, _DAY_MINUTES - 1):
        return _DAY_MINUTES  # "00:00", "23:59" and "24:00" as an end all mean midnight
    if not 0 <= minute <= _DAY_MINUTES:
        return None
    return minute


def parse_windows(windows: Any) -> tuple[tuple[frozenset[int], int, int, bool], ...]:
    """``(weekdays, start minute, end minute, offpeak)`` per well-formed window; a
    malformed window (bad data) opens nothing."""
    out = []
    for w in windows or ():
        if not isinstance(w, dict):
            continue
        start, end = _minute(w.get("start"), end=False), _minute(w.get("end"), end=True)
        try:
            days = frozenset(int(d) for d in w.get("days") or () if 0 <= int(d) <= 6)
        except (TypeError, ValueError):
            continue
        if start is None or end is None or start >= end or not days:
            continue
        out.append((days, start, end, bool(w.get("offpeak"))))
    return tuple(out)


def _segments(start: datetime, end: datetime) -> Iterable[tuple[date, float, float]]:
    """``(day, from minute, to minute)`` for each calendar day (Asia/Shanghai) the
    half-open range touches; a part ending at the next midnight ends at minute 1440."""
    s, e = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    day = s.date()
    while True:
        midnight = datetime.combine(day, time(0), tzinfo=SHANGHAI)
        if midnight >= e:
            return
        nxt = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
        a, b = max(s, midnight), min(e, nxt)
        if a < b:
            yield day, (a - midnight).total_seconds() / 60, (b - midnight).total_seconds() / 60
        day += timedelta(days=1)


def covers(windows: Any, start: datetime, end: datetime) -> bool:
    """True when ``[start, end)`` lies inside the weekly ``windows`` (empty = any time)."""
    if not windows:
        return True
    return _covers_parsed(parse_windows(windows), start, end)


def _covers_parsed(parsed: Sequence[tuple], start: datetime, end: datetime) -> bool:
    for day, a, b in _segments(start, end):
        wd = day.weekday()
        if not any(wd in days and ws <= a and b <= we for days, ws, we, _off in parsed):
            return False
    return True


def _weekly_hours(parsed: Sequence[tuple]) -> float:
    """Hours open per week (overlapping windows of a day counted once)."""
    total = 0
    for wd in range(7):
        spans = sorted((ws, we) for days, ws, we, _off in parsed if wd in days)
        cur_s = cur_e = None
        for ws, we in spans:
            if cur_e is None or ws > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = ws, we
            else:
                cur_e = max(cur_e, we)
        if cur_e is not None:
            total += cur_e - cur_s
    return total / 60


def _window_hours(parsed: Sequence[tuple], windows: Any) -> float:
    """Open hours in ``USAGE_DAYS`` days: the denominator of the utilisation."""
    if not windows:
        return USAGE_DAYS * 24.0
    return _weekly_hours(parsed) * USAGE_DAYS / 7


def half_hours(start: datetime, end: datetime) -> int:
    """Billable half hours: the length rounded up to the half hour."""
    return max(0, math.ceil((end - start).total_seconds() / 1800 - 1e-9))


def estimate_cost(resource: Resource, need: Need) -> Decimal:
    cost = Decimal(resource.cost or 0)
    basis = resource.cost_basis
    if basis == CostBasis.PER_HOUR:
        value = cost * half_hours(need.start_at, need.end_at) / 2
    elif basis == CostBasis.PER_USE:
        value = cost
    elif basis == CostBasis.PER_UNIT:
        value = cost * need.amount
    else:
        value = Decimal(0)
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def peak(intervals: Iterable[tuple[float, float, int]], start: float, end: float) -> int:
    """The busiest moment of ``(start, end, amount)`` holdings within ``[start, end)``
    (half-open: one ending as another starts are not together)."""
    points = []
    for s, e, n in intervals:
        s, e = max(s, start), min(e, end)
        if s < e:
            points.append((s, 1, n))
            points.append((e, 0, -n))  # ends sort before starts at the same instant
    best = cur = 0
    for _t, _kind, delta in sorted(points):
        cur += delta
        best = max(best, cur)
    return best


def money(value: Decimal | int | float) -> str:
    """¥300 / ¥300.50: yuan without needless decimals."""
    d = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    text = f"{d:,.2f}".replace(",", "")
    if text.endswith(".00"):
        text = text[:-3]
    return f"¥{text}"


def _attribute_label(tag: str) -> str:
    try:
        return str(Attribute(tag).label)
    except ValueError:
        return tag


def _unit(kind: str) -> str:
    return str(KIND_UNITS.get(kind, ""))


# --- check: the plain reference ------------------------------------------------------


def check(
    resource: Resource,
    need: Need,
    *,
    user: Any | None = None,
    exclude_allocation_id: int | None = None,
) -> list[Refusal]:
    """Every hard constraint ``resource`` fails for ``need``, in ``REFUSAL_ORDER``; an
    empty list means it fits. Reads the resource's closures and holding allocations over
    the need's range (two queries, time kinds only); with ``user``, also whether the
    resource is usable by them (one query). ``exclude_allocation_id`` leaves one
    allocation out of the holdings (re-checking an allocation against the others)."""
    if resource.kind != need.kind:
        return [
            Refusal(
                "kind_mismatch",
                _("资源类型不符：需要%(need)s，该资源为%(kind)s。")
                % {
                    "need": dict(ResourceKind.choices).get(need.kind, need.kind),
                    "kind": resource.get_kind_display(),
                },
                {"need": need.kind, "kind": resource.kind},
            )
        ]
    out: list[Refusal] = []
    kind = resource.kind
    start, end = need.start_at.timestamp(), need.end_at.timestamp()
    closures: list[Closure] = []
    holdings: list[tuple[float, float, int]] = []
    if is_time_kind(kind):
        closures = list(
            Closure.objects.filter(
                resource=resource, start_at__lt=need.end_at, end_at__gt=need.start_at
            ).order_by("start_at")
        )
        held = Allocation.objects.filter(
            resource=resource, holds=True, start_at__lt=need.end_at, end_at__gt=need.start_at
        )
        if exclude_allocation_id is not None:
            held = held.exclude(pk=exclude_allocation_id)
        holdings = [
            (s.timestamp(), e.timestamp(), n)
            for s, e, n in held.values_list("start_at", "end_at", "amount")
        ]

    if kind in EXCLUSIVE_KINDS and need.amount > resource.capacity:
        out.append(
            Refusal(
                "capacity_short",
                _("容量不足：可容纳 %(capacity)s 人，需 %(amount)s 人。")
                % {"capacity": resource.capacity, "amount": need.amount},
                {"capacity": resource.capacity, "amount": need.amount},
            )
        )
    if kind in HEADCOUNT_KINDS:
        busy = peak(holdings, start, end)
        if need.amount + busy > resource.capacity:
            out.append(
                Refusal(
                    "headcount_exceeded",
                    _("人手不足：该时段可派 %(free)s 人，需 %(amount)s 人。")
                    % {"free": max(0, resource.capacity - busy), "amount": need.amount},
                    {"capacity": resource.capacity, "held": busy, "amount": need.amount},
                )
            )
    if kind in STOCK_KINDS and need.amount > resource.available:
        out.append(
            Refusal(
                "insufficient_stock",
                _("库存不足：可用 %(available)s%(unit)s，需 %(amount)s%(unit)s。")
                % {
                    "available": resource.available,
                    "amount": need.amount,
                    "unit": resource.unit or _unit(kind),
                },
                {"available": resource.available, "amount": need.amount},
            )
        )
    missing = sorted(set(need.attributes) - set(resource.attributes or ()))
    if missing:
        out.append(
            Refusal(
                "attributes_missing",
                _("缺少所需条件：%(missing)s。")
                % {
                    "missing": pgettext("list separator", "、").join(
                        _attribute_label(t) for t in missing
                    )
                },
                {"missing": missing},
            )
        )
    if is_time_kind(kind):
        if not covers(resource.windows, need.start_at, need.end_at):
            out.append(
                Refusal(
                    "outside_windows",
                    _("所需时段不在该资源的开放时段内。"),
                    {"windows": resource.windows},
                )
            )
        if closures:
            first = closures[0]
            out.append(
                Refusal(
                    "closed",
                    _("该时段资源暂停使用：%(reason)s") % {"reason": first.reason or _("闭馆维护")},
                    {
                        "start_at": first.start_at.isoformat(),
                        "end_at": first.end_at.isoformat(),
                    },
                )
            )
        if kind in EXCLUSIVE_KINDS and holdings:
            out.append(
                Refusal(
                    "resource_taken",
                    _("该时段资源已被占用。"),
                    {"conflicts": len(holdings)},
                )
            )
    if need.budget is not None:
        cost = estimate_cost(resource, need)
        if cost > need.budget:
            out.append(
                Refusal(
                    "over_budget",
                    _("预计费用 %(cost)s 超出预算 %(budget)s。")
                    % {"cost": money(cost), "budget": money(need.budget)},
                    {"cost": str(cost), "budget": str(need.budget)},
                )
            )
    if user is not None and not (
        Resource.objects.filter(queries.usable_condition(user), pk=resource.pk).exists()
    ):
        out.append(Refusal("not_usable", _("该资源不向您所在单位开放。"), {}))
    return out


# --- the engine ----------------------------------------------------------------------

_BASIS = {CostBasis.FREE: 0, CostBasis.PER_HOUR: 1, CostBasis.PER_USE: 2, CostBasis.PER_UNIT: 3}
_RESOURCE_FIELDS = (
    "pk",
    "kind",
    "org_id",
    "centre_id",
    "visibility",
    "capacity",
    "quantity",
    "available",
    "unit",
    "attributes_text",
    "windows_text",
    "cost_basis",
    "cost",
    "preference",
    "location__path",
    "org__path",
)


def _json(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


class _Hours(Func):
    """Hours from the second datetime to the first, computed by the database."""

    arity = 2
    output_field = FloatField()

    def _parts(self, compiler: Any, connection: Any) -> tuple[str, str, list]:
        (end, end_params), (start, start_params) = (
            compiler.compile(e) for e in self.get_source_expressions()
        )
        return end, start, [*end_params, *start_params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        end, start, params = self._parts(compiler, connection)
        return f"((julianday({end}) - julianday({start})) * 24.0)", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        end, start, params = self._parts(compiler, connection)
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0 AS double precision)", params


class _Paths:
    """Interned prefixes of materialised paths: row i of ``matrix`` holds, per depth,
    the id of the node's ancestor there (``pad`` beyond its depth)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def row(self, path: str | None, width: int, pad: int) -> list[int]:
        out = [pad] * width
        if path:
            for i in range(min(width, path.count("."))):
                prefix = path[: 5 * (i + 1)]
                out[i] = self.ids.setdefault(prefix, len(self.ids))
        return out

    def matrix(self, paths: Sequence[str | None], width: int) -> np.ndarray:
        if not paths:
            return np.zeros((0, width), dtype=np.int64)
        rows: dict[str | None, list[int]] = {}
        for p in set(paths):
            rows[p] = self.row(p, width, -1)
        return np.array([rows[p] for p in paths], dtype=np.int64)


def _segments_of(path: str | None) -> int:
    return path.count(".") if path else 0


@dataclass
class Context:
    """Where a need is: its location's and its org's paths, and the kinds of the
    location's ancestors (for the proximity sentence)."""

    location_path: str | None
    org_path: str | None
    location_kinds: dict[str, str] = field(default_factory=dict)  # ancestor path -> kind


@dataclass
class Evaluation:
    eligible: np.ndarray  # indices into the KindPool, passing every hard constraint
    considered: int
    excluded: dict[str, int]


class KindPool:
    """The resources of one kind as arrays, with their closures and holdings."""

    def __init__(self, kind: str, rows: list[tuple], paths: tuple[_Paths, _Paths]) -> None:
        self.kind = kind
        self.time = is_time_kind(kind)
        n = len(rows)
        self.n = n
        col = dict(zip(_RESOURCE_FIELDS, zip(*rows, strict=True), strict=True)) if rows else {}

        def arr(name: str, dtype: Any) -> np.ndarray:
            return np.array(col.get(name, ()), dtype=dtype)

        self.ids = arr("pk", np.int64)
        self.index = {int(pk): i for i, pk in enumerate(self.ids)}
        self.org_id = arr("org_id", np.int64)
        self.centre_id = arr("centre_id", np.int64)
        self.visibility = list(col.get("visibility", ()))
        self.capacity = arr("capacity", np.int64)
        self.quantity = arr("quantity", np.int64)
        self.available = arr("available", np.int64)
        self.units = list(col.get("unit", ()))
        self.preference = arr("preference", np.float64)
        self.basis = np.array([_BASIS.get(b, 0) for b in col.get("cost_basis", ())], np.int8)
        self.cost_cents = np.array(
            [int((c or 0) * 100) for c in col.get("cost", ())],
            np.int64,
        )
        # JSON columns come as text, each distinct value parsed once
        attr_sets: dict[str | None, frozenset[str]] = {}
        self.attrs = []
        for text in col.get("attributes_text", ()):
            got = attr_sets.get(text)
            if got is None:
                got = attr_sets[text] = frozenset(_json(text) or ())
            self.attrs.append(got)
        self._attr_cache: dict[str, np.ndarray] = {}
        # weekly windows, by distinct value
        sigs: dict[str | None, int] = {}
        self.sig_windows: list[Any] = []
        sig_of = []
        for text in col.get("windows_text", ()):
            if text not in sigs:
                sigs[text] = len(sigs)
                self.sig_windows.append(_json(text) or [])
            sig_of.append(sigs[text])
        self.sig_of = np.array(sig_of, np.int64)
        self.sig_parsed = [parse_windows(w) for w in self.sig_windows]
        self._cover_cache: dict[tuple[float, float], np.ndarray] = {}
        loc_paths = list(col.get("location__path", ()))
        org_paths = list(col.get("org__path", ()))
        self.loc_seg = np.array([_segments_of(p) for p in loc_paths], np.int64)
        self.org_seg = np.array([_segments_of(p) for p in org_paths], np.int64)
        self.loc_width = max([*self.loc_seg.tolist(), 1])
        self.org_width = max([*self.org_seg.tolist(), 1])
        self.loc_paths, self.org_paths = paths
        self.loc_anc = self.loc_paths.matrix(loc_paths, self.loc_width)
        self.org_anc = self.org_paths.matrix(org_paths, self.org_width)
        # time-bound facts, filled by Pool.load
        self.c_idx = self.h_idx = np.zeros(0, np.int64)
        self.c_s = self.c_e = self.h_s = self.h_e = np.zeros(0, np.float64)
        self.h_amount = np.zeros(0, np.int64)
        self.utilisation = np.zeros(n, np.float64)

    # -- the hard constraints, vectorised --

    def has_attributes(self, attributes: Iterable[str]) -> np.ndarray:
        ok = np.ones(self.n, bool)
        for a in attributes:
            got = self._attr_cache.get(a)
            if got is None:
                got = np.fromiter((a in s for s in self.attrs), bool, self.n)
                self._attr_cache[a] = got
            ok &= got
        return ok

    def covered(self, start: datetime, end: datetime) -> np.ndarray:
        key = (start.timestamp(), end.timestamp())
        by_sig = self._cover_cache.get(key)
        if by_sig is None:
            by_sig = np.array(
                [
                    not w or _covers_parsed(p, start, end)
                    for w, p in zip(self.sig_windows, self.sig_parsed, strict=True)
                ],
                bool,
            )
            self._cover_cache[key] = by_sig
        if self.n == 0:
            return np.ones(0, bool)
        return by_sig[self.sig_of]

    def _hit(self, idx: np.ndarray, s: np.ndarray, e: np.ndarray, a: float, b: float) -> np.ndarray:
        out = np.zeros(self.n, bool)
        if len(idx):
            sel = (s < b) & (e > a)
            out[idx[sel]] = True
        return out

    def cost_cents_for(self, need: Need, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        basis, cents = self.basis[idx], self.cost_cents[idx]
        hh = half_hours(need.start_at, need.end_at)
        out = np.zeros(len(cents), np.int64)
        out = np.where(basis == 1, (cents * hh + 1) // 2, out)
        out = np.where(basis == 2, cents, out)
        out = np.where(basis == 3, cents * need.amount, out)
        return out

    def busiest(self, i: int, a: float, b: float) -> int:
        sel = (self.h_idx == i) & (self.h_s < b) & (self.h_e > a)
        return peak(
            zip(
                self.h_s[sel].tolist(),
                self.h_e[sel].tolist(),
                self.h_amount[sel].tolist(),
                strict=True,
            ),
            a,
            b,
        )

    def evaluate(self, need: Need, usable: np.ndarray | None = None) -> Evaluation:
        """The resources (of ``usable``, all when None) passing every hard constraint,
        and how many were excluded under each first failed code."""
        remaining = np.ones(self.n, bool) if usable is None else usable.copy()
        considered = int(remaining.sum())
        a, b = need.start_at.timestamp(), need.end_at.timestamp()
        fails: list[tuple[str, np.ndarray]] = []
        if self.kind in EXCLUSIVE_KINDS:
            fails.append(("capacity_short", self.capacity < need.amount))
        elif self.kind in HEADCOUNT_KINDS:
            short = self.capacity < need.amount
            if len(self.h_idx):
                sel = (self.h_s < b) & (self.h_e > a)
                for i in np.unique(self.h_idx[sel]).tolist():
                    if remaining[i] and not short[i]:
                        short[i] = self.busiest(i, a, b) + need.amount > self.capacity[i]
            fails.append(("headcount_exceeded", short))
        else:
            fails.append(("insufficient_stock", self.available < need.amount))
        if need.attributes:
            fails.append(("attributes_missing", ~self.has_attributes(need.attributes)))
        if self.time:
            fails.append(("outside_windows", ~self.covered(need.start_at, need.end_at)))
            fails.append(("closed", self._hit(self.c_idx, self.c_s, self.c_e, a, b)))
            if self.kind in EXCLUSIVE_KINDS:
                fails.append(("resource_taken", self._hit(self.h_idx, self.h_s, self.h_e, a, b)))
        if need.budget is not None:
            budget = int((Decimal(need.budget) * 100).to_integral_value())
            fails.append(("over_budget", self.cost_cents_for(need) > budget))
        excluded: dict[str, int] = {}
        for code, failed in fails:
            hit = remaining & failed
            count = int(hit.sum())
            if count:
                excluded[code] = count
            remaining &= ~failed
        return Evaluation(np.flatnonzero(remaining), considered, excluded)

    # -- the score, vectorised --

    def distances(self, ctx: Context, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(d, by_location, common segments) for the resources ``idx``."""
        n = len(idx)
        d = np.zeros(n, np.int64)
        common = np.zeros(n, np.int64)
        by_loc = np.zeros(n, bool)
        if ctx.location_path:
            mine = np.array(self.loc_paths.row(ctx.location_path, self.loc_width, -2), np.int64)
            seg = _segments_of(ctx.location_path)
            res_seg = self.loc_seg[idx]
            by_loc = res_seg > 0
            same = np.cumprod(self.loc_anc[idx] == mine, axis=1).sum(axis=1)
            d = np.where(by_loc, seg + res_seg - 2 * same, 0)
            common = np.where(by_loc, same, 0)
        if not by_loc.all():
            mine = np.array(self.org_paths.row(ctx.org_path, self.org_width, -2), np.int64)
            seg = _segments_of(ctx.org_path)
            same = np.cumprod(self.org_anc[idx] == mine, axis=1).sum(axis=1)
            org_d = seg + self.org_seg[idx] - 2 * same + 1
            d = np.where(by_loc, d, org_d)
            common = np.where(by_loc, common, same)
        return d, by_loc, common

    def score(
        self, need: Need, ctx: Context, idx: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Score, parts and what the reasons are written from, for resources ``idx``."""
        d, by_loc, common = self.distances(ctx, idx)
        proximity = 1.0 / (1.0 + d)
        if self.kind in EXCLUSIVE_KINDS:
            fit = need.amount / np.maximum(self.capacity[idx], 1)
            fit = np.minimum(fit, 1.0)
        else:
            fit = np.ones(len(idx))
        cents = self.cost_cents_for(need, idx)
        if need.budget is not None and need.budget > 0:
            budget = float(Decimal(need.budget) * 100)
            cost = 1.0 - cents / budget
        else:
            cost = 1.0 / (1.0 + cents / 10000.0)
        cost = np.where(cents == 0, 1.0, np.clip(cost, 0.0, 1.0))
        balance = 1.0 - self.utilisation[idx]
        if need.preferred_owner_id is not None:
            preferred = self.org_id[idx] == need.preferred_owner_id
        else:
            preferred = np.zeros(len(idx), bool)
        preference = np.where(preferred, 1.0, self.preference[idx] / 100.0)
        parts = {
            "proximity": proximity,
            "fit": fit,
            "cost": cost,
            "balance": balance,
            "preference": preference,
        }
        total = sum(WEIGHTS[k] * v for k, v in parts.items())
        facts = {
            "distance": d,
            "by_location": by_loc,
            "common": common,
            "cents": cents,
            "preferred": preferred,
        }
        return np.round(total, 6), parts, facts

    def explain(
        self, need: Need, ctx: Context, i: int
    ) -> tuple[float, dict[str, float], list[Reason], Decimal]:
        """One resource's score, parts, reasons and estimated cost."""
        idx = np.array([i], np.int64)
        total, parts, facts = self.score(need, ctx, idx)
        values = {k: round(float(v[0]), 4) for k, v in parts.items()}
        cost = (Decimal(int(facts["cents"][0])) / 100).quantize(_CENT)
        reasons = [
            Reason("proximity", self._proximity_text(ctx, facts), values["proximity"]),
            Reason("fit", self._fit_text(need, i), values["fit"]),
            Reason("cost", self._cost_text(need, cost), values["cost"]),
            Reason(
                "balance",
                _("近30天使用率 %(rate)s%%") % {"rate": round(float(self.utilisation[i]) * 100)},
                values["balance"],
            ),
            Reason(
                "preference",
                _("优先提供单位")
                if bool(facts["preferred"][0])
                else _("提供方推荐权重 %(weight)s") % {"weight": int(self.preference[i])},
                values["preference"],
            ),
        ]
        return round(float(total[0]), 4), values, reasons, cost

    def _proximity_text(self, ctx: Context, facts: dict[str, np.ndarray]) -> str:
        d = int(facts["distance"][0])
        common = int(facts["common"][0])
        if bool(facts["by_location"][0]):
            if d == 0:
                return _("同一地点")
            if common == 0:
                return _("不在同一大院，距离 %(d)s") % {"d": d}
            path = (ctx.location_path or "")[: 5 * common]
            kind = ctx.location_kinds.get(path)
            label = LocationKind(kind).label if kind in LocationKind.values else _("区域")
            return _("同一%(place)s，距离 %(d)s") % {"place": label, "d": d}
        if d == 1:
            return _("同一单位（未标注位置）")
        return _("未标注位置，按单位层级距离 %(d)s") % {"d": d}

    def _fit_text(self, need: Need, i: int) -> str:
        if self.kind in EXCLUSIVE_KINDS:
            return _("可容纳 %(capacity)s 人，需 %(amount)s 人") % {
                "capacity": int(self.capacity[i]),
                "amount": need.amount,
            }
        if self.kind in HEADCOUNT_KINDS:
            return _("队伍 %(capacity)s 人，需 %(amount)s 人") % {
                "capacity": int(self.capacity[i]),
                "amount": need.amount,
            }
        unit = self.units[i] or _unit(self.kind)
        return _("可用 %(available)s%(unit)s，需 %(amount)s%(unit)s") % {
            "available": int(self.available[i]),
            "amount": need.amount,
            "unit": unit,
        }

    @staticmethod
    def _cost_text(need: Need, cost: Decimal) -> str:
        if cost == 0:
            return _("免费")
        if need.budget is not None:
            return _("预计费用 %(cost)s，预算 %(budget)s") % {
                "cost": money(cost),
                "budget": money(need.budget),
            }
        return _("预计费用 %(cost)s") % {"cost": money(cost)}


class Pool:
    """Resources of some kinds loaded once (``resources``: a queryset, e.g. the usable
    ones of a user), with the closures and holding allocations overlapping
    ``[start, end)`` and the use of the last 30 days before ``now``: five queries."""

    def __init__(self) -> None:
        self.kinds: dict[str, KindPool] = {}
        self.paths = (_Paths(), _Paths())

    @classmethod
    def load(
        cls,
        resources: QuerySet[Resource],
        *,
        kinds: Iterable[str],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> Pool:
        pool = cls()
        kinds = sorted(set(kinds))
        rows: dict[str, list[tuple]] = {k: [] for k in kinds}
        found = (
            resources.filter(kind__in=kinds)
            .annotate(
                attributes_text=Cast("attributes", TextField()),
                windows_text=Cast("windows", TextField()),
            )
            .order_by("pk")
            .values_list(*_RESOURCE_FIELDS)
        )
        for row in found:
            rows[row[1]].append(row)
        for kind in kinds:
            pool.kinds[kind] = KindPool(kind, rows[kind], pool.paths)
        time_kinds = [k for k in kinds if is_time_kind(k)]
        if time_kinds:
            pool._load_times(time_kinds, start, end, now)
        for kind in kinds:
            kp = pool.kinds[kind]
            if kind in STOCK_KINDS and kp.n:
                kp.utilisation = np.where(
                    kp.quantity > 0, 1.0 - kp.available / np.maximum(kp.quantity, 1), 1.0
                )
        return pool

    def _load_times(self, kinds: list[str], start: datetime, end: datetime, now: datetime) -> None:
        def spread(rows: Iterable[tuple], with_amount: bool) -> None:
            by_kind: dict[str, list[tuple]] = {}
            for row in rows:
                kp = self.kinds[row[0]]
                i = kp.index.get(row[1])
                if i is not None:
                    by_kind.setdefault(row[0], []).append((i, *row[2:]))
            for kind, items in by_kind.items():
                kp = self.kinds[kind]
                idx = np.array([t[0] for t in items], np.int64)
                s = np.array([t[1].timestamp() for t in items], np.float64)
                e = np.array([t[2].timestamp() for t in items], np.float64)
                if with_amount:
                    kp.h_idx, kp.h_s, kp.h_e = idx, s, e
                    kp.h_amount = np.array([t[3] for t in items], np.int64)
                else:
                    kp.c_idx, kp.c_s, kp.c_e = idx, s, e

        spread(
            Closure.objects.filter(
                resource__kind__in=kinds, start_at__lt=end, end_at__gt=start
            ).values_list("resource__kind", "resource_id", "start_at", "end_at"),
            False,
        )
        spread(
            Allocation.objects.filter(
                holds=True, resource__kind__in=kinds, start_at__lt=end, end_at__gt=start
            ).values_list("resource__kind", "resource_id", "start_at", "end_at", "amount"),
            True,
        )
        # the hours each resource was used in the last 30 days, summed by the database
        since = now - timedelta(days=USAGE_DAYS)
        used = (
            Allocation.objects.filter(
                resource__kind__in=kinds, status__in=USED, start_at__lt=now, end_at__gt=since
            )
            .values("resource__kind", "resource_id")
            .annotate(
                held=Sum(
                    _Hours(
                        Least("end_at", Value(now, output_field=DateTimeField())),
                        Greatest("start_at", Value(since, output_field=DateTimeField())),
                    )
                )
            )
            .values_list("resource__kind", "resource_id", "held")
        )
        held = {(kind, rid): max(0.0, float(h or 0)) for kind, rid, h in used}
        for kind in kinds:
            kp = self.kinds[kind]
            if not kp.n:
                continue
            denom = np.array(
                [_window_hours(p, w) for w, p in zip(kp.sig_windows, kp.sig_parsed, strict=True)],
                np.float64,
            )[kp.sig_of]
            hours = np.array([held.get((kind, int(pk)), 0.0) for pk in kp.ids], np.float64)
            kp.utilisation = np.clip(hours / np.maximum(denom, 1e-9), 0.0, 1.0)


def location_kinds(paths: Iterable[str | None]) -> dict[str, str]:
    """Kind of every ancestor (and self) of the given location paths, in one query."""
    prefixes = set()
    for p in paths:
        for i in range(_segments_of(p)):
            prefixes.add(p[: 5 * (i + 1)])  # type: ignore[index]
    if not prefixes:
        return {}
    out: dict[str, str] = {}
    ordered = sorted(prefixes)
    for i in range(0, len(ordered), 2000):
        out.update(
            Location.objects.filter(path__in=ordered[i : i + 2000]).values_list("path", "kind")
        )
    return out


# --- match ---------------------------------------------------------------------------


def match(
    user: Any, demand: Demand, *, limit: int = 20, now: datetime | None = None
) -> MatchResult:
    """The resources usable by the demand's poster that pass every hard constraint,
    best first (at most ``limit``). ``user`` must see the demand (else 404). A constant
    number of queries, however many resources there are."""
    now = now or timezone.now()
    demand = queries.demand_for(user, demand.pk)
    need = Need.of(demand)
    usable = queries.usable_resources(demand.posted_by).filter(kind=need.kind)
    # the first constraint, the amount against the size, is cheapest in SQL: only
    # resources large enough are loaded, the others are counted
    size, code = _SIZE[_hold(need.kind)]
    counts = usable.aggregate(
        total=Count("pk"), short=Count("pk", filter=Q(**{f"{size}__lt": need.amount}))
    )
    pool = Pool.load(
        usable.filter(**{f"{size}__gte": need.amount}),
        kinds=[need.kind],
        start=need.start_at,
        end=need.end_at,
        now=now,
    )
    kp = pool.kinds[need.kind]
    ev = kp.evaluate(need)
    excluded = dict(ev.excluded)
    if counts["short"]:
        excluded[code] = excluded.get(code, 0) + counts["short"]
    excluded = {c: excluded[c] for c in REFUSAL_ORDER if c in excluded}
    considered = counts["total"]
    location_path = demand.location.path if demand.location_id else None
    ctx = Context(location_path, demand.org.path, location_kinds([location_path]))
    if not len(ev.eligible):
        return MatchResult([], considered, excluded)
    scores, _parts, _facts = kp.score(need, ctx, ev.eligible)
    order = np.lexsort((kp.ids[ev.eligible], -scores))[: max(0, limit)]
    chosen = ev.eligible[order]
    objects = Resource.objects.select_related("org", "location").in_bulk(
        [int(kp.ids[i]) for i in chosen]
    )
    candidates = []
    for i in chosen.tolist():
        score, parts, reasons, cost = kp.explain(need, ctx, i)
        candidates.append(Candidate(objects[int(kp.ids[i])], score, parts, reasons, cost))
    return MatchResult(candidates, considered, excluded)


# the column an amount is held against, and the refusal when it is too small
_SIZE = {
    "exclusive": ("capacity", "capacity_short"),
    "headcount": ("capacity", "headcount_exceeded"),
    "stock": ("available", "insufficient_stock"),
}


def _hold(kind: str) -> str:
    if kind in EXCLUSIVE_KINDS:
        return "exclusive"
    return "headcount" if kind in HEADCOUNT_KINDS else "stock"


def stocked_and_active() -> Q:
    """The part of ``usable_condition`` that is not about who asks."""
    from .choices import StockStatus

    return Q(is_active=True) & (Q(stock_status__isnull=True) | Q(stock_status=StockStatus.STORED))
