"""Review fixes: bad input is refused with a 4xx and a code (never a 500) and changes
nothing; naive times are Shanghai times; cancelling a meal leaves meals already handed
over served."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from ..choices import Meal
from ..models import WasteDay
from .factories import MONDAY, at, build, menu

pytestmark = pytest.mark.django_db

SUNDAY = at(2026, 12, 6, 16, 0)


@pytest.fixture
def cw(world, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: SUNDAY)
    return build(world)


def browser(cw, name: str) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(cw.user(name))
    return c


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    "user,path",
    [
        ("a_staff", "/canteen/"),
        ("a_manager", "/canteen/kitchen/{a}/"),
        ("a_manager", "/canteen/manage/{a}/menus/"),
        ("a_manager", "/canteen/manage/{a}/menus/edit/"),
    ],
)
def test_pages_refuse_a_bad_day_with_400(cw, user, path, day):
    menu(cw, "a", MONDAY, Meal.LUNCH)
    resp = browser(cw, user).get(path.format(a=cw.canteens["a"].pk), {"day": day})
    assert resp.status_code == 400, resp.status_code
    assert "bad_day" in resp.content.decode()


@pytest.mark.parametrize("value", ["²", "１", "99999999999999999999999"])
def test_int_params_out_of_the_ordinary_are_not_500(cw, value):
    c = browser(cw, "a_manager")
    assert c.get("/canteen/", {"canteen": value}).status_code in (200, 400, 404)
    assert c.get("/canteen/vouchers/", {"menu": value}).status_code in (200, 400, 404)
    assert c.get("/canteen/dashboard/", {"canteen": value}).status_code in (200, 400, 404)


@pytest.mark.parametrize("day", ["2026-02-30", "2026-12-7x", "0001-01-01"])
def test_waste_evaluate_refuses_a_bad_day_and_writes_nothing(cw, day):
    c = browser(cw, "a_manager")
    resp = c.post(f"/canteen/kitchen/{cw.canteens['a'].pk}/waste/evaluate/", {"day": day})
    assert resp.status_code == 302
    msgs = [(str(m), m.tags) for m in resp.wsgi_request._messages]
    assert any("code-bad_day" in tags for _m, tags in msgs), msgs
    assert not WasteDay.objects.exists()


def test_record_waste_takes_a_naive_time_as_shanghai_and_refuses_a_future_one(cw):
    from datetime import datetime
    from decimal import Decimal

    from dayuan.core.errors import InvalidInput

    from .. import waste

    manager, canteen = cw.user("a_manager"), cw.canteens["a"]
    log = waste.record_waste(
        actor=manager,
        canteen_id=canteen.pk,
        day=SUNDAY.date(),
        kind="tray",
        weight_kg=Decimal("3.5"),
        recorded_at=datetime(2026, 12, 6, 13, 0),  # naive: read as Shanghai
        now=SUNDAY,
    )
    assert log.recorded_at == at(2026, 12, 6, 13, 0)
    with pytest.raises(InvalidInput) as exc:
        waste.record_waste(
            actor=manager,
            canteen_id=canteen.pk,
            day=SUNDAY.date(),
            kind="tray",
            weight_kg=Decimal("1"),
            recorded_at=datetime(2026, 12, 6, 18, 0),
            now=SUNDAY,
        )
    assert exc.value.code == "bad_time"


@pytest.mark.parametrize("when", ["2026-02-30T10:00", "2026-12-06T25:00"])
def test_safety_log_refuses_an_impossible_time_with_422(cw, when):
    from decimal import Decimal

    from dayuan.core.errors import InvalidInput

    from .. import safety
    from ..models import TemperatureLog

    with pytest.raises(InvalidInput) as exc:
        safety.record_temperature(
            actor=cw.user("a_manager"),
            unit_id=cw.fridges["a:chilled"].pk,
            temp_c=Decimal("4"),
            recorded_at=when,
            now=SUNDAY,
        )
    assert exc.value.code == "bad_time" and exc.value.status == 422
    assert not TemperatureLog.objects.exists()


def test_cancel_menu_leaves_meals_already_handed_over_served(cw):
    from .. import reservations, services
    from ..models import Menu, Reservation

    lunch = menu(cw, "a", MONDAY, Meal.LUNCH)
    dongpo = lunch.items.get(dish=cw.dish("a:dongpo"))
    served = reservations.reserve(
        actor=cw.user("a_staff"),
        menu_id=lunch.pk,
        items=[{"menu_item_id": dongpo.pk, "quantity": 2}],
        now=SUNDAY,
    )
    waiting = reservations.reserve(actor=cw.user("a_manager"), menu_id=lunch.pk, now=SUNDAY)
    early = lunch.serve_start - timezone.timedelta(minutes=20)  # the counter opens early
    reservations.hand_over(
        actor=cw.user("a_manager"), canteen_id=lunch.canteen_id, code=served.pickup_code, now=early
    )
    services.cancel_menu(actor=cw.user("a_manager"), menu_id=lunch.pk, reason="停水", now=early)
    served.refresh_from_db()
    waiting.refresh_from_db()
    dongpo.refresh_from_db()
    lunch = Menu.objects.get(pk=lunch.pk)
    assert served.status == "served"  # handed over: it happened
    assert waiting.status == "cancelled"
    assert dongpo.sold == 2 and lunch.reserved_count == 1
    assert Reservation.objects.filter(menu=lunch, status="cancelled").count() == 1


def test_infinite_numbers_are_refused_not_500(cw):
    from dayuan.core.errors import InvalidInput

    from .. import reservations, services
    from ..models import Menu, Reservation

    lunch = menu(cw, "a", MONDAY, Meal.LUNCH)
    dongpo = lunch.items.get(dish=cw.dish("a:dongpo"))
    with pytest.raises(InvalidInput) as exc:
        reservations.reserve(
            actor=cw.user("a_staff"),
            menu_id=lunch.pk,
            items=[{"menu_item_id": dongpo.pk, "quantity": float("inf")}],
            now=SUNDAY,
        )
    assert exc.value.code == "too_many_portions"
    with pytest.raises(InvalidInput) as exc:
        services.save_menu(
            actor=cw.user("a_manager"),
            canteen_id=cw.canteens["a"].pk,
            day=MONDAY,
            meal=Meal.DINNER,
            items=[{"dish_id": cw.dish("a:rice").pk, "portions": float("inf")}],
            now=SUNDAY,
        )
    assert exc.value.code == "bad_portions"
    assert not Reservation.objects.exists() and not Menu.objects.filter(meal=Meal.DINNER).exists()
