"""Benefit evaluation (效益评估): what the outsourced services cost per unit of service.

For each contract, each vendor and each county centre, and each period asked for
(months, quarters or years; several give a trend):

- **cost**: the contracts' fees for the period. For a whole month, quarter or year it is
  the run's fee: ``monthly_fee`` × 1/3/12 × the share of the period's days the contract
  covers. Any other span is cut into calendar-month pieces priced the same way.
- **per work order**: cost over the work orders closed in the period (confirmed or
  closed; cancelled ones left out) that were handled by the contract's vendor inside
  the contract's scope: its org's subtree, its service categories (a code or a code
  prefix like ``repair`` for ``repair.plumbing``) and its location subtrees, when set.
  A vendor's or a centre's row counts each order once, however many of its contracts
  cover it.
- **per m²**: cost over the contract's ``area_m2``, else the area of its locations, else
  the area of its org's locations. An area is the sum of the outermost locations with
  an area (a building's area is not added again to its rooms'). A centre's row takes
  its own locations' area; a vendor's row adds the areas of its contracts, counting a
  shared location set or org once.
- **per person**: cost over the contract's ``headcount``, else the active people of its
  org's subtree (not counting vendors' or other external orgs' staff); likewise for
  vendors; a centre's row counts its own people.
- **per meal**: None: meals are counted by the canteen, which is not built yet.

A figure whose denominator is missing or zero is None. Only contracts in force (active
or ended, not drafts) that the user manages or oversees (``assessment.view``) count;
the number of queries does not depend on how many contracts, vendors, centres, work
orders or periods there are.
"""

from __future__ import annotations

import calendar
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.accounts.models import User
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.periods import Period
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Location, Organization
from dayuan.workorders.choices import Status as WorkOrderStatus
from dayuan.workorders.models import WorkOrder

from .choices import ContractStatus, PeriodKind
from .models import Contract
from .queries import manager_org_ids
from .runs import MONTHS, period_end

CENT = Decimal("0.01")
MAX_PERIODS = 36
CLOSED = (WorkOrderStatus.CONFIRMED, WorkOrderStatus.CLOSED)


# --- periods and fees ------------------------------------------------------------------


def period_of(kind: str, day: date) -> Period:
    """The month, quarter or year containing ``day``."""
    if kind == PeriodKind.MONTH:
        start = day.replace(day=1)
    elif kind == PeriodKind.QUARTER:
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    elif kind == PeriodKind.YEAR:
        start = date(day.year, 1, 1)
    else:
        raise InvalidInput(_("周期无效。"), code="invalid_period_kind", field="period_kind")
    return Period(start, period_end(kind, start))


def periods(kind: str, anchor: date, count: int = 1) -> list[Period]:
    """``count`` consecutive periods of ``kind`` ending with the one holding ``anchor``,
    oldest first (a trend)."""
    if not 1 <= count <= MAX_PERIODS:
        raise InvalidInput(
            _("周期数须为 1–%(n)s。") % {"n": MAX_PERIODS}, code="invalid_count", field="count"
        )
    last = period_of(kind, anchor)
    result = [last]
    for _i in range(count - 1):
        result.insert(0, period_of(kind, result[0].since - timedelta(days=1)))
    return result


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _aligned_months(period: Period) -> int | None:
    """1, 3 or 12 when the period is a whole calendar month, quarter or year."""
    for kind, months in MONTHS.items():
        if period_of(kind, period.since) == period:
            return months
    return None


def _overlap_days(a_since: date, a_until: date, b_since: date, b_until: date) -> int:
    return max(0, (min(a_until, b_until) - max(a_since, b_since)).days + 1)


def period_fee(monthly_fee: Decimal, starts_on: date, ends_on: date, period: Period) -> Decimal:
    """The contract's fee for the period, to the cent (see the module docstring)."""
    months = _aligned_months(period)
    if months is not None:
        days = (period.until - period.since).days + 1
        covered = _overlap_days(starts_on, ends_on, period.since, period.until)
        fee = monthly_fee * months * covered / days
    else:
        fee = Decimal(0)
        piece = period.since.replace(day=1)
        while piece <= period.until:
            month_days = calendar.monthrange(piece.year, piece.month)[1]
            last = piece.replace(day=month_days)
            since, until = max(piece, period.since), min(last, period.until)
            covered = _overlap_days(starts_on, ends_on, since, until)
            fee += monthly_fee * covered / month_days
            piece = last + timedelta(days=1)
    return Decimal(fee).quantize(CENT, ROUND_HALF_UP)


def _per(cost: Decimal, amount: Any) -> Decimal | None:
    if not amount:
        return None
    return (cost / Decimal(amount)).quantize(CENT, ROUND_HALF_UP)


# --- the data, each fetched once -----------------------------------------------------------


@dataclass
class _Data:
    periods: list[Period]
    orgs: dict[int, dict[str, Any]]  # id -> {path, name, kind}
    contracts: list[Contract]
    location_paths: dict[int, list[str]]  # contract id -> its location subtrees
    # (vendor_id, org path, category code, location path, period index) -> orders
    orders: list[tuple[int, str, str, str, int, int]]
    areas: list[tuple[str, int, Decimal]]  # outermost measured locations: path, org, m²
    people: dict[int, int]  # org id -> active people whose home it is


def _scope(user: Any, org_id: int | None) -> list[int]:
    ids = manager_org_ids(user)
    if org_id is None:
        return ids
    path = Organization.objects.filter(pk=org_id, pk__in=ids).values_list("path", flat=True)
    root = path.first()
    if root is None:
        raise NotFound()
    return list(
        Organization.objects.filter(pk__in=ids, path__startswith=root).values_list("pk", flat=True)
    )


def _check(periods_: Sequence[Period]) -> list[Period]:
    ordered = sorted(periods_, key=lambda p: p.since)
    if not ordered or len(ordered) > MAX_PERIODS:
        raise InvalidInput(_("周期无效。"), code="invalid_period", field="periods")
    for a, b in itertools.pairwise(ordered):
        if b.since <= a.until:
            raise InvalidInput(_("周期不能重叠。"), code="invalid_period", field="periods")
    if any(p.until < p.since for p in ordered):
        raise InvalidInput(_("周期无效。"), code="invalid_period", field="periods")
    return ordered


def _load(ids: list[int], periods_: list[Period]) -> _Data:
    first, last = periods_[0], periods_[-1]
    orgs = {
        o["pk"]: o
        for o in Organization.objects.filter(pk__in=ids).values("pk", "path", "name", "kind")
    }
    contracts = list(
        Contract.objects.filter(org_id__in=ids, starts_on__lte=last.until, ends_on__gte=first.since)
        .exclude(status=ContractStatus.DRAFT)
        .select_related("org", "vendor")
        .prefetch_related("locations")
        .order_by("vendor__name", "number")
    )
    location_paths = {c.pk: sorted(loc.path for loc in c.locations.all()) for c in contracts}
    by_location = any(location_paths.values())
    bucket = Case(
        *(
            When(closed_at__gte=p.start, closed_at__lt=p.end, then=Value(i))
            for i, p in enumerate(periods_)
        ),
        default=Value(-1),
        output_field=IntegerField(),
    )
    fields = ["vendor_id", "org__path", "category__code"]
    if by_location:
        fields.append("location__path")
    orders = []
    if contracts:
        rows = (
            WorkOrder.objects.filter(
                org_id__in=ids,
                vendor_id__in={c.vendor_id for c in contracts},
                status__in=CLOSED,
                closed_at__gte=first.start,
                closed_at__lt=last.end,
            )
            .annotate(bucket=bucket)
            .values(*fields, "bucket")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for r in rows:
            if r["bucket"] >= 0:
                orders.append(
                    (
                        r["vendor_id"],
                        r["org__path"],
                        r["category__code"],
                        r.get("location__path", ""),
                        r["bucket"],
                        r["n"],
                    )
                )
    areas: list[tuple[str, int, Decimal]] = []
    kept = ""
    for path, org, area in (
        Location.objects.filter(org_id__in=ids, is_active=True, area_m2__isnull=False)
        .order_by("path")
        .values_list("path", "org_id", "area_m2")
    ):
        if kept and path.startswith(kept):
            continue  # inside a location already measured as a whole
        kept = path
        areas.append((path, org, area))
    people = dict(
        User.objects.filter(is_active=True, home_org_id__in=ids)
        .exclude(home_org__kind__in=OrgKind.external())
        .values("home_org_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("home_org_id", "n")
    )
    return _Data(periods_, orgs, contracts, location_paths, orders, areas, people)


# --- measures ------------------------------------------------------------------------------


def _covers(contract: Contract, data: _Data, order: tuple) -> bool:
    vendor_id, org_path, category, location_path, _bucket, _n = order
    if vendor_id != contract.vendor_id or not org_path.startswith(contract.org.path):
        return False
    if contract.categories and not any(
        category == c or category.startswith(c + ".") for c in contract.categories
    ):
        return False
    paths = data.location_paths[contract.pk]
    return not paths or any(location_path.startswith(p) for p in paths)


def _orders(contracts: Iterable[Contract], data: _Data) -> list[int]:
    """Work orders per period covered by any of the contracts (each order once)."""
    counts = [0] * len(data.periods)
    contracts = list(contracts)
    for order in data.orders:
        if any(_covers(c, data, order) for c in contracts):
            counts[order[4]] += order[5]
    return counts


def _org_area(path: str, data: _Data) -> Decimal | None:
    ids = {pk for pk, o in data.orgs.items() if o["path"].startswith(path)}
    found = [area for _path, org, area in data.areas if org in ids]
    return sum(found, Decimal(0)) if found else None


def _locations_area(paths: list[str], data: _Data) -> Decimal | None:
    found = [a for p, _org, a in data.areas if any(p.startswith(root) for root in paths)]
    return sum(found, Decimal(0)) if found else None


def _org_people(path: str, data: _Data) -> int | None:
    total = sum(n for pk, n in data.people.items() if data.orgs[pk]["path"].startswith(path))
    return total or None


def _area_source(contract: Contract, data: _Data) -> tuple[Any, Decimal | None]:
    """(what the area is of, so shared ones count once; the area)."""
    if contract.area_m2 is not None:
        return ("contract", contract.pk), contract.area_m2
    paths = data.location_paths[contract.pk]
    if paths:
        return ("locations", tuple(paths)), _locations_area(paths, data)
    return ("org", contract.org_id), _org_area(contract.org.path, data)


def _people_source(contract: Contract, data: _Data) -> tuple[Any, int | None]:
    if contract.headcount is not None:
        return ("contract", contract.pk), contract.headcount
    return ("org", contract.org_id), _org_people(contract.org.path, data)


def _sum_sources(pairs: Iterable[tuple[Any, Any]]) -> Any:
    found = {key: value for key, value in pairs if value is not None}
    return sum(found.values()) if found else None


def _rows(
    kind: str,
    key: int,
    name: str,
    contracts: list[Contract],
    data: _Data,
    area: Any,
    people: Any,
) -> list[dict[str, Any]]:
    orders = _orders(contracts, data)
    rows = []
    for i, period in enumerate(data.periods):
        cost = sum(
            (period_fee(c.monthly_fee, c.starts_on, c.ends_on, period) for c in contracts),
            Decimal("0.00"),
        )
        rows.append(
            {
                "kind": kind,
                "id": key,
                "name": name,
                "since": period.since,
                "until": period.until,
                "contracts": len(contracts),
                "cost": cost,
                "work_orders": orders[i],
                "cost_per_order": _per(cost, orders[i]),
                "area_m2": area,
                "cost_per_m2": _per(cost, area),
                "people": people,
                "cost_per_person": _per(cost, people),
                "meals": None,
                "cost_per_meal": None,
            }
        )
    return rows


def contract_rows(
    user: Any, *, periods: Sequence[Period], org_id: int | None = None
) -> list[dict[str, Any]]:
    """One row per contract in force and period."""
    data = _load(_scope(user, org_id), _check(periods))
    return _contract_rows(data)


def _contract_rows(data: _Data) -> list[dict[str, Any]]:
    rows = []
    for c in data.contracts:
        rows += _rows(
            "contract",
            c.pk,
            f"{c.number} {c.vendor.name}",
            [c],
            data,
            _area_source(c, data)[1],
            _people_source(c, data)[1],
        )
    return rows


def _vendor_rows(data: _Data) -> list[dict[str, Any]]:
    by_vendor: dict[int, list[Contract]] = defaultdict(list)
    for c in data.contracts:
        by_vendor[c.vendor_id].append(c)
    rows = []
    for contracts in by_vendor.values():
        vendor = contracts[0].vendor
        area = _sum_sources(_area_source(c, data) for c in contracts)
        people = _sum_sources(_people_source(c, data) for c in contracts)
        rows += _rows("vendor", vendor.pk, vendor.name, contracts, data, area, people)
    return rows


def _centre_rows(data: _Data) -> list[dict[str, Any]]:
    rows = []
    centres = sorted(
        (o for o in data.orgs.values() if o["kind"] == OrgKind.COUNTY), key=lambda o: o["path"]
    )
    for org in centres:
        contracts = [c for c in data.contracts if c.org.path.startswith(org["path"])]
        rows += _rows(
            "centre",
            org["pk"],
            org["name"],
            contracts,
            data,
            _org_area(org["path"], data),
            _org_people(org["path"], data),
        )
    return rows


def vendor_rows(
    user: Any, *, periods: Sequence[Period], org_id: int | None = None
) -> list[dict[str, Any]]:
    """One row per vendor (its contracts in the scope together) and period."""
    return _vendor_rows(_load(_scope(user, org_id), _check(periods)))


def centre_rows(
    user: Any, *, periods: Sequence[Period], org_id: int | None = None
) -> list[dict[str, Any]]:
    """One row per county centre in the scope and period, side by side."""
    return _centre_rows(_load(_scope(user, org_id), _check(periods)))


def comparison(
    user: Any,
    *,
    since: date | None = None,
    until: date | None = None,
    periods: Sequence[Period] | None = None,
    org_id: int | None = None,
) -> dict[str, Any]:
    """Everything at once (one load): contracts, vendors and county centres for the
    given periods (or the one span ``since``–``until``; the last three whole months
    when neither is given). ``rows`` is vendors then centres, for the comparison chart."""
    if periods is None:
        if since is None or until is None:
            today = timezone.localdate()
            until = today.replace(day=1) - timedelta(days=1)
            since = _add_months(until.replace(day=1), -2)
        periods = [Period(since, until)]
    data = _load(_scope(user, org_id), _check(periods))
    vendors, centres = _vendor_rows(data), _centre_rows(data)
    return {
        "periods": [{"since": p.since, "until": p.until} for p in data.periods],
        "contracts": _contract_rows(data),
        "vendors": vendors,
        "centres": centres,
        "rows": vendors + centres,
        "notes": [_("每餐成本：食堂模块尚未上线，暂无就餐人次数据。")],
    }
