"""Conducting an inspection: drafts, live judgement, grading, idempotent submit,
photos, permissions and org scope."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dayuan.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from dayuan.standards.models import Clause, Judgment

from .. import queries, services
from ..models import Finding, Inspection, InspectionItem, InspectionPhoto, PlanOccurrence
from ..plans import generate_occurrences
from .factories import ALL_PASS, at, build, upload
from .helpers import start, submit

pytestmark = pytest.mark.django_db


def test_start_snapshots_the_checklist_and_same_key_gives_same_inspection(world):
    s = build(world)
    first = start(s, client_key="k1")
    assert first.status == "draft" and first.number.startswith("XJ-20250602-")
    assert first.org == world.county_a and first.inspector == s.user("a_inspector")
    keys = [it["key"] for it in first.checklist["items"]]
    assert keys == ["floor_clean", "stairs_clear", "server_temp", "fire_exit"]
    temp = first.checklist["items"][2]
    assert temp["max"] == 27 and temp["severity"] == "important"
    assert temp["clause_number"] == "X5"
    assert temp["clause_id"] == Clause.objects.get(number="X5").pk
    assert first.checklist["pass_line"] == 60 and first.checklist["fail_grade"] == "fail"
    assert start(s, client_key="k1").pk == first.pk
    assert Inspection.objects.count() == 1
    # someone else cannot reuse the key
    with pytest.raises(Conflict):
        start(s, "a_manager", client_key="k1")


def test_draft_survives_save_reload_continue(world):
    s = build(world)
    insp = start(s)
    insp = services.save_draft(
        actor=s.user("a_inspector"),
        inspection_id=insp.pk,
        version=insp.version,
        answers={"floor_clean": "pass", "server_temp": {"value": 29.5}},
        notes={"server_temp": "空调故障"},
    )
    reloaded = Inspection.objects.get(pk=insp.pk)
    assert reloaded.answers == {"floor_clean": {"outcome": "pass"}, "server_temp": {"value": 29.5}}
    assert reloaded.notes == {"server_temp": "空调故障"}
    # the measured value is judged on entry
    assert services.item_outcomes(reloaded) == {"floor_clean": "pass", "server_temp": "fail"}
    assert services.draft_grade(reloaded).score_percent == pytest.approx(100 / 3, abs=0.01)
    # continue from another device: merge, correct the reading
    again = services.save_draft(
        actor=s.user("a_inspector"),
        inspection_id=insp.pk,
        version=reloaded.version,
        answers={"server_temp": 25, "stairs_clear": "pass"},
    )
    assert services.item_outcomes(again) == {
        "floor_clean": "pass",
        "stairs_clear": "pass",
        "server_temp": "pass",
    }
    # a stale tab is refused
    with pytest.raises(StaleVersion):
        services.save_draft(
            actor=s.user("a_inspector"), inspection_id=insp.pk, version=1, answers={}
        )
    done = submit(s, again, answers={"fire_exit": "pass"}, version=again.version)
    assert done.status == "submitted" and done.passed and done.grade == "good"


@pytest.mark.parametrize(
    "answers,code",
    [
        ({"server_temp": "pass"}, "measure_missing"),
        ({"server_temp": {"value": "hot"}}, "measure_missing"),
        ({"server_temp": True}, "measure_missing"),
        ({"floor_clean": "maybe"}, "bad_answer"),
        ({"floor_clean": 3}, "bad_answer"),
        ({"nope": "pass"}, "checklist_unknown_items"),
    ],
)
def test_answers_are_validated_per_item_shape(world, answers, code):
    s = build(world)
    insp = start(s)
    with pytest.raises(InvalidInput) as exc:
        services.save_draft(actor=s.user("a_inspector"), inspection_id=insp.pk, answers=answers)
    assert exc.value.code == code


def test_not_applicable_and_notes_are_kept(world):
    s = build(world)
    insp = start(s)
    insp = services.save_draft(
        actor=s.user("a_inspector"),
        inspection_id=insp.pk,
        answers={"server_temp": "na"},
        notes={"floor_clean": "有落叶"},
    )
    assert services.item_outcomes(insp)["server_temp"] == "na"
    with pytest.raises(InvalidInput):
        services.save_draft(actor=s.user("a_inspector"), inspection_id=insp.pk, notes={"x": "y"})


@pytest.mark.parametrize(
    "answers,score,grade,passed",
    [
        (ALL_PASS, 100.0, "good", True),
        # one general failure: weight 1 of 10 lost; band "pass" allows one general
        ({**ALL_PASS, "floor_clean": "fail"}, 90.0, "pass", True),
        # two general failures: no band holds
        ({**ALL_PASS, "floor_clean": "fail", "stairs_clear": "fail"}, 70.0, "fail", False),
        # an important failure (measured over the limit): weight 2 of 10
        ({**ALL_PASS, "server_temp": {"value": 28}}, 80.0, "fail", False),
        # na items leave the denominator: 5 of 7 applicable lost
        (
            {"floor_clean": "pass", "stairs_clear": "na", "server_temp": "na", "fire_exit": "fail"},
            round(100 / 6, 4),
            "fail",
            False,
        ),
    ],
)
def test_grading_bands_weights_and_pass_line(world, answers, score, grade, passed):
    s = build(world)
    done = submit(s, start(s), answers=answers)
    assert done.score == pytest.approx(score)
    assert done.grade == grade and done.passed is passed


def test_pass_line_fails_a_band_that_holds(world):
    s = build(world)
    insp = start(s)
    data = dict(insp.checklist)
    data["pass_line"] = 95
    Inspection.objects.filter(pk=insp.pk).update(checklist=data)
    done = submit(s, insp, answers={**ALL_PASS, "floor_clean": "fail"})
    assert done.score == pytest.approx(90) and done.grade == "pass" and done.passed is False


def test_grading_uses_the_snapshot_not_the_standard_today(world):
    s = build(world)
    insp = start(s)
    data = dict(insp.checklist)
    data["items"] = [dict(it) for it in data["items"]]
    data["items"][2]["max"] = 30  # as if the limit in force at start had been 30
    Inspection.objects.filter(pk=insp.pk).update(checklist=data)
    done = submit(s, insp, answers={**ALL_PASS, "server_temp": 28})
    assert done.passed and done.grade == "good"


def test_incomplete_submit_is_refused_and_nothing_written(world):
    s = build(world)
    insp = start(s)
    with pytest.raises(InvalidInput) as exc:
        submit(s, insp, answers={"floor_clean": "pass"})
    assert exc.value.code == "checklist_incomplete"
    fresh = Inspection.objects.get(pk=insp.pk)
    assert fresh.status == "draft" and fresh.answers == {}  # the whole call rolled back
    assert not InspectionItem.objects.exists()


def test_submit_writes_items_judgments_and_findings_once(world):
    s = build(world)
    insp = start(s, vendor_id=world.vendor.pk)
    answers = {**ALL_PASS, "server_temp": {"value": 31}, "floor_clean": "fail"}
    done = submit(s, insp, answers=answers, notes={"floor_clean": "楼道有垃圾"})
    again = submit(s, insp, answers=ALL_PASS)
    assert again.pk == done.pk and again.version == done.version and again.score == done.score
    assert InspectionItem.objects.filter(inspection=done).count() == 4
    temp = InspectionItem.objects.get(inspection=done, key="server_temp")
    assert temp.outcome == "fail" and temp.value == 31 and temp.severity == "important"
    assert temp.clause.number == "X5" and temp.vendor == world.vendor
    floor = InspectionItem.objects.get(inspection=done, key="floor_clean")
    assert floor.clause.number == "X4" and floor.note == "楼道有垃圾"
    judgments = Judgment.objects.filter(subject_type="inspection", subject_id=str(done.pk))
    assert judgments.count() == 4
    assert judgments.filter(outcome="fail").count() == 2
    assert judgments.get(clause__number="X5", outcome="fail").value == 31
    assert set(judgments.values_list("vendor_id", flat=True)) == {world.vendor.pk}
    assert Finding.objects.filter(inspection=done).count() == 2


def test_submit_marks_the_occurrence_done(world):
    s = build(world)
    generate_occurrences(org=world.county_a, start=at(2025, 6, 2), end=at(2025, 6, 3))
    occ = PlanOccurrence.objects.get(location=s.stairs_a)
    worker = "vendor_worker"
    insp = start(s, worker, kind="self", location=s.stairs_a, occurrence_id=occ.pk)
    assert insp.vendor == world.vendor and insp.checklist_code == "patrol.daily"
    submit(s, insp, worker)
    occ.refresh_from_db()
    assert occ.status == "done" and occ.done_at == at(2025, 6, 2, 10, 0)
    # a done occurrence cannot be started again
    with pytest.raises(Conflict):
        start(s, worker, kind="self", location=s.stairs_a, occurrence_id=occ.pk)


def test_occurrence_location_must_match(world):
    s = build(world)
    generate_occurrences(org=world.county_a, start=at(2025, 6, 2), end=at(2025, 6, 3))
    occ = PlanOccurrence.objects.get(location=s.stairs_a)
    with pytest.raises(InvalidInput):
        start(s, location=s.building_a, occurrence_id=occ.pk)


def test_photos_are_cleaned_and_bound_to_items(world):
    s = build(world)
    insp = start(s)
    photo = services.add_photo(
        actor=s.user("a_inspector"), inspection_id=insp.pk, item_key="fire_exit", upload=upload()
    )
    assert photo.item_key == "fire_exit" and photo.width == 64 and photo.thumbnail.name
    with pytest.raises(InvalidInput):
        services.add_photo(
            actor=s.user("a_inspector"), inspection_id=insp.pk, item_key="nope", upload=upload()
        )
    with pytest.raises(InvalidInput) as exc:
        services.add_photo(
            actor=s.user("a_inspector"),
            inspection_id=insp.pk,
            item_key="fire_exit",
            upload=upload(b"not an image"),
        )
    assert exc.value.code == "invalid_photo"
    with pytest.raises(PermissionDenied):
        services.add_photo(
            actor=s.user("a_manager"), inspection_id=insp.pk, item_key="", upload=upload()
        )
    assert InspectionPhoto.objects.count() == 1


def test_permissions_to_start(world):
    s = build(world)
    # staff may not patrol; an inspector of county B may not patrol county A
    with pytest.raises(PermissionDenied):
        start(s, "a_staff")
    with pytest.raises(NotFound):  # county A's location is not even visible to B
        start(s, "b_inspector")
    # the vendor's worker: self-inspection of the stairs its vendor is planned for ...
    insp = start(s, "vendor_worker", kind="self", location=s.stairs_a, vendor_id=world.vendor.pk)
    assert insp.kind == "self" and insp.inspector == s.user("vendor_worker")
    # ... but never a patrol, nor a self-inspection for no vendor: then the county's
    # location is none of its business
    with pytest.raises(NotFound):
        start(s, "vendor_worker", location=s.stairs_a, vendor_id=world.vendor.pk)
    with pytest.raises(NotFound):
        start(s, "vendor_worker", kind="self", location=s.stairs_a)
    s.stairs_plan.is_active = False
    s.stairs_plan.save()
    s.patrol_plan.is_active = False
    s.patrol_plan.save()
    with pytest.raises(PermissionDenied):
        start(s, "vendor_worker", kind="self", location=s.stairs_a, vendor_id=world.vendor.pk)
    # a county manager may self-inspect at the county
    assert start(s, "a_manager", kind="self", location=s.stairs_a).kind == "self"
    with pytest.raises(InvalidInput):
        start(s, kind="nonsense")
    with pytest.raises(InvalidInput):  # a vendor from outside the county
        start(s, vendor_id=world.county_b.pk)


def test_county_b_can_neither_see_nor_touch_county_a(world):
    s = build(world)
    insp = start(s)
    b = s.user("b_inspector")
    assert not queries.inspections(b).filter(pk=insp.pk).exists()
    assert not queries.inspections(s.user("b_manager")).exists()
    assert queries.inspections(s.user("a_manager")).filter(pk=insp.pk).exists()
    for call in (
        lambda: services.save_draft(actor=b, inspection_id=insp.pk, answers={}),
        lambda: services.submit_inspection(actor=b, inspection_id=insp.pk, answers=ALL_PASS),
        lambda: services.add_photo(actor=b, inspection_id=insp.pk, item_key="", upload=upload()),
        lambda: services.cancel_inspection(
            actor=b, inspection_id=insp.pk, version=insp.version, reason="x"
        ),
    ):
        with pytest.raises(NotFound):
            call()
    # another inspector of county A sees it but may not fill it in
    with pytest.raises(PermissionDenied):
        services.save_draft(actor=s.user("a_manager"), inspection_id=insp.pk, answers={})


def test_cancel_a_draft_only(world):
    s = build(world)
    insp = start(s)
    gone = services.cancel_inspection(
        actor=s.user("a_inspector"), inspection_id=insp.pk, version=insp.version, reason="走错楼"
    )
    assert gone.status == "cancelled"
    with pytest.raises(Conflict):
        submit(s, insp)
    done = submit(s, start(s))
    with pytest.raises(Conflict):
        services.cancel_inspection(
            actor=s.user("a_inspector"), inspection_id=done.pk, version=done.version, reason="x"
        )


# --- real threads -------------------------------------------------------------------------


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


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_double_submit_in_two_threads_makes_one(world):
    s = build(world)
    insp = start(s, vendor_id=world.vendor.pk)
    answers = {**ALL_PASS, "fire_exit": "fail"}
    results, errors = _race([lambda: submit(s, insp, answers=answers) for _ in range(3)])
    assert not errors, errors
    assert {r.pk for r in results} == {insp.pk}
    assert {r.version for r in results} == {insp.version + 1}
    assert InspectionItem.objects.filter(inspection=insp).count() == 4
    assert Finding.objects.filter(inspection=insp).count() == 1
    assert Judgment.objects.filter(subject_type="inspection", subject_id=str(insp.pk)).count() == 4


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_same_client_key_in_two_threads_makes_one(world):
    s = build(world)
    results, errors = _race([lambda: start(s, client_key="same") for _ in range(3)])
    assert not errors or all(isinstance(e, DomainError) for e in errors), errors
    assert Inspection.objects.filter(client_key="same").count() == 1
    assert {r.pk for r in results} == {Inspection.objects.get().pk}
