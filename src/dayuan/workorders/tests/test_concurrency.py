"""Real threads against a real database: one order is accepted once, numbers stay unique."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dayuan.core.errors import DomainError
from dayuan.standards.models import Judgment
from dayuan.workorders import services
from dayuan.workorders.choices import Status
from dayuan.workorders.models import TeamMember, WorkOrder, WorkOrderEvent

from .core_factories import advance, build, submit

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _race(works) -> tuple[list[object], list[Exception]]:
    results: list[object] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(len(works))

    def run(work) -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_two_workers_accepting_one_order_make_one_accept(world):
    s = build(world)
    TeamMember.objects.create(team=s.team, user=s.user("a_manager"))
    order = submit(s)
    order = services.dispatch(
        actor=s.user("a_dispatcher"), order_id=order.pk, version=order.version, team_id=s.team.pk
    )
    workers = [s.user("vendor_worker"), s.user("a_manager")]
    results, errors = _race(
        [
            lambda w=w: services.accept(actor=w, order_id=order.pk, version=order.version)
            for w in workers
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1
    (err,) = errors
    assert isinstance(err, DomainError) and err.status == 409, err
    assert err.code in {"stale_version", "illegal_transition"}
    fresh = WorkOrder.objects.get(pk=order.pk)
    assert fresh.status == Status.ACCEPTED and fresh.version == order.version + 1
    assert fresh.assignee == results[0].assignee
    assert WorkOrderEvent.objects.filter(workorder=fresh, action="accept").count() == 1
    # the respond clock was met once: one verdict
    assert Judgment.objects.filter(subject_id=str(fresh.pk)).count() == 1


def test_concurrent_submits_get_distinct_numbers(world):
    s = build(world)
    results, errors = _race([lambda: submit(s) for _ in range(4)])
    assert not errors, errors
    numbers = {o.number for o in results}
    assert len(numbers) == 4
    assert {n[-5:] for n in numbers} == {"00001", "00002", "00003", "00004"}


def test_concurrent_resolves_store_one_verdict_per_clock(world):
    s = build(world)
    order = advance(s, submit(s), Status.ON_SITE)
    worker = s.user("vendor_worker")
    results, errors = _race(
        [
            lambda: services.resolve(
                actor=worker, order_id=order.pk, version=order.version, resolution="ok"
            )
            for _ in range(3)
        ]
    )
    assert len(results) == 1 and len(errors) == 2, errors
    assert all(isinstance(e, DomainError) and e.status == 409 for e in errors)
    assert Judgment.objects.filter(subject_id=str(order.pk)).count() == 2  # respond, resolve
