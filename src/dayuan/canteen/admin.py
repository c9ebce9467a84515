"""Admin for the canteen. The configuration (canteens, their meal periods, dishes and
fridges) may be corrected here by an administrator; what people and the kitchen
record — menus, reservations, vouchers, ratings, the food-safety and waste logs — goes
through the services (scoped, audited, judged by the standard), so those pages only
look."""

from django.contrib import admin

from dayuan.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Canteen,
    ColdUnit,
    Dish,
    DishRating,
    Disinfection,
    FoodHandler,
    FoodSample,
    HealthCheck,
    MealPeriod,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    ReservationLine,
    TemperatureLog,
    Voucher,
    VoucherBatch,
    WasteDay,
    WasteLog,
)

# --- configuration (editable) -----------------------------------------------------------


class MealPeriodInline(admin.TabularInline):
    model = MealPeriod
    extra = 0
    max_num = 3
    fields = [
        "meal",
        "serve_start",
        "serve_end",
        "reserve_cutoff_minutes",
        "cancel_cutoff_minutes",
        "eat_in_price",
    ]


class ColdUnitInline(admin.TabularInline):
    model = ColdUnit
    extra = 0
    fields = ["name", "kind", "is_active"]


@admin.register(Canteen)
class CanteenAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "operator", "location", "kitchen", "seats", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "org__name", "operator__name"]
    list_select_related = ["org", "operator", "location", "kitchen"]
    raw_id_fields = ["org", "operator", "location", "kitchen"]
    readonly_fields = ["version", "created_at", "updated_at"]
    inlines = [MealPeriodInline, ColdUnitInline]


@admin.register(Dish)
class DishAdmin(admin.ModelAdmin):
    list_display = ["name", "canteen", "category", "region", "price", "is_active"]
    list_filter = ["category", "is_active", "canteen"]
    search_fields = ["name", "region", "description"]
    list_select_related = ["canteen"]
    raw_id_fields = ["org", "canteen"]
    readonly_fields = ["version", "created_at", "updated_at"]


@admin.register(ColdUnit)
class ColdUnitAdmin(admin.ModelAdmin):
    list_display = ["name", "canteen", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "canteen__name"]
    list_select_related = ["canteen"]


# --- what is recorded (read-only) ---------------------------------------------------------


class MenuItemInline(ReadOnlyInline):
    model = MenuItem
    fields = ["dish", "price", "portions", "sold", "per_person_max", "takeaway", "position"]


@admin.register(Menu)
class MenuAdmin(ReadOnlyAdmin):
    list_display = [
        "canteen",
        "day",
        "meal",
        "status",
        "reserved_count",
        "walk_ins",
        "diners",
        "capacity",
    ]
    list_filter = ["status", "meal", "canteen"]
    date_hierarchy = "day"
    list_select_related = ["canteen"]
    inlines = [MenuItemInline]


class ReservationLineInline(ReadOnlyInline):
    model = ReservationLine
    fields = ["menu_item", "quantity", "price"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["number", "canteen", "menu", "person", "kind", "status", "amount"]
    list_filter = ["status", "kind", "canteen"]
    search_fields = ["number", "person__username", "person__display_name"]
    date_hierarchy = "created_at"
    list_select_related = ["canteen", "menu", "person"]
    exclude = ["pickup_code", "client_key"]  # the code hands the meal over: not for display
    inlines = [ReservationLineInline]


class VoucherInline(ReadOnlyInline):
    model = Voucher
    fields = ["status", "redeemed_at", "redeemed_by"]  # not the codes: each feeds a guest


@admin.register(VoucherBatch)
class VoucherBatchAdmin(ReadOnlyAdmin):
    list_display = ["number", "canteen", "menu", "issuer", "unit", "purpose", "guest", "count"]
    list_filter = ["purpose", "canteen"]
    search_fields = ["number", "guest", "issuer__username"]
    list_select_related = ["canteen", "menu", "issuer", "unit"]
    exclude = ["client_key"]
    inlines = [VoucherInline]


@admin.register(DishRating)
class DishRatingAdmin(ReadOnlyAdmin):
    list_display = ["dish", "day", "person", "stars", "comment"]
    list_filter = ["stars", "canteen"]
    search_fields = ["dish__name", "comment"]
    date_hierarchy = "day"
    list_select_related = ["dish", "person"]


@admin.register(FoodHandler)
class FoodHandlerAdmin(ReadOnlyAdmin):
    list_display = ["name", "canteen", "post", "certificate_no", "expires_on", "is_active"]
    list_filter = ["is_active", "handles_ready_to_eat", "canteen"]
    search_fields = ["name", "certificate_no"]
    list_select_related = ["canteen"]


class SafetyLogAdmin(ReadOnlyAdmin):
    """What every food-safety and waste log lists: where, when, who, the verdict."""

    list_filter = ["passed", "canteen"]
    date_hierarchy = "recorded_at"
    list_select_related = ["canteen", "recorded_by"]


@admin.register(FoodSample)
class FoodSampleAdmin(SafetyLogAdmin):
    list_display = ["dish", "menu", "weight_g", "fridge", "keep_until", "removed_at", "passed"]
    list_select_related = ["dish", "menu", "fridge", "canteen"]
    search_fields = ["dish__name"]


@admin.register(TemperatureLog)
class TemperatureLogAdmin(SafetyLogAdmin):
    list_display = ["unit", "temp_c", "recorded_at", "recorded_by", "passed"]
    list_select_related = ["unit", "recorded_by", "canteen"]


@admin.register(Disinfection)
class DisinfectionAdmin(SafetyLogAdmin):
    list_display = ["canteen", "method", "items", "recorded_at", "recorded_by", "passed"]
    list_filter = ["method", "passed", "canteen"]


@admin.register(ReceivingCheck)
class ReceivingCheckAdmin(SafetyLogAdmin):
    list_display = ["item", "supplier", "quantity", "unit", "recorded_at", "accepted", "passed"]
    list_filter = ["accepted", "passed", "canteen"]
    search_fields = ["item", "supplier", "batch_no"]


@admin.register(HealthCheck)
class HealthCheckAdmin(SafetyLogAdmin):
    list_display = ["handler", "day", "healthy", "symptoms", "recorded_by", "passed"]
    list_filter = ["healthy", "passed", "canteen"]
    list_select_related = ["handler", "recorded_by", "canteen"]


@admin.register(WasteLog)
class WasteLogAdmin(SafetyLogAdmin):
    list_display = ["canteen", "day", "meal", "kind", "weight_kg", "recorded_by"]
    list_filter = ["kind", "meal", "canteen"]


@admin.register(WasteDay)
class WasteDayAdmin(SafetyLogAdmin):
    list_display = [
        "canteen",
        "day",
        "diners",
        "kitchen_waste_kg",
        "unsold_discarded_kg",
        "tray_waste_kg",
        "tray_waste_per_diner_g",
        "passed",
    ]
