"""Food-safety logs judged by JG-ST: samples (C1, county B's 150 g), their removal and
the removal reminder, missing samples of a served meal, fridge temperatures (C2, C6),
disinfection per method (C3) and receiving checks (C12). Blocking clauses refuse and
leave nothing behind; non-blocking ones keep a failed log with one finding."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, RuleRefused
from dayuan.inspections.models import Finding
from dayuan.notifications.models import Notification
from dayuan.standards.models import Judgment

from .. import events, safety
from ..choices import Meal, MenuStatus, ReservationStatus
from ..models import (
    Disinfection,
    FoodSample,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    TemperatureLog,
)
from .factories import MONDAY, at, menu

pytestmark = pytest.mark.django_db

NOON = at(2026, 12, 7, 11, 40)  # lunch is being served


def item_of(m: Menu, cw, key: str, dish: str = "dongpo") -> MenuItem:
    return m.items.get(dish=cw.dish(f"{key}:{dish}"))


def sample(cw, key="a", user=None, dish="dongpo", m=None, weight="130", now=NOON, **kw):
    m = m or menu(cw, key)
    return safety.record_sample(
        actor=cw.user(user or ("vendor_worker" if key == "a" else "b_dispatcher")),
        menu_item_id=item_of(m, cw, key, dish).pk,
        weight_g=Decimal(weight),
        fridge_id=cw.fridges[f"{key}:sample"].pk,
        now=now,
        **kw,
    )


def judgments(obj) -> list[tuple[str, str]]:
    return sorted(
        Judgment.objects.filter(
            subject_type=obj._meta.label_lower, subject_id=str(obj.pk)
        ).values_list("rule__key", "outcome")
    )


def notified(user, event_type=None) -> list[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if event_type:
        qs = qs.filter(event__type=event_type)
    return list(qs)


def cited(exc: pytest.ExceptionInfo, clause: str) -> dict:
    violations = exc.value.details["violations"]
    assert violations[0]["clause"] == clause, violations
    assert violations[0]["standard"] == "JG-ST"
    return violations[0]


def nothing_written(model) -> None:
    assert not model.objects.exists()
    assert not Judgment.objects.filter(subject_type=model._meta.label_lower).exists()


# --- samples ----------------------------------------------------------------------------


def test_sample_recorded_kept_48_hours_and_judged(cw):
    s = sample(cw)
    assert s.passed and s.finding is None
    assert s.recorded_at == NOON and s.keep_until == NOON + timedelta(hours=48)
    assert s.org == cw.world.county_a and s.dish == cw.dish("a:dongpo")
    assert s.recorded_by == cw.user("vendor_worker")
    assert judgments(s) == [("c1_sample_quantity", "pass"), ("c1_sample_record_fields", "pass")]
    j = Judgment.objects.filter(subject_id=str(s.pk), subject_type="canteen.foodsample").first()
    assert j.location_id == cw.canteens["a"].kitchen_id and j.vendor == cw.world.vendor
    assert AuditEntry.objects.filter(
        action="canteen.record_sample", object_id=str(s.pk), outcome=Outcome.SUCCESS
    ).exists()


@pytest.mark.parametrize(
    ("key", "too_light", "enough", "minimum"),
    [("a", "124.9", "125", "125"), ("b", "149", "150", "150")],
)
def test_sample_weight_is_the_counties_minimum(cw, key, too_light, enough, minimum):
    m = menu(cw, key)
    with pytest.raises(RuleRefused) as exc:
        sample(cw, key, m=m, weight=too_light)
    v = cited(exc, "C1")
    assert v["rule"] == "c1_sample_quantity" and v["blocking"]
    assert f"{minimum} g" in exc.value.message
    nothing_written(FoodSample)
    assert AuditEntry.objects.filter(
        action="canteen.record_sample", outcome=Outcome.REFUSED
    ).exists()
    assert sample(cw, key, m=m, weight=enough).passed


def test_sample_weight_is_judged_as_it_is_stored(cw):
    m = menu(cw)
    assert sample(cw, m=m, weight="130.04").weight_g == Decimal("130.0")
    with pytest.raises(InvalidInput) as exc:
        sample(cw, m=m, dish="rice", weight="-1")
    assert exc.value.code == "out_of_range"
    with pytest.raises(InvalidInput) as exc:
        safety.record_sample(
            actor=cw.user("vendor_worker"),
            menu_item_id=item_of(m, cw, "a", "rice").pk,
            weight_g="heavy",
            fridge_id=cw.fridges["a:sample"].pk,
            now=NOON,
        )
    assert exc.value.code == "invalid_number"


def test_sample_retention_shorter_than_the_standard_is_refused(cw):
    m = menu(cw)
    with pytest.raises(RuleRefused) as exc:
        sample(cw, m=m, keep_hours=24)
    assert cited(exc, "C1")["rule"] == "c1_sample_quantity"
    nothing_written(FoodSample)
    s = sample(cw, m=m, keep_hours=72)
    assert s.keep_until == NOON + timedelta(hours=72)


def test_unsealed_sample_is_refused(cw):
    with pytest.raises(RuleRefused) as exc:
        sample(cw, sealed=False)
    assert cited(exc, "C1")["rule"] == "c1_sample_record_fields"
    nothing_written(FoodSample)


def test_sample_needs_the_canteens_sample_fridge_and_is_taken_once(cw):
    m = menu(cw)
    item = item_of(m, cw, "a")
    for fridge in (cw.fridges["a:chilled"], cw.fridges["b:sample"]):
        with pytest.raises(InvalidInput) as exc:
            safety.record_sample(
                actor=cw.user("vendor_worker"),
                menu_item_id=item.pk,
                weight_g=Decimal(130),
                fridge_id=fridge.pk,
                now=NOON,
            )
        assert exc.value.code == "invalid_fridge"
    sample(cw, m=m)
    with pytest.raises(Conflict) as exc:
        sample(cw, m=m)
    assert exc.value.code == "already_sampled"
    with pytest.raises(InvalidInput) as exc:
        sample(cw, m=m, dish="rice", sampled_at=NOON + timedelta(hours=1))
    assert exc.value.code == "in_future"


def test_sample_of_a_cancelled_meal_is_refused(cw):
    m = menu(cw, status=MenuStatus.CANCELLED)
    with pytest.raises(Conflict) as exc:
        sample(cw, m=m)
    assert exc.value.code == "menu_not_served"


def test_removal_before_the_retention_is_refused_citing_c1(cw):
    s = sample(cw)
    with pytest.raises(RuleRefused) as exc:
        safety.remove_sample(
            actor=cw.user("vendor_worker"), sample_id=s.pk, now=NOON + timedelta(hours=47)
        )
    assert cited(exc, "C1")["rule"] == "c1_sample_quantity"
    s.refresh_from_db()
    assert s.removed_at is None
    done = safety.remove_sample(
        actor=cw.user("vendor_worker"), sample_id=s.pk, now=NOON + timedelta(hours=48, minutes=5)
    )
    assert done.removed_at == NOON + timedelta(hours=48, minutes=5)
    assert done.removed_by == cw.user("vendor_worker")
    # the removal is not a second judgment of the sample
    assert len(judgments(s)) == 2
    with pytest.raises(Conflict) as exc:
        safety.remove_sample(
            actor=cw.user("a_manager"), sample_id=s.pk, now=NOON + timedelta(hours=50)
        )
    assert exc.value.code == "already_removed"


def test_removal_before_a_longer_declared_keep_until_is_refused(cw):
    s = sample(cw, keep_hours=72)
    with pytest.raises(Conflict) as exc:
        safety.remove_sample(
            actor=cw.user("vendor_worker"), sample_id=s.pk, now=NOON + timedelta(hours=50)
        )
    assert exc.value.code == "sample_not_due"
    safety.remove_sample(
        actor=cw.user("vendor_worker"), sample_id=s.pk, now=NOON + timedelta(hours=72)
    )


def test_removal_reminder_once_per_sample(cw):
    m = menu(cw)
    s1 = sample(cw, m=m)
    s2 = sample(cw, m=m, dish="greens")
    gone = sample(cw, m=m, dish="rice")
    safety.remove_sample(
        actor=cw.user("vendor_worker"), sample_id=gone.pk, now=NOON + timedelta(hours=49)
    )
    assert safety.run_remind_sample_removal(now=NOON + timedelta(hours=47)) == 0
    assert safety.run_remind_sample_removal(now=NOON + timedelta(hours=50)) == 2
    for s in (s1, s2):
        s.refresh_from_db()
        assert s.reminded_at == NOON + timedelta(hours=50)
    for name in ("vendor_worker", "a_manager", "a_dispatcher"):
        (n,) = notified(cw.user(name), events.SAMPLE_DUE)
        assert "东坡肉" in n.body and "清炒时蔬" in n.body and "米饭" not in n.body
    assert safety.run_remind_sample_removal(now=NOON + timedelta(hours=51)) == 0
    assert len(notified(cw.user("a_manager"), events.SAMPLE_DUE)) == 1
    for name in ("b_manager", "b_dispatcher"):
        assert not notified(cw.user(name))


# --- missing samples ----------------------------------------------------------------------


def closed_lunch(cw, key="a", day=MONDAY, diners=20):
    m = menu(cw, key, day, status=MenuStatus.CLOSED)
    Menu.objects.filter(pk=m.pk).update(diners=diners, closed_at=at(2026, 12, 7, 13, 30))
    m.refresh_from_db()
    return m


def test_served_dishes_without_sample_make_one_finding_per_meal(cw):
    m = closed_lunch(cw)
    sample(cw, m=m)  # 东坡肉 sampled; greens, rice and the box are not
    later = at(2026, 12, 7, 14)
    assert safety.run_detect_missing_samples(now=later) == 1
    (finding,) = Finding.objects.all()
    assert finding.clause.number == "C1" and finding.rule.key == "c1_sample_every_meal"
    assert finding.source == "other" and finding.severity == "key"
    assert finding.org == cw.world.county_a and finding.vendor == cw.world.vendor
    assert finding.location == cw.canteens["a"].kitchen
    assert "清炒时蔬" in finding.description and "米饭" in finding.description
    assert "东坡肉" not in finding.description
    failing = Judgment.objects.filter(rule__key="c1_sample_every_meal", outcome="fail")
    missing = {item_of(m, cw, "a", d).pk for d in ("greens", "rice", "box")}
    assert {int(j.subject_id) for j in failing} == missing
    assert {j.subject_type for j in failing} == {"canteen.menuitem"}
    assert not Judgment.objects.filter(rule__key="c1_sample_every_meal", outcome="pass").exists()
    m.refresh_from_db()
    assert m.samples_checked_at == later
    (n,) = notified(cw.user("a_manager"), events.SAFETY_NONCONFORMANCE)
    assert "米饭" in n.body
    assert notified(cw.user("vendor_worker"), events.SAFETY_NONCONFORMANCE)
    # again: nothing new
    assert safety.run_detect_missing_samples(now=later + timedelta(hours=1)) == 0
    assert Finding.objects.count() == 1 and failing.count() == 3


def test_fully_sampled_or_uneaten_meals_are_no_finding(cw):
    full = closed_lunch(cw, diners=5)
    for dish in ("dongpo", "greens", "rice", "box"):
        sample(cw, m=full, dish=dish)
    nobody = closed_lunch(cw, day=MONDAY + timedelta(days=1), diners=0)
    assert safety.run_detect_missing_samples(now=at(2026, 12, 8, 14)) == 0
    assert not Finding.objects.exists()
    assert not Judgment.objects.filter(rule__key="c1_sample_every_meal").exists()
    for m in (full, nobody):
        m.refresh_from_db()
        assert m.samples_checked_at is not None


def test_published_meal_is_checked_two_hours_after_serving(cw):
    m = menu(cw, items={"dongpo": 10, "rice": None})
    person = cw.user("a_staff")
    Reservation.objects.create(
        org=m.org,
        canteen=m.canteen,
        menu=m,
        person=person,
        person_org=cw.world.county_a,
        number="BC-20261207-00001",
        pickup_code="123456",
        status=ReservationStatus.SERVED,
        served_at=at(2026, 12, 7, 12),
    )
    draft = menu(cw, meal=Meal.DINNER, status=MenuStatus.DRAFT)
    assert safety.run_detect_missing_samples(now=at(2026, 12, 7, 14, 59)) == 0
    m.refresh_from_db()
    assert m.samples_checked_at is None
    assert safety.run_detect_missing_samples(now=at(2026, 12, 7, 15)) == 1
    assert "米饭" in Finding.objects.get().description
    assert safety.run_detect_missing_samples(now=at(2026, 12, 8, 15)) == 0
    draft.refresh_from_db()
    assert draft.samples_checked_at is None


# --- temperatures -------------------------------------------------------------------------


def temperature(cw, unit="a:sample", temp="4", user="vendor_worker", **kw):
    return safety.record_temperature(
        actor=cw.user(user), unit_id=cw.fridges[unit].pk, temp_c=Decimal(temp), now=NOON, **kw
    )


@pytest.mark.parametrize(
    ("unit", "temp"),
    [("a:sample", "0"), ("a:sample", "10"), ("a:chilled", "8"), ("a:frozen", "-18")],
)
def test_temperature_in_range_passes(cw, unit, temp):
    log = temperature(cw, unit, temp)
    assert log.passed and log.finding is None
    assert all(outcome != "fail" for _, outcome in judgments(log))
    assert not Finding.objects.exists()


@pytest.mark.parametrize(
    ("unit", "temp", "clause", "rule"),
    [
        ("a:sample", "12", "C2", "c2_sample_fridge_temp"),
        ("a:sample", "-1", "C2", "c2_sample_fridge_temp"),
        ("a:chilled", "9", "C6", "c6_chilled_storage"),
        ("a:frozen", "-10", "C6", "c6_frozen_storage"),
    ],
)
def test_temperature_out_of_range_is_kept_failed_with_one_finding(cw, unit, temp, clause, rule):
    log = temperature(cw, unit, temp)
    log.refresh_from_db()
    assert not log.passed and log.finding is not None
    (finding,) = Finding.objects.all()
    assert finding == log.finding
    assert finding.clause.number == clause and finding.rule.key == rule
    assert finding.source == "other" and finding.vendor == cw.world.vendor
    assert finding.location == cw.canteens["a"].kitchen
    assert (rule, "fail") in judgments(log)
    # the kitchen and its managers hear of it; the one who wrote it down knows
    assert notified(cw.user("a_manager"), events.SAFETY_NONCONFORMANCE)
    assert notified(cw.user("a_dispatcher"), events.SAFETY_NONCONFORMANCE)
    assert not notified(cw.user("vendor_worker"), events.SAFETY_NONCONFORMANCE)
    for name in ("b_manager", "b_dispatcher"):
        assert not notified(cw.user(name))


def test_vendor_worker_hears_of_a_managers_failed_reading(cw):
    temperature(cw, "a:chilled", "11", user="a_manager")
    (n,) = notified(cw.user("vendor_worker"), events.SAFETY_NONCONFORMANCE)
    assert "冷藏" in n.body
    assert not notified(cw.user("a_manager"), events.SAFETY_NONCONFORMANCE)


def test_temperature_input_is_checked(cw):
    with pytest.raises(InvalidInput) as exc:
        temperature(cw, temp="99")
    assert exc.value.code == "out_of_range"
    with pytest.raises(InvalidInput) as exc:
        temperature(cw, recorded_at=NOON + timedelta(minutes=30))
    assert exc.value.code == "in_future"
    assert not TemperatureLog.objects.exists()
    log = temperature(cw, recorded_at=NOON - timedelta(hours=1))
    assert log.recorded_at == NOON - timedelta(hours=1)


# --- disinfection -------------------------------------------------------------------------


def disinfect(cw, method, user="vendor_worker", key="a", **values):
    return safety.record_disinfection(
        actor=cw.user(user),
        canteen_id=cw.canteens[key].pk,
        method=method,
        items="餐盘、碗筷",
        now=NOON,
        **values,
    )


@pytest.mark.parametrize(
    ("method", "values"),
    [
        ("boiling", {"temp_c": 100, "minutes": 10}),
        ("steam", {"temp_c": Decimal("100.5"), "minutes": 15}),
        ("infrared", {"temp_c": 120, "minutes": 10}),
        ("dishwasher", {"rinse_temp_c": 85, "rinse_seconds": 40}),
        ("chlorine", {"chlorine_mg_l": 250, "minutes": 5, "fully_immersed": True}),
        # a value of another method is kept but not judged
        ("dishwasher", {"rinse_temp_c": 90, "rinse_seconds": 60, "chlorine_mg_l": 1}),
        ("boiling", {"temp_c": 100, "minutes": 10, "fully_immersed": False}),
    ],
)
def test_disinfection_meeting_its_methods_terms_passes(cw, method, values):
    log = disinfect(cw, method, **values)
    assert log.passed and log.method == method
    outcomes = dict(judgments(log))
    assert "fail" not in outcomes.values()
    assert list(outcomes.values()).count("pass") == 1  # only its method's rule applies
    if "chlorine_mg_l" in values and method != "chlorine":
        assert log.chlorine_mg_l == values["chlorine_mg_l"]


@pytest.mark.parametrize(
    ("method", "values", "rule", "code"),
    [
        ("boiling", {"temp_c": 99, "minutes": 10}, "c3_disinfect_heat", "violation"),
        ("steam", {"temp_c": 100, "minutes": 9}, "c3_disinfect_heat", "violation"),
        ("infrared", {"temp_c": 110, "minutes": 10}, "c3_disinfect_infrared", "violation"),
        ("infrared", {"temp_c": 100, "minutes": 10}, "c3_disinfect_infrared", "violation"),
        (
            "dishwasher",
            {"rinse_temp_c": 80, "rinse_seconds": 40},
            "c3_disinfect_dishwasher",
            "violation",
        ),
        (
            "dishwasher",
            {"rinse_temp_c": 85, "rinse_seconds": 30},
            "c3_disinfect_dishwasher",
            "violation",
        ),
        (
            "chlorine",
            {"chlorine_mg_l": 200, "minutes": 5, "fully_immersed": True},
            "c3_disinfect_chlorine",
            "violation",
        ),
        (
            "chlorine",
            {"chlorine_mg_l": 250, "minutes": 5, "fully_immersed": False},
            "c3_disinfect_chlorine",
            "violation",
        ),
        # a value the method needs and nobody gave
        ("boiling", {"temp_c": 100}, "c3_disinfect_heat", "missing_field"),
        ("dishwasher", {"rinse_temp_c": 85}, "c3_disinfect_dishwasher", "missing_field"),
        (
            "chlorine",
            {"chlorine_mg_l": 250, "minutes": 5},
            "c3_disinfect_chlorine",
            "missing_field",
        ),
        # the values of another method do not stand in for the method's own
        (
            "infrared",
            {"rinse_temp_c": 130, "rinse_seconds": 600},
            "c3_disinfect_infrared",
            "missing_field",
        ),
    ],
)
def test_disinfection_short_of_its_methods_terms_is_refused(cw, method, values, rule, code):
    with pytest.raises(RuleRefused) as exc:
        disinfect(cw, method, **values)
    v = cited(exc, "C3")
    assert v["rule"] == rule and v["code"] == code and v["blocking"]
    if code == "missing_field":
        assert "缺少字段" in v["message"]
    nothing_written(Disinfection)


def test_disinfection_method_and_values_are_checked(cw):
    with pytest.raises(InvalidInput) as exc:
        disinfect(cw, "uv", temp_c=100, minutes=10)
    assert exc.value.code == "bad_method"
    with pytest.raises(InvalidInput) as exc:
        disinfect(cw, "boiling", temp_c="hot", minutes=10)
    assert exc.value.code == "invalid_number" and exc.value.details["field"] == "temp_c"
    with pytest.raises(InvalidInput) as exc:
        disinfect(cw, "chlorine", chlorine_mg_l=250, minutes=5, fully_immersed="yes")
    assert exc.value.code == "invalid_boolean"
    nothing_written(Disinfection)


# --- receiving ------------------------------------------------------------------------------

GOODS = {
    "supplier": "某某农产品公司",
    "supplier_licence": "JY13301000000001",
    "item": "五花肉",
    "quantity": "25.5",
    "batch_no": "20261206-01",
    "production_date": "2026-12-06",
    "best_before": "2026-12-10",
    "certificate_no": "HG-0001",
}


def receive(cw, user="vendor_worker", **data):
    return safety.record_receiving(
        actor=cw.user(user), canteen_id=cw.canteens["a"].pk, data={**GOODS, **data}, now=NOON
    )


def test_receiving_in_order_is_recorded_and_judged(cw):
    log = receive(cw)
    assert log.passed and log.accepted
    assert log.quantity == Decimal("25.5") and log.unit == "kg"
    assert str(log.best_before) == "2026-12-10"
    assert judgments(log) == [
        ("c12_receiving_certificate", "pass"),
        ("c12_receiving_record", "pass"),
    ]
    # a production date stands in for a batch number
    assert receive(cw, batch_no="").passed


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"batch_no": "", "production_date": None}, "c12_receiving_record"),
        ({"best_before": "2026-12-06"}, "c12_receiving_certificate"),  # expired on arrival
        ({"certificate_no": ""}, "c12_receiving_certificate"),
        ({"best_before": None}, "c12_receiving_certificate"),  # nobody can say it is in date
        # rejected goods still need the record's facts
        ({"accepted": False, "batch_no": "", "production_date": ""}, "c12_receiving_record"),
    ],
)
def test_receiving_refusals_cite_c12(cw, data, rule):
    with pytest.raises(RuleRefused) as exc:
        receive(cw, **data)
    assert cited(exc, "C12")["rule"] == rule
    nothing_written(ReceivingCheck)


def test_rejected_goods_are_recorded(cw):
    log = receive(
        cw,
        accepted=False,
        best_before="2026-12-01",
        certificate_no="",
        reject_reason="已过保质期",
    )
    assert log.passed and not log.accepted and log.reject_reason == "已过保质期"
    assert ("c12_receiving_certificate", "na") in judgments(log)
    assert not Finding.objects.exists()


def test_receiving_input_is_checked(cw):
    for data, code in (
        ({"colour": "red"}, "unknown_fields"),
        ({"supplier": ""}, "required"),
        ({"quantity": "many"}, "invalid_number"),
        ({"best_before": "someday"}, "bad_date"),
        ({"production_date": "2026-12-08"}, "bad_date"),  # made after it arrived
        ({"accepted": "yes"}, "invalid_boolean"),
    ):
        with pytest.raises(InvalidInput) as exc:
            receive(cw, **data)
        assert exc.value.code == code, data
    nothing_written(ReceivingCheck)


def test_unknown_log_objects_are_not_found(cw):
    with pytest.raises(NotFound):
        safety.record_temperature(actor=cw.user("a_manager"), unit_id=999_999, temp_c=Decimal(4))
    with pytest.raises(NotFound):
        safety.remove_sample(actor=cw.user("a_manager"), sample_id=999_999)
    with pytest.raises(NotFound):
        safety.record_disinfection(
            actor=cw.user("a_manager"), canteen_id=999_999, method="boiling", items="碗"
        )
