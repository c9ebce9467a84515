"""SLA clocks: due times on the working calendar (weekends, statutory holidays, adjusted
working days), 24x7 clocks, pause and resume, breaches and their verdicts, escalation.

Office hours are the default 08:30–12:00 and 13:30–17:30 (450 working minutes a day);
the rule gives respond 30 min and resolve 480 min (urgent: 24x7, 10/30/240 min).
"""

from __future__ import annotations

import pytest

from dayuan.core.errors import RuleRefused
from dayuan.standards.models import Judgment
from dayuan.workorders import queries, services, sla
from dayuan.workorders.choices import Status
from dayuan.workorders.models import WorkOrderTimer

from .core_factories import advance, at, build, refresh, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world):
    return build(world)


def timers(order) -> dict[str, WorkOrderTimer]:
    return {t.name: t for t in WorkOrderTimer.objects.filter(workorder=order)}


def verdicts(order) -> list[tuple[str, str]]:
    rows = Judgment.objects.filter(subject_type="workorder", subject_id=str(order.pk))
    return sorted(rows.values_list("rule__key", "outcome"))


def test_it_starts_created_clocks_from_the_rule_and_cites_it(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    t = timers(order)
    assert set(t) == {"respond", "resolve"}
    assert (t["respond"].minutes, t["resolve"].minutes) == (30, 480)
    assert t["respond"].rule.key == "w1_repair" and t["respond"].clause.number == "W1"
    assert t["respond"].due_at == at(2024, 3, 18, 9, 30)
    # 180 + 240 minutes on Monday, the last 60 on Tuesday morning
    assert t["resolve"].due_at == at(2024, 3, 19, 9, 30)


def test_it_counts_across_a_weekend(s):
    order = submit(s, at(2024, 3, 15, 17, 20))  # Friday, 10 minutes before closing
    t = timers(order)
    assert t["respond"].due_at == at(2024, 3, 18, 8, 50)
    assert t["resolve"].due_at == at(2024, 3, 19, 8, 50)


def test_it_skips_a_monday_holiday(s):
    # Dragon Boat Festival 2024: Monday 10 June was a holiday.
    order = submit(s, at(2024, 6, 7, 17, 20))
    assert timers(order)["respond"].due_at == at(2024, 6, 11, 8, 50)


def test_it_skips_national_day_2024(s):
    order = submit(s, at(2024, 9, 30, 17, 0))
    t = timers(order)
    assert t["respond"].due_at == at(2024, 9, 30, 17, 30)
    # 30 minutes on 30 September, 1–7 October off, the other 450 all of 8 October
    assert t["resolve"].due_at == at(2024, 10, 8, 17, 30)


@pytest.mark.parametrize(
    "start", [at(2024, 10, 12, 9, 0), at(2024, 9, 29, 9, 0)], ids=["saturday", "sunday"]
)
def test_it_counts_adjusted_working_days(s, start):
    # Saturday 12 October and Sunday 29 September 2024 were working days.
    order = submit(s, start)
    assert timers(order)["respond"].due_at == start.replace(minute=30)


def test_it_runs_urgent_clocks_around_the_clock_and_anchors_arrival_on_accept(s):
    order = submit(s, at(2024, 10, 1, 23, 50), urgency="urgent")  # a holiday night
    t = timers(order)
    assert set(t) == {"respond", "resolve"}  # arrive waits for the accept
    assert t["respond"].due_at == at(2024, 10, 2, 0, 0)
    assert t["resolve"].due_at == at(2024, 10, 2, 3, 50)
    order = advance(s, order, Status.ACCEPTED, now=at(2024, 10, 2, 0, 5))
    t = timers(order)
    assert t["arrive"].started_at == at(2024, 10, 2, 0, 5)
    assert t["arrive"].due_at == at(2024, 10, 2, 0, 35)
    assert t["respond"].met_at == at(2024, 10, 2, 0, 5) and t["respond"].breached
    order = advance(s, order, Status.ON_SITE, now=at(2024, 10, 2, 0, 30))
    assert timers(order)["arrive"].met_at == at(2024, 10, 2, 0, 30)
    assert verdicts(order) == [("w2_urgent", "fail"), ("w2_urgent", "pass")]


def test_it_has_no_clocks_when_no_rule_names_the_category(s):
    order = submit(s, at(2024, 3, 18, 9, 0), category_id=s.untimed.pk)
    assert timers(order) == {}
    order = advance(s, order, Status.RESOLVED, now=at(2024, 3, 25, 9, 0))
    assert verdicts(order) == [] and not order.overdue
    # and pausing needs no rule's permission: there is no clock to stop
    other = advance(s, submit(s, category_id=s.untimed.pk), Status.ACCEPTED)
    paused = services.pause(
        actor=s.user("vendor_worker"), order_id=other.pk, version=other.version, reason="rain"
    )
    assert paused.status == Status.PAUSED


def test_it_meets_clocks_on_their_transitions_and_stores_pass_verdicts(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    order = advance(s, order, Status.DISPATCHED, now=at(2024, 3, 18, 9, 5))
    order = advance(s, order, Status.ACCEPTED, now=at(2024, 3, 18, 9, 10))
    t = timers(order)
    assert t["respond"].met_at == at(2024, 3, 18, 9, 10) and not t["respond"].breached
    assert t["resolve"].met_at is None
    order = advance(s, order, Status.RESOLVED, now=at(2024, 3, 18, 16, 0))
    assert timers(order)["resolve"].met_at == at(2024, 3, 18, 16, 0)
    assert verdicts(order) == [("w1_repair", "pass"), ("w1_repair", "pass")]
    judgment = Judgment.objects.filter(subject_id=str(order.pk)).first()
    assert judgment.org == s.world.county_a and judgment.vendor == s.world.vendor
    assert judgment.location_id == order.location_id and judgment.clause.number == "W1"


def test_it_shifts_due_times_by_the_paused_working_time(s):
    worker = s.user("vendor_worker")
    order = submit(s, at(2024, 3, 18, 9, 0))
    order = advance(s, order, Status.ON_SITE, now=at(2024, 3, 18, 9, 10))
    assert timers(order)["resolve"].due_at == at(2024, 3, 19, 9, 30)
    order = services.pause(
        actor=worker,
        order_id=order.pk,
        version=order.version,
        reason="waiting_parts",
        now=at(2024, 3, 18, 10, 0),
    )
    order = services.resume(
        actor=worker, order_id=order.pk, version=order.version, now=at(2024, 3, 19, 10, 0)
    )
    resolve = timers(order)["resolve"]
    # paused Monday 10:00-17:30 (360) + Tuesday 08:30-10:00 (90) = 450 working minutes
    assert resolve.paused_minutes == 450
    assert resolve.due_at == at(2024, 3, 20, 9, 30)
    assert timers(order)["respond"].paused_minutes == 0  # already met: untouched
    assert order.status == Status.ON_SITE


def test_it_refuses_a_pause_reason_the_rule_does_not_allow(s):
    order = advance(s, submit(s, at(2024, 3, 18, 9, 0)), Status.ACCEPTED)
    with pytest.raises(RuleRefused) as exc:
        services.pause(
            actor=s.user("vendor_worker"), order_id=order.pk, version=order.version, reason="lunch"
        )
    assert exc.value.status == 422 and exc.value.code == "pause_reason_refused"
    assert "W1" in str(exc.value.message)
    (cite,) = exc.value.details["violations"]
    assert cite["standard"] == "wo-sla" and cite["clause"] == "W1"
    assert exc.value.details["allowed"] == ["requester_absent", "waiting_parts"]
    assert refresh(order).status == Status.ACCEPTED


def test_it_marks_breaches_once_with_a_fail_verdict(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    assert sla.check_breaches(at(2024, 3, 18, 9, 30)) == []  # due, not yet past due
    found = sla.check_breaches(at(2024, 3, 18, 9, 31))
    assert [t.name for t in found] == ["respond"]
    assert sla.check_breaches(at(2024, 3, 18, 9, 45)) == []  # idempotent
    assert refresh(order).overdue
    assert verdicts(order) == [("w1_repair", "fail")]
    # met late afterwards: no second verdict for the same clock
    order = advance(s, order, Status.ACCEPTED, now=at(2024, 3, 18, 10, 0))
    respond = timers(order)["respond"]
    assert respond.met_at == at(2024, 3, 18, 10, 0) and respond.breached
    assert verdicts(order) == [("w1_repair", "fail")]
    # overdue orders are a query too
    user = s.user("a_dispatcher")
    assert list(queries.orders(user, overdue=True)) == [order]


def test_it_judges_a_late_meet_as_fail_when_no_job_ran(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    order = advance(s, order, Status.ACCEPTED, now=at(2024, 3, 18, 11, 0))
    assert verdicts(order) == [("w1_repair", "fail")]
    assert refresh(order).overdue


def test_it_ignores_paused_and_cancelled_orders_when_checking_breaches(s):
    paused = advance(s, submit(s, at(2024, 3, 18, 9, 0)), Status.DISPATCHED)
    services.pause(
        actor=s.user("vendor_worker"),
        order_id=paused.pk,
        version=paused.version,
        reason="requester_absent",
        now=at(2024, 3, 18, 9, 10),
    )
    cancelled = submit(s, at(2024, 3, 18, 9, 0))
    services.cancel(
        actor=s.user("a_staff"), order_id=cancelled.pk, version=cancelled.version, reason="x"
    )
    assert sla.check_breaches(at(2024, 3, 25, 9, 0)) == []


def test_it_reports_escalation_steps_newly_reached(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    due = sla.escalations_due(at(2024, 3, 18, 9, 25))  # 25 of 30 minutes: past 80 %
    assert [(t.name, [st.action for st in steps]) for t, steps in due] == [("respond", ["warn"])]
    timer, _steps = due[0]
    assert sla.mark_escalated(timer, 1)
    assert not sla.mark_escalated(timer, 1)  # a second run does not notify again
    assert sla.escalations_due(at(2024, 3, 18, 9, 26)) == []
    later = sla.escalations_due(at(2024, 3, 18, 9, 31))
    assert [(t.name, [st.action for st in steps]) for t, steps in later] == [
        ("respond", ["escalate"])
    ]
    advance(s, order, Status.ACCEPTED, now=at(2024, 3, 18, 9, 40))
    assert [t.name for t, _ in sla.escalations_due(at(2024, 3, 18, 9, 41))] == []


def test_it_restarts_the_resolve_clock_on_reopen(s):
    order = submit(s, at(2024, 3, 18, 9, 0))
    order = advance(s, order, Status.RESOLVED, now=at(2024, 3, 18, 10, 0))
    order = services.reopen(
        actor=s.user("a_staff"),
        order_id=order.pk,
        version=order.version,
        reason="又漏水了",
        now=at(2024, 3, 19, 9, 0),
    )
    t = timers(order)
    assert t["resolve"].met_at is None and t["resolve"].started_at == at(2024, 3, 19, 9, 0)
    assert t["resolve"].due_at == at(2024, 3, 20, 9, 30)
    assert t["respond"].met_at is not None  # not restarted
    # the first run's verdicts stay (responded at 10:00, late; resolved in time)
    assert verdicts(order) == [("w1_repair", "fail"), ("w1_repair", "pass")]
    event = order.events.get(action="reopen")
    assert event.data["restarted"] == ["resolve"]
    assert event.data["previous"]["timers"]["resolve"]["breached"] is False
