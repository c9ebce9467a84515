"""报餐, meal vouchers, the hand-over at the counter and closing a meal.

Correctness lives in the database, not in a read-then-write:

- a limited dish is taken by ``UPDATE menuitem SET sold = sold + q WHERE portions IS NULL
  OR sold <= portions - q`` (and the check constraint ``menuitem_not_oversold``); a meal
  with a cap the same way on ``Menu.reserved_count``. Zero rows updated is the refusal
  (``sold_out``, ``meal_full``), never an oversell;
- the rows are always taken in one order, as in ``services``: the menu's items by id,
  then the menu, then its reservations and vouchers (and the audit chain last, in
  ``record``). A cancellation gives back the portions and the place and then claims its
  reservation by a conditional UPDATE; so two writers never wait on each other in a
  circle (no deadlock on PostgreSQL; SQLite's IMMEDIATE transaction serialises writers);
- a person holds at most one reservation per meal and a pickup code is unique per meal
  among holding reservations (partial unique constraints): the insert is the last word,
  retried in a savepoint with a new random code when only the code collided;
- a pickup code or voucher is handed over once: claimed by a conditional UPDATE of its
  status, so two scans at two counters serve one meal;
- a repeated request with the same ``client_key`` returns what the first one wrote, and
  a repeated notification carries the same dedupe key.

Every service runs in one transaction through ``@audited`` and writes its audit entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.numbers import next_number
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.notifications.models import Event
from dayuan.notifications.services import emit
from dayuan.orgs.models import Organization

from . import events, queries
from .choices import (
    HOLDING,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
)
from .models import Canteen, Menu, MenuItem, Reservation, ReservationLine, Voucher, VoucherBatch
from .qr import parse_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
R = ReservationStatus
V = VoucherStatus

# The counter opens this long before a meal is served (early take-away, early birds).
HAND_OVER_EARLY = timedelta(minutes=30)
# A canteen's manager may issue more than ``voucher_batch_max`` at once, up to this.
MANAGER_VOUCHER_MAX = 1000
MAX_WALK_INS = 10_000
_INSERT_ATTEMPTS = 8


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _hhmm(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _iso(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).isoformat()


def _meal_label(menu: Menu) -> str:
    return f"{menu.canteen.name} {menu.day:%m-%d} {menu.get_meal_display()}"


class _Found(Exception):
    """A concurrent request with the same ``client_key`` won: roll back ours, return it."""

    def __init__(self, obj: Any) -> None:
        super().__init__()
        self.obj = obj


# --- who ---------------------------------------------------------------------------------


def _canteen_visible(user: Any, canteen: Canteen) -> bool:
    return Canteen.objects.filter(queries.canteen_visibility(user), pk=canteen.pk).exists()


def _visible_menu(actor: Any, menu_id: int) -> Menu:
    """The menu with its canteen, or 404 when the actor may not see the canteen."""
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    menu = Menu.objects.select_related("canteen", "org").filter(pk=menu_id).first()
    if menu is None or not _canteen_visible(actor, menu.canteen):
        raise NotFound()
    return menu


def _may_serve(user: Any, canteen: Canteen) -> bool:
    """The kitchen (operators) and the canteen's managers hand over and close meals."""
    return queries.may_operate(user, canteen) or queries.may_manage(user, canteen)


def _operated_canteen(actor: Any, canteen_id: int) -> Canteen:
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    canteen = Canteen.objects.select_related("org").filter(pk=canteen_id).first()
    if canteen is None or not _canteen_visible(actor, canteen):
        raise NotFound()
    if not _may_serve(actor, canteen):
        raise PermissionDenied(action="canteen.operate")
    return canteen


def _require_open(menu: Menu, now: datetime) -> None:
    """Published, in an active canteen, and before its reservation deadline
    (reservations and vouchers)."""
    if menu.status != MenuStatus.PUBLISHED or not menu.canteen.is_active:
        raise Conflict(_("该餐次未开放报餐。"), code="menu_not_open", status=menu.status)
    if now >= menu.reserve_until:
        raise Conflict(
            _("报餐已于 %(time)s 截止。") % {"time": _hhmm(menu.reserve_until)},
            code="reservation_closed",
            reserve_until=_iso(menu.reserve_until),
        )


def _require_cancellable(menu: Menu, now: datetime) -> None:
    if now >= menu.cancel_until:
        raise Conflict(
            _("取消已于 %(time)s 截止。") % {"time": _hhmm(menu.cancel_until)},
            code="cancellation_closed",
            cancel_until=_iso(menu.cancel_until),
        )


def _own_or_managed(
    actor: Any, visible: Any, pk: int, owner: str, now: datetime, *related: str
) -> Any:
    """A reservation or voucher batch among those ``visible(actor)`` (with its menu and
    canteen) that the actor may still cancel: their own (``owner`` names the field) or
    one of a canteen they manage, before the menu's cancellation deadline."""
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    found = visible(actor).select_related("menu", "menu__canteen", *related).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    if getattr(found, owner) != actor.pk and not queries.may_manage(actor, found.menu.canteen):
        raise PermissionDenied(action="canteen.manage")
    _require_cancellable(found.menu, now)
    return found


# --- notifications ---------------------------------------------------------------------


def _notify_person(
    event_type: str, reservation: Reservation, actor: Any, title: str, body: str, key: str
) -> None:
    """The person's notice about their reservation, filed under their own unit (their
    grants reach it; the canteen's centre may be above them)."""
    emit(
        event_type,
        org=reservation.person_org,
        actor=actor,
        recipients=[reservation.person],
        title=title,
        body=body,
        link=f"/canteen/reservations/{reservation.pk}/",
        object=reservation,
        dedupe_key=f"canteen:reservation:{reservation.pk}:{key}",
        payload={"number": reservation.number, "status": reservation.status},
    )


# --- reserving ---------------------------------------------------------------------------


def _clean_key(client_key: str | None) -> str | None:
    """The caller's idempotency key (a blank one is none)."""
    if client_key is None or not str(client_key).strip():
        return None
    return clean_text(str(client_key), "client_key", _("请求标识"), 64)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
        return None
    return n if n == value or isinstance(value, str) else None


def _clean_items(
    menu: Menu, kind: str, items: Sequence[Mapping[str, Any]]
) -> list[tuple[MenuItem, int]]:
    """``[(menu item, quantity)]`` sorted by item id (the lock order), checked against
    the menu: its own items, 1..per_person_max each, packages only for take-away."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise InvalidInput(_("所选菜品格式无效。"), code="bad_items", field="items")
    on_menu = {mi.pk: mi for mi in menu.items.select_related("dish")}
    chosen: dict[int, tuple[MenuItem, int]] = {}
    for i, entry in enumerate(items):
        if not isinstance(entry, Mapping):
            raise InvalidInput(_("所选菜品格式无效。"), code="bad_items", index=i)
        item_id, quantity = _int(entry.get("menu_item_id")), _int(entry.get("quantity", 1))
        item = on_menu.get(item_id) if item_id is not None else None
        if item is None or item_id in chosen:
            raise InvalidInput(
                _("所选菜品不在该餐次的菜单上。"), code="bad_items", index=i, menu_item_id=item_id
            )
        if quantity is None or not 1 <= quantity <= item.per_person_max:
            raise InvalidInput(
                ngettext(
                    "「%(dish)s」每人限订 %(n)s 份。",
                    "「%(dish)s」每人限订 %(n)s 份。",
                    item.per_person_max,
                )
                % {"dish": item.dish.name, "n": item.per_person_max},
                code="too_many_portions",
                menu_item_id=item.pk,
                per_person_max=item.per_person_max,
            )
        chosen[item.pk] = (item, quantity)
    lines = [chosen[pk] for pk in sorted(chosen)]
    packages = [item for item, _q in lines if item.takeaway]
    if kind == ReservationKind.EAT_IN and packages:
        raise InvalidInput(
            _("堂食不能预订外带套餐。"), code="bad_items", menu_item_id=packages[0].pk
        )
    if kind == ReservationKind.TAKEAWAY and (not packages or len(packages) != len(lines)):
        raise InvalidInput(_("外带须预订至少一份外带套餐，且只能预订外带套餐。"), code="bad_items")
    return lines


def _clean_pickup(menu: Menu, pickup_at: datetime | None) -> datetime:
    """A take-away's pickup time: a slot start of the canteen's grid within the meal."""
    step = timedelta(minutes=menu.canteen.takeaway_slot_minutes or 15)
    ok = (
        isinstance(pickup_at, datetime)
        and timezone.is_aware(pickup_at)
        and menu.serve_start <= pickup_at < menu.serve_end
        and (pickup_at - menu.serve_start) % step == timedelta(0)
    )
    if not ok:
        raise InvalidInput(
            _("取餐时间须在 %(start)s 至 %(end)s 之间，每 %(n)s 分钟一个时段。")
            % {
                "start": menu.serve_start.astimezone(SHANGHAI).strftime("%H:%M"),
                "end": menu.serve_end.astimezone(SHANGHAI).strftime("%H:%M"),
                "n": menu.canteen.takeaway_slot_minutes,
            },
            code="bad_pickup_time",
            field="pickup_at",
        )
    assert pickup_at is not None
    return pickup_at


def _sold_out(item: MenuItem) -> Conflict:
    return Conflict(
        _("「%(dish)s」已售罄") % {"dish": item.dish.name},
        code="sold_out",
        menu_item_id=item.pk,
    )


def _meal_full(menu: Menu) -> Conflict:
    return Conflict(_("该餐次报餐人数已满。"), code="meal_full", capacity=menu.capacity)


def _already_reserved() -> Conflict:
    return Conflict(_("您已报该餐次，如需修改请先取消。"), code="already_reserved")


def _reservation_by_key(actor: Any, client_key: str | None) -> Reservation | None:
    if client_key is None:
        return None
    return Reservation.objects.filter(person_id=actor.pk, client_key=client_key).first()


def _take_places(menu: Menu, lines: list[tuple[MenuItem, int]], places: int) -> None:
    """The portions of each line (items by id), then ``places`` on the menu's counter;
    both conditional UPDATEs, refused when nothing is left. The menu must still be
    published (a concurrent cancellation of the menu wins)."""
    for item, quantity in lines:
        taken = (
            MenuItem.objects.filter(pk=item.pk)
            .filter(Q(portions__isnull=True) | Q(sold__lte=F("portions") - quantity))
            .update(sold=F("sold") + quantity)
        )
        if not taken:
            raise _sold_out(item)
    taken = (
        Menu.objects.filter(pk=menu.pk, status=MenuStatus.PUBLISHED)
        .filter(Q(capacity__isnull=True) | Q(reserved_count__lte=F("capacity") - places))
        .update(reserved_count=F("reserved_count") + places)
    )
    if not taken:
        status = Menu.objects.filter(pk=menu.pk).values_list("status", flat=True).first()
        if status != MenuStatus.PUBLISHED:
            raise Conflict(_("该餐次未开放报餐。"), code="menu_not_open", status=status)
        raise _meal_full(menu)


def _give_back(menu_id: int, lines: Sequence[tuple[int, int]], places: int) -> None:
    """The reverse of ``_take_places``, in the same order (items by id, then the menu)."""
    for item_id, quantity in sorted(lines):
        MenuItem.objects.filter(pk=item_id, sold__gte=quantity).update(sold=F("sold") - quantity)
    if places:
        Menu.objects.filter(pk=menu_id, reserved_count__gte=places).update(
            reserved_count=F("reserved_count") - places
        )


def _insert_reservation(
    actor: Any,
    menu: Menu,
    fields: dict[str, Any],
    lines: list[tuple[MenuItem, int]],
    client_key: str | None,
    now: datetime,
) -> Reservation:
    """Insert with a random pickup code; a code (or number) taken meanwhile is retried
    in a savepoint, a duplicate of the person or of the key is the refusal or the
    answer."""
    for _attempt in range(_INSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                reservation = Reservation.objects.create(
                    **fields,
                    pickup_code=f"{secrets.randbelow(1_000_000):06d}",
                    number=next_number(Reservation, "BC", now),
                    client_key=client_key,
                )
                ReservationLine.objects.bulk_create(
                    [
                        ReservationLine(
                            reservation=reservation, menu_item=item, quantity=q, price=item.price
                        )
                        for item, q in lines
                    ]
                )
            return reservation
        except IntegrityError:
            if found := _reservation_by_key(actor, client_key):
                raise _Found(found) from None
            if Reservation.objects.filter(
                menu=menu, person_id=actor.pk, status__in=HOLDING
            ).exists():
                raise _already_reserved() from None
    raise Conflict(_("取餐码分配冲突，请重试。"), code="number_conflict")


@audited("canteen.reserve")
def reserve(
    *,
    actor: Any,
    menu_id: int,
    kind: str = ReservationKind.EAT_IN,
    items: Sequence[Mapping[str, Any]] = (),
    pickup_at: datetime | None = None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> Reservation:
    """报餐: a place at a meal, eat-in or take-away, with the limited dishes pre-ordered.

    Refused with nothing written: a menu not visible (404), not published
    (``menu_not_open``), past its deadline (``reservation_closed``), the person already
    in (``already_reserved``), bad items (``too_many_portions``, ``bad_items``), a
    take-away pickup time off the grid (``bad_pickup_time``), a dish gone
    (``sold_out``), the meal's cap reached (``meal_full``). The same ``client_key``
    again returns the first reservation.
    """
    now = _now(now)
    client_key = _clean_key(client_key)
    if getattr(actor, "pk", None) is not None and (found := _reservation_by_key(actor, client_key)):
        return found
    menu = _visible_menu(actor, menu_id)
    policy.require(actor, "canteen.reserve")
    _require_open(menu, now)
    mine = Reservation.objects.filter(menu=menu, person_id=actor.pk, status__in=HOLDING)
    if mine.exists():
        raise _already_reserved()
    if kind not in ReservationKind.values:
        raise InvalidInput(_("报餐方式无效。"), code="bad_kind", field="kind")
    lines = _clean_items(menu, kind, items)
    # eat-in: no pickup time (the meal's hours)
    pickup_at = _clean_pickup(menu, pickup_at) if kind == ReservationKind.TAKEAWAY else None
    # Refuse early what is already gone (no lock taken); the UPDATEs below decide.
    for item, quantity in lines:
        if item.portions is not None and item.sold + quantity > item.portions:
            raise _sold_out(item)
    if menu.capacity is not None and menu.reserved_count >= menu.capacity:
        raise _meal_full(menu)
    amount = (menu.eat_in_price if kind == ReservationKind.EAT_IN else Decimal(0)) + sum(
        (item.price * q for item, q in lines), Decimal(0)
    )
    try:
        with transaction.atomic():
            _take_places(menu, lines, 1)
            # A twin request (same person) may have committed while we waited on a row.
            if found := _reservation_by_key(actor, client_key):
                raise _Found(found)
            if mine.exists():
                raise _already_reserved()
            reservation = _insert_reservation(
                actor,
                menu,
                {
                    "org_id": menu.org_id,
                    "canteen_id": menu.canteen_id,
                    "menu": menu,
                    "person": actor,
                    "person_org_id": actor.home_org_id or menu.canteen.org_id,
                    "kind": kind,
                    "pickup_at": pickup_at,
                    "amount": amount,
                },
                lines,
                client_key,
                now,
            )
    except _Found as won:
        return won.obj
    record(
        "canteen.reserve",
        actor=actor,
        obj=reservation,
        org=menu.org,
        changes={
            "menu_id": [None, menu.pk],
            "number": [None, reservation.number],
            "kind": [None, kind],
            "pickup_at": [None, pickup_at],
            "lines": [None, {str(item.pk): q for item, q in lines}],
            "amount": [None, amount],
        },
    )
    facts = {
        "meal": _meal_label(menu),
        "code": reservation.pickup_code,
        "number": reservation.number,
    }
    if pickup_at is None:
        body = _("%(meal)s，取餐码 %(code)s，编号 %(number)s") % facts
    else:
        facts["time"] = pickup_at.astimezone(SHANGHAI).strftime("%H:%M")
        body = _("%(meal)s，外带取餐时间 %(time)s，取餐码 %(code)s，编号 %(number)s") % facts
    _notify_person(
        events.RESERVED,
        reservation,
        None,
        _("报餐成功：%(meal)s") % {"meal": _meal_label(menu)},
        body,
        "reserved",
    )
    return reservation


def _require_reserved(reservation: Reservation) -> None:
    if reservation.status != R.RESERVED:
        raise Conflict(
            _("报餐当前状态为“%(status)s”，不能取消。") % {"status": R(reservation.status).label},
            code="not_cancellable",
            status=reservation.status,
        )


@audited("canteen.cancel_reservation")
def cancel_reservation(
    *, actor: Any, reservation_id: int, now: datetime | None = None
) -> Reservation:
    """The person (or a manager of the canteen for them) cancels before the menu's
    ``cancel_until``; the portions and the place go back at once and the person may
    reserve the meal again."""
    now = _now(now)
    # Read, not locked: the rows are taken below in the one order (items, menu, then the
    # reservation, claimed by a conditional UPDATE; a lost claim rolls the rest back).
    reservation = _own_or_managed(
        actor, queries.reservations_base, reservation_id, "person_id", now, "person", "person_org"
    )
    menu = reservation.menu
    _require_reserved(reservation)
    lines = list(reservation.lines.values_list("menu_item_id", "quantity"))
    _give_back(menu.pk, lines, 1)
    claimed = Reservation.objects.filter(pk=reservation.pk, status=R.RESERVED).update(
        status=R.CANCELLED, cancelled_at=now, updated_at=now
    )
    if not claimed:  # handed over or cancelled meanwhile
        reservation.refresh_from_db(fields=["status"])
        _require_reserved(reservation)
    reservation.refresh_from_db(fields=["status", "cancelled_at", "updated_at"])
    record(
        "canteen.cancel_reservation",
        actor=actor,
        obj=reservation,
        changes={
            "status": [R.RESERVED, R.CANCELLED],
            "lines": [{str(pk): q for pk, q in lines}, None],
        },
    )
    if actor.pk != reservation.person_id:  # nobody is told what they did themselves
        _notify_person(
            events.RESERVATION_CANCELLED,
            reservation,
            actor,
            _("报餐已取消：%(meal)s") % {"meal": _meal_label(menu)},
            _("编号 %(number)s 的报餐已由管理员取消。") % {"number": reservation.number},
            "cancelled",
        )
    return reservation


# --- vouchers ----------------------------------------------------------------------------


def _voucher_codes(menu: Menu, count: int) -> list[str]:
    """``count`` random 8-digit codes not yet used on the menu (the menu row is locked by
    the caller, so no other batch of the menu writes codes meanwhile)."""
    used = set(Voucher.objects.filter(menu=menu).values_list("code", flat=True))
    codes: set[str] = set()
    while len(codes) < count:
        code = f"{secrets.randbelow(100_000_000):08d}"
        if code not in used:
            codes.add(code)
    return sorted(codes)


def _check_meeting_total(menu: Menu, booking: Any, n: int) -> None:
    """A meeting's vouchers for one meal, over every batch, never outnumber its
    attendees. Run after the menu's row is taken (``_take_places``), so two organisers
    issuing at once are counted one after the other."""
    issued = Voucher.objects.filter(batch__booking=booking, menu=menu).exclude(status=V.VOID)
    already = issued.count()
    if already + n > booking.attendees:
        raise InvalidInput(
            _("该会议本餐次已发放 %(m)s 张餐券，合计不能多于参会人数（%(n)s 人）。")
            % {"m": already, "n": booking.attendees},
            code="too_many_vouchers",
            field="count",
            limit=booking.attendees - already,
        )


@audited("canteen.issue_vouchers")
def issue_vouchers(
    *,
    actor: Any,
    menu_id: int,
    count: int,
    purpose: str,
    guest: str,
    unit_id: int | None = None,
    booking_id: int | None = None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> VoucherBatch:
    """餐券: ``count`` one-meal vouchers for visitors or a meeting, charged to ``unit``
    (the issuer's unit by default). They take places of the meal like reservations."""
    now = _now(now)
    client_key = _clean_key(client_key)
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    if client_key is not None and (
        found := VoucherBatch.objects.filter(issuer_id=actor.pk, client_key=client_key).first()
    ):
        return found
    menu = _visible_menu(actor, menu_id)
    unit_id = unit_id if unit_id is not None else actor.home_org_id
    unit = Organization.objects.filter(pk=unit_id).first() if unit_id is not None else None
    if unit is None or not org_in_scope(actor, unit):
        raise NotFound(_("结算单位不存在或无权访问。"))
    policy.require(actor, "canteen.voucher", unit)
    _require_open(menu, now)
    manager = queries.may_manage(actor, menu.canteen)
    limit = MANAGER_VOUCHER_MAX if manager else menu.canteen.voucher_batch_max
    n = _int(count)
    if n is None or not 1 <= n <= limit:
        raise InvalidInput(
            ngettext("每次可发 1 到 %(n)s 张餐券。", "每次可发 1 到 %(n)s 张餐券。", limit)
            % {"n": limit},
            code="too_many_vouchers",
            field="count",
            limit=limit,
        )
    if purpose not in VoucherPurpose.values:
        raise InvalidInput(_("用途无效。"), code="bad_purpose", field="purpose")
    guest = clean_text(guest, "guest", _("来宾/会议"), 100)
    booking = None
    if booking_id is not None:
        from dayuan.bookings.models import Booking
        from dayuan.bookings.services import booking_visible

        booking = (
            Booking.objects.select_related("org", "organizer_unit").filter(pk=booking_id).first()
        )
        if booking is None or not booking_visible(actor, booking):
            raise NotFound(_("会议不存在或无权访问。"))
        if n > booking.attendees:
            raise InvalidInput(
                _("餐券不能多于会议的参会人数（%(n)s 人）。") % {"n": booking.attendees},
                code="too_many_vouchers",
                field="count",
                limit=booking.attendees,
            )
    if menu.capacity is not None and menu.reserved_count + n > menu.capacity:
        raise _meal_full(menu)
    try:
        with transaction.atomic():
            _take_places(menu, [], n)
            if client_key is not None and (
                found := VoucherBatch.objects.filter(
                    issuer_id=actor.pk, client_key=client_key
                ).first()
            ):
                raise _Found(found)
            if booking is not None:
                _check_meeting_total(menu, booking, n)
            batch = _insert_batch(
                actor,
                {
                    "org_id": menu.org_id,
                    "canteen_id": menu.canteen_id,
                    "menu": menu,
                    "issuer": actor,
                    "unit": unit,
                    "purpose": purpose,
                    "guest": guest,
                    "count": n,
                    "booking": booking,
                },
                client_key,
                now,
            )
    except _Found as won:
        return won.obj
    record(
        "canteen.issue_vouchers",
        actor=actor,
        obj=batch,
        org=menu.org,
        changes={
            "menu_id": [None, menu.pk],
            "number": [None, batch.number],
            "count": [None, n],
            "unit_id": [None, unit.pk],
            "purpose": [None, purpose],
            "booking_id": [None, getattr(booking, "pk", None)],
        },
    )
    emit(
        events.VOUCHERS_ISSUED,
        org=unit,
        actor=None,
        recipients=[actor],
        title=_("餐券已发放：%(meal)s") % {"meal": _meal_label(menu)},
        body=_("%(guest)s，%(n)s 张，编号 %(number)s")
        % {"guest": guest, "n": n, "number": batch.number},
        link=f"/canteen/vouchers/{batch.pk}/",
        object=batch,
        dedupe_key=f"canteen:vouchers:{batch.pk}:issued",
        payload={"number": batch.number, "count": n},
    )
    return batch


def _insert_batch(
    actor: Any, fields: dict[str, Any], client_key: str | None, now: datetime
) -> VoucherBatch:
    menu: Menu = fields["menu"]
    for _attempt in range(_INSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                batch = VoucherBatch.objects.create(
                    **fields, number=next_number(VoucherBatch, "CQ", now), client_key=client_key
                )
                Voucher.objects.bulk_create(
                    [
                        Voucher(batch=batch, menu=menu, code=code)
                        for code in _voucher_codes(menu, fields["count"])
                    ]
                )
            return batch
        except IntegrityError:
            if client_key is not None and (
                found := VoucherBatch.objects.filter(
                    issuer_id=actor.pk, client_key=client_key
                ).first()
            ):
                raise _Found(found) from None
    raise Conflict(_("券码分配冲突，请重试。"), code="number_conflict")


@audited("canteen.void_vouchers")
def void_vouchers(*, actor: Any, batch_id: int, now: datetime | None = None) -> VoucherBatch:
    """The issuer (or a manager of the canteen) voids a batch's unused vouchers before
    the meal's cancellation deadline; their places go back. Voiding again changes
    nothing."""
    now = _now(now)
    batch = _own_or_managed(actor, queries.voucher_batches_base, batch_id, "issuer_id", now)
    menu = batch.menu
    # The menu row first, then its vouchers (the one lock order).
    list(Menu.objects.select_for_update().filter(pk=menu.pk).values_list("pk", flat=True))
    voided = Voucher.objects.filter(batch=batch, status=V.ISSUED).update(status=V.VOID)
    _give_back(menu.pk, [], voided)
    record(
        "canteen.void_vouchers",
        actor=actor,
        obj=batch,
        changes={"voided": [0, voided]},
    )
    return batch


# --- the counter ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HandOverLine:
    dish: str
    quantity: int
    takeaway: bool


@dataclass(frozen=True)
class HandOver:
    """What the counter hands out for one scan: a reservation (its pre-ordered dishes,
    eat-in or take-away) or a voucher (one standard meal)."""

    kind: str  # "reservation" | "voucher"
    reservation: Reservation | None
    voucher: Voucher | None
    menu: Menu
    lines: list[HandOverLine] = field(default_factory=list)

    @property
    def takeaway(self) -> bool:
        return self.reservation is not None and self.reservation.kind == ReservationKind.TAKEAWAY


def _no_meal_now() -> Conflict:
    return Conflict(_("当前没有正在供应的餐次。"), code="no_meal_now")


def _unknown_code() -> NotFound:
    return NotFound(_("取餐码或券码无效。"), code="unknown_code")


def _serving(menu: Menu, canteen: Canteen, now: datetime) -> bool:
    grace = timedelta(minutes=canteen.no_show_grace_minutes)
    return (
        menu.status == MenuStatus.PUBLISHED
        and menu.serve_start - HAND_OVER_EARLY <= now < menu.serve_end + grace
    )


def _menus_serving(canteen: Canteen, now: datetime) -> list[Menu]:
    """The canteen's published menus whose counter is open at ``now``; the one being
    served first, should two windows touch."""
    grace = timedelta(minutes=canteen.no_show_grace_minutes)
    menus = list(
        Menu.objects.filter(
            canteen=canteen,
            status=MenuStatus.PUBLISHED,
            serve_start__lte=now + HAND_OVER_EARLY,
            serve_end__gt=now - grace,
        )
    )
    menus.sort(key=lambda m: (not (m.serve_start <= now < m.serve_end), abs(m.serve_start - now)))
    return menus


def _find(canteen: Canteen, raw: str, now: datetime) -> tuple[Menu, Reservation | Voucher]:
    parsed = parse_code(raw)
    if parsed is None:
        raise _unknown_code()
    menu_id, code = parsed
    if menu_id is not None:
        menu = Menu.objects.filter(pk=menu_id, canteen=canteen).first()
        if menu is None:
            raise _unknown_code()
        if not _serving(menu, canteen, now):
            raise _no_meal_now()
        menus = [menu]
    else:
        menus = _menus_serving(canteen, now)
        if not menus:
            raise _no_meal_now()
    by_id = {m.pk: m for m in menus}
    rank = {m.pk: i for i, m in enumerate(menus)}
    found: list[Any]
    if len(code) == 6:
        found = list(Reservation.objects.filter(menu_id__in=list(by_id), pickup_code=code))
    else:
        found = list(Voucher.objects.filter(menu_id__in=list(by_id), code=code))
    if not found:
        raise _unknown_code()
    # A pickup code is unique per meal among holding reservations only: a cancelled one
    # may share it with a holding one; the holding one wins, then the meal being served.
    found.sort(key=lambda o: (getattr(o, "status", None) == R.CANCELLED, rank[o.menu_id], -o.pk))
    obj = found[0]
    return by_id[obj.menu_id], obj


@audited("canteen.hand_over")
def hand_over(*, actor: Any, canteen_id: int, code: str, now: datetime | None = None) -> HandOver:
    """The counter scans or types a code: a 6-digit pickup code, an 8-digit voucher
    code, or the QR payload ``DYC:<menu_id>:<code>``. The meal is handed over once: the
    status is claimed by a conditional UPDATE, a second scan is ``already_served``."""
    now = _now(now)
    canteen = _operated_canteen(actor, canteen_id)
    menu, obj = _find(canteen, str(code or ""), now)
    menu.canteen = canteen
    if isinstance(obj, Reservation):
        claimed = Reservation.objects.filter(pk=obj.pk, status=R.RESERVED).update(
            status=R.SERVED, served_at=now, served_by=actor, updated_at=now
        )
        if not claimed:
            obj.refresh_from_db(fields=["status", "served_at"])
            _refuse_claim(obj.status, obj.served_at, kind="reservation")
        obj.refresh_from_db()
        lines = [
            HandOverLine(line.menu_item.dish.name, line.quantity, line.menu_item.takeaway)
            for line in obj.lines.select_related("menu_item__dish").order_by(
                "menu_item__position", "menu_item_id"
            )
        ]
        record(
            "canteen.hand_over",
            actor=actor,
            obj=obj,
            changes={"status": [R.RESERVED, R.SERVED], "served_at": [None, now]},
        )
        return HandOver("reservation", obj, None, menu, lines)
    claimed = Voucher.objects.filter(pk=obj.pk, status=V.ISSUED).update(
        status=V.REDEEMED, redeemed_at=now, redeemed_by=actor
    )
    if not claimed:
        obj.refresh_from_db(fields=["status", "redeemed_at"])
        _refuse_claim(obj.status, obj.redeemed_at, kind="voucher")
    obj.refresh_from_db()
    record(
        "canteen.hand_over",
        actor=actor,
        obj=obj,
        org_id=menu.org_id,
        changes={"status": [V.ISSUED, V.REDEEMED], "redeemed_at": [None, now]},
    )
    return HandOver("voucher", None, obj, menu, [])


def _refuse_claim(status: str, at: datetime | None, *, kind: str) -> None:
    if status in (R.SERVED, V.REDEEMED):
        raise Conflict(
            _("已于 %(time)s 取餐，不能重复取餐。") % {"time": _hhmm(at) if at else "—"},
            code="already_served",
            served_at=_iso(at) if at else None,
            kind=kind,
        )
    if status in (R.CANCELLED, V.VOID):
        message = _("该报餐已取消。") if kind == "reservation" else _("该餐券已作废。")
        raise Conflict(message, code="reservation_cancelled", kind=kind)
    raise _no_meal_now()  # a no-show: the meal was closed meanwhile


# --- closing a meal ------------------------------------------------------------------------


def _close(menu_id: int, *, actor: Any, walk_ins: int | None, now: datetime) -> Menu:
    """The menu locked, its still-reserved reservations become no-shows (one UPDATE),
    the diners are counted and the menu closed; each no-show person is told once."""
    menu = (
        Menu.objects.select_for_update(of=("self",))
        .select_related("canteen", "org")
        .get(pk=menu_id)
    )
    if menu.status not in (MenuStatus.PUBLISHED, MenuStatus.CLOSED):
        raise Conflict(_("该餐次未开放报餐。"), code="menu_not_open", status=menu.status)
    no_shows = Reservation.objects.filter(menu=menu, status=R.RESERVED).update(
        status=R.NO_SHOW, updated_at=now
    )
    served = Reservation.objects.filter(menu=menu, status=R.SERVED).count()
    redeemed = Voucher.objects.filter(menu=menu, status=V.REDEEMED).count()
    before = {"status": menu.status, "walk_ins": menu.walk_ins, "diners": menu.diners}
    if walk_ins is not None:
        menu.walk_ins = walk_ins
    menu.diners = served + redeemed + menu.walk_ins
    if menu.status != MenuStatus.CLOSED:
        menu.status = MenuStatus.CLOSED
        menu.closed_at = now
    after = {"status": menu.status, "walk_ins": menu.walk_ins, "diners": menu.diners}
    if after != before:
        menu.version += 1
        menu.save(
            update_fields=["status", "closed_at", "walk_ins", "diners", "version", "updated_at"]
        )
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    changes["no_shows"] = [0, no_shows]
    record("canteen.close_meal", actor=actor, obj=menu, changes=changes)
    _notify_no_shows(menu)
    return menu


def _notify_no_shows(menu: Menu) -> None:
    people = list(
        Reservation.objects.filter(menu=menu, status=R.NO_SHOW).select_related(
            "person", "person_org"
        )
    )
    keys = {f"canteen:reservation:{r.pk}:no_show" for r in people}
    told = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    title = _("报餐未就餐：%(meal)s") % {"meal": _meal_label(menu)}
    for r in people:
        if f"canteen:reservation:{r.pk}:no_show" in told:
            continue
        _notify_person(
            events.NO_SHOW,
            r,
            None,
            title,
            _("编号 %(number)s 的报餐未取餐，已记为未就餐。如不就餐请提前取消。")
            % {"number": r.number},
            "no_show",
        )


@audited("canteen.close_meal")
def close_meal(
    *, actor: Any, menu_id: int, walk_ins: int | None = 0, now: datetime | None = None
) -> Menu:
    """The kitchen closes a meal once serving has begun: reservations not handed over
    become no-shows, ``diners`` = served + redeemed vouchers + walk-ins. Closing again
    only updates the walk-ins and diners (``walk_ins=None`` keeps them)."""
    now = _now(now)
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    menu = Menu.objects.select_related("canteen", "org").filter(pk=menu_id).first()
    if menu is None or not _canteen_visible(actor, menu.canteen):
        raise NotFound()
    if not _may_serve(actor, menu.canteen):
        raise PermissionDenied(action="canteen.operate")
    if menu.status not in (MenuStatus.PUBLISHED, MenuStatus.CLOSED):
        raise Conflict(_("该餐次未开放报餐。"), code="menu_not_open", status=menu.status)
    if now < menu.serve_start:
        raise Conflict(
            _("餐次 %(time)s 开餐，开餐后才能结束。") % {"time": _hhmm(menu.serve_start)},
            code="meal_not_started",
        )
    if walk_ins is not None:
        n = _int(walk_ins)
        if n is None or not 0 <= n <= MAX_WALK_INS:
            raise InvalidInput(
                _("未报餐就餐人数须在 0 到 %(n)s 之间。") % {"n": MAX_WALK_INS},
                code="bad_walk_ins",
                field="walk_ins",
            )
        walk_ins = n
    return _close(menu.pk, actor=actor, walk_ins=walk_ins, now=now)


def close_finished(now: datetime | None = None) -> int:
    """The system closes published meals past ``serve_end`` + the canteen's no-show
    grace (walk-ins unchanged). Each meal in its own transaction; returns how many."""
    now = _now(now)
    candidates = (
        Menu.objects.filter(status=MenuStatus.PUBLISHED, serve_end__lt=now)
        .order_by("serve_end", "pk")
        .values_list("pk", "serve_end", "canteen__no_show_grace_minutes")
    )
    closed = 0
    for pk, end, grace in candidates:
        if end + timedelta(minutes=grace) >= now:
            continue
        try:
            with transaction.atomic():
                if not Menu.objects.filter(pk=pk, status=MenuStatus.PUBLISHED).exists():
                    continue  # closed by the kitchen meanwhile
                _close(pk, actor=None, walk_ins=None, now=now)
        except Conflict:
            continue  # cancelled meanwhile: nothing to close
        closed += 1
    return closed
