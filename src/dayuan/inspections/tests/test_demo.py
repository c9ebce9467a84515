"""The inspection demo: a short history built like the full one, with every state of the
loop the issue names, judgments for the compliance pages, and each county's records
kept to itself."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dayuan.accounts.models import User
from dayuan.bookings import demo as bk_demo
from dayuan.canteen import demo as ct_demo
from dayuan.inspections import demo as insp_demo
from dayuan.inspections import queries
from dayuan.inspections.choices import (
    OPEN_RECTIFICATION,
    FindingSource,
    InspectionKind,
    InspectionStatus,
    OccurrenceStatus,
    RectificationStatus,
)
from dayuan.inspections.models import (
    Asset,
    Finding,
    Inspection,
    InspectionItem,
    PlanAssignment,
    PlanOccurrence,
    Rectification,
    RectificationRound,
)
from dayuan.orgs.models import Organization
from dayuan.standards.models import Judgment, Standard
from dayuan.supervision import queries as sup_queries
from dayuan.supervision.choices import Light, TaskSource, TaskStatus
from dayuan.supervision.models import SupervisionTask
from dayuan.supervision.services import light

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 30, tzinfo=SH)  # a Wednesday, in the thunderstorm season
VOLUME = 40
COUNTIES = ("dongcheng", "xihu", "nanshan")


@pytest.fixture(scope="module")
def loaded(module_db):
    """The core demo world with a small work-order history (the vendors' crews), then
    the inspection demo at a fixed instant."""
    from dayuan.core import demo as core_demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(insp_demo, "load_demo", lambda *args, **kwargs: {})
        mp.setattr(bk_demo, "load_demo", lambda *args, **kwargs: {})  # not needed here
        mp.setattr(ct_demo, "load_demo", lambda *args, **kwargs: {})  # nor this
        core_demo.load_demo()
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in COUNTIES]
    return insp_demo.load_demo(admin, city, counties, inspections=VOLUME, now=NOW)


def test_the_history_has_every_state_the_issue_names(loaded):
    """One load, checked part by part (a load takes seconds)."""
    _setup_is_there(loaded)
    _occurrences_done_and_missed()
    _rectification_states()
    _supervision_lights()


def _setup_is_there(loaded):
    city = Organization.objects.get(code="city")
    for code in ("JG-DC", "JG-XJ"):
        std = Standard.objects.get(code=code)
        assert std.adoptions.filter(org=city, is_active=True).exists()
    types = Counter(Asset.objects.values_list("asset_type", flat=True))
    assert {"lightning_rod", "lightning_protection", "split_ac", "office_equipment"} <= set(types)
    assert PlanAssignment.objects.count() == 4 * len(insp_demo.ASSIGNMENTS)
    self_checks = PlanAssignment.objects.filter(kind=InspectionKind.SELF)
    assert self_checks.exists() and all(a.team_id and a.vendor_id for a in self_checks)
    assert PlanAssignment.objects.filter(kind=InspectionKind.PATROL, inspector__isnull=False)
    assert insp_demo.HISTORY_DAYS_MIN <= loaded["history_days"] <= insp_demo.HISTORY_DAYS_MAX


def _occurrences_done_and_missed():
    statuses = Counter(PlanOccurrence.objects.values_list("status", flat=True))
    assert statuses[OccurrenceStatus.DONE] >= VOLUME * 0.6
    assert statuses[OccurrenceStatus.MISSED] >= 1
    assert statuses[OccurrenceStatus.PENDING] >= 1  # the days ahead
    done = PlanOccurrence.objects.filter(status=OccurrenceStatus.DONE)
    assert not done.filter(done_at__gt=NOW).exists()
    with_inspection = set(
        Inspection.objects.filter(status=InspectionStatus.SUBMITTED).values_list(
            "occurrence_id", flat=True
        )
    )
    assert set(done.values_list("id", flat=True)) <= with_inspection
    for occ in PlanOccurrence.objects.filter(status=OccurrenceStatus.MISSED):
        assert Finding.objects.filter(occurrence=occ, source=FindingSource.MISSED).exists()
    # The vendors' crews self-inspect; the inspectors patrol.
    kinds = Counter(Inspection.objects.values_list("kind", flat=True))
    assert kinds[InspectionKind.SELF] and kinds[InspectionKind.PATROL]
    worker = User.objects.get(username="dongcheng_worker")
    assert Inspection.objects.filter(inspector=worker, kind=InspectionKind.SELF).exists()
    # Items and judgments as submit writes them.
    insp = Inspection.objects.filter(status=InspectionStatus.SUBMITTED).first()
    assert InspectionItem.objects.filter(inspection=insp).count() == len(insp.checklist["items"])
    assert Judgment.objects.filter(clause__version__standard__code="JG-XJ").exists()
    assert not Inspection.objects.filter(submitted_at__gt=NOW).exists()


def _rectification_states():
    sources = set(Finding.objects.values_list("source", flat=True))
    assert {
        FindingSource.INSPECTION,
        FindingSource.MISSED,
        FindingSource.WALKROUND,
        FindingSource.COMPLAINT,
    } <= sources
    assert Rectification.objects.count() == Finding.objects.count()
    # Rejected once, then accepted: both rounds kept.
    twice = [
        r
        for r in Rectification.objects.filter(status=RectificationStatus.ACCEPTED)
        if list(
            RectificationRound.objects.filter(rectification=r)
            .order_by("number")
            .values_list("verdict", flat=True)
        )
        == ["reject", "accept"]
    ]
    assert twice
    assert Rectification.objects.filter(
        status=RectificationStatus.ACCEPTED, closed_on_time=False
    ).exists()  # accepted late
    assert Rectification.objects.filter(
        status=RectificationStatus.ACCEPTED, closed_on_time=True
    ).exists()
    overdue = Rectification.objects.filter(
        status__in=OPEN_RECTIFICATION, overdue=True, deadline__lt=NOW
    )
    assert overdue.exists()
    assert Rectification.objects.filter(status=RectificationStatus.SUBMITTED).exists()
    assert Rectification.objects.filter(status=RectificationStatus.ORDERED, overdue=False).exists()
    assert not RectificationRound.objects.filter(submitted_at__gt=NOW).exists()


def _supervision_lights():
    tasks = list(SupervisionTask.objects.all())
    lights = {light(t, NOW) for t in tasks}
    assert {Light.RED, Light.YELLOW, Light.GREEN, Light.DONE} <= lights
    sources = {t.source for t in tasks}
    assert {TaskSource.INSTRUCTION, TaskSource.COMPLAINT, TaskSource.RECTIFICATION} <= sources
    assert any(t.status == TaskStatus.CLOSED and t.reviewed_by_id for t in tasks)
    auto = [t for t in tasks if t.source == TaskSource.RECTIFICATION]
    assert all(t.rectification_id for t in auto)


def test_each_county_sees_only_its_own_records(loaded):
    orgs = {o.code: o for o in Organization.objects.filter(code__in=COUNTIES)}
    for code, county in orgs.items():
        manager = User.objects.get(username=f"{code}_manager")
        subtree = set(
            Organization.objects.filter(path__startswith=county.path).values_list("id", flat=True)
        )
        seen = set(queries.findings(manager).values_list("org_id", flat=True))
        assert seen and seen <= subtree
        assert set(queries.inspections(manager).values_list("org_id", flat=True)) <= subtree
        assert set(sup_queries.tasks(manager).values_list("org_id", flat=True)) <= subtree
    # A vendor's worker sees its own vendor's findings only.
    worker = User.objects.get(username="xihu_worker")
    vendors = set(queries.findings(worker).values_list("vendor_id", flat=True))
    assert vendors == {worker.home_org_id}
    # The city sees every county.
    city_manager = User.objects.get(username="city_manager")
    assert set(queries.findings(city_manager).values_list("org__code", flat=True)) >= {
        "city",
        *COUNTIES,
    }


def test_a_second_load_adds_no_second_history(loaded):
    admin = User.objects.get(username="admin")
    city = Organization.objects.get(code="city")
    counties = [Organization.objects.get(code=c) for c in COUNTIES]
    before = (Inspection.objects.count(), Asset.objects.count(), Finding.objects.count())
    again = insp_demo.load_demo(admin, city, counties, inspections=VOLUME, now=NOW)
    assert "inspections" not in again and again["assignments"] == 0
    assert (Inspection.objects.count(), Asset.objects.count(), Finding.objects.count()) == before
