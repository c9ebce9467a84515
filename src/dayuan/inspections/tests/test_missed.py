"""Missed occurrences: past due (period end plus grace) and nothing done → one finding."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dayuan.notifications.models import Notification
from dayuan.standards.models import Clause

from .. import events
from ..models import Finding, PlanOccurrence
from ..plans import detect_missed, generate_occurrences
from .factories import at, build
from .helpers import start, submit

pytestmark = pytest.mark.django_db


def _day(s):
    generate_occurrences(start=at(2025, 3, 10), end=at(2025, 3, 11))


def test_grace_hours_are_waited_for(world):
    s = build(world)
    _day(s)
    # the stairs' day ends at midnight; two hours of grace
    assert detect_missed(at(2025, 3, 11, 1, 59))["missed"] == 0
    assert not Finding.objects.exists()
    result = detect_missed(at(2025, 3, 11, 2, 1))
    assert result["missed"] == 2  # county A's stairs and county B's
    stairs = PlanOccurrence.objects.filter(activity="clean.stairs")
    assert set(stairs.values_list("status", flat=True)) == {"missed"}
    # the structure patrol's quarter is still running
    assert not PlanOccurrence.objects.filter(activity="patrol.structure", status="missed").exists()


def test_missed_finding_is_bound_to_clause_vendor_and_raised_once(world):
    s = build(world)
    _day(s)
    detect_missed(at(2025, 3, 11, 3))
    again = detect_missed(at(2025, 3, 11, 4))
    assert again == {"candidates": 0, "missed": 0}
    occ = PlanOccurrence.objects.get(location=s.stairs_a)
    finding = Finding.objects.get(occurrence=occ)
    x1 = Clause.objects.get(number="X1", version__standard=s.standard)
    assert finding.source == "missed" and finding.clause == x1
    assert finding.severity == x1.severity == "general"
    assert finding.vendor == world.vendor and finding.location == s.stairs_a
    assert finding.org == world.county_a and finding.raised_by is None
    assert finding.raised_at == at(2025, 3, 11, 3)
    assert "漏检" in finding.description
    assert hasattr(finding, "rectification")
    other = Finding.objects.get(occurrence__location=s.stairs_b)
    assert other.vendor is None and other.org == world.county_b
    assert Finding.objects.count() == 2
    # the team that should have done it is told; nobody in county B hears of A
    told = Notification.objects.filter(event__type=events.OCCURRENCE_MISSED)
    assert set(told.values_list("recipient__username", flat=True)) == {"vendor_worker"}


def test_done_occurrences_are_not_missed(world):
    s = build(world)
    _day(s)
    occ = PlanOccurrence.objects.get(location=s.stairs_a)
    insp = start(
        s,
        "vendor_worker",
        kind="self",
        location=s.stairs_a,
        occurrence_id=occ.pk,
        now=at(2025, 3, 10, 9),
    )
    submit(s, insp, "vendor_worker", now=at(2025, 3, 10, 10))
    detect_missed(at(2025, 3, 12))
    occ.refresh_from_db()
    assert occ.status == "done"
    assert not Finding.objects.filter(occurrence=occ).exists()
    assert Finding.objects.filter(source="missed").count() == 1  # county B's


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_raise_one_finding_each(world):
    s = build(world)
    _day(s)
    results: list[dict] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            results.append(detect_missed(at(2025, 3, 11, 3)))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r["missed"] for r in results) == 2
    assert Finding.objects.filter(source="missed").count() == 2
