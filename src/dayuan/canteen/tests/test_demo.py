"""The canteen demo: a short history in bulk and the last day through the services, with
counters that add up, every status and log the issue names, a reservation for tomorrow's
lunch for every demo login who eats there, each county kept to its own canteen, and a
second load that adds nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, Q, Sum

from dayuan.accounts.models import User
from dayuan.canteen import demo as ct_demo
from dayuan.canteen import forecast, queries
from dayuan.canteen.choices import (
    HOLDING,
    DisinfectionMethod,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
)
from dayuan.canteen.models import (
    Canteen,
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
    WasteDay,
    WasteLog,
)
from dayuan.inspections.models import Finding
from dayuan.orgs.models import Organization
from dayuan.standards.models import Clause, Judgment

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 9, 10, 30, tzinfo=SH)  # a Wednesday in a plain working week
TODAY = NOW.date()
TOMORROW = TODAY + timedelta(days=1)
DAYS = 7
COUNTIES = ("dongcheng", "xihu", "nanshan")


def _load():
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in COUNTIES]
    return ct_demo.load_demo(admin, city, counties, days=DAYS, now=NOW)


@pytest.fixture(scope="module")
def loaded(module_db):
    """The core demo world (small histories, no bookings), then the canteen demo at a
    fixed instant."""
    from dayuan.bookings import demo as bk_demo
    from dayuan.core import demo as core_demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ct_demo, "load_demo", lambda *args, **kwargs: {})
        mp.setattr(bk_demo, "load_demo", lambda *args, **kwargs: {})  # not needed here
        core_demo.load_demo()
    return _load()


def _canteens() -> dict[str, Canteen]:
    return {c.org.code: c for c in Canteen.objects.select_related("org", "operator")}


def test_two_canteens_one_run_by_the_catering_company(loaded):
    assert "refusals" not in loaded, loaded.get("refusals")  # every call was a valid one
    canteens = _canteens()
    assert set(canteens) == {"city", "dongcheng"}
    assert canteens["city"].operator.code == "city-canteen"
    assert canteens["dongcheng"].operator is None
    for c in canteens.values():
        assert c.kitchen is not None and "后厨" in c.kitchen.tags
        assert set(c.meal_periods.values_list("meal", flat=True)) == set(Meal.values)
        dishes = c.dishes.all()
        assert dishes.count() >= 35
        tags = {t for d in dishes for t in d.tags}
        assert {"baixian", "mingchu", "vegetarian", "spicy"} <= tags
        assert dishes.filter(category="package").count() >= 2
        assert any(d.region and "baixian" in d.tags for d in dishes)
        assert any(d.allergens for d in dishes)
    # the county starts lunch later (a manager's change through the service)
    lunch = canteens["dongcheng"].meal_periods.get(meal=Meal.LUNCH)
    assert lunch.serve_start.hour == 11 and lunch.serve_start.minute == 40
    # the catering company's workers operate the city canteen; the county's cook its own
    cook = User.objects.get(username="city_cook")
    assert queries.may_operate(cook, canteens["city"])
    assert not queries.may_operate(cook, canteens["dongcheng"])
    assert queries.may_operate(User.objects.get(username="dongcheng_cook"), canteens["dongcheng"])


def test_counters_add_up(loaded):
    """``sold`` is the holding reservations' lines; ``reserved_count`` those reservations
    plus the vouchers not voided; a closed meal's diners are served + redeemed +
    walk-ins."""
    items = MenuItem.objects.annotate(
        lines_sold=Sum("lines__quantity", filter=Q(lines__reservation__status__in=HOLDING))
    )
    for item in items:
        assert item.sold == (item.lines_sold or 0), item
        assert item.portions is None or item.sold <= item.portions
    menus = Menu.objects.annotate(
        holding=Count("reservations", filter=Q(reservations__status__in=HOLDING), distinct=True),
        unvoided=Count("vouchers", filter=~Q(vouchers__status=VoucherStatus.VOID), distinct=True),
        served=Count(
            "reservations",
            filter=Q(reservations__status=ReservationStatus.SERVED),
            distinct=True,
        ),
        redeemed=Count(
            "vouchers", filter=Q(vouchers__status=VoucherStatus.REDEEMED), distinct=True
        ),
    )
    closed = 0
    for m in menus:
        assert m.reserved_count == m.holding + m.unvoided, m
        if m.status == MenuStatus.CLOSED:
            closed += 1
            assert m.diners == m.served + m.redeemed + m.walk_ins, m
            assert not m.reservations.filter(status=ReservationStatus.RESERVED).exists()
    assert closed >= DAYS * 2 * 2
    # Pickup codes: six digits, unique among a meal's holding reservations.
    dupes = (
        Reservation.objects.filter(status__in=HOLDING)
        .values("menu", "pickup_code")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not dupes.exists()
    assert all(len(c) == 6 for c in Reservation.objects.values_list("pickup_code", flat=True))
    assert Reservation.objects.values("number").annotate(n=Count("id")).filter(n__gt=1).count() == 0


def test_the_history_has_every_status_and_a_working_week(loaded):
    statuses = Counter(Reservation.objects.values_list("status", flat=True))
    assert set(statuses) == set(ReservationStatus.values), statuses
    assert statuses[ReservationStatus.SERVED] > 10 * statuses[ReservationStatus.NO_SHOW] / 2
    assert Reservation.objects.filter(kind=ReservationKind.TAKEAWAY, pickup_at__isnull=False)
    assert not Reservation.objects.filter(
        kind=ReservationKind.EAT_IN, pickup_at__isnull=False
    ).exists()
    assert set(Voucher.objects.values_list("status", flat=True)) >= {
        VoucherStatus.ISSUED,
        VoucherStatus.REDEEMED,
    }
    assert DishRating.objects.filter(comment__gt="").exists()
    # Served meals only; eaten ones: no reservation served after now.
    assert not Reservation.objects.filter(served_at__gte=NOW).exists()
    assert not Menu.objects.filter(status=MenuStatus.CLOSED, serve_start__gte=NOW).exists()
    # Lunch is the big meal, Friday dinner a thin one.
    city = _canteens()["city"]
    closed = Menu.objects.filter(canteen=city, status=MenuStatus.CLOSED)
    lunch = closed.filter(meal=Meal.LUNCH, day__week_day__in=[2, 3, 4, 5])
    dinner = closed.filter(meal=Meal.DINNER, day__week_day__in=[2, 3, 4, 5])
    assert min(m.diners for m in lunch) > max(m.diners for m in dinner)
    # The forecast can measure itself on the history.
    bt = forecast.backtest(city, Meal.LUNCH, end=TODAY - timedelta(days=1), days=7, now=NOW)
    assert bt.n > 0 and bt.mae is not None


def test_tomorrow_is_published_and_every_demo_login_who_eats_there_has_lunch(loaded):
    from dayuan.core.demo import DEMO_LOGINS

    canteens = _canteens()
    for c in canteens.values():
        tomorrow = Menu.objects.filter(canteen=c, day=TOMORROW)
        assert set(tomorrow.values_list("meal", flat=True)) == set(Meal.values)
        assert set(tomorrow.values_list("status", flat=True)) == {MenuStatus.PUBLISHED}
    eaters = []
    for username, _role, _org in DEMO_LOGINS:
        user = User.objects.get(username=username)
        mine = {c.pk for c in canteens.values() if c.org_id in queries.diner_org_ids(user)}
        if not mine:
            continue  # 西湖县 and 南山县 have no canteen in the demo
        eaters.append(username)
        found = Reservation.objects.filter(
            person=user,
            menu__day=TOMORROW,
            menu__meal=Meal.LUNCH,
            canteen_id__in=mine,
            status=ReservationStatus.RESERVED,
        )
        assert found.exists(), username
    assert {"city_staff", "city_manager", "dongcheng_staff", "dongcheng_worker"} <= set(eaters)
    batch = VoucherBatch.objects.get(
        menu__day=TOMORROW, menu__meal=Meal.LUNCH, purpose=VoucherPurpose.MEETING
    )
    assert batch.issuer.username == "city_dispatcher"
    assert batch.vouchers.filter(status=VoucherStatus.ISSUED).count() == batch.count


def test_the_kitchen_logs_and_compliance_by_clause(loaded):
    # a sample of nearly every dish served; those missing were found and became findings
    items = MenuItem.objects.filter(menu__status=MenuStatus.CLOSED).count()
    samples = FoodSample.objects.count()
    assert 0 < items - samples <= max(3, items // 40)
    missing = Finding.objects.filter(description__contains="未留样")
    assert missing.exists()
    assert not Menu.objects.filter(status=MenuStatus.CLOSED, samples_checked_at__isnull=True)
    # the county's samples meet its own 150 g
    assert not FoodSample.objects.filter(org__code="dongcheng", weight_g__lt=150).exists()
    # readings out of range: kept, failed, each with its finding
    failed = TemperatureLog.objects.filter(passed=False)
    assert failed.count() == 3 and all(t.finding_id for t in failed)
    assert set(Disinfection.objects.values_list("method", flat=True)) == set(
        DisinfectionMethod.values
    )
    assert ReceivingCheck.objects.filter(accepted=True).exists()
    assert HealthCheck.objects.exists() and WasteLog.objects.exists() and WasteDay.objects.exists()
    # handlers: one certificate to renew within 30 days (alerted), one lapsed and off duty
    soon = FoodHandler.objects.filter(
        is_active=True, expires_on__lte=TODAY + timedelta(days=30), expires_on__gte=TODAY
    )
    assert soon.count() == 1 and soon.get().alerted_for == soon.get().expires_on
    lapsed = FoodHandler.objects.get(expires_on__lt=TODAY)
    assert not lapsed.is_active
    assert not HealthCheck.objects.filter(handler=lapsed, day__gt=lapsed.expires_on).exists()
    assert FoodHandler.objects.count() == 12
    # every log is judged, so compliance by clause shows for the clauses they cite
    clauses = dict(
        Clause.objects.filter(version__standard__code="JG-ST").values_list("pk", "number")
    )
    judged = Counter(
        (clauses[c], o)
        for c, o in Judgment.objects.filter(clause_id__in=list(clauses)).values_list(
            "clause_id", "outcome"
        )
    )
    for number in ("C1", "C2", "C3", "C6", "C7", "C9", "C10", "C12"):
        assert judged[(number, "pass")] > 0, number
    assert judged[("C1", "fail")] > 0 and judged[("C6", "fail")] > 0


def test_county_a_sees_only_its_own_canteen(loaded):
    canteens = _canteens()
    a = canteens["dongcheng"]
    for username in ("dongcheng_manager", "dongcheng_staff", "dongcheng_dispatcher"):
        user = User.objects.get(username=username)
        assert list(queries.visible_canteens(user)) == [a], username
        seen = queries.reservations_base(user)
        assert seen.exists()
        assert not seen.exclude(canteen=a).exists(), username
    city = User.objects.get(username="city_manager")
    assert set(queries.visible_canteens(city)) == set(canteens.values())
    assert not queries.visible_canteens(User.objects.get(username="xihu_manager")).exists()


def test_a_second_load_adds_nothing(loaded):
    before = (Canteen.objects.count(), Menu.objects.count(), Reservation.objects.count())
    again = _load()
    assert "canteens" not in again
    assert (Canteen.objects.count(), Menu.objects.count(), Reservation.objects.count()) == before


def test_the_printed_logins_name_the_kitchens(loaded):
    """``make run`` prints the logins: whoever tries the counter needs the cook's."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("demo", "--if-empty", "--url", "http://127.0.0.1:8000/", stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.strip()}
    assert "市味香餐饮管理有限公司" in lines["city_cook"]
    assert "东城区机关服务中心" in lines["dongcheng_cook"]
    assert "city_cook2" not in lines  # the first cook of each kitchen, not the crew
