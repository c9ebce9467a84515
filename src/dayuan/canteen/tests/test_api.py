"""The canteen API through HTTP: canteens, menus and dishes, reserving (with
``Idempotency-Key`` and ``client_key``), the pickup code and its QR, cancelling,
vouchers, the hand-over counter, closing a meal, ratings, the menu editor, the
food-safety logs, waste, the kitchen's counts, the dashboard and the export; every
refusal in the one error shape, in Chinese or (``Accept-Language: en``) English."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from ..choices import Meal
from ..models import Menu, MenuItem, Reservation, VoucherBatch
from .factories import MONDAY, at, build, menu

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
API = "/api/v1/canteen"


class Clock:
    """``timezone.now`` for the services and middleware behind the HTTP calls."""

    def __init__(self, monkeypatch, now):
        self.now = now
        monkeypatch.setattr(timezone, "now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, at(2026, 12, 7, 10, 0))


@pytest.fixture
def cw(world, clock):
    return build(world)


@pytest.fixture
def lunch(cw):
    """Tuesday's lunch in canteen A: 东坡肉 (100 portions), greens and rice (unlimited),
    the take-away box (50). Reservations close at 09:30, cancellations at 09:00."""
    return menu(cw, "a", TUESDAY, Meal.LUNCH)


def item(m: Menu, cw, key: str) -> MenuItem:
    side = "a" if m.canteen_id == cw.canteens["a"].pk else "b"
    return m.items.get(dish=cw.dish(f"{side}:{key}"))


def put(client, path, data):
    return client.client.put(
        path, data=json.dumps(data), content_type="application/json", **client.headers
    )


def reserve(client, m: Menu, items=(), **kw):
    resp = client.post(f"{API}/reservations", {"menu_id": m.pk, "items": list(items)} | kw)
    assert resp.status_code == 201, resp.content
    return resp.json()


def error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content)
    body = resp.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code, body
    return body


# --- canteens, menus, dishes -----------------------------------------------------------


def test_canteens_list_detail_errors_and_languages(cw, api):
    a, b = cw.canteens["a"], cw.canteens["b"]
    staff = api(cw.user("a_staff"))
    page = staff.get(f"{API}/canteens").json()
    assert page["count"] == 1 and [c["id"] for c in page["items"]] == [a.pk]
    got = staff.get(f"{API}/canteens/{a.pk}").json()
    assert got["name"] == a.name and got["operator_name"] == cw.world.vendor.name
    assert got["kitchen_name"] == "中心厨房" and got["actions"] == ["reserve"]
    lunch = next(p for p in got["meal_periods"] if p["meal"] == "lunch")
    assert lunch["serve_start"] == "11:30:00" and lunch["meal_label"] == "午餐"
    assert lunch["eat_in_price"] == "8.00"
    assert (
        "operate" in api(cw.user("vendor_worker")).get(f"{API}/canteens/{a.pk}").json()["actions"]
    )
    assert {"manage", "oversee"} <= set(
        api(cw.user("a_manager")).get(f"{API}/canteens/{a.pk}").json()["actions"]
    )
    zh = error(staff.get(f"{API}/canteens/{b.pk}"), 404, "not_found")
    assert "不存在" in zh["message"]
    en = error(staff.get(f"{API}/canteens/{b.pk}", HTTP_ACCEPT_LANGUAGE="en"), 404, "not_found")
    assert "not found" in en["message"].lower()
    error(api().get(f"{API}/canteens"), 401, "not_authenticated")
    bad = staff.post(f"{API}/reservations", {"menu_id": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert error(bad, 422, "validation_error")["message"].isascii()


def test_menus_of_a_week_menu_dish_and_ranking(cw, api, lunch):
    staff = api(cw.user("a_staff"))
    a = cw.canteens["a"]
    week = staff.get(f"{API}/canteens/{a.pk}/menus?start=2026-12-07&end=2026-12-13")
    assert week.status_code == 200, week.content
    (m,) = week.json()
    assert m["id"] == lunch.pk and m["meal_label"] == "午餐" and m["status"] == "published"
    assert m["open"] is True and m["eat_in_price"] == "8.00"
    dongpo = next(i for i in m["items"] if i["dish"]["name"] == "东坡肉")
    assert dongpo["portions"] == 100 and dongpo["remaining"] == 100 and dongpo["sold"] == 0
    assert dongpo["dish"]["tag_labels"] == ["百县千碗"]
    assert dongpo["dish"]["allergen_labels"] == ["大豆"]
    box = next(i for i in m["items"] if i["dish"]["category"] == "package")
    assert box["takeaway"] is True
    assert staff.get(f"{API}/menus/{lunch.pk}").json()["items"] == m["items"]
    bad = staff.get(f"{API}/canteens/{a.pk}/menus?start=2026-12-13&end=2026-12-07")
    error(bad, 422, "bad_range")
    dish = staff.get(f"{API}/dishes/{cw.dish('a:dongpo').pk}").json()
    assert dish["category_label"] == "荤菜" and dish["price"] == "12.00"
    assert dish["photo_url"] is None
    error(staff.get(f"{API}/dishes/{cw.dish('a:dongpo').pk}/photo"), 404, "not_found")
    listed = staff.get(f"{API}/canteens/{a.pk}/dishes?page_size=50").json()
    assert listed["count"] == 6
    ranking = staff.get(f"{API}/dishes/ranking?week=2026-12-09").json()
    assert ranking["week_start"] == "2026-12-07" and ranking["week_end"] == "2026-12-13"
    assert ranking["best"] == ranking["worst"] == [] and ranking["min_ratings"] == 3


# --- reserving -------------------------------------------------------------------------


def test_reserve_with_idempotency_key_and_client_key(cw, api, lunch):
    staff = api(cw.user("a_staff"))
    dongpo = item(lunch, cw, "dongpo")
    body = {"menu_id": lunch.pk, "items": [{"menu_item_id": dongpo.pk, "quantity": 2}]}
    key = {"HTTP_IDEMPOTENCY_KEY": "rsv-0001-abcdef"}
    first = staff.post(f"{API}/reservations", body, **key)
    assert first.status_code == 201, first.content
    got = first.json()
    assert got["status"] == "reserved" and got["kind"] == "eat_in" and got["kind_label"] == "堂食"
    assert got["number"].startswith("BC") and re.fullmatch(r"\d{6}", got["pickup_code"])
    assert got["amount"] == "32.00"  # 8 eat-in + 2 × 12
    assert [(ln["dish_name"], ln["quantity"]) for ln in got["lines"]] == [("东坡肉", 2)]
    assert got["qr_payload"] == f"DYC:{lunch.pk}:{got['pickup_code']}"
    again = staff.post(f"{API}/reservations", body, **key)
    assert again.status_code == 201 and again.json()["id"] == got["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Reservation.objects.count() == 1
    assert MenuItem.objects.get(pk=dongpo.pk).sold == 2
    other = staff.post(f"{API}/reservations", body | {"kind": "takeaway"}, **key)
    error(other, 422, "idempotency_key_reused")
    # cancel, then reserve again by client_key: a retried form returns the same one
    assert staff.post(f"{API}/reservations/{got['id']}/cancel").json()["status"] == "cancelled"
    assert MenuItem.objects.get(pk=dongpo.pk).sold == 0
    form = {"menu_id": lunch.pk, "client_key": "form-abcdef12"}
    one = staff.post(f"{API}/reservations", form)
    two = staff.post(f"{API}/reservations", form)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"] != got["id"]
    assert Reservation.objects.filter(status="reserved").count() == 1


def test_reserve_refusals_in_the_error_shape(cw, api, lunch, clock):
    dinner = menu(cw, "a", TUESDAY, Meal.DINNER, items={"fish": 1, "rice": None})
    fish = item(dinner, cw, "fish")
    reserve(api(cw.user("a_manager")), dinner, [{"menu_item_id": fish.pk, "quantity": 1}])
    staff = api(cw.user("a_staff"))
    gone = staff.post(
        f"{API}/reservations",
        {"menu_id": dinner.pk, "items": [{"menu_item_id": fish.pk, "quantity": 1}]},
    )
    body = error(gone, 409, "sold_out")
    assert "名厨酸菜鱼" in body["message"] and "售罄" in body["message"]
    assert body["details"]["menu_item_id"] == fish.pk
    reserve(staff, dinner)
    error(staff.post(f"{API}/reservations", {"menu_id": dinner.pk}), 409, "already_reserved")
    dispatcher = api(cw.user("a_dispatcher"))
    dongpo, box = item(lunch, cw, "dongpo"), item(lunch, cw, "box")
    too_many = {"menu_id": lunch.pk, "items": [{"menu_item_id": dongpo.pk, "quantity": 3}]}
    error(dispatcher.post(f"{API}/reservations", too_many), 422, "too_many_portions")
    box_in = {"menu_id": lunch.pk, "items": [{"menu_item_id": box.pk, "quantity": 1}]}
    error(dispatcher.post(f"{API}/reservations", box_in), 422, "bad_items")
    off_grid = box_in | {"kind": "takeaway", "pickup_at": at(2026, 12, 8, 12, 7).isoformat()}
    error(dispatcher.post(f"{API}/reservations", off_grid), 422, "bad_pickup_time")
    bad = dispatcher.post(f"{API}/reservations", {"menu_id": lunch.pk, "kind": "delivery"})
    error(bad, 422, "validation_error")
    draft = menu(cw, "a", TUESDAY, Meal.BREAKFAST, status="draft")
    missing = dispatcher.post(f"{API}/reservations", {"menu_id": draft.pk})
    assert missing.status_code in (404, 409)
    clock.now = at(2026, 12, 8, 9, 31)
    late = error(dispatcher.post(f"{API}/reservations", {"menu_id": lunch.pk}), 409,
                 "reservation_closed")  # fmt: skip
    assert "截止" in late["message"] and "09:30" in late["message"]
    assert Reservation.objects.count() == 2
    assert MenuItem.objects.get(pk=fish.pk).sold == 1
    assert MenuItem.objects.get(pk=dongpo.pk).sold == 0


def test_pickup_code_and_qr_are_the_persons_only(cw, api, lunch, clock):
    staff, manager = api(cw.user("a_staff")), api(cw.user("a_manager"))
    box = item(lunch, cw, "box")
    got = reserve(
        staff, lunch, [{"menu_item_id": box.pk, "quantity": 1}],
        kind="takeaway", pickup_at=at(2026, 12, 8, 12, 0).isoformat(),
    )  # fmt: skip
    assert got["kind_label"] == "外带" and got["amount"] == "16.00"
    assert got["lines"][0]["takeaway"] is True
    detail = staff.get(f"{API}/reservations/{got['id']}").json()
    assert detail["pickup_code"] == got["pickup_code"] and detail["cancellable"] is True
    svg = staff.get(detail["qr_url"])
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<svg")
    seen = manager.get(f"{API}/reservations/{got['id']}")
    assert seen.status_code == 200
    assert seen.json()["pickup_code"] is None and seen.json()["qr_url"] is None
    error(manager.get(f"{API}/reservations/{got['id']}/qr.svg"), 404, "not_found")
    assert staff.get(f"{API}/reservations").json()["count"] == 1
    assert manager.get(f"{API}/reservations").json()["count"] == 0
    assert manager.get(f"{API}/reservations?all=1").json()["count"] == 1
    assert api(cw.user("b_manager")).get(f"{API}/reservations?all=1").json()["count"] == 0
    clock.now = at(2026, 12, 8, 9, 1)
    late = staff.post(f"{API}/reservations/{got['id']}/cancel")
    error(late, 409, "cancellation_closed")
    assert Reservation.objects.get(pk=got["id"]).status == "reserved"


# --- vouchers, the counter, closing, ratings --------------------------------------------


def test_vouchers_issue_list_and_void(cw, api, lunch):
    staff = api(cw.user("a_staff"))
    body = {"menu_id": lunch.pk, "count": 3, "purpose": "visitor", "guest": "省厅调研组",
            "client_key": "vouch-12345678"}  # fmt: skip
    resp = staff.post(f"{API}/vouchers", body)
    assert resp.status_code == 201, resp.content
    batch = resp.json()
    assert batch["number"].startswith("CQ") and batch["purpose_label"] == "来访接待"
    assert batch["unit_id"] == cw.world.county_a.pk and batch["redeemed"] == 0
    assert len(batch["vouchers"]) == 3
    assert all(re.fullmatch(r"\d{8}", v["code"]) for v in batch["vouchers"])
    assert staff.post(f"{API}/vouchers", body).json()["id"] == batch["id"]
    assert VoucherBatch.objects.count() == 1
    assert Menu.objects.get(pk=lunch.pk).reserved_count == 3
    assert staff.get(f"{API}/vouchers").json()["count"] == 1
    worker = api(cw.user("vendor_worker")).get(f"{API}/vouchers/{batch['id']}").json()
    assert worker["count"] == 3 and worker["vouchers"] == []  # the codes: issuer, managers
    too_many = staff.post(f"{API}/vouchers", body | {"count": 51, "client_key": None})
    error(too_many, 422, "too_many_vouchers")
    voided = staff.post(f"{API}/vouchers/{batch['id']}/void")
    assert voided.status_code == 200, voided.content
    assert voided.json()["voided"] == 3 and voided.json()["issued"] == 0
    assert Menu.objects.get(pk=lunch.pk).reserved_count == 0


def test_hand_over_close_and_rate(cw, api, lunch, clock):
    staff, dispatcher = api(cw.user("a_staff")), api(cw.user("a_dispatcher"))
    dongpo = item(lunch, cw, "dongpo")
    mine = reserve(staff, lunch, [{"menu_item_id": dongpo.pk, "quantity": 1}])
    theirs = reserve(dispatcher, lunch)
    batch = (
        api(cw.user("a_manager"))
        .post(
            f"{API}/vouchers",
            {"menu_id": lunch.pk, "count": 2, "purpose": "meeting", "guest": "季度工作会"},
        )
        .json()
    )
    canteen = cw.canteens["a"].pk
    counter = api(cw.user("vendor_worker"))
    clock.now = at(2026, 12, 8, 11, 40)
    served = counter.post(f"{API}/canteens/{canteen}/hand-over", {"code": mine["pickup_code"]})
    assert served.status_code == 200, served.content
    got = served.json()
    assert got["kind"] == "reservation" and got["menu_id"] == lunch.pk
    assert got["reservation"]["status"] == "served"
    assert got["lines"] == [{"dish_name": "东坡肉", "quantity": 1, "takeaway": False}]
    twice = counter.post(f"{API}/canteens/{canteen}/hand-over", {"code": mine["pickup_code"]})
    error(twice, 409, "already_served")
    qr = counter.post(f"{API}/canteens/{canteen}/hand-over", {"code": theirs["qr_payload"]})
    assert qr.status_code == 200 and qr.json()["reservation"]["id"] == theirs["id"]
    code = batch["vouchers"][0]["code"]
    voucher = counter.post(f"{API}/canteens/{canteen}/hand-over", {"code": code}).json()
    assert voucher["kind"] == "voucher" and voucher["voucher_code"] == code
    assert voucher["guest"] == "季度工作会" and voucher["reservation"] is None
    error(counter.post(f"{API}/canteens/{canteen}/hand-over", {"code": "abc"}), 404,
          "unknown_code")  # fmt: skip
    denied = staff.post(f"{API}/canteens/{canteen}/hand-over", {"code": code})
    error(denied, 403, "permission_denied")
    clock.now = at(2026, 12, 8, 13, 40)
    closed = counter.post(f"{API}/menus/{lunch.pk}/close", {"walk_ins": 5})
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "closed" and closed.json()["diners"] == 2 + 1 + 5
    rated = staff.post(f"{API}/ratings", {"menu_item_id": dongpo.pk, "stars": 5,
                                          "comment": "肥而不腻"})  # fmt: skip
    assert rated.status_code == 201, rated.content
    assert rated.json()["dish_name"] == "东坡肉" and rated.json()["stars"] == 5
    again = staff.post(f"{API}/ratings", {"menu_item_id": dongpo.pk, "stars": 4})
    error(again, 409, "already_rated")
    greens = item(lunch, cw, "greens")
    error(staff.post(f"{API}/ratings", {"menu_item_id": greens.pk, "stars": 6}), 422, "bad_stars")
    nope = api(cw.user("a_inspector")).post(
        f"{API}/ratings", {"menu_item_id": greens.pk, "stars": 3}
    )
    error(nope, 409, "not_served")
    ratings = staff.get(f"{API}/dishes/{cw.dish('a:dongpo').pk}/ratings").json()
    assert [r["comment"] for r in ratings["items"]] == ["肥而不腻"]
    assert ratings["items"][0]["person_name"] is None  # the dish page: no names
    seen = api(cw.user("a_manager")).get(f"{API}/dishes/{cw.dish('a:dongpo').pk}/ratings")
    assert seen.json()["items"][0]["person_name"] == "a_staff"


# --- the menu editor, dishes, canteen settings -------------------------------------------


def test_menu_editor_publish_copy_and_cancel(cw, api):
    manager, staff = api(cw.user("a_manager")), api(cw.user("a_staff"))
    a = cw.canteens["a"]
    items = [{"dish_id": cw.dish("a:dongpo").pk, "portions": 50},
             {"dish_id": cw.dish("a:rice").pk}]  # fmt: skip
    body = {"canteen_id": a.pk, "day": "2026-12-09", "meal": "lunch", "items": items}
    created = manager.post(f"{API}/menus", body)
    assert created.status_code == 201, created.content
    m = created.json()
    assert m["status"] == "draft" and len(m["items"]) == 2
    error(staff.post(f"{API}/menus", body), 403, "permission_denied")
    more = [*items, {"dish_id": cw.dish("a:soup").pk, "price": "1.50"}]
    stale = put(manager, f"{API}/menus/{m['id']}", {"items": more, "version": m["version"] + 5})
    error(stale, 409, "stale_version")
    edited = put(manager, f"{API}/menus/{m['id']}", {"items": more, "version": m["version"]})
    assert edited.status_code == 200, edited.content
    soup = next(i for i in edited.json()["items"] if i["dish"]["name"] == "番茄蛋汤")
    assert soup["price"] == "1.50" and soup["portions"] is None
    published = manager.post(f"{API}/menus/{m['id']}/publish", {})
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert published.json()["reserve_until"].startswith("2026-12-09T")
    empty = manager.post(f"{API}/menus", body | {"day": "2026-12-10", "items": []}).json()
    error(manager.post(f"{API}/menus/{empty['id']}/publish", {}), 422, "empty_menu")
    past = manager.post(f"{API}/menus", body | {"day": "2026-12-01"})
    error(past, 422, "menu_in_past")
    copied = manager.post(
        f"{API}/menus/copy", {"canteen_id": a.pk, "from_day": "2026-12-09", "to_day": "2026-12-11"}
    )
    assert copied.status_code == 201, copied.content
    assert [(c["day"], c["status"]) for c in copied.json()] == [("2026-12-11", "draft")]
    cancelled = manager.post(f"{API}/menus/{m['id']}/cancel", {"reason": "停水检修"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_dishes_and_canteen_settings(cw, api):
    manager = api(cw.user("a_manager"))
    a = cw.canteens["a"]
    dish = {"name": "西湖醋鱼", "category": "meat", "tags": ["baixian", "spicy"],
            "allergens": ["fish"], "region": "杭州", "price": "28.00"}  # fmt: skip
    resp = manager.post(f"{API}/canteens/{a.pk}/dishes", dish)
    assert resp.status_code == 201, resp.content
    got = resp.json()
    assert got["tags"] == ["baixian", "spicy"] and got["tag_labels"] == ["百县千碗", "辣"]
    error(manager.post(f"{API}/canteens/{a.pk}/dishes", dish), 409, "dish_exists")
    error(manager.post(f"{API}/canteens/{a.pk}/dishes", dish | {"category": "x"}), 422,
          "validation_error")  # fmt: skip
    edited = put(manager, f"{API}/dishes/{got['id']}",
                 dish | {"price": "26.00", "version": got["version"]})  # fmt: skip
    assert edited.status_code == 200 and edited.json()["price"] == "26.00"
    brief = {
        "name": "西湖醋鱼",
        "category": "meat",
        "price": "25.00",
        "version": got["version"] + 1,
    }
    edited = put(manager, f"{API}/dishes/{got['id']}", brief)
    assert edited.status_code == 200, edited.content
    assert edited.json()["tags"] == ["baixian", "spicy"] and edited.json()["region"] == "杭州"
    staff = api(cw.user("a_staff"))
    error(staff.post(f"{API}/canteens/{a.pk}/dishes", dish | {"name": "x"}), 403,
          "permission_denied")  # fmt: skip
    settings = {"name": "甲县机关食堂（新）", "seats": 320, "version": a.version}
    changed = put(manager, f"{API}/canteens/{a.pk}", settings)
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "甲县机关食堂（新）" and changed.json()["seats"] == 320
    # fields left out keep their value
    assert changed.json()["operator_name"] == cw.world.vendor.name
    assert changed.json()["kitchen_name"] == "中心厨房"
    period = {"serve_start": "11:00", "serve_end": "13:00", "reserve_cutoff_minutes": 90,
              "cancel_cutoff_minutes": 120, "eat_in_price": "9.00"}  # fmt: skip
    resp = put(manager, f"{API}/canteens/{a.pk}/meal-periods/lunch", period)
    assert resp.status_code == 200, resp.content
    lunch = next(p for p in resp.json()["meal_periods"] if p["meal"] == "lunch")
    assert lunch["serve_start"] == "11:00:00" and lunch["eat_in_price"] == "9.00"


# --- food safety and waste --------------------------------------------------------------


def test_food_safety_logs(cw, api, clock):
    clock.now = at(2026, 12, 7, 12, 0)
    today = menu(cw, "a", MONDAY, Meal.LUNCH)
    a = cw.canteens["a"].pk
    worker, staff = api(cw.user("vendor_worker")), api(cw.user("a_staff"))
    fridge = cw.fridges["a:sample"].pk
    dongpo, greens = item(today, cw, "dongpo"), item(today, cw, "greens")
    sample = {"menu_item_id": dongpo.pk, "weight_g": "130", "fridge_id": fridge}
    resp = worker.post(f"{API}/canteens/{a}/samples", sample)
    assert resp.status_code == 201, resp.content
    got = resp.json()
    assert got["dish_name"] == "东坡肉" and got["passed"] is True
    assert got["fridge_name"] == "留样冰箱" and got["recorded_by_name"] == "vendor_worker"
    error(worker.post(f"{API}/canteens/{a}/samples", sample), 409, "already_sampled")
    small = worker.post(f"{API}/canteens/{a}/samples", sample | {"menu_item_id": greens.pk,
                                                                 "weight_g": "50"})  # fmt: skip
    assert "C1" in json.dumps(error(small, 422, "rule_refused"), ensure_ascii=False)
    error(staff.post(f"{API}/canteens/{a}/samples", sample | {"menu_item_id": greens.pk}), 403,
          "permission_denied")  # fmt: skip
    b_item = item(menu(cw, "b", MONDAY, Meal.LUNCH), cw, "greens")
    wrong = worker.post(f"{API}/canteens/{a}/samples", sample | {"menu_item_id": b_item.pk})
    error(wrong, 404, "not_found")
    assert worker.get(f"{API}/canteens/{a}/samples").json()["count"] == 1
    early = worker.post(f"{API}/samples/{got['id']}/remove")
    error(early, 422, "rule_refused")
    chilled = cw.fridges["a:chilled"].pk
    ok = worker.post(f"{API}/canteens/{a}/temperatures", {"unit_id": chilled, "temp_c": "4.0"})
    assert ok.status_code == 201 and ok.json()["passed"] is True, ok.content
    warm = worker.post(f"{API}/canteens/{a}/temperatures", {"unit_id": chilled, "temp_c": "12"})
    assert warm.status_code == 201 and warm.json()["passed"] is False
    assert warm.json()["finding_id"] is not None
    b_fridge = cw.fridges["b:chilled"].pk
    other = worker.post(f"{API}/canteens/{a}/temperatures", {"unit_id": b_fridge, "temp_c": "4"})
    error(other, 404, "not_found")
    assert worker.get(f"{API}/canteens/{a}/temperatures").json()["count"] == 2
    units = worker.get(f"{API}/canteens/{a}/cold-units").json()
    assert {u["kind"] for u in units} == {"sample", "chilled", "frozen"}
    boiled = {"method": "boiling", "items": "餐盘", "temp_c": "100", "minutes": "10"}
    resp = worker.post(f"{API}/canteens/{a}/disinfections", boiled)
    assert resp.status_code == 201 and resp.json()["method_label"] == "煮沸", resp.content
    short = worker.post(f"{API}/canteens/{a}/disinfections", boiled | {"minutes": None})
    assert "C3" in json.dumps(error(short, 422, "rule_refused"), ensure_ascii=False)
    assert worker.get(f"{API}/canteens/{a}/disinfections").json()["count"] == 1
    received = {"supplier": "城东蔬菜合作社", "item": "青菜", "quantity": "20", "unit": "kg",
                "batch_no": "B20261207", "certificate_no": "HG-001",
                "production_date": "2026-12-06", "best_before": "2026-12-10"}  # fmt: skip
    resp = worker.post(f"{API}/canteens/{a}/receiving", received)
    assert resp.status_code == 201, resp.content
    assert worker.get(f"{API}/canteens/{a}/receiving").json()["count"] == 1
    handler = {"name": "王师傅", "post": "面点", "certificate_no": "JK-a-002",
               "issued_on": "2026-06-01", "expires_on": "2027-05-31"}  # fmt: skip
    resp = worker.post(f"{API}/canteens/{a}/handlers", handler)
    assert resp.status_code == 201, resp.content
    new = resp.json()
    edited = put(worker, f"{API}/handlers/{new['id']}",
                 handler | {"post": "热菜", "version": new["version"]})  # fmt: skip
    assert edited.status_code == 200 and edited.json()["post"] == "热菜", edited.content
    assert worker.get(f"{API}/canteens/{a}/handlers").json()["count"] == 2
    check = worker.post(
        f"{API}/canteens/{a}/health-checks", {"handler_id": cw.handlers["a"].pk, "healthy": True}
    )
    assert check.status_code == 201 and check.json()["handler_name"] == "A厨师", check.content
    again = worker.post(f"{API}/canteens/{a}/health-checks", {"handler_id": cw.handlers["a"].pk})
    error(again, 409, "already_checked")
    assert worker.get(f"{API}/canteens/{a}/health-checks").json()["count"] == 1
    error(staff.get(f"{API}/canteens/{a}/samples"), 404, "not_found")


def test_waste_kitchen_dashboard_and_export(cw, api, lunch, clock):
    a = cw.canteens["a"].pk
    worker, manager = api(cw.user("vendor_worker")), api(cw.user("a_manager"))
    reserve(api(cw.user("a_staff")), lunch, [{"menu_item_id": item(lunch, cw, "dongpo").pk,
                                              "quantity": 1}])  # fmt: skip
    weighed = {"day": "2026-12-07", "kind": "tray", "weight_kg": "12.50", "meal": "lunch"}
    resp = worker.post(f"{API}/canteens/{a}/waste", weighed)
    assert resp.status_code == 201, resp.content
    assert resp.json()["kind_label"] == "餐盘回收剩余" and resp.json()["weight_kg"] == "12.50"
    error(worker.post(f"{API}/canteens/{a}/waste", weighed | {"weight_kg": "6000"}), 422,
          "bad_weight")  # fmt: skip
    assert worker.get(f"{API}/canteens/{a}/waste").json()["count"] == 1
    nobody = worker.post(f"{API}/canteens/{a}/waste-days", {"day": "2026-12-07"})
    error(nobody, 422, "no_diners")
    served = menu(cw, "a", MONDAY, Meal.LUNCH, status="closed")
    Menu.objects.filter(pk=served.pk).update(diners=100)
    day = worker.post(f"{API}/canteens/{a}/waste-days", {"day": "2026-12-07"})
    assert day.status_code == 200, day.content
    assert day.json()["diners"] == 100 and day.json()["tray_waste_kg"] == "12.50"
    assert day.json()["tray_waste_per_diner_g"] == "125.0"
    assert worker.get(f"{API}/canteens/{a}/waste-days").json()["count"] == 1
    counts = manager.get(f"{API}/canteens/{a}/kitchen?day=2026-12-08")
    assert counts.status_code == 200, counts.content
    assert [m["meal"] for m in counts.json()["meals"]] == ["breakfast", "lunch", "dinner"]
    lunch_counts = counts.json()["meals"][1]
    assert lunch_counts["menu_id"] == lunch.pk and lunch_counts["eat_in"] == 1
    assert lunch_counts["expected"] == 1 and lunch_counts["meal_label"] == "午餐"
    dongpo = next(d for d in lunch_counts["dishes"] if d["name"] == "东坡肉")
    assert (dongpo["sold"], dongpo["portions"], dongpo["remaining"]) == (1, 100, 99)
    assert lunch_counts["forecast"]["predicted"] >= 1
    assert "mae" in lunch_counts["backtest"] and "baseline_mae" in lunch_counts["backtest"]
    error(api(cw.user("a_staff")).get(f"{API}/canteens/{a}/kitchen"), 404, "not_found")
    dash = manager.get(f"{API}/dashboard?start=2026-11-08&end=2026-12-07")
    assert dash.status_code == 200, dash.content
    totals = dash.json()["totals"]
    assert totals["diners"] == 100 and totals["tray_g_per_diner"] == 125.0
    assert dash.json()["compliance"]["standard"]["code"] == "JG-ST"
    error(manager.get(f"{API}/dashboard?start=2026-12-07&end=2026-11-01"), 422, "bad_range")
    xlsx = manager.get(f"{API}/export.xlsx?start=2026-11-08&end=2026-12-08&canteen_id={a}")
    assert xlsx.status_code == 200, xlsx.content
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert len(book.sheetnames) == 5
    overview = [row for row in book.worksheets[0].iter_rows(values_only=True)]
    assert overview[1][0] == cw.canteens["a"].name
    error(manager.get(f"{API}/export.xlsx"), 422, "validation_error")  # a file states its period


def test_no_shows_per_person_and_per_meal(cw, api, lunch, clock):
    """After the meal closes, whoever did not come is counted, per person and per meal;
    only staff of the canteen see the figures, county B sees none of A's."""
    a = cw.canteens["a"].pk
    reserve(api(cw.user("a_staff")), lunch)
    reserve(api(cw.user("a_manager")), lunch)
    code = Reservation.objects.get(person=cw.user("a_manager")).pickup_code
    clock.now = at(2026, 12, 8, 12, 0)
    worker = api(cw.user("vendor_worker"))
    assert worker.post(f"{API}/canteens/{a}/hand-over", {"code": code}).status_code == 200
    assert worker.post(f"{API}/menus/{lunch.pk}/close", {"walk_ins": 3}).status_code == 200
    got = api(cw.user("a_manager")).get(f"{API}/no-shows?start=2026-12-01&end=2026-12-08")
    assert got.status_code == 200, got.content
    body = got.json()
    assert [(p["name"], p["no_shows"], p["rate"]) for p in body["by_person"]] == [
        (cw.user("a_staff").display_name, 1, 1.0)
    ]
    meal = body["by_meal"][0]
    assert (meal["menu_id"], meal["served"], meal["no_shows"], meal["rate"]) == (
        lunch.pk,
        1,
        1,
        0.5,
    )
    assert body["totals"]["no_shows"] == 1
    other = api(cw.user("b_manager")).get(f"{API}/no-shows?start=2026-12-01&end=2026-12-08")
    assert other.json()["by_person"] == [] and other.json()["by_meal"] == []
    error(api(cw.user("b_manager")).get(f"{API}/no-shows?canteen_id={a}"), 404, "not_found")
    error(api(cw.user("a_manager")).get(f"{API}/no-shows?limit=0"), 422, "bad_limit")


def test_dish_photo_upload_serve_and_remove(cw, api, settings, tmp_path):
    from dayuan.workorders.tests.core_factories import gps_jpeg, upload

    settings.MEDIA_ROOT = tmp_path
    manager = api(cw.user("a_manager"))
    dish = cw.dish("a:dongpo").pk
    path = f"{API}/dishes/{dish}/photo"
    resp = manager.client.post(path, {"photo": upload(gps_jpeg(), "dish.jpg")}, **manager.headers)
    assert resp.status_code == 200, resp.content
    got = resp.json()
    assert got["photo_url"] == path and got["thumb_url"] == f"{path}?thumb=1"
    staff = api(cw.user("a_staff"))
    photo = staff.get(path)
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"GPS" not in b"".join(photo.streaming_content)
    assert staff.get(f"{path}?thumb=1").status_code == 200
    error(api(cw.user("b_staff")).get(path), 404, "not_found")
    bad = manager.client.post(path, {"photo": upload(b"not an image", "x.jpg")}, **manager.headers)
    assert bad.status_code == 422
    denied = staff.client.post(path, {"photo": upload(gps_jpeg(), "d.jpg")}, **staff.headers)
    error(denied, 403, "permission_denied")
    removed = manager.client.delete(path, **manager.headers)
    assert removed.status_code == 200 and removed.json()["photo_url"] is None
    error(staff.get(path), 404, "not_found")


def test_lists_keep_their_query_count(cw, api, lunch):
    """Ten times the rows, the same number of queries (no per-row lookups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dayuan.core.testing import make_user

    manager = api(cw.user("a_manager"))
    a = cw.canteens["a"].pk
    dongpo = item(lunch, cw, "dongpo")
    counts = {}
    for n in (2, 20):
        while Reservation.objects.count() < n:
            i = Reservation.objects.count()
            person = make_user(f"diner{i}", cw.world.county_a, "staff")
            reserve(api(person), lunch, [{"menu_item_id": dongpo.pk, "quantity": 1}])
        for day in range(8, 8 + n // 4):
            if not Menu.objects.filter(day=f"2026-12-{day:02d}", meal=Meal.DINNER).exists():
                menu(cw, "a", MONDAY + timedelta(days=day - 7), Meal.DINNER)
        paths = (
            f"{API}/reservations?all=1&page_size=50",
            f"{API}/canteens/{a}/menus?start=2026-12-08&end=2026-12-14",
            f"{API}/canteens/{a}/dishes?page_size=50",
            f"{API}/canteens/{a}/kitchen?day=2026-12-08",
        )
        for path in paths:
            manager.get(path)  # the token's first use is recorded once
            with CaptureQueriesContext(connection) as ctx:
                assert manager.get(path).status_code == 200
            counts.setdefault(path, []).append(len(ctx.captured_queries))
    for path, (few, many) in counts.items():
        assert few == many, (path, few, many)
