"""Every write of the canteen's set-up, menus and ratings: canteens and their meal
periods, dishes (with photos), menus (drafted, published, copied, cancelled) and the
diners' stars. Reservations, vouchers and the counter are in ``reservations``.

A manager acts on a canteen they can see (``queries.canteen_visibility``; anything else
is a 404, as if it did not exist) and must hold ``canteen.manage`` over its org (403).
A menu's instants (serving, the reservation and cancellation deadlines) come from the
canteen's ``MealPeriod`` in Asia/Shanghai: a draft follows the period until it is
published; a published menu keeps the instants it was published with.

Locks are taken in the order ``reservations.reserve`` takes them: a menu's items (by
id), then the menu row, then its reservations. ``now`` is for tests and jobs; callers
leave it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from dayuan.core.text import clean_text
from dayuan.notifications.services import emit
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Location, Organization
from dayuan.workorders import photos as photo_files

from . import events, queries
from .choices import (
    KITCHEN_TAG,
    MEAL_ORDER,
    Allergen,
    DishCategory,
    DishTag,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherStatus,
)
from .models import (
    Canteen,
    Dish,
    DishRating,
    MealPeriod,
    Menu,
    MenuItem,
    Reservation,
    ReservationLine,
    Voucher,
    VoucherBatch,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# serve start, serve end, reserve cut-off and cancel cut-off (minutes before the start),
# eat-in price: what a new canteen starts with (a manager changes them per meal).
DEFAULT_PERIODS: dict[str, tuple[time, time, int, int, Decimal]] = {
    Meal.BREAKFAST: (time(7, 0), time(8, 30), 600, 600, Decimal("3.00")),
    Meal.LUNCH: (time(11, 30), time(13, 0), 120, 150, Decimal("8.00")),
    Meal.DINNER: (time(17, 30), time(19, 0), 180, 210, Decimal("6.00")),
}

CANTEEN_DATA = frozenset(
    {
        "name",
        "operator_id",
        "kitchen_id",
        "seats",
        "takeaway_slot_minutes",
        "voucher_batch_max",
        "no_show_grace_minutes",
        "is_active",
    }
)
DISH_DATA = frozenset(
    {"name", "category", "tags", "allergens", "region", "price", "description", "is_active"}
)
ITEM_KEYS = frozenset({"dish_id", "portions", "per_person_max", "price"})
OPERATOR_KINDS = frozenset({OrgKind.VENDOR, OrgKind.ENTERPRISE, OrgKind.SOCIAL})

CANTEEN_FIELDS = [
    "org_id",
    "operator_id",
    "location_id",
    "kitchen_id",
    "name",
    "seats",
    "takeaway_slot_minutes",
    "voucher_batch_max",
    "no_show_grace_minutes",
    "is_active",
    "version",
]
PERIOD_FIELDS = [
    "meal",
    "serve_start",
    "serve_end",
    "reserve_cutoff_minutes",
    "cancel_cutoff_minutes",
    "eat_in_price",
]
DISH_FIELDS = [
    "canteen_id",
    "name",
    "category",
    "tags",
    "allergens",
    "region",
    "price",
    "description",
    "is_active",
    "version",
]
MENU_FIELDS = [
    "canteen_id",
    "day",
    "meal",
    "status",
    "serve_start",
    "serve_end",
    "reserve_until",
    "cancel_until",
    "eat_in_price",
    "capacity",
    "reserved_count",
    "note",
    "version",
]

MAX_PRICE = Decimal("999")
MAX_CUTOFF_MINUTES = 7 * 24 * 60
MAX_SEATS = 10_000
MAX_CAPACITY = 100_000
MAX_PORTIONS = 100_000
MAX_PER_PERSON = 20
MAX_ITEMS = 60
RATING_WINDOW = timedelta(days=7)  # stars are taken from serving until a week after

_LABELS = {
    "name": gettext_lazy("名称"),
    "seats": gettext_lazy("座位数"),
    "takeaway_slot_minutes": gettext_lazy("外带取餐时段（分钟）"),
    "voucher_batch_max": gettext_lazy("单次发券上限"),
    "no_show_grace_minutes": gettext_lazy("未就餐判定宽限（分钟）"),
    "reserve_cutoff_minutes": gettext_lazy("报餐截止（开餐前分钟）"),
    "cancel_cutoff_minutes": gettext_lazy("取消截止（开餐前分钟）"),
    "eat_in_price": gettext_lazy("堂食标准（元）"),
    "price": gettext_lazy("价格（元）"),
    "capacity": gettext_lazy("报餐上限"),
    "portions": gettext_lazy("限量份数"),
    "per_person_max": gettext_lazy("每人限订"),
}


# --- small checks ---------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def _today(now: datetime) -> date:
    return _local(now).date()


def _check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def _data(data: Mapping[str, Any] | None, allowed: frozenset[str]) -> dict[str, Any]:
    """The submitted fields; an unknown key is refused (a typo must not pass silently)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInput(_("提交的数据格式无效。"), code="invalid", field="data")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            _("未知字段：%(fields)s。")
            % {"fields": pgettext("list separator", "、").join(unknown)},
            code="unknown_field",
            field=unknown[0],
        )
    return dict(data)


def _int(value: Any, field: str, low: int, high: int, *, code: str = "out_of_range") -> int:
    n: int | None = None
    if not isinstance(value, bool):
        try:
            n = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
            n = None
        if isinstance(value, float) and n != value:
            n = None
    if n is None or not low <= n <= high:
        raise InvalidInput(
            _("%(field)s须为 %(low)s 到 %(high)s 之间的整数。")
            % {"field": _LABELS.get(field, field), "low": low, "high": high},
            code=code,
            field=field,
            low=low,
            high=high,
        )
    return n


def _money(value: Any, field: str) -> Decimal:
    """A price in yuan: 0 to 999, at most two decimals."""
    amount: Decimal | None = None
    if not isinstance(value, bool) and value is not None and value != "":
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            amount = None
    if (
        amount is None
        or not amount.is_finite()
        or not Decimal(0) <= amount <= MAX_PRICE
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise InvalidInput(
            _("%(field)s须在 0 到 %(max)s 元之间，最多两位小数。")
            % {"field": _LABELS.get(field, field), "max": MAX_PRICE},
            code="invalid_price",
            field=field,
        )
    return amount.quantize(Decimal("0.01"))


def _time(value: Any, field: str) -> time:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(_("时间格式无效。"), code="invalid_time", field=field) from exc


def _day(value: Any, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(_("日期无效。"), code="invalid_day", field=field)
    return value


def _meal(value: Any) -> str:
    if value not in Meal.values:
        raise InvalidInput(_("餐次无效。"), code="invalid_meal", field="meal")
    return str(value)


def _aware(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidInput(_("截止时间须为带时区的时间。"), code="bad_deadlines", field=field)
    return value


def _choices(values: Any, allowed: Sequence[str], field: str, code: str) -> list[str]:
    """A list of choice values, de-duplicated and sorted (the form the model keeps)."""
    if values is None:
        return []
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | set):
        raise InvalidInput(_("格式无效。"), code=code, field=field)
    wanted = sorted({str(v) for v in values})
    unknown = [v for v in wanted if v not in allowed]
    if unknown:
        raise InvalidInput(
            _("无效的值：%(values)s。")
            % {"values": pgettext("list separator", "、").join(unknown)},
            code=code,
            field=field,
            values=unknown,
        )
    return wanted


def _meal_label(menu: Menu) -> str:
    return str(Meal(menu.meal).label)


# --- who --------------------------------------------------------------------------------


def _visible_canteen(actor: Any, canteen_id: Any, *, lock: bool = False) -> Canteen:
    """The canteen if ``actor`` may see it, else 404 (another county's does not exist)."""
    canteen = None
    if isinstance(canteen_id, int) and not isinstance(canteen_id, bool):
        qs = Canteen.objects.filter(queries.canteen_visibility(actor)).filter(pk=canteen_id)
        if lock:
            qs = qs.select_for_update(of=("self",))
        canteen = qs.select_related("org").order_by().first()
    if canteen is None:
        raise NotFound(_("食堂不存在或无权访问。"))
    return canteen


def _managed_canteen(actor: Any, canteen_id: Any, *, lock: bool = False) -> Canteen:
    canteen = _visible_canteen(actor, canteen_id, lock=lock)
    policy.require(actor, "canteen.manage", canteen.org)
    return canteen


def _lock_items(menu_id: int) -> list[MenuItem]:
    """A menu's items locked by id: the order ``reserve`` takes them in."""
    return list(
        MenuItem.objects.select_for_update(of=("self",))
        .select_related("dish")
        .filter(menu_id=menu_id)
        .order_by("pk")
    )


def _managed_menu(actor: Any, menu_id: Any) -> tuple[Menu, list[MenuItem]]:
    """The menu and its items, locked (items first), for a manager of its canteen."""
    canteen_id = None
    if isinstance(menu_id, int) and not isinstance(menu_id, bool):
        canteen_id = Menu.objects.filter(pk=menu_id).values_list("canteen_id", flat=True).first()
    if canteen_id is None:
        raise NotFound(_("菜单不存在或无权访问。"))
    canteen = _managed_canteen(actor, canteen_id)
    items = _lock_items(menu_id)
    menu = Menu.objects.select_for_update(of=("self",)).get(pk=menu_id)
    menu.canteen = canteen
    return menu, items


def _require_status(menu: Menu, allowed: Sequence[str], action: Any) -> None:
    if menu.status not in allowed:
        raise Conflict(
            _("菜单当前状态为“%(status)s”，不能%(action)s。")
            % {"status": MenuStatus(menu.status).label, "action": action},
            code="illegal_transition",
            status=menu.status,
        )


# --- canteens ---------------------------------------------------------------------------


def _own_location(org: Organization, location_id: Any, field: str) -> Location:
    """An active location of ``org`` or below it."""
    location = None
    if isinstance(location_id, int) and not isinstance(location_id, bool):
        location = Location.objects.select_related("org").filter(pk=location_id).first()
    if location is None or not location.is_active or not location.org.path.startswith(org.path):
        raise InvalidInput(_("位置须属于食堂所属单位。"), code="invalid_location", field=field)
    return location


def _operator(actor: Any, operator_id: Any) -> Organization | None:
    """The catering company (a vendor, enterprise or social organisation the actor
    reaches); ``None`` when the centre runs the kitchen itself."""
    if operator_id is None:
        return None
    op = None
    if isinstance(operator_id, int) and not isinstance(operator_id, bool):
        op = Organization.objects.filter(pk=operator_id, is_active=True).first()
    if op is None or op.kind not in OPERATOR_KINDS or not policy.can(actor, "orgs.view", op):
        raise InvalidInput(_("承包单位无效。"), code="invalid_operator", field="operator_id")
    return op


def _tag_kitchen(kitchen: Location) -> bool:
    """Tag the kitchen 后厨, so the inspection plans generate its daily opening and
    closing checks (JG-ST C13). True when the tag was added."""
    tags = list(kitchen.tags or [])
    if KITCHEN_TAG in tags:
        return False
    kitchen.tags = [*tags, KITCHEN_TAG]
    kitchen.version += 1
    kitchen.save(update_fields=["tags", "version", "updated_at"])
    return True


@audited("canteen.save_canteen")
def save_canteen(
    *,
    actor: Any,
    canteen_id: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> Canteen:
    """Add a canteen to ``org_id`` (with the three default meal periods) or edit one;
    keys missing from ``data`` keep their value. The kitchen is tagged 后厨 so its daily
    checks are planned."""
    fields = _data(data, CANTEEN_DATA)
    created = canteen_id is None
    if created:
        org = None
        if isinstance(org_id, int) and not isinstance(org_id, bool):
            org = Organization.objects.filter(pk=org_id, is_active=True).first()
        if org is None or not policy.can(actor, "orgs.view", org):
            raise NotFound(_("单位不存在或无权访问。"))
        policy.require(actor, "canteen.manage", org)
        if location_id is None:
            raise InvalidInput(_("请选择食堂位置。"), code="required", field="location_id")
        if "name" not in fields:
            raise InvalidInput(_("请填写名称。"), code="required", field="name")
        canteen = Canteen(org=org)
        before: dict[str, Any] = {}
    else:
        canteen = _managed_canteen(actor, canteen_id, lock=True)
        _check_version(canteen, version)
        if org_id is not None and org_id != canteen.org_id:
            raise InvalidInput(_("食堂的所属单位不能更改。"), code="org_fixed", field="org_id")
        before = snapshot(canteen, CANTEEN_FIELDS)
        canteen.version += 1
    if location_id is not None:
        canteen.location = _own_location(canteen.org, location_id, "location_id")
    if "name" in fields:
        canteen.name = clean_text(fields["name"], "name", _("名称"), 100)
    if "operator_id" in fields:
        canteen.operator = _operator(actor, fields["operator_id"])
    if "kitchen_id" in fields:
        kitchen_id = fields["kitchen_id"]
        canteen.kitchen = (
            None if kitchen_id is None else _own_location(canteen.org, kitchen_id, "kitchen_id")
        )
    for key, low, high in (
        ("seats", 1, MAX_SEATS),
        ("takeaway_slot_minutes", 5, 60),
        ("voucher_batch_max", 1, 500),
        ("no_show_grace_minutes", 0, 240),
    ):
        if key in fields:
            setattr(canteen, key, _int(fields[key], key, low, high))
    if "is_active" in fields:
        canteen.is_active = bool(fields["is_active"])
    canteen.save()
    changes = diff(before, snapshot(canteen, CANTEEN_FIELDS))
    if canteen.kitchen is not None and _tag_kitchen(canteen.kitchen):
        changes["kitchen_tagged"] = KITCHEN_TAG
    if created:
        MealPeriod.objects.bulk_create(
            MealPeriod(
                canteen=canteen,
                meal=meal,
                serve_start=start,
                serve_end=end,
                reserve_cutoff_minutes=cutoff,
                cancel_cutoff_minutes=cancel,
                eat_in_price=price,
            )
            for meal, (start, end, cutoff, cancel, price) in DEFAULT_PERIODS.items()
        )
        changes["meal_periods"] = list(DEFAULT_PERIODS)
    record("canteen.save_canteen", actor=actor, obj=canteen, changes=changes)
    return canteen


@audited("canteen.save_meal_period")
def save_meal_period(
    *,
    actor: Any,
    canteen_id: int,
    meal: str,
    serve_start: time,
    serve_end: time,
    reserve_cutoff_minutes: int,
    cancel_cutoff_minutes: int,
    eat_in_price: Decimal,
) -> MealPeriod:
    """When a meal is served and its deadlines (minutes before serving). Drafts follow
    it when published; published menus keep the instants they were published with."""
    canteen = _managed_canteen(actor, canteen_id, lock=True)
    meal = _meal(meal)
    start, end = _time(serve_start, "serve_start"), _time(serve_end, "serve_end")
    if start >= end:
        raise InvalidInput(_("开餐时间须早于结束时间。"), code="invalid_hours", field="serve_end")
    reserve = _int(reserve_cutoff_minutes, "reserve_cutoff_minutes", 0, MAX_CUTOFF_MINUTES)
    cancel = _int(cancel_cutoff_minutes, "cancel_cutoff_minutes", 0, MAX_CUTOFF_MINUTES)
    if cancel < reserve:
        raise InvalidInput(
            _("取消截止须不晚于报餐截止。"), code="bad_deadlines", field="cancel_cutoff_minutes"
        )
    price = _money(eat_in_price, "eat_in_price")
    period = MealPeriod.objects.filter(canteen=canteen, meal=meal).first()
    before = snapshot(period, PERIOD_FIELDS) if period is not None else {}
    if period is None:
        period = MealPeriod(canteen=canteen, meal=meal)
    period.serve_start, period.serve_end = start, end
    period.reserve_cutoff_minutes, period.cancel_cutoff_minutes = reserve, cancel
    period.eat_in_price = price
    period.save()
    record(
        "canteen.save_meal_period",
        actor=actor,
        obj=period,
        org=canteen.org,
        changes=diff(before, snapshot(period, PERIOD_FIELDS)),
    )
    return period


# --- dishes -----------------------------------------------------------------------------


def _dish_exists(name: str) -> Conflict:
    return Conflict(
        _("本食堂已有名为“%(name)s”的菜品。") % {"name": name}, code="dish_exists", field="name"
    )


@audited("canteen.save_dish")
def save_dish(
    *,
    actor: Any,
    canteen_id: int | None = None,
    dish_id: int | None = None,
    data: Mapping[str, Any],
    photo: UploadedFile | None = None,
    remove_photo: bool = False,
    version: int | None = None,
) -> Dish:
    """Add a dish to a canteen or edit one (keys missing from ``data`` keep their
    value). ``photo`` is checked and re-encoded like room photos (JPEG/PNG/WebP, EXIF
    and any GPS position stripped, a thumbnail made) before anything is written; the
    replaced files are deleted once the change commits."""
    fields = _data(data, DISH_DATA)
    if dish_id is None:
        canteen = _managed_canteen(actor, canteen_id)
        dish = Dish(org=canteen.org, canteen=canteen)
        before: dict[str, Any] = {}
        for key in ("name", "category"):
            if key not in fields:
                raise InvalidInput(_("请填写菜名和类别。"), code="required", field=key)
    else:
        dish = None
        if isinstance(dish_id, int) and not isinstance(dish_id, bool):
            dish = Dish.objects.select_for_update(of=("self",)).filter(pk=dish_id).first()
        if dish is None or (canteen_id is not None and canteen_id != dish.canteen_id):
            raise NotFound(_("菜品不存在或无权访问。"))
        try:
            canteen = _managed_canteen(actor, dish.canteen_id)
        except NotFound:
            raise NotFound(_("菜品不存在或无权访问。")) from None
        dish.canteen = canteen
        _check_version(dish, version)
        before = snapshot(dish, DISH_FIELDS)
        dish.version += 1
    if "name" in fields:
        dish.name = clean_text(fields["name"], "name", _("菜名"), 60)
    if "category" in fields:
        if fields["category"] not in DishCategory.values:
            raise InvalidInput(_("类别无效。"), code="invalid_category", field="category")
        dish.category = fields["category"]
    if "tags" in fields:
        dish.tags = _choices(fields["tags"], DishTag.values, "tags", "invalid_tag")
    if "allergens" in fields:
        dish.allergens = _choices(
            fields["allergens"], Allergen.values, "allergens", "invalid_allergen"
        )
    if "region" in fields:
        dish.region = clean_text(fields["region"], "region", _("地方"), 30, required=False)
    if "price" in fields:
        dish.price = _money(fields["price"], "price")
    if "description" in fields:
        dish.description = clean_text(
            fields["description"], "description", _("介绍"), 300, required=False
        )
    if "is_active" in fields:
        dish.is_active = bool(fields["is_active"])
    if Dish.objects.filter(canteen_id=dish.canteen_id, name=dish.name).exclude(pk=dish.pk).exists():
        raise _dish_exists(dish.name)
    photo_change = photo_files.replace_photo(dish, photo, remove=remove_photo)
    try:
        with transaction.atomic():
            dish.save()
    except IntegrityError as exc:  # the same name added meanwhile
        raise _dish_exists(dish.name) from exc
    changes = diff(before, snapshot(dish, DISH_FIELDS))
    if photo_change:
        changes["photo"] = photo_change
    record("canteen.save_dish", actor=actor, obj=dish, changes=changes)
    return dish


# --- menus ------------------------------------------------------------------------------


def _period(canteen: Canteen, meal: str) -> MealPeriod:
    period = MealPeriod.objects.filter(canteen=canteen, meal=meal).first()
    if period is None:
        raise InvalidInput(_("本食堂未设置该餐次的开餐时间。"), code="no_meal_period", field="meal")
    return period


def _apply_period(menu: Menu, period: MealPeriod) -> None:
    """Serving and deadlines as instants of the menu's day, Asia/Shanghai."""
    start = datetime.combine(menu.day, period.serve_start, SHANGHAI)
    menu.serve_start = start
    menu.serve_end = datetime.combine(menu.day, period.serve_end, SHANGHAI)
    menu.reserve_until = start - timedelta(minutes=period.reserve_cutoff_minutes)
    menu.cancel_until = start - timedelta(minutes=period.cancel_cutoff_minutes)
    menu.eat_in_price = period.eat_in_price


def _clean_items(canteen: Canteen, items: Any, on_menu: set[int]) -> list[dict[str, Any]]:
    """``items`` as ``{dish, portions, per_person_max, price, takeaway}``: dishes of this
    canteen, active unless already on the menu, each once."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise InvalidInput(_("菜品列表格式无效。"), code="invalid_items", field="items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(
            _("一餐最多 %(n)s 个菜品。") % {"n": MAX_ITEMS}, code="too_many_items", field="items"
        )
    ids: list[int] = []
    for i, raw in enumerate(items):
        if not isinstance(raw, Mapping) or any(k not in ITEM_KEYS for k in raw):
            raise InvalidInput(
                _("菜品列表格式无效。"), code="invalid_items", field="items", index=i
            )
        dish_id = raw.get("dish_id")
        if isinstance(dish_id, bool) or not isinstance(dish_id, int):
            raise InvalidInput(_("菜品无效。"), code="invalid_dish", field="items", index=i)
        ids.append(dish_id)
    dishes = {d.pk: d for d in Dish.objects.filter(canteen=canteen, pk__in=ids)}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, (raw, dish_id) in enumerate(zip(items, ids, strict=True)):
        dish = dishes.get(dish_id)
        if dish is None or (not dish.is_active and dish_id not in on_menu):
            raise InvalidInput(_("菜品无效。"), code="invalid_dish", field="items", index=i)
        if dish_id in seen:
            raise InvalidInput(
                _("“%(dish)s”在菜单中重复。") % {"dish": dish.name},
                code="duplicate_dish",
                field="items",
                index=i,
            )
        seen.add(dish_id)
        portions, price = raw.get("portions"), raw.get("price")
        try:
            row = {
                "dish": dish,
                "portions": None
                if portions is None
                else _int(portions, "portions", 1, MAX_PORTIONS, code="bad_portions"),
                "per_person_max": _int(
                    raw.get("per_person_max", 2), "per_person_max", 1, MAX_PER_PERSON
                ),
                "price": dish.price if price is None else _money(price, "price"),
                "takeaway": dish.category == DishCategory.PACKAGE,
            }
        except InvalidInput as exc:  # named as the item's: items[i].portions
            exc.details = {
                **exc.details,
                "field": "items",
                "index": i,
                "item_field": exc.details.get("field"),
            }
            raise
        out.append(row)
    return out


def _item_row(item: MenuItem) -> dict[str, Any]:
    return {
        "dish_id": item.dish_id,
        "portions": item.portions,
        "per_person_max": item.per_person_max,
        "price": str(item.price),
    }


def _has_orders(item: MenuItem, message: str) -> Conflict:
    return Conflict(
        message % {"dish": item.dish.name, "sold": item.sold},
        code="item_has_orders",
        menu_item_id=item.pk,
        sold=item.sold,
    )


def _sync_items(menu: Menu, current: list[MenuItem], wanted: list[dict[str, Any]]) -> None:
    """Make the menu's items ``wanted`` (in that order). An item someone ordered stays,
    with no fewer portions than were sold."""
    by_dish = {item.dish_id: item for item in current}
    keep = {w["dish"].pk for w in wanted}
    gone = [item for item in current if item.dish_id not in keep]
    for item in gone:
        if item.sold > 0:
            raise _has_orders(item, _("“%(dish)s”已预订 %(sold)s 份，不能从菜单中删除。"))
    for item in gone:
        try:
            with transaction.atomic():
                item.delete()
        except ProtectedError as exc:  # lines of cancelled reservations, samples, ratings
            raise _has_orders(item, _("“%(dish)s”已有预订或留样记录，不能从菜单中删除。")) from exc
    for position, w in enumerate(wanted):
        item = by_dish.get(w["dish"].pk)
        if item is None:
            MenuItem.objects.create(
                menu=menu,
                dish=w["dish"],
                price=w["price"],
                portions=w["portions"],
                per_person_max=w["per_person_max"],
                takeaway=w["takeaway"],
                position=position,
            )
            continue
        if w["portions"] is not None and w["portions"] < item.sold:
            raise _has_orders(item, _("“%(dish)s”已预订 %(sold)s 份，限量不能少于已订份数。"))
        item.price, item.portions = w["price"], w["portions"]
        item.per_person_max, item.takeaway, item.position = (
            w["per_person_max"],
            w["takeaway"],
            position,
        )
        item.save(update_fields=["price", "portions", "per_person_max", "takeaway", "position"])


def _put_menu(
    canteen: Canteen,
    day: Any,
    meal: Any,
    items: Any,
    *,
    capacity: int | None,
    note: str,
    version: int | None,
    now: datetime,
) -> tuple[Menu, dict[str, Any]]:
    """Create or replace the (draft, or published and not yet serving) menu of one
    canteen, day and meal. Returns the menu and its audit changes."""
    day = _day(day, "day")
    meal = _meal(meal)
    if day < _today(now):
        raise InvalidInput(_("不能编排过去日期的菜单。"), code="menu_in_past", field="day")
    period = _period(canteen, meal)
    note = clean_text(note, "note", _("备注"), 200, required=False)
    if capacity is not None:
        capacity = _int(capacity, "capacity", 1, MAX_CAPACITY)
    existing_id = (
        Menu.objects.filter(canteen=canteen, day=day, meal=meal)
        .values_list("pk", flat=True)
        .first()
    )
    current: list[MenuItem] = []
    before: dict[str, Any] = {}
    old_items: list[dict[str, Any]] = []
    if existing_id is None:
        menu = Menu(org=canteen.org, canteen=canteen, day=day, meal=meal, status=MenuStatus.DRAFT)
    else:
        current = _lock_items(existing_id)
        menu = Menu.objects.select_for_update(of=("self",)).get(pk=existing_id)
        menu.canteen = canteen
        _check_version(menu, version)
        _require_status(menu, [MenuStatus.DRAFT, MenuStatus.PUBLISHED], _("修改"))
        if menu.status == MenuStatus.PUBLISHED and now >= menu.serve_start:
            raise Conflict(_("该餐已开始供应，菜单不能再修改。"), code="meal_started")
        if capacity is not None and capacity < menu.reserved_count:
            raise Conflict(
                _("报餐上限不能少于已报餐人数（%(n)s）。") % {"n": menu.reserved_count},
                code="capacity_below_reserved",
                field="capacity",
                reserved=menu.reserved_count,
            )
        before = snapshot(menu, MENU_FIELDS)
        old_items = [_item_row(i) for i in current]
        menu.version += 1
    wanted = _clean_items(canteen, items, {i.dish_id for i in current})
    if menu.status == MenuStatus.DRAFT:
        _apply_period(menu, period)
    menu.capacity, menu.note = capacity, note
    if existing_id is None:
        try:
            with transaction.atomic():
                menu.save()
        except IntegrityError as exc:  # the same meal created meanwhile
            raise Conflict(_("该餐次的菜单已存在，请刷新后重试。"), code="menu_exists") from exc
    else:
        menu.save()
    _sync_items(menu, current, wanted)
    changes = diff(before, snapshot(menu, MENU_FIELDS))
    new_items = [_item_row(i) for i in menu.items.order_by("position", "pk")]
    if new_items != old_items:
        changes["items"] = [old_items, new_items]
    return menu, changes


@audited("canteen.save_menu")
def save_menu(
    *,
    actor: Any,
    canteen_id: int,
    day: date,
    meal: str,
    items: Sequence[Mapping[str, Any]],
    capacity: int | None = None,
    note: str = "",
    version: int | None = None,
    now: datetime | None = None,
) -> Menu:
    """Create or replace a draft menu, or change a published one before serving starts
    (an item with orders stays, with at least the portions sold). ``items``:
    ``{"dish_id", "portions": int|None, "per_person_max": 2, "price": dish price}``;
    a take-away package is a dish of category ``package``."""
    now = _now(now)
    canteen = _managed_canteen(actor, canteen_id)
    menu, changes = _put_menu(
        canteen, day, meal, items, capacity=capacity, note=note, version=version, now=now
    )
    record("canteen.save_menu", actor=actor, obj=menu, changes=changes)
    return menu


@audited("canteen.publish_menu")
def publish_menu(
    *,
    actor: Any,
    menu_id: int,
    reserve_until: datetime | None = None,
    cancel_until: datetime | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> Menu:
    """Open a draft for reservations, with the meal period's deadlines unless others are
    given (``cancel_until <= reserve_until <= serve_start``). On a published menu it
    moves the deadlines."""
    now = _now(now)
    menu, items = _managed_menu(actor, menu_id)
    _check_version(menu, version)
    _require_status(menu, [MenuStatus.DRAFT, MenuStatus.PUBLISHED], _("发布"))
    if menu.day < _today(now):
        raise InvalidInput(_("不能发布过去日期的菜单。"), code="menu_in_past", field="day")
    if not items:
        raise InvalidInput(_("菜单中没有菜品，不能发布。"), code="empty_menu", field="items")
    before = snapshot(menu, MENU_FIELDS)
    if menu.status == MenuStatus.DRAFT:
        _apply_period(menu, _period(menu.canteen, menu.meal))
    if reserve_until is not None:
        menu.reserve_until = _aware(reserve_until, "reserve_until")
    if cancel_until is not None:
        menu.cancel_until = _aware(cancel_until, "cancel_until")
    if not menu.cancel_until <= menu.reserve_until <= menu.serve_start:
        raise InvalidInput(
            _("截止时间须满足：取消截止 ≤ 报餐截止 ≤ 开餐时间（%(start)s）。")
            % {"start": f"{_local(menu.serve_start):%Y-%m-%d %H:%M}"},
            code="bad_deadlines",
            field="reserve_until" if menu.reserve_until > menu.serve_start else "cancel_until",
        )
    if menu.status == MenuStatus.DRAFT:
        menu.status = MenuStatus.PUBLISHED
        menu.published_at, menu.published_by = now, actor
    menu.version += 1
    menu.save()
    record(
        "canteen.publish_menu",
        actor=actor,
        obj=menu,
        changes=diff(before, snapshot(menu, MENU_FIELDS)),
    )
    return menu


@audited("canteen.copy_menus")
def copy_menus(
    *,
    actor: Any,
    canteen_id: int,
    from_day: date,
    to_day: date,
    now: datetime | None = None,
) -> list[Menu]:
    """Copy a day's menus to another day as drafts (the weekly routine): dishes,
    portions, limits, prices, capacity and note; retired dishes are left out. A meal
    already published (or closed, cancelled) on ``to_day`` is left as it is; a draft
    there is replaced."""
    now = _now(now)
    canteen = _managed_canteen(actor, canteen_id)
    from_day, to_day = _day(from_day, "from_day"), _day(to_day, "to_day")
    if from_day == to_day:
        raise InvalidInput(_("请选择不同的目标日期。"), code="same_day", field="to_day")
    if to_day < _today(now):
        raise InvalidInput(_("不能编排过去日期的菜单。"), code="menu_in_past", field="to_day")
    sources = sorted(
        Menu.objects.filter(canteen=canteen, day=from_day)
        .exclude(status=MenuStatus.CANCELLED)
        .prefetch_related("items__dish"),
        key=lambda m: MEAL_ORDER[Meal(m.meal)],
    )
    if not sources:
        raise InvalidInput(
            _("所选日期没有可复制的菜单。"), code="nothing_to_copy", field="from_day"
        )
    taken = dict(
        Menu.objects.filter(canteen=canteen, day=to_day)
        .exclude(status=MenuStatus.DRAFT)
        .values_list("meal", "status")
    )
    written: list[Menu] = []
    skipped: list[str] = []
    for source in sources:
        if source.meal in taken:
            skipped.append(source.meal)
            continue
        items = [
            {
                "dish_id": item.dish_id,
                "portions": item.portions,
                "per_person_max": item.per_person_max,
                "price": item.price,
            }
            for item in source.items.all()
            if item.dish.is_active
        ]
        menu, _changes = _put_menu(
            canteen,
            to_day,
            source.meal,
            items,
            capacity=source.capacity,
            note=source.note,
            version=None,
            now=now,
        )
        written.append(menu)
    record(
        "canteen.copy_menus",
        actor=actor,
        obj=canteen,
        changes={
            "from_day": from_day.isoformat(),
            "to_day": to_day.isoformat(),
            "menus": [m.pk for m in written],
            "skipped": skipped,
        },
    )
    return written


# --- cancelling a meal ------------------------------------------------------------------


@audited("canteen.cancel_menu")
def cancel_menu(*, actor: Any, menu_id: int, reason: str, now: datetime | None = None) -> Menu:
    """Call a meal off before serving starts: every reservation not yet served is
    cancelled (its portions and its place given back; amounts stop counting), unused
    vouchers are voided, and the people who reserved or issued them are told why."""
    now = _now(now)
    menu, _items = _managed_menu(actor, menu_id)
    _require_status(menu, [MenuStatus.DRAFT, MenuStatus.PUBLISHED], _("取消"))
    if now >= menu.serve_start:
        raise Conflict(_("该餐已开始供应，不能取消。"), code="meal_started")
    reason = clean_text(reason, "reason", _("取消原因"), 200)
    before = snapshot(menu, MENU_FIELDS)
    # Still to be served only: the counter opens before serve_start, and a meal already
    # handed over stays served (its portions and its place stay taken).
    holding = list(
        Reservation.objects.select_for_update(of=("self",))
        .select_related("person", "person_org")
        .filter(menu=menu, status=ReservationStatus.RESERVED)
        .order_by("pk")
    )
    ids = [r.pk for r in holding]
    given_back = dict(
        ReservationLine.objects.filter(reservation_id__in=ids)
        .values("menu_item_id")
        .annotate(q=Sum("quantity"))
        .values_list("menu_item_id", "q")
    )
    for item_id in sorted(given_back):
        MenuItem.objects.filter(pk=item_id).update(
            sold=Greatest(F("sold") - given_back[item_id], Value(0))
        )
    if ids:
        Reservation.objects.filter(pk__in=ids).update(
            status=ReservationStatus.CANCELLED, cancelled_at=now, updated_at=now
        )
    unused = list(
        Voucher.objects.select_for_update(of=("self",))
        .filter(menu=menu, status=VoucherStatus.ISSUED)
        .order_by("pk")
        .values_list("pk", "batch_id")
    )
    if unused:
        Voucher.objects.filter(pk__in=[pk for pk, _b in unused]).update(status=VoucherStatus.VOID)
    menu.reserved_count = max(menu.reserved_count - len(ids) - len(unused), 0)
    menu.status = MenuStatus.CANCELLED
    menu.version += 1
    menu.save()
    changes = diff(before, snapshot(menu, MENU_FIELDS))
    changes.update(
        reservations_cancelled=len(ids),
        vouchers_voided=len(unused),
        portions_given_back={str(k): v for k, v in sorted(given_back.items())},
    )
    record("canteen.cancel_menu", actor=actor, obj=menu, changes=changes, reason=reason)
    _tell_cancelled(menu, actor, holding, sorted({b for _pk, b in unused}), reason)
    return menu


def _tell_cancelled(
    menu: Menu,
    actor: Any,
    holding: Sequence[Reservation],
    batch_ids: Sequence[int],
    reason: str,
) -> None:
    """One notice per person who reserved or issued vouchers, filed under their unit
    (the person's org, the batch's charged unit) so it reaches them; never the actor."""
    by_org: dict[int, tuple[Organization, dict[int, Any]]] = {}

    def add(org: Organization, user: Any) -> None:
        if user is None or user.pk == getattr(actor, "pk", None):
            return
        by_org.setdefault(org.pk, (org, {}))[1][user.pk] = user

    for r in holding:
        add(r.person_org, r.person)
    for batch in VoucherBatch.objects.select_related("issuer", "unit").filter(pk__in=batch_ids):
        add(batch.unit, batch.issuer)
    if not by_org:
        return
    start = _local(menu.serve_start)
    title = _("%(canteen)s %(day)s %(meal)s已取消") % {
        "canteen": menu.canteen.name,
        "day": f"{start:%Y-%m-%d}",
        "meal": _meal_label(menu),
    }
    body = _("原因：%(reason)s。已报餐和未使用的餐券一并取消。") % {"reason": reason}
    for org_id in sorted(by_org):
        org, users = by_org[org_id]
        emit(
            events.MENU_CANCELLED,
            org=org,
            actor=actor if getattr(actor, "pk", None) else None,
            recipients=list(users.values()),
            title=title,
            body=body,
            link=f"/canteen/menus/{menu.pk}/",
            object=menu,
            dedupe_key=f"canteen:menu:{menu.pk}:cancelled:{org_id}",
            payload={
                "menu_id": menu.pk,
                "canteen_id": menu.canteen_id,
                "day": menu.day.isoformat(),
                "meal": menu.meal,
                "reason": reason,
            },
        )


# --- ratings ----------------------------------------------------------------------------


def _was_handed(reservation: Reservation, item: MenuItem) -> bool:
    """Whether the reservation's meal included the item: a take-away got the packages
    it ordered; an eat-in diner every dish served in the hall and what they pre-ordered."""
    ordered = reservation.lines.filter(menu_item=item).exists()
    if reservation.kind == ReservationKind.TAKEAWAY:
        return ordered
    return ordered or not item.takeaway


@audited("canteen.rate_dish")
def rate_dish(
    *,
    actor: Any,
    menu_item_id: int,
    stars: int,
    comment: str = "",
    now: datetime | None = None,
) -> DishRating:
    """A diner's stars (1–5) and comment on a dish they were served, once, from the
    meal's start until a week after."""
    now = _now(now)
    item = None
    if isinstance(menu_item_id, int) and not isinstance(menu_item_id, bool):
        item = (
            MenuItem.objects.select_related("menu", "menu__canteen", "dish")
            .filter(pk=menu_item_id)
            .first()
        )
    if item is None or not (
        Canteen.objects.filter(queries.canteen_visibility(actor))
        .filter(pk=item.menu.canteen_id)
        .exists()
    ):
        raise NotFound(_("菜品不存在或无权访问。"))
    menu = item.menu
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InvalidInput(_("评分须为 1 到 5 星。"), code="bad_stars", field="stars")
    comment = clean_text(comment, "comment", _("评价"), 300, required=False)
    served = (
        Reservation.objects.filter(
            menu=menu, person_id=getattr(actor, "pk", None), status=ReservationStatus.SERVED
        )
        .order_by("pk")
        .first()
    )
    if served is None or not _was_handed(served, item):
        raise Conflict(_("只有已取餐的就餐人员可以评价该菜品。"), code="not_served")
    if not menu.serve_start <= now <= menu.serve_start + RATING_WINDOW:
        raise Conflict(
            _("评价时间为开餐起 7 天内。"),
            code="rating_closed",
            opens_at=_local(menu.serve_start).isoformat(),
            closes_at=_local(menu.serve_start + RATING_WINDOW).isoformat(),
        )
    if DishRating.objects.filter(menu_item=item, person_id=actor.pk).exists():
        raise Conflict(_("您已评价过该菜品。"), code="already_rated")
    try:
        with transaction.atomic():
            rating = DishRating.objects.create(
                org_id=menu.org_id,
                canteen_id=menu.canteen_id,
                menu_item=item,
                dish=item.dish,
                day=menu.day,
                person=actor,
                stars=stars,
                comment=comment,
            )
    except IntegrityError as exc:  # a second tap at the same moment
        raise Conflict(_("您已评价过该菜品。"), code="already_rated") from exc
    record(
        "canteen.rate_dish",
        actor=actor,
        obj=rating,
        changes={"menu_item_id": item.pk, "dish_id": item.dish_id, "stars": stars},
    )
    return rating
