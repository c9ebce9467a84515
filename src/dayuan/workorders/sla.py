"""SLA clocks of work orders, from the effective ``sla`` rules of the standards.

Minutes, calendars, pause reasons and escalation steps come only from the rules
(``engine.sla_timers``); nothing here knows a number. A category whose ``sla_category``
no effective rule names simply gets no clocks: the order is still worked, it is just
not timed (and so never overdue).

A clock starts when its anchor is reached (``created`` at submit, ``accepted`` at
accept, ``arrived`` at arrival), with ``due_at`` computed then on the order's working
calendar (or 24x7) and stored. A breach is the query ``met_at is null and due_at <
now``; ``check_breaches`` only marks what that query finds and stores the verdicts,
once, so losing every job run changes nothing but the time a notification goes out.

Each clock yields exactly one ``Judgment``: when it is met (pass, or fail if late and
not already found breached) or when the job finds it breached (fail).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q

from dayuan.standards import engine
from dayuan.standards.choices import Outcome
from dayuan.standards.models import Judgment
from dayuan.standards.rules import EscalationStep, SlaParams
from dayuan.workcalendar.calendar import WorkingCalendar

from .choices import TIMER_MET_BY, Status
from .models import WorkOrder, WorkOrderTimer

# Clocks run while the order is in one of these (paused clocks are stopped; finished
# and cancelled orders have nothing left to breach).
RUNNING = (Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED, Status.ON_SITE)
SUBJECT_TYPE = "workorder"


def met_by(timer_name: str) -> str:
    """The status whose transition meets this clock (resolve for any other name)."""
    return TIMER_MET_BY.get(timer_name, Status.RESOLVED)


def calendar_of(org: Any, calendar: str) -> WorkingCalendar:
    if calendar == "24x7":
        return WorkingCalendar(around_the_clock=True)
    return WorkingCalendar.for_org(org)


def specs_for(order: WorkOrder, at: datetime | None = None) -> list[engine.TimerSpec]:
    """The timer specs of the order's category and urgency, as in force at ``at``
    (default: when the order was submitted, so one order is judged by one edition)."""
    return engine.sla_timers(
        order.org,
        order.category.sla_category,
        priority=order.urgency,
        at=at or order.submitted_at,
    )


def start_timers(
    order: WorkOrder,
    anchor: str,
    at: datetime,
    specs: Iterable[engine.TimerSpec] | None = None,
) -> list[WorkOrderTimer]:
    """Start the clocks anchored at ``anchor`` that have not started yet."""
    specs = list(specs_for(order) if specs is None else specs)
    existing = set(order.timers.values_list("name", flat=True))
    created = []
    for spec in specs:
        if spec.anchor != anchor or spec.name in existing or spec.rule_id is None:
            continue
        timer = WorkOrderTimer.objects.create(
            workorder=order,
            name=spec.name,
            label=spec.label,
            minutes=spec.minutes,
            calendar=spec.calendar,
            anchor=spec.anchor,
            started_at=at,
            due_at=engine.due_at(at, spec, order.org),
            rule_id=spec.rule_id,
            clause_id=spec.clause_id,
        )
        created.append(timer)
    return created


def restart(timer: WorkOrderTimer, order: WorkOrder, at: datetime) -> WorkOrderTimer:
    """A fresh run of a met clock (reopen): same rule and minutes, counted from ``at``."""
    cal = calendar_of(order.org, timer.calendar)
    timer.started_at = at
    timer.due_at = cal.add_working_minutes(at, timer.minutes)
    timer.met_at = None
    timer.breached = False
    timer.paused_minutes = 0
    timer.escalation_level = 0
    timer.save()
    return timer


def shift_for_pause(order: WorkOrder, paused_at: datetime, now: datetime) -> dict[str, int]:
    """On resume: move each unmet clock later by the paused time on its own calendar."""
    shifted: dict[str, int] = {}
    for timer in order.timers.filter(met_at__isnull=True):
        cal = calendar_of(order.org, timer.calendar)
        minutes = cal.working_minutes_between(paused_at, now)
        if minutes <= 0:
            continue
        timer.due_at = cal.add_working_minutes(timer.due_at, minutes)
        timer.paused_minutes += minutes
        timer.save(update_fields=["due_at", "paused_minutes"])
        shifted[timer.name] = minutes
    return shifted


def _judgment(order: WorkOrder, timer: WorkOrderTimer, outcome: str, at: datetime) -> Judgment:
    return Judgment(
        rule_id=timer.rule_id,
        clause_id=timer.clause_id,
        org_id=order.org_id,
        location_id=order.location_id,
        vendor_id=order.vendor_id,
        subject_type=SUBJECT_TYPE,
        subject_id=str(order.pk),
        at=at,
        outcome=outcome,
    )


def meet(order: WorkOrder, status: str, at: datetime) -> list[WorkOrderTimer]:
    """Stop the clocks this transition meets; store each verdict (once per clock)."""
    met = []
    rows = []
    for timer in order.timers.filter(met_at__isnull=True).order_by("id"):
        if met_by(timer.name) != status:
            continue
        late = at > timer.due_at
        already_judged = timer.breached  # the job found it breached and judged it
        timer.met_at = at
        if late:
            timer.breached = True
        timer.save(update_fields=["met_at", "breached"])
        if not already_judged:
            rows.append(_judgment(order, timer, Outcome.FAIL if late else Outcome.PASS, at))
        met.append(timer)
    if rows:
        engine.store_judgments(rows)
    if any(t.breached for t in met):
        order.overdue = True
    return met


def open_timers(now: datetime) -> Any:
    """Unmet clocks of running orders (the escalation job's set), indexed by due_at."""
    return WorkOrderTimer.objects.filter(met_at__isnull=True, workorder__status__in=RUNNING)


def check_breaches(now: datetime) -> list[WorkOrderTimer]:
    """Mark clocks past due and unmet as breached, store a fail verdict for each, and
    flag their orders overdue. Idempotent and safe to run in parallel: a clock is
    claimed by a conditional UPDATE, so only one run judges it."""
    found = list(
        open_timers(now)
        .filter(breached=False, due_at__lt=now)
        .select_related("workorder")
        .order_by("due_at", "id")
    )
    newly: list[WorkOrderTimer] = []
    rows = []
    for timer in found:
        claimed = WorkOrderTimer.objects.filter(
            pk=timer.pk, breached=False, met_at__isnull=True
        ).update(breached=True)
        if not claimed:
            continue
        timer.breached = True
        newly.append(timer)
        rows.append(_judgment(timer.workorder, timer, Outcome.FAIL, timer.due_at))
    if rows:
        engine.store_judgments(rows)
    if newly:
        WorkOrder.objects.filter(pk__in={t.workorder_id for t in newly}, overdue=False).update(
            overdue=True
        )
    return newly


def overdue_q(now: datetime) -> Q:
    """Orders with a missed clock: flagged, or past due right now (even if no job ran)."""
    return Q(overdue=True) | Q(
        status__in=RUNNING, timers__met_at__isnull=True, timers__due_at__lt=now
    )


def _steps_from_rule(timer: WorkOrderTimer) -> tuple[EscalationStep, ...]:
    try:
        params = SlaParams.model_validate(timer.rule.params)
    except ValueError:
        return ()
    return tuple(params.escalation)


def escalations_due(now: datetime) -> list[tuple[WorkOrderTimer, tuple[EscalationStep, ...]]]:
    """``(timer, steps newly reached)`` for every running clock whose escalation ladder
    (in the effective rule, overrides applied) has passed steps not yet notified.

    Steps notified are counted by ``timer.escalation_level``; the caller notifies and
    then calls ``mark_escalated`` (a conditional UPDATE), so two runs never notify the
    same step twice. Each timer returned carries ``ladder_length``, the number of steps
    of its whole ladder.
    """
    out = []
    cache: dict[tuple[int, str, str], dict[str, engine.TimerSpec]] = {}
    timers = (
        open_timers(now)
        .filter(started_at__lte=now)
        .select_related("workorder__org", "workorder__category", "rule")
        .order_by("due_at", "id")
    )
    for timer in timers.iterator(chunk_size=500):
        order = timer.workorder
        key = (order.org_id, order.category.sla_category, order.urgency)
        if key not in cache:
            cache[key] = {s.name: s for s in specs_for(order, at=now)}
        spec = cache[key].get(timer.name)
        steps = spec.escalation if spec is not None else _steps_from_rule(timer)
        if not steps:
            continue
        # Paused time is not elapsed time: the clock effectively started that much later.
        start = timer.started_at
        if timer.paused_minutes:
            start = calendar_of(order.org, timer.calendar).add_working_minutes(
                start, timer.paused_minutes
            )
        state = engine.escalation_state(
            start, timer.due_at, now, steps, order.org, calendar=timer.calendar
        )
        if len(state.reached) > timer.escalation_level:
            timer.ladder_length = len(steps)  # the caller raises 督办 past the last step
            out.append((timer, tuple(state.reached[timer.escalation_level :])))
    return out


def mark_escalated(timer: WorkOrderTimer, level: int) -> bool:
    """Record that steps up to ``level`` were notified; False if another run did it."""
    updated = WorkOrderTimer.objects.filter(pk=timer.pk, escalation_level__lt=level).update(
        escalation_level=level
    )
    if updated:
        timer.escalation_level = level
    return bool(updated)
