"""The canteen (智慧食堂): dishes, menus, reservations (报餐), vouchers, hand-over at the
counter, ratings, the food-safety logs the standard (JG-ST) judges, and waste.

Correctness lives in the database. A limited dish is never sold beyond its portions:
``UPDATE menuitem SET sold = sold + n WHERE sold + n <= portions`` plus the check
constraint ``menuitem_not_oversold``; a meal with a seat cap the same way on
``Menu.reserved_count``. A person holds at most one reservation per meal (partial unique
constraint), and a pickup code or voucher is handed over once (conditional UPDATE of the
status).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import (
    HOLDING,
    ColdUnitKind,
    DishCategory,
    DisinfectionMethod,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
    WasteKind,
)

ORG = "orgs.Organization"
USER = settings.AUTH_USER_MODEL


class Canteen(VersionedModel):
    """A canteen run by (the centre) ``org`` and operated by ``operator`` (the catering
    company under contract, whose staff serve and keep the logs). Staff reserve in the
    canteens of their centre (the way up from their grants, as for rooms)."""

    org = models.ForeignKey(
        ORG, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    operator = models.ForeignKey(
        ORG,
        verbose_name=_("承包单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    location = models.ForeignKey(
        "orgs.Location", verbose_name=_("位置"), on_delete=models.PROTECT, related_name="+"
    )
    # Where the daily opening and closing checks happen (tagged 后厨 for the plans).
    kitchen = models.ForeignKey(
        "orgs.Location",
        verbose_name=_("后厨"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    name = models.CharField(_("名称"), max_length=100)
    seats = models.PositiveIntegerField(_("座位数"), default=200)
    takeaway_slot_minutes = models.PositiveSmallIntegerField(_("外带取餐时段（分钟）"), default=15)
    voucher_batch_max = models.PositiveSmallIntegerField(_("单次发券上限"), default=50)
    # Reservations not handed over by the meal's end plus this become no-shows.
    no_show_grace_minutes = models.PositiveSmallIntegerField(
        _("未就餐判定宽限（分钟）"), default=30
    )
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("食堂")
        verbose_name_plural = _("食堂")
        ordering = ["org_id", "name", "id"]
        indexes = [models.Index(fields=["org", "is_active"], name="canteen_org_active")]

    def __str__(self) -> str:
        return self.name


class MealPeriod(models.Model):
    """When a canteen serves a meal and its default reservation and cancellation
    deadlines (minutes before serving starts); copied onto each menu when published."""

    canteen = models.ForeignKey(Canteen, on_delete=models.CASCADE, related_name="meal_periods")
    meal = models.CharField(_("餐次"), max_length=10, choices=Meal.choices)
    serve_start = models.TimeField(_("开餐时间"))
    serve_end = models.TimeField(_("结束时间"))
    reserve_cutoff_minutes = models.PositiveIntegerField(_("报餐截止（开餐前分钟）"))
    cancel_cutoff_minutes = models.PositiveIntegerField(_("取消截止（开餐前分钟）"))
    eat_in_price = models.DecimalField(_("堂食标准（元）"), max_digits=7, decimal_places=2)

    scope_org_field = "canteen__org"

    class Meta:
        verbose_name = _("餐次设置")
        verbose_name_plural = _("餐次设置")
        ordering = ["canteen_id", "serve_start"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "meal"], name="mealperiod_unique"),
            models.CheckConstraint(
                condition=Q(serve_start__lt=F("serve_end")), name="mealperiod_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.canteen} {self.get_meal_display()}"


class Dish(VersionedModel):
    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")  # the canteen's
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="dishes")
    name = models.CharField(_("菜名"), max_length=60)
    category = models.CharField(_("类别"), max_length=12, choices=DishCategory.choices)
    tags = models.JSONField(_("标签"), default=list, blank=True)  # DishTag values, sorted
    allergens = models.JSONField(_("过敏原"), default=list, blank=True)  # Allergen values
    region = models.CharField(_("地方"), max_length=30, blank=True)  # 百县千碗: the county
    price = models.DecimalField(_("价格（元）"), max_digits=7, decimal_places=2, default=0)
    description = models.CharField(_("介绍"), max_length=300, blank=True)
    photo = models.ImageField(_("照片"), upload_to="canteen/dishes/", blank=True)
    photo_thumb = models.ImageField(_("照片缩略图"), upload_to="canteen/dishes/thumbs/", blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("菜品")
        verbose_name_plural = _("菜品")
        ordering = ["canteen_id", "category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "name"], name="dish_unique_name"),
            models.CheckConstraint(condition=Q(price__gte=0), name="dish_price_nonnegative"),
        ]
        indexes = [models.Index(fields=["canteen", "is_active"], name="dish_canteen_active")]

    def __str__(self) -> str:
        return self.name


class Menu(VersionedModel):
    """One meal of one day in one canteen. Its deadlines are instants, set when it is
    published from the canteen's meal period (a manager may move them)."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="menus")
    day = models.DateField(_("日期"))
    meal = models.CharField(_("餐次"), max_length=10, choices=Meal.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=MenuStatus.choices, default=MenuStatus.DRAFT
    )
    serve_start = models.DateTimeField(_("开餐时间"))
    serve_end = models.DateTimeField(_("结束时间"))
    reserve_until = models.DateTimeField(_("报餐截止"))
    cancel_until = models.DateTimeField(_("取消截止"))
    eat_in_price = models.DecimalField(_("堂食标准（元）"), max_digits=7, decimal_places=2)
    capacity = models.PositiveIntegerField(_("报餐上限"), null=True, blank=True)
    # Reservations holding a place (reserved, served, no-show): kept by the services in
    # the reservation's transaction, so the cap is one conditional UPDATE.
    reserved_count = models.PositiveIntegerField(default=0)
    walk_ins = models.PositiveIntegerField(_("未报餐就餐人数"), default=0)
    # Actual diners, set when the meal is closed: handed-over reservations and vouchers
    # plus walk-ins. The forecast learns from it.
    diners = models.PositiveIntegerField(_("实际就餐人数"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set once the missing-sample check has run for this meal (claimed by UPDATE).
    samples_checked_at = models.DateTimeField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("菜单")
        verbose_name_plural = _("菜单")
        ordering = ["canteen_id", "day", "serve_start"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "day", "meal"], name="menu_unique_meal"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(reserved_count__lte=F("capacity")),
                name="menu_not_overbooked",
            ),
            models.CheckConstraint(condition=Q(serve_start__lt=F("serve_end")), name="menu_hours"),
        ]
        indexes = [
            models.Index(fields=["org", "day"], name="menu_org_day"),
            models.Index(fields=["canteen", "day"], name="menu_canteen_day"),
            models.Index(fields=["status", "serve_end"], name="menu_status_end"),
        ]

    def __str__(self) -> str:
        return f"{self.canteen} {self.day} {self.get_meal_display()}"


class MenuItem(models.Model):
    """A dish on a menu. ``portions`` limits it (None: as much as is cooked, not
    reserved); a limited dish is pre-ordered and ``sold`` never exceeds ``portions``."""

    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="items")
    dish = models.ForeignKey(Dish, on_delete=models.PROTECT, related_name="+")
    price = models.DecimalField(_("价格（元）"), max_digits=7, decimal_places=2)
    portions = models.PositiveIntegerField(_("限量份数"), null=True, blank=True)
    sold = models.PositiveIntegerField(_("已订份数"), default=0)
    per_person_max = models.PositiveSmallIntegerField(_("每人限订"), default=2)
    takeaway = models.BooleanField(_("外带套餐"), default=False)
    position = models.PositiveSmallIntegerField(default=0)

    scope_org_field = "menu__org"

    class Meta:
        verbose_name = _("菜单菜品")
        verbose_name_plural = _("菜单菜品")
        ordering = ["menu_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["menu", "dish"], name="menuitem_unique_dish"),
            models.CheckConstraint(
                condition=Q(portions__isnull=True) | Q(sold__lte=F("portions")),
                name="menuitem_not_oversold",
            ),
            models.CheckConstraint(condition=Q(per_person_max__gt=0), name="menuitem_per_person"),
        ]
        indexes = [models.Index(fields=["dish", "menu"], name="menuitem_dish_menu")]

    def __str__(self) -> str:
        return f"{self.menu} · {self.dish}"

    @property
    def remaining(self) -> int | None:
        return None if self.portions is None else max(self.portions - self.sold, 0)


class Reservation(TimestampedModel):
    """报餐: one person's place at one meal, eat-in or take-away, with the limited
    dishes they pre-ordered (``lines``) and the code they show at the counter."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")  # the canteen's
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="+")
    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="reservations")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    person_org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("编号"), max_length=20, unique=True)
    kind = models.CharField(
        _("方式"), max_length=10, choices=ReservationKind.choices, default=ReservationKind.EAT_IN
    )
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=ReservationStatus.choices,
        default=ReservationStatus.RESERVED,
    )
    pickup_at = models.DateTimeField(_("取餐时段"), null=True, blank=True)  # take-away only
    pickup_code = models.CharField(_("取餐码"), max_length=6)  # 6 digits, unique per menu
    amount = models.DecimalField(_("金额（元）"), max_digits=8, decimal_places=2, default=0)
    served_at = models.DateTimeField(null=True, blank=True)
    served_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    client_key = models.CharField(max_length=64, null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("报餐")
        verbose_name_plural = _("报餐")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["menu", "person"],
                condition=Q(status__in=HOLDING),
                name="reservation_one_per_meal",
            ),
            models.UniqueConstraint(
                fields=["menu", "pickup_code"],
                condition=Q(status__in=HOLDING),
                name="reservation_code_unique",
            ),
            models.UniqueConstraint(
                fields=["person", "client_key"],
                condition=Q(client_key__isnull=False),
                name="reservation_client_key",
            ),
        ]
        indexes = [
            models.Index(fields=["menu", "status"], name="reservation_menu_status"),
            models.Index(fields=["person", "created_at"], name="reservation_person"),
            models.Index(fields=["org", "status", "created_at"], name="reservation_org_status"),
        ]

    def __str__(self) -> str:
        return self.number


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    menu_item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="lines")
    quantity = models.PositiveSmallIntegerField(_("份数"))
    price = models.DecimalField(_("单价（元）"), max_digits=7, decimal_places=2)

    scope_org_field = "reservation__org"

    class Meta:
        verbose_name = _("预订菜品")
        verbose_name_plural = _("预订菜品")
        constraints = [
            models.UniqueConstraint(fields=["reservation", "menu_item"], name="line_unique_item"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
        ]


class VoucherBatch(TimestampedModel):
    """Meal vouchers (餐券) an organiser issues for visitors or a meeting; the issuer's
    unit is charged. Each voucher feeds one guest once."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")  # the canteen's
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="+")
    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="voucher_batches")
    issuer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(
        ORG, verbose_name=_("结算单位"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(_("用途"), max_length=10, choices=VoucherPurpose.choices)
    guest = models.CharField(_("来宾/会议"), max_length=100)
    count = models.PositiveSmallIntegerField(_("张数"))
    booking = models.ForeignKey(
        "bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(_("编号"), max_length=20, unique=True)
    client_key = models.CharField(max_length=64, null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("餐券")
        verbose_name_plural = _("餐券")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(count__gt=0), name="voucherbatch_count_positive"),
            models.UniqueConstraint(
                fields=["issuer", "client_key"],
                condition=Q(client_key__isnull=False),
                name="voucherbatch_client_key",
            ),
        ]
        indexes = [models.Index(fields=["org", "created_at"], name="voucherbatch_org")]


class Voucher(models.Model):
    batch = models.ForeignKey(VoucherBatch, on_delete=models.CASCADE, related_name="vouchers")
    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="vouchers")
    code = models.CharField(_("券码"), max_length=8)  # 8 digits: never a pickup code
    status = models.CharField(
        _("状态"), max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "menu__org"

    class Meta:
        verbose_name = _("餐券券码")
        verbose_name_plural = _("餐券券码")
        constraints = [
            models.UniqueConstraint(fields=["menu", "code"], name="voucher_code_unique"),
        ]
        indexes = [models.Index(fields=["menu", "status"], name="voucher_menu_status")]


class DishRating(TimestampedModel):
    """A diner's stars (1–5) and comment on a dish of a meal they were served."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="+")
    menu_item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="ratings")
    dish = models.ForeignKey(Dish, on_delete=models.PROTECT, related_name="ratings")
    day = models.DateField()  # the menu's day (weekly best and worst without a join)
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    stars = models.PositiveSmallIntegerField(_("评分"))
    comment = models.CharField(_("评价"), max_length=300, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("菜品评价")
        verbose_name_plural = _("菜品评价")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["menu_item", "person"], name="rating_once"),
            models.CheckConstraint(
                condition=Q(stars__gte=1) & Q(stars__lte=5), name="rating_stars_range"
            ),
        ]
        indexes = [
            models.Index(fields=["org", "day"], name="rating_org_day"),
            models.Index(fields=["dish", "day"], name="rating_dish_day"),
        ]


# --- food-safety logs --------------------------------------------------------------------


class SafetyLog(TimestampedModel):
    """What every food-safety log has: where, when, who, the verdict of the standard's
    record rules, and the finding a non-blocking failure opened (the closed loop)."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("记录时间"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    passed = models.BooleanField(_("符合"), default=True)
    finding = models.ForeignKey(
        "inspections.Finding", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_org_field = "org"

    class Meta:
        abstract = True
        ordering = ["-recorded_at", "-id"]


class ColdUnit(models.Model):
    """A fridge or freezer whose temperature is logged; ``sample`` is the dedicated
    food-sample fridge (JG-ST C1/C2)."""

    canteen = models.ForeignKey(Canteen, on_delete=models.CASCADE, related_name="cold_units")
    name = models.CharField(_("名称"), max_length=60)
    kind = models.CharField(_("类型"), max_length=10, choices=ColdUnitKind.choices)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "canteen__org"

    class Meta:
        verbose_name = _("冷藏冷冻设备")
        verbose_name_plural = _("冷藏冷冻设备")
        ordering = ["canteen_id", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "name"], name="coldunit_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class FoodSample(SafetyLog):
    """留样: one dish of one meal, weighed, sealed, kept in the sample fridge until
    ``keep_until`` (JG-ST C1); removed no earlier."""

    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="samples")
    menu_item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="samples")
    dish = models.ForeignKey(Dish, on_delete=models.PROTECT, related_name="+")
    weight_g = models.DecimalField(_("留样重量（g）"), max_digits=6, decimal_places=1)
    keep_until = models.DateTimeField(_("保存至"))
    fridge = models.ForeignKey(ColdUnit, on_delete=models.PROTECT, related_name="+")
    sealed = models.BooleanField(_("密封"), default=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)  # the removal reminder

    class Meta(SafetyLog.Meta):
        verbose_name = _("留样记录")
        verbose_name_plural = _("留样记录")
        constraints = [models.UniqueConstraint(fields=["menu_item"], name="sample_once")]
        indexes = [
            models.Index(fields=["org", "recorded_at"], name="sample_org_at"),
            models.Index(fields=["removed_at", "keep_until"], name="sample_due"),
        ]


class TemperatureLog(SafetyLog):
    unit = models.ForeignKey(ColdUnit, on_delete=models.PROTECT, related_name="logs")
    temp_c = models.DecimalField(_("温度（℃）"), max_digits=5, decimal_places=1)

    class Meta(SafetyLog.Meta):
        verbose_name = _("冷藏冷冻温度记录")
        verbose_name_plural = _("冷藏冷冻温度记录")
        indexes = [models.Index(fields=["org", "recorded_at"], name="templog_org_at")]


class Disinfection(SafetyLog):
    """餐用具消毒: what each method must reach is the standard's (JG-ST C3), so the
    fields that matter depend on ``method``."""

    method = models.CharField(_("消毒方式"), max_length=12, choices=DisinfectionMethod.choices)
    items = models.CharField(_("消毒物品"), max_length=100)
    temp_c = models.DecimalField(
        _("温度（℃）"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    minutes = models.DecimalField(
        _("时长（分钟）"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    rinse_temp_c = models.DecimalField(
        _("冲洗水温（℃）"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    rinse_seconds = models.PositiveIntegerField(_("冲洗时长（秒）"), null=True, blank=True)
    chlorine_mg_l = models.PositiveIntegerField(_("有效氯（mg/L）"), null=True, blank=True)
    fully_immersed = models.BooleanField(_("完全浸没"), null=True, blank=True)

    class Meta(SafetyLog.Meta):
        verbose_name = _("餐用具消毒记录")
        verbose_name_plural = _("餐用具消毒记录")
        indexes = [models.Index(fields=["org", "recorded_at"], name="disinfection_org_at")]


class ReceivingCheck(SafetyLog):
    """进货查验 (食品安全法 第五十三条, JG-ST C12): supplier, certificate, batch."""

    supplier = models.CharField(_("供货者"), max_length=100)
    supplier_licence = models.CharField(_("供货者许可证号"), max_length=60, blank=True)
    item = models.CharField(_("品名"), max_length=60)
    spec = models.CharField(_("规格"), max_length=60, blank=True)
    quantity = models.DecimalField(_("数量"), max_digits=9, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=10, default="kg")
    batch_no = models.CharField(_("生产批号"), max_length=60, blank=True)
    production_date = models.DateField(_("生产日期"), null=True, blank=True)
    best_before = models.DateField(_("保质期至"), null=True, blank=True)
    certificate_no = models.CharField(_("合格证明编号"), max_length=60, blank=True)
    accepted = models.BooleanField(_("验收通过"), default=True)
    reject_reason = models.CharField(_("拒收原因"), max_length=200, blank=True)

    class Meta(SafetyLog.Meta):
        verbose_name = _("进货查验记录")
        verbose_name_plural = _("进货查验记录")
        indexes = [models.Index(fields=["org", "recorded_at"], name="receiving_org_at")]


class FoodHandler(VersionedModel):
    """A canteen employee and their health certificate (健康证明, 食品安全法 第四十五条)."""

    org = models.ForeignKey(ORG, on_delete=models.PROTECT, related_name="+")
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="handlers")
    user = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(_("姓名"), max_length=40)
    post = models.CharField(_("岗位"), max_length=40, blank=True)
    handles_ready_to_eat = models.BooleanField(_("接触直接入口食品"), default=True)
    certificate_no = models.CharField(_("健康证明编号"), max_length=40)
    issued_on = models.DateField(_("发证日期"))
    expires_on = models.DateField(_("有效期至"))
    # The expiry date the last alert was sent for (one alert per certificate).
    alerted_for = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(_("在岗"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("从业人员")
        verbose_name_plural = _("从业人员")
        ordering = ["canteen_id", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(issued_on__lt=F("expires_on")), name="handler_certificate_dates"
            )
        ]
        indexes = [models.Index(fields=["is_active", "expires_on"], name="handler_expiry")]

    def __str__(self) -> str:
        return self.name


class HealthCheck(SafetyLog):
    """晨检: a handler fit for duty today, judged by JG-ST C7 (certificate in date)."""

    handler = models.ForeignKey(FoodHandler, on_delete=models.PROTECT, related_name="checks")
    day = models.DateField()
    healthy = models.BooleanField(_("身体状况正常"), default=True)
    symptoms = models.CharField(_("症状"), max_length=100, blank=True)

    class Meta(SafetyLog.Meta):
        verbose_name = _("晨检记录")
        verbose_name_plural = _("晨检记录")
        constraints = [
            models.UniqueConstraint(fields=["handler", "day"], name="healthcheck_once_a_day")
        ]
        indexes = [models.Index(fields=["org", "day"], name="healthcheck_org_day")]


class WasteLog(SafetyLog):
    """A weighing: kitchen waste, tray returns, unsold food thrown away or trimmings
    reused, per meal when known (JG-ST C10 ledger)."""

    day = models.DateField(_("日期"))
    meal = models.CharField(_("餐次"), max_length=10, choices=Meal.choices, blank=True)
    kind = models.CharField(_("类别"), max_length=10, choices=WasteKind.choices)
    weight_kg = models.DecimalField(_("重量（kg）"), max_digits=7, decimal_places=2)

    class Meta(SafetyLog.Meta):
        verbose_name = _("称重记录")
        verbose_name_plural = _("称重记录")
        indexes = [models.Index(fields=["org", "day"], name="wastelog_org_day")]


class WasteDay(SafetyLog):
    """每日浪费评估 (JG-ST C9): the day's weighings summed, per diner."""

    day = models.DateField(_("日期"))
    diners = models.PositiveIntegerField(_("就餐人数"))
    kitchen_waste_kg = models.DecimalField(max_digits=8, decimal_places=2)
    unsold_discarded_kg = models.DecimalField(max_digits=8, decimal_places=2)
    tray_waste_kg = models.DecimalField(max_digits=8, decimal_places=2)
    trimmings_reused_kg = models.DecimalField(max_digits=8, decimal_places=2)
    # the standard's 餐盘回收浪费率, measured as tray leftovers per diner (g)
    tray_waste_per_diner_g = models.DecimalField(max_digits=7, decimal_places=1)

    class Meta(SafetyLog.Meta):
        verbose_name = _("每日浪费评估")
        verbose_name_plural = _("每日浪费评估")
        constraints = [models.UniqueConstraint(fields=["canteen", "day"], name="wasteday_once")]
        indexes = [models.Index(fields=["org", "day"], name="wasteday_org_day")]
