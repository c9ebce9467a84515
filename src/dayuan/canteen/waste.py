"""Less waste: the weighing ledger (JG-ST C10) and the daily waste evaluation (C9).

The kitchen weighs kitchen waste, tray returns, unsold food thrown away and trimmings
reused; each weighing is judged by the ledger rule (weighed, registered by someone).
Once a day the weighings are summed and divided by the day's diners (the closed meals'
diners; a meal not closed yet counts those served), and the evaluation is judged by
C9. Both are written first, then judged with the row as the subject, so a blocking
clause rolls the write back and the refusal cites it; a non-blocking failure keeps the
row (``passed=False``) and opens a finding (the closed loop of inspections).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.audit.log import audited, record
from dayuan.core.errors import InvalidInput, PermissionDenied
from dayuan.standards import engine

from . import queries
from .choices import Meal, RecordType, WasteKind
from .models import Canteen, Menu, WasteDay, WasteLog
from .safety import open_kitchen_finding

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_WEIGHT_KG = Decimal(5000)
# A weighing may be entered a little ahead of the server's clock (a phone's clock).
CLOCK_SKEW = timedelta(minutes=5)


def _canteen(actor: Any, canteen_id: int) -> Canteen:
    """The canteen, if the actor keeps its logs: its operators and managers. NotFound
    when the actor does not see it at all."""
    c = queries.canteen(actor, canteen_id)
    if not (queries.may_operate(actor, c) or queries.may_manage(actor, c)):
        raise PermissionDenied(
            _("只有食堂后厨人员或管理人员可以登记称重和浪费评估。"), action="canteen.operate"
        )
    return c


def _weight(value: Any) -> Decimal:
    try:
        weight = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        weight = None
    if weight is None or not weight.is_finite() or weight > MAX_WEIGHT_KG:
        raise InvalidInput(
            _("重量须为 0 至 %(max)s kg 之间的数字。") % {"max": MAX_WEIGHT_KG},
            code="bad_weight",
        )
    return weight


def _check_day(day: date, now: datetime) -> None:
    if day > timezone.localdate(now):
        raise InvalidInput(_("不能登记未来日期。"), code="bad_day")


def _name(user: Any) -> str:
    return getattr(user, "display_name", "") or getattr(user, "username", "")


def _nonconformance(
    log: Any, c: Canteen, violations: list[engine.Violation], actor: Any, now: datetime
) -> None:
    """A kept record that a non-blocking clause failed: ``passed=False`` and one finding
    (citing the first clause, describing them all) unless the record has one already."""
    log.passed = False
    if log.finding_id is None:
        log.finding = open_kitchen_finding(
            c,
            violations[0],
            "；".join(
                f"{c.name} {v.standard_code} {v.clause_number}：{v.message}" for v in violations
            ),
            actor=actor,
            now=now,
        )
    log.save(update_fields=["passed", "finding", "updated_at"])


@audited("canteen.record_waste")
def record_waste(
    *,
    actor: Any,
    canteen_id: int,
    day: date,
    kind: str,
    weight_kg: Decimal,
    meal: str = "",
    recorded_at: datetime | None = None,
    now: datetime | None = None,
) -> WasteLog:
    """One weighing (餐厨垃圾台账) of ``kind`` for ``day`` (and ``meal`` when known), by
    the canteen's operators or managers; judged by JG-ST C10 (a refused weighing is not
    kept)."""
    now = now or timezone.now()
    c = _canteen(actor, canteen_id)
    if kind not in WasteKind.values:
        raise InvalidInput(_("称重类别无效。"), code="bad_kind")
    if meal and meal not in Meal.values:
        raise InvalidInput(_("餐次无效。"), code="bad_meal")
    weight = _weight(weight_kg)
    at = recorded_at or now
    if not isinstance(at, datetime):
        raise InvalidInput(_("时间无效。"), code="bad_time")
    if timezone.is_naive(at):  # a local (Asia/Shanghai) time, as the kitchen reads it
        at = at.replace(tzinfo=SHANGHAI)
    if at > now + CLOCK_SKEW:
        raise InvalidInput(_("记录时间不能晚于当前时间。"), code="bad_time")
    _check_day(day, now)
    log = WasteLog.objects.create(
        org=c.org,
        canteen=c,
        recorded_at=at,
        recorded_by=actor,
        day=day,
        meal=meal,
        kind=kind,
        weight_kg=weight,
    )
    result = engine.enforce_record(
        c.org,
        RecordType.WASTE_LEDGER,
        {
            "weight_kg": float(weight),
            "registered_by": _name(actor),
            "kind": kind,
            "meal": meal,
            "day": day.isoformat(),
        },
        at=at,
        location=c.kitchen or c.location,
        vendor=c.operator,
        subject=log,
    )
    # The ledger clause cites a negative weight; without the standard, refuse it anyway.
    if weight < 0:
        raise InvalidInput(
            _("重量须为 0 至 %(max)s kg 之间的数字。") % {"max": MAX_WEIGHT_KG},
            code="bad_weight",
        )
    if result.non_blocking:
        _nonconformance(log, c, result.non_blocking, actor, now)
    record(
        "canteen.record_waste",
        actor=actor,
        obj=log,
        changes={
            "canteen": c.pk,
            "day": day.isoformat(),
            "meal": meal,
            "kind": kind,
            "weight_kg": str(weight),
            "passed": log.passed,
        },
    )
    return log


def _kg(value: Any) -> Decimal:
    return (value or Decimal(0)).quantize(Decimal("0.01"))


@audited("canteen.evaluate_waste_day")
def evaluate_waste_day(
    *, actor: Any, canteen_id: int, day: date, now: datetime | None = None
) -> WasteDay:
    """每日浪费评估: the day's weighings summed by kind and the tray leftovers per diner,
    written (or rewritten: one row per canteen and day) and judged by JG-ST C9. A day
    without diners has nothing to divide by (``no_diners``)."""
    from dayuan.standards.models import Judgment

    now = now or timezone.now()
    c = _canteen(actor, canteen_id)
    _check_day(day, now)
    sums = {
        r["kind"]: _kg(r["kg"])
        for r in WasteLog.objects.filter(canteen_id=c.pk, day=day)
        .values("kind")
        .annotate(kg=Sum("weight_kg"))
        .order_by()
    }
    menus = Menu.objects.filter(canteen_id=c.pk, day=day, status__in=queries.COUNTING)
    diners = sum(f.diners or 0 for f in queries.meal_figures(menus, now=now))
    if diners <= 0:
        raise InvalidInput(_("当日没有就餐人数，无法评估人均浪费。"), code="no_diners")
    kitchen = sums.get(WasteKind.KITCHEN, Decimal("0.00"))
    unsold = sums.get(WasteKind.UNSOLD, Decimal("0.00"))
    tray = sums.get(WasteKind.TRAY, Decimal("0.00"))
    trimmings = sums.get(WasteKind.TRIMMINGS, Decimal("0.00"))
    per_diner = (tray * 1000 / diners).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    values = {
        "diners": diners,
        "kitchen_waste_kg": kitchen,
        "unsold_discarded_kg": unsold,
        "tray_waste_kg": tray,
        "trimmings_reused_kg": trimmings,
        "tray_waste_per_diner_g": per_diner,
    }
    created = False
    wd = WasteDay.objects.select_for_update().filter(canteen_id=c.pk, day=day).first()
    if wd is None:
        try:
            with transaction.atomic():
                wd = WasteDay.objects.create(
                    org=c.org, canteen=c, day=day, recorded_at=now, recorded_by=actor, **values
                )
        except IntegrityError:  # evaluated at the same moment elsewhere: rewrite it
            wd = WasteDay.objects.select_for_update().get(canteen_id=c.pk, day=day)
        else:
            created = True
    if not created:
        for k, v in values.items():
            setattr(wd, k, v)
        wd.recorded_at, wd.recorded_by, wd.passed = now, actor, True
        wd.save()
        # One evaluation per day counts in compliance: the latest one.
        Judgment.objects.filter(
            subject_type=WasteDay._meta.label_lower, subject_id=str(wd.pk)
        ).delete()
    waste = kitchen + unsold + tray
    result = engine.enforce_record(
        c.org,
        RecordType.WASTE_DAILY,
        {
            "day": day.isoformat(),
            "diners": diners,
            "kitchen_waste_kg": float(kitchen),
            "unsold_discarded_kg": float(unsold),
            "tray_waste_kg": float(tray),
            # the standard's 餐盘回收浪费率, measured as tray leftovers per diner (g)
            "tray_waste_rate": float(per_diner),
            "trimmings_reused_kg": float(trimmings),
            "waste_per_diner_g": round(float(waste) * 1000 / diners, 1),
        },
        at=now,
        location=c.kitchen or c.location,
        vendor=c.operator,
        subject=wd,
    )
    if result.non_blocking:
        _nonconformance(wd, c, result.non_blocking, actor, now)
    record(
        "canteen.evaluate_waste_day",
        actor=actor,
        obj=wd,
        changes={
            "canteen": c.pk,
            "day": day.isoformat(),
            **{k: str(v) for k, v in values.items()},
            "passed": wd.passed,
        },
    )
    return wd


__all__ = ["evaluate_waste_day", "record_waste"]
