"""Surveys (考评): invitations only, one response each, strict anonymity, results, and
the survey_satisfaction indicator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_org, make_user
from dayuan.notifications.models import Notification
from dayuan.standards.indicators import INDICATORS

from .. import services
from ..models import Survey, SurveyInvite, SurveyResponse
from .factories import at, build

pytestmark = pytest.mark.django_db

CREATED = at(2026, 3, 2, 9, 0)
OPENED = at(2026, 3, 2, 10, 0)
CLOSES = at(2026, 3, 20, 18, 0)

QUESTIONS = [
    {"text": "保洁质量", "kind": "rating"},
    {"text": "维修及时性", "kind": "rating"},
    {"text": "最需改进", "kind": "choice", "choices": ["保洁", "维修", "绿化"]},
    {"text": "其他意见", "kind": "text", "required": False},
]


def staff(world: Any, n: int) -> list[Any]:
    """County A staff: the world's a_staff plus more."""
    people = [world.user("a_staff")]
    for i in range(n - 1):
        people.append(make_user(f"a_staff{i}", world.county_a, "staff"))
    return people


def survey(world: Any, invitees: list[Any], **over: Any) -> Survey:
    kwargs = {
        "actor": world.user("a_manager"),
        "org_id": world.county_a.pk,
        "title": "三月物业满意度调查",
        "closes_at": CLOSES,
        "questions": QUESTIONS,
        "invitee_ids": [u.pk for u in invitees],
        "subject_org_id": world.vendor.pk,
        "now": CREATED,
    }
    kwargs.update(over)
    return services.create_survey(**kwargs)


def opened(world: Any, invitees: list[Any], **over: Any) -> Survey:
    s = survey(world, invitees, **over)
    return services.open_survey(actor=world.user("a_manager"), survey_id=s.pk, now=OPENED)


def answers(s: Survey, r1: int, r2: int, choice: str = "维修", text: str | None = None) -> dict:
    q = list(s.questions.order_by("position"))
    result: dict[Any, Any] = {q[0].pk: r1, str(q[1].pk): r2, q[2].pk: choice}
    if text is not None:
        result[q[3].pk] = text
    return result


def respond(world: Any, user: Any, s: Survey, *args: Any, day: int = 5, **kw: Any) -> None:
    services.respond(
        actor=user, survey_id=s.pk, answers=answers(s, *args, **kw), now=at(2026, 3, day, 11, 0)
    )


def test_create_validation_codes(world):
    people = staff(world, 1)
    cases = [
        ({"invitee_ids": []}, "no_invitees"),
        ({"invitee_ids": [world.user("b_staff").pk]}, "invalid_invitees"),
        ({"questions": []}, "no_questions"),
        ({"questions": [{"text": "?", "kind": "essay"}]}, "invalid_question_kind"),
        ({"questions": [{"text": "?", "kind": "choice", "choices": ["是"]}]}, "invalid_choices"),
        (
            {"questions": [{"text": "?", "kind": "choice", "choices": ["是", "是"]}]},
            "invalid_choices",
        ),
        ({"closes_at": CREATED}, "invalid_closes_at"),
        ({"title": ""}, "required"),
        ({"subject_org_id": world.county_b.pk}, "invalid_subject"),
    ]
    for over, code in cases:
        with pytest.raises(InvalidInput) as exc:
            survey(world, people, **over)
        assert exc.value.code == code, over
    with pytest.raises(PermissionDenied):
        survey(world, people, actor=world.user("a_inspector"))
    with pytest.raises(NotFound):
        survey(world, people, actor=world.user("b_manager"))
    assert not Survey.objects.exists()


def test_opening_invites_the_chosen_people_only(world):
    people = staff(world, 3)
    # someone of a department under the county (their grant does not reach the county)
    office = make_org("办公室", "a-office", "department", world.county_a)
    people.append(make_user("a_clerk", office, "staff"))
    s = opened(world, people)
    assert s.status == "open" and s.opens_at == OPENED
    invited = Notification.objects.filter(event__type="assessment.survey_invited")
    assert {n.recipient_id for n in invited} == {u.pk for u in people}
    with pytest.raises(Conflict) as exc:
        services.open_survey(actor=world.user("a_manager"), survey_id=s.pk, now=OPENED)
    assert exc.value.code == "invalid_state"
    with pytest.raises(NotFound):
        services.open_survey(actor=world.user("b_manager"), survey_id=s.pk, now=OPENED)


def test_only_invited_people_answer_once_while_open(world):
    people = staff(world, 2)
    s = survey(world, people)
    with pytest.raises(Conflict) as exc:
        respond(world, people[0], s, 5, 4)
    assert exc.value.code == "survey_not_open"
    services.open_survey(actor=world.user("a_manager"), survey_id=s.pk, now=OPENED)
    with pytest.raises(PermissionDenied) as denied:
        respond(world, world.user("a_dispatcher"), s, 5, 4)
    assert denied.value.code == "not_invited"
    with pytest.raises(NotFound):  # another county does not learn the survey exists
        respond(world, world.user("b_staff"), s, 5, 4)
    respond(world, people[0], s, 5, 4)
    with pytest.raises(Conflict) as again:
        respond(world, people[0], s, 1, 1)
    assert again.value.code == "already_responded"
    assert SurveyResponse.objects.count() == 1
    # past the deadline, even before the manager closes it
    with pytest.raises(Conflict) as late:
        services.respond(actor=people[1], survey_id=s.pk, answers=answers(s, 3, 3), now=CLOSES)
    assert late.value.code == "survey_closed"
    services.close_survey(actor=world.user("a_manager"), survey_id=s.pk, now=at(2026, 3, 6, 9))
    s.refresh_from_db()
    assert s.status == "closed" and s.closes_at == at(2026, 3, 6, 9)  # closed early
    with pytest.raises(Conflict) as closed:
        respond(world, people[1], s, 3, 3)
    assert closed.value.code == "survey_closed"


def test_each_answer_is_checked_against_its_question(world):
    people = staff(world, 1)
    s = opened(world, people)
    q = list(s.questions.order_by("position"))
    good = answers(s, 5, 4)
    cases = [
        ({**good, q[0].pk: 6}, "invalid_rating"),
        ({**good, q[0].pk: "5"}, "invalid_rating"),
        ({**good, q[0].pk: True}, "invalid_rating"),
        ({**good, q[2].pk: "食堂"}, "invalid_choice"),
        ({**good, q[3].pk: ["列表"]}, "invalid_text"),
        ({k: v for k, v in good.items() if k != q[2].pk}, "answer_required"),
        ({**good, 999999: 5}, "unknown_question"),
        ([5, 4], "invalid_answers"),
    ]
    for bad, code in cases:
        with pytest.raises(InvalidInput) as exc:
            services.respond(actor=people[0], survey_id=s.pk, answers=bad, now=at(2026, 3, 5, 11))
        assert exc.value.code == code, bad
    assert not SurveyResponse.objects.exists()
    assert not SurveyInvite.objects.filter(responded=True).exists()  # nothing half-written


def test_an_anonymous_response_cannot_be_joined_to_its_author(world):
    people = staff(world, 3)
    s = opened(world, people)
    user = people[1]
    respond(world, user, s, 5, 2, text="楼道灯坏了很久")
    response = SurveyResponse.objects.get()
    # the response row names nobody and keeps only the date
    assert response.respondent_id is None
    assert str(response.submitted_on) == "2026-03-05"
    assert set(response.answers) == {str(q.pk) for q in s.questions.all()}
    assert response.rating_mean == 3.5
    row = json.dumps(
        {f.attname: str(getattr(response, f.attname)) for f in response._meta.concrete_fields}
    )
    assert user.username not in row
    # the invite only says that the user answered
    invite = SurveyInvite.objects.get(survey=s, user=user)
    assert invite.responded
    assert {f.name for f in SurveyInvite._meta.concrete_fields} == {
        "id",
        "survey",
        "user",
        "responded",
    }
    # the audit entry is filed against the survey, never the response
    entries = AuditEntry.objects.filter(actor_id=user.pk)
    assert [(e.action, e.object_type, e.object_id) for e in entries] == [
        ("assessment.respond", "assessment.survey", str(s.pk))
    ]
    for entry in AuditEntry.objects.all():
        assert entry.object_type != "assessment.surveyresponse"
        text = json.dumps(entry.changes, ensure_ascii=False) + entry.reason + entry.object_repr
        assert str(response.pk) not in text
        assert "楼道灯" not in text
    # ids are drawn at random, not in order of submission
    respond(world, people[0], s, 4, 4)
    respond(world, people[2], s, 3, 3)
    ids = list(SurveyResponse.objects.values_list("pk", flat=True))
    assert max(ids) > 10**6


def test_anonymous_results_name_nobody(world):
    people = staff(world, 3)
    s = opened(world, people)
    respond(world, people[0], s, 5, 4, choice="保洁", text="很好")
    respond(world, people[1], s, 2, 4, choice="维修", text="电梯异响")
    results = services.survey_results(world.user("a_manager"), s.pk)
    assert results["invited"] == 3 and results["responded"] == 2
    assert results["response_rate"] == pytest.approx(0.6667)
    q1, q2, q3, q4 = results["questions"]
    assert q1["distribution"] == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert q1["mean"] == 3.5 and q1["satisfaction"] == 50.0
    assert q2["mean"] == 4.0 and q2["satisfaction"] == 100.0
    assert q3["distribution"] == {"保洁": 1, "维修": 1, "绿化": 0}
    assert q4["answers"] == sorted(["很好", "电梯异响"])
    assert results["satisfaction"] == 75.0  # 3 of the 4 ratings are 4 or 5
    assert "responses" not in results
    dumped = json.dumps(results, default=str, ensure_ascii=False)
    for u in people:
        assert u.username not in dumped and "respondent" not in dumped


def test_named_results_and_who_may_see_results(world):
    people = staff(world, 2)
    s = opened(world, people, anonymous=False)
    respond(world, people[0], s, 4, 4)
    response = SurveyResponse.objects.get()
    assert response.respondent_id == people[0].pk
    results = services.survey_results(world.user("city_manager"), s.pk)
    assert [r["respondent_id"] for r in results["responses"]] == [people[0].pk]
    with pytest.raises(PermissionDenied):  # sees the survey, does not manage it
        services.survey_results(world.user("a_inspector"), s.pk)
    with pytest.raises(NotFound):
        services.survey_results(world.user("b_manager"), s.pk)
    with pytest.raises(NotFound):
        services.survey_results(people[0], s.pk)


def test_satisfaction_indicator(world):
    setup = build(world)
    people = staff(world, 3)
    s = opened(world, people, contract_id=setup.contract.pk, subject_org_id=None)
    assert s.subject_org_id == world.vendor.pk  # the contract's vendor
    respond(world, people[0], s, 5, 3)
    respond(world, people[1], s, 4, 2)
    respond(world, people[2], s, 1, 5)
    # another survey about the county itself, closing in April: not in March
    other = opened(
        world,
        people,
        subject_org_id=world.county_a.pk,
        closes_at=at(2026, 4, 2, 18),
    )
    respond(world, people[0], other, 1, 1)
    compute = INDICATORS["survey_satisfaction"].compute
    march = (at(2026, 3, 1), at(2026, 4, 1))
    # ratings 5,3,4,2,1,5: three of six are 4 or 5
    assert compute(world.county_a, *march, vendor=world.vendor) == 50.0
    assert compute(world.county_a, *march) == 50.0  # the county answers for its vendor
    assert compute(world.county_b, *march) is None
    assert compute(world.county_a, at(2026, 4, 1), at(2026, 5, 1), vendor=world.vendor) is None
    assert compute(world.county_a, at(2026, 4, 1), at(2026, 5, 1)) == 0.0
    # a draft survey never counts
    survey(world, people, closes_at=at(2026, 3, 25, 18))
    assert compute(world.county_a, *march) == 50.0
