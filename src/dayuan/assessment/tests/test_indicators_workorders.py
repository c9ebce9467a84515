"""The work-order kpi indicators (and complaints), on hand-built rows, checked by hand."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dayuan.inspections.models import Finding
from dayuan.standards.indicators import INDICATORS
from dayuan.standards.models import Rule
from dayuan.workorders import services as wo_services
from dayuan.workorders.choices import CloseReason, Status
from dayuan.workorders.tests import core_factories
from dayuan.workorders.tests.test_views import build_repair, orm_order, orm_timer

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


JUNE = (at(2026, 6, 1), at(2026, 7, 1))


def _compute(code, org, vendor=None, period=JUNE, **filters):
    return INDICATORS[code].compute(org, *period, vendor=vendor, **filters)


def _closed(day, reason=CloseReason.CONFIRMED):
    return {"closed_at": day, "close_reason": reason}


@pytest.fixture
def rows(world):
    category, team = build_repair(world)
    room, room_b, vendor = world.rooms["a"], world.rooms["b"], world.vendor
    v = {"team": team, "vendor": vendor}
    o = {}
    o["o1"] = orm_order(
        world, category, room, status=Status.CONFIRMED, submitted_at=at(2026, 6, 2, 10),
        rating=5, **_closed(at(2026, 6, 3)), **v,
    )  # fmt: skip
    o["o2"] = orm_order(
        world, category, room, status=Status.CONFIRMED, submitted_at=at(2026, 6, 5, 10),
        rating=3, reopen_count=1, **_closed(at(2026, 6, 6)), **v,
    )  # fmt: skip
    o["o3"] = orm_order(
        world, category, room, status=Status.CLOSED, submitted_at=at(2026, 6, 10, 10),
        **_closed(at(2026, 6, 14), CloseReason.AUTO_UNRATED), **v,
    )  # fmt: skip
    o["o4"] = orm_order(  # the centre's own people: no vendor
        world, category, room, status=Status.DISPATCHED, submitted_at=at(2026, 6, 20, 10)
    )
    o["o5"] = orm_order(  # submitted in May, closed in June
        world, category, room, status=Status.CONFIRMED, submitted_at=at(2026, 5, 31, 23, 30),
        rating=1, **_closed(at(2026, 6, 1, 9)), **v,
    )  # fmt: skip
    o["o6"] = orm_order(
        world, category, room, status=Status.CANCELLED, submitted_at=at(2026, 6, 25, 10),
        **_closed(at(2026, 6, 25, 11), CloseReason.CANCELLED), **v,
    )  # fmt: skip
    o["b1"] = orm_order(
        world, category, room_b, status=Status.CONFIRMED, submitted_at=at(2026, 6, 3, 10),
        rating=5, requester=world.user("b_staff"), **_closed(at(2026, 6, 4)),
    )  # fmt: skip
    orm_timer(o["o1"], "respond", minutes=30, met_after=10)
    orm_timer(o["o1"], "resolve", minutes=240, met_after=100)
    orm_timer(o["o2"], "respond", minutes=30, met_after=45, breached=True)
    orm_timer(o["o3"], "respond", minutes=30, breached=True)  # breached, never met
    orm_timer(o["o4"], "respond", minutes=30, met_after=5)
    orm_timer(o["o5"], "respond", minutes=30, met_after=5)  # a May order's clock
    orm_timer(o["b1"], "respond", minutes=30, met_after=5)
    clause = Rule.objects.get(key="f1_repair").clause

    def complaint(org, day, *, vendor=None, status="open", source="complaint"):
        Finding.objects.create(
            org=org,
            number=f"C{Finding.objects.count() + 1:06d}",
            source=source,
            status=status,
            clause=clause,
            severity="general",
            vendor=vendor,
            description="投诉：维修不及时",
            raised_at=day,
        )

    complaint(world.county_a, at(2026, 6, 3), vendor=vendor)
    complaint(world.county_a, at(2026, 6, 12), vendor=vendor, status="cancelled")
    complaint(world.county_a, at(2026, 6, 15))
    complaint(world.county_a, at(2026, 7, 1), vendor=vendor)  # the period is half-open
    complaint(world.county_a, at(2026, 6, 5), vendor=vendor, source="inspection")
    complaint(world.county_b, at(2026, 6, 7))
    return o


def test_every_indicator_is_bound():
    for code in (
        "on_time_rate",
        "satisfaction_rate",
        "repair_pass_rate",
        "follow_up_rate",
        "complaint_count",
    ):
        assert INDICATORS[code].compute is not None


def test_on_time_rate_over_settled_clocks(world, rows):
    a, vendor = world.county_a, world.vendor
    # June orders of county A: o1 respond ✓ resolve ✓, o2 late, o3 breached, o4 ✓ → 3 of 5
    assert _compute("on_time_rate", a) == 60.0
    assert _compute("on_time_rate", a, vendor=vendor) == 50.0  # o1 ✓✓, o2 ✗, o3 ✗
    assert _compute("on_time_rate", a, timer="respond") == 50.0  # o1, o4 of four
    assert _compute("on_time_rate", a, vendor=vendor, timer="respond") == pytest.approx(33.33)
    assert _compute("on_time_rate", world.county_b) == 100.0
    assert _compute("on_time_rate", world.city) == pytest.approx(66.67)  # 4 of 6
    assert _compute("on_time_rate", a, period=(at(2026, 8, 1), at(2026, 9, 1))) is None


def test_satisfaction_rate_over_rated_orders(world, rows):
    a = world.county_a
    assert _compute("satisfaction_rate", a) == 50.0  # o1 (5), o2 (3); o5 was May's
    assert _compute("satisfaction_rate", a, vendor=world.vendor) == 50.0
    assert _compute("satisfaction_rate", world.county_b) == 100.0
    assert _compute("satisfaction_rate", world.city) == pytest.approx(66.67)
    may = (at(2026, 5, 1), at(2026, 6, 1))
    assert _compute("satisfaction_rate", a, period=may) == 0.0  # o5 rated 1


def test_repair_pass_and_follow_up_rates_over_orders_closed_in_the_period(world, rows):
    a = world.county_a
    # closed in June: o1, o2 (reopened once), o3 (closed unrated), o5; o6 was cancelled
    assert _compute("repair_pass_rate", a) == 75.0
    assert _compute("repair_pass_rate", a, vendor=world.vendor) == 75.0
    assert _compute("follow_up_rate", a) == 75.0  # o1, o2, o5 confirmed; o3 not
    assert _compute("repair_pass_rate", world.county_b) == 100.0
    assert _compute("repair_pass_rate", a, period=(at(2026, 8, 1), at(2026, 9, 1))) is None


def test_complaint_count(world, rows):
    a = world.county_a
    assert _compute("complaint_count", a) == 2.0  # cancelled, July and inspection left out
    assert _compute("complaint_count", a, vendor=world.vendor) == 1.0
    assert _compute("complaint_count", world.county_b) == 1.0
    assert _compute("complaint_count", world.city) == 3.0
    assert _compute("complaint_count", a, period=(at(2026, 8, 1), at(2026, 9, 1))) == 0.0


def test_an_order_through_the_services(world):
    s = core_factories.build(world)
    when = at(2026, 6, 2, 10)
    order = core_factories.submit(s, when)
    order = core_factories.advance(s, order, "resolved", when)
    wo_services.confirm_and_rate(
        actor=s.user("a_staff"), order_id=order.pk, version=order.version, rating=4, now=when
    )
    a, vendor = world.county_a, world.vendor
    assert _compute("satisfaction_rate", a, vendor=vendor) == 100.0
    assert _compute("repair_pass_rate", a, vendor=vendor) == 100.0
    assert _compute("follow_up_rate", a, vendor=vendor) == 100.0
    assert _compute("on_time_rate", a, vendor=vendor) == 100.0
    assert _compute("on_time_rate", world.county_b) is None
