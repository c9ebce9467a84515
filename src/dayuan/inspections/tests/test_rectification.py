"""Rectification: deadlines per severity, the evidence/verdict loop with every round
kept, who may act, and the ladder into supervision."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.inspections import rectification, services
from dayuan.inspections.choices import FindingStatus, RectificationStatus
from dayuan.inspections.models import Finding, FindingEvent, Rectification
from dayuan.notifications.models import Event, Notification
from dayuan.standards.models import Clause, Judgment
from dayuan.supervision.choices import TaskSource
from dayuan.supervision.models import SupervisionTask

from .factories import at, build, upload

T0 = at(2026, 3, 2, 9, 0)  # a Monday


@pytest.fixture
def s(world):
    return build(world)


def open_finding(s, severity="important", *, now=T0, vendor=True, actor="a_inspector"):
    clause = Clause.objects.get(version__standard=s.standard, number="X5")
    return services.open_finding(
        org=s.world.county_a,
        clause=clause,
        rule=None,
        severity=severity,
        location=s.stairs_a,
        vendor=s.world.vendor if vendor else None,
        source="other",
        description="消防通道堆放杂物",
        actor=s.user(actor),
        now=now,
    )


def rect_of(finding: Finding) -> Rectification:
    return Rectification.objects.get(finding=finding)


def notified(event_type: str) -> set[str]:
    return set(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def actions(finding: Finding) -> list[str]:
    return list(FindingEvent.objects.filter(finding=finding).values_list("action", flat=True))


# --- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "deadline", "calendar"),
    [
        ("key", at(2026, 3, 3, 9, 0), "24x7"),  # 24 h around the clock
        ("important", at(2026, 3, 5, 9, 0), "working"),  # 3 working days of 7.5 h
        ("general", at(2026, 3, 16, 9, 0), "working"),  # 10 working days
    ],
)
def test_deadline_follows_the_severity_rule(s, severity, deadline, calendar):
    rect = rect_of(open_finding(s, severity))
    assert rect.deadline == deadline
    assert rect.calendar == calendar
    assert rect.rule_id is not None
    assert rect.assignee_org == s.world.vendor
    assert rect.verifier == s.user("a_inspector")
    assert rect.status == RectificationStatus.ORDERED


def test_without_a_rule_the_settings_defaults_apply(world):
    terms = rectification.deadline_for(world.county_a, "important", T0)
    assert terms["rule_id"] is None
    assert terms["deadline"] == at(2026, 3, 5, 9, 0)
    assert rectification.deadline_for(world.county_a, "key", T0)["deadline"] == at(2026, 3, 3, 9)


def test_the_party_is_told_and_the_other_county_is_not(s):
    finding = open_finding(s)
    assert notified("inspections.rectification_ordered") == {"vendor_worker"}
    own = open_finding(s, vendor=False)
    assert rect_of(own).assignee_org == s.world.county_a
    assert "b_manager" not in notified("inspections.rectification_ordered")
    assert actions(finding) == ["raised", "ordered"]


# --- the loop ----------------------------------------------------------------------------


def test_submit_reject_resubmit_accept_keeps_every_round(s):
    finding = open_finding(s)
    rect = rect_of(finding)
    worker, inspector = s.user("vendor_worker"), s.user("a_inspector")
    rect = rectification.submit_evidence(
        actor=worker,
        rectification_id=rect.pk,
        version=rect.version,
        evidence="已清理杂物",
        photos=[upload()],
        now=T0 + timedelta(hours=2),
    )
    assert rect.status == RectificationStatus.SUBMITTED
    assert rect.rounds.get().photos.count() == 1
    assert notified("inspections.rectification_submitted") == {"a_inspector"}

    with pytest.raises(InvalidInput) as exc:  # a rejection needs a reason
        rectification.verify(
            actor=inspector, rectification_id=rect.pk, version=rect.version, verdict="reject"
        )
    assert exc.value.code == "required"
    with pytest.raises(InvalidInput) as exc:  # a new deadline must be later
        rectification.verify(
            actor=inspector,
            rectification_id=rect.pk,
            version=rect.version,
            verdict="reject",
            reason="仍有纸箱",
            deadline=rect.deadline - timedelta(hours=1),
            now=T0 + timedelta(hours=3),
        )
    assert exc.value.code == "invalid_deadline"
    new_deadline = at(2026, 3, 6, 9, 0)
    rect = rectification.verify(
        actor=inspector,
        rectification_id=rect.pk,
        version=rect.version,
        verdict="reject",
        reason="仍有纸箱",
        deadline=new_deadline,
        now=T0 + timedelta(hours=3),
    )
    assert rect.status == RectificationStatus.RETURNED
    assert rect.deadline == new_deadline
    assert "vendor_worker" in notified("inspections.rectification_rejected")

    rect = rectification.submit_evidence(
        actor=worker,
        rectification_id=rect.pk,
        version=rect.version,
        evidence="纸箱已全部清走",
        now=T0 + timedelta(hours=5),
    )
    rect = rectification.verify(
        actor=inspector,
        rectification_id=rect.pk,
        version=rect.version,
        verdict="accept",
        now=T0 + timedelta(hours=6),
    )
    assert rect.status == RectificationStatus.ACCEPTED
    assert rect.closed_on_time is True
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED
    assert finding.closed_at == T0 + timedelta(hours=6)
    rounds = list(rect.rounds.values_list("number", "verdict", "reason", "verified_by__username"))
    assert rounds == [
        (1, "reject", "仍有纸箱", "a_inspector"),
        (2, "accept", "", "a_inspector"),
    ]
    assert actions(finding) == [
        "raised",
        "ordered",
        "evidence",
        "rejected",
        "evidence",
        "accepted",
        "closed",
    ]
    judgment = Judgment.objects.get(subject_type="rectification", subject_id=str(rect.pk))
    assert (judgment.outcome, judgment.rule_id) == ("pass", rect.rule_id)


def test_late_acceptance_is_not_on_time(s):
    rect = rect_of(open_finding(s, "key"))
    rect = rectification.submit_evidence(
        actor=s.user("vendor_worker"),
        rectification_id=rect.pk,
        version=rect.version,
        evidence="已整改",
        now=T0 + timedelta(hours=30),
    )
    rect = rectification.verify(
        actor=s.user("a_inspector"),
        rectification_id=rect.pk,
        version=rect.version,
        verdict="accept",
        now=T0 + timedelta(hours=31),
    )
    assert rect.closed_on_time is False


# --- who may -----------------------------------------------------------------------------


def test_only_the_party_submits_and_only_the_centre_verifies(s):
    rect = rect_of(open_finding(s))
    for name in ("b_manager", "b_inspector"):
        with pytest.raises(NotFound):
            rectification.submit_evidence(
                actor=s.user(name), rectification_id=rect.pk, version=rect.version, evidence="x"
            )
    with pytest.raises(StaleVersion):
        rectification.submit_evidence(
            actor=s.user("vendor_worker"),
            rectification_id=rect.pk,
            version=rect.version + 1,
            evidence="x",
        )
    rect = rectification.submit_evidence(
        actor=s.user("vendor_worker"),
        rectification_id=rect.pk,
        version=rect.version,
        evidence="已整改",
        now=T0 + timedelta(hours=1),
    )
    with pytest.raises(PermissionDenied):  # the party cannot accept its own work
        rectification.verify(
            actor=s.user("vendor_worker"),
            rectification_id=rect.pk,
            version=rect.version,
            verdict="accept",
        )
    with pytest.raises(NotFound):
        rectification.verify(
            actor=s.user("b_inspector"),
            rectification_id=rect.pk,
            version=rect.version,
            verdict="accept",
        )
    rect = rectification.verify(
        actor=s.user("a_inspector"),
        rectification_id=rect.pk,
        version=rect.version,
        verdict="accept",
        now=T0 + timedelta(hours=2),
    )
    assert rect.status == RectificationStatus.ACCEPTED
    b_users = {n for n in s.world.users if n.startswith("b_")}
    assert not Notification.objects.filter(recipient__username__in=b_users).exists()


def test_assign_names_a_person_of_the_party(s):
    rect = rect_of(open_finding(s))
    for name in ("a_staff", "b_manager"):
        with pytest.raises(InvalidInput) as exc:
            rectification.assign(
                actor=s.user("a_manager"),
                rectification_id=rect.pk,
                version=rect.version,
                assignee_id=s.user(name).pk,
            )
        assert exc.value.code == "invalid_assignee"
    rect = rectification.assign(
        actor=s.user("a_manager"),
        rectification_id=rect.pk,
        version=rect.version,
        assignee_id=s.user("vendor_worker").pk,
        now=T0,
    )
    assert rect.assignee == s.user("vendor_worker")
    assert "assigned" in actions(rect.finding)


# --- the ladder --------------------------------------------------------------------------


def test_each_step_is_notified_once_and_the_last_raises_one_supervision_task(s):
    rect = rect_of(open_finding(s, "key"))  # 24 h around the clock

    def run(hours):
        return rectification.escalate_overdue(T0 + timedelta(hours=hours))

    assert run(10) == {"steps": 0, "overdue": 0}
    assert run(20) == {"steps": 1, "overdue": 0}  # 83 %: warn the party
    assert run(21) == {"steps": 0, "overdue": 0}
    assert notified("inspections.rectification_escalated") == {"vendor_worker"}
    assert run(25) == {"steps": 1, "overdue": 1}  # past the deadline: inspector, manager
    assert run(25) == {"steps": 0, "overdue": 0}
    assert notified("inspections.rectification_escalated") == {
        "vendor_worker",
        "a_inspector",
        "a_manager",
    }
    rect.refresh_from_db()
    assert rect.overdue and rect.escalation_level == 2
    assert Judgment.objects.get(subject_id=str(rect.pk)).outcome == "fail"
    assert not SupervisionTask.objects.exists()

    assert run(37) == {"steps": 1, "overdue": 0}  # 150 %: the last step
    assert run(38) == {"steps": 0, "overdue": 0}
    task = SupervisionTask.objects.get()
    assert (task.source, task.rectification_id) == (TaskSource.RECTIFICATION, rect.pk)
    assert (task.org, task.issuer_org) == (s.world.county_a, s.world.city)
    assert task.deadline == at(2026, 3, 6, 17, 30)  # three working days from Tue 22:00
    assert Event.objects.filter(type="inspections.rectification_escalated").count() == 3
    assert task.assignee is None  # the org's managers are told and name one
    assert notified("supervision.assigned") == {"a_manager"}
    assert actions(rect.finding) == [
        "raised",
        "ordered",
        "escalated",
        "overdue",
        "escalated",
        "escalated",
        "supervised",
    ]


def test_the_ladder_stops_while_the_verifier_has_it(s):
    rect = rect_of(open_finding(s, "key"))
    rectification.submit_evidence(
        actor=s.user("vendor_worker"),
        rectification_id=rect.pk,
        version=rect.version,
        evidence="已整改",
        now=T0 + timedelta(hours=1),
    )
    assert rectification.escalate_overdue(T0 + timedelta(hours=40)) == {"steps": 0, "overdue": 0}
