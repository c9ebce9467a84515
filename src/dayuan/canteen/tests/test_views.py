"""The canteen pages: they render for each role, forms post through the services, a
refusal is shown with its code, and county B gets 404 on every page and POST of county
A with nothing changed. The clock is Sunday 2026-12-06 16:00 Shanghai: Monday's lunch
is open for reservations (until Monday 09:30) and for cancelling (until 09:00)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.audit.models import AuditEntry

from ..choices import Meal, MenuStatus, ReservationStatus, VoucherStatus
from ..models import (
    Dish,
    DishRating,
    Disinfection,
    FoodHandler,
    FoodSample,
    HealthCheck,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    TemperatureLog,
    Voucher,
    VoucherBatch,
    WasteLog,
)
from .factories import MONDAY, at, build, menu

pytestmark = pytest.mark.django_db

SUNDAY = at(2026, 12, 6, 16, 0)
LUNCH = at(2026, 12, 7, 11, 40)  # Monday's lunch is being served
DAY = MONDAY.isoformat()


class Clock:
    def __init__(self) -> None:
        self.at = SUNDAY

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


@pytest.fixture
def cw(world, clock):
    return build(world)


@pytest.fixture
def lunch(cw):
    return menu(cw, "a", MONDAY, Meal.LUNCH)


def browser(cw, name: str) -> Client:
    c = Client()
    c.force_login(cw.user(name))
    return c


def item(m: Menu, cw, dish: str, key: str = "a") -> MenuItem:
    return m.items.get(dish=cw.dish(f"{key}:{dish}"))


def reserve_form(m: Menu, cw, key: str = "k1", **extra) -> dict[str, str]:
    data = {"client_key": key, "kind": "eat_in", f"qty_{item(m, cw, 'dongpo').pk}": "1"}
    data.update(extra)
    return data


def messages_of(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]] if resp.context else []


# --- diners ------------------------------------------------------------------------------


def test_nav_and_home_show_tomorrows_menu_with_dish_cards(cw, lunch):
    c = browser(cw, "a_staff")
    body = c.get("/").content.decode()
    assert 'data-nav="canteen"' in body and "食堂" in body
    resp = c.get("/canteen/", {"day": DAY})
    page = resp.content.decode()
    assert resp.status_code == 200
    assert 'data-testid="meal-lunch"' in page
    dongpo = item(lunch, cw, "dongpo")
    assert f'data-testid="dish-{dongpo.pk}"' in page
    assert "东坡肉" in page and "百县千碗" in page and "杭州" in page
    assert "过敏原：大豆" in page  # the allergen label
    assert "余 100 份" in page and "不限量" in page
    assert f'href="/canteen/menus/{lunch.pk}/"' in page  # 报餐
    assert "明日" in page  # the day pills: today, tomorrow …


def test_home_hides_drafts_and_other_counties(cw, lunch):
    menu(cw, "a", MONDAY, Meal.DINNER, status=MenuStatus.DRAFT)
    page = browser(cw, "a_staff").get("/canteen/", {"day": DAY}).content.decode()
    assert 'data-testid="meal-dinner"' not in page
    b = browser(cw, "b_staff")
    page_b = b.get("/canteen/", {"day": DAY}).content.decode()
    assert cw.canteens["b"].name in page_b and "东坡肉" not in page_b  # B has no menu
    assert b.get("/canteen/", {"canteen": cw.canteens["a"].pk}).status_code == 404


def test_reserve_eat_in_shows_the_pickup_code_and_qr(cw, lunch):
    c = browser(cw, "a_staff")
    form = c.get(f"/canteen/menus/{lunch.pk}/").content.decode()
    assert 'data-testid="reserve-form"' in form
    dongpo = item(lunch, cw, "dongpo")
    assert f'name="qty_{dongpo.pk}"' in form
    assert f'name="qty_{item(lunch, cw, "rice").pk}"' not in form  # unlimited: self-service
    resp = c.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    r = Reservation.objects.get()
    assert resp["Location"] == f"/canteen/reservations/{r.pk}/"
    assert r.kind == "eat_in" and r.lines.get().quantity == 1
    dongpo.refresh_from_db()
    assert dongpo.sold == 1
    page = c.get(resp["Location"]).content.decode()
    assert f">{r.pickup_code}<" in page and 'data-testid="pickup-qr"' in page and "<svg" in page
    assert 'data-testid="cancel"' in page
    mine = c.get("/canteen/reservations/").content.decode()
    assert f'data-testid="res-{r.number}"' in mine and r.pickup_code in mine
    home = c.get("/canteen/", {"day": DAY}).content.decode()
    assert 'data-testid="mine-lunch"' in home
    # a double tap (same client key) gives the same reservation back
    c.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    assert Reservation.objects.count() == 1


def test_reserve_take_away_with_a_pickup_slot(cw, lunch):
    c = browser(cw, "a_staff")
    box = item(lunch, cw, "box")
    slot = "2026-12-07T12:00"
    page = c.get(f"/canteen/menus/{lunch.pk}/").content.decode()
    assert f'value="{slot}"' in page
    # without a slot the form says so and nothing is written
    resp = c.post(
        f"/canteen/menus/{lunch.pk}/",
        {"client_key": "t0", "kind": "takeaway", f"qty_{box.pk}": "1"},
    )
    assert resp.status_code == 422 and "外带请选择取餐时段" in resp.content.decode()
    assert not Reservation.objects.exists()
    data = {"client_key": "t1", "kind": "takeaway", "pickup_at": slot, f"qty_{box.pk}": "1"}
    # the dish field left from the eat-in half is ignored for a take-away
    data[f"qty_{item(lunch, cw, 'dongpo').pk}"] = "2"
    resp = c.post(f"/canteen/menus/{lunch.pk}/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    r = Reservation.objects.get()
    assert r.kind == "takeaway" and r.pickup_at == at(2026, 12, 7, 12, 0)
    assert [(line.menu_item_id, line.quantity) for line in r.lines.all()] == [(box.pk, 1)]


def test_refusals_show_their_code_and_write_nothing(cw, clock):
    m = menu(cw, "a", MONDAY, Meal.LUNCH, items={"dongpo": 1, "rice": None})
    Reservation.objects.all().delete()
    MenuItem.objects.filter(pk=item(m, cw, "dongpo").pk).update(sold=1)  # sold out
    c = browser(cw, "a_staff")
    resp = c.post(f"/canteen/menus/{m.pk}/", reserve_form(m, cw))
    body = resp.content.decode()
    assert resp.status_code == 409
    assert "已售罄" in body and 'data-code="sold_out"' in body
    assert not Reservation.objects.exists()
    clock.at = at(2026, 12, 7, 10, 0)  # past the 09:30 deadline
    c = browser(cw, "a_staff")  # (a day later the idle session has ended)
    resp = c.post(f"/canteen/menus/{m.pk}/", reserve_form(m, cw, key="k2"))
    body = resp.content.decode()
    assert 'data-testid="closed"' in body  # the page now says reservations are closed
    assert "reservation_closed" in body and "报餐已于" in body
    assert not Reservation.objects.exists()


def test_cancel_within_the_window_then_reserve_again(cw, lunch, clock):
    c = browser(cw, "a_staff")
    c.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    r = Reservation.objects.get()
    resp = c.post(f"/canteen/reservations/{r.pk}/cancel/", follow=True)
    assert "已取消报餐" in " ".join(messages_of(resp))
    r.refresh_from_db()
    assert r.status == ReservationStatus.CANCELLED
    assert item(lunch, cw, "dongpo").sold == 0
    resp = c.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw, key="k2"))
    assert resp.status_code == 302
    again = Reservation.objects.exclude(pk=r.pk).get()
    # after the cancel cut-off (09:00) the button is gone and a POST is refused
    clock.at = at(2026, 12, 7, 9, 10)
    c = browser(cw, "a_staff")
    page = c.get(f"/canteen/reservations/{again.pk}/").content.decode()
    assert 'data-testid="cancel"' not in page and 'data-testid="cancel-closed"' in page
    resp = c.post(f"/canteen/reservations/{again.pk}/cancel/", follow=True)
    text = " ".join(messages_of(resp))
    assert "cancellation_closed" in text
    again.refresh_from_db()
    assert again.status == ReservationStatus.RESERVED


def test_rate_a_dish_after_being_served(cw, lunch, clock):
    c = browser(cw, "a_staff")
    c.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    r = Reservation.objects.get()
    assert 'data-testid="ratings"' not in c.get(f"/canteen/reservations/{r.pk}/").content.decode()
    Reservation.objects.filter(pk=r.pk).update(status=ReservationStatus.SERVED, served_at=LUNCH)
    clock.at = at(2026, 12, 7, 13, 30)
    c = browser(cw, "a_staff")
    page = c.get(f"/canteen/reservations/{r.pk}/").content.decode()
    dongpo = item(lunch, cw, "dongpo")
    assert f'data-testid="rate-{dongpo.pk}"' in page
    resp = c.post(
        f"/canteen/items/{dongpo.pk}/rate/",
        {"stars": "5", "comment": "地道", "next": f"/canteen/reservations/{r.pk}/"},
    )
    assert resp.status_code == 302
    rating = DishRating.objects.get()
    assert rating.stars == 5 and rating.comment == "地道"
    page = c.get(f"/canteen/reservations/{r.pk}/").content.decode()
    assert "★★★★★" in page and f'data-testid="rate-submit-{dongpo.pk}"' not in page
    # twice: refused with its code
    resp = c.post(f"/canteen/items/{dongpo.pk}/rate/", {"stars": "3"}, follow=True)
    assert "already_rated" in " ".join(messages_of(resp))


def test_vouchers_issue_print_and_void(cw, lunch):
    c = browser(cw, "a_staff")
    page = c.get("/canteen/vouchers/").content.decode()
    assert 'data-testid="voucher-form"' in page and f'value="{lunch.pk}"' in page
    resp = c.post(
        "/canteen/vouchers/",
        {
            "client_key": "v1",
            "menu": lunch.pk,
            "count": "3",
            "purpose": "visitor",
            "guest": "省厅调研组",
            "unit": cw.world.county_a.pk,
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    batch = VoucherBatch.objects.get()
    codes = list(batch.vouchers.values_list("code", flat=True))
    sheet = c.get(resp["Location"]).content.decode()
    assert len(codes) == 3 and all(f'data-testid="voucher-{code}"' in sheet for code in codes)
    assert sheet.count("<svg") >= 3
    c.post(f"/canteen/vouchers/{batch.pk}/void/")
    assert set(Voucher.objects.values_list("status", flat=True)) == {VoucherStatus.VOID}
    # too many: refused with the code, nothing written
    resp = c.post(
        "/canteen/vouchers/",
        {"client_key": "v2", "menu": lunch.pk, "count": "400", "purpose": "visitor", "guest": "x"},
    )
    assert resp.status_code == 422 and "too_many_vouchers" in resp.content.decode()
    assert VoucherBatch.objects.count() == 1


# --- the kitchen -------------------------------------------------------------------------


def test_kitchen_counts_hand_over_and_close(cw, lunch, clock):
    browser(cw, "a_staff").post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    r = Reservation.objects.get()
    k = browser(cw, "vendor_worker")
    cid = cw.canteens["a"].pk
    assert k.get("/canteen/kitchen/").status_code == 302  # one kitchen: straight there
    page = k.get(f"/canteen/kitchen/{cid}/").content.decode()
    assert f'data-testid="counts-{DAY}"' in page  # tomorrow
    assert f'data-testid="count-{DAY}-lunch"' in page and 'data-testid="forecast"' in page
    assert 'data-testid="counter"' in page
    dongpo = item(lunch, cw, "dongpo")
    assert f'data-testid="sold-{dongpo.pk}">1<' in page
    clock.at = LUNCH
    k = browser(cw, "vendor_worker")
    resp = k.post(
        f"/canteen/kitchen/{cid}/hand-over/", {"code": r.pickup_code}, HTTP_HX_REQUEST="true"
    )
    body = resp.content.decode()
    assert resp.status_code == 200 and 'data-testid="handover-ok"' in body and "东坡肉" in body
    r.refresh_from_db()
    assert r.status == ReservationStatus.SERVED
    resp = k.post(
        f"/canteen/kitchen/{cid}/hand-over/", {"code": r.pickup_code}, HTTP_HX_REQUEST="true"
    )
    assert 'data-code="already_served"' in resp.content.decode()
    resp = k.post(f"/canteen/kitchen/{cid}/hand-over/", {"code": "000000"}, follow=True)
    assert "unknown_code" in " ".join(messages_of(resp))
    page = k.get(f"/canteen/kitchen/{cid}/").content.decode()
    assert 'data-testid="close-lunch"' in page
    resp = k.post(f"/canteen/menus/{lunch.pk}/close/", {"walk_ins": "12"})
    assert resp.status_code == 302
    lunch.refresh_from_db()
    assert lunch.status == MenuStatus.CLOSED and lunch.walk_ins == 12 and lunch.diners == 13


def test_kitchen_is_for_operators_and_overseers_only(cw, lunch):
    cid = cw.canteens["a"].pk
    assert browser(cw, "a_staff").get(f"/canteen/kitchen/{cid}/").status_code == 403
    assert browser(cw, "a_staff").get("/canteen/kitchen/").status_code == 403
    inspector = browser(cw, "a_inspector")  # oversees: reads, no counter
    page = inspector.get(f"/canteen/kitchen/{cid}/").content.decode()
    assert 'data-testid="forecast"' in page and 'data-testid="counter"' not in page
    assert inspector.post(f"/canteen/kitchen/{cid}/hand-over/", {"code": "1"}).status_code == 403


# --- food safety and waste -----------------------------------------------------------------


def test_a_log_list_is_paged(cw, clock):
    """A year of fridge readings is thousands of rows: the list shows 50 a page."""
    clock.at = LUNCH
    canteen, unit = cw.canteens["a"], cw.fridges["a:chilled"]
    worker = cw.user("vendor_worker")
    TemperatureLog.objects.bulk_create(
        TemperatureLog(
            org=canteen.org,
            canteen=canteen,
            unit=unit,
            temp_c=Decimal("4.0"),
            recorded_at=LUNCH - timedelta(hours=i),
            recorded_by=worker,
        )
        for i in range(1, 121)
    )
    k = browser(cw, "vendor_worker")
    url = f"/canteen/kitchen/{canteen.pk}/temperatures/"
    first = k.get(url).content.decode()
    assert first.count('data-testid="row-') == 50 and 'data-testid="pager"' in first
    assert "第 1 / 3 页，共 120 条" in first
    last = k.get(url + "?page=3").content.decode()
    assert last.count('data-testid="row-') == 20


def test_temperature_and_disinfection_logs(cw, clock):
    clock.at = LUNCH
    k = browser(cw, "vendor_worker")
    cid = cw.canteens["a"].pk
    chilled = cw.fridges["a:chilled"]
    page = k.get(f"/canteen/kitchen/{cid}/temperatures/").content.decode()
    assert 'data-testid="log-form"' in page and chilled.name in page
    resp = k.post(f"/canteen/kitchen/{cid}/temperatures/", {"unit": chilled.pk, "temp_c": "3.5"})
    assert resp.status_code == 302
    assert TemperatureLog.objects.get().passed
    # a warm fridge is kept, failed, with a finding
    k.post(f"/canteen/kitchen/{cid}/temperatures/", {"unit": chilled.pk, "temp_c": "12"})
    warm = TemperatureLog.objects.get(temp_c=Decimal("12"))
    assert not warm.passed and warm.finding_id
    page = k.get(f"/canteen/kitchen/{cid}/temperatures/").content.decode()
    assert f'data-testid="nonconf-{warm.pk}"' in page
    # steam without its time: refused citing the clause, nothing written
    resp = k.post(
        f"/canteen/kitchen/{cid}/disinfections/",
        {"method": "steam", "items": "餐盘", "temp_c": "100", "fully_immersed": "unknown"},
    )
    body = resp.content.decode()
    assert resp.status_code == 422 and 'data-testid="form-error"' in body and "C3" in body
    assert not Disinfection.objects.exists()
    resp = k.post(
        f"/canteen/kitchen/{cid}/disinfections/",
        {"method": "steam", "items": "餐盘", "temp_c": "100", "minutes": "10"},
    )
    assert resp.status_code == 302 and Disinfection.objects.get().passed


def test_samples_receiving_handlers_and_waste(cw, lunch, clock):
    clock.at = LUNCH
    k = browser(cw, "vendor_worker")
    cid = cw.canteens["a"].pk
    dongpo = item(lunch, cw, "dongpo")
    page = k.get(f"/canteen/kitchen/{cid}/samples/").content.decode()
    assert f'value="{dongpo.pk}"' in page
    fridge = cw.fridges["a:sample"].pk
    resp = k.post(
        f"/canteen/kitchen/{cid}/samples/",
        {"menu_item": dongpo.pk, "weight_g": "80", "fridge": fridge, "sealed": "on"},
    )
    assert resp.status_code == 422 and "C1" in resp.content.decode()  # too light
    assert not FoodSample.objects.exists()
    resp = k.post(
        f"/canteen/kitchen/{cid}/samples/",
        {"menu_item": dongpo.pk, "weight_g": "130", "fridge": fridge, "sealed": "on"},
    )
    assert resp.status_code == 302 and FoodSample.objects.count() == 1
    resp = k.post(
        f"/canteen/kitchen/{cid}/receiving/",
        {
            "supplier": "城北蔬菜批发",
            "item": "青菜",
            "quantity": "20",
            "unit": "kg",
            "batch_no": "B-1",
            "production_date": "2026-12-06",
            "best_before": "2026-12-10",
            "certificate_no": "HG-001",
            "accepted": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert ReceivingCheck.objects.get().passed
    resp = k.post(
        f"/canteen/kitchen/{cid}/handlers/new/",
        {
            "name": "王师傅",
            "post": "面点",
            "handles_ready_to_eat": "on",
            "certificate_no": "JK-9",
            "issued_on": "2026-01-01",
            "expires_on": "2027-01-01",
            "is_active": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    wang = FoodHandler.objects.get(name="王师傅")
    k.post(f"/canteen/handlers/{wang.pk}/check/", {"healthy": "1"})
    assert HealthCheck.objects.get(handler=wang).healthy
    page = k.get(f"/canteen/kitchen/{cid}/handlers/").content.decode()
    assert f'data-testid="checked-{wang.pk}"' in page
    resp = k.post(
        f"/canteen/kitchen/{cid}/waste/",
        {"day": DAY, "meal": "lunch", "kind": "tray", "weight_kg": "6.5"},
    )
    assert resp.status_code == 302 and WasteLog.objects.get().weight_kg == Decimal("6.5")
    page = k.get(f"/canteen/kitchen/{cid}/safety/").content.decode()
    assert 'data-testid="daily-checks"' in page


def test_safety_page_links_todays_opening_and_closing_checks(cw, clock):
    from dayuan.inspections.plans import generate_occurrences

    clock.at = at(2026, 12, 7, 7, 0)
    start = at(2026, 12, 7)
    assert generate_occurrences(start=start, end=start + timedelta(days=1)) > 0
    k = browser(cw, "vendor_worker")
    page = k.get(f"/canteen/kitchen/{cw.canteens['a'].pk}/safety/").content.decode()
    assert 'data-testid="check-canteen.opening_check"' in page
    assert 'data-testid="check-canteen.closing_check"' in page
    assert page.count("/inspections/start/?occurrence=") == 2  # 开始检查, through inspections


# --- managers ----------------------------------------------------------------------------


def test_manager_adds_a_dish_and_publishes_a_menu(cw, clock):
    m = browser(cw, "a_manager")
    cid = cw.canteens["a"].pk
    assert m.get("/canteen/manage/").status_code == 302
    assert cw.dish("a:dongpo").name in m.get(f"/canteen/manage/{cid}/dishes/").content.decode()
    resp = m.post(
        f"/canteen/manage/{cid}/dishes/new/",
        {
            "name": "缙云烧饼",
            "category": "snack",
            "tags": ["baixian"],
            "allergens": ["gluten"],
            "region": "缙云",
            "price": "4",
            "is_active": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    shaobing = Dish.objects.get(name="缙云烧饼")
    assert shaobing.tags == ["baixian"] and shaobing.region == "缙云"
    tuesday = (MONDAY + timedelta(days=1)).isoformat()
    url = f"/canteen/manage/{cid}/menus/edit/?day={tuesday}&meal=lunch"
    assert 'data-testid="menu-form"' in m.get(url).content.decode()
    resp = m.post(
        url,
        {
            f"on_{shaobing.pk}": "on",
            f"portions_{shaobing.pk}": "50",
            f"on_{cw.dish('a:rice').pk}": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    menu_ = Menu.objects.get(day=MONDAY + timedelta(days=1), meal="lunch")
    assert menu_.status == MenuStatus.DRAFT and menu_.items.count() == 2
    resp = m.post(f"/canteen/menus/{menu_.pk}/publish/", {"version": menu_.version})
    menu_.refresh_from_db()
    assert menu_.status == MenuStatus.PUBLISHED
    week = m.get(f"/canteen/manage/{cid}/menus/", {"day": tuesday}).content.decode()
    assert f'data-testid="cell-{tuesday}-lunch"' in week and "已发布" in week
    # an empty menu is refused by the form
    resp = m.post(f"/canteen/manage/{cid}/menus/edit/?day={tuesday}&meal=dinner", {})
    assert resp.status_code == 422 and "请至少选择一道菜品" in resp.content.decode()
    # staff may not manage
    assert browser(cw, "a_staff").get(f"/canteen/manage/{cid}/dishes/").status_code == 403


def test_dish_page_shows_stars_and_names_only_to_managers(cw, lunch):
    dongpo = item(lunch, cw, "dongpo")
    for name, stars in (("a_staff", 5), ("a_dispatcher", 4)):
        DishRating.objects.create(
            org=lunch.org,
            canteen=lunch.canteen,
            menu_item=dongpo,
            dish=dongpo.dish,
            day=lunch.day,
            person=cw.user(name),
            stars=stars,
            comment=f"{name} 好吃",
        )
    url = f"/canteen/dishes/{dongpo.dish_id}/"
    page = browser(cw, "a_staff").get(url).content.decode()
    assert "4.5" in page and "a_dispatcher 好吃" in page
    assert "· a_dispatcher<" not in page  # no names for diners
    assert "· a_dispatcher<" in browser(cw, "a_manager").get(url).content.decode()
    assert browser(cw, "b_staff").get(url).status_code == 404


def test_manager_sets_up_the_canteen_and_its_meal_periods(cw):
    m = browser(cw, "a_manager")
    canteen = cw.canteens["a"]
    url = f"/canteen/manage/{canteen.pk}/settings/"
    page = m.get(url).content.decode()
    assert 'data-testid="canteen-form"' in page and 'data-testid="period-lunch"' in page
    resp = m.post(
        url,
        {
            "version": canteen.version,
            "location": canteen.location_id,
            "kitchen": canteen.kitchen_id,
            "operator": canteen.operator_id,
            "name": "甲县机关第一食堂",
            "seats": "320",
            "takeaway_slot_minutes": "10",
            "voucher_batch_max": "40",
            "no_show_grace_minutes": "30",
            "is_active": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    canteen.refresh_from_db()
    assert canteen.name == "甲县机关第一食堂" and canteen.takeaway_slot_minutes == 10
    resp = m.post(
        f"/canteen/manage/{canteen.pk}/periods/lunch/",
        {
            "lunch-serve_start": "11:40",
            "lunch-serve_end": "13:00",
            "lunch-reserve_cutoff_minutes": "120",
            "lunch-cancel_cutoff_minutes": "150",
            "lunch-eat_in_price": "9",
        },
    )
    assert resp.status_code == 302
    period = canteen.meal_periods.get(meal="lunch")
    assert period.eat_in_price == Decimal("9") and period.serve_start.hour == 11
    resp = m.post(f"/canteen/manage/{canteen.pk}/check-plans/", follow=True)
    assert "已安排后厨每日开工、收工检查" in " ".join(messages_of(resp))
    assert browser(cw, "a_staff").get(url).status_code == 403


def test_manager_cancels_a_menu_and_copies_a_day(cw, lunch):
    m = browser(cw, "a_manager")
    cid = cw.canteens["a"].pk
    browser(cw, "a_staff").post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    resp = m.post(f"/canteen/menus/{lunch.pk}/cancel/", {"reason": "停电"})
    assert resp.status_code == 302
    lunch.refresh_from_db()
    assert lunch.status == MenuStatus.CANCELLED
    assert Reservation.objects.get().status == ReservationStatus.CANCELLED
    resp = m.post(
        f"/canteen/manage/{cid}/menus/copy/",
        {"from_day": DAY, "to_day": (MONDAY + timedelta(days=7)).isoformat()},
    )
    assert resp.status_code == 302


def test_dashboard_and_export(cw, lunch):
    m = browser(cw, "a_manager")
    resp = m.get("/canteen/dashboard/", {"since": "2026-11-30", "until": DAY})
    page = resp.content.decode()
    assert resp.status_code == 200 and 'id="ct-dashboard-data"' in page
    assert "echarts-5.6.0.min.js" in page and 'data-testid="by-canteen"' in page
    resp = m.get("/canteen/dashboard/export.xlsx", {"since": "2026-11-30", "until": DAY})
    assert resp.status_code == 200 and resp.content[:2] == b"PK"
    city = browser(cw, "city_manager").get("/canteen/dashboard/").content.decode()
    assert cw.canteens["a"].name in city and cw.canteens["b"].name in city
    assert browser(cw, "a_staff").get("/canteen/dashboard/").status_code == 403
    b = browser(cw, "b_manager")
    assert b.get("/canteen/dashboard/", {"canteen": cw.canteens["a"].pk}).status_code == 404


def test_dashboard_names_who_missed_their_meals(cw, lunch):
    staff = cw.user("a_staff")
    Reservation.objects.create(
        org=lunch.org,
        canteen=lunch.canteen,
        menu=lunch,
        person=staff,
        person_org=staff.home_org,
        number="BC-NS-1",
        pickup_code="123456",
        status=ReservationStatus.NO_SHOW,
    )
    page = browser(cw, "a_manager").get(
        "/canteen/dashboard/", {"since": "2026-11-30", "until": DAY}
    )
    body = page.content.decode()
    assert f'data-testid="no-show-{staff.pk}"' in body and staff.display_name in body
    # county B's manager sees its own canteen's figures, never A's people
    other = browser(cw, "b_manager").get("/canteen/dashboard/", {"since": "2026-11-30"})
    assert f'data-testid="no-show-{staff.pk}"' not in other.content.decode()


# --- every role, and county B ------------------------------------------------------------


USERS = ["a_staff", "a_manager", "a_dispatcher", "a_inspector", "vendor_worker", "city_manager"]


@pytest.mark.parametrize("name", USERS)
def test_pages_render_for_each_role(cw, lunch, name):
    c = browser(cw, name)
    cid = cw.canteens["a"].pk
    for url in ("/canteen/", f"/canteen/menus/{lunch.pk}/", "/canteen/reservations/"):
        assert c.get(url).status_code == 200, url
    assert c.get("/canteen/vouchers/").status_code == 200
    user = cw.user(name)
    staff = user.pk and any(
        g.role in (Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.WORKER, Role.ADMIN)
        for g in user.grants.all()
    )
    kitchen = [
        f"/canteen/kitchen/{cid}/",
        f"/canteen/kitchen/{cid}/safety/",
        f"/canteen/kitchen/{cid}/samples/",
        f"/canteen/kitchen/{cid}/temperatures/",
        f"/canteen/kitchen/{cid}/disinfections/",
        f"/canteen/kitchen/{cid}/receiving/",
        f"/canteen/kitchen/{cid}/handlers/",
        f"/canteen/kitchen/{cid}/waste/",
    ]
    for url in kitchen:
        assert c.get(url).status_code == (200 if staff else 403), url
    manager = name in ("a_manager", "city_manager")
    for url in (f"/canteen/manage/{cid}/menus/", f"/canteen/manage/{cid}/dishes/"):
        assert c.get(url).status_code == (200 if manager else 403), url


def test_county_b_gets_404_on_every_county_a_page_and_post(cw, lunch, clock):
    a = browser(cw, "a_staff")
    a.post(f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw))
    r = Reservation.objects.get()
    a.post(
        "/canteen/vouchers/",
        {"client_key": "v1", "menu": lunch.pk, "count": "2", "purpose": "visitor", "guest": "x"},
    )
    batch = VoucherBatch.objects.get()
    clock.at = LUNCH
    k = browser(cw, "vendor_worker")
    cid = cw.canteens["a"].pk
    k.post(
        f"/canteen/kitchen/{cid}/temperatures/", {"unit": cw.fridges["a:chilled"].pk, "temp_c": "3"}
    )
    k.post(
        f"/canteen/kitchen/{cid}/samples/",
        {
            "menu_item": item(lunch, cw, "dongpo").pk,
            "weight_g": "130",
            "fridge": cw.fridges["a:sample"].pk,
            "sealed": "on",
        },
    )
    sample = FoodSample.objects.get()
    handler = cw.handlers["a"]
    dish = cw.dish("a:dongpo")
    before = AuditEntry.objects.count()
    counts = [m.objects.count() for m in (Reservation, VoucherBatch, FoodSample, TemperatureLog)]

    gets = [
        f"/canteen/?canteen={cid}",
        f"/canteen/menus/{lunch.pk}/",
        f"/canteen/reservations/{r.pk}/",
        f"/canteen/vouchers/{batch.pk}/",
        f"/canteen/dishes/{dish.pk}/",
        f"/canteen/dishes/{dish.pk}/photo/",
        f"/canteen/manage/{cid}/settings/",
        f"/canteen/kitchen/{cid}/",
        f"/canteen/kitchen/{cid}/safety/",
        f"/canteen/kitchen/{cid}/samples/",
        f"/canteen/kitchen/{cid}/temperatures/",
        f"/canteen/kitchen/{cid}/disinfections/",
        f"/canteen/kitchen/{cid}/receiving/",
        f"/canteen/kitchen/{cid}/handlers/",
        f"/canteen/kitchen/{cid}/handlers/new/",
        f"/canteen/handlers/{handler.pk}/",
        f"/canteen/kitchen/{cid}/waste/",
        f"/canteen/manage/{cid}/menus/",
        f"/canteen/manage/{cid}/menus/edit/?day={DAY}&meal=lunch",
        f"/canteen/manage/{cid}/dishes/",
        f"/canteen/manage/{cid}/dishes/new/",
        f"/canteen/dishes/{dish.pk}/edit/",
        f"/canteen/dashboard/?canteen={cid}",
        f"/canteen/dashboard/export.xlsx?canteen={cid}",
    ]
    posts = [
        (f"/canteen/menus/{lunch.pk}/", reserve_form(lunch, cw, key="b1")),
        (f"/canteen/reservations/{r.pk}/cancel/", {}),
        (f"/canteen/items/{item(lunch, cw, 'dongpo').pk}/rate/", {"stars": "1"}),
        (f"/canteen/vouchers/{batch.pk}/void/", {}),
        (f"/canteen/kitchen/{cid}/hand-over/", {"code": r.pickup_code}),
        (f"/canteen/menus/{lunch.pk}/close/", {"walk_ins": "1"}),
        (f"/canteen/kitchen/{cid}/samples/", {"menu_item": "1", "weight_g": "200", "fridge": "1"}),
        (f"/canteen/samples/{sample.pk}/remove/", {}),
        (f"/canteen/kitchen/{cid}/temperatures/", {"unit": "1", "temp_c": "3"}),
        (f"/canteen/kitchen/{cid}/disinfections/", {"method": "steam", "items": "x"}),
        (f"/canteen/kitchen/{cid}/receiving/", {"supplier": "x", "item": "y", "quantity": "1"}),
        (f"/canteen/kitchen/{cid}/handlers/new/", {"name": "x"}),
        (f"/canteen/handlers/{handler.pk}/", {"name": "x"}),
        (f"/canteen/handlers/{handler.pk}/check/", {"healthy": "1"}),
        (f"/canteen/kitchen/{cid}/waste/", {"day": DAY, "kind": "tray", "weight_kg": "1"}),
        (f"/canteen/kitchen/{cid}/waste/evaluate/", {"day": DAY}),
        (f"/canteen/manage/{cid}/menus/edit/?day={DAY}&meal=dinner", {}),
        (f"/canteen/manage/{cid}/menus/copy/", {"from_day": DAY, "to_day": DAY}),
        (f"/canteen/menus/{lunch.pk}/publish/", {}),
        (f"/canteen/menus/{lunch.pk}/cancel/", {"reason": "x"}),
        (f"/canteen/manage/{cid}/dishes/new/", {"name": "x", "category": "meat", "price": "1"}),
        (f"/canteen/dishes/{dish.pk}/edit/", {"name": "x", "category": "meat", "price": "1"}),
        (f"/canteen/manage/{cid}/settings/", {"name": "x", "location": "1", "seats": "1"}),
        (f"/canteen/manage/{cid}/periods/lunch/", {"lunch-eat_in_price": "1"}),
        (f"/canteen/manage/{cid}/check-plans/", {}),
    ]
    for name in ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin"):
        b = browser(cw, name)
        for url in gets:
            assert b.get(url).status_code == 404, (name, url)
        for url, data in posts:
            assert b.post(url, data).status_code == 404, (name, url)
    assert [m.objects.count() for m in (Reservation, VoucherBatch, FoodSample, TemperatureLog)] == (
        counts
    )
    r.refresh_from_db()
    lunch.refresh_from_db()
    assert r.status == ReservationStatus.RESERVED and lunch.status == MenuStatus.PUBLISHED
    assert AuditEntry.objects.count() == before
