"""Real threads against a real database: 50 people asking at once for overlapping
ranges of one venue that needs no approval leave exactly one allocation holding it;
150 people taking one each of a stock of 50 leave exactly 50 (``available`` 0, never
below); 60 people asking for one volunteer each of a team of 20 leave exactly 20; a
manager's 40 approvals of overlapping requests for a venue leave exactly one, and 60 of
a team of 20 exactly 20. Everyone else gets the clean refusal (``resource_taken``,
``insufficient_stock``, ``headcount_exceeded``), never an error. The request races run
three times. On PostgreSQL also: with the resource lock taken away and the check fooled,
the exclusion constraint still refuses a second hold of a venue; and (the negative
control) with the lock taken away, racing approvals overrun a team's headcount, so the
lock is what keeps it.

Run on the session's database: SQLite by default, PostgreSQL with ``DATABASE_URL``.
SQLite: every thread opens its own connection to the file database and the IMMEDIATE
transactions queue on the write lock (the busy timeout is raised for the race).
PostgreSQL: at most ``PG_POOL`` threads hold a connection at once, as an application's
pool would; all the attempts still race on the same rows.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum

from dayuan.accounts.models import User
from dayuan.core.tests import races

from .. import matching, services
from ..choices import AllocationStatus, ResourceKind, Visibility
from ..models import Allocation, Resource
from .factories import MONDAY, at, build, on, resource

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

ROUNDS = 3
PG_POOL = 15
LOCK_WAIT_MS = 300_000
NOW = at(2026, 12, 1, 9, 0)
ROUND_LIMIT_S = 120


def _race(calls) -> tuple[list[object], list[BaseException]]:
    return races.race(
        calls,
        pg_pool=PG_POOL,
        lock_wait_ms=LOCK_WAIT_MS,
        start_timeout=60,
        join_timeout=ROUND_LIMIT_S * 3,
    )


_clean = races.assert_only_refused


def _ask(person, res: Resource, **kw):
    return lambda: services.request_allocation(actor=person, resource_id=res.pk, now=NOW, **kw)


def _holding(res: Resource, day) -> list[Allocation]:
    return list(
        Allocation.objects.filter(
            resource=res, holds=True, start_at__gte=on(day, 0), start_at__lt=on(day, 23)
        )
    )


def _report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[{connection.vendor}] {text}")


def test_50_requests_for_one_venue_leave_exactly_one_holding_it(world, capsys):
    pw = build(world)
    hall = resource(pw.dept_a, ResourceKind.VENUE, capacity=100, requires_approval=False)
    people = races.people(world.county_a, 50, "rv")
    timings = []
    for r in range(ROUNDS):
        day = MONDAY + timedelta(days=r)
        # every range contains 09:49–12:00 of the day: each pair overlaps
        calls = [
            _ask(p, hall, start_at=on(day, 9, i), end_at=on(day, 12, i), amount=20)
            for i, p in enumerate(people)
        ]
        started = time.monotonic()
        results, errors = _race(calls)
        timings.append(time.monotonic() - started)
        assert len(results) == 1, (len(results), errors[:3])
        assert len(errors) == len(people) - 1
        _clean(errors, "resource_taken")
        (won,) = results
        assert won.status == AllocationStatus.APPROVED and won.holds
        assert [a.pk for a in _holding(hall, day)] == [won.pk]
    assert Allocation.objects.count() == ROUNDS  # the refused left no rows
    assert len(set(Allocation.objects.values_list("number", flat=True))) == ROUNDS
    _report(capsys, f"50 requests for one venue, seconds per round: {timings}")
    assert max(timings) < ROUND_LIMIT_S, timings


def test_150_people_taking_one_of_50_in_stock_leave_exactly_50(world, capsys):
    pw = build(world)
    people = races.people(world.county_a, 150, "rs")
    timings = []
    for r in range(ROUNDS):
        desks = resource(
            pw.dept_a,
            ResourceKind.ASSET,
            name=f"办公桌{r}",
            quantity=50,
            unit_value=300,
            requires_approval=False,
        )
        calls = [_ask(p, desks, amount=1) for p in people]
        started = time.monotonic()
        results, errors = _race(calls)
        timings.append(time.monotonic() - started)
        assert len(results) == 50, (len(results), errors[:3])
        assert len(errors) == 100
        _clean(errors, "insufficient_stock")
        desks.refresh_from_db()
        assert desks.available == 0 and desks.quantity == 50
        held = Allocation.objects.filter(resource=desks, holds=True)
        assert held.count() == 50 and held.aggregate(n=Sum("amount"))["n"] == 50
        assert {a.pk for a in results} == set(held.values_list("pk", flat=True))
        assert len(set(held.values_list("requester_id", flat=True))) == 50
    _report(capsys, f"150 takers for 50 in stock, seconds per round: {timings}")
    assert max(timings) < ROUND_LIMIT_S, timings


def test_60_requests_for_a_team_of_20_leave_exactly_20(world, capsys):
    pw = build(world)
    volunteers = resource(
        pw.social,
        ResourceKind.VOLUNTEER_TEAM,
        capacity=20,
        visibility=Visibility.CITY,
        requires_approval=False,
    )
    people = races.people(world.county_a, 60, "rh")
    timings = []
    for r in range(ROUNDS):
        day = MONDAY + timedelta(days=r)
        calls = [
            _ask(p, volunteers, start_at=on(day, 9, i), end_at=on(day, 12, i), amount=1)
            for i, p in enumerate(people)
        ]
        started = time.monotonic()
        results, errors = _race(calls)
        timings.append(time.monotonic() - started)
        assert len(results) == 20, (len(results), errors[:3])
        assert len(errors) == 40
        _clean(errors, "headcount_exceeded")
        assert len(_holding(volunteers, day)) == 20
    _report(capsys, f"60 requests for a team of 20, seconds per round: {timings}")
    assert max(timings) < ROUND_LIMIT_S, timings


def test_40_approvals_of_overlapping_requests_leave_exactly_one(world, capsys):
    pw = build(world)
    hall = resource(pw.dept_a, ResourceKind.VENUE, capacity=100)
    manager = pw.user("dept_a_manager")
    people = races.people(world.county_a, 40, "ra")
    for r in range(ROUNDS):
        day = MONDAY + timedelta(days=r)
        requests = [
            services.request_allocation(
                actor=p,
                resource_id=hall.pk,
                start_at=on(day, 9, i),
                end_at=on(day, 12, i),
                now=NOW,
            )
            for i, p in enumerate(people)
        ]
        calls = [
            lambda a=a: services.decide_allocation(
                actor=User.objects.get(pk=manager.pk), allocation_id=a.pk, approve=True, now=NOW
            )
            for a in requests
        ]
        results, errors = _race(calls)
        assert len(results) == 1, (len(results), errors[:3])
        _clean(errors, "resource_taken")
        assert [a.pk for a in _holding(hall, day)] == [results[0].pk]
        assert (
            Allocation.objects.filter(
                resource=hall, status=AllocationStatus.REQUESTED, start_at__gte=on(day, 0)
            ).count()
            == len(people) - 1
        )
    _report(capsys, "40 approvals racing: one approved per round")


def _no_lock(resource_id: int) -> Resource:
    return Resource.objects.select_related("org", "centre", "location").get(pk=resource_id)


def test_without_the_lock_the_exclusion_constraint_still_refuses_a_second_hold(
    world, monkeypatch, capsys
):
    """PostgreSQL's constraint is the last word even when the check sees nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    pw = build(world)
    hall = resource(pw.dept_a, ResourceKind.VENUE, capacity=100, requires_approval=False)
    people = races.people(world.county_a, 50, "rc")
    monkeypatch.setattr(services, "_lock_resource", _no_lock)
    monkeypatch.setattr(matching, "check", lambda *a, **k: [])
    calls = [
        _ask(p, hall, start_at=on(MONDAY, 9, i), end_at=on(MONDAY, 12, i))
        for i, p in enumerate(people)
    ]
    results, errors = _race(calls)
    assert len(results) == 1, (len(results), errors[:3])
    _clean(errors, "resource_taken")
    assert len(_holding(hall, MONDAY)) == 1
    _report(capsys, "no lock, no check: the exclusion constraint kept one hold")


def _team_requests(pw, world, prefix: str, n: int = 60):
    """A team of 20 needing approval, and ``n`` requests for one volunteer each over the
    same morning (made one by one: a request holds nothing)."""
    volunteers = resource(
        pw.social, ResourceKind.VOLUNTEER_TEAM, capacity=20, visibility=Visibility.CITY
    )
    people = races.people(world.county_a, n, prefix)
    requests = [
        services.request_allocation(
            actor=p,
            resource_id=volunteers.pk,
            start_at=on(MONDAY, 9),
            end_at=on(MONDAY, 12),
            amount=1,
            now=NOW,
        )
        for p in people
    ]
    manager = pw.user("social_manager")
    calls = [
        lambda a=a: services.decide_allocation(
            actor=User.objects.get(pk=manager.pk), allocation_id=a.pk, approve=True, now=NOW
        )
        for a in requests
    ]
    return volunteers, calls


def test_60_approvals_for_a_team_of_20_leave_exactly_20(world, capsys):
    pw = build(world)
    volunteers, calls = _team_requests(pw, world, "rt")
    results, errors = _race(calls)
    assert len(results) == 20, (len(results), errors[:3])
    _clean(errors, "headcount_exceeded")
    assert len(_holding(volunteers, MONDAY)) == 20
    _report(capsys, "60 approvals for a team of 20: 20 approved")


def test_negative_control_without_the_lock_a_team_is_overrun(world, monkeypatch, capsys):
    """The race is real: with the resource row not locked, approvals that each read the
    holdings before the others commit oversubscribe the team. (On PostgreSQL only:
    SQLite's IMMEDIATE transaction serialises whole services, so there the transaction
    itself is the lock. Approvals, not requests that approve themselves: inserting a
    request takes the day's numbering lock, which would serialise them anyway.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers per transaction: no race to lose")
    pw = build(world)
    volunteers, calls = _team_requests(pw, world, "rx")
    checked = matching.check

    def slow_check(*args, **kwargs):
        found = checked(*args, **kwargs)
        time.sleep(0.005)  # the time a request spends between its read and its write
        return found

    monkeypatch.setattr(services, "_lock_resource", _no_lock)
    monkeypatch.setattr(matching, "check", slow_check)
    results, errors = _race(calls)
    _clean(errors, "headcount_exceeded")
    held = len(_holding(volunteers, MONDAY))
    assert held == len(results) > 20
    _report(capsys, f"no lock: {held} volunteers held of a team of 20")
