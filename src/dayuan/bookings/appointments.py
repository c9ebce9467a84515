"""Appointment services (barber, car wash, clinic …): slots with seats, generated ahead on
the working calendar, booked one seat at a time.

No slot ever holds more appointments than seats: a seat is taken by the conditional
``UPDATE slot SET taken = taken + 1 WHERE taken < seats AND is_open`` (and a check
constraint), never by a read-then-write. A person's open appointments are counted with
that person's row locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE
transaction already serialises writers), so two taps from two phones cannot both get
under the per-person limit. Every refusal is a clean domain error with a code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.numbers import next_number
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location, Organization
from dayuan.workcalendar.calendar import current_table

from . import events, queries
from .choices import AppointmentStatus, OpenDays
from .models import Appointment, AppointmentService, Provider, Slot

SHANGHAI = ZoneInfo("Asia/Shanghai")
A = AppointmentStatus

SERVICE_FIELDS = [
    "location_id",
    "code",
    "name",
    "description",
    "slot_minutes",
    "seats_per_slot",
    "opens_at",
    "closes_at",
    "breaks",
    "open_days",
    "book_ahead_days",
    "min_lead_minutes",
    "cancel_before_minutes",
    "per_person_open_limit",
    "shared",
    "is_active",
    "version",
]
APPOINTMENT_FIELDS = ["status", "provider_id", "cancelled_at", "served_at"]
MAX_PROVIDERS = 30
MAX_AHEAD_DAYS = 90
# A person may be marked served this long before the slot (arrived early).
SERVE_EARLY = timedelta(minutes=30)
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

_LABELS = {
    "code": pgettext_lazy("booking", "代码"),
    "name": gettext_lazy("名称"),
    "description": gettext_lazy("说明"),
    "note": gettext_lazy("备注"),
    "provider": gettext_lazy("服务人员姓名"),
}


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value: Any, field: str, max_length: int, *, required: bool = True) -> str:
    label = _LABELS.get(field, field)
    return clean_text(str(value or ""), field, label, max_length, required=required)


def _local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def _today(now: datetime) -> date:
    return _local(now).date()


# --- who ---------------------------------------------------------------------------------


def service_visible(user: Any, service: AppointmentService) -> bool:
    """Its org is in the user's scope, or it is open to every unit (shared)."""
    if getattr(user, "pk", None) is None or not user.is_active:
        return False
    return service.shared or service.org_id in queries.book_org_ids(user)


def appointment_visible(user: Any, appointment: Appointment) -> bool:
    """The person, and ``bookings.view_all`` / ``bookings.serve`` over the service's org."""
    if getattr(user, "pk", None) is None:
        return False
    return (
        appointment.person_id == user.pk
        or policy.can(user, "bookings.view_all", appointment.org)
        or policy.can(user, "bookings.serve", appointment.org)
    )


def _may_serve(user: Any, appointment: Appointment) -> bool:
    return policy.can(user, "bookings.serve", appointment.org)


# --- services ----------------------------------------------------------------------------


def _time(value: Any, field: str) -> time:
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise InvalidInput(_("时间须为整分钟。"), code="invalid_time", field=field)
        return value
    match = _HHMM.match(str(value or "").strip())
    if not match:
        raise InvalidInput(
            _("时间格式无效（应为 HH:MM）。"), code="invalid_time", field=field, value=str(value)
        )
    return time(int(match.group(1)), int(match.group(2)))


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or not low <= n <= high:
        raise InvalidInput(
            _("%(field)s须在 %(low)s 到 %(high)s 之间。")
            % {
                "field": AppointmentService._meta.get_field(field).verbose_name,
                "low": low,
                "high": high,
            },
            code="out_of_range",
            field=field,
        )
    return n


def _clean_breaks(breaks: Any, opens: time, closes: time) -> list[dict[str, str]]:
    if not isinstance(breaks, Sequence) or isinstance(breaks, str):
        raise InvalidInput(_("休息时段格式无效。"), code="invalid_breaks", field="breaks")
    out: list[tuple[time, time]] = []
    for i, b in enumerate(breaks):
        if not isinstance(b, dict):
            raise InvalidInput(_("休息时段格式无效。"), code="invalid_breaks", index=i)
        start, end = _time(b.get("start"), "breaks"), _time(b.get("end"), "breaks")
        if not (opens <= start < end <= closes):
            raise InvalidInput(
                _("休息时段须在营业时间内，且开始早于结束。"), code="invalid_breaks", index=i
            )
        out.append((start, end))
    out.sort()
    for (_s1, e1), (s2, _e2) in pairwise(out):
        if s2 < e1:
            raise InvalidInput(_("休息时段不能重叠。"), code="invalid_breaks", field="breaks")
    if len(out) > 10:
        raise InvalidInput(_("休息时段最多 10 个。"), code="invalid_breaks", field="breaks")
    return [{"start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")} for s, e in out]


def _clean_providers(providers: Sequence[str]) -> list[str]:
    if isinstance(providers, str) or not isinstance(providers, Sequence):
        raise InvalidInput(_("服务人员格式无效。"), code="invalid_providers", field="providers")
    names: list[str] = []
    for p in providers:
        name = _text(p, "provider", 50)
        if name not in names:
            names.append(name)
    if len(names) > MAX_PROVIDERS:
        raise InvalidInput(
            _("服务人员最多 %(n)s 名。") % {"n": MAX_PROVIDERS},
            code="invalid_providers",
            field="providers",
        )
    return names


def _sync_providers(service: AppointmentService, names: list[str]) -> list[str]:
    """Providers by name, in the given order: kept, added, or retired (never deleted;
    past appointments name them)."""
    current = {p.name: p for p in service.providers.all()}
    for i, name in enumerate(names):
        p = current.get(name)
        if p is None:
            Provider.objects.create(service=service, name=name, sort=i)
        elif p.sort != i or not p.is_active:
            p.sort, p.is_active = i, True
            p.save(update_fields=["sort", "is_active"])
    for name, p in current.items():
        if name not in names and p.is_active:
            p.is_active = False
            p.save(update_fields=["is_active"])
    return names


@audited("bookings.save_service")
def save_service(
    *,
    actor: Any,
    service_id: int | None = None,
    version: int | None = None,
    org_id: int,
    location_id: int,
    code: str,
    name: str,
    description: str = "",
    slot_minutes: int,
    seats_per_slot: int,
    opens_at: Any,
    closes_at: Any,
    breaks: Sequence[dict[str, str]] = (),
    open_days: str = "workdays",
    book_ahead_days: int = 7,
    min_lead_minutes: int = 30,
    cancel_before_minutes: int = 60,
    per_person_open_limit: int = 1,
    shared: bool = False,
    is_active: bool = True,
    providers: Sequence[str] = (),
    now: datetime | None = None,
) -> AppointmentService:
    """Create or edit a service (``bookings.manage`` over its org); its slots from today
    to ``book_ahead_days`` ahead are generated, and future slots nobody booked follow
    the new hours."""
    now = _now(now)
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound()
    policy.require(actor, "bookings.manage", org)
    location = Location.objects.select_related("org").filter(pk=location_id).first()
    if location is None or not location.org.path.startswith(org.path) or not location.is_active:
        raise InvalidInput(_("地点不属于所选单位。"), code="invalid_location", field="location_id")
    code = _text(code, "code", 40)
    if not re.fullmatch(r"[-a-zA-Z0-9_]+", code):
        raise InvalidInput(
            _("代码只能包含字母、数字、下划线和连字符。"), code="invalid_code", field="code"
        )
    name = _text(name, "name", 100)
    description = _text(description, "description", 500, required=False)
    slot_minutes = _int(slot_minutes, "slot_minutes", 5, 480)
    seats_per_slot = _int(seats_per_slot, "seats_per_slot", 1, 100)
    opens, closes = _time(opens_at, "opens_at"), _time(closes_at, "closes_at")
    if _minutes(closes) - _minutes(opens) < slot_minutes:
        raise InvalidInput(_("营业时间须长于一个时段。"), code="invalid_hours", field="closes_at")
    clean_breaks = _clean_breaks(breaks, opens, closes)
    if open_days not in OpenDays.values:
        raise InvalidInput(_("开放日无效。"), code="invalid_open_days", field="open_days")
    book_ahead_days = _int(book_ahead_days, "book_ahead_days", 0, MAX_AHEAD_DAYS)
    min_lead_minutes = _int(min_lead_minutes, "min_lead_minutes", 0, 7 * 1440)
    cancel_before_minutes = _int(cancel_before_minutes, "cancel_before_minutes", 0, 7 * 1440)
    per_person_open_limit = _int(per_person_open_limit, "per_person_open_limit", 1, 20)
    names = _clean_providers(providers)
    if service_id is None:
        service = AppointmentService(org=org)
        before: dict[str, Any] = {}
    else:
        service = (
            AppointmentService.objects.select_for_update().filter(pk=service_id, org=org).first()
        )
        if service is None:
            raise NotFound()
        if version is not None and service.version != version:
            raise StaleVersion(current_version=service.version)
        before = snapshot(service, SERVICE_FIELDS)
        service.version += 1
    if AppointmentService.objects.filter(org=org, code=code).exclude(pk=service.pk).exists():
        raise Conflict(_("该单位已有相同代码的服务。"), code="code_taken", field="code")
    service.location = location
    service.code, service.name, service.description = code, name, description
    service.slot_minutes, service.seats_per_slot = slot_minutes, seats_per_slot
    service.opens_at, service.closes_at, service.breaks = opens, closes, clean_breaks
    service.open_days = open_days
    service.book_ahead_days = book_ahead_days
    service.min_lead_minutes = min_lead_minutes
    service.cancel_before_minutes = cancel_before_minutes
    service.per_person_open_limit = per_person_open_limit
    service.shared, service.is_active = bool(shared), bool(is_active)
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError as exc:
        raise Conflict(_("该单位已有相同代码的服务。"), code="code_taken", field="code") from exc
    _sync_providers(service, names)
    changes = diff(before, snapshot(service, SERVICE_FIELDS))
    if before:
        _follow_hours(service, now)
    if service.is_active:
        generate_slots(service, start=_today(now), days=service.book_ahead_days + 1)
    record(
        "bookings.save_service", actor=actor, obj=service, changes={**changes, "providers": names}
    )
    return service


def _follow_hours(service: AppointmentService, now: datetime) -> None:
    """After an edit: future slots nobody ever booked that no longer fit the hours go;
    the seats of the others follow ``seats_per_slot`` (never below what is taken)."""
    future = Slot.objects.filter(service=service, start_at__gt=now)
    wanted: set[datetime] = set()
    days = sorted({_local(s).date() for s in future.values_list("start_at", flat=True)})
    table = current_table()
    for day in days:
        if _open_on(service, day, table):
            wanted.update(start for start, _end in day_slots(service, day))
    stale = [
        pk
        for pk, start in future.filter(appointments__isnull=True).values_list("pk", "start_at")
        if start not in wanted
    ]
    if stale:
        Slot.objects.filter(pk__in=stale).delete()
    future.filter(taken__lte=service.seats_per_slot).exclude(seats=service.seats_per_slot).update(
        seats=service.seats_per_slot
    )


# --- slot generation ---------------------------------------------------------------------


def _open_on(service: AppointmentService, day: date, table: Any) -> bool:
    return service.open_days == OpenDays.ALL or table.is_workday(day)


def day_slots(service: AppointmentService, day: date) -> list[tuple[datetime, datetime]]:
    """``(start, end)`` of the slots of one day from the opening hours: back to back from
    the opening, none overlapping a break (the next starts when the break ends), none
    running past the closing."""
    length = service.slot_minutes
    opens, closes = (
        _minutes(_time(service.opens_at, "opens_at")),
        _minutes(_time(service.closes_at, "closes_at")),
    )
    breaks = sorted(
        (_minutes(_time(b["start"], "breaks")), _minutes(_time(b["end"], "breaks")))
        for b in service.breaks or ()
    )
    out = []
    t = opens
    while t + length <= closes:
        clash = next((e for s, e in breaks if t < e and s < t + length), None)
        if clash is not None:
            t = clash
            continue
        start = datetime.combine(day, time(t // 60, t % 60), tzinfo=SHANGHAI)
        out.append((start, start + timedelta(minutes=length)))
        t += length
    return out


def generate_slots(service: AppointmentService, *, start: date, days: int) -> int:
    """Slots for ``days`` days from ``start`` on the service's open days (working days on
    the Chinese calendar, holidays off and adjusted working days on); idempotent: the
    slots that exist are left alone. Returns how many were created."""
    if days <= 0:
        return 0
    table = current_table()
    wanted: list[tuple[datetime, datetime]] = []
    for i in range(days):
        day = start + timedelta(days=i)
        if _open_on(service, day, table):
            wanted.extend(day_slots(service, day))
    if not wanted:
        return 0
    have = set(
        Slot.objects.filter(
            service=service, start_at__gte=wanted[0][0], start_at__lte=wanted[-1][0]
        ).values_list("start_at", flat=True)
    )
    new = [
        Slot(service=service, start_at=s, end_at=e, seats=service.seats_per_slot)
        for s, e in wanted
        if s not in have
    ]
    # ignore_conflicts: a concurrent run inserting the same slots is not an error.
    Slot.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return len(new)


def generate_all(now: datetime | None = None) -> int:
    """Every active service's slots from today to ``book_ahead_days`` ahead (the nightly
    job; safe to run any number of times, in parallel)."""
    now = _now(now)
    today = _today(now)
    created = 0
    for service in AppointmentService.objects.filter(is_active=True).order_by("pk"):
        created += generate_slots(service, start=today, days=service.book_ahead_days + 1)
    return created


def booking_window(service: AppointmentService, now: datetime) -> tuple[datetime, datetime]:
    """``(earliest, latest)`` slot starts bookable at ``now``: at least
    ``min_lead_minutes`` ahead, and no later than the last day ``book_ahead_days`` ahead
    (the days the slots are generated for)."""
    earliest = now + timedelta(minutes=service.min_lead_minutes)
    last_day = _today(now) + timedelta(days=service.book_ahead_days + 1)
    return earliest, datetime.combine(last_day, time.min, tzinfo=SHANGHAI)


# --- booking a seat ------------------------------------------------------------------------


def _notify(
    event_type: str,
    appointment: Appointment,
    actor: Any,
    recipients: Sequence[Any],
    title: str,
    key: str,
    *,
    staff: bool = False,
) -> None:
    """Tell people about an appointment. The person's own notice is filed under their
    unit (they may come from another unit to a shared service); the provider's under the
    service's org. Nobody is told what they did themselves."""
    recipients = [
        u
        for u in recipients
        if u is not None and getattr(u, "pk", None) and u.pk != getattr(actor, "pk", None)
    ]
    if not recipients:
        return
    start = _local(appointment.slot.start_at)
    emit(
        event_type,
        org=appointment.org if staff else appointment.person_org,
        actor=actor,
        recipients=recipients,
        title=title,
        body=_("%(service)s %(day)s %(time)s，预约号 %(number)s")
        % {
            "service": appointment.service.name,
            "day": start.strftime("%Y-%m-%d"),
            "time": start.strftime("%H:%M"),
            "number": appointment.number,
        },
        link=f"/bookings/appointments/{appointment.pk}/",
        object=appointment,
        dedupe_key=f"appt:{appointment.pk}:{key}:{'staff' if staff else 'person'}",
        payload={"number": appointment.number, "status": appointment.status},
    )


def _existing_by_key(actor: Any, client_key: str) -> Appointment | None:
    found = Appointment.objects.filter(client_key=client_key).first()
    if found is not None and found.person_id != actor.pk:
        raise Conflict(_("请求标识已被使用。"), code="client_key_taken")
    return found


def _provider_for(slot: Slot) -> Provider | None:
    """The first active provider not yet serving a booked seat of the slot."""
    busy = set(
        Appointment.objects.filter(slot=slot, status=A.BOOKED, provider__isnull=False).values_list(
            "provider_id", flat=True
        )
    )
    for p in Provider.objects.filter(service_id=slot.service_id, is_active=True).order_by(
        "sort", "id"
    ):
        if p.pk not in busy:
            return p
    return None


@audited("bookings.book_slot")
def book_slot(
    *,
    actor: Any,
    slot_id: int,
    note: str = "",
    client_key: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Take one seat of a slot for the actor.

    Refused (nothing written): a slot not visible (404), closed (``slot_closed``), too
    soon (``too_late_to_book``) or too far ahead (``too_early_to_book``), the actor in it
    already (``already_booked``), the actor's open appointments of the service at the
    limit (``per_person_limit``), no seat left (``slot_full``). The same ``client_key``
    again returns the first appointment.
    """
    now = _now(now)
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    if client_key is not None:
        client_key = _text(client_key, "client_key", 64)
        if found := _existing_by_key(actor, client_key):
            return found
    slot = Slot.objects.select_related("service__org").filter(pk=slot_id).first()
    if slot is None or not service_visible(actor, slot.service):
        raise NotFound()
    service = slot.service
    policy.require(actor, "bookings.book")
    note = _text(note, "note", 200, required=False)
    if not slot.is_open or not service.is_active:
        raise Conflict(_("该时段不开放预约。"), code="slot_closed")
    earliest, latest = booking_window(service, now)
    if slot.start_at < earliest:
        raise Conflict(
            ngettext(
                "须至少提前 %(n)s 分钟预约。",
                "须至少提前 %(n)s 分钟预约。",
                service.min_lead_minutes,
            )
            % {"n": service.min_lead_minutes},
            code="too_late_to_book",
            min_lead_minutes=service.min_lead_minutes,
        )
    if slot.start_at >= latest:
        raise Conflict(
            ngettext(
                "最多可提前 %(n)s 天预约。", "最多可提前 %(n)s 天预约。", service.book_ahead_days
            )
            % {"n": service.book_ahead_days},
            code="too_early_to_book",
            book_ahead_days=service.book_ahead_days,
        )
    # One person at a time from here (two phones, a double tap): the person's row.
    person = (
        User.objects.select_for_update(of=("self",)).select_related("home_org").get(pk=actor.pk)
    )
    if client_key is not None and (found := _existing_by_key(actor, client_key)):
        return found
    mine = Appointment.objects.filter(person=person, service=service, status=A.BOOKED)
    if mine.filter(slot=slot).exists():
        raise Conflict(_("您已预约该时段。"), code="already_booked")
    open_count = mine.filter(slot__end_at__gt=now).count()
    if open_count >= service.per_person_open_limit:
        raise Conflict(
            ngettext(
                "每人最多同时保留 %(n)s 个未完成的预约。",
                "每人最多同时保留 %(n)s 个未完成的预约。",
                service.per_person_open_limit,
            )
            % {"n": service.per_person_open_limit},
            code="per_person_limit",
            limit=service.per_person_open_limit,
        )
    taken = Slot.objects.filter(pk=slot.pk, is_open=True, taken__lt=F("seats")).update(
        taken=F("taken") + 1
    )
    if not taken:
        raise Conflict(_("该时段已约满。"), code="slot_full")
    slot.refresh_from_db(fields=["taken", "seats"])
    appointment = None
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: a number taken meanwhile is retried
                appointment = Appointment.objects.create(
                    org=service.org,
                    service=service,
                    slot=slot,
                    person=person,
                    person_org=person.home_org or service.org,
                    provider=_provider_for(slot),
                    number=next_number(Appointment, "YY", now),
                    note=note,
                    client_key=client_key,
                )
            break
        except IntegrityError:
            if client_key is not None and (found := _existing_by_key(actor, client_key)):
                raise Conflict(_("请求正在处理，请稍后查看。"), code="in_progress") from None
            if Appointment.objects.filter(slot=slot, person=person, status=A.BOOKED).exists():
                raise Conflict(_("您已预约该时段。"), code="already_booked") from None
    if appointment is None:
        raise Conflict(_("预约号分配冲突，请重试。"), code="number_conflict")
    record(
        "bookings.book_slot",
        actor=actor,
        obj=appointment,
        changes={
            "slot_id": [None, slot.pk],
            "number": [None, appointment.number],
            "provider_id": [None, appointment.provider_id],
            "taken": [slot.taken - 1, slot.taken],
        },
    )
    title = _("预约成功：%(service)s") % {"service": service.name}
    _notify(events.APPOINTMENT_BOOKED, appointment, None, [person], title, "booked")
    if appointment.provider is not None and appointment.provider.user_id:
        _notify(
            events.APPOINTMENT_BOOKED,
            appointment,
            actor,
            [appointment.provider.user],
            _("新预约：%(service)s") % {"service": service.name},
            "booked",
            staff=True,
        )
    return appointment


def _lock_appointment(actor: Any, appointment_id: int) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("org", "service", "slot", "provider", "person_org")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None or not appointment_visible(actor, appointment):
        raise NotFound()
    return appointment


def _require_booked(appointment: Appointment) -> None:
    if appointment.status != A.BOOKED:
        raise Conflict(
            _("预约当前状态为“%(status)s”，不能执行此操作。")
            % {"status": A(appointment.status).label},
            code="illegal_transition",
            status=appointment.status,
        )


def _finish(appointment: Appointment, actor: Any, verb: str, before: dict[str, Any]) -> Appointment:
    appointment.save()
    record(
        f"bookings.{verb}",
        actor=actor,
        obj=appointment,
        changes=diff(before, snapshot(appointment, APPOINTMENT_FIELDS)),
    )
    return appointment


@audited("bookings.cancel_appointment")
def cancel_appointment(
    *, actor: Any, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The person cancels up to ``cancel_before_minutes`` before the start; a manager of
    the service any time before it. The seat is free again at once."""
    now = _now(now)
    appointment = _lock_appointment(actor, appointment_id)
    manager = policy.can(actor, "bookings.manage", appointment.org)
    if appointment.person_id != actor.pk and not manager:
        raise PermissionDenied(action="bookings.manage")
    _require_booked(appointment)
    start = appointment.slot.start_at
    if now >= start:
        raise Conflict(_("预约时段已开始，不能取消。"), code="already_started")
    limit = start - timedelta(minutes=appointment.service.cancel_before_minutes)
    if not manager and now > limit:
        raise Conflict(
            ngettext(
                "须在开始前 %(n)s 分钟以前取消。",
                "须在开始前 %(n)s 分钟以前取消。",
                appointment.service.cancel_before_minutes,
            )
            % {"n": appointment.service.cancel_before_minutes},
            code="cancel_window_closed",
            cancel_before_minutes=appointment.service.cancel_before_minutes,
        )
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    appointment.status = A.CANCELLED
    appointment.cancelled_at = now
    Slot.objects.filter(pk=appointment.slot_id, taken__gt=0).update(taken=F("taken") - 1)
    _finish(appointment, actor, "cancel_appointment", before)
    title = _("预约已取消：%(service)s") % {"service": appointment.service.name}
    _notify(
        events.APPOINTMENT_CANCELLED, appointment, actor, [appointment.person], title, "cancelled"
    )
    if appointment.provider is not None and appointment.provider.user_id:
        _notify(
            events.APPOINTMENT_CANCELLED,
            appointment,
            actor,
            [appointment.provider.user],
            title,
            "cancelled",
            staff=True,
        )
    return appointment


def _serve_step(actor: Any, appointment_id: int) -> Appointment:
    appointment = _lock_appointment(actor, appointment_id)
    if not _may_serve(actor, appointment):
        raise PermissionDenied(action="bookings.serve")
    _require_booked(appointment)
    return appointment


@audited("bookings.mark_served")
def mark_served(*, actor: Any, appointment_id: int, now: datetime | None = None) -> Appointment:
    """The person was served (by the service's staff or its provider)."""
    now = _now(now)
    appointment = _serve_step(actor, appointment_id)
    if now < appointment.slot.start_at - SERVE_EARLY:
        raise Conflict(_("预约时段尚未开始。"), code="not_started")
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    appointment.status = A.DONE
    appointment.served_at = now
    return _finish(appointment, actor, "mark_served", before)


@audited("bookings.mark_no_show")
def mark_no_show(*, actor: Any, appointment_id: int, now: datetime | None = None) -> Appointment:
    """The person did not come; only once the slot has started (the seat stays taken:
    the time has passed)."""
    now = _now(now)
    appointment = _serve_step(actor, appointment_id)
    if now < appointment.slot.start_at:
        raise Conflict(_("预约时段尚未开始。"), code="not_started")
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    appointment.status = A.NO_SHOW
    return _finish(appointment, actor, "mark_no_show", before)


@audited("bookings.close_slot")
def close_slot(*, actor: Any, slot_id: int, closed: bool) -> Slot:
    """A manager closes a slot to new appointments (or opens it again); the seats
    already booked stay booked."""
    slot = (
        Slot.objects.select_for_update(of=("self",))
        .select_related("service__org")
        .filter(pk=slot_id)
        .first()
    )
    if slot is None or not service_visible(actor, slot.service):
        raise NotFound()
    policy.require(actor, "bookings.manage", slot.service.org)
    is_open = not closed
    if slot.is_open != is_open:
        slot.is_open = is_open
        slot.save(update_fields=["is_open"])
        record(
            "bookings.close_slot",
            actor=actor,
            obj=slot,
            org=slot.service.org,
            changes={"is_open": [not is_open, is_open]},
        )
    return slot
