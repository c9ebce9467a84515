"""The calendar page: one year's holidays and adjusted working days, edited by managers."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.core import policy
from dayuan.core.errors import DomainError, InvalidInput

from . import queries, services
from .calendar import current_table
from .models import DayKind


def _year(value: str | None) -> int:
    if value and value.isdigit() and services.MIN_YEAR <= int(value) <= services.MAX_YEAR:
        return int(value)
    return timezone.localdate().year


def _date(value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError as exc:
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD。"), code="invalid_date") from exc


def _apply(request: HttpRequest, year: int) -> str:
    """Run the posted action through a service; returns the success message."""
    action = request.POST.get("action")
    if action == "set":
        row = services.set_special_day(
            actor=request.user,
            date=_date(request.POST.get("date")),
            kind=request.POST.get("kind", ""),
            name=request.POST.get("name", ""),
        )
        return _("已保存 %(day)s。") % {"day": f"{row.date:%Y-%m-%d}"}
    if action == "delete":
        day = _date(request.POST.get("date"))
        services.delete_special_day(actor=request.user, date=day)
        return _("已删除 %(day)s。") % {"day": f"{day:%Y-%m-%d}"}
    if action == "complete":
        complete = request.POST.get("complete") == "1"
        services.mark_year_complete(actor=request.user, year=year, complete=complete)
        return (
            _("已标记 %(year)s 年安排已录入。") % {"year": year} if complete else _("已取消标记。")
        )
    raise InvalidInput(_("未知操作。"), code="unknown_action")


@login_required
def year_view(request: HttpRequest) -> HttpResponse:
    if not policy.can(request.user, "calendar.view"):
        raise DjangoPermissionDenied
    year = _year(request.GET.get("year") or request.POST.get("year"))
    status = 200
    if request.method == "POST":
        try:
            note = _apply(request, year)
        except DomainError as exc:
            messages.error(request, str(exc.message))
            status = exc.status
        else:
            messages.success(request, note)
            return redirect(f"{reverse('workcalendar:year')}?year={year}")
    table = current_table()
    info = table.year(year)
    rows: list[dict] = []
    if info.source == "table":
        rows = [
            {
                "date": r.date,
                "kind": r.kind,
                "kind_label": r.get_kind_display(),
                "name": r.name,
                "source": r.get_source_display(),
                "editable": True,
            }
            for r in queries.special_days(year)
        ]
    else:
        labels = dict(DayKind.choices)
        rows = [
            {
                "date": d,
                "kind": kind,
                "kind_label": labels[kind],
                "name": name,
                "source": _("日历库（未入表）"),
                "editable": False,
            }
            for d, (kind, name) in sorted(info.days.items())
        ]
    context = {
        "active_nav": "calendar",
        "year": year,
        "prev_year": year - 1,
        "next_year": year + 1,
        "rows": rows,
        "source": info.source,
        "holiday_count": sum(1 for r in rows if r["kind"] == DayKind.HOLIDAY),
        "workday_count": sum(1 for r in rows if r["kind"] == DayKind.WORKDAY),
        "working_days": table.workdays_in(date(year, 1, 1), date(year + 1, 1, 1)),
        "complete": queries.is_year_complete(year),
        "missing_years": queries.missing_years(),
        "can_manage": services.can_manage(request.user),
        "kinds": DayKind.choices,
    }
    return render(request, "workcalendar/year.html", context, status=status)
