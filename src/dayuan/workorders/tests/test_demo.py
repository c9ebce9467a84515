"""The work-order demo: a smaller history built like the full one, checked for shape,
clock arithmetic, ratings, timelines and org scope."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q

from dayuan.accounts.models import User
from dayuan.bookings import demo as bk_demo
from dayuan.canteen import demo as ct_demo
from dayuan.orgs.models import Organization
from dayuan.standards import engine
from dayuan.standards.models import Judgment, Standard
from dayuan.workcalendar.calendar import WorkingCalendar
from dayuan.workorders import demo as wo_demo
from dayuan.workorders import queries
from dayuan.workorders.choices import OPEN_STATUSES, CloseReason, Status
from dayuan.workorders.models import (
    Responsibility,
    ServiceCategory,
    Team,
    TeamMember,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderTimer,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 20, 10, 30, tzinfo=SH)  # a Friday; the history spans 春节 2026
ORDERS = 500


@pytest.fixture(scope="module")
def loaded(module_db):
    """The core demo world (without its work-order part), then 500 orders over 2 months;
    loaded once for the module."""
    from dayuan.core import demo as core_demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wo_demo, "load_demo", lambda *args, **kwargs: {})
        mp.setattr(bk_demo, "load_demo", lambda *args, **kwargs: {})  # not needed here
        mp.setattr(ct_demo, "load_demo", lambda *args, **kwargs: {})  # nor this
        core_demo.load_demo()
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in ("dongcheng", "xihu", "nanshan")]
    counts = wo_demo.load_demo(admin, city, counties, orders=ORDERS, months=2, now=NOW)
    return counts


def test_it_loads_the_catalogue_teams_and_orders_in_every_status(loaded):
    assert loaded["orders"] == WorkOrder.objects.count() == ORDERS
    assert Standard.objects.filter(code="JG-FW", status="published").exists()
    city = Organization.objects.get(code="city")
    codes = set(ServiceCategory.objects.filter(org=city).values_list("code", flat=True))
    assert {"repair.plumbing", "repair.ac", "meeting_support", "car_wash"} <= codes
    assert ServiceCategory.objects.get(code="repair.ac").parent.code == "repair"
    assert ServiceCategory.objects.get(code="car_wash").tier == "external"
    assert Team.objects.count() == 4
    assert TeamMember.objects.count() == 16  # the demo worker plus three more per vendor
    assert Responsibility.objects.filter(location__kind="compound").count() == 4 * 10
    statuses = Counter(WorkOrder.objects.values_list("status", flat=True))
    assert {Status.CONFIRMED, Status.CLOSED, Status.CANCELLED} <= set(statuses)
    assert sum(statuses[s] for s in OPEN_STATUSES) >= 5
    assert statuses[Status.CONFIRMED] > ORDERS / 2  # most are done and rated
    assert WorkOrder.objects.filter(status__in=OPEN_STATUSES, overdue=True).exists()
    urgent = WorkOrder.objects.filter(urgency="urgent").count()
    assert 0.03 * ORDERS < urgent < 0.15 * ORDERS
    # Office hours dominate.
    hours = Counter(
        t.astimezone(SH).hour for t in WorkOrder.objects.values_list("submitted_at", flat=True)
    )
    assert sum(hours[h] for h in range(8, 18)) > 0.75 * ORDERS
    assert WorkOrder.objects.filter(submitted_at__gt=NOW).count() == 0


def test_it_computes_every_clock_with_the_engine(loaded):
    cal = WorkingCalendar()
    timers = list(
        WorkOrderTimer.objects.select_related("workorder__org", "workorder__category").order_by(
            "id"
        )
    )
    assert timers
    sample = random.Random(1).sample(timers, min(150, len(timers)))
    assert any(t.paused_minutes for t in timers)
    for t in sample:
        order = t.workorder
        specs = {
            s.name: s
            for s in engine.sla_timers(
                order.org,
                order.category.sla_category,
                priority=order.urgency,
                at=order.submitted_at,
            )
        }
        spec = specs[t.name]
        assert (t.rule_id, t.clause_id, t.minutes, t.calendar) == (
            spec.rule_id,
            spec.clause_id,
            spec.minutes,
            spec.calendar,
        )
        assert t.started_at == order.submitted_at
        expected = engine.due_at(t.started_at, spec, order.org)
        if t.paused_minutes:
            expected = cal.add_working_minutes(expected, t.paused_minutes)
        assert t.due_at == expected, (order.number, t.name)
        if t.met_at is not None:
            assert t.breached == (t.met_at > t.due_at)
    # The county that tightened JG-WY-2015 P1 gets its 20-minute urgent arrival.
    arrive = WorkOrderTimer.objects.filter(
        name="arrive", workorder__urgency="urgent", workorder__category__sla_category="repair"
    )
    assert set(
        arrive.filter(workorder__org__code="dongcheng").values_list("minutes", flat=True)
    ) <= {20}
    assert set(arrive.filter(workorder__org__code="xihu").values_list("minutes", flat=True)) <= {30}
    # No clocks for a category no rule names.
    assert not WorkOrderTimer.objects.filter(workorder__category__code="car_wash").exists()


def test_it_stores_one_judgment_per_decided_clock(loaded):
    decided = WorkOrderTimer.objects.filter(Q(met_at__isnull=False) | Q(breached=True))
    judgments = Judgment.objects.filter(subject_type="workorder")
    assert judgments.count() == decided.count() > 0
    failed = set(judgments.filter(outcome="fail").values_list("subject_id", "clause_id"))
    breached = {
        (str(w), c)
        for w, c in decided.filter(breached=True).values_list("workorder_id", "clause_id")
    }
    assert failed == breached
    sample = judgments.order_by("id")[:50]
    for j in sample:
        order = WorkOrder.objects.get(pk=int(j.subject_id))
        assert (j.org_id, j.location_id, j.vendor_id) == (
            order.org_id,
            order.location_id,
            order.vendor_id,
        )


def test_it_rates_most_orders_and_never_rates_the_auto_closed(loaded):
    auto = WorkOrder.objects.filter(close_reason=CloseReason.AUTO_UNRATED)
    rated = WorkOrder.objects.filter(close_reason=CloseReason.CONFIRMED)
    assert auto.exists() and not auto.filter(rating__isnull=False).exists()
    assert set(auto.values_list("status", flat=True)) == {Status.CLOSED}
    for order in auto:
        assert order.closed_at == order.resolved_at + timedelta(days=3)
    assert not rated.filter(rating__isnull=True).exists()
    assert set(rated.values_list("status", flat=True)) == {Status.CONFIRMED}
    done = auto.count() + rated.count()
    assert 0.05 < auto.count() / done < 0.3
    ratings = Counter(rated.values_list("rating", flat=True))
    assert ratings[4] + ratings[5] > 0.7 * rated.count()
    assert ratings[1] + ratings[2] + ratings[3] > 0
    assert not WorkOrder.objects.filter(status=Status.CANCELLED, rating__isnull=False).exists()


def test_it_writes_a_timeline_that_ends_in_the_current_status(loaded):
    orders = WorkOrder.objects.order_by("id")
    events = {}
    for e in WorkOrderEvent.objects.order_by("at", "id"):
        events.setdefault(e.workorder_id, []).append(e)
    for order in orders:
        timeline = events[order.pk]
        assert timeline[0].action == "submit"
        assert timeline[-1].to_status == order.status
        assert order.version == len(timeline)
        assert all(a.to_status == b.from_status for a, b in itertools.pairwise(timeline))
        if order.status != Status.SUBMITTED and order.status != Status.CANCELLED:
            assert order.assignee_id and order.team_id and order.dispatched_at
    # Numbers follow the services' scheme, so the next real order continues the day.
    from dayuan.workorders.services import _next_number

    last = WorkOrder.objects.order_by("-submitted_at").first()
    assert last.number.startswith(f"WO-{last.submitted_at.astimezone(SH):%Y%m%d}-")
    assert not WorkOrder.objects.filter(number=_next_number(last.submitted_at)).exists()


def test_it_keeps_each_county_in_its_own_subtree(loaded):
    for code in ("dongcheng", "xihu", "nanshan", "city"):
        org = Organization.objects.get(code=code)
        mine = WorkOrder.objects.filter(org=org).select_related("location", "vendor")
        assert mine.exists()
        for order in mine:
            assert order.location.org_id == org.pk
            if order.vendor_id:
                assert order.vendor.parent_id == org.pk
        members = set(TeamMember.objects.filter(team__org=org).values_list("user_id", flat=True))
        assigned = set(mine.exclude(assignee=None).values_list("assignee_id", flat=True))
        assert assigned <= members
    dongcheng = WorkOrder.objects.filter(org__code="dongcheng")
    xihu_manager = User.objects.get(username="xihu_manager")
    assert not queries.visible(xihu_manager).filter(pk__in=dongcheng).exists()
    assert queries.visible(xihu_manager).exists()
    worker = User.objects.get(username="dongcheng_worker")
    seen = queries.visible(worker)
    assert seen.exists() and set(seen.values_list("org__code", flat=True)) == {"dongcheng"}
    assert queries.visible(User.objects.get(username="city_manager")).count() == ORDERS
