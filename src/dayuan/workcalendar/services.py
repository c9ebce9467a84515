"""Every write to the holiday table: one function per use case, audited.

The table is national: one change moves every organisation's deadlines. So managing it
needs ``calendar.manage`` at the root of the organisation tree, not at any county.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound
from dayuan.orgs.models import Organization

from . import library
from .models import CalendarYear, DayKind, DaySource, SpecialDay

FIELDS = ["date", "kind", "name", "source"]
MIN_YEAR, MAX_YEAR = 2000, 2100


def _root() -> Organization | None:
    return Organization.objects.filter(parent__isnull=True).first()


def can_manage(user: Any) -> bool:
    """For pages: whether to show the editing controls."""
    return policy.can(user, "calendar.manage", _root())


def _require_manager(actor: Any) -> None:
    policy.require(actor, "calendar.manage", _root())


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            _("年份超出可维护范围。"), code="year_out_of_range", min=MIN_YEAR, max=MAX_YEAR
        )


@audited("workcalendar.specialday.set")
def set_special_day(*, actor: Any, date: date, kind: str, name: str = "") -> SpecialDay:
    """Enter or change one date of the arrangement. ``.created`` tells which it was."""
    _require_manager(actor)
    _check_year(date.year)
    if kind not in DayKind.values:
        raise InvalidInput(_("类型无效。"), code="invalid_kind", field="kind", kind=kind)
    name = (name or "").strip()
    if len(name) > 50:
        raise InvalidInput(_("名称不能超过 50 个字符。"), code="invalid_name", field="name")
    if kind == DayKind.WORKDAY and date.weekday() < 5:
        raise InvalidInput(
            _("调休上班日应为周六或周日，周一至周五本就是工作日。"),
            code="workday_not_weekend",
            field="date",
        )
    row = SpecialDay.objects.select_for_update().filter(date=date).first()
    before = snapshot(row, FIELDS) if row else {}
    created = row is None
    if row is None:
        row = SpecialDay(date=date)
    row.kind, row.name, row.source = kind, name, DaySource.MANUAL
    try:
        with transaction.atomic():  # a savepoint: a concurrent insert of the same date
            row.save()
    except IntegrityError as exc:
        raise Conflict(_("该日期刚被他人修改，请刷新后重试。"), code="concurrent_edit") from exc
    record(
        "workcalendar.specialday.set",
        actor=actor,
        obj=row,
        changes=diff(before, snapshot(row, FIELDS)),
    )
    row.created = created  # type: ignore[attr-defined]
    return row


@audited("workcalendar.specialday.delete")
def delete_special_day(*, actor: Any, date: date) -> None:
    _require_manager(actor)
    row = SpecialDay.objects.select_for_update().filter(date=date).first()
    if row is None:
        raise NotFound(_("该日期不是节假日或调休上班日。"))
    before = snapshot(row, FIELDS)
    pk, text = row.pk, str(row)
    row.delete()
    record(
        "workcalendar.specialday.delete",
        actor=actor,
        object_type=SpecialDay._meta.label_lower,
        object_id=pk,
        changes={**diff(before, {}), "repr": text},
    )


@audited("workcalendar.year.mark")
def mark_year_complete(
    *, actor: Any, year: int, complete: bool = True, note: str = ""
) -> CalendarYear:
    """Declare that a year's arrangement has been entered (or withdraw the declaration)."""
    _require_manager(actor)
    _check_year(year)
    marker, _created = CalendarYear.objects.select_for_update().get_or_create(year=year)
    before = snapshot(marker, ["year", "complete", "note"]) if not _created else {}
    marker.complete = complete
    if note:
        marker.note = note[:200]
    marker.save()
    record(
        "workcalendar.year.mark",
        actor=actor,
        obj=marker,
        changes=diff(before, snapshot(marker, ["year", "complete", "note"])),
    )
    return marker


@audited("workcalendar.seed")
def seed_from_library(
    *, actor: Any, years: list[int] | None = None, overwrite: bool = False
) -> dict[int, int]:
    """Copy the installed library's arrangement into the table; returns rows added per year.

    Years already known to the table are left alone unless ``overwrite`` (which replaces
    library rows and never touches manual ones). ``actor=None`` means the system itself
    (the ``seed_calendar`` command); a person needs ``calendar.manage``.
    """
    if actor is not None:
        _require_manager(actor)
    wanted = sorted(set(years) if years is not None else set(library.known_years()))
    added: dict[int, int] = {}
    for year in wanted:
        entries = library.entries(year)
        if not entries:
            continue
        known = (
            SpecialDay.objects.filter(year=year).exists()
            or CalendarYear.objects.filter(year=year, complete=True).exists()
        )
        if known and not overwrite:
            continue
        manual = set(
            SpecialDay.objects.filter(year=year, source=DaySource.MANUAL).values_list(
                "date", flat=True
            )
        )
        SpecialDay.objects.filter(year=year, source=DaySource.LIBRARY).delete()
        rows = [
            SpecialDay(date=d, year=d.year, kind=kind, name=name, source=DaySource.LIBRARY)
            for d, (kind, name) in sorted(entries.items())
            if d not in manual
        ]
        SpecialDay.objects.bulk_create(rows)
        CalendarYear.objects.update_or_create(
            year=year, defaults={"complete": True, "note": "chinese_calendar"}
        )
        added[year] = len(rows)
    record(
        "workcalendar.seed",
        actor=actor,
        object_type="workcalendar.specialday",
        changes={"years": wanted, "added": {str(k): v for k, v in added.items()}},
    )
    return added
