"""The counter: a pickup code, voucher code or QR payload is handed over once only;
unknown codes, meals not being served and cancelled reservations are refused; closing a
meal counts the no-shows (told once) and the diners, idempotently, by hand or by the
periodic job."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dayuan.accounts.choices import Role
from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_user
from dayuan.notifications.models import Notification

from .. import qr, tasks
from .. import reservations as rs
from ..choices import Meal, MenuStatus, ReservationKind, ReservationStatus, VoucherStatus
from ..models import Menu, MenuItem, Reservation
from .factories import MONDAY, at, menu

pytestmark = pytest.mark.django_db

R = ReservationStatus
EARLY = at(2026, 12, 7, 8, 0)
SERVING = at(2026, 12, 7, 11, 40)
AFTER = at(2026, 12, 7, 13, 40)  # lunch ended 13:00, grace 30 min


def reserve(cw, who, m: Menu, **kw) -> Reservation:
    kw.setdefault("now", EARLY)
    return rs.reserve(actor=cw.user(who), menu_id=m.pk, **kw)


def hand(cw, code: str, now: datetime = SERVING, who: str = "vendor_worker", key: str = "a"):
    return rs.hand_over(actor=cw.user(who), canteen_id=cw.canteens[key].pk, code=code, now=now)


def dish_item(m: Menu, cw, key: str) -> MenuItem:
    return MenuItem.objects.get(menu=m, dish=cw.dish(f"a:{key}"))


def test_a_pickup_code_is_handed_over_once_only(cw, lunch):
    dongpo = dish_item(lunch, cw, "dongpo")
    r = reserve(cw, "a_staff", lunch, items=[{"menu_item_id": dongpo.pk, "quantity": 2}])
    got = hand(cw, r.pickup_code)
    assert got.kind == "reservation" and got.voucher is None and got.menu.pk == lunch.pk
    assert got.reservation.pk == r.pk and not got.takeaway
    assert [(x.dish, x.quantity, x.takeaway) for x in got.lines] == [("东坡肉", 2, False)]
    r.refresh_from_db()
    assert r.status == R.SERVED and r.served_at == SERVING
    assert r.served_by == cw.user("vendor_worker")
    with pytest.raises(Conflict) as exc:
        hand(cw, r.pickup_code, now=SERVING + timedelta(minutes=1), who="a_dispatcher")
    assert exc.value.code == "already_served"
    assert exc.value.details["served_at"] == SERVING.isoformat()
    r.refresh_from_db()
    assert r.served_at == SERVING and r.served_by == cw.user("vendor_worker")
    assert AuditEntry.objects.filter(action="canteen.hand_over", outcome="success").count() == 1
    assert AuditEntry.objects.filter(action="canteen.hand_over", outcome="refused").count() == 1


def test_the_qr_payload_names_the_meal(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    payload = qr.pickup_payload(r)
    assert payload == f"DYC:{lunch.pk}:{r.pickup_code}"
    assert qr.parse_code(payload) == (lunch.pk, r.pickup_code)
    assert qr.parse_code(f" dyc:{lunch.pk}:{r.pickup_code} ") == (lunch.pk, r.pickup_code)
    assert qr.parse_code("123 456") == (None, "123456")
    assert qr.parse_code("12345") is None and qr.parse_code("DYC:x:123456") is None
    svg = qr.pickup_svg(r)
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    got = hand(cw, payload)
    assert got.reservation.pk == r.pk


def test_the_qr_payload_of_another_canteen_or_meal_not_served_now(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    other = menu(cw, "b")
    with pytest.raises(NotFound) as exc:  # a B menu at A's counter
        hand(cw, f"DYC:{other.pk}:{r.pickup_code}")
    assert exc.value.code == "unknown_code"
    tomorrow = menu(cw, day=MONDAY + timedelta(days=1))
    with pytest.raises(Conflict) as exc:
        hand(cw, f"DYC:{tomorrow.pk}:{r.pickup_code}")
    assert exc.value.code == "no_meal_now"


def test_a_voucher_is_redeemed_once(cw, lunch):
    batch = rs.issue_vouchers(
        actor=cw.user("a_staff"),
        menu_id=lunch.pk,
        count=2,
        purpose="visitor",
        guest="来宾",
        now=EARLY,
    )
    first, second = batch.vouchers.order_by("pk")
    got = hand(cw, first.code)
    assert got.kind == "voucher" and got.voucher.pk == first.pk and got.reservation is None
    assert got.lines == [] and got.menu.pk == lunch.pk
    first.refresh_from_db()
    assert first.status == VoucherStatus.REDEEMED and first.redeemed_at == SERVING
    with pytest.raises(Conflict) as exc:
        hand(cw, qr.voucher_payload(first))
    assert exc.value.code == "already_served"
    assert hand(cw, qr.voucher_payload(second)).voucher.pk == second.pk
    entry = AuditEntry.objects.filter(action="canteen.hand_over", outcome="success").first()
    assert entry.org_id == cw.world.county_a.pk


def test_unknown_codes(cw, lunch):
    reserve(cw, "a_staff", lunch)
    used = set(Reservation.objects.values_list("pickup_code", flat=True))
    unknown = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in used)
    for code in (unknown, "12345678", "hello", "", "DYC:1:12"):
        with pytest.raises(NotFound) as exc:
            hand(cw, code)
        assert exc.value.code == "unknown_code", code


def test_no_meal_now_outside_the_counters_hours(cw, lunch):
    # the counter opens 30 minutes before serving and closes after the no-show grace
    a = reserve(cw, "a_staff", lunch)
    b = reserve(cw, "a_manager", lunch)
    for now in (at(2026, 12, 7, 10, 59, 59), at(2026, 12, 7, 13, 30)):
        with pytest.raises(Conflict) as exc:
            hand(cw, a.pickup_code, now=now)
        assert exc.value.code == "no_meal_now", now
    assert hand(cw, a.pickup_code, now=at(2026, 12, 7, 11, 0)).reservation.pk == a.pk
    assert hand(cw, b.pickup_code, now=at(2026, 12, 7, 13, 29, 59)).reservation.pk == b.pk


def test_the_meal_being_served_wins_when_two_counters_are_open(cw, lunch):
    # breakfast moved late so that its window touches lunch's
    breakfast = menu(cw, meal=Meal.BREAKFAST)
    Menu.objects.filter(pk=breakfast.pk).update(
        serve_start=at(2026, 12, 7, 10, 0), serve_end=at(2026, 12, 7, 11, 20)
    )
    r_b = reserve(cw, "a_staff", breakfast, now=at(2026, 12, 6, 12, 0))
    r_l = reserve(cw, "a_staff", lunch)
    Reservation.objects.filter(pk=r_b.pk).update(pickup_code="424242")
    Reservation.objects.filter(pk=r_l.pk).update(pickup_code="424242")
    assert hand(cw, "424242", now=at(2026, 12, 7, 11, 10)).reservation.pk == r_b.pk
    assert hand(cw, "424242", now=at(2026, 12, 7, 11, 35)).reservation.pk == r_l.pk


def test_cancelled_reservations_and_void_vouchers_are_refused(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=r.pk, now=EARLY)
    with pytest.raises(Conflict) as exc:
        hand(cw, r.pickup_code)
    assert exc.value.code == "reservation_cancelled"
    batch = rs.issue_vouchers(
        actor=cw.user("a_staff"), menu_id=lunch.pk, count=1, purpose="duty", guest="值班", now=EARLY
    )
    rs.void_vouchers(actor=cw.user("a_staff"), batch_id=batch.pk, now=EARLY)
    with pytest.raises(Conflict) as exc:
        hand(cw, batch.vouchers.get().code)
    assert exc.value.code == "reservation_cancelled"


def test_a_holding_reservation_wins_over_a_cancelled_one_with_the_same_code(cw, lunch):
    old = reserve(cw, "a_staff", lunch)
    rs.cancel_reservation(actor=cw.user("a_staff"), reservation_id=old.pk, now=EARLY)
    new = reserve(cw, "a_manager", lunch)
    Reservation.objects.filter(pk=new.pk).update(pickup_code=old.pickup_code)
    assert hand(cw, old.pickup_code).reservation.pk == new.pk


def test_take_away_hand_over(cw, lunch):
    box = dish_item(lunch, cw, "box")
    r = reserve(
        cw,
        "a_staff",
        lunch,
        kind=ReservationKind.TAKEAWAY,
        items=[{"menu_item_id": box.pk, "quantity": 1}],
        pickup_at=at(2026, 12, 7, 12, 0),
    )
    got = hand(cw, r.pickup_code, who="a_manager")  # managers of the canteen may serve too
    assert got.takeaway
    assert [(x.dish, x.quantity, x.takeaway) for x in got.lines] == [
        ("外带套餐（两荤一素）", 1, True)
    ]


def test_only_the_kitchen_hands_over(cw, lunch):
    r = reserve(cw, "a_staff", lunch)
    with pytest.raises(PermissionDenied):
        hand(cw, r.pickup_code, who="a_staff")
    with pytest.raises(PermissionDenied):
        hand(cw, r.pickup_code, who="a_inspector")  # oversees, does not serve
    for who in ("b_dispatcher", "b_manager"):
        with pytest.raises(NotFound):
            hand(cw, r.pickup_code, who=who)
    r.refresh_from_db()
    assert r.status == R.RESERVED


# --- closing a meal --------------------------------------------------------------------


def _people(cw, n: int) -> list:
    return [make_user(f"diner{i}", cw.world.county_a, Role.STAFF) for i in range(n)]


def test_closing_a_meal_counts_no_shows_and_diners_and_tells_each_once(cw, lunch):
    people = _people(cw, 4)
    rs_ = [rs.reserve(actor=p, menu_id=lunch.pk, now=EARLY) for p in people]
    batch = rs.issue_vouchers(
        actor=cw.user("a_staff"),
        menu_id=lunch.pk,
        count=3,
        purpose="visitor",
        guest="客",
        now=EARLY,
    )
    hand(cw, rs_[0].pickup_code)
    hand(cw, rs_[1].pickup_code)
    hand(cw, batch.vouchers.order_by("pk").first().code)
    rs.cancel_reservation(actor=people[3], reservation_id=rs_[3].pk, now=EARLY)  # before

    with pytest.raises(Conflict) as exc:
        rs.close_meal(actor=cw.user("vendor_worker"), menu_id=lunch.pk, now=at(2026, 12, 7, 11, 29))
    assert exc.value.code == "meal_not_started"
    with pytest.raises(PermissionDenied):
        rs.close_meal(actor=cw.user("a_staff"), menu_id=lunch.pk, now=AFTER)
    with pytest.raises(NotFound):
        rs.close_meal(actor=cw.user("b_dispatcher"), menu_id=lunch.pk, now=AFTER)
    with pytest.raises(InvalidInput) as exc:
        rs.close_meal(actor=cw.user("vendor_worker"), menu_id=lunch.pk, walk_ins=-1, now=AFTER)
    assert exc.value.code == "bad_walk_ins"

    closed = rs.close_meal(
        actor=cw.user("vendor_worker"), menu_id=lunch.pk, walk_ins=5, now=at(2026, 12, 7, 12, 50)
    )
    assert closed.status == MenuStatus.CLOSED and closed.closed_at == at(2026, 12, 7, 12, 50)
    assert closed.walk_ins == 5 and closed.diners == 2 + 1 + 5
    statuses = dict(Reservation.objects.filter(menu=lunch).values_list("person_id", "status"))
    assert [statuses[p.pk] for p in people] == [R.SERVED, R.SERVED, R.NO_SHOW, R.CANCELLED]
    told = Notification.objects.filter(event__type="canteen.no_show")
    assert list(told.values_list("recipient_id", flat=True)) == [people[2].pk]
    assert rs_[2].number in told.get().body

    # closing again: only the walk-ins and the diners change; nobody is told twice
    again = rs.close_meal(actor=cw.user("a_dispatcher"), menu_id=lunch.pk, walk_ins=8, now=AFTER)
    assert again.walk_ins == 8 and again.diners == 11
    assert again.closed_at == at(2026, 12, 7, 12, 50) and again.version == closed.version + 1
    assert told.count() == 1
    kept = rs.close_meal(actor=cw.user("a_manager"), menu_id=lunch.pk, walk_ins=None, now=AFTER)
    assert kept.walk_ins == 8 and kept.diners == 11 and kept.version == again.version
    # a closed meal's counter is closed
    with pytest.raises(Conflict) as exc:
        hand(cw, rs_[2].pickup_code, now=at(2026, 12, 7, 12, 55))
    assert exc.value.code == "no_meal_now"
    entries = AuditEntry.objects.filter(action="canteen.close_meal", outcome="success")
    assert entries.count() == 3
    assert entries.order_by("pk").first().changes["no_shows"] == [0, 1]


def test_draft_and_cancelled_meals_are_not_closed(cw):
    draft = menu(cw, status=MenuStatus.DRAFT)
    with pytest.raises(Conflict) as exc:
        rs.close_meal(actor=cw.user("vendor_worker"), menu_id=draft.pk, now=AFTER)
    assert exc.value.code == "menu_not_open"


def test_the_periodic_job_closes_finished_meals_once(cw, lunch):
    people = _people(cw, 2)
    for p in people:
        rs.reserve(actor=p, menu_id=lunch.pk, now=EARLY)
    dinner = menu(cw, meal=Meal.DINNER)
    Menu.objects.filter(pk=lunch.pk).update(walk_ins=4)
    # lunch ends 13:00, grace 30 minutes: not yet at 13:30
    assert rs.close_finished(now=at(2026, 12, 7, 13, 30)) == 0
    assert rs.close_finished(now=at(2026, 12, 7, 13, 30, 1)) == 1
    lunch.refresh_from_db()
    dinner.refresh_from_db()
    assert lunch.status == MenuStatus.CLOSED and lunch.walk_ins == 4 and lunch.diners == 4
    assert dinner.status == MenuStatus.PUBLISHED
    assert Reservation.objects.filter(menu=lunch, status=R.NO_SHOW).count() == 2
    assert Notification.objects.filter(event__type="canteen.no_show").count() == 2
    assert rs.close_finished(now=at(2026, 12, 7, 14, 0)) == 0
    assert Notification.objects.filter(event__type="canteen.no_show").count() == 2
    entry = AuditEntry.objects.get(action="canteen.close_meal")
    assert entry.actor_id is None  # the system
    # the canteen's grace counts
    cw.canteens["a"].no_show_grace_minutes = 0
    cw.canteens["a"].save()
    assert rs.close_finished(now=at(2026, 12, 7, 19, 0, 1)) == 1


def test_the_periodic_tasks_run_on_their_schedule():
    def fires(task, *args: int) -> bool:
        return task.task_class().validate_datetime(datetime(*args))

    # Huey's crontab is in UTC
    assert fires(tasks.close_finished_meals, 2026, 12, 7, 5, 30)
    assert not fires(tasks.close_finished_meals, 2026, 12, 7, 5, 35)
    assert fires(tasks.remind_sample_removal, 2026, 12, 7, 5, 5)
    assert not fires(tasks.remind_sample_removal, 2026, 12, 7, 5, 0)
    assert fires(tasks.detect_missing_samples, 2026, 12, 7, 5, 30)
    assert not fires(tasks.detect_missing_samples, 2026, 12, 7, 5, 10)
    assert fires(tasks.alert_expiring_certificates, 2026, 12, 7, 1, 10)
    assert not fires(tasks.alert_expiring_certificates, 2026, 12, 7, 9, 10)


def test_the_close_task_runs_the_job(cw, lunch, monkeypatch):
    calls = []
    monkeypatch.setattr(rs, "close_finished", lambda now=None: calls.append(now) or 3)
    tasks.close_finished_meals()  # Huey's immediate mode in tests: runs now
    assert calls == [None]
