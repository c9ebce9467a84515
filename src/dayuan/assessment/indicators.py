"""The indicator computed from satisfaction surveys (考评).

``survey_satisfaction``: of the rating answers (1–5) given to the surveys about the
subject that close in the period, the share rated 4 or 5, in percent. The subject is
``vendor`` when given, else any org of ``org``'s subtree (a county answers for its
vendors as well). Drafts never count; None when no rating was given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from dayuan.standards.indicators import bind, register

from .choices import QuestionKind, SurveyStatus
from .models import SurveyQuestion, SurveyResponse
from .surveys import SATISFIED_FROM

register("survey_satisfaction", _("问卷满意率"))


def survey_satisfaction(org: Any, start: datetime, end: datetime, vendor: Any = None):
    surveys = {"closes_at__gte": start, "closes_at__lt": end}
    if vendor is not None:
        surveys["subject_org"] = vendor
    else:
        surveys["subject_org__path__startswith"] = org.path
    prefix = {f"survey__{k}": v for k, v in surveys.items()}
    rating_ids = {
        str(pk)
        for pk in SurveyQuestion.objects.filter(kind=QuestionKind.RATING, **prefix)
        .exclude(survey__status=SurveyStatus.DRAFT)
        .values_list("pk", flat=True)
    }
    if not rating_ids:
        return None
    given = satisfied = 0
    answers = (
        SurveyResponse.objects.filter(**prefix)
        .exclude(survey__status=SurveyStatus.DRAFT)
        .values_list("answers", flat=True)
    )
    for row in answers.iterator(chunk_size=2000):
        for qid, value in row.items():
            if qid in rating_ids:
                given += 1
                satisfied += value >= SATISFIED_FROM
    return round(100.0 * satisfied / given, 2) if given else None


bind("survey_satisfaction", survey_satisfaction)
