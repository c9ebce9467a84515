"""Less waste: the weighing ledger judged by JG-ST C10 (a refused weighing is not kept),
the daily evaluation judged by C9 (one row and one set of judgments per day), who may
keep them, and the ``waste_per_diner`` and ``canteen_staff_ratio`` indicators."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied, RuleRefused
from dayuan.inspections.models import Finding
from dayuan.standards import engine
from dayuan.standards.indicators import INDICATORS
from dayuan.standards.models import Clause, Judgment

from .. import indicators, waste
from ..choices import Meal, MenuStatus, ReservationStatus, WasteKind
from ..models import FoodHandler, Menu, Reservation, WasteDay, WasteLog
from . import history as hist
from .factories import MONDAY, SHANGHAI, at, menu

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 7, 20, 0)


def weigh(cw, who="vendor_worker", key="a", kind=WasteKind.KITCHEN, kg="12.5", **kw):
    return waste.record_waste(
        actor=cw.user(who),
        canteen_id=cw.canteens[key].pk,
        day=kw.pop("day", MONDAY),
        kind=kind,
        weight_kg=Decimal(kg),
        now=kw.pop("now", NOW),
        **kw,
    )


def judged(obj) -> list[tuple[str, str]]:
    return sorted(
        Judgment.objects.filter(
            subject_type=obj._meta.label_lower, subject_id=str(obj.pk)
        ).values_list("clause__number", "outcome")
    )


def served_meal(cw, key="a", meal=Meal.LUNCH, served=4, walk_ins=0, closed=True) -> Menu:
    m = menu(cw, key, MONDAY, meal)
    for i, p in enumerate(hist.people(m.org, served, f"w{m.pk}_")):
        Reservation.objects.create(
            org=m.org,
            canteen=m.canteen,
            menu=m,
            person=p,
            person_org=m.org,
            number=f"W{m.pk}-{i}",
            status=ReservationStatus.SERVED,
            pickup_code=f"{i:06d}",
        )
    if closed:
        Menu.objects.filter(pk=m.pk).update(
            status=MenuStatus.CLOSED, walk_ins=walk_ins, diners=served + walk_ins
        )
    return m


# --- the ledger ------------------------------------------------------------------------


def test_a_weighing_is_kept_and_judged_by_c10(cw):
    log = weigh(cw, meal=Meal.LUNCH, recorded_at=at(2026, 12, 7, 13, 30))
    assert (log.weight_kg, log.kind, log.meal, log.passed) == (
        Decimal("12.50"),
        WasteKind.KITCHEN,
        Meal.LUNCH,
        True,
    )
    assert log.recorded_by == cw.user("vendor_worker") and log.org == cw.world.county_a
    assert judged(log) == [("C10", "pass")]
    entry = AuditEntry.objects.get(action="canteen.record_waste", outcome="success")
    assert entry.object_id == str(log.pk)
    # the canteen's managers keep the ledger too
    assert weigh(cw, "a_manager", kind=WasteKind.TRAY, kg="0").weight_kg == 0


def test_a_negative_weight_is_refused_citing_c10_and_nothing_is_kept(cw):
    with pytest.raises(RuleRefused) as exc:
        weigh(cw, kg="-1")
    assert "C10" in str(exc.value.message)
    assert exc.value.details["violations"][0]["clause"] == "C10"
    assert WasteLog.objects.count() == 0 and Judgment.objects.count() == 0
    assert AuditEntry.objects.filter(action="canteen.record_waste", outcome="refused").exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kg": "5000.01"}, "bad_weight"),
        ({"kg": "NaN"}, "bad_weight"),
        ({"kind": "plastic"}, "bad_kind"),
        ({"meal": "supper"}, "bad_meal"),
        ({"day": MONDAY + timedelta(days=1)}, "bad_day"),
        ({"recorded_at": NOW + timedelta(hours=1)}, "bad_time"),
    ],
)
def test_bad_weighings(cw, change, code):
    with pytest.raises(InvalidInput) as exc:
        weigh(cw, **change)
    assert exc.value.code == code
    assert WasteLog.objects.count() == 0


def test_who_keeps_the_ledger(cw):
    for who in ("a_staff", "a_inspector"):  # a diner, an overseer: they see the canteen
        with pytest.raises(PermissionDenied):
            weigh(cw, who)
    for who in ("b_manager", "b_staff"):
        with pytest.raises(NotFound):
            weigh(cw, who)
    assert weigh(cw, "b_manager", key="b").canteen == cw.canteens["b"]
    assert WasteLog.objects.count() == 1


def test_a_non_blocking_failure_keeps_the_weighing_and_opens_a_finding(cw, monkeypatch):
    clause = Clause.objects.get(
        number="C10", version__standard=cw.standard, rules__key="c10_waste_ledger_fields"
    )
    rule = clause.rules.get(key="c10_waste_ledger_fields")
    violation = engine.Violation(
        rule_key=rule.key,
        standard_code="JG-ST",
        version_number=1,
        clause_number="C10",
        clause_text=clause.text,
        severity="general",
        message="称重超过当日限额",
        blocking=False,
        rule_id=rule.pk,
        clause_id=clause.pk,
    )
    monkeypatch.setattr(
        engine, "enforce_record", lambda *a, **k: engine.RecordResult([violation], [])
    )
    log = weigh(cw)
    log.refresh_from_db()
    assert log.passed is False and log.finding is not None
    finding = Finding.objects.get()
    assert finding.clause_id == clause.pk and "称重超过当日限额" in finding.description
    assert finding.vendor == cw.world.vendor and finding.location == cw.canteens["a"].kitchen


# --- the daily evaluation --------------------------------------------------------------


def test_daily_evaluation_sums_the_day_and_divides_by_diners(cw):
    served_meal(cw, meal=Meal.LUNCH, served=6, walk_ins=2)  # closed: 8 diners
    served_meal(cw, meal=Meal.DINNER, served=2, closed=False)  # under way: 2 served
    menu(cw, "a", MONDAY, Meal.BREAKFAST, status=MenuStatus.CANCELLED)
    for kind, kg in (
        (WasteKind.KITCHEN, "10"),
        (WasteKind.KITCHEN, "2.5"),
        (WasteKind.TRAY, "1.5"),
        (WasteKind.UNSOLD, "0.8"),
        (WasteKind.TRIMMINGS, "3"),
    ):
        weigh(cw, kind=kind, kg=kg)
    weigh(cw, kind=WasteKind.TRAY, kg="9", day=MONDAY - timedelta(days=1))  # another day
    wd = waste.evaluate_waste_day(
        actor=cw.user("vendor_worker"), canteen_id=cw.canteens["a"].pk, day=MONDAY, now=NOW
    )
    assert wd.diners == 10
    assert (wd.kitchen_waste_kg, wd.tray_waste_kg) == (Decimal("12.50"), Decimal("1.50"))
    assert (wd.unsold_discarded_kg, wd.trimmings_reused_kg) == (Decimal("0.80"), Decimal("3.00"))
    assert wd.tray_waste_per_diner_g == Decimal("150.0") and wd.passed
    assert judged(wd) == [("C9", "pass")]
    assert AuditEntry.objects.filter(action="canteen.evaluate_waste_day").count() == 1

    # evaluated again later the same day: the same row, rewritten; judged once
    weigh(cw, kind=WasteKind.TRAY, kg="0.5")
    later = NOW + timedelta(hours=1)
    again = waste.evaluate_waste_day(
        actor=cw.user("a_manager"), canteen_id=cw.canteens["a"].pk, day=MONDAY, now=later
    )
    assert again.pk == wd.pk and WasteDay.objects.count() == 1
    assert again.tray_waste_kg == Decimal("2.00") and again.tray_waste_per_diner_g == 200
    assert again.recorded_by == cw.user("a_manager") and again.recorded_at == later
    assert judged(again) == [("C9", "pass")]


def test_a_day_without_diners_is_not_evaluated(cw):
    weigh(cw, kind=WasteKind.TRAY, kg="1")
    with pytest.raises(InvalidInput) as exc:
        waste.evaluate_waste_day(
            actor=cw.user("vendor_worker"), canteen_id=cw.canteens["a"].pk, day=MONDAY, now=NOW
        )
    assert exc.value.code == "no_diners"
    assert WasteDay.objects.count() == 0


def test_who_evaluates(cw):
    served_meal(cw)
    a = cw.canteens["a"].pk
    with pytest.raises(PermissionDenied):
        waste.evaluate_waste_day(actor=cw.user("a_staff"), canteen_id=a, day=MONDAY, now=NOW)
    with pytest.raises(NotFound):
        waste.evaluate_waste_day(actor=cw.user("b_manager"), canteen_id=a, day=MONDAY, now=NOW)
    with pytest.raises(InvalidInput):
        waste.evaluate_waste_day(
            actor=cw.user("a_manager"), canteen_id=a, day=MONDAY + timedelta(days=1), now=NOW
        )


# --- indicators ------------------------------------------------------------------------


def test_indicators_are_bound():
    assert INDICATORS["waste_per_diner"].compute is indicators.waste_per_diner
    assert INDICATORS["canteen_staff_ratio"].compute is indicators.canteen_staff_ratio


def test_waste_per_diner_over_an_org_and_period(cw):
    hist.history(cw, "a", days=14, meals=(Meal.LUNCH,), scale=0.5, ratings=False)
    hist.history(cw, "b", days=14, meals=(Meal.LUNCH,), scale=0.5, ratings=False, seed=2)
    start = at(2026, 11, 30)  # the last 7 days of the history
    end = at(2026, 12, 7)
    diners = sum(
        Menu.objects.filter(canteen=cw.canteens["a"], day__gte=start.date()).values_list(
            "diners", flat=True
        )
    )
    # 29 kg a day thrown away (kitchen 20, tray 6, unsold 3; trimmings 2 are reused)
    expected = round(7 * 29 * 1000 / diners, 1)
    assert indicators.waste_per_diner(cw.world.county_a, start, end) == expected
    assert indicators.waste_per_diner(cw.world.county_a, start, end, vendor=cw.world.vendor) == (
        expected
    )
    assert indicators.waste_per_diner(cw.world.county_b, start, end, vendor=cw.world.vendor) is None
    both = indicators.waste_per_diner(cw.world.city, start, end)
    assert both is not None and both != expected
    # a day not weighed does not count, diners nor waste
    WasteLog.objects.filter(canteen=cw.canteens["a"], day=MONDAY - timedelta(days=1)).delete()
    last = Menu.objects.get(canteen=cw.canteens["a"], day=MONDAY - timedelta(days=1)).diners
    assert indicators.waste_per_diner(cw.world.county_a, start, end) == round(
        6 * 29 * 1000 / (diners - last), 1
    )
    assert indicators.waste_per_diner(cw.world.county_a, end, end + timedelta(days=7)) is None


def test_canteen_staff_ratio_by_band(cw):
    hist.history(cw, "a", days=7, meals=(Meal.LUNCH,), scale=0.5, ratings=False, waste=False)
    a = cw.canteens["a"]
    for i in range(2):
        FoodHandler.objects.create(
            org=a.org,
            canteen=a,
            name=f"帮厨{i}",
            certificate_no=f"JK-x-{i}",
            issued_on=MONDAY - timedelta(days=10),
            expires_on=MONDAY + timedelta(days=300),
        )
    FoodHandler.objects.filter(name="帮厨1").update(is_active=False)
    start, end = at(2026, 11, 30), at(2026, 12, 7)
    per_day = Menu.objects.filter(canteen=a, day__gte=start.astimezone(SHANGHAI).date())
    average = sum(m.diners for m in per_day) / per_day.count()
    ratio = indicators.canteen_staff_ratio(cw.world.county_a, start, end)
    assert ratio == round(average / 2, 2)  # A厨师 and 帮厨0
    assert (
        indicators.canteen_staff_ratio(
            cw.world.county_a, start, end, diners_min="0", diners_max=str(int(average) + 1)
        )
        == ratio
    )
    assert indicators.canteen_staff_ratio(cw.world.county_a, start, end, diners_min="500") is None
    assert indicators.canteen_staff_ratio(cw.world.county_b, start, end) is None
