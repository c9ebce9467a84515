"""Forms of the canteen pages. They only parse input (local Shanghai times become aware
datetimes); the services decide what is allowed: deadlines, portions, the standard's
food-safety rules."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
NUMBER = {"inputmode": "decimal"}


def local_dt(day: date, at: time) -> datetime:
    """The aware datetime of a local (Asia/Shanghai) day and time."""
    return timezone.make_aware(datetime.combine(day, at), timezone.get_current_timezone())


def _local_field(label: Any, required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, required=required, widget=DATETIME, input_formats=DATETIME_FORMATS
    )


def _choices(field: forms.Field, rows: list[tuple[Any, str]], empty: Any = None) -> None:
    field.choices = ([("", empty)] if empty is not None else []) + list(rows)  # type: ignore[attr-defined]


class DataForm(forms.Form):
    """A form whose values go to a service as its ``data``: ``FIELDS`` as cleaned,
    ``FLAGS`` as booleans (an unticked box is False) and ``TEXTS``, optional text, as
    "" when left empty (the services keep text, never None)."""

    FIELDS: tuple[str, ...] = ()
    FLAGS: tuple[str, ...] = ()
    TEXTS: tuple[str, ...] = ()

    def data_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {name: d.get(name) for name in self.FIELDS}
        for name in self.FLAGS:
            out[name] = bool(d.get(name))
        for name in self.TEXTS:
            out[name] = d.get(name) or ""
        return out


# --- diners ----------------------------------------------------------------------------


class ReserveForm(forms.Form):
    """报餐: eat-in or take-away (with a pickup slot) and the portions of the limited
    dishes and packages (``qty_<menu item id>``)."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    kind = forms.ChoiceField(
        label=_("就餐方式"), choices=ReservationKind.choices, initial=ReservationKind.EAT_IN
    )
    pickup_at = forms.ChoiceField(label=_("取餐时段"), required=False)

    def __init__(
        self,
        *args: Any,
        items: list[Any] = (),  # type: ignore[assignment]
        slots: list[datetime] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.items = list(items)
        # keyed by the local minute ("2026-12-07T12:00"), what the page shows
        self.slots = {timezone.localtime(s).strftime("%Y-%m-%dT%H:%M"): s for s in slots}
        _choices(
            self.fields["pickup_at"],
            [(k, timezone.localtime(s).strftime("%H:%M")) for k, s in self.slots.items()],
            _("请选择取餐时段"),
        )
        for item in self.items:
            self.fields[f"qty_{item.pk}"] = forms.IntegerField(
                label=str(item.dish), min_value=0, max_value=99, required=False
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == ReservationKind.TAKEAWAY and not cleaned.get("pickup_at"):
            self.add_error("pickup_at", _("外带请选择取餐时段。"))
        return cleaned

    def lines(self) -> list[dict[str, int]]:
        """The ``items`` argument of ``reservations.reserve``: positive quantities."""
        d = self.cleaned_data
        kind = d.get("kind")
        out = []
        for item in self.items:
            qty = d.get(f"qty_{item.pk}") or 0
            # Packages only go with take-away, dishes only with eat-in: the hidden half
            # of the form may still carry numbers from before the switch.
            if qty > 0 and bool(item.takeaway) == (kind == ReservationKind.TAKEAWAY):
                out.append({"menu_item_id": item.pk, "quantity": int(qty)})
        return out

    def pickup(self) -> datetime | None:
        if self.cleaned_data.get("kind") != ReservationKind.TAKEAWAY:
            return None
        return self.slots.get(self.cleaned_data.get("pickup_at") or "")


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("评分"), coerce=int, choices=[(i, str(i)) for i in range(1, 6)]
    )
    comment = forms.CharField(label=_("评价"), max_length=300, required=False)


class VoucherForm(forms.Form):
    """Meal vouchers for visitors or a meeting (the unit is charged)."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    menu = forms.TypedChoiceField(label=_("餐次"), coerce=int)
    count = forms.IntegerField(label=_("张数"), min_value=1, max_value=500, initial=10)
    purpose = forms.ChoiceField(label=_("用途"), choices=VoucherPurpose.choices)
    guest = forms.CharField(label=_("来宾/会议"), max_length=100)
    unit = forms.TypedChoiceField(label=_("结算单位"), coerce=int, required=False, empty_value=None)
    booking = forms.TypedChoiceField(
        label=_("关联会议"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("关联会议室预订后，餐券张数不超过参会人数。"),
    )

    def __init__(
        self,
        *args: Any,
        menus: list[tuple[int, str]] = (),  # type: ignore[assignment]
        units: list[tuple[int, str]] = (),  # type: ignore[assignment]
        bookings: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["menu"], menus, _("请选择餐次"))
        _choices(self.fields["unit"], units)
        _choices(self.fields["booking"], bookings, _("不关联"))


# --- the kitchen -----------------------------------------------------------------------


class HandOverForm(forms.Form):
    code = forms.CharField(
        label=_("取餐码/券码"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        return "".join((self.cleaned_data.get("code") or "").split())


class CloseMealForm(forms.Form):
    walk_ins = forms.IntegerField(label=_("未报餐就餐人数"), min_value=0, max_value=5000, initial=0)


class SampleForm(forms.Form):
    """留样: a dish of one of the day's meals, weighed into the sample fridge."""

    menu_item = forms.TypedChoiceField(label=_("菜品"), coerce=int)
    weight_g = forms.DecimalField(
        label=_("留样重量（g）"),
        min_value=Decimal("0"),
        max_value=Decimal("5000"),
        decimal_places=1,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.1"}),
    )
    fridge = forms.TypedChoiceField(label=_("留样冰箱"), coerce=int)
    sealed = forms.BooleanField(label=_("已密封"), required=False, initial=True)
    sampled_at = _local_field(_("留样时间（不填为现在）"))
    keep_hours = forms.IntegerField(
        label=_("保存时长（小时，不填按标准）"), min_value=1, max_value=720, required=False
    )

    def __init__(
        self,
        *args: Any,
        items: list[tuple[int, str]] = (),  # type: ignore[assignment]
        fridges: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["menu_item"], items, _("请选择菜品"))
        _choices(self.fields["fridge"], fridges)


class TemperatureForm(forms.Form):
    unit = forms.TypedChoiceField(label=_("设备"), coerce=int)
    temp_c = forms.DecimalField(
        label=_("温度（℃）"),
        min_value=Decimal("-60"),
        max_value=Decimal("100"),
        decimal_places=1,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.1"}),
    )
    recorded_at = _local_field(_("记录时间（不填为现在）"))

    def __init__(self, *args: Any, units: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["unit"], units, _("请选择设备"))


def _decimal(label: Any, lo: int, hi: int) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(lo),
        max_value=Decimal(hi),
        decimal_places=1,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.1"}),
    )


class DisinfectionForm(forms.Form):
    """餐用具消毒: which fields matter depends on the method (the standard says which;
    a missing one is refused by the service, citing the clause)."""

    method = forms.ChoiceField(label=_("消毒方式"), choices=DisinfectionMethod.choices)
    items = forms.CharField(label=_("消毒物品"), max_length=100)
    temp_c = _decimal(_("温度（℃）"), 0, 200)
    minutes = _decimal(_("时长（分钟）"), 0, 600)
    rinse_temp_c = _decimal(_("冲洗水温（℃）"), 0, 100)
    rinse_seconds = forms.IntegerField(
        label=_("冲洗时长（秒）"), min_value=0, max_value=3600, required=False
    )
    chlorine_mg_l = forms.IntegerField(
        label=_("有效氯（mg/L）"), min_value=0, max_value=10000, required=False
    )
    fully_immersed = forms.NullBooleanField(
        label=_("完全浸没"),
        required=False,
        widget=forms.Select(
            choices=[("unknown", "—"), ("true", _("是")), ("false", pgettext_lazy("yes/no", "否"))]
        ),
    )
    recorded_at = _local_field(_("记录时间（不填为现在）"))

    MEASURES = ("temp_c", "minutes", "rinse_temp_c", "rinse_seconds", "chlorine_mg_l")

    def service_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {"method": d["method"], "items": d["items"]}
        for name in (*self.MEASURES, "fully_immersed"):
            out[name] = d.get(name)
        out["recorded_at"] = d.get("recorded_at")
        return out


class ReceivingForm(DataForm):
    """进货查验: supplier, certificate, batch, dates."""

    supplier = forms.CharField(label=_("供货者"), max_length=100)
    supplier_licence = forms.CharField(label=_("供货者许可证号"), max_length=60, required=False)
    item = forms.CharField(label=_("品名"), max_length=60)
    spec = forms.CharField(label=_("规格"), max_length=60, required=False)
    quantity = forms.DecimalField(
        label=_("数量"), min_value=Decimal("0"), max_digits=9, decimal_places=2
    )
    unit = forms.CharField(label=_("单位"), max_length=10, initial="kg")
    batch_no = forms.CharField(label=_("生产批号"), max_length=60, required=False)
    production_date = forms.DateField(label=_("生产日期"), required=False, widget=DATE)
    best_before = forms.DateField(label=_("保质期至"), required=False, widget=DATE)
    certificate_no = forms.CharField(label=_("合格证明编号"), max_length=60, required=False)
    accepted = forms.BooleanField(label=_("验收通过"), required=False, initial=True)
    reject_reason = forms.CharField(label=_("拒收原因"), max_length=200, required=False)
    recorded_at = _local_field(_("查验时间（不填为现在）"))

    FIELDS = (
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
    )
    FLAGS = ("accepted",)


class HandlerForm(DataForm):
    """A food handler and their health certificate."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("姓名"), max_length=40)
    post = forms.CharField(label=_("岗位"), max_length=40, required=False)
    handles_ready_to_eat = forms.BooleanField(
        label=_("接触直接入口食品"), required=False, initial=True
    )
    certificate_no = forms.CharField(label=_("健康证明编号"), max_length=40)
    issued_on = forms.DateField(label=_("发证日期"), widget=DATE)
    expires_on = forms.DateField(label=_("有效期至"), widget=DATE)
    is_active = forms.BooleanField(label=_("在岗"), required=False, initial=True)

    FIELDS = (
        "name",
        "post",
        "handles_ready_to_eat",
        "certificate_no",
        "issued_on",
        "expires_on",
        "is_active",
    )
    FLAGS = ("handles_ready_to_eat", "is_active")
    TEXTS = ("post",)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        a, b = cleaned.get("issued_on"), cleaned.get("expires_on")
        if a and b and b <= a:
            self.add_error("expires_on", _("有效期须晚于发证日期。"))
        return cleaned


class HealthCheckForm(forms.Form):
    healthy = forms.TypedChoiceField(
        label=_("身体状况"),
        coerce=lambda v: v == "1",
        choices=[("1", _("正常")), ("0", _("有症状（当日不得上岗）"))],
        initial="1",
    )
    symptoms = forms.CharField(label=_("症状"), max_length=100, required=False)


class WasteForm(forms.Form):
    day = forms.DateField(label=_("日期"), widget=DATE)
    meal = forms.ChoiceField(label=_("餐次"), required=False)
    kind = forms.ChoiceField(label=_("类别"), choices=WasteKind.choices)
    weight_kg = forms.DecimalField(
        label=_("重量（kg）"),
        min_value=Decimal("0"),
        max_value=Decimal("5000"),
        decimal_places=2,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.01"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["meal"], Meal.choices, _("全天"))


# --- managers --------------------------------------------------------------------------


class DishForm(DataForm):
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("菜名"), max_length=60)
    category = forms.ChoiceField(label=_("类别"), choices=DishCategory.choices)
    tags = forms.MultipleChoiceField(
        label=_("标签"),
        choices=DishTag.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    allergens = forms.MultipleChoiceField(
        label=_("过敏原"),
        choices=Allergen.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    region = forms.CharField(
        label=_("地方"),
        max_length=30,
        required=False,
        help_text=_("百县千碗菜品填写所属县（市、区）。"),
    )
    price = forms.DecimalField(
        label=_("价格（元）"),
        min_value=Decimal("0"),
        max_value=Decimal("999"),
        decimal_places=2,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.5"}),
    )
    description = forms.CharField(
        label=_("介绍"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    photo = forms.FileField(
        label=_("照片"),
        required=False,
        help_text=_("JPEG、PNG 或 WebP；上传后自动去除拍摄位置等信息。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    remove_photo = forms.BooleanField(label=_("删除现有照片"), required=False)

    FIELDS = (
        "name",
        "category",
        "tags",
        "allergens",
        "region",
        "price",
        "description",
        "is_active",
    )

    FLAGS = ("is_active",)
    TEXTS = ("region", "description")

    def data_fields(self) -> dict[str, Any]:
        out = super().data_fields()
        out["tags"] = sorted(out["tags"] or [])
        out["allergens"] = sorted(out["allergens"] or [])
        return out


class MenuForm(forms.Form):
    """A meal's menu: which dishes (``on_<dish id>``), portions (empty: unlimited),
    the per-person limit and the price of each; the meal's cap and a note."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    capacity = forms.IntegerField(label=_("报餐上限（人）"), min_value=1, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args: Any, dishes: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.dishes = list(dishes)
        for dish in self.dishes:
            self.fields[f"on_{dish.pk}"] = forms.BooleanField(label=str(dish), required=False)
            self.fields[f"portions_{dish.pk}"] = forms.IntegerField(
                label=_("限量份数"), min_value=0, max_value=100000, required=False
            )
            self.fields[f"max_{dish.pk}"] = forms.IntegerField(
                label=_("每人限订"), min_value=1, max_value=20, required=False
            )
            self.fields[f"price_{dish.pk}"] = forms.DecimalField(
                label=_("价格（元）"),
                min_value=Decimal("0"),
                max_value=Decimal("999"),
                decimal_places=2,
                required=False,
            )

    def rows(self) -> list[dict[str, Any]]:
        """Per dish: its bound fields, for the template."""
        return [
            {
                "dish": dish,
                "on": self[f"on_{dish.pk}"],
                "portions": self[f"portions_{dish.pk}"],
                "max": self[f"max_{dish.pk}"],
                "price": self[f"price_{dish.pk}"],
            }
            for dish in self.dishes
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.dishes and not any(cleaned.get(f"on_{d.pk}") for d in self.dishes):
            raise forms.ValidationError(_("请至少选择一道菜品。"))
        return cleaned

    def items(self) -> list[dict[str, Any]]:
        """The ``items`` argument of ``services.save_menu``."""
        d = self.cleaned_data
        return [
            {
                "dish_id": dish.pk,
                "portions": d.get(f"portions_{dish.pk}"),
                "per_person_max": d.get(f"max_{dish.pk}") or 2,
                "price": d.get(f"price_{dish.pk}"),
            }
            for dish in self.dishes
            if d.get(f"on_{dish.pk}")
        ]


TIME = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")


class CanteenForm(DataForm):
    """A canteen as its manager sets it up (a new one also names its org and places)."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    org = forms.TypedChoiceField(label=_("所属单位"), coerce=int)
    location = forms.TypedChoiceField(label=_("位置"), coerce=int)
    kitchen = forms.TypedChoiceField(label=_("后厨"), coerce=int, required=False, empty_value=None)
    operator = forms.TypedChoiceField(
        label=_("承包单位"), coerce=int, required=False, empty_value=None
    )
    name = forms.CharField(label=_("名称"), max_length=100)
    seats = forms.IntegerField(label=_("座位数"), min_value=1, max_value=10000, initial=200)
    takeaway_slot_minutes = forms.IntegerField(
        label=_("外带取餐时段（分钟）"), min_value=5, max_value=60, initial=15
    )
    voucher_batch_max = forms.IntegerField(
        label=_("单次发券上限"), min_value=1, max_value=500, initial=50
    )
    no_show_grace_minutes = forms.IntegerField(
        label=_("未就餐判定宽限（分钟）"), min_value=0, max_value=240, initial=30
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    FIELDS = (
        "name",
        "seats",
        "takeaway_slot_minutes",
        "voucher_batch_max",
        "no_show_grace_minutes",
    )
    FLAGS = ("is_active",)

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        operators: list[tuple[int, str]] = (),  # type: ignore[assignment]
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs)
        self.fields["org"].disabled = editing  # a canteen stays with its organisation
        _choices(self.fields["location"], locations, _("请选择位置"))
        _choices(self.fields["kitchen"], locations, _("未设置"))
        _choices(self.fields["operator"], operators, _("自营（无承包单位）"))

    def data_fields(self) -> dict[str, Any]:
        out = super().data_fields()
        out["kitchen_id"] = self.cleaned_data.get("kitchen")
        out["operator_id"] = self.cleaned_data.get("operator")
        return out


class MealPeriodForm(forms.Form):
    """When a meal is served and its deadlines, in minutes before serving."""

    serve_start = forms.TimeField(label=_("开餐时间"), widget=TIME)
    serve_end = forms.TimeField(label=_("结束时间"), widget=TIME)
    reserve_cutoff_minutes = forms.IntegerField(
        label=_("报餐截止（开餐前分钟）"), min_value=0, max_value=7 * 1440
    )
    cancel_cutoff_minutes = forms.IntegerField(
        label=_("取消截止（开餐前分钟）"), min_value=0, max_value=7 * 1440
    )
    eat_in_price = forms.DecimalField(
        label=_("堂食标准（元）"),
        min_value=Decimal("0"),
        max_value=Decimal("999"),
        decimal_places=2,
    )

    FIELDS = (
        "serve_start",
        "serve_end",
        "reserve_cutoff_minutes",
        "cancel_cutoff_minutes",
        "eat_in_price",
    )


class PublishForm(forms.Form):
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reserve_until = _local_field(_("报餐截止（不填按餐次设置）"))
    cancel_until = _local_field(_("取消截止（不填按餐次设置）"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=300)


class CopyMenusForm(forms.Form):
    from_day = forms.DateField(label=_("从"), widget=DATE)
    to_day = forms.DateField(label=_("复制到"), widget=DATE)


class PeriodForm(forms.Form):
    """The dashboard's days and canteen (empty: every canteen the user oversees)."""

    since = forms.DateField(label=_("开始日期"), required=False, widget=DATE)
    until = forms.DateField(label=_("结束日期"), required=False, widget=DATE)
    canteen = forms.TypedChoiceField(label=_("食堂"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, canteens: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["canteen"], canteens, _("全部食堂"))
