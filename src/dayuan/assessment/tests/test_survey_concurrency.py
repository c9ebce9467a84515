"""Real threads against a real database: one person answering from several devices at
once leaves exactly one response."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dayuan.core.errors import DomainError

from .. import services
from ..models import SurveyInvite, SurveyResponse
from .factories import at

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_simultaneous_answers_make_one_response(world):
    staff = world.user("a_staff")
    survey = services.create_survey(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        title="满意度",
        closes_at=at(2026, 3, 20, 18),
        questions=[{"text": "总体评价", "kind": "rating"}],
        invitee_ids=[staff.pk],
        now=at(2026, 3, 2, 9),
    )
    services.open_survey(actor=world.user("a_manager"), survey_id=survey.pk, now=at(2026, 3, 2, 10))
    qid = survey.questions.get().pk
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def answer(rating: int) -> None:
        try:
            barrier.wait()
            services.respond(
                actor=staff, survey_id=survey.pk, answers={qid: rating}, now=at(2026, 3, 5, 11)
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(r,)) for r in (2, 3, 4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3, errors
    assert all(isinstance(e, DomainError) and e.code == "already_responded" for e in errors)
    assert SurveyResponse.objects.filter(survey=survey).count() == 1
    assert SurveyInvite.objects.get(survey=survey, user=staff).responded
