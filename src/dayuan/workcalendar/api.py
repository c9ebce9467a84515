"""The working calendar: days, the holiday table, working-time arithmetic per org."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dayuan.core import policy
from dayuan.core.api import ErrorOut
from dayuan.core.errors import InvalidInput
from dayuan.orgs import queries as org_queries

from . import queries, services
from .calendar import SHANGHAI, WorkingCalendar
from .models import DayKind

router = Router(tags=["calendar"])

MAX_ADD_MINUTES = 5 * 250 * 24 * 60  # far beyond any SLA; keeps a request bounded


class DayOut(Schema):
    date: date
    is_workday: bool
    kind: str | None = Field(None, description="holiday | workday (调休上班) | null")
    name: str


class SpecialDayIn(Schema):
    date: date
    kind: DayKind
    name: str = Field("", max_length=50)


class SpecialDayOut(Schema):
    date: date
    year: int
    kind: str
    name: str
    source: str


class WorkingMinutesOut(Schema):
    org_id: int
    start: datetime
    end: datetime
    minutes: int


class AddMinutesOut(Schema):
    org_id: int
    start: datetime
    minutes: int
    due_at: datetime


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            _("时间必须带时区，例如 2024-02-02T17:20:00+08:00。"),
            code="naive_datetime",
            field=field,
        )
    return value.astimezone(SHANGHAI)


def _calendar(request: HttpRequest, org_id: int) -> WorkingCalendar:
    return WorkingCalendar.for_org(org_queries.organization(request.auth, org_id))


@router.get("/calendar/days", response={200: list[DayOut], 403: ErrorOut, 422: ErrorOut})
def list_days(request: HttpRequest, start: date, end: date):
    policy.require(request.auth, "calendar.view")
    if end < start or (end - start).days + 1 > queries.MAX_RANGE_DAYS:
        raise InvalidInput(
            _("日期范围无效：结束日期不能早于开始日期，且最多 366 天。"),
            code="invalid_range",
            max_days=queries.MAX_RANGE_DAYS,
        )
    return queries.days(start, end)


@router.post(
    "/calendar/special-days",
    response={200: SpecialDayOut, 201: SpecialDayOut, 403: ErrorOut, 422: ErrorOut},
)
def set_special_day(request: HttpRequest, payload: SpecialDayIn):
    row = services.set_special_day(
        actor=request.auth, date=payload.date, kind=payload.kind, name=payload.name
    )
    return Status(201 if row.created else 200, row)


@router.delete("/calendar/special-days/{day}", response={204: None, 403: ErrorOut, 404: ErrorOut})
def delete_special_day(request: HttpRequest, day: date):
    services.delete_special_day(actor=request.auth, date=day)
    return Status(204, None)


@router.get(
    "/calendar/working-minutes",
    response={200: WorkingMinutesOut, 404: ErrorOut, 422: ErrorOut},
)
def working_minutes(request: HttpRequest, org_id: int, start: datetime, end: datetime):
    cal = _calendar(request, org_id)
    start, end = _aware(start, "start"), _aware(end, "end")
    return {
        "org_id": org_id,
        "start": start,
        "end": end,
        "minutes": cal.working_minutes_between(start, end),
    }


class AddMinutesQuery(Schema):
    org_id: int
    start: datetime
    minutes: int = Field(..., ge=0, le=MAX_ADD_MINUTES)


@router.get("/calendar/add-minutes", response={200: AddMinutesOut, 404: ErrorOut, 422: ErrorOut})
def add_minutes(request: HttpRequest, params: Query[AddMinutesQuery]):
    cal = _calendar(request, params.org_id)
    start = _aware(params.start, "start")
    try:
        due = cal.add_working_minutes(start, params.minutes)
    except ValueError as exc:
        raise InvalidInput(_("超出可计算的时间范围。"), code="out_of_range") from exc
    return {"org_id": params.org_id, "start": start, "minutes": params.minutes, "due_at": due}
