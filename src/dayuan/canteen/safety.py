"""Food-safety logs of the kitchen, judged by the standard in force (JG-ST): food samples
(留样), fridge temperatures, tableware disinfection, receiving checks (进货查验), food
handlers and their morning health checks (晨检), plus the jobs that watch them and the
kitchen's daily opening and closing checks.

Every log is written first, inside the service's transaction, so it can be the subject
of the standard's judgments; then ``engine.enforce_record`` judges it. A blocking
violation (the key clauses: sample weight and retention, disinfection, certificates,
receiving) raises ``RuleRefused`` citing the clause and rolls back the log and its
judgments. A non-blocking one (fridge temperatures) keeps the log with ``passed=False``
and opens one finding for it (the closed loop of the inspections app), and the kitchen's
operators and managers hear of it.

No threshold lives here: what each method of disinfection must reach, how heavy a
sample must be and how long it is kept are the standard's variables, as tightened by
the county that adopted it (county B keeps 150 g samples).

Kept by the kitchen: the canteen's operators (``queries.may_operate``) and managers
(``queries.may_manage``). Someone who sees the canteen or its logs otherwise (a diner,
an overseer) is refused with 403; anyone else gets a 404. ``now`` is for tests and
jobs; callers leave it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dayuan.accounts.choices import Role
from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.policy import roles_for
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.inspections import services as inspection_services
from dayuan.inspections.choices import FindingSource, InspectionKind
from dayuan.inspections.models import Finding, PlanAssignment, PlanOccurrence
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location
from dayuan.standards import effective, engine
from dayuan.standards.choices import Outcome, RuleKind
from dayuan.standards.rules import RecordParams
from dayuan.workorders.tasks import role_holders

from . import events, queries
from .choices import (
    CLOSING_CHECK,
    OPENING_CHECK,
    ColdUnitKind,
    DisinfectionMethod,
    MenuStatus,
    RecordType,
    ReservationStatus,
    VoucherStatus,
)
from .models import (
    Canteen,
    ColdUnit,
    Disinfection,
    FoodHandler,
    FoodSample,
    HealthCheck,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    SafetyLog,
    TemperatureLog,
    Voucher,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CANTEEN_RELATED = queries.CANTEEN_RELATED
VIA_CANTEEN = tuple(f"canteen__{r}" for r in CANTEEN_RELATED)
# A log may be entered a little ahead of the server's clock (a phone's clock), no more.
CLOCK_SKEW = timedelta(minutes=5)
# When no standard in force says how long a sample is kept (none adopted): the national
# rule of thumb, only so that ``keep_until`` has a value; nothing is judged then.
FALLBACK_RETENTION_HOURS = 48
MAX_KEEP_HOURS = 24 * 30
# A meal is checked for missing samples once it is closed, or this long after serving.
SAMPLE_CHECK_AFTER = timedelta(hours=2)
CERTIFICATE_WARNING_DAYS = 30
SAMPLE_RULE = "c1_sample_every_meal"
SAMPLE_ACTIVITY = "canteen.food_sample"
# the daily checks of the kitchen (JG-ST C13): activity -> checklist
CHECK_PLANS = ((OPENING_CHECK, "canteen.opening"), (CLOSING_CHECK, "canteen.closing"))
HANDLER_FIELDS = [
    "user_id",
    "name",
    "post",
    "handles_ready_to_eat",
    "certificate_no",
    "issued_on",
    "expires_on",
    "is_active",
    "version",
]
HANDLER_KEYS = {
    "user_id",
    "name",
    "post",
    "handles_ready_to_eat",
    "certificate_no",
    "issued_on",
    "expires_on",
    "is_active",
}
RECEIVING_KEYS = {
    "supplier",
    "supplier_licence",
    "item",
    "spec",
    "quantity",
    "unit",
    "batch_no",
    "production_date",
    "best_before",
    "certificate_no",
    "accepted",
    "reject_reason",
}


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def _iso(dt: datetime) -> str:
    return _local(dt).isoformat()


def _name(user: Any) -> str:
    return (getattr(user, "display_name", "") or getattr(user, "username", "")).strip()


# --- input ------------------------------------------------------------------------------


def _decimal(
    value: Any, field: str, label: Any, low: Decimal, high: Decimal, places: int | None = None
) -> Decimal:
    """A number in ``[low, high]`` (Decimal, int, float or numeric text; not a bool),
    rounded to the column's ``places`` so that what is judged is what is stored."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
        if places is not None:
            number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            _("%(field)s须为数字。") % {"field": label}, code="invalid_number", field=field
        ) from None
    if not low <= number <= high:
        raise InvalidInput(
            _("%(field)s须在 %(low)s–%(high)s 之间。") % {"field": label, "low": low, "high": high},
            code="out_of_range",
            field=field,
        )
    return number


def _integer(value: Any, field: str, label: Any, low: int, high: int) -> int:
    number = _decimal(value, field, label, Decimal(low), Decimal(high))
    if number != number.to_integral_value():
        raise InvalidInput(
            _("%(field)s须为整数。") % {"field": label}, code="invalid_number", field=field
        )
    return int(number)


def _boolean(value: Any, field: str, label: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInput(
        _("%(field)s须为是或否。") % {"field": label}, code="invalid_boolean", field=field
    )


def _date(value: Any, field: str, label: Any) -> date:
    if isinstance(value, datetime):
        return _local(value).date()
    if isinstance(value, date):
        return value
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidInput(
            _("%(field)s日期无效。") % {"field": label}, code="bad_date", field=field
        )
    return parsed


def _instant(value: Any, field: str, now: datetime) -> datetime:
    """When something was done: an aware datetime (or ISO text), not in the future."""
    if value is None:
        return now
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else value
    except ValueError:  # well formed but no such time: 02-30, 25:00
        parsed = None
    if not isinstance(parsed, datetime):
        raise InvalidInput(_("时间无效。"), code="bad_time", field=field)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=SHANGHAI)
    if parsed > now + CLOCK_SKEW:
        raise InvalidInput(_("记录时间不能晚于当前时间。"), code="in_future", field=field)
    return parsed


def _unknown(data: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise InvalidInput(_("包含无法识别的字段。"), code="unknown_fields", fields=extra)


# --- who --------------------------------------------------------------------------------


def may_keep_logs(user: Any, canteen: Canteen) -> bool:
    """The kitchen's operators and the canteen's managers keep the food-safety logs."""
    return queries.may_operate(user, canteen) or queries.may_manage(user, canteen)


def _refuse(*, sees: bool) -> NoReturn:
    """For someone who may not keep the logs: 403 when they see the thing, else 404."""
    if sees:
        raise PermissionDenied(action="canteen.operate")
    raise NotFound(_("食堂不存在或无权访问。"))


def _sees(actor: Any, canteen: Canteen) -> bool:
    return queries.visible_canteens(actor).filter(pk=canteen.pk).exists()


def _canteen(actor: Any, canteen_id: int | None) -> Canteen:
    canteen = (
        Canteen.objects.select_related(*CANTEEN_RELATED).filter(pk=canteen_id).first()
        if canteen_id is not None
        else None
    )
    if canteen is None:
        raise NotFound(_("食堂不存在或无权访问。"))
    if not may_keep_logs(actor, canteen):
        _refuse(sees=_sees(actor, canteen))
    return canteen


def _log_reader(actor: Any, canteen: Canteen) -> None:
    """For a log, a fridge or a handler: overseers see them (403), others do not (404)."""
    if not may_keep_logs(actor, canteen):
        _refuse(sees=queries.may_oversee(actor, canteen))


def _kept(model: Any, pk: Any, missing: str, actor: Any, *related: str, lock: bool = False) -> Any:
    """A sample, a fridge or a handler of a canteen, with its canteen, for someone who
    keeps the canteen's logs (``_log_reader``); one that does not exist is a 404."""
    rows = model.objects.select_for_update(of=("self",)) if lock else model.objects
    found = rows.select_related(*related, *VIA_CANTEEN).filter(pk=pk).first()
    if found is None:
        raise NotFound(missing)
    _log_reader(actor, found.canteen)
    return found


def _place(canteen: Canteen) -> Location:
    return canteen.kitchen or canteen.location


def kitchen_people(canteen: Canteen) -> list[User]:
    """Who hears of the kitchen's food safety: its operators (the nearest workers,
    dispatchers and managers of the canteen's org and of its catering company) and the
    canteen's managers."""
    roles = set(roles_for("canteen.operate")) | {Role.MANAGER}
    people = list(role_holders(canteen.org, roles))
    if canteen.operator_id:
        people += role_holders(canteen.operator, roles)
    seen: set[int] = set()
    out = []
    for user in people:
        if user.pk not in seen:
            seen.add(user.pk)
            out.append(user)
    return out


def _notify(
    event_type: str,
    canteen: Canteen,
    *,
    actor: Any,
    title: str,
    body: str,
    key: str,
    link: str = "",
    obj: Any = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Tell the kitchen's people (not the actor: they know what they did). The catering
    company's workers are told under the company (their grants reach it, not the
    canteen's org), everyone else under the canteen's org."""
    users = [u for u in kitchen_people(canteen) if u.pk != getattr(actor, "pk", None)]
    groups: list[tuple[Any, list[User], str]] = [
        (canteen.org, [u for u in users if org_in_scope(u, canteen.org)], key)
    ]
    if canteen.operator_id:
        groups.append(
            (
                canteen.operator,
                [
                    u
                    for u in users
                    if not org_in_scope(u, canteen.org) and org_in_scope(u, canteen.operator)
                ],
                f"{key}:operator",
            )
        )
    for org, recipients, dedupe in groups:
        if recipients:
            emit(
                event_type,
                org=org,
                actor=actor if getattr(actor, "pk", None) else None,
                recipients=recipients,
                title=title,
                body=body,
                link=link,
                object=obj,
                dedupe_key=dedupe,
                payload=payload or {},
            )


# --- judging ----------------------------------------------------------------------------


def _judge(
    canteen: Canteen,
    record_type: str,
    data: Mapping[str, Any],
    log: SafetyLog,
    *,
    actor: Any,
    now: datetime,
    what: str,
) -> engine.RecordResult:
    """Judge a written log: refuse on a blocking violation (rolling everything back);
    on non-blocking ones keep it as failed, with one finding, and tell the kitchen."""
    result = engine.enforce_record(
        canteen.org,
        record_type,
        data,
        at=log.recorded_at,
        location=_place(canteen),
        vendor=canteen.operator,
        subject=log,
    )
    if result.non_blocking:
        _nonconformance(canteen, log, result.non_blocking, actor=actor, now=now, what=what)
    return result


def _nonconformance(
    canteen: Canteen,
    log: SafetyLog,
    violations: Sequence[engine.Violation],
    *,
    actor: Any,
    now: datetime,
    what: str,
) -> Finding:
    first = violations[0]
    description = _("%(canteen)s %(what)s不符合 %(standard)s 第 %(clause)s 条：%(messages)s") % {
        "canteen": canteen.name,
        "what": what,
        "standard": first.standard_code,
        "clause": first.clause_number,
        "messages": "；".join(dict.fromkeys(v.message for v in violations)),
    }
    finding = open_kitchen_finding(canteen, first, description, actor=actor, now=now)
    log.passed = False
    log.finding = finding
    log.save(update_fields=["passed", "finding", "updated_at"])
    _notify_finding(
        canteen,
        finding,
        actor=actor,
        title=_("食品安全记录不符合：%(what)s") % {"what": what},
        body=description,
        obj=log,
        key=f"canteen:{log._meta.model_name}:{log.pk}:nonconformance",
        payload={"clause": first.clause_number},
    )
    return finding


def open_kitchen_finding(
    canteen: Canteen, judged: Any, description: str, *, actor: Any, now: datetime
) -> Finding:
    """A finding at the kitchen against the canteen's operator, for the clause and rule
    that ``judged`` (a violation, or the rule itself) names. The waste ledger's too."""
    return inspection_services.open_finding(
        org=canteen.org,
        clause=judged.clause_id,
        rule=judged.rule_id,
        severity=judged.severity,
        location=_place(canteen),
        vendor=canteen.operator,
        source=FindingSource.OTHER,
        description=description,
        actor=actor,
        now=now,
    )


def _notify_finding(
    canteen: Canteen,
    finding: Finding,
    *,
    actor: Any,
    title: str,
    body: str,
    obj: Any,
    key: str,
    payload: dict[str, Any],
) -> None:
    """Tell the kitchen of a non-conformance, with a link to its finding."""
    _notify(
        events.SAFETY_NONCONFORMANCE,
        canteen,
        actor=actor,
        title=title,
        body=body,
        link=f"/inspections/findings/{finding.pk}/",
        obj=obj,
        key=key,
        payload={"finding": finding.number, **payload},
    )


def _audit(action: str, actor: Any, log: Any, fields: list[str]) -> None:
    record(action, actor=actor, obj=log, changes=diff({}, snapshot(log, fields)))


LOG_FIELDS = ["canteen_id", "recorded_at", "recorded_by_id", "passed", "finding_id"]


# --- samples (C1, C2) -------------------------------------------------------------------


def retention_hours(org: Any, at: datetime | None = None) -> int:
    """How long a sample must be kept by the standard in force for ``org``: the largest
    ``min_retention_hours`` of its sample rules (the fallback when none is in force)."""
    hours = [
        rule.params.vars["min_retention_hours"].value
        for rule in engine.record_rules(org, RecordType.FOOD_SAMPLE, at)
        if isinstance(rule.params, RecordParams) and "min_retention_hours" in rule.params.vars
    ]
    return int(max(hours)) if hours else FALLBACK_RETENTION_HOURS


def _sample_record(sample: FoodSample, retention: float, sampled_by: Any) -> dict[str, Any]:
    return {
        "dish": sample.dish.name,
        "sampled_at": _iso(sample.recorded_at),
        "sampled_by": _name(sampled_by),
        "sealed": sample.sealed,
        "weight_g": float(sample.weight_g),
        "retention_hours": retention,
    }


SAMPLE_FIELDS = [*LOG_FIELDS, "menu_item_id", "weight_g", "fridge_id", "sealed", "keep_until"]


@audited("canteen.record_sample")
def record_sample(
    *,
    actor: Any,
    menu_item_id: int,
    weight_g: Decimal,
    fridge_id: int,
    sampled_at: datetime | None = None,
    sealed: bool = True,
    keep_hours: int | None = None,
    now: datetime | None = None,
) -> FoodSample:
    """留样: one dish of a meal, weighed and sealed in the sample fridge. Too light a
    sample or too short a retention is refused by the standard (JG-ST C1)."""
    now = _now(now)
    item = (
        MenuItem.objects.select_related(
            "dish", "menu", *(f"menu__canteen__{r}" for r in CANTEEN_RELATED)
        )
        .filter(pk=menu_item_id)
        .first()
    )
    if item is None:
        raise NotFound(_("菜品不存在或无权访问。"))
    canteen = item.menu.canteen
    if not may_keep_logs(actor, canteen):
        _refuse(sees=_sees(actor, canteen))
    if item.menu.status in (MenuStatus.DRAFT, MenuStatus.CANCELLED):
        raise Conflict(
            _("该餐次未发布或已取消，无需留样。"), code="menu_not_served", status=item.menu.status
        )
    weight = _decimal(weight_g, "weight_g", _("留样重量"), Decimal(0), Decimal("99999"), 1)
    if not isinstance(sealed, bool):
        raise InvalidInput(_("请注明是否密封。"), code="invalid_boolean", field="sealed")
    sampled = _instant(sampled_at, "sampled_at", now)
    fridge = ColdUnit.objects.filter(
        pk=fridge_id, canteen=canteen, kind=ColdUnitKind.SAMPLE, is_active=True
    ).first()
    if fridge is None:
        raise InvalidInput(
            _("请选择本食堂的留样专用冰箱。"), code="invalid_fridge", field="fridge_id"
        )
    retention = (
        retention_hours(canteen.org, sampled)
        if keep_hours is None
        else _integer(keep_hours, "keep_hours", _("保存时长"), 1, MAX_KEEP_HOURS)
    )
    if FoodSample.objects.filter(menu_item=item).exists():
        raise Conflict(_("该菜品本餐次已留样。"), code="already_sampled")
    sample = FoodSample(
        org=canteen.org,
        canteen=canteen,
        recorded_at=sampled,
        recorded_by=actor,
        menu=item.menu,
        menu_item=item,
        dish=item.dish,
        weight_g=weight,
        keep_until=sampled + timedelta(hours=retention),
        fridge=fridge,
        sealed=sealed,
    )
    try:
        with transaction.atomic():
            sample.save()
    except IntegrityError:
        raise Conflict(_("该菜品本餐次已留样。"), code="already_sampled") from None
    _judge(
        canteen,
        RecordType.FOOD_SAMPLE,
        _sample_record(sample, retention, actor),
        sample,
        actor=actor,
        now=now,
        what=_("留样（%(dish)s）") % {"dish": item.dish.name},
    )
    _audit("canteen.record_sample", actor, sample, SAMPLE_FIELDS)
    return sample


@audited("canteen.remove_sample")
def remove_sample(*, actor: Any, sample_id: int, now: datetime | None = None) -> FoodSample:
    """Take a sample out of the fridge: no earlier than the standard's retention (the
    same C1 rule, judged on the hours actually kept) nor than its own ``keep_until``.
    The removal is not stored as a judgment: the sample was judged when it was taken."""
    now = _now(now)
    sample = _kept(
        FoodSample,
        sample_id,
        _("留样记录不存在或无权访问。"),
        actor,
        "dish",
        "recorded_by",
        lock=True,
    )
    canteen = sample.canteen
    if sample.removed_at is not None:
        raise Conflict(
            _("该留样已于 %(time)s 清理。")
            % {"time": f"{_local(sample.removed_at):%Y-%m-%d %H:%M}"},
            code="already_removed",
        )
    kept = max((now - sample.recorded_at).total_seconds() / 3600, 0.0)
    result = engine.evaluate_record(
        canteen.org,
        RecordType.FOOD_SAMPLE,
        _sample_record(sample, round(kept, 2), sample.recorded_by),
        at=now,
        store=False,
    )
    if result.blocking:
        raise engine.refusal(result.violations)
    if now < sample.keep_until:
        raise Conflict(
            _("留样须保存至 %(time)s，尚不能清理。")
            % {"time": f"{_local(sample.keep_until):%Y-%m-%d %H:%M}"},
            code="sample_not_due",
            keep_until=_iso(sample.keep_until),
        )
    sample.removed_at, sample.removed_by = now, actor
    sample.save(update_fields=["removed_at", "removed_by", "updated_at"])
    record(
        "canteen.remove_sample",
        actor=actor,
        obj=sample,
        changes={"removed_at": [None, _iso(now)], "kept_hours": round(kept, 1)},
    )
    return sample


def run_remind_sample_removal(now: datetime | None = None) -> int:
    """Samples past their ``keep_until``, not removed nor reminded: the kitchen is told
    once (one notice per meal). Each sample is claimed by a conditional UPDATE, so two
    runs at once remind once. Returns how many samples were reminded of."""
    now = _now(now)
    due = list(
        FoodSample.objects.filter(
            removed_at__isnull=True, reminded_at__isnull=True, keep_until__lte=now
        )
        .order_by("menu_id", "pk")
        .values_list("pk", "menu_id")
    )
    by_menu: dict[int, list[int]] = {}
    for pk, menu_id in due:
        by_menu.setdefault(menu_id, []).append(pk)
    reminded = 0
    for menu_id, ids in by_menu.items():
        with transaction.atomic():
            claimed = [
                pk
                for pk in ids
                if FoodSample.objects.filter(
                    pk=pk, removed_at__isnull=True, reminded_at__isnull=True
                ).update(reminded_at=now)
            ]
            if not claimed:
                continue
            reminded += len(claimed)
            menu = Menu.objects.select_related(*VIA_CANTEEN).get(pk=menu_id)
            dishes = list(
                FoodSample.objects.filter(pk__in=claimed)
                .order_by("pk")
                .values_list("dish__name", flat=True)
            )
            what = f"{menu.day:%m-%d} {menu.get_meal_display()}"
            _notify(
                events.SAMPLE_DUE,
                menu.canteen,
                actor=None,
                title=_("留样到期待清理：%(meal)s") % {"meal": what},
                body=_("%(canteen)s %(meal)s 的留样已满保存时限，请清理并登记：%(dishes)s")
                % {
                    "canteen": menu.canteen.name,
                    "meal": what,
                    "dishes": pgettext("list separator", "、").join(dishes),
                },
                obj=menu,
                key=f"canteen:sample:{claimed[0]}:due",
                payload={"menu_id": menu.pk, "samples": claimed},
            )
    return reminded


def _sample_rule(org: Any, at: datetime) -> effective.EffectiveRule | None:
    """The schedule rule that asks for a sample of every meal (JG-ST C1)."""
    rules = effective.effective_rules(
        org, kind=RuleKind.SCHEDULE, target=f"schedule:{SAMPLE_ACTIVITY}", at=at
    )
    return next((r for r in rules if r.key == SAMPLE_RULE), rules[0] if rules else None)


def _check_menu_samples(menu_id: int, now: datetime) -> bool:
    """Claim one meal and judge it; True when dishes were missing their sample."""
    with transaction.atomic():
        claimed = Menu.objects.filter(pk=menu_id, samples_checked_at__isnull=True).update(
            samples_checked_at=now
        )
        if not claimed:
            return False  # another run took it
        menu = Menu.objects.select_related(*VIA_CANTEEN).get(pk=menu_id)
        served = (menu.diners or 0) > 0 or (
            Reservation.objects.filter(menu=menu, status=ReservationStatus.SERVED).exists()
            or Voucher.objects.filter(menu=menu, status=VoucherStatus.REDEEMED).exists()
        )
        if not served:
            return False
        missing = list(
            MenuItem.objects.filter(menu=menu)
            .exclude(Exists(FoodSample.objects.filter(menu_item=OuterRef("pk"))))
            .select_related("dish")
            .order_by("position", "pk")
        )
        if not missing:
            return False
        canteen = menu.canteen
        rule = _sample_rule(canteen.org, menu.serve_start)
        if rule is None:
            return False  # no standard in force asks for samples here
        place = _place(canteen)
        rows = []
        for item in missing:
            rows += engine.judgment_rows(
                [engine.RuleJudgment(rule, Outcome.FAIL)],
                org=canteen.org,
                at=menu.serve_start,
                location=place,
                vendor=canteen.operator,
                subject=item,
            )
        engine.store_judgments(rows)
        what = f"{menu.day:%Y-%m-%d} {menu.get_meal_display()}"
        dishes = pgettext("list separator", "、").join(item.dish.name for item in missing)
        description = _(
            "%(canteen)s %(meal)s 未留样：%(dishes)s（%(standard)s 第 %(clause)s 条）"
        ) % {
            "canteen": canteen.name,
            "meal": what,
            "dishes": dishes,
            "standard": rule.standard_code,
            "clause": rule.clause_number,
        }
        finding = open_kitchen_finding(canteen, rule, description, actor=None, now=now)
        record(
            "canteen.detect_missing_samples",
            actor=None,
            obj=menu,
            changes={"missing": [item.dish_id for item in missing], "finding": finding.number},
        )
        _notify_finding(
            canteen,
            finding,
            actor=None,
            title=_("未留样：%(meal)s") % {"meal": what},
            body=description,
            obj=menu,
            key=f"canteen:menu:{menu.pk}:missing_samples",
            payload={"menu_id": menu.pk},
        )
    return True


def run_detect_missing_samples(now: datetime | None = None) -> int:
    """Meals that were served (closed, or published and over ``SAMPLE_CHECK_AFTER``
    ago) and not yet checked: each dish on a meal that had diners and no sample is a
    non-conformance of C1 (a failing judgment per dish, one finding per meal listing
    them). Each meal is checked once (claimed by a conditional UPDATE). Returns how
    many meals were missing samples."""
    now = _now(now)
    ids = list(
        Menu.objects.filter(samples_checked_at__isnull=True)
        .filter(
            Q(status=MenuStatus.CLOSED)
            | Q(status=MenuStatus.PUBLISHED, serve_end__lte=now - SAMPLE_CHECK_AFTER)
        )
        .order_by("serve_end", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for menu_id in ids if _check_menu_samples(menu_id, now))


# --- temperatures (C2, C6) --------------------------------------------------------------


TEMPERATURE_FIELDS = [*LOG_FIELDS, "unit_id", "temp_c"]


@audited("canteen.record_temperature")
def record_temperature(
    *,
    actor: Any,
    unit_id: int,
    temp_c: Decimal,
    recorded_at: datetime | None = None,
    now: datetime | None = None,
) -> TemperatureLog:
    """A fridge or freezer reading. Out of range is a non-conformance (C2 for the
    sample fridge, C6 for storage): the reading is kept, failed, with a finding."""
    now = _now(now)
    unit = _kept(ColdUnit, unit_id, _("设备不存在或无权访问。"), actor)
    canteen = unit.canteen
    if not unit.is_active:
        raise InvalidInput(_("该设备已停用。"), code="unit_inactive", field="unit_id")
    temp = _decimal(temp_c, "temp_c", _("温度"), Decimal(-60), Decimal(60), 1)
    at = _instant(recorded_at, "recorded_at", now)
    log = TemperatureLog.objects.create(
        org=canteen.org,
        canteen=canteen,
        recorded_at=at,
        recorded_by=actor,
        unit=unit,
        temp_c=temp,
    )
    if unit.kind == ColdUnitKind.SAMPLE:
        record_type, data = RecordType.SAMPLE_FRIDGE, {"temp_c": float(temp)}
    else:
        record_type, data = RecordType.STORAGE, {"storage": unit.kind, "temp_c": float(temp)}
    _judge(
        canteen,
        record_type,
        data,
        log,
        actor=actor,
        now=now,
        what=_("%(unit)s温度 %(temp)s ℃") % {"unit": unit.name, "temp": temp},
    )
    _audit("canteen.record_temperature", actor, log, TEMPERATURE_FIELDS)
    return log


# --- disinfection (C3) ------------------------------------------------------------------


DISINFECTION_FIELDS = [
    *LOG_FIELDS,
    "method",
    "items",
    "temp_c",
    "minutes",
    "rinse_temp_c",
    "rinse_seconds",
    "chlorine_mg_l",
    "fully_immersed",
]


@audited("canteen.record_disinfection")
def record_disinfection(
    *,
    actor: Any,
    canteen_id: int,
    method: str,
    items: str,
    temp_c: Decimal | None = None,
    minutes: Decimal | None = None,
    rinse_temp_c: Decimal | None = None,
    rinse_seconds: int | None = None,
    chlorine_mg_l: int | None = None,
    fully_immersed: bool | None = None,
    recorded_at: datetime | None = None,
    now: datetime | None = None,
) -> Disinfection:
    """Tableware disinfected. Which values matter for which method, and what they must
    reach, are the standard's (C3): the record holds the method and whatever was
    measured; a value the method needs and nobody gave is a missing field, refused."""
    now = _now(now)
    canteen = _canteen(actor, canteen_id)
    if method not in DisinfectionMethod.values:
        raise InvalidInput(_("消毒方式无效。"), code="bad_method", field="method")
    log = Disinfection(
        org=canteen.org,
        canteen=canteen,
        recorded_at=_instant(recorded_at, "recorded_at", now),
        recorded_by=actor,
        method=method,
        items=clean_text(items, "items", _("消毒物品"), 100),
    )
    data: dict[str, Any] = {"method": method}
    if temp_c is not None:
        log.temp_c = _decimal(temp_c, "temp_c", _("温度"), Decimal(-50), Decimal(500), 1)
        data["temp_c"] = float(log.temp_c)
    if minutes is not None:
        log.minutes = _decimal(minutes, "minutes", _("时长"), Decimal(0), Decimal(1440), 1)
        data["minutes"] = float(log.minutes)
    if rinse_temp_c is not None:
        log.rinse_temp_c = _decimal(
            rinse_temp_c, "rinse_temp_c", _("冲洗水温"), Decimal(0), Decimal(200), 1
        )
        data["rinse_temp_c"] = float(log.rinse_temp_c)
    if rinse_seconds is not None:
        log.rinse_seconds = _integer(rinse_seconds, "rinse_seconds", _("冲洗时长"), 0, 3600)
        data["rinse_seconds"] = log.rinse_seconds
    if chlorine_mg_l is not None:
        log.chlorine_mg_l = _integer(chlorine_mg_l, "chlorine_mg_l", _("有效氯"), 0, 100_000)
        data["chlorine_mg_l"] = log.chlorine_mg_l
    if fully_immersed is not None:
        log.fully_immersed = _boolean(fully_immersed, "fully_immersed", _("完全浸没"))
        data["fully_immersed"] = log.fully_immersed
    log.save()
    _judge(
        canteen,
        RecordType.DISINFECTION,
        data,
        log,
        actor=actor,
        now=now,
        what=_("餐用具消毒（%(method)s）") % {"method": DisinfectionMethod(method).label},
    )
    _audit("canteen.record_disinfection", actor, log, DISINFECTION_FIELDS)
    return log


# --- receiving (C12) --------------------------------------------------------------------


RECEIVING_FIELDS = [
    *LOG_FIELDS,
    "supplier",
    "item",
    "quantity",
    "unit",
    "batch_no",
    "production_date",
    "best_before",
    "certificate_no",
    "accepted",
    "reject_reason",
]


@audited("canteen.record_receiving")
def record_receiving(
    *,
    actor: Any,
    canteen_id: int,
    data: Mapping[str, Any],
    recorded_at: datetime | None = None,
    now: datetime | None = None,
) -> ReceivingCheck:
    """进货查验: a delivery checked in (食品安全法 第五十三条, JG-ST C12). Accepted goods
    need a certificate and must be within their shelf life on the day they arrive
    (``best_before`` is therefore needed for them); a delivery without a batch number
    or production date is refused whatever the verdict; rejected goods are recorded."""
    now = _now(now)
    canteen = _canteen(actor, canteen_id)
    _unknown(data, RECEIVING_KEYS)
    at = _instant(recorded_at, "recorded_at", now)
    accepted = _boolean(data.get("accepted", True), "accepted", _("验收通过"))
    log = ReceivingCheck(
        org=canteen.org,
        canteen=canteen,
        recorded_at=at,
        recorded_by=actor,
        supplier=clean_text(data.get("supplier"), "supplier", _("供货者"), 100),
        supplier_licence=clean_text(
            data.get("supplier_licence"),
            "supplier_licence",
            _("供货者许可证号"),
            60,
            required=False,
        ),
        item=clean_text(data.get("item"), "item", _("品名"), 60),
        spec=clean_text(data.get("spec"), "spec", _("规格"), 60, required=False),
        quantity=_decimal(
            data.get("quantity"), "quantity", _("数量"), Decimal(0), Decimal("9999999.99"), 2
        ),
        unit=clean_text(data.get("unit") or "kg", "unit", _("单位"), 10),
        batch_no=clean_text(data.get("batch_no"), "batch_no", _("生产批号"), 60, required=False),
        certificate_no=clean_text(
            data.get("certificate_no"), "certificate_no", _("合格证明编号"), 60, required=False
        ),
        accepted=accepted,
        reject_reason=clean_text(
            data.get("reject_reason"), "reject_reason", _("拒收原因"), 200, required=False
        ),
    )
    if data.get("production_date") not in (None, ""):
        log.production_date = _date(data["production_date"], "production_date", _("生产日期"))
    if data.get("best_before") not in (None, ""):
        log.best_before = _date(data["best_before"], "best_before", _("保质期"))
    if log.production_date and log.production_date > _local(at).date():
        raise InvalidInput(
            _("生产日期不能晚于进货日期。"), code="bad_date", field="production_date"
        )
    log.save()
    checked: dict[str, Any] = {
        "supplier": log.supplier,
        "item": log.item,
        "quantity": float(log.quantity),
        "batch_no": log.batch_no,
        "certificate_no": log.certificate_no,
        "accepted": log.accepted,
    }
    if log.production_date:
        checked["production_date"] = log.production_date.isoformat()
    if log.best_before:  # without it nobody can say the goods are in date
        checked["in_date"] = log.best_before >= _local(at).date()
    _judge(
        canteen,
        RecordType.RECEIVING,
        checked,
        log,
        actor=actor,
        now=now,
        what=_("进货查验（%(item)s）") % {"item": log.item},
    )
    _audit("canteen.record_receiving", actor, log, RECEIVING_FIELDS)
    return log


# --- food handlers and health checks (C7) -----------------------------------------------


def _handler_user(user_id: Any, canteen: Canteen) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not (
        org_in_scope(user, canteen.org)
        or (canteen.operator is not None and org_in_scope(user, canteen.operator))
    ):
        raise InvalidInput(_("所选用户不可用。"), code="invalid_user", field="user_id")
    return user


@audited("canteen.save_handler")
def save_handler(
    *,
    actor: Any,
    canteen_id: int | None = None,
    handler_id: int | None = None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> FoodHandler:
    """Add a food handler (``canteen_id``) or edit one (``handler_id``; keys left out of
    ``data`` stay as they are). A new certificate date is alerted on afresh."""
    _unknown(data, HANDLER_KEYS)
    if handler_id is None:
        canteen = _canteen(actor, canteen_id)
        missing = [
            k for k in ("name", "certificate_no", "issued_on", "expires_on") if k not in data
        ]
        if missing:
            raise InvalidInput(_("请填写姓名和健康证明信息。"), code="required", fields=missing)
        handler = FoodHandler(org=canteen.org, canteen=canteen)
        before: dict[str, Any] = {}
    else:
        handler = _kept(FoodHandler, handler_id, _("从业人员不存在或无权访问。"), actor, lock=True)
        canteen = handler.canteen
        if version is not None and handler.version != version:
            raise StaleVersion(current_version=handler.version)
        before = snapshot(handler, HANDLER_FIELDS)
        handler.version += 1
    if "user_id" in data:
        handler.user = _handler_user(data["user_id"], canteen)
    if "name" in data:
        handler.name = clean_text(data["name"], "name", _("姓名"), 40)
    if "post" in data:
        handler.post = clean_text(data["post"], "post", _("岗位"), 40, required=False)
    if "handles_ready_to_eat" in data:
        handler.handles_ready_to_eat = _boolean(
            data["handles_ready_to_eat"], "handles_ready_to_eat", _("接触直接入口食品")
        )
    if "certificate_no" in data:
        handler.certificate_no = clean_text(
            data["certificate_no"], "certificate_no", _("健康证明编号"), 40
        )
    if "issued_on" in data:
        handler.issued_on = _date(data["issued_on"], "issued_on", _("发证日期"))
    if "expires_on" in data:
        handler.expires_on = _date(data["expires_on"], "expires_on", _("有效期"))
    if "is_active" in data:
        handler.is_active = _boolean(data["is_active"], "is_active", _("在岗"))
    if handler.issued_on >= handler.expires_on:
        raise InvalidInput(
            _("有效期须晚于发证日期。"), code="bad_certificate_dates", field="expires_on"
        )
    handler.save()
    record(
        "canteen.save_handler",
        actor=actor,
        obj=handler,
        changes=diff(before, snapshot(handler, HANDLER_FIELDS)),
    )
    return handler


HEALTH_FIELDS = [*LOG_FIELDS, "handler_id", "day", "healthy", "symptoms"]


@audited("canteen.record_health_check")
def record_health_check(
    *,
    actor: Any,
    handler_id: int,
    healthy: bool,
    symptoms: str = "",
    day: date | None = None,
    now: datetime | None = None,
) -> HealthCheck:
    """晨检: once a day per handler. One whose certificate has expired may not handle
    ready-to-eat food (C7, refused); one who is unwell is recorded as such, failed,
    and the kitchen is told they must not work that day."""
    now = _now(now)
    handler = _kept(FoodHandler, handler_id, _("从业人员不存在或无权访问。"), actor)
    canteen = handler.canteen
    if not handler.is_active:
        raise InvalidInput(_("该从业人员已离岗。"), code="handler_inactive", field="handler_id")
    healthy = _boolean(healthy, "healthy", _("身体状况"))
    symptoms = clean_text(symptoms, "symptoms", _("症状"), 100, required=False)
    today = _local(now).date()
    day = today if day is None else _date(day, "day", _("日期"))
    if day > today:
        raise InvalidInput(_("不能登记以后日期的晨检。"), code="in_future", field="day")
    checked_at = now if day == today else _day_start(day)
    if HealthCheck.objects.filter(handler=handler, day=day).exists():
        raise Conflict(_("该从业人员当日已晨检。"), code="already_checked")
    log = HealthCheck(
        org=canteen.org,
        canteen=canteen,
        recorded_at=checked_at,
        recorded_by=actor,
        handler=handler,
        day=day,
        healthy=healthy,
        symptoms=symptoms,
    )
    try:
        with transaction.atomic():
            log.save()
    except IntegrityError:
        raise Conflict(_("该从业人员当日已晨检。"), code="already_checked") from None
    _judge(
        canteen,
        RecordType.STAFF_ON_DUTY,
        {
            "handles_ready_to_eat": handler.handles_ready_to_eat,
            # valid through its last day
            "certificate_expires_at": _iso(_day_start(handler.expires_on + timedelta(days=1))),
            "checked_at": _iso(checked_at),
        },
        log,
        actor=actor,
        now=now,
        what=_("晨检（%(name)s）") % {"name": handler.name},
    )
    if not healthy:
        log.passed = False
        log.save(update_fields=["passed", "updated_at"])
        _notify(
            events.SAFETY_NONCONFORMANCE,
            canteen,
            actor=actor,
            title=_("晨检异常：%(name)s 今日不得上岗") % {"name": handler.name},
            body=_("%(canteen)s %(name)s（%(post)s）%(day)s 晨检异常：%(symptoms)s")
            % {
                "canteen": canteen.name,
                "name": handler.name,
                "post": handler.post,
                "day": day.isoformat(),
                "symptoms": symptoms or _("未注明"),
            },
            obj=log,
            key=f"canteen:healthcheck:{log.pk}:unfit",
            payload={"handler_id": handler.pk, "day": day.isoformat()},
        )
    _audit("canteen.record_health_check", actor, log, HEALTH_FIELDS)
    return log


def run_alert_expiring_certificates(now: datetime | None = None) -> int:
    """Handlers on duty whose certificate expires within ``CERTIFICATE_WARNING_DAYS``
    (or has expired) and who were not alerted for that date: the kitchen is told once
    per certificate (claimed by a conditional UPDATE of ``alerted_for``). Returns how
    many handlers were alerted for."""
    now = _now(now)
    today = _local(now).date()
    rows = list(
        FoodHandler.objects.filter(
            is_active=True, expires_on__lte=today + timedelta(days=CERTIFICATE_WARNING_DAYS)
        )
        .order_by("expires_on", "pk")
        .values_list("pk", "expires_on", "alerted_for")
    )
    alerted = 0
    for pk, expires_on, alerted_for in rows:
        if alerted_for == expires_on:
            continue
        with transaction.atomic():
            claimed = (
                FoodHandler.objects.filter(pk=pk, is_active=True, expires_on=expires_on)
                .filter(Q(alerted_for__isnull=True) | ~Q(alerted_for=expires_on))
                .update(alerted_for=expires_on)
            )
            if not claimed:
                continue
            alerted += 1
            handler = FoodHandler.objects.select_related(*VIA_CANTEEN).get(pk=pk)
            days = (expires_on - today).days
            state = (
                _("已于 %(date)s 过期") % {"date": expires_on.isoformat()}
                if days < 0
                else _("将于 %(date)s 到期（剩 %(days)s 天）")
                % {"date": expires_on.isoformat(), "days": days}
            )
            _notify(
                events.CERTIFICATE_EXPIRING,
                handler.canteen,
                actor=None,
                title=_("健康证明即将到期：%(name)s") % {"name": handler.name},
                body=_("%(canteen)s %(name)s 的健康证明（%(number)s）%(state)s，请及时复检换证。")
                % {
                    "canteen": handler.canteen.name,
                    "name": handler.name,
                    "number": handler.certificate_no,
                    "state": state,
                },
                obj=handler,
                key=f"canteen:handler:{pk}:certificate:{expires_on.isoformat()}",
                payload={"handler_id": pk, "expires_on": expires_on.isoformat()},
            )
    return alerted


# --- daily checks (C13) -----------------------------------------------------------------


def daily_checks(canteen: Canteen, day: date) -> list[PlanOccurrence]:
    """The day's opening and closing checks of the canteen's kitchen, as the inspections
    plans generated them from the standard (location tagged 后厨); opening first."""
    if canteen.kitchen_id is None:
        return []
    start = _day_start(day)
    order = {OPENING_CHECK: 0, CLOSING_CHECK: 1}
    found = list(
        PlanOccurrence.objects.filter(
            location_id=canteen.kitchen_id,
            activity__in=list(order),
            period_start__gte=start,
            period_start__lt=start + timedelta(days=1),
        ).select_related("inspector", "team", "assignment")
    )
    found.sort(key=lambda o: (order[o.activity], o.period_start, o.pk))
    return found


@audited("canteen.ensure_check_plans")
def ensure_check_plans(
    *,
    actor: Any,
    canteen_id: int,
    inspector_id: int | None = None,
    team_id: int | None = None,
) -> list[PlanAssignment]:
    """Who does the kitchen's daily opening and closing checks (self-inspections with
    the standard's checklists ``canteen.opening`` / ``canteen.closing``): one plan
    assignment per check at the kitchen, created or updated (idempotent). Without an
    inspector or a team, an existing assignment keeps the ones it has."""
    canteen = _canteen(actor, canteen_id)
    if not queries.may_manage(actor, canteen):
        raise PermissionDenied(action="canteen.manage")
    if canteen.kitchen_id is None:
        raise InvalidInput(_("请先设置食堂的后厨位置。"), code="no_kitchen", field="kitchen_id")
    out = []
    for activity, checklist in CHECK_PLANS:
        existing = (
            PlanAssignment.objects.filter(
                org_id=canteen.org_id, activity=activity, location_id=canteen.kitchen_id
            )
            .order_by("-is_active", "pk")
            .first()
        )
        keep = existing if existing and inspector_id is None and team_id is None else None
        out.append(
            inspection_services.save_assignment(
                actor=actor,
                org_id=canteen.org_id,
                activity=activity,
                location_id=canteen.kitchen_id,
                team_id=team_id if keep is None else keep.team_id,
                inspector_id=inspector_id if keep is None else keep.inspector_id,
                vendor_id=canteen.operator_id,
                checklist_code=checklist,
                kind=InspectionKind.SELF,
                assignment_id=existing.pk if existing else None,
                is_active=True,
            )
        )
    record(
        "canteen.ensure_check_plans",
        actor=actor,
        obj=canteen,
        changes={"assignments": [a.pk for a in out]},
    )
    return out
