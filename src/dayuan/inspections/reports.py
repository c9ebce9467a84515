"""The inspection dashboard over the orgs a user oversees, for a period.

Every figure is one grouped query over indexed columns (``org_id IN (<subtree ids>)``
resolved first, as the work-order dashboard), so the dashboard costs the same number
of queries for ten inspection items or a million; totals are summed from the per-org
rows. The item queries read only the covering ``insp_item_dashboard`` index, group by
ids (names are looked up for the rows kept), and the monthly trend shares the per-org
query, its month found by comparing with the month boundaries. Definitions:

- plan coverage: occurrences due in the period (``due_at``), cancelled ones left out;
  *due* counts done, missed and the pending ones already past due, and coverage is
  done over due (a pending occurrence not yet due counts for nothing);
- pass rate: passed over judged items (``na`` is not judged) of the inspections
  submitted in the period;
- rectification: orders issued in the period; closure rate is accepted over issued
  (cancelled left out), on-time rate is accepted on time over accepted; overdue counts
  the open ones past their deadline (or flagged);
- supervision: tasks open now and how many of them are past their deadline, in the
  same subtree (``supervision.view_all`` scope);
- trend: per calendar month (Shanghai) of the period, judged items, passes, findings.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from dayuan.core.periods import SHANGHAI, Period, rate
from dayuan.core.scope import scoped
from dayuan.orgs.models import Location, Organization
from dayuan.standards.models import Clause
from dayuan.supervision import queries as sup_queries

from .choices import OPEN_RECTIFICATION, OccurrenceStatus, RectificationStatus
from .models import Finding, InspectionItem, PlanOccurrence, Rectification
from .queries import overseen_org_ids

TOP = 50  # rows of the by-clause / by-location / by-vendor tables (worst first)


def scope_ids(user: Any, org_id: int | None = None) -> list[int]:
    """The org ids the dashboard covers: what the user oversees, cut to ``org_id``'s
    subtree when given (an org the user cannot see gives nothing)."""
    ids = overseen_org_ids(user)
    if not org_id or not ids:
        return ids
    path = (
        scoped(user, Organization.objects.all())
        .filter(pk=org_id)
        .values_list("path", flat=True)
        .first()
    )
    if not path:
        return []
    subtree = set(Organization.objects.filter(path__startswith=path).values_list("pk", flat=True))
    return [i for i in ids if i in subtree]


# --- plan coverage ---------------------------------------------------------------------


def coverage_by_org(ids: list[int], period: Period, now: datetime) -> list[dict[str, Any]]:
    past_due = Q(status=OccurrenceStatus.PENDING, due_at__lt=now)
    rows = (
        PlanOccurrence.objects.filter(
            org_id__in=ids, due_at__gte=period.start, due_at__lt=period.end
        )
        .exclude(status=OccurrenceStatus.CANCELLED)
        .values("org_id", "org__name", "org__path")
        .annotate(
            planned=Count("id"),
            done=Count("id", filter=Q(status=OccurrenceStatus.DONE)),
            missed=Count("id", filter=Q(status=OccurrenceStatus.MISSED)),
            late=Count("id", filter=past_due),
        )
        .order_by("org__path")
    )
    return [
        {
            "id": r["org_id"],
            "name": r["org__name"],
            "planned": r["planned"],
            "done": r["done"],
            "missed": r["missed"],
            "pending_past_due": r["late"],
            "due": r["done"] + r["missed"] + r["late"],
            "coverage": rate(r["done"], r["done"] + r["missed"] + r["late"]),
        }
        for r in rows
    ]


def _sum(rows: list[dict[str, Any]], *keys: str) -> dict[str, int]:
    return {k: sum(r[k] for r in rows) for k in keys}


# --- pass rates ------------------------------------------------------------------------


def items(ids: list[int], period: Period) -> QuerySet[InspectionItem]:
    return InspectionItem.objects.filter(
        org_id__in=ids, at__gte=period.start, at__lt=period.end, outcome__in=("pass", "fail")
    )


# Counted on ``outcome`` (never null) rather than ``id``: every column these grouped
# queries read is in the ``insp_item_dashboard`` index, so they need not touch the table.
# They group by the id alone; the names of the few rows kept are looked up after (a
# join before grouping costs a lookup per item row).
JUDGED = Count("outcome")
PASSED = Count("outcome", filter=Q(outcome="pass"))


def _pass_rows(qs: QuerySet[InspectionItem], key: str) -> list[dict[str, Any]]:
    """The TOP worst groups by ``key``: the most failed first, then the id."""
    rows = (
        qs.values(key)
        .annotate(judged=JUDGED, passed=PASSED)
        .annotate(failed=F("judged") - F("passed"))
        .order_by("-failed", key)
    )
    return list(rows[:TOP])


def _pass_out(r: dict[str, Any], ident: str, name: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": r[ident],
        "name": name or "",
        **extra,
        "total": r["judged"],
        "passed": r["passed"],
        "failed": r["failed"],
        "rate": rate(r["passed"], r["judged"]),
    }


def _names(model: Any, ids: Any) -> dict[int, str]:
    pks = [i for i in ids if i is not None]
    return dict(model.objects.filter(pk__in=pks).order_by().values_list("pk", "name"))


def pass_by_clause(qs: QuerySet[InspectionItem]) -> list[dict[str, Any]]:
    rows = _pass_rows(qs, "clause_id")
    clauses = {
        c["pk"]: c
        for c in Clause.objects.filter(pk__in=[r["clause_id"] for r in rows if r["clause_id"]])
        .values("pk", "number", "text", "version__standard__code")
        .order_by()
    }
    out = []
    for r in rows:
        c = clauses.get(r["clause_id"], {})
        extra = {
            "number": c.get("number", ""),
            "standard_code": c.get("version__standard__code", ""),
        }
        out.append(_pass_out(r, "clause_id", c.get("text"), **extra))
    return out


def pass_by_location(qs: QuerySet[InspectionItem]) -> list[dict[str, Any]]:
    rows = _pass_rows(qs, "location_id")
    names = _names(Location, (r["location_id"] for r in rows))
    return [_pass_out(r, "location_id", names.get(r["location_id"])) for r in rows]


def pass_by_vendor(qs: QuerySet[InspectionItem]) -> list[dict[str, Any]]:
    rows = _pass_rows(qs, "vendor_id")
    names = _names(Organization, (r["vendor_id"] for r in rows))
    return [_pass_out(r, "vendor_id", names.get(r["vendor_id"])) for r in rows]


def _month_index(field: str, period: Period) -> Case:
    """The month of the period (0, 1, …) ``field`` falls in, by comparing with the month
    boundaries (Shanghai midnights): no date function per row (SQLite's runs in Python,
    and was most of the dashboard's time there)."""
    bounds = [datetime.combine(m, time.min, tzinfo=SHANGHAI) for m in _months(period)[1:]]
    whens = [When(**{f"{field}__lt": b}, then=Value(i)) for i, b in enumerate(bounds)]
    default = Value(len(bounds))
    return Case(*whens, default=default, output_field=IntegerField()) if whens else default


def pass_by_org_and_month(
    qs: QuerySet[InspectionItem], period: Period
) -> tuple[list[dict[str, Any]], dict[int, dict[str, int]]]:
    """Per org (worst first, every org) and per month of the period, from one grouped
    query by (org, month): the org table, and the trend's judged and passed items."""
    rows = (
        qs.values("org_id", month=_month_index("at", period))
        .annotate(judged=JUDGED, passed=PASSED)
        .order_by()
    )
    orgs: dict[int, dict[str, Any]] = {}
    months: dict[int, dict[str, int]] = {}
    for r in rows:
        for acc in (orgs.setdefault(r["org_id"], {}), months.setdefault(r["month"], {})):
            acc["judged"] = acc.get("judged", 0) + r["judged"]
            acc["passed"] = acc.get("passed", 0) + r["passed"]
    names = _names(Organization, orgs)
    by_org = [
        {"org_id": pk, **acc, "failed": acc["judged"] - acc["passed"]} for pk, acc in orgs.items()
    ]
    by_org.sort(key=lambda r: (-r["failed"], r["org_id"]))
    return [_pass_out(r, "org_id", names.get(r["org_id"])) for r in by_org], months


# --- rectification ---------------------------------------------------------------------


def rectification_by_org(ids: list[int], period: Period, now: datetime) -> list[dict[str, Any]]:
    accepted = Q(status=RectificationStatus.ACCEPTED)
    late = Q(status__in=OPEN_RECTIFICATION) & (Q(overdue=True) | Q(deadline__lt=now))
    rows = (
        Rectification.objects.filter(
            org_id__in=ids, ordered_at__gte=period.start, ordered_at__lt=period.end
        )
        .exclude(status=RectificationStatus.CANCELLED)
        .values("org_id", "org__name", "org__path")
        .annotate(
            issued=Count("id"),
            closed=Count("id", filter=accepted),
            on_time=Count("id", filter=accepted & Q(closed_on_time=True)),
            open=Count("id", filter=Q(status__in=OPEN_RECTIFICATION)),
            overdue=Count("id", filter=late),
        )
        .order_by("org__path")
    )
    return [
        {
            "id": r["org_id"],
            "name": r["org__name"],
            "total": r["issued"],
            "closed": r["closed"],
            "on_time": r["on_time"],
            "open": r["open"],
            "overdue": r["overdue"],
            "closure_rate": rate(r["closed"], r["issued"]),
            "on_time_rate": rate(r["on_time"], r["closed"]),
        }
        for r in rows
    ]


# --- trend -----------------------------------------------------------------------------


def _months(period: Period) -> list[date]:
    out, day = [], period.since.replace(day=1)
    while day <= period.until:
        out.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def trend(
    judged: dict[int, dict[str, int]], ids: list[int], period: Period
) -> list[dict[str, Any]]:
    """``judged``: judged and passed items per month index (``pass_by_org_and_month``)."""
    raised = dict(
        Finding.objects.filter(
            org_id__in=ids, raised_at__gte=period.start, raised_at__lt=period.end
        )
        .values_list(_month_index("raised_at", period))
        .annotate(n=Count("id"))
        .order_by()
    )
    out = []
    for i, month in enumerate(_months(period)):
        r = judged.get(i, {"judged": 0, "passed": 0})
        out.append(
            {
                "month": month.strftime("%Y-%m"),
                "judged": r["judged"],
                "passed": r["passed"],
                "pass_rate": rate(r["passed"], r["judged"]),
                "findings": raised.get(i, 0),
            }
        )
    return out


# --- the dashboard ---------------------------------------------------------------------


def dashboard(
    user: Any,
    *,
    since: date,
    until: date,
    org_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every figure of the inspection dashboard for the orgs the user oversees, from
    ``since`` to ``until`` (inclusive, Shanghai days). Tables are lists of rows with
    ``id`` and ``name``; each ``*_total`` sums its table."""
    now = now or timezone.now()
    period = Period(since, until)
    ids = scope_ids(user, org_id)
    coverage = coverage_by_org(ids, period, now)
    item_qs = items(ids, period)
    by_org, by_month = pass_by_org_and_month(item_qs, period)
    rect = rectification_by_org(ids, period, now)
    sup_ids = set(sup_queries.overseen_org_ids(user))
    supervision = sup_queries.open_by_org([i for i in ids if i in sup_ids], now) if ids else []
    cov = _sum(coverage, "planned", "done", "missed", "pending_past_due", "due")
    judged = _sum(by_org, "total", "passed", "failed")
    rect_total = _sum(rect, "total", "closed", "on_time", "open", "overdue")
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "coverage": coverage,
        "coverage_total": {**cov, "coverage": rate(cov["done"], cov["due"])},
        "pass_by_clause": pass_by_clause(item_qs),
        "pass_by_location": pass_by_location(item_qs),
        "pass_by_vendor": pass_by_vendor(item_qs),
        "pass_by_org": by_org,
        "pass_total": {**judged, "rate": rate(judged["passed"], judged["total"])},
        "rectification_by_org": rect,
        "rectification_total": {
            **rect_total,
            "closure_rate": rate(rect_total["closed"], rect_total["total"]),
            "on_time_rate": rate(rect_total["on_time"], rect_total["closed"]),
        },
        "supervision_by_org": supervision,
        "supervision_total": _sum(supervision, "open", "overdue"),
        "trend": trend(by_month, ids, period),
    }


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def export_xlsx(data: dict[str, Any]) -> bytes:
    """The dashboard as a workbook, one sheet per table, each with its total row."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("计划完成"))
    ws.append([_("单位"), _("应完成"), _("已完成"), _("漏检"), _("逾期未检"), _("完成率")])
    cov = data["coverage_total"]
    for r in [*data["coverage"], {**cov, "name": _("合计")}]:
        ws.append(
            [r["name"], r["due"], r["done"], r["missed"], r["pending_past_due"],
             _pct(r["coverage"])]
        )  # fmt: skip
    for key, title, first in (
        ("pass_by_clause", _("按条款合格率"), _("条款")),
        ("pass_by_location", _("按地点合格率"), _("地点")),
        ("pass_by_vendor", _("按责任单位合格率"), _("责任单位")),
        ("pass_by_org", _("按单位合格率"), _("单位")),
    ):
        ws = wb.create_sheet(title)
        ws.append([first, _("检查项"), _("合格"), _("不符合"), _("合格率")])
        for r in data[key]:
            name = f"{r['number']} {r['name']}" if key == "pass_by_clause" else r["name"]
            ws.append([name, r["total"], r["passed"], r["failed"], _pct(r["rate"])])
    ws = wb.create_sheet(_("整改"))
    ws.append(
        [_("单位"), _("整改单"), _("已闭环"), _("按期闭环"), _("整改中"), _("超期"),
         _("闭环率"), _("按期整改率")]
    )  # fmt: skip
    for r in [*data["rectification_by_org"], {**data["rectification_total"], "name": _("合计")}]:
        ws.append(
            [r["name"], r["total"], r["closed"], r["on_time"], r["open"], r["overdue"],
             _pct(r["closure_rate"]), _pct(r["on_time_rate"])]
        )  # fmt: skip
    ws = wb.create_sheet(_("督办"))
    ws.append([_("承办单位"), _("在办"), _("超期")])
    for r in [*data["supervision_by_org"], {**data["supervision_total"], "name": _("合计")}]:
        ws.append([r["name"], r["open"], r["overdue"]])
    ws = wb.create_sheet(_("月度趋势"))
    ws.append([_("月份"), _("检查项"), _("合格"), _("合格率"), _("发现问题")])
    for r in data["trend"]:
        ws.append([r["month"], r["judged"], r["passed"], _pct(r["pass_rate"]), r["findings"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
