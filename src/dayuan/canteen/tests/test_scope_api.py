"""County B sees and changes nothing of county A's canteen through the API: every GET of
one of A's canteens, dishes, menus, reservations, vouchers, logs, counts or exports is a
404, every POST and PUT aimed at them a 404 with nothing written, and B's lists hold
nothing of A."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from ..choices import Meal, ReservationStatus
from ..models import (
    Canteen,
    Dish,
    DishRating,
    FoodHandler,
    FoodSample,
    HealthCheck,
    Menu,
    MenuItem,
    Reservation,
    ReservationLine,
    TemperatureLog,
    Voucher,
    VoucherBatch,
    WasteDay,
    WasteLog,
)
from .factories import MONDAY, at, build, menu

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
API = "/api/v1/canteen"
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_admin", "b_inspector")
SECRETS = ("甲县机关食堂", "甲县机关服务中心", "a_staff", "甲县来宾", "BC-A-0001", "BC-A-0002",
           "CQ-A-0001", "JK-a-001", "A厨师", "甲县点评")  # fmt: skip


def _reservation(m: Menu, person, number: str, code: str, status: str, **kw) -> Reservation:
    return Reservation.objects.create(
        org=m.org, canteen=m.canteen, menu=m, person=person, person_org=person.home_org,
        number=number, pickup_code=code, status=status, amount=m.eat_in_price, **kw,
    )  # fmt: skip


@pytest.fixture
def a_side(world, monkeypatch):
    """County A's canteen with a published Tuesday lunch (a reservation, a voucher
    batch), Monday's lunch served and rated, and every kind of log."""
    now = at(2026, 12, 7, 14, 0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    cw = build(world)
    a = cw.canteens["a"]
    staff = cw.user("a_staff")
    lunch = menu(cw, "a", TUESDAY, Meal.LUNCH)
    dongpo = lunch.items.get(dish=cw.dish("a:dongpo"))
    held = _reservation(lunch, staff, "BC-A-0001", "123456", ReservationStatus.RESERVED)
    ReservationLine.objects.create(reservation=held, menu_item=dongpo, quantity=1, price=12)
    MenuItem.objects.filter(pk=dongpo.pk).update(sold=1)
    batch = VoucherBatch.objects.create(
        org=a.org, canteen=a, menu=lunch, issuer=staff, unit=world.county_a,
        purpose="visitor", guest="甲县来宾", count=2, number="CQ-A-0001",
    )  # fmt: skip
    for code in ("11111111", "22222222"):
        Voucher.objects.create(batch=batch, menu=lunch, code=code)
    Menu.objects.filter(pk=lunch.pk).update(reserved_count=3)
    today = menu(cw, "a", MONDAY, Meal.LUNCH)
    greens = today.items.get(dish=cw.dish("a:greens"))
    _reservation(today, staff, "BC-A-0002", "654321", ReservationStatus.SERVED,
                 served_at=at(2026, 12, 7, 11, 45))  # fmt: skip
    DishRating.objects.create(
        org=a.org, canteen=a, menu_item=greens, dish=greens.dish, day=MONDAY, person=staff,
        stars=4, comment="甲县点评",
    )  # fmt: skip
    common = {"org": a.org, "canteen": a, "recorded_at": now, "recorded_by": staff}
    sample = FoodSample.objects.create(
        **common, menu=today, menu_item=greens, dish=greens.dish, weight_g=Decimal("150"),
        keep_until=now + timedelta(hours=48), fridge=cw.fridges["a:sample"],
    )  # fmt: skip
    TemperatureLog.objects.create(**common, unit=cw.fridges["a:chilled"], temp_c=Decimal("4"))
    HealthCheck.objects.create(**common, handler=cw.handlers["a"], day=MONDAY)
    WasteLog.objects.create(**common, day=MONDAY, kind="tray", weight_kg=Decimal("10"))
    return cw, {"lunch": lunch, "today": today, "held": held, "batch": batch,
                "sample": sample, "dongpo": dongpo, "greens": greens}  # fmt: skip


def _state() -> dict:
    """Everything a request from county B could have changed."""
    return {
        "canteens": list(Canteen.objects.order_by("pk").values_list("name", "version")),
        "dishes": list(Dish.objects.order_by("pk").values_list("name", "price", "version")),
        "menus": list(
            Menu.objects.order_by("pk").values_list("status", "reserved_count", "version")
        ),
        "items": list(MenuItem.objects.order_by("pk").values_list("sold", "portions")),
        "reservations": list(Reservation.objects.order_by("pk").values_list("status")),
        "batches": VoucherBatch.objects.count(),
        "vouchers": list(Voucher.objects.order_by("pk").values_list("status")),
        "ratings": DishRating.objects.count(),
        "samples": list(FoodSample.objects.values_list("removed_at")),
        "temperatures": TemperatureLog.objects.count(),
        "checks": HealthCheck.objects.count(),
        "handlers": list(FoodHandler.objects.order_by("pk").values_list("post", "version")),
        "waste": WasteLog.objects.count(),
        "waste_days": WasteDay.objects.count(),
    }


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_gets_404_for_everything_of_county_a(a_side, api, name):
    cw, x = a_side
    a = cw.canteens["a"].pk
    lunch, held, batch = x["lunch"].pk, x["held"].pk, x["batch"].pk
    dish = cw.dish("a:dongpo").pk
    c = api(cw.user(name))
    before = _state()
    gets = [
        f"/canteens/{a}", f"/canteens/{a}/menus?start=2026-12-07&end=2026-12-13",
        f"/canteens/{a}/dishes", f"/canteens/{a}/cold-units", f"/menus/{lunch}",
        f"/menus/{x['today'].pk}", f"/dishes/{dish}", f"/dishes/{dish}/photo",
        f"/dishes/{x['greens'].dish_id}/ratings", f"/reservations/{held}",
        f"/reservations/{held}/qr.svg", f"/vouchers/{batch}", f"/canteens/{a}/samples",
        f"/canteens/{a}/temperatures", f"/canteens/{a}/disinfections",
        f"/canteens/{a}/receiving", f"/canteens/{a}/handlers", f"/canteens/{a}/health-checks",
        f"/canteens/{a}/waste", f"/canteens/{a}/waste-days",
        f"/canteens/{a}/kitchen?day=2026-12-08", f"/dashboard?canteen_id={a}",
        f"/export.xlsx?start=2026-11-08&end=2026-12-08&canteen_id={a}",
    ]  # fmt: skip
    for path in gets:
        resp = c.get(API + path)
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:200])
        assert resp.json()["code"] == "not_found", path
    pickup = {"code": "123456"}
    posts = [
        ("/reservations", {"menu_id": lunch}),
        ("/reservations", {"menu_id": lunch, "items": [{"menu_item_id": x["dongpo"].pk}]}),
        (f"/reservations/{held}/cancel", {}),
        ("/vouchers", {"menu_id": lunch, "count": 1, "purpose": "visitor", "guest": "乙县"}),
        (f"/vouchers/{batch}/void", {}),
        (f"/canteens/{a}/hand-over", pickup),
        (f"/canteens/{a}/hand-over", {"code": f"DYC:{lunch}:123456"}),
        (f"/menus/{lunch}/close", {"walk_ins": 3}),
        (f"/menus/{lunch}/publish", {}),
        (f"/menus/{lunch}/cancel", {"reason": "停水"}),
        ("/menus", {"canteen_id": a, "day": "2026-12-10", "meal": "lunch",
                    "items": [{"dish_id": dish}]}),
        ("/menus/copy", {"canteen_id": a, "from_day": "2026-12-08", "to_day": "2026-12-10"}),
        ("/ratings", {"menu_item_id": x["greens"].pk, "stars": 1}),
        (f"/canteens/{a}/dishes", {"name": "乙县菜", "category": "meat", "price": "1"}),
        (f"/canteens/{a}/samples", {"menu_item_id": x["dongpo"].pk, "weight_g": "200",
                                    "fridge_id": cw.fridges["a:sample"].pk}),
        (f"/samples/{x['sample'].pk}/remove", {}),
        (f"/canteens/{a}/temperatures", {"unit_id": cw.fridges["a:chilled"].pk,
                                         "temp_c": "3"}),
        (f"/canteens/{a}/disinfections", {"method": "boiling", "items": "碗", "temp_c": "100",
                                          "minutes": "10"}),
        (f"/canteens/{a}/receiving", {"supplier": "乙", "item": "菜", "quantity": "1"}),
        (f"/canteens/{a}/handlers", {"name": "乙", "certificate_no": "X",
                                     "issued_on": "2026-01-01", "expires_on": "2027-01-01"}),
        (f"/canteens/{a}/health-checks", {"handler_id": cw.handlers["a"].pk}),
        (f"/canteens/{a}/waste", {"day": "2026-12-07", "kind": "tray", "weight_kg": "1"}),
        (f"/canteens/{a}/waste-days", {"day": "2026-12-07"}),
    ]  # fmt: skip
    for path, data in posts:
        resp = c.post(API + path, data)
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:300])
    puts = [
        (f"/canteens/{a}", {"name": "改名", "version": 1}),
        (f"/canteens/{a}/meal-periods/lunch", {"serve_start": "11:00", "serve_end": "12:00",
                                               "reserve_cutoff_minutes": 60,
                                               "cancel_cutoff_minutes": 60,
                                               "eat_in_price": "1"}),
        (f"/dishes/{dish}", {"name": "改名", "category": "meat", "version": 1}),
        (f"/menus/{lunch}", {"items": [], "version": 1}),
        (f"/handlers/{cw.handlers['a'].pk}", {"name": "改名", "certificate_no": "X",
                                              "issued_on": "2026-01-01",
                                              "expires_on": "2027-01-01", "version": 1}),
    ]  # fmt: skip
    for path, data in puts:
        resp = c.client.put(
            API + path, data=json.dumps(data), content_type="application/json", **c.headers
        )
        assert resp.status_code == 404, (path, resp.status_code, resp.content[:300])
    created = c.post(f"{API}/canteens", {"org_id": cw.world.county_a.pk, "name": "乙县",
                                         "location_id": cw.canteens["a"].location_id})  # fmt: skip
    assert created.status_code in (403, 404), created.content
    assert _state() == before


@pytest.mark.parametrize("name", B_USERS)
def test_county_b_lists_hold_nothing_of_county_a(a_side, api, name):
    cw, _ = a_side
    c = api(cw.user(name))
    text = "".join(
        c.get(API + path).content.decode()
        for path in (
            "/canteens?page_size=200",
            "/reservations?page_size=200",
            "/reservations?all=1&page_size=200",
            "/vouchers?page_size=200",
            "/dishes/ranking?week=2026-12-07",
            "/dashboard?start=2026-11-08&end=2026-12-08",
        )
    )
    xlsx = c.get(f"{API}/export.xlsx?start=2026-11-08&end=2026-12-08")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    text += "".join(
        str(cell) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
        for cell in row if cell is not None
    )  # fmt: skip
    for secret in (*SECRETS, cw.canteens["a"].name):
        assert secret not in text, secret
    canteens = {r["id"] for r in c.get(f"{API}/canteens").json()["items"]}
    assert canteens == {cw.canteens["b"].pk}
    assert c.get(f"{API}/reservations?all=1").json()["count"] == 0
    assert c.get(f"{API}/vouchers").json()["count"] == 0


def test_the_city_sees_both_counties(a_side, api):
    cw, x = a_side
    city = api(cw.user("city_manager"))
    canteens = {r["id"] for r in city.get(f"{API}/canteens").json()["items"]}
    assert canteens == {cw.canteens["a"].pk, cw.canteens["b"].pk}
    assert city.get(f"{API}/reservations/{x['held'].pk}").status_code == 200
    assert city.get(f"{API}/canteens/{cw.canteens['a'].pk}/samples").json()["count"] == 1
    mine = api(cw.user("a_staff")).get(f"{API}/reservations/{x['held'].pk}").json()
    assert mine["pickup_code"] == "123456"
    assert (
        api(cw.user("a_dispatcher")).get(f"{API}/reservations/{x['held'].pk}").json()["pickup_code"]
        is None
    )
