"""Food handlers and health checks (JG-ST C7), certificate expiry alerts, the kitchen's
daily opening and closing checks (C13, through the inspections plans), and who may
keep or see the food-safety logs (county B never reaches county A's)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RuleRefused,
    StaleVersion,
)
from dayuan.inspections.models import PlanAssignment
from dayuan.inspections.plans import generate_occurrences
from dayuan.notifications.models import Notification
from dayuan.standards.models import Judgment

from .. import events, safety
from ..choices import CLOSING_CHECK, OPENING_CHECK
from ..models import FoodHandler, HealthCheck
from .factories import MONDAY, at, menu

pytestmark = pytest.mark.django_db

MORNING = at(2026, 12, 7, 7, 30)


def notified(user, event_type=None) -> list[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if event_type:
        qs = qs.filter(event__type=event_type)
    return list(qs)


def check(cw, handler=None, user="vendor_worker", healthy=True, now=MORNING, **kw):
    return safety.record_health_check(
        actor=cw.user(user),
        handler_id=(handler or cw.handlers["a"]).pk,
        healthy=healthy,
        now=now,
        **kw,
    )


def expire(handler: FoodHandler, on: date) -> FoodHandler:
    FoodHandler.objects.filter(pk=handler.pk).update(
        issued_on=on - timedelta(days=365), expires_on=on
    )
    handler.refresh_from_db()
    return handler


# --- handlers ------------------------------------------------------------------------------


def test_save_handler_adds_and_edits_with_versions(cw):
    h = safety.save_handler(
        actor=cw.user("vendor_worker"),
        canteen_id=cw.canteens["a"].pk,
        data={
            "name": "王师傅",
            "post": "面点",
            "certificate_no": "JK-2026-88",
            "issued_on": "2026-03-01",
            "expires_on": date(2027, 3, 1),
            "user_id": cw.user("vendor_worker").pk,
        },
    )
    assert h.org == cw.world.county_a and h.canteen == cw.canteens["a"]
    assert h.handles_ready_to_eat and h.is_active and h.version == 1
    assert h.user == cw.user("vendor_worker") and str(h.issued_on) == "2026-03-01"
    edited = safety.save_handler(
        actor=cw.user("a_manager"),
        handler_id=h.pk,
        data={"expires_on": "2028-03-01", "handles_ready_to_eat": False},
        version=1,
    )
    assert edited.version == 2 and str(edited.expires_on) == "2028-03-01"
    assert edited.name == "王师傅" and not edited.handles_ready_to_eat
    with pytest.raises(StaleVersion):
        safety.save_handler(
            actor=cw.user("a_manager"), handler_id=h.pk, data={"post": "切配"}, version=1
        )


def test_save_handler_input_is_checked(cw):
    canteen_id = cw.canteens["a"].pk
    actor = cw.user("a_manager")
    for data, code in (
        ({"name": "李四"}, "required"),
        (
            {
                "name": "李四",
                "certificate_no": "X",
                "issued_on": "2026-05-01",
                "expires_on": "2026-04-01",
            },
            "bad_certificate_dates",
        ),
        (
            {
                "name": "李四",
                "certificate_no": "X",
                "issued_on": "2026-05-01",
                "expires_on": "soon",
            },
            "bad_date",
        ),
        (
            {
                "name": "李四",
                "certificate_no": "X",
                "issued_on": "2026-05-01",
                "expires_on": "2027-05-01",
                "user_id": cw.user("b_staff").pk,  # not one of the canteen's people
            },
            "invalid_user",
        ),
        ({"name": "李四", "salary": 1}, "unknown_fields"),
    ):
        with pytest.raises(InvalidInput) as exc:
            safety.save_handler(actor=actor, canteen_id=canteen_id, data=data)
        assert exc.value.code == code, data
    assert FoodHandler.objects.count() == 2  # the factory's two


# --- health checks -------------------------------------------------------------------------


def test_health_check_of_a_certified_handler_passes(cw):
    log = check(cw)
    assert log.passed and log.healthy and log.day == MONDAY and log.recorded_at == MORNING
    assert list(
        Judgment.objects.filter(subject_type="canteen.healthcheck").values_list(
            "rule__key", "outcome"
        )
    ) == [("c7_health_certificate_valid", "pass")]
    with pytest.raises(Conflict) as exc:
        check(cw, user="a_manager")
    assert exc.value.code == "already_checked"


def test_expired_certificate_is_refused_citing_c7(cw):
    h = expire(cw.handlers["a"], MONDAY - timedelta(days=1))
    with pytest.raises(RuleRefused) as exc:
        check(cw, h)
    v = exc.value.details["violations"][0]
    assert v["clause"] == "C7" and v["rule"] == "c7_health_certificate_valid"
    assert "第 C7 条" in exc.value.message
    assert not HealthCheck.objects.exists()
    assert not Judgment.objects.filter(subject_type="canteen.healthcheck").exists()


def test_certificate_is_valid_through_its_last_day(cw):
    h = expire(cw.handlers["a"], MONDAY)
    assert check(cw, h, now=at(2026, 12, 7, 23, 59)).passed


def test_expired_certificate_of_someone_not_handling_ready_food_is_allowed(cw):
    h = expire(cw.handlers["a"], MONDAY - timedelta(days=10))
    FoodHandler.objects.filter(pk=h.pk).update(handles_ready_to_eat=False)
    log = check(cw, h)
    assert log.passed
    assert list(
        Judgment.objects.filter(subject_type="canteen.healthcheck").values_list(
            "outcome", flat=True
        )
    ) == ["na"]


def test_unwell_handler_is_recorded_and_the_kitchen_told(cw):
    log = check(cw, healthy=False, symptoms="发热 38.2℃")
    assert not log.passed and not log.healthy and log.finding is None
    for name in ("a_manager", "a_dispatcher"):
        (n,) = notified(cw.user(name), events.SAFETY_NONCONFORMANCE)
        assert "A厨师" in n.title and "发热" in n.body
    assert not notified(cw.user("vendor_worker"))  # who wrote it down
    assert not notified(cw.user("b_manager")) and not notified(cw.user("b_dispatcher"))


def test_health_check_day_and_handler_are_checked(cw):
    with pytest.raises(InvalidInput) as exc:
        check(cw, day=MONDAY + timedelta(days=1))
    assert exc.value.code == "in_future"
    earlier = check(cw, day=MONDAY - timedelta(days=1))
    assert earlier.day == MONDAY - timedelta(days=1)
    assert earlier.recorded_at == at(2026, 12, 6)
    FoodHandler.objects.filter(pk=cw.handlers["a"].pk).update(is_active=False)
    with pytest.raises(InvalidInput) as exc:
        check(cw)
    assert exc.value.code == "handler_inactive"


# --- certificate alerts ----------------------------------------------------------------------


def test_expiring_certificates_are_alerted_once_per_certificate(cw):
    a = cw.handlers["a"]  # expires MONDAY + 65 days
    assert safety.run_alert_expiring_certificates(now=MORNING) == 0
    soon = MORNING + timedelta(days=40)  # 25 days left
    assert safety.run_alert_expiring_certificates(now=soon) == 2  # both counties' cooks
    a.refresh_from_db()
    assert a.alerted_for == a.expires_on
    for name in ("vendor_worker", "a_manager", "a_dispatcher"):
        (n,) = notified(cw.user(name), events.CERTIFICATE_EXPIRING)
        assert "A厨师" in n.title and "25" in n.body
    (n,) = notified(cw.user("b_manager"), events.CERTIFICATE_EXPIRING)
    assert "B厨师" in n.title  # only their own
    assert safety.run_alert_expiring_certificates(now=soon + timedelta(days=1)) == 0
    # a renewed certificate is alerted on when its own time comes
    safety.save_handler(
        actor=cw.user("a_manager"),
        handler_id=a.pk,
        data={"issued_on": "2027-01-01", "expires_on": "2028-01-01"},
    )
    assert safety.run_alert_expiring_certificates(now=soon + timedelta(days=2)) == 0
    assert safety.run_alert_expiring_certificates(now=at(2027, 12, 15)) == 1
    assert len(notified(cw.user("a_manager"), events.CERTIFICATE_EXPIRING)) == 2


def test_inactive_handlers_are_not_alerted(cw):
    FoodHandler.objects.update(is_active=False)
    assert safety.run_alert_expiring_certificates(now=MORNING + timedelta(days=70)) == 0


# --- daily checks ------------------------------------------------------------------------------


def test_daily_checks_come_from_the_plans_for_the_kitchen(cw):
    canteen = cw.canteens["a"]
    assert safety.daily_checks(canteen, MONDAY) == []
    start = at(2026, 12, 7)
    assert generate_occurrences(start=start, end=start + timedelta(days=2)) > 0
    checks = safety.daily_checks(canteen, MONDAY)
    assert [o.activity for o in checks] == [OPENING_CHECK, CLOSING_CHECK]
    assert {o.location_id for o in checks} == {canteen.kitchen_id}
    assert {o.clause.number for o in checks} == {"C13"}
    assert all(o.period_start == start for o in checks)
    assert [o.activity for o in safety.daily_checks(cw.canteens["b"], MONDAY)] == [
        OPENING_CHECK,
        CLOSING_CHECK,
    ]
    canteen.kitchen = None
    assert safety.daily_checks(canteen, MONDAY) == []


def test_ensure_check_plans_assigns_both_checks_idempotently(cw):
    canteen = cw.canteens["a"]
    inspector = cw.user("a_inspector")
    first = safety.ensure_check_plans(
        actor=cw.user("a_manager"), canteen_id=canteen.pk, inspector_id=inspector.pk
    )
    assert [(a.activity, a.checklist_code) for a in first] == [
        (OPENING_CHECK, "canteen.opening"),
        (CLOSING_CHECK, "canteen.closing"),
    ]
    assert all(
        a.location_id == canteen.kitchen_id
        and a.vendor == cw.world.vendor
        and a.inspector == inspector
        and a.kind == "self"
        for a in first
    )
    again = safety.ensure_check_plans(actor=cw.user("a_manager"), canteen_id=canteen.pk)
    assert [a.pk for a in again] == [a.pk for a in first]
    assert PlanAssignment.objects.count() == 2
    assert all(a.inspector == inspector for a in again)  # kept when none is named
    other = cw.user("a_manager")
    moved = safety.ensure_check_plans(
        actor=cw.user("a_manager"), canteen_id=canteen.pk, inspector_id=other.pk
    )
    assert [a.inspector for a in moved] == [other, other]
    safety.ensure_check_plans(
        actor=cw.user("a_manager"), canteen_id=canteen.pk, inspector_id=inspector.pk
    )
    start = at(2026, 12, 7)
    generate_occurrences(org=cw.world.county_a, start=start, end=start + timedelta(days=1))
    checks = safety.daily_checks(canteen, MONDAY)
    assert [o.inspector for o in checks] == [inspector, inspector]
    assert {o.assignment_id for o in checks} == {a.pk for a in first}


def test_ensure_check_plans_is_for_managers(cw):
    canteen = cw.canteens["a"]
    with pytest.raises(PermissionDenied):
        safety.ensure_check_plans(actor=cw.user("vendor_worker"), canteen_id=canteen.pk)
    with pytest.raises(NotFound):
        safety.ensure_check_plans(actor=cw.user("b_manager"), canteen_id=canteen.pk)
    canteen.kitchen = None
    canteen.save()
    with pytest.raises(InvalidInput) as exc:
        safety.ensure_check_plans(actor=cw.user("a_manager"), canteen_id=canteen.pk)
    assert exc.value.code == "no_kitchen"
    assert not PlanAssignment.objects.exists()


# --- who keeps and sees the logs ----------------------------------------------------------------


def a_logs(cw):
    """One of each of county A's food-safety objects."""
    m = menu(cw, "a")
    item = m.items.get(dish=cw.dish("a:dongpo"))
    sample = safety.record_sample(
        actor=cw.user("vendor_worker"),
        menu_item_id=item.pk,
        weight_g=Decimal(130),
        fridge_id=cw.fridges["a:sample"].pk,
        now=at(2026, 12, 7, 11, 40),
    )
    return m, sample


def attempts(cw, sample):
    canteen = cw.canteens["a"]
    now = at(2026, 12, 7, 12)
    return {
        "sample": lambda u: safety.record_sample(
            actor=u,
            menu_item_id=sample.menu.items.get(dish=cw.dish("a:rice")).pk,
            weight_g=Decimal(130),
            fridge_id=cw.fridges["a:sample"].pk,
            now=now,
        ),
        "remove": lambda u: safety.remove_sample(
            actor=u, sample_id=sample.pk, now=now + timedelta(days=3)
        ),
        "temperature": lambda u: safety.record_temperature(
            actor=u, unit_id=cw.fridges["a:chilled"].pk, temp_c=Decimal(20), now=now
        ),
        "disinfection": lambda u: safety.record_disinfection(
            actor=u, canteen_id=canteen.pk, method="boiling", items="碗", now=now
        ),
        "receiving": lambda u: safety.record_receiving(
            actor=u, canteen_id=canteen.pk, data={"supplier": "x"}, now=now
        ),
        "handler": lambda u: safety.save_handler(
            actor=u, handler_id=cw.handlers["a"].pk, data={"post": "x"}
        ),
        "new_handler": lambda u: safety.save_handler(
            actor=u, canteen_id=canteen.pk, data={"name": "x"}
        ),
        "health": lambda u: safety.record_health_check(
            actor=u, handler_id=cw.handlers["a"].pk, healthy=False, now=now
        ),
    }


def test_county_b_gets_404_on_county_a_and_hears_nothing(cw):
    _m, sample = a_logs(cw)
    for name in ("b_manager", "b_dispatcher", "b_staff"):
        for attempt in attempts(cw, sample).values():
            with pytest.raises(NotFound):
                attempt(cw.user(name))
    # county A's failures reach county A only
    safety.record_temperature(
        actor=cw.user("vendor_worker"),
        unit_id=cw.fridges["a:chilled"].pk,
        temp_c=Decimal(20),
        now=at(2026, 12, 7, 12),
    )
    safety.run_remind_sample_removal(now=at(2026, 12, 10))
    safety.run_alert_expiring_certificates(now=at(2027, 1, 20))
    for name in ("b_manager", "b_dispatcher", "b_staff"):
        assert not Notification.objects.filter(
            recipient=cw.user(name), event__org__in=[cw.world.county_a, cw.world.vendor]
        ).exists()
    assert notified(cw.user("a_manager"), events.SAFETY_NONCONFORMANCE)


def test_diners_and_overseers_are_refused_with_403(cw):
    _m, sample = a_logs(cw)
    tries = attempts(cw, sample)
    # a diner sees the canteen, not its logs
    for what in ("disinfection", "receiving", "new_handler", "sample"):
        with pytest.raises(PermissionDenied):
            tries[what](cw.user("a_staff"))
    for what in ("remove", "temperature", "handler", "health"):
        with pytest.raises(NotFound):
            tries[what](cw.user("a_staff"))
    # an inspector oversees the kitchen (view_all) but does not keep its logs
    for attempt in tries.values():
        with pytest.raises(PermissionDenied):
            attempt(cw.user("a_inspector"))


def test_city_manager_and_county_dispatcher_keep_county_a_logs(cw):
    _m, sample = a_logs(cw)
    for name in ("city_manager", "a_dispatcher"):
        log = safety.record_disinfection(
            actor=cw.user(name),
            canteen_id=cw.canteens["a"].pk,
            method="steam",
            items="碗",
            temp_c=100,
            minutes=10,
            now=at(2026, 12, 7, 12),
        )
        assert log.passed and log.recorded_by == cw.user(name)
    done = safety.remove_sample(
        actor=cw.user("city_manager"), sample_id=sample.pk, now=at(2026, 12, 10)
    )
    assert done.removed_by == cw.user("city_manager")
