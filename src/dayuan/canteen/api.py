"""Canteen API (智慧食堂) under ``/api/v1/canteen``: canteens, dishes, menus, reservations
(报餐), vouchers, the hand-over counter, closing a meal, ratings, the food-safety logs,
waste, the kitchen's counts with the forecast, the dashboard and the export.

Reads go through ``queries`` (an invisible canteen, menu, reservation or log is a 404,
never a 403); writes through the services (``services``, ``reservations``, ``safety``,
``waste``). ``Idempotency-Key`` on POSTs is handled by the middleware; reserving and
issuing vouchers are also idempotent by their ``client_key``. The pickup code of a
reservation is shown to its person only (whoever holds it collects the meal).

No ``from __future__ import annotations`` here: paginated endpoints' query parameters
(dates, literals) are resolved by Ninja outside this module's namespace.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.files import private_file

from . import export, queries, reservations, safety, services, waste
from .choices import (
    Allergen,
    DishCategory,
    DishTag,
    DisinfectionMethod,
    Meal,
    ReservationKind,
    VoucherPurpose,
    WasteKind,
)
from .models import (
    Canteen,
    ColdUnit,
    Dish,
    FoodSample,
    Menu,
    MenuItem,
    Reservation,
    VoucherBatch,
)
from .qr import pickup_payload, pickup_svg

router = Router(tags=["canteen"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_MENU_DAYS = 31  # a menu list covers at most a month
DEFAULT_PERIOD_DAYS = 30
MAX_NO_SHOW_PEOPLE = 1000


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


def _labels(choices: Any, values: list[str] | None) -> list[str]:
    labels = dict(choices.choices)
    return [str(labels.get(v, v)) for v in values or ()]


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    """The last 30 days by default; ``queries`` refuses a bad range (``bad_range``)."""
    end = end or timezone.localdate()
    return start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end


# --- schemas: canteens and dishes -------------------------------------------------------


class MealPeriodOut(Schema):
    meal: str
    meal_label: str
    serve_start: time
    serve_end: time
    reserve_cutoff_minutes: int
    cancel_cutoff_minutes: int
    eat_in_price: Decimal

    @staticmethod
    def resolve_meal_label(obj: Any) -> str:
        return str(obj.get_meal_display())


class CanteenOut(Schema):
    id: int
    org_id: int
    org_name: str
    operator_id: int | None
    operator_name: str | None
    location_id: int
    location_name: str
    kitchen_id: int | None
    kitchen_name: str | None
    name: str
    seats: int
    takeaway_slot_minutes: int
    voucher_batch_max: int
    no_show_grace_minutes: int
    is_active: bool
    version: int

    @staticmethod
    def resolve_org_name(obj: Canteen) -> str:
        return obj.org.name

    @staticmethod
    def resolve_operator_name(obj: Canteen) -> str | None:
        return obj.operator.name if obj.operator_id else None

    @staticmethod
    def resolve_location_name(obj: Canteen) -> str:
        return obj.location.name

    @staticmethod
    def resolve_kitchen_name(obj: Canteen) -> str | None:
        return obj.kitchen.name if obj.kitchen_id else None


class CanteenDetailOut(CanteenOut):
    meal_periods: list[MealPeriodOut]
    actions: list[str] = Field(description="当前用户可做的事：reserve / operate / manage / oversee")

    @staticmethod
    def resolve_meal_periods(obj: Any) -> list[Any]:
        return obj.periods_list

    @staticmethod
    def resolve_actions(obj: Any) -> list[str]:
        return obj.actions_list


class CanteenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    operator_id: int | None = None
    kitchen_id: int | None = None
    seats: int = Field(200, ge=0, le=100000)
    takeaway_slot_minutes: int = 15
    voucher_batch_max: int = 50
    no_show_grace_minutes: int = 30
    is_active: bool = True


class CanteenCreateIn(CanteenIn):
    org_id: int
    location_id: int


class CanteenUpdateIn(CanteenIn):
    version: int


class MealPeriodIn(Schema):
    serve_start: time
    serve_end: time
    reserve_cutoff_minutes: int = Field(..., ge=0, le=7 * 24 * 60)
    cancel_cutoff_minutes: int = Field(..., ge=0, le=7 * 24 * 60)
    eat_in_price: Decimal = Field(..., ge=0, max_digits=7, decimal_places=2)


class DishOut(Schema):
    id: int
    canteen_id: int
    name: str
    category: str
    category_label: str
    tags: list[str]
    tag_labels: list[str]
    allergens: list[str]
    allergen_labels: list[str]
    region: str
    price: Decimal
    description: str
    photo_url: str | None
    thumb_url: str | None
    is_active: bool
    rating_avg: float | None = Field(None, description="平均评分（详情中提供）")
    rating_count: int | None = None
    version: int

    @staticmethod
    def resolve_rating_avg(obj: Dish) -> float | None:
        return getattr(obj, "rating_avg", None)

    @staticmethod
    def resolve_rating_count(obj: Dish) -> int | None:
        return getattr(obj, "rating_count", None)

    @staticmethod
    def resolve_category_label(obj: Dish) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_tag_labels(obj: Dish) -> list[str]:
        return _labels(DishTag, obj.tags)

    @staticmethod
    def resolve_allergen_labels(obj: Dish) -> list[str]:
        return _labels(Allergen, obj.allergens)

    @staticmethod
    def resolve_photo_url(obj: Dish) -> str | None:
        return f"/api/v1/canteen/dishes/{obj.pk}/photo" if obj.photo else None

    @staticmethod
    def resolve_thumb_url(obj: Dish) -> str | None:
        return f"/api/v1/canteen/dishes/{obj.pk}/photo?thumb=1" if obj.photo else None


class DishIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    category: DishCategory
    tags: list[DishTag] = Field(default_factory=list)
    allergens: list[Allergen] = Field(default_factory=list)
    region: str = Field("", max_length=30)
    price: Decimal = Field(Decimal("0"), max_digits=7, decimal_places=2)
    description: str = Field("", max_length=300)
    is_active: bool = True

    def data(self, *, partial: bool = False) -> dict[str, Any]:
        """The service's ``data``; ``partial``: only the fields sent (an update keeps
        the others)."""
        data = self.dict(exclude_unset=partial)
        data["category"] = self.category.value
        if "tags" in data:
            data["tags"] = sorted({t.value for t in self.tags})
        if "allergens" in data:
            data["allergens"] = sorted({a.value for a in self.allergens})
        return data


class DishUpdateIn(DishIn):
    version: int


class RankedDishOut(Schema):
    dish_id: int
    name: str
    canteen_id: int
    canteen_name: str
    ratings: int
    average: float


class RankingOut(Schema):
    week_start: date
    week_end: date
    min_ratings: int = Field(description="进入排行所需的本周最少评价数")
    best: list[RankedDishOut]
    worst: list[RankedDishOut]


# --- schemas: menus ---------------------------------------------------------------------


class MenuItemOut(Schema):
    id: int
    dish: DishOut
    price: Decimal
    portions: int | None = Field(description="限量份数；null 为不限量")
    sold: int
    remaining: int | None
    per_person_max: int
    takeaway: bool
    position: int
    rating_avg: float | None
    rating_count: int

    @staticmethod
    def resolve_rating_avg(obj: MenuItem) -> float | None:
        return getattr(obj, "rating_avg", None)

    @staticmethod
    def resolve_rating_count(obj: MenuItem) -> int:
        return getattr(obj, "rating_count", 0)


class MenuOut(Schema):
    id: int
    org_id: int
    canteen_id: int
    canteen_name: str
    day: date
    meal: str
    meal_label: str
    status: str
    status_label: str
    serve_start: datetime
    serve_end: datetime
    reserve_until: datetime
    cancel_until: datetime
    eat_in_price: Decimal
    capacity: int | None
    reserved_count: int
    walk_ins: int
    diners: int | None
    note: str
    published_at: datetime | None
    closed_at: datetime | None
    open: bool = Field(description="已发布且未过报餐截止时间")
    my_reservation_id: int | None = Field(description="当前用户在本餐次的报餐")
    items: list[MenuItemOut]
    version: int

    @staticmethod
    def resolve_my_reservation_id(obj: Menu) -> int | None:
        mine = getattr(obj, "my_reservation", None)
        return mine.pk if mine is not None else None

    @staticmethod
    def resolve_canteen_name(obj: Menu) -> str:
        return obj.canteen.name

    @staticmethod
    def resolve_meal_label(obj: Menu) -> str:
        return str(obj.get_meal_display())

    @staticmethod
    def resolve_status_label(obj: Menu) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_open(obj: Menu) -> bool:
        return obj.status == "published" and timezone.now() < obj.reserve_until

    @staticmethod
    def resolve_items(obj: Menu) -> list[Any]:
        return list(obj.items.all())


class MenuItemIn(Schema):
    dish_id: int
    portions: int | None = Field(None, ge=0, le=100000)
    per_person_max: int = Field(2, ge=1, le=20)
    price: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=2)


class MenuFieldsIn(Schema):
    items: list[MenuItemIn] = Field(default_factory=list, max_length=100)
    capacity: int | None = Field(None, ge=1, le=100000)
    note: str = Field("", max_length=200)

    def fields(self) -> dict[str, Any]:
        return {
            "items": [i.dict() for i in self.items],
            "capacity": self.capacity,
            "note": self.note,
        }


class MenuIn(MenuFieldsIn):
    canteen_id: int
    day: date
    meal: Meal


class MenuUpdateIn(MenuFieldsIn):
    items: list[MenuItemIn] = Field(..., max_length=100, description="整单替换")
    version: int


class PublishIn(Schema):
    reserve_until: datetime | None = Field(None, description="默认按餐次设置")
    cancel_until: datetime | None = None
    version: int | None = None


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


class CloseIn(Schema):
    walk_ins: int = Field(0, ge=0, le=100000)


class CopyIn(Schema):
    canteen_id: int
    from_day: date
    to_day: date


# --- schemas: reservations, vouchers, hand-over, ratings --------------------------------


class LineOut(Schema):
    menu_item_id: int
    dish_id: int
    dish_name: str
    quantity: int
    price: Decimal
    takeaway: bool

    @staticmethod
    def resolve_dish_id(obj: Any) -> int:
        return obj.menu_item.dish_id

    @staticmethod
    def resolve_dish_name(obj: Any) -> str:
        return obj.menu_item.dish.name

    @staticmethod
    def resolve_takeaway(obj: Any) -> bool:
        return obj.menu_item.takeaway


class ReservationOut(Schema):
    id: int
    number: str
    canteen_id: int
    canteen_name: str
    menu_id: int
    day: date
    meal: str
    meal_label: str
    person_id: int
    person_name: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    pickup_at: datetime | None
    amount: Decimal
    served_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    lines: list[LineOut]

    @staticmethod
    def resolve_canteen_name(obj: Reservation) -> str:
        return obj.canteen.name

    @staticmethod
    def resolve_day(obj: Reservation) -> date:
        return obj.menu.day

    @staticmethod
    def resolve_meal(obj: Reservation) -> str:
        return obj.menu.meal

    @staticmethod
    def resolve_meal_label(obj: Reservation) -> str:
        return str(obj.menu.get_meal_display())

    @staticmethod
    def resolve_person_name(obj: Reservation) -> str:
        return _name(obj.person) or ""

    @staticmethod
    def resolve_kind_label(obj: Reservation) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Reservation) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_lines(obj: Reservation) -> list[Any]:
        return list(obj.lines.all())


class ReservationDetailOut(ReservationOut):
    pickup_code: str | None = Field(description="取餐码；仅本人可见")
    qr_payload: str | None = Field(description="二维码内容 DYC:<menu_id>:<code>；仅本人可见")
    qr_url: str | None
    cancel_until: datetime
    cancellable: bool

    @staticmethod
    def resolve_pickup_code(obj: Any) -> str | None:
        return obj.pickup_code if obj.mine else None

    @staticmethod
    def resolve_qr_payload(obj: Any) -> str | None:
        return pickup_payload(obj) if obj.mine else None

    @staticmethod
    def resolve_qr_url(obj: Any) -> str | None:
        return f"/api/v1/canteen/reservations/{obj.pk}/qr.svg" if obj.mine else None

    @staticmethod
    def resolve_cancel_until(obj: Reservation) -> datetime:
        return obj.menu.cancel_until

    @staticmethod
    def resolve_cancellable(obj: Any) -> bool:
        return bool(
            obj.mine and obj.status == "reserved" and timezone.now() < obj.menu.cancel_until
        )


class ReservationItemIn(Schema):
    menu_item_id: int
    quantity: int = Field(1, ge=1, le=100)


class ReservationIn(Schema):
    menu_id: int
    kind: ReservationKind = ReservationKind.EAT_IN
    items: list[ReservationItemIn] = Field(default_factory=list, max_length=50)
    pickup_at: datetime | None = Field(None, description="外带取餐时段开始时间")
    client_key: str | None = Field(
        None, min_length=8, max_length=64, description="表单打开时生成；重复提交返回同一报餐"
    )


class VoucherOut(Schema):
    code: str
    status: str
    status_label: str
    redeemed_at: datetime | None

    @staticmethod
    def resolve_status_label(obj: Any) -> str:
        return str(obj.get_status_display())


class VoucherBatchOut(Schema):
    id: int
    number: str
    canteen_id: int
    canteen_name: str
    menu_id: int
    day: date
    meal: str
    meal_label: str
    issuer_id: int
    issuer_name: str
    unit_id: int
    unit_name: str
    purpose: str
    purpose_label: str
    guest: str
    count: int
    issued: int = Field(description="未使用")
    redeemed: int
    voided: int
    booking_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_canteen_name(obj: VoucherBatch) -> str:
        return obj.canteen.name

    @staticmethod
    def resolve_day(obj: VoucherBatch) -> date:
        return obj.menu.day

    @staticmethod
    def resolve_meal(obj: VoucherBatch) -> str:
        return obj.menu.meal

    @staticmethod
    def resolve_meal_label(obj: VoucherBatch) -> str:
        return str(obj.menu.get_meal_display())

    @staticmethod
    def resolve_issuer_name(obj: VoucherBatch) -> str:
        return _name(obj.issuer) or ""

    @staticmethod
    def resolve_unit_name(obj: VoucherBatch) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_purpose_label(obj: VoucherBatch) -> str:
        return str(obj.get_purpose_display())


class VoucherBatchDetailOut(VoucherBatchOut):
    vouchers: list[VoucherOut] = Field(description="券码；发放人和食堂管理员可见")

    @staticmethod
    def resolve_vouchers(obj: Any) -> list[Any]:
        return list(obj.vouchers.all()) if obj.shows_codes else []


class VoucherIn(Schema):
    menu_id: int
    count: int = Field(..., ge=1, le=1000)
    purpose: VoucherPurpose
    guest: str = Field(..., min_length=1, max_length=100)
    unit_id: int | None = Field(None, description="结算单位；默认本人所在单位")
    booking_id: int | None = Field(None, description="关联会议室预订")
    client_key: str | None = Field(None, min_length=8, max_length=64)


class HandOverIn(Schema):
    code: str = Field(
        ..., min_length=1, max_length=64, description="6 位取餐码、8 位券码或二维码内容"
    )


class HandOverLineOut(Schema):
    dish_name: str
    quantity: int
    takeaway: bool


class HandOverOut(Schema):
    kind: str = Field(description="reservation 或 voucher")
    menu_id: int
    day: date
    meal: str
    meal_label: str
    takeaway: bool
    reservation: ReservationOut | None
    voucher_code: str | None
    guest: str | None
    lines: list[HandOverLineOut] = Field(description="报餐预订的菜品；餐券为一份标准餐")


class RatingIn(Schema):
    menu_item_id: int
    stars: int
    comment: str = Field("", max_length=300)


class RatingOut(Schema):
    """Stars and comment; the rater's name to the canteen's managers and overseers."""

    id: int
    canteen_id: int
    menu_item_id: int
    dish_id: int
    dish_name: str
    day: date
    stars: int
    comment: str
    person_name: str | None = Field(description="评价人；仅食堂管理和监管人员可见")
    created_at: datetime

    @staticmethod
    def resolve_dish_name(obj: Any) -> str:
        return obj.dish.name

    @staticmethod
    def resolve_person_name(obj: Any, context: Any) -> str | None:
        request = context["request"]
        orgs = getattr(request, "_canteen_rater_orgs", None)
        if orgs is None:  # once per request: the orgs whose raters the caller may see
            user = request.auth
            orgs = set(queries.managed_org_ids(user)) | set(queries.overseen_org_ids(user))
            request._canteen_rater_orgs = orgs
        return _name(obj.person) if obj.org_id in orgs else None


# --- schemas: food safety and waste -----------------------------------------------------


class LogOut(Schema):
    id: int
    canteen_id: int
    recorded_at: datetime
    recorded_by_id: int
    recorded_by_name: str
    passed: bool
    finding_id: int | None

    @staticmethod
    def resolve_recorded_by_name(obj: Any) -> str:
        return _name(obj.recorded_by) or ""


class SampleOut(LogOut):
    menu_id: int
    menu_item_id: int
    dish_id: int
    dish_name: str
    weight_g: Decimal
    keep_until: datetime
    fridge_id: int
    fridge_name: str
    sealed: bool
    removed_at: datetime | None

    @staticmethod
    def resolve_dish_name(obj: FoodSample) -> str:
        return obj.dish.name

    @staticmethod
    def resolve_fridge_name(obj: FoodSample) -> str:
        return obj.fridge.name


class SampleIn(Schema):
    menu_item_id: int
    weight_g: Decimal = Field(..., ge=0, max_digits=6, decimal_places=1)
    fridge_id: int
    sampled_at: datetime | None = None
    sealed: bool = True
    keep_hours: int | None = Field(None, ge=1, le=24 * 30)


class ColdUnitOut(Schema):
    id: int
    canteen_id: int
    name: str
    kind: str
    kind_label: str
    is_active: bool

    @staticmethod
    def resolve_kind_label(obj: ColdUnit) -> str:
        return str(obj.get_kind_display())


class TemperatureOut(LogOut):
    unit_id: int
    unit_name: str
    unit_kind: str
    temp_c: Decimal

    @staticmethod
    def resolve_unit_name(obj: Any) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_unit_kind(obj: Any) -> str:
        return obj.unit.kind


class TemperatureIn(Schema):
    unit_id: int
    temp_c: Decimal = Field(..., ge=-60, le=100, max_digits=5, decimal_places=1)
    recorded_at: datetime | None = None


class DisinfectionOut(LogOut):
    method: str
    method_label: str
    items: str
    temp_c: Decimal | None
    minutes: Decimal | None
    rinse_temp_c: Decimal | None
    rinse_seconds: int | None
    chlorine_mg_l: int | None
    fully_immersed: bool | None

    @staticmethod
    def resolve_method_label(obj: Any) -> str:
        return str(obj.get_method_display())


class DisinfectionIn(Schema):
    method: DisinfectionMethod
    items: str = Field(..., min_length=1, max_length=100)
    temp_c: Decimal | None = Field(None, ge=-60, le=300, max_digits=5, decimal_places=1)
    minutes: Decimal | None = Field(None, ge=0, le=1000, max_digits=5, decimal_places=1)
    rinse_temp_c: Decimal | None = Field(None, ge=-60, le=300, max_digits=5, decimal_places=1)
    rinse_seconds: int | None = Field(None, ge=0, le=100000)
    chlorine_mg_l: int | None = Field(None, ge=0, le=100000)
    fully_immersed: bool | None = None
    recorded_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        data = self.dict()
        data["method"] = self.method.value
        return data


class ReceivingOut(LogOut):
    supplier: str
    supplier_licence: str
    item: str
    spec: str
    quantity: Decimal
    unit: str
    batch_no: str
    production_date: date | None
    best_before: date | None
    certificate_no: str
    accepted: bool
    reject_reason: str


class ReceivingIn(Schema):
    supplier: str = Field(..., min_length=1, max_length=100)
    supplier_licence: str = Field("", max_length=60)
    item: str = Field(..., min_length=1, max_length=60)
    spec: str = Field("", max_length=60)
    quantity: Decimal = Field(..., ge=0, max_digits=9, decimal_places=2)
    unit: str = Field("kg", min_length=1, max_length=10)
    batch_no: str = Field("", max_length=60)
    production_date: date | None = None
    best_before: date | None = None
    certificate_no: str = Field("", max_length=60)
    accepted: bool = True
    reject_reason: str = Field("", max_length=200)
    recorded_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        return self.dict(exclude={"recorded_at"})


class HandlerOut(Schema):
    id: int
    canteen_id: int
    user_id: int | None
    name: str
    post: str
    handles_ready_to_eat: bool
    certificate_no: str
    issued_on: date
    expires_on: date
    is_active: bool
    version: int


class HandlerIn(Schema):
    name: str = Field(..., min_length=1, max_length=40)
    post: str = Field("", max_length=40)
    user_id: int | None = None
    handles_ready_to_eat: bool = True
    certificate_no: str = Field(..., min_length=1, max_length=40)
    issued_on: date
    expires_on: date
    is_active: bool = True


class HandlerUpdateIn(HandlerIn):
    version: int


class HealthCheckOut(LogOut):
    handler_id: int
    handler_name: str
    day: date
    healthy: bool
    symptoms: str

    @staticmethod
    def resolve_handler_name(obj: Any) -> str:
        return obj.handler.name


class HealthCheckIn(Schema):
    handler_id: int
    healthy: bool = True
    symptoms: str = Field("", max_length=100)
    day: date | None = None


class WasteOut(LogOut):
    day: date
    meal: str
    kind: str
    kind_label: str
    weight_kg: Decimal

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return str(obj.get_kind_display())


class WasteIn(Schema):
    day: date
    kind: WasteKind
    weight_kg: Decimal = Field(..., max_digits=7, decimal_places=2)
    meal: Meal | None = None
    recorded_at: datetime | None = None


class WasteDayOut(LogOut):
    day: date
    diners: int
    kitchen_waste_kg: Decimal
    unsold_discarded_kg: Decimal
    tray_waste_kg: Decimal
    trimmings_reused_kg: Decimal
    tray_waste_per_diner_g: Decimal


class WasteDayIn(Schema):
    day: date


# --- schemas: the kitchen ---------------------------------------------------------------


class DishCountOut(Schema):
    menu_item_id: int
    dish_id: int
    name: str
    category: str
    takeaway: bool
    portions: int | None
    sold: int
    remaining: int | None


class SlotCountOut(Schema):
    at: datetime = Field(description="外带取餐时段开始")
    count: int


class ForecastOut(Schema):
    predicted: int = Field(description="预计就餐人数")
    reserved: int = Field(description="目前已报餐（含餐券）")
    expected_reserved: float
    show_ratio: float | None
    walk_ins: float | None
    pace: float | None
    method: str = Field(description="ratio / weekday_mean / no_history")
    basis_days: int
    workday: bool


class BacktestDayOut(Schema):
    day: date
    actual: int
    predicted: int
    baseline: int | None


class BacktestOut(Schema):
    start: date
    end: date
    n: int = Field(description="回测天数（留出日）")
    mae: float | None
    mape: float | None = Field(description="平均绝对百分比误差（%）")
    baseline_n: int
    baseline_mae: float | None = Field(description="基准（上周同餐次）的 MAE")
    baseline_mape: float | None
    days: list[BacktestDayOut]


class KitchenMealOut(Schema):
    meal: str
    meal_label: str
    menu_id: int | None
    status: str | None
    capacity: int | None
    eat_in: int
    takeaway: int
    takeaway_slots: list[SlotCountOut]
    vouchers: int
    redeemed: int
    served: int
    no_shows: int
    cancelled: int
    walk_ins: int
    diners: int | None
    expected: int = Field(description="堂食 + 外带 + 餐券：已知人数")
    dishes: list[DishCountOut]
    forecast: ForecastOut | None
    backtest: BacktestOut | None

    @staticmethod
    def resolve_meal_label(obj: Any) -> str:
        return str(obj.label)

    @staticmethod
    def resolve_menu_id(obj: Any) -> int | None:
        return obj.menu.pk if obj.menu is not None else None


class KitchenOut(Schema):
    canteen_id: int
    day: date
    meals: list[KitchenMealOut]


# --- helpers ----------------------------------------------------------------------------


def _canteen_detail(user: Any, canteen_id: int) -> Canteen:
    """The canteen with its meal periods and what ``user`` may do there (the app shows
    the kitchen's and the manager's entries from ``actions``)."""
    c = queries.canteen(user, canteen_id)
    c.periods_list = list(c.meal_periods.all())
    actions = []
    if c.is_active and c.org_id in queries.diner_org_ids(user):
        actions.append("reserve")
    if queries.may_operate(user, c):
        actions.append("operate")
    if queries.may_manage(user, c):
        actions.append("manage")
    if queries.may_oversee(user, c):
        actions.append("oversee")
    c.actions_list = actions
    return c


def _reservation_detail(user: Any, pk: int) -> Reservation:
    """The reservation, marked ``mine`` when it is the caller's: only then are the pickup
    code and its QR shown (whoever holds the code collects the meal)."""
    r = queries.reservation(user, pk)
    r.mine = r.person_id == user.pk
    return r


def _batch_detail(user: Any, pk: int) -> VoucherBatch:
    """The batch; its codes are shown to the issuer (who prints them) and the canteen's
    managers, not to every operator or overseer."""
    b = queries.voucher_batch(user, pk)
    b.shows_codes = b.issuer_id == user.pk or queries.may_manage(user, b.canteen)
    return b


def _log_list(segment: str, out: type[Schema]) -> None:
    """``GET /canteens/{id}/<segment>``: one of the canteen's logs by ``start``–``end``,
    paged (``queries.safety_logs`` knows the log as ``segment`` with underscores). The
    view is named ``list_<log>`` before it is routed: the operation id, summary and URL
    name come from that name, as for the other endpoints."""
    kind = segment.replace("-", "_")

    def view(
        request: HttpRequest, canteen_id: int, start: date | None = None, end: date | None = None
    ):
        return queries.safety_logs(request.auth, kind, canteen_id=canteen_id, start=start, end=end)

    view.__name__ = view.__qualname__ = f"list_{kind}"
    router.get(f"/canteens/{{int:canteen_id}}/{segment}", response=list[out])(paginate(Page)(view))


def _versioned(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """An update's fields and, apart, the ``version`` it was read at."""
    version = data.pop("version")
    return data, version


def _record_in(request: HttpRequest, canteen_id: int, record: Any, **fields: Any) -> Status:
    """``record(actor=…, canteen_id=…, **fields)`` once the caller sees the canteen (404
    first, never a 403), answered 201."""
    queries.canteen(request.auth, canteen_id)
    return Status(201, record(actor=request.auth, canteen_id=canteen_id, **fields))


def _canteen_owning(request: HttpRequest, canteen_id: int, related: str, pk: int) -> None:
    """404 unless the caller sees the canteen and ``pk`` is one of its ``related`` (its
    cold units, its food handlers)."""
    c = queries.canteen(request.auth, canteen_id)
    if not getattr(c, related).filter(pk=pk).exists():
        raise NotFound()


def _file(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- canteens ---------------------------------------------------------------------------


@router.get("/canteens", response=list[CanteenOut])
@paginate(Page)
def list_canteens(request: HttpRequest):
    """Canteens the caller eats at, oversees, manages or operates."""
    return queries.visible_canteens(request.auth)


@router.post("/canteens", response={201: CanteenDetailOut, **ERRORS})
def create_canteen(request: HttpRequest, payload: CanteenCreateIn):
    """A new canteen (managers of ``org_id``) with the three default meal periods."""
    data = payload.dict()
    org_id, location_id = data.pop("org_id"), data.pop("location_id")
    c = services.save_canteen(actor=request.auth, org_id=org_id, location_id=location_id, data=data)
    return Status(201, _canteen_detail(request.auth, c.pk))


@router.get("/canteens/{int:canteen_id}", response={200: CanteenDetailOut, 404: ErrorOut})
def get_canteen(request: HttpRequest, canteen_id: int):
    """The canteen, its meal periods and what the caller may do there."""
    return _canteen_detail(request.auth, canteen_id)


@router.put("/canteens/{int:canteen_id}", response={200: CanteenDetailOut, **ERRORS})
def update_canteen(request: HttpRequest, canteen_id: int, payload: CanteenUpdateIn):
    """Change a canteen's settings (managers); fields left out keep their value."""
    queries.canteen(request.auth, canteen_id)
    data, version = _versioned(payload.dict(exclude_unset=True))
    services.save_canteen(actor=request.auth, canteen_id=canteen_id, data=data, version=version)
    return _canteen_detail(request.auth, canteen_id)


@router.put(
    "/canteens/{int:canteen_id}/meal-periods/{meal}", response={200: CanteenDetailOut, **ERRORS}
)
def update_meal_period(request: HttpRequest, canteen_id: int, meal: Meal, payload: MealPeriodIn):
    """Serving hours, deadlines (minutes before serving) and the eat-in price of a meal;
    menus published later take them."""
    queries.canteen(request.auth, canteen_id)
    services.save_meal_period(
        actor=request.auth, canteen_id=canteen_id, meal=meal.value, **payload.dict()
    )
    return _canteen_detail(request.auth, canteen_id)


@router.get("/canteens/{int:canteen_id}/menus", response={200: list[MenuOut], **ERRORS})
def list_menus(
    request: HttpRequest, canteen_id: int, start: date | None = None, end: date | None = None
):
    """The canteen's menus from ``start`` (default today) to ``end`` (default a week),
    with the dishes, the portions left and the caller's reservation; drafts only for
    the canteen's staff."""
    start = start or timezone.localdate()
    end = end or start + timedelta(days=6)
    if (end - start).days >= MAX_MENU_DAYS:
        raise InvalidInput(
            _("菜单查询跨度不能超过 %(days)s 天。") % {"days": MAX_MENU_DAYS},
            code="bad_range",
            field="end",
        )
    return queries.menus(request.auth, canteen_id, start, end)


@router.get("/canteens/{int:canteen_id}/dishes", response=list[DishOut])
@paginate(Page)
def list_dishes(
    request: HttpRequest,
    canteen_id: int,
    category: str | None = None,
    active: bool | None = None,
    q: str | None = None,
):
    """The canteen's dishes by category and name (inactive ones to its staff only)."""
    return queries.dishes(request.auth, canteen_id, category=category, active=active, q=q)


@router.post("/canteens/{int:canteen_id}/dishes", response={201: DishOut, **ERRORS})
def create_dish(request: HttpRequest, canteen_id: int, payload: DishIn):
    """A dish of the canteen (managers); 409 ``dish_exists`` for a name it has."""
    queries.canteen(request.auth, canteen_id)
    d = services.save_dish(actor=request.auth, canteen_id=canteen_id, data=payload.data())
    return Status(201, queries.dish(request.auth, d.pk))


@router.get(
    "/canteens/{int:canteen_id}/cold-units", response={200: list[ColdUnitOut], 404: ErrorOut}
)
def list_cold_units(request: HttpRequest, canteen_id: int):
    """Fridges and freezers whose temperatures are logged, the sample fridge among them."""
    return list(queries.cold_units(request.auth, canteen_id))


# --- dishes -----------------------------------------------------------------------------


@router.get("/dishes/ranking", response=RankingOut)
def dish_ranking(request: HttpRequest, week: date | None = None, canteen_id: int | None = None):
    """The week's best and worst dishes (average stars, at least three ratings that week)
    of the canteens the caller sees; ``week`` is any day of it (default this week)."""
    day = week or timezone.localdate()
    week_start = day - timedelta(days=day.weekday())
    return queries.best_worst_dishes(request.auth, week_start, canteen_id=canteen_id)


@router.get("/dishes/{int:dish_id}", response={200: DishOut, 404: ErrorOut})
def get_dish(request: HttpRequest, dish_id: int):
    """The dish with its average stars."""
    return queries.dish(request.auth, dish_id)


@router.put("/dishes/{int:dish_id}", response={200: DishOut, **ERRORS})
def update_dish(request: HttpRequest, dish_id: int, payload: DishUpdateIn):
    """Change a dish (managers); fields left out keep their value."""
    queries.dish(request.auth, dish_id)
    data, version = _versioned(payload.data(partial=True))
    services.save_dish(actor=request.auth, dish_id=dish_id, data=data, version=version)
    return queries.dish(request.auth, dish_id)


@router.get("/dishes/{int:dish_id}/photo", response={200: None, 404: ErrorOut})
def dish_photo(request: HttpRequest, dish_id: int, thumb: bool = False):
    """The dish's photo (``?thumb=1`` for the thumbnail)."""
    d = queries.dish_with_photo(request.auth, dish_id)
    return private_file(d.photo_thumb if thumb and d.photo_thumb else d.photo)


@router.post("/dishes/{int:dish_id}/photo", response={200: DishOut, **ERRORS})
def upload_dish_photo(request: HttpRequest, dish_id: int, photo: File[UploadedFile]):
    """Replace the dish's photo (multipart/form-data; JPEG, PNG or WebP, re-encoded with
    EXIF and GPS stripped, a thumbnail made); managers."""
    queries.dish(request.auth, dish_id)
    services.save_dish(actor=request.auth, dish_id=dish_id, data={}, photo=photo)
    return queries.dish(request.auth, dish_id)


@router.delete("/dishes/{int:dish_id}/photo", response={200: DishOut, **ERRORS})
def remove_dish_photo(request: HttpRequest, dish_id: int):
    queries.dish(request.auth, dish_id)
    services.save_dish(actor=request.auth, dish_id=dish_id, data={}, remove_photo=True)
    return queries.dish(request.auth, dish_id)


@router.get("/dishes/{int:dish_id}/ratings", response=list[RatingOut])
@paginate(Page)
def list_dish_ratings(request: HttpRequest, dish_id: int):
    """Stars and comments on a dish, the latest first, without names."""
    queries.dish(request.auth, dish_id)
    return queries.ratings(request.auth, dish_id=dish_id)


# --- menus ------------------------------------------------------------------------------


@router.post("/menus", response={201: MenuOut, **ERRORS})
def create_menu(request: HttpRequest, payload: MenuIn):
    """A draft menu for a day and meal (or the draft there replaced); managers."""
    queries.canteen(request.auth, payload.canteen_id)
    m = services.save_menu(
        actor=request.auth,
        canteen_id=payload.canteen_id,
        day=payload.day,
        meal=payload.meal.value,
        **payload.fields(),
    )
    return Status(201, queries.menu(request.auth, m.pk))


@router.post("/menus/copy", response={201: list[MenuOut], **ERRORS})
def copy_menus(request: HttpRequest, payload: CopyIn):
    """Copy one day's menus to another day as drafts (the weekly routine)."""
    queries.canteen(request.auth, payload.canteen_id)
    copied = services.copy_menus(actor=request.auth, **payload.dict())
    return Status(201, [queries.menu(request.auth, m.pk) for m in copied])


@router.get("/menus/{int:menu_id}", response={200: MenuOut, 404: ErrorOut})
def get_menu(request: HttpRequest, menu_id: int):
    return queries.menu(request.auth, menu_id)


@router.put("/menus/{int:menu_id}", response={200: MenuOut, **ERRORS})
def update_menu(request: HttpRequest, menu_id: int, payload: MenuUpdateIn):
    """Replace a menu's dishes, cap and note (a draft, or a published menu before
    serving: an item with orders stays, 409 ``item_has_orders``)."""
    m = queries.menu(request.auth, menu_id)
    services.save_menu(
        actor=request.auth,
        canteen_id=m.canteen_id,
        day=m.day,
        meal=m.meal,
        version=payload.version,
        **payload.fields(),
    )
    return queries.menu(request.auth, menu_id)


@router.post("/menus/{int:menu_id}/publish", response={200: MenuOut, **ERRORS})
def publish_menu(request: HttpRequest, menu_id: int, payload: PublishIn):
    """Open for reservations with the meal period's deadlines unless others are given
    (422 ``bad_deadlines``, ``empty_menu``)."""
    queries.menu(request.auth, menu_id)
    services.publish_menu(actor=request.auth, menu_id=menu_id, **payload.dict())
    return queries.menu(request.auth, menu_id)


@router.post("/menus/{int:menu_id}/cancel", response={200: MenuOut, **ERRORS})
def cancel_menu(request: HttpRequest, menu_id: int, payload: ReasonIn):
    """Cancel the meal: every reservation is cancelled, vouchers voided, people told."""
    queries.menu(request.auth, menu_id)
    services.cancel_menu(actor=request.auth, menu_id=menu_id, reason=payload.reason)
    return queries.menu(request.auth, menu_id)


@router.post("/menus/{int:menu_id}/close", response={200: MenuOut, **ERRORS})
def close_meal(request: HttpRequest, menu_id: int, payload: CloseIn):
    """Close the meal (the kitchen): unserved reservations become no-shows; ``walk_ins``
    are those who ate without reserving. Closing again only updates the walk-ins."""
    queries.menu(request.auth, menu_id)
    reservations.close_meal(actor=request.auth, menu_id=menu_id, walk_ins=payload.walk_ins)
    return queries.menu(request.auth, menu_id)


# --- reservations -----------------------------------------------------------------------


@router.post("/reservations", response={201: ReservationDetailOut, **ERRORS})
def reserve(request: HttpRequest, payload: ReservationIn):
    """报餐: eat-in or take-away, with the limited dishes pre-ordered. 409 ``sold_out``
    names the dish, ``reservation_closed`` the deadline; ``already_reserved``,
    ``meal_full``; 422 ``too_many_portions``, ``bad_items``, ``bad_pickup_time``."""
    r = reservations.reserve(
        actor=request.auth,
        menu_id=payload.menu_id,
        kind=payload.kind.value,
        items=[i.dict() for i in payload.items],
        pickup_at=payload.pickup_at,
        client_key=payload.client_key,
    )
    return Status(201, _reservation_detail(request.auth, r.pk))


@router.get("/reservations", response=list[ReservationOut])
@paginate(Page)
def list_reservations(
    request: HttpRequest,
    all: bool = False,
    upcoming: bool = False,
    canteen_id: int | None = None,
    menu_id: int | None = None,
    day: date | None = None,
    status: str | None = None,
    kind: str | None = None,
):
    """The caller's reservations, the latest meal first (``upcoming``: those still to be
    eaten, the soonest first); ``?all=1``: every reservation the caller oversees or
    operates, filtered."""
    if all:
        return queries.reservations(
            request.auth, canteen_id=canteen_id, menu_id=menu_id, day=day, status=status,
            kind=kind,
        )  # fmt: skip
    return queries.my_reservations(request.auth, upcoming=upcoming)


@router.get(
    "/reservations/{int:reservation_id}", response={200: ReservationDetailOut, 404: ErrorOut}
)
def get_reservation(request: HttpRequest, reservation_id: int):
    """The reservation; its pickup code and QR only to its person."""
    return _reservation_detail(request.auth, reservation_id)


@router.get("/reservations/{int:reservation_id}/qr.svg", response={200: None, 404: ErrorOut})
def reservation_qr(request: HttpRequest, reservation_id: int):
    """The pickup QR code (its person only)."""
    r = _reservation_detail(request.auth, reservation_id)
    if not r.mine:
        raise NotFound()
    response = HttpResponse(pickup_svg(r), content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    return response


@router.post(
    "/reservations/{int:reservation_id}/cancel", response={200: ReservationDetailOut, **ERRORS}
)
def cancel_reservation(request: HttpRequest, reservation_id: int):
    """Cancel before the meal's cancellation deadline (409 ``cancellation_closed``); the
    portions go back on sale."""
    queries.reservation(request.auth, reservation_id)
    reservations.cancel_reservation(actor=request.auth, reservation_id=reservation_id)
    return _reservation_detail(request.auth, reservation_id)


# --- vouchers ---------------------------------------------------------------------------


@router.post("/vouchers", response={201: VoucherBatchDetailOut, **ERRORS})
def issue_vouchers(request: HttpRequest, payload: VoucherIn):
    """Meal vouchers for guests or a meeting, charged to ``unit_id`` (422
    ``too_many_vouchers``, 409 ``meal_full``, ``reservation_closed``)."""
    data = payload.dict()
    data["purpose"] = payload.purpose.value
    b = reservations.issue_vouchers(actor=request.auth, **data)
    return Status(201, _batch_detail(request.auth, b.pk))


@router.get("/vouchers", response=list[VoucherBatchOut])
@paginate(Page)
def list_vouchers(
    request: HttpRequest,
    canteen_id: int | None = None,
    menu_id: int | None = None,
    mine: bool = False,
):
    """Voucher batches the caller issued, oversees or operates, the latest first."""
    return queries.voucher_batches(request.auth, canteen_id=canteen_id, menu_id=menu_id, mine=mine)


@router.get("/vouchers/{int:batch_id}", response={200: VoucherBatchDetailOut, 404: ErrorOut})
def get_vouchers(request: HttpRequest, batch_id: int):
    """The batch; its codes to the issuer and the canteen's managers."""
    return _batch_detail(request.auth, batch_id)


@router.post("/vouchers/{int:batch_id}/void", response={200: VoucherBatchDetailOut, **ERRORS})
def void_vouchers(request: HttpRequest, batch_id: int):
    """Void the unused vouchers of a batch (before the cancellation deadline)."""
    queries.voucher_batch(request.auth, batch_id)
    reservations.void_vouchers(actor=request.auth, batch_id=batch_id)
    return _batch_detail(request.auth, batch_id)


# --- the counter and the kitchen --------------------------------------------------------


@router.post("/canteens/{int:canteen_id}/hand-over", response={200: HandOverOut, **ERRORS})
def hand_over(request: HttpRequest, canteen_id: int, payload: HandOverIn):
    """Scan or type a pickup code, a voucher code or a QR payload: what to hand out.
    409 ``already_served`` on a second scan, ``no_meal_now``; 404 ``unknown_code``."""
    queries.canteen(request.auth, canteen_id)
    h = reservations.hand_over(actor=request.auth, canteen_id=canteen_id, code=payload.code)
    r = queries.reservation(request.auth, h.reservation.pk) if h.reservation else None
    return {
        "kind": h.kind,
        "menu_id": h.menu.pk,
        "day": h.menu.day,
        "meal": h.menu.meal,
        "meal_label": str(h.menu.get_meal_display()),
        "takeaway": h.takeaway,
        "reservation": r,
        "voucher_code": h.voucher.code if h.voucher else None,
        "guest": h.voucher.batch.guest if h.voucher else None,
        "lines": [
            {"dish_name": ln.dish, "quantity": ln.quantity, "takeaway": ln.takeaway}
            for ln in h.lines
        ],
    }


@router.get("/canteens/{int:canteen_id}/kitchen", response={200: KitchenOut, **ERRORS})
def kitchen(request: HttpRequest, canteen_id: int, day: date | None = None):
    """Each meal of ``day`` (default tomorrow) as the kitchen reads it: eat-in, take-away
    by pickup slot, vouchers, portions sold per dish, the forecast of diners and its
    error measured on held-out days (staff of the canteen)."""
    day = day or timezone.localdate() + timedelta(days=1)
    meals = queries.kitchen_counts(request.auth, canteen_id, day)
    return {"canteen_id": canteen_id, "day": day, "meals": meals}


# --- ratings ----------------------------------------------------------------------------


@router.post("/ratings", response={201: RatingOut, **ERRORS})
def rate(request: HttpRequest, payload: RatingIn):
    """Stars (1–5) and a comment on a dish the caller was served, from serving for seven
    days, once (409 ``not_served``, ``rating_closed``, ``already_rated``)."""
    r = services.rate_dish(actor=request.auth, **payload.dict())
    return Status(201, r)


# --- food safety ------------------------------------------------------------------------


@router.get("/canteens/{int:canteen_id}/samples", response=list[SampleOut])
@paginate(Page)
def list_samples(
    request: HttpRequest,
    canteen_id: int,
    start: date | None = None,
    end: date | None = None,
    pending: bool = False,
):
    """留样, the latest first (``pending``: still in the fridge, the soonest due first)."""
    return queries.samples(
        request.auth, canteen_id=canteen_id, start=start, end=end, pending=pending
    )


@router.post("/canteens/{int:canteen_id}/samples", response={201: SampleOut, **ERRORS})
def record_sample(request: HttpRequest, canteen_id: int, payload: SampleIn):
    """留样 of one dish of a meal of this canteen: 422 ``rule_refused`` citing JG-ST C1
    when too small or kept too briefly; 409 ``already_sampled``."""
    queries.canteen(request.auth, canteen_id)
    if queries.menu_item(request.auth, payload.menu_item_id).menu.canteen_id != canteen_id:
        raise NotFound()
    return Status(201, safety.record_sample(actor=request.auth, **payload.dict()))


@router.post("/samples/{int:sample_id}/remove", response={200: SampleOut, **ERRORS})
def remove_sample(request: HttpRequest, sample_id: int):
    """Take a sample out of the fridge; refused before its retention ends (C1)."""
    queries.safety_log(request.auth, "samples", sample_id)
    safety.remove_sample(actor=request.auth, sample_id=sample_id)
    return queries.safety_log(request.auth, "samples", sample_id)


_log_list("temperatures", TemperatureOut)


@router.post("/canteens/{int:canteen_id}/temperatures", response={201: TemperatureOut, **ERRORS})
def record_temperature(request: HttpRequest, canteen_id: int, payload: TemperatureIn):
    """A fridge or freezer reading; out of range it is kept and a finding opened."""
    _canteen_owning(request, canteen_id, "cold_units", payload.unit_id)
    return Status(201, safety.record_temperature(actor=request.auth, **payload.dict()))


_log_list("disinfections", DisinfectionOut)


@router.post("/canteens/{int:canteen_id}/disinfections", response={201: DisinfectionOut, **ERRORS})
def record_disinfection(request: HttpRequest, canteen_id: int, payload: DisinfectionIn):
    """餐用具消毒: what the method must reach is JG-ST C3's (422 ``rule_refused``)."""
    return _record_in(request, canteen_id, safety.record_disinfection, **payload.fields())


_log_list("receiving", ReceivingOut)


@router.post("/canteens/{int:canteen_id}/receiving", response={201: ReceivingOut, **ERRORS})
def record_receiving(request: HttpRequest, canteen_id: int, payload: ReceivingIn):
    """进货查验 (JG-ST C12): supplier, certificate, batch, shelf life."""
    return _record_in(
        request,
        canteen_id,
        safety.record_receiving,
        data=payload.fields(),
        recorded_at=payload.recorded_at,
    )


@router.get("/canteens/{int:canteen_id}/handlers", response=list[HandlerOut])
@paginate(Page)
def list_handlers(request: HttpRequest, canteen_id: int, active: bool | None = None):
    """Food handlers and their health certificates."""
    return queries.food_handlers(request.auth, canteen_id=canteen_id, active=active)


@router.post("/canteens/{int:canteen_id}/handlers", response={201: HandlerOut, **ERRORS})
def create_handler(request: HttpRequest, canteen_id: int, payload: HandlerIn):
    return _record_in(request, canteen_id, safety.save_handler, data=payload.dict())


@router.put("/handlers/{int:handler_id}", response={200: HandlerOut, **ERRORS})
def update_handler(request: HttpRequest, handler_id: int, payload: HandlerUpdateIn):
    """Change a food handler or renew their certificate; fields left out keep their
    value."""
    queries.food_handler(request.auth, handler_id)
    data, version = _versioned(payload.dict(exclude_unset=True))
    safety.save_handler(actor=request.auth, handler_id=handler_id, data=data, version=version)
    return queries.food_handler(request.auth, handler_id)


_log_list("health-checks", HealthCheckOut)


@router.post("/canteens/{int:canteen_id}/health-checks", response={201: HealthCheckOut, **ERRORS})
def record_health_check(request: HttpRequest, canteen_id: int, payload: HealthCheckIn):
    """晨检: refused (JG-ST C7) when the handler's health certificate has expired; an
    unwell handler is recorded as failed and the kitchen told."""
    _canteen_owning(request, canteen_id, "handlers", payload.handler_id)
    return Status(201, safety.record_health_check(actor=request.auth, **payload.dict()))


# --- waste ------------------------------------------------------------------------------


_log_list("waste", WasteOut)


@router.post("/canteens/{int:canteen_id}/waste", response={201: WasteOut, **ERRORS})
def record_waste(request: HttpRequest, canteen_id: int, payload: WasteIn):
    """A weighing (kitchen waste, tray returns, unsold, trimmings), JG-ST C10."""
    return _record_in(
        request,
        canteen_id,
        waste.record_waste,
        day=payload.day,
        kind=payload.kind.value,
        weight_kg=payload.weight_kg,
        meal=payload.meal.value if payload.meal else "",
        recorded_at=payload.recorded_at,
    )


_log_list("waste-days", WasteDayOut)


@router.post("/canteens/{int:canteen_id}/waste-days", response={200: WasteDayOut, **ERRORS})
def evaluate_waste_day(request: HttpRequest, canteen_id: int, payload: WasteDayIn):
    """The day's weighings per diner, judged by JG-ST C9; again for the same day
    updates it."""
    queries.canteen(request.auth, canteen_id)
    return waste.evaluate_waste_day(actor=request.auth, canteen_id=canteen_id, day=payload.day)


# --- dashboard and export ---------------------------------------------------------------


@router.get("/dashboard", response={200: dict[str, Any], 404: ErrorOut, 422: ErrorOut})
def dashboard(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    canteen_id: int | None = None,
):
    """Reserved against diners, no-shows and waste per diner by day, per canteen side by
    side and per meal; ratings; JG-ST compliance by clause (default: the last 30 days)
    over the canteens the caller oversees, manages or operates."""
    start, end = _period(start, end)
    return queries.dashboard(request.auth, start, end, canteen_id=canteen_id)


class NoShowPersonOut(Schema):
    person_id: int
    name: str
    org_name: str | None
    reservations: int
    served: int
    no_shows: int
    rate: float | None  # no-shows ÷ (served + no-shows)


class NoShowMealOut(Schema):
    menu_id: int
    canteen_id: int
    canteen_name: str
    day: date
    meal: str
    label: str
    status: str
    reservations: int
    served: int
    no_shows: int
    rate: float | None


class NoShowsOut(Schema):
    start: date
    end: date
    by_person: list[NoShowPersonOut]
    by_meal: list[NoShowMealOut]
    totals: dict[str, Any]


@router.get("/no-shows", response={200: NoShowsOut, 404: ErrorOut, 422: ErrorOut})
def no_shows(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    canteen_id: int | None = None,
    limit: int = 100,
):
    """未就餐: no-shows per person (the most first, at most ``limit``) and per meal over
    the canteens the caller oversees, manages or operates (default: the last 30 days)."""
    if not 1 <= limit <= MAX_NO_SHOW_PEOPLE:
        raise InvalidInput(
            _("limit 须在 1 至 %(max)s 之间。") % {"max": MAX_NO_SHOW_PEOPLE},
            code="bad_limit",
            field="limit",
        )
    start, end = _period(start, end)
    data = queries.no_shows(request.auth, start, end, canteen_id=canteen_id)
    return {**data, "by_person": data["by_person"][:limit]}


@router.get("/export.xlsx", response={200: None, 404: ErrorOut, 422: ErrorOut})
def export_xlsx(request: HttpRequest, start: date, end: date, canteen_id: int | None = None):
    """The dashboard of ``start``–``end`` (both required: a file states its period) as an
    Excel workbook: overview, daily, meals, ratings, compliance by clause."""
    body = export.dashboard_xlsx(request.auth, start=start, end=end, canteen_id=canteen_id)
    return _file(body, XLSX, f"canteen-{start:%Y%m%d}-{end:%Y%m%d}.xlsx")
