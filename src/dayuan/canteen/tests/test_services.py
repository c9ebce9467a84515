"""Canteen set-up services: canteens (the three default meal periods, the kitchen tagged
后厨 for its daily checks), meal periods, dishes (choices checked, one name per canteen,
photos re-encoded like room photos), who may do it (a manager of the canteen's org;
staff and the kitchen are refused, another county does not see it) and the audit log."""

from __future__ import annotations

import io
from datetime import time
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind
from dayuan.workorders.tests.core_factories import gps_jpeg, image_bytes, upload

from .. import services
from ..choices import KITCHEN_TAG, DishCategory, DishTag, Meal
from ..models import Canteen, Dish, MealPeriod

pytestmark = pytest.mark.django_db


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


def new_canteen(cw, user="a_manager", **data):
    world = cw.world
    hall = make_location(world.county_a, "二号食堂", LocationKind.BUILDING)
    kitchen = make_location(world.county_a, "二号后厨", LocationKind.ROOM, hall, tags=["厨房"])
    fields = {"name": "二号食堂", "kitchen_id": kitchen.pk, **data}
    canteen = services.save_canteen(
        actor=cw.user(user), org_id=world.county_a.pk, location_id=hall.pk, data=fields
    )
    return canteen, kitchen


# --- canteens -----------------------------------------------------------------------------


def test_a_new_canteen_gets_the_three_meal_periods_and_a_tagged_kitchen(cw):
    canteen, kitchen = new_canteen(cw, operator_id=cw.world.vendor.pk, seats=120)
    canteen.refresh_from_db()
    assert (canteen.name, canteen.seats, canteen.operator_id) == (
        "二号食堂",
        120,
        cw.world.vendor.pk,
    )
    periods = {p.meal: p for p in MealPeriod.objects.filter(canteen=canteen)}
    assert set(periods) == {Meal.BREAKFAST, Meal.LUNCH, Meal.DINNER}
    lunch = periods[Meal.LUNCH]
    assert (lunch.serve_start, lunch.serve_end) == (time(11, 30), time(13, 0))
    assert (lunch.reserve_cutoff_minutes, lunch.cancel_cutoff_minutes) == (120, 150)
    assert lunch.eat_in_price == Decimal("8.00")
    breakfast, dinner = periods[Meal.BREAKFAST], periods[Meal.DINNER]
    assert (breakfast.reserve_cutoff_minutes, breakfast.eat_in_price) == (600, Decimal("3.00"))
    assert (dinner.serve_start, dinner.cancel_cutoff_minutes) == (time(17, 30), 210)
    kitchen.refresh_from_db()
    assert kitchen.tags == ["厨房", KITCHEN_TAG] and kitchen.version == 2
    entry = entries("canteen.save_canteen").last()
    assert entry.object_id == str(canteen.pk) and entry.org_id == cw.world.county_a.pk
    assert entry.changes["name"] == [None, "二号食堂"]
    assert entry.changes["kitchen_tagged"] == KITCHEN_TAG
    assert entry.changes["meal_periods"] == ["breakfast", "lunch", "dinner"]


def test_a_kitchen_already_tagged_is_left_alone(cw):
    canteen = cw.canteens["a"]
    services.save_canteen(
        actor=cw.user("a_manager"), canteen_id=canteen.pk, data={"kitchen_id": canteen.kitchen_id}
    )
    canteen.kitchen.refresh_from_db()
    assert canteen.kitchen.tags.count(KITCHEN_TAG) == 1 and canteen.kitchen.version == 1


def test_editing_keeps_what_is_not_sent_and_checks_the_version(cw):
    canteen = cw.canteens["a"]
    saved = services.save_canteen(
        actor=cw.user("a_manager"),
        canteen_id=canteen.pk,
        data={"takeaway_slot_minutes": 30, "no_show_grace_minutes": 0},
        version=1,
    )
    saved.refresh_from_db()
    assert (saved.takeaway_slot_minutes, saved.no_show_grace_minutes) == (30, 0)
    assert (saved.name, saved.seats, saved.version) == (canteen.name, 300, 2)
    assert MealPeriod.objects.filter(canteen=canteen).count() == 3  # not added again
    entry = entries("canteen.save_canteen").last()
    assert entry.changes == {
        "no_show_grace_minutes": [30, 0],
        "takeaway_slot_minutes": [15, 30],
        "version": [1, 2],
    }
    with pytest.raises(StaleVersion):
        services.save_canteen(
            actor=cw.user("a_manager"), canteen_id=canteen.pk, data={"seats": 10}, version=1
        )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("takeaway_slot_minutes", 4),
        ("takeaway_slot_minutes", 61),
        ("voucher_batch_max", 0),
        ("voucher_batch_max", 501),
        ("no_show_grace_minutes", -1),
        ("no_show_grace_minutes", 241),
        ("seats", 0),
        ("seats", True),
        ("seats", "many"),
    ],
)
def test_settings_out_of_range_are_refused(cw, key, value):
    canteen = cw.canteens["a"]
    with pytest.raises(InvalidInput) as exc:
        services.save_canteen(actor=cw.user("a_manager"), canteen_id=canteen.pk, data={key: value})
    assert exc.value.code == "out_of_range" and exc.value.details["field"] == key
    canteen.refresh_from_db()
    assert canteen.version == 1


def test_the_limits_themselves_are_accepted(cw):
    canteen = services.save_canteen(
        actor=cw.user("a_manager"),
        canteen_id=cw.canteens["a"].pk,
        data={
            "takeaway_slot_minutes": 5,
            "voucher_batch_max": 500,
            "no_show_grace_minutes": 240,
        },
    )
    assert (canteen.takeaway_slot_minutes, canteen.voucher_batch_max) == (5, 500)


def test_bad_fields_are_refused_by_name(cw):
    manager = cw.user("a_manager")
    canteen = cw.canteens["a"]
    b_hall = cw.canteens["b"].location
    cases = [
        ({"location_id": b_hall.pk}, "invalid_location", "location_id"),
        ({"data": {"kitchen_id": cw.canteens["b"].kitchen_id}}, "invalid_location", "kitchen_id"),
        ({"data": {"operator_id": cw.world.county_b.pk}}, "invalid_operator", "operator_id"),
        ({"data": {"name": "  "}}, "required", "name"),
        ({"data": {"colour": "red"}}, "unknown_field", "colour"),
        ({"org_id": cw.world.county_b.pk}, "org_fixed", "org_id"),
    ]
    for kwargs, code, field in cases:
        kwargs = {"data": {}, **kwargs}
        with pytest.raises(InvalidInput) as exc:
            services.save_canteen(actor=manager, canteen_id=canteen.pk, **kwargs)
        assert (exc.value.code, exc.value.details["field"]) == (code, field)
    with pytest.raises(InvalidInput) as exc:
        services.save_canteen(actor=manager, org_id=cw.world.county_a.pk, data={"name": "x"})
    assert exc.value.details["field"] == "location_id"


def test_the_operator_can_be_cleared_and_the_kitchen_unset(cw):
    canteen = services.save_canteen(
        actor=cw.user("a_manager"),
        canteen_id=cw.canteens["a"].pk,
        data={"operator_id": None, "kitchen_id": None, "is_active": False},
    )
    canteen.refresh_from_db()
    assert canteen.operator_id is None and canteen.kitchen_id is None and not canteen.is_active


def test_staff_and_the_kitchen_cannot_manage_a_canteen(cw):
    canteen = cw.canteens["a"]
    for name in ("a_staff", "vendor_worker", "a_dispatcher"):
        with pytest.raises(PermissionDenied):
            services.save_canteen(actor=cw.user(name), canteen_id=canteen.pk, data={"seats": 1})
    with pytest.raises(PermissionDenied):
        new_canteen(cw, user="a_staff")
    canteen.refresh_from_db()
    assert canteen.seats == 300 and canteen.version == 1
    refused = entries("canteen.save_canteen", Outcome.REFUSED).last()
    assert refused.reason.startswith("permission_denied")


def test_another_county_sees_no_canteen_and_nothing_changes(cw):
    canteen = cw.canteens["a"]
    b = cw.user("b_manager")
    with pytest.raises(NotFound):
        services.save_canteen(actor=b, canteen_id=canteen.pk, data={"name": "乙县接管"})
    with pytest.raises(NotFound):
        services.save_canteen(
            actor=b,
            org_id=cw.world.county_a.pk,
            location_id=canteen.location_id,
            data={"name": "乙县新建"},
        )
    with pytest.raises(NotFound):
        services.save_meal_period(
            actor=b,
            canteen_id=canteen.pk,
            meal=Meal.LUNCH,
            serve_start=time(11),
            serve_end=time(12),
            reserve_cutoff_minutes=60,
            cancel_cutoff_minutes=60,
            eat_in_price=Decimal("1"),
        )
    canteen.refresh_from_db()
    assert canteen.name == "甲县机关食堂" and canteen.version == 1
    assert Canteen.objects.count() == 2
    assert MealPeriod.objects.get(canteen=canteen, meal=Meal.LUNCH).serve_start == time(11, 30)
    edit, create = entries("canteen.save_canteen", Outcome.REFUSED)
    assert edit.reason.startswith("not_found") and edit.org_id == cw.world.county_b.pk
    assert edit.changes["target"] == {"canteen_id": canteen.pk}
    assert create.changes["target"]["org_id"] == cw.world.county_a.pk


def test_the_city_manages_every_county(cw):
    for key in ("a", "b"):
        canteen = services.save_canteen(
            actor=cw.user("city_manager"), canteen_id=cw.canteens[key].pk, data={"seats": 99}
        )
        assert canteen.seats == 99


# --- meal periods ---------------------------------------------------------------------------


def period(cw, user="a_manager", key="a", **kw):
    args = {
        "meal": Meal.LUNCH,
        "serve_start": time(12, 0),
        "serve_end": time(13, 30),
        "reserve_cutoff_minutes": 60,
        "cancel_cutoff_minutes": 90,
        "eat_in_price": Decimal("9.50"),
        **kw,
    }
    return services.save_meal_period(actor=cw.user(user), canteen_id=cw.canteens[key].pk, **args)


def test_a_meal_period_is_changed_and_audited(cw):
    p = period(cw, serve_start="12:00")
    p.refresh_from_db()
    assert (p.serve_start, p.serve_end, p.reserve_cutoff_minutes) == (time(12), time(13, 30), 60)
    assert p.eat_in_price == Decimal("9.50")
    assert MealPeriod.objects.filter(canteen=cw.canteens["a"]).count() == 3
    entry = entries("canteen.save_meal_period").last()
    assert entry.org_id == cw.world.county_a.pk
    assert entry.changes["serve_start"] == ["11:30:00", "12:00:00"]


def test_a_missing_meal_period_is_created(cw):
    MealPeriod.objects.filter(canteen=cw.canteens["a"], meal=Meal.DINNER).delete()
    p = period(cw, meal=Meal.DINNER, serve_start=time(17), serve_end=time(18))
    assert p.pk and MealPeriod.objects.filter(canteen=cw.canteens["a"]).count() == 3


@pytest.mark.parametrize(
    ("kw", "code", "field"),
    [
        ({"serve_start": time(13, 30)}, "invalid_hours", "serve_end"),
        ({"serve_start": "noon"}, "invalid_time", "serve_start"),
        ({"cancel_cutoff_minutes": 30}, "bad_deadlines", "cancel_cutoff_minutes"),
        ({"reserve_cutoff_minutes": -1}, "out_of_range", "reserve_cutoff_minutes"),
        ({"eat_in_price": Decimal("-1")}, "invalid_price", "eat_in_price"),
        ({"eat_in_price": Decimal("1000")}, "invalid_price", "eat_in_price"),
        ({"eat_in_price": "3.333"}, "invalid_price", "eat_in_price"),
        ({"meal": "supper"}, "invalid_meal", "meal"),
    ],
)
def test_bad_meal_periods_are_refused(cw, kw, code, field):
    with pytest.raises(InvalidInput) as exc:
        period(cw, **kw)
    assert (exc.value.code, exc.value.details["field"]) == (code, field)
    assert MealPeriod.objects.get(canteen=cw.canteens["a"], meal=Meal.LUNCH).serve_start == time(
        11, 30
    )


def test_staff_cannot_change_a_meal_period(cw):
    with pytest.raises(PermissionDenied):
        period(cw, user="a_staff")


# --- dishes -------------------------------------------------------------------------------


def dish(cw, user="a_manager", key="a", **data):
    fields = {"name": "宁波汤圆", "category": DishCategory.SNACK, "price": "4.5", **data}
    return services.save_dish(actor=cw.user(user), canteen_id=cw.canteens[key].pk, data=fields)


def test_a_dish_is_added_with_its_tags_and_allergens_sorted(cw):
    d = dish(
        cw,
        tags=[DishTag.VEGETARIAN, DishTag.BAIXIAN, DishTag.VEGETARIAN],
        allergens=["peanut", "gluten"],
        region=" 宁波 ",
        description="黑芝麻馅",
    )
    d.refresh_from_db()
    assert (d.org_id, d.canteen_id, d.price) == (
        cw.world.county_a.pk,
        cw.canteens["a"].pk,
        Decimal("4.50"),
    )
    assert d.tags == ["baixian", "vegetarian"] and d.allergens == ["gluten", "peanut"]
    assert (d.region, d.is_active, d.version) == ("宁波", True, 1)
    entry = entries("canteen.save_dish").last()
    assert entry.object_id == str(d.pk) and entry.changes["name"] == [None, "宁波汤圆"]


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"tags": ["baixian", "michelin"]}, "invalid_tag", "tags"),
        ({"tags": "baixian"}, "invalid_tag", "tags"),
        ({"allergens": ["shellfish"]}, "invalid_allergen", "allergens"),
        ({"category": "dessert"}, "invalid_category", "category"),
        ({"price": "-0.01"}, "invalid_price", "price"),
        ({"price": "999.01"}, "invalid_price", "price"),
        ({"price": "free"}, "invalid_price", "price"),
        ({"name": ""}, "required", "name"),
        ({"name": "长" * 61}, "too_long", "name"),
        ({"description": "长" * 301}, "too_long", "description"),
        ({"spicy": True}, "unknown_field", "spicy"),
    ],
)
def test_bad_dishes_are_refused(cw, data, code, field):
    with pytest.raises(InvalidInput) as exc:
        dish(cw, **data)
    assert (exc.value.code, exc.value.details["field"]) == (code, field)
    assert not Dish.objects.filter(name="宁波汤圆").exists()


def test_a_dish_needs_a_name_and_a_category(cw):
    with pytest.raises(InvalidInput) as exc:
        services.save_dish(
            actor=cw.user("a_manager"), canteen_id=cw.canteens["a"].pk, data={"name": "汤圆"}
        )
    assert exc.value.code == "required" and exc.value.details["field"] == "category"


def test_a_dish_name_is_unique_in_its_canteen_only(cw):
    with pytest.raises(Conflict) as exc:
        dish(cw, name="东坡肉")
    assert exc.value.code == "dish_exists" and exc.value.details["field"] == "name"
    assert Dish.objects.filter(canteen=cw.canteens["a"], name="东坡肉").count() == 1
    renamed = cw.dish("a:fish")
    with pytest.raises(Conflict) as exc:
        services.save_dish(actor=cw.user("a_manager"), dish_id=renamed.pk, data={"name": "米饭"})
    assert exc.value.code == "dish_exists"
    # another county's canteen may have its own 东坡肉 (it has one already)
    assert dish(cw, user="b_manager", key="b", name="宁波汤圆").canteen_id == cw.canteens["b"].pk


def test_a_dish_is_edited_with_its_version(cw):
    d = cw.dish("a:greens")
    saved = services.save_dish(
        actor=cw.user("a_manager"),
        dish_id=d.pk,
        data={"price": 3.5, "is_active": False, "tags": []},
        version=1,
    )
    saved.refresh_from_db()
    assert (saved.price, saved.is_active, saved.tags, saved.name) == (
        Decimal("3.50"),
        False,
        [],
        "清炒时蔬",
    )
    assert saved.version == 2
    with pytest.raises(StaleVersion):
        services.save_dish(actor=cw.user("a_manager"), dish_id=d.pk, data={}, version=1)


def test_dishes_of_another_county_do_not_exist_for_its_manager(cw):
    d = cw.dish("a:dongpo")
    with pytest.raises(NotFound):
        services.save_dish(actor=cw.user("b_manager"), dish_id=d.pk, data={"price": "1"})
    with pytest.raises(NotFound):
        dish(cw, user="b_manager", key="a")
    with pytest.raises(NotFound):  # the dish is not in the canteen named
        services.save_dish(
            actor=cw.user("a_manager"),
            canteen_id=cw.canteens["b"].pk,
            dish_id=d.pk,
            data={"price": "1"},
        )
    d.refresh_from_db()
    assert d.price == Decimal("12.00") and d.version == 1
    with pytest.raises(PermissionDenied):
        services.save_dish(actor=cw.user("a_staff"), dish_id=d.pk, data={"price": "1"})


# --- dish photos --------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored(field) -> Image.Image:
    with field.storage.open(field.name, "rb") as fh:
        img = Image.open(io.BytesIO(fh.read()))
        img.load()
    return img


def set_photo(cw, data=None, name="dish.jpg", **kw) -> Dish:
    return services.save_dish(
        actor=cw.user("a_manager"),
        dish_id=cw.dish("a:dongpo").pk,
        data={},
        photo=upload(data or gps_jpeg(size=(800, 600)), name),
        **kw,
    )


def test_a_photo_is_re_encoded_without_gps_and_gets_a_thumbnail(cw, media):
    d = set_photo(cw)
    d.refresh_from_db()
    assert d.photo.name.startswith("canteen/dishes/") and d.photo.name.endswith(".jpg")
    assert d.photo_thumb.name.startswith("canteen/dishes/thumbs/")
    photo, thumb = stored(d.photo), stored(d.photo_thumb)
    assert len(photo.getexif()) == 0 and not photo.getexif().get_ifd(0x8825)
    assert photo.size == (800, 600) and max(thumb.size) <= 320
    entry = entries("canteen.save_dish").last()
    assert entry.changes["photo"] == [None, d.photo.name]


def test_a_replaced_or_removed_photo_deletes_its_files_after_commit(
    cw, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = set_photo(cw)
    old = [first.photo.name, first.photo_thumb.name]
    with django_capture_on_commit_callbacks(execute=True):
        second = set_photo(cw, data=image_bytes("PNG"), name="b.png")
    assert second.photo.name.endswith(".png")
    assert not any(default_storage.exists(n) for n in old)
    kept = [second.photo.name, second.photo_thumb.name]
    with django_capture_on_commit_callbacks(execute=True):
        services.save_dish(
            actor=cw.user("a_manager"), dish_id=second.pk, data={}, remove_photo=True
        )
    second.refresh_from_db()
    assert not second.photo and not second.photo_thumb
    assert not any(default_storage.exists(n) for n in kept)


def test_not_an_image_is_refused_and_the_old_photo_stays(cw, media):
    d = set_photo(cw)
    before = d.photo.name
    with pytest.raises(InvalidInput) as exc:
        set_photo(cw, data=b"%PDF-1.4 not a picture", name="menu.pdf")
    assert exc.value.code == "invalid_photo"
    d.refresh_from_db()
    assert d.photo.name == before and default_storage.exists(before) and d.version == 2


def test_staff_cannot_set_a_photo(cw, media):
    d = cw.dish("a:dongpo")
    with pytest.raises(PermissionDenied):
        services.save_dish(
            actor=cw.user("a_staff"), dish_id=d.pk, data={}, photo=upload(gps_jpeg())
        )
    d.refresh_from_db()
    assert not d.photo
