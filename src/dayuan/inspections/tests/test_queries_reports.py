"""Scoped lists and the dashboard: hand-computed figures on a small fixture, and a
constant number of queries over a few thousand rows."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from dayuan.standards.models import Clause, Rule
from dayuan.supervision.models import SupervisionTask

from .. import queries, reports
from ..models import (
    Finding,
    Inspection,
    InspectionItem,
    PlanOccurrence,
    Rectification,
    RectificationRound,
)
from .factories import at, build

pytestmark = pytest.mark.django_db

NOW = at(2025, 6, 20, 12, 0)
_serial = itertools.count(1)


def _inspection(s, org, location, vendor=None, when=None):
    n = next(_serial)
    return Inspection.objects.create(
        org=org,
        number=f"XJ-T-{n}",
        kind="patrol",
        status="submitted",
        checklist_code="patrol.daily",
        checklist_title="日常巡检表",
        rule=Rule.objects.get(key="x4_patrol"),
        location=location,
        vendor=vendor,
        inspector=s.user("a_inspector"),
        client_key=f"t-{n}",
        started_at=when or at(2025, 6, 2, 9, 0),
        submitted_at=when or at(2025, 6, 2, 9, 30),
    )


def _items(insp, clause, outcomes, when=None):
    InspectionItem.objects.bulk_create(
        InspectionItem(
            inspection=insp,
            org=insp.org,
            key=f"{clause.number}-{next(_serial)}",
            text="项",
            clause=clause,
            severity=clause.severity,
            outcome=o,
            at=when or insp.submitted_at,
            location=insp.location,
            vendor=insp.vendor,
        )
        for o in outcomes
    )


def _finding(s, org, clause, *, raised, status="open", vendor=None, location=None):
    return Finding.objects.create(
        org=org,
        number=f"WT-T-{next(_serial)}",
        source="other",
        status=status,
        clause=clause,
        severity=clause.severity,
        location=location,
        vendor=vendor,
        description="问题",
        raised_at=raised,
    )


def _rect(finding, *, status, deadline, closed_on_time=None, overdue=False):
    return Rectification.objects.create(
        finding=finding,
        org=finding.org,
        assignee_org=finding.vendor or finding.org,
        status=status,
        ordered_at=finding.raised_at,
        deadline=deadline,
        overdue=overdue,
        closed_on_time=closed_on_time,
        closed_at=deadline if status == "accepted" else None,
    )


def _occurrence(s, org, *, due, status="pending", n=0):
    rule = Rule.objects.get(key="x1_stairs")
    return PlanOccurrence(
        org=org,
        rule=rule,
        clause=rule.clause,
        activity="clean.stairs",
        target_key=f"loc:{n}",
        location=s.stairs_a if org == s.world.county_a else s.stairs_b,
        period_start=due - timedelta(days=1),
        period_end=due,
        due_at=due,
        status=status,
    )


def _task(world, org, *, deadline, status="open", issued=None, **extra):
    return SupervisionTask.objects.create(
        org=org,
        issuer_org=world.city,
        number=f"DB-T-{next(_serial)}",
        title="督办",
        instruction="尽快办理",
        source="instruction",
        status=status,
        deadline=deadline,
        issued_at=issued or at(2025, 6, 1, 9, 0),
        **extra,
    )


@pytest.fixture
def figures(world):
    """County A in June 2025 (and a little of county B, which a_manager never sees)."""
    s = build(world)
    a, b = world.county_a, world.county_b
    x4, x5 = Clause.objects.get(number="X4"), Clause.objects.get(number="X5")
    # coverage: 4 done, 1 missed, 2 pending past due, 1 pending not yet due, 1 cancelled
    rows = []
    for n, (status, day) in enumerate(
        [("done", 3), ("done", 4), ("done", 5), ("done", 6), ("missed", 7),
         ("pending", 18), ("pending", 19), ("pending", 25), ("cancelled", 8)]
    ):  # fmt: skip
        rows.append(_occurrence(s, a, due=at(2025, 6, day, 2, 0), status=status, n=n))
    rows.append(_occurrence(s, b, due=at(2025, 6, 3, 2, 0), status="missed", n=99))
    PlanOccurrence.objects.bulk_create(rows)
    # pass rates: X5 3 pass 1 fail at the building (vendor); X4 2 pass 2 fail 1 na at the
    # stairs (no vendor); May has 1 pass of X4
    insp = _inspection(s, a, s.building_a, world.vendor)
    _items(insp, x5, ["pass", "pass", "pass", "fail"])
    stairs = _inspection(s, a, s.stairs_a)
    _items(stairs, x4, ["pass", "pass", "fail", "fail", "na"])
    may = _inspection(s, a, s.stairs_a, when=at(2025, 5, 20, 9, 0))
    _items(may, x4, ["pass"])
    _items(_inspection(s, b, s.building_b), x5, ["fail", "fail"])
    # rectification: on time, late, open past deadline, open in time, cancelled
    deadline = at(2025, 6, 10, 18, 0)
    f = [_finding(s, a, x5, raised=at(2025, 6, 2, 10, 0), vendor=world.vendor) for _ in range(5)]
    _rect(f[0], status="accepted", deadline=deadline, closed_on_time=True)
    _rect(f[1], status="accepted", deadline=deadline, closed_on_time=False)
    _rect(f[2], status="returned", deadline=deadline)
    _rect(f[3], status="ordered", deadline=at(2025, 6, 30, 18, 0))
    _rect(f[4], status="cancelled", deadline=deadline)
    _rect(_finding(s, b, x5, raised=at(2025, 6, 2, 10, 0)), status="ordered", deadline=deadline)
    # supervision: county A 2 open (1 overdue) and 1 closed; county B 1 overdue
    _task(world, a, deadline=at(2025, 6, 19, 18, 0))
    _task(world, a, deadline=at(2025, 7, 30, 18, 0))
    _task(world, a, deadline=at(2025, 6, 15, 18, 0), status="closed")
    _task(world, b, deadline=at(2025, 6, 19, 18, 0))
    return s


def test_dashboard_figures_by_hand(figures, world):
    data = reports.dashboard(
        world.user("a_manager"), since=date(2025, 5, 15), until=date(2025, 6, 30), now=NOW
    )
    cov = data["coverage_total"]
    # due: 4 done + 1 missed + 2 pending past due; the one due on the 25th is not yet due
    assert (cov["planned"], cov["done"], cov["missed"], cov["pending_past_due"], cov["due"]) == (
        8, 4, 1, 2, 7,
    )  # fmt: skip
    assert cov["coverage"] == round(4 / 7, 4)
    assert [r["name"] for r in data["coverage"]] == [world.county_a.name]

    # items: June 3+2 pass of 4+4 judged, May 1 pass of 1: 6 of 9
    assert data["pass_total"] == {"total": 9, "passed": 6, "failed": 3, "rate": round(6 / 9, 4)}
    by_clause = {r["number"]: r for r in data["pass_by_clause"]}
    assert (by_clause["X5"]["total"], by_clause["X5"]["failed"], by_clause["X5"]["rate"]) == (
        4, 1, 0.75,
    )  # fmt: skip
    assert (by_clause["X4"]["total"], by_clause["X4"]["rate"]) == (5, 0.6)
    # worst first
    assert [r["number"] for r in data["pass_by_clause"]] == ["X4", "X5"]
    by_loc = {r["id"]: r for r in data["pass_by_location"]}
    assert (
        by_loc[figures.stairs_a.pk]["rate"] == 0.6 and by_loc[figures.building_a.pk]["rate"] == 0.75
    )
    by_vendor = {r["id"]: r for r in data["pass_by_vendor"]}
    assert by_vendor[world.vendor.pk]["total"] == 4 and by_vendor[None]["total"] == 5

    rect = data["rectification_total"]
    assert (rect["total"], rect["closed"], rect["on_time"], rect["open"], rect["overdue"]) == (
        4, 2, 1, 2, 1,
    )  # fmt: skip
    assert rect["closure_rate"] == 0.5 and rect["on_time_rate"] == 0.5

    assert data["supervision_total"] == {"open": 2, "overdue": 1}
    assert data["trend"] == [
        {"month": "2025-05", "judged": 1, "passed": 1, "pass_rate": 1.0, "findings": 0},
        {"month": "2025-06", "judged": 8, "passed": 5, "pass_rate": 0.625, "findings": 5},
    ]


def test_the_city_sees_both_counties_and_can_cut_to_one(figures, world):
    city = world.user("city_manager")
    data = reports.dashboard(city, since=date(2025, 6, 1), until=date(2025, 6, 30), now=NOW)
    assert {r["name"] for r in data["pass_by_org"]} == {world.county_a.name, world.county_b.name}
    assert data["supervision_total"] == {"open": 3, "overdue": 2}
    only_b = reports.dashboard(
        city, since=date(2025, 6, 1), until=date(2025, 6, 30), org_id=world.county_b.pk, now=NOW
    )
    assert only_b["pass_total"]["total"] == 2 and only_b["coverage_total"]["missed"] == 1
    # a county manager asking for the sibling gets nothing
    none = reports.dashboard(
        world.user("a_manager"),
        since=date(2025, 6, 1),
        until=date(2025, 6, 30),
        org_id=world.county_b.pk,
        now=NOW,
    )
    assert none["pass_total"]["total"] == 0 and none["rectification_by_org"] == []


def test_list_filters(figures, world):
    user = world.user("a_manager")
    x5 = Clause.objects.get(number="X5")
    assert queries.finding_list(user, clause_id=x5.pk).count() == 5
    assert queries.finding_list(user, overdue=True, now=NOW).count() == 1
    assert queries.finding_list(user, vendor_id=world.vendor.pk, status="open").count() == 5
    assert queries.rectification_list(user, status="accepted").count() == 2
    assert queries.rectification_list(user, overdue=True, now=NOW).count() == 1
    assert queries.inspection_list(user, since=date(2025, 6, 1)).count() == 2
    # a location takes its subtree: the building's stairs too
    assert queries.inspection_list(user, location_id=figures.building_a.pk).count() == 3
    assert queries.inspection_list(user, location_id=figures.stairs_a.pk).count() == 2
    assert queries.occurrence_list(user, view="missed").count() == 1
    assert queries.occurrence_list(user, view="overdue", now=NOW).count() == 2
    assert queries.occurrence_list(user, view="upcoming", now=NOW).count() == 1
    today = queries.occurrence_list(user, view="today", now=at(2025, 6, 18, 1, 0))
    assert [o.due_at for o in today] == [at(2025, 6, 18, 2, 0)]
    # the lists are newest first / nearest first, with the id breaking ties
    raised = list(queries.finding_list(user).values_list("raised_at", "id"))
    assert raised == sorted(raised, reverse=True)


def test_trace_includes_the_same_clause_of_other_versions(figures, world):
    """A finding against the clause's number in another version of the standard."""
    from dayuan.standards.models import StandardVersion

    x5 = Clause.objects.get(number="X5")
    old = x5.version
    newer = StandardVersion.objects.create(standard=old.standard, number=old.number + 1)
    x5b = Clause.objects.create(version=newer, number="X5", text="新版", severity="important")
    _finding(figures, world.county_a, x5b, raised=at(2025, 6, 3, 9, 0))
    trace = queries.trace_clause(world.user("a_manager"), x5.pk)
    assert set(trace["clause_ids"]) == {x5.pk, x5b.pk}
    assert len(trace["findings"]) == 6
    assert len(queries.trace_clause(world.user("b_manager"), x5.pk)["findings"]) == 1


# --- volume: a constant number of queries ----------------------------------------------


@pytest.fixture
def volume(figures, world):
    """A few thousand rows more in county A."""
    s = figures
    x5 = Clause.objects.get(number="X5")
    insp = _inspection(s, world.county_a, s.building_a, world.vendor)
    InspectionItem.objects.bulk_create(
        InspectionItem(
            inspection=insp, org=world.county_a, key=f"k{i}", text="项", clause=x5,
            severity="important", outcome="fail" if i % 7 == 0 else "pass",
            at=at(2025, 6, 1 + i % 28, 10, 0), location=s.building_a, vendor=world.vendor,
        )
        for i in range(3000)
    )  # fmt: skip
    findings = Finding.objects.bulk_create(
        Finding(
            org=world.county_a, number=f"WT-V-{i}", source="inspection", clause=x5,
            severity="important", location=s.building_a, vendor=world.vendor,
            description="问题", raised_at=at(2025, 6, 1 + i % 28, 11, 0),
            raised_by=s.user("a_inspector"),
        )
        for i in range(1500)
    )  # fmt: skip
    rects = Rectification.objects.bulk_create(
        Rectification(
            finding=f, org=f.org, assignee_org=world.vendor, status="submitted",
            ordered_at=f.raised_at, deadline=f.raised_at + timedelta(days=3),
            assignee=s.user("vendor_worker"), verifier=s.user("a_inspector"),
        )
        for f in findings
    )  # fmt: skip
    RectificationRound.objects.bulk_create(
        RectificationRound(
            rectification=r, number=1, evidence="已整改", submitted_by=s.user("vendor_worker"),
            submitted_at=r.ordered_at,
        )
        for r in rects
    )  # fmt: skip
    PlanOccurrence.objects.bulk_create(
        _occurrence(s, world.county_a, due=at(2025, 6, 1, 2, 0) + timedelta(hours=i), n=1000 + i)
        for i in range(1500)
    )
    return s


def test_lists_and_dashboard_are_constant_in_queries(
    volume, world, api, django_assert_max_num_queries
):
    client = api(world.user("a_manager"))
    for path in (
        "/api/v1/findings?page_size=200",
        "/api/v1/rectifications?page_size=200",
        "/api/v1/inspections/occurrences?page_size=200",
        "/api/v1/inspections?page_size=200",
        "/api/v1/supervision/tasks?page_size=200",
    ):
        with django_assert_max_num_queries(10):
            resp = client.get(path)
        assert resp.status_code == 200 and resp.json()["count"] > 0, path
    x5 = Clause.objects.get(number="X5")
    with django_assert_max_num_queries(10):
        trace = client.get(f"/api/v1/inspections/clauses/{x5.pk}/trace")
    assert len(trace.json()["findings"]) == queries.TRACE_MAX
    with django_assert_max_num_queries(18):
        data = client.get("/api/v1/inspections/dashboard?since=2025-05-01&until=2025-06-30")
    assert data.json()["pass_total"]["total"] == 3009
