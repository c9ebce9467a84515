"""Satisfaction surveys (考评): questionnaires about a vendor or a service, sent to
chosen people, answered once each, with results for the managers of the survey's org.

An anonymous survey is strictly so: the response row has no respondent and only a
date; the invite records only *that* its user answered; the audit entry is written
against the survey, never the response; and the response's id is random, so neither
the order of the audit entries nor of the ids joins a person to an answer. The results
of an anonymous survey name nobody, not even who has answered. ``now`` is for tests and
jobs; callers leave it out. (Call these through ``services``.)
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.periods import rate
from dayuan.notifications.services import emit
from dayuan.orgs.models import Organization

from . import events
from .choices import QuestionKind, SurveyStatus
from .models import Survey, SurveyInvite, SurveyQuestion, SurveyResponse
from .validation import (
    acting_org,
    check_version,
    clean_text,
    int_ids,
    now_of,
    org_contract,
    subject_of,
)

MAX_QUESTIONS = 50
MAX_INVITEES = 5000
MAX_TEXT_ANSWER = 1000
SATISFIED_FROM = 4  # a rating of 4 or 5 counts as satisfied


def _questions(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list | tuple) or not rows:
        raise InvalidInput(_("请至少设置一道题目。"), code="no_questions", field="questions")
    if len(rows) > MAX_QUESTIONS:
        raise InvalidInput(
            _("题目不能超过 %(n)s 道。") % {"n": MAX_QUESTIONS},
            code="too_many_questions",
            field="questions",
        )
    result = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or row.get("kind") not in QuestionKind.values:
            raise InvalidInput(
                _("第 %(n)s 题的题型无效。") % {"n": i + 1},
                code="invalid_question_kind",
                field="questions",
                index=i,
            )
        text = clean_text(row.get("text"), _("题目"), 300, "questions")
        choices: list[str] = []
        if row["kind"] == QuestionKind.CHOICE:
            raw = row.get("choices")
            choices = [str(c).strip() for c in raw] if isinstance(raw, list | tuple) else []
            if (
                len(choices) < 2
                or len(set(choices)) != len(choices)
                or not all(0 < len(c) <= 100 for c in choices)
            ):
                raise InvalidInput(
                    _("第 %(n)s 题须有至少两个不重复的选项。") % {"n": i + 1},
                    code="invalid_choices",
                    field="questions",
                    index=i,
                )
        result.append(
            {
                "text": text,
                "kind": row["kind"],
                "choices": choices,
                "required": bool(row.get("required", True)),
                "position": i,
            }
        )
    return result


def _invitees(ids: list[int], org: Organization) -> list[User]:
    if not ids:
        raise InvalidInput(_("请选择调查对象。"), code="no_invitees", field="invitee_ids")
    if len(ids) > MAX_INVITEES:
        raise InvalidInput(
            _("调查对象不能超过 %(n)s 人。") % {"n": MAX_INVITEES},
            code="too_many_invitees",
            field="invitee_ids",
        )
    users = list(
        User.objects.filter(pk__in=ids, is_active=True, home_org__path__startswith=org.path)
    )
    if len(users) != len(ids):
        missing = sorted(set(ids) - {u.pk for u in users})
        raise InvalidInput(
            _("调查对象须为本单位的在职人员。"),
            code="invalid_invitees",
            field="invitee_ids",
            ids=missing,
        )
    return users


@audited("assessment.create_survey")
def create_survey(
    *,
    actor: Any,
    org_id: int,
    title: str,
    closes_at: datetime,
    questions: Any,
    invitee_ids: Sequence[int],
    subject_org_id: int | None = None,
    contract_id: int | None = None,
    service: str = "",
    anonymous: bool = True,
    now: datetime | None = None,
) -> Survey:
    """A draft questionnaire with its questions and invitees (nobody is told yet)."""
    now = now_of(now)
    org = acting_org(actor, org_id, "assessment.manage")
    title = clean_text(title, _("问卷名称"), 200, "title")
    service = clean_text(service, _("服务项目"), 100, "service", required=False)
    if not isinstance(closes_at, datetime) or timezone.is_naive(closes_at) or closes_at <= now:
        raise InvalidInput(_("截止时间须晚于现在。"), code="invalid_closes_at", field="closes_at")
    rows = _questions(questions)
    contract = org_contract(contract_id, org)
    if contract is not None:
        subject_org_id = subject_org_id or contract.vendor_id
    subject = subject_of(subject_org_id, org, contract) if subject_org_id is not None else None
    users = _invitees(int_ids(invitee_ids, "invitee_ids"), org)
    survey = Survey.objects.create(
        org=org,
        title=title,
        subject_org=subject,
        contract=contract,
        service=service,
        anonymous=bool(anonymous),
        closes_at=closes_at,
        created_by=actor,
    )
    SurveyQuestion.objects.bulk_create(SurveyQuestion(survey=survey, **row) for row in rows)
    SurveyInvite.objects.bulk_create(SurveyInvite(survey=survey, user=u) for u in users)
    record(
        "assessment.create_survey",
        actor=actor,
        obj=survey,
        changes={
            **snapshot(
                survey, ["title", "subject_org_id", "contract_id", "anonymous", "closes_at"]
            ),
            "questions": len(rows),
            "invitees": len(users),
        },
    )
    return survey


def _survey_for_manager(actor: Any, survey_id: int, version: int | None) -> Survey:
    survey = (
        Survey.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=survey_id)
        .first()
    )
    if survey is None or not policy.can(actor, "assessment.view", survey.org):
        raise NotFound()
    policy.require(actor, "assessment.manage", survey.org)
    check_version(survey, version)
    return survey


@audited("assessment.open_survey")
def open_survey(
    *, actor: Any, survey_id: int, version: int | None = None, now: datetime | None = None
) -> Survey:
    """Start taking answers and invite the chosen people."""
    now = now_of(now)
    survey = _survey_for_manager(actor, survey_id, version)
    if survey.status != SurveyStatus.DRAFT:
        raise Conflict(_("只有草稿状态的问卷可以发布。"), code="invalid_state")
    if survey.closes_at <= now:
        raise Conflict(_("问卷截止时间已过，请修改后再发布。"), code="closes_in_past")
    survey.status, survey.opens_at = SurveyStatus.OPEN, now
    survey.version += 1
    survey.save(update_fields=["status", "opens_at", "version", "updated_at"])
    record(
        "assessment.open_survey",
        actor=actor,
        obj=survey,
        changes={"status": [SurveyStatus.DRAFT, SurveyStatus.OPEN]},
    )
    _invite(survey, actor)
    return survey


def _invite(survey: Survey, actor: Any) -> None:
    """One notification event per invitee's home org: ``emit`` tells only people whose
    grants reach the event's org, and a department's staff do not reach the centre."""
    invitees = (
        User.objects.filter(
            pk__in=SurveyInvite.objects.filter(survey=survey).values("user_id"), is_active=True
        )
        .select_related("home_org")
        .order_by("home_org_id", "pk")
    )
    by_org: dict[int, list[User]] = defaultdict(list)
    for user in invitees:
        by_org[user.home_org_id].append(user)
    deadline = timezone.localtime(survey.closes_at).strftime("%Y-%m-%d %H:%M")
    for people in by_org.values():
        emit(
            events.SURVEY_INVITED,
            org=people[0].home_org,
            actor=actor,
            recipients=people,
            title=_("满意度调查：%(title)s") % {"title": survey.title},
            body=_("请于 %(deadline)s 前填写。") % {"deadline": deadline},
            link=f"/assessment/surveys/{survey.pk}/respond/",
            object=survey,
            dedupe_key=f"survey:{survey.pk}:invited:{people[0].home_org_id}",
            payload={"anonymous": survey.anonymous},
        )


@audited("assessment.close_survey")
def close_survey(
    *, actor: Any, survey_id: int, version: int | None = None, now: datetime | None = None
) -> Survey:
    """Stop taking answers; closing early moves ``closes_at`` to now (the period the
    results count in follows the real close)."""
    now = now_of(now)
    survey = _survey_for_manager(actor, survey_id, version)
    if survey.status != SurveyStatus.OPEN:
        raise Conflict(_("只有进行中的问卷可以结束。"), code="invalid_state")
    before = snapshot(survey, ["status", "closes_at"])
    survey.status = SurveyStatus.CLOSED
    survey.closes_at = min(survey.closes_at, now)
    survey.version += 1
    survey.save(update_fields=["status", "closes_at", "version", "updated_at"])
    record(
        "assessment.close_survey",
        actor=actor,
        obj=survey,
        changes=diff(before, snapshot(survey, ["status", "closes_at"])),
    )
    return survey


def _answers(questions: list[SurveyQuestion], answers: Any) -> tuple[dict[str, Any], float | None]:
    """Answers keyed by question id (as text), each checked against its question's kind;
    and the mean of the ratings."""
    if not isinstance(answers, Mapping):
        raise InvalidInput(_("答卷格式无效。"), code="invalid_answers", field="answers")
    by_id = {str(q.pk): q for q in questions}
    unknown = sorted(str(k) for k in answers if str(k) not in by_id)
    if unknown:
        raise InvalidInput(
            _("答卷包含不属于本问卷的题目。"), code="unknown_question", field="answers", ids=unknown
        )
    given = {str(k): v for k, v in answers.items()}
    clean: dict[str, Any] = {}
    ratings: list[int] = []
    for qid, q in by_id.items():
        value = given.get(qid)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if q.required:
                raise InvalidInput(
                    _("请回答：%(text)s") % {"text": q.text},
                    code="answer_required",
                    field="answers",
                    question_id=q.pk,
                )
            continue
        if q.kind == QuestionKind.RATING:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise InvalidInput(
                    _("评分须为 1–5 的整数：%(text)s") % {"text": q.text},
                    code="invalid_rating",
                    field="answers",
                    question_id=q.pk,
                )
            ratings.append(value)
        elif q.kind == QuestionKind.CHOICE:
            if value not in q.choices:
                raise InvalidInput(
                    _("请从选项中选择：%(text)s") % {"text": q.text},
                    code="invalid_choice",
                    field="answers",
                    question_id=q.pk,
                )
        elif not isinstance(value, str) or len(value) > MAX_TEXT_ANSWER:
            raise InvalidInput(
                _("文字回答须为不超过 %(n)s 字的文本。") % {"n": MAX_TEXT_ANSWER},
                code="invalid_text",
                field="answers",
                question_id=q.pk,
            )
        clean[qid] = value
    mean = round(sum(ratings) / len(ratings), 4) if ratings else None
    return clean, mean


def _store_response(survey: Survey, respondent: Any, day: date, answers: dict, mean: Any) -> None:
    """Insert under a random id: sequential ids would line up with the order of the
    audit entries and name the respondents of an anonymous survey."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                SurveyResponse.objects.create(
                    id=secrets.randbelow(2**62) + 1,
                    survey=survey,
                    respondent=respondent,
                    submitted_on=day,
                    answers=answers,
                    rating_mean=mean,
                )
            return
        except IntegrityError:  # an id drawn twice (one in 10^18): draw again
            continue
    raise Conflict(_("提交失败，请重试。"), code="retry")


@audited("assessment.respond")
def respond(*, actor: Any, survey_id: int, answers: Any, now: datetime | None = None) -> None:
    """Answer a survey once. Anonymous: the response names nobody, the invite only
    turns ``responded``, and the audit entry names the survey, not the response."""
    now = now_of(now)
    survey = Survey.objects.select_related("org").filter(pk=survey_id).first()
    if survey is None:
        raise NotFound()
    invited = SurveyInvite.objects.filter(survey=survey, user=actor)
    if not invited.exists():
        if not policy.can(actor, "orgs.view", survey.org):
            raise NotFound()
        raise PermissionDenied(_("您不在本次调查的邀请范围内。"), code="not_invited")
    if survey.status == SurveyStatus.DRAFT:
        raise Conflict(_("问卷尚未发布。"), code="survey_not_open")
    if survey.status == SurveyStatus.CLOSED or now >= survey.closes_at:
        raise Conflict(_("问卷已截止。"), code="survey_closed")
    questions = list(survey.questions.all())
    clean, mean = _answers(questions, answers)
    # The conditional update is the once-only guard (two tabs, two devices, a retry).
    if not invited.filter(responded=False).update(responded=True):
        raise Conflict(_("您已提交过本问卷。"), code="already_responded")
    _store_response(
        survey, None if survey.anonymous else actor, timezone.localdate(now), clean, mean
    )
    record("assessment.respond", actor=actor, obj=survey, changes={})


def survey_results(user: Any, survey_id: int) -> dict[str, Any]:
    """Response rate and, per question, the distribution (and mean of ratings); text
    answers sorted, not in submission order. Only ``assessment.manage`` holders at the
    survey's org; an anonymous survey's results name nobody (not even who answered)."""
    survey = Survey.objects.select_related("org", "subject_org").filter(pk=survey_id).first()
    if survey is None or not policy.can(user, "assessment.view", survey.org):
        raise NotFound()
    policy.require(user, "assessment.manage", survey.org)
    questions = list(survey.questions.all())
    counts = SurveyInvite.objects.filter(survey=survey).aggregate(
        invited=Count("pk"), responded=Count("pk", filter=Q(responded=True))
    )
    fields = ["answers"] if survey.anonymous else ["answers", "respondent_id", "submitted_on"]
    responses = list(SurveyResponse.objects.filter(survey=survey).values(*fields))
    per_question = []
    ratings_all = satisfied_all = 0
    for q in questions:
        values = [r["answers"][str(q.pk)] for r in responses if str(q.pk) in r["answers"]]
        row: dict[str, Any] = {
            "id": q.pk,
            "text": q.text,
            "kind": q.kind,
            "required": q.required,
            "answered": len(values),
        }
        if q.kind == QuestionKind.RATING:
            row["distribution"] = {n: values.count(n) for n in range(1, 6)}
            row["mean"] = round(sum(values) / len(values), 2) if values else None
            satisfied = sum(1 for v in values if v >= SATISFIED_FROM)
            row["satisfaction"] = _percent(satisfied, len(values))
            ratings_all += len(values)
            satisfied_all += satisfied
        elif q.kind == QuestionKind.CHOICE:
            row["distribution"] = {c: values.count(c) for c in q.choices}
        else:
            row["answers"] = sorted(values)
        per_question.append(row)
    result: dict[str, Any] = {
        "survey": {
            "id": survey.pk,
            "title": survey.title,
            "status": survey.status,
            "anonymous": survey.anonymous,
            "subject_org": survey.subject_org.name if survey.subject_org else None,
            "service": survey.service,
            "closes_at": survey.closes_at,
        },
        "invited": counts["invited"],
        "responded": counts["responded"],
        "response_rate": rate(counts["responded"], counts["invited"]),
        "satisfaction": _percent(satisfied_all, ratings_all),
        "questions": per_question,
    }
    if not survey.anonymous:
        names = dict(
            User.objects.filter(
                pk__in=[r["respondent_id"] for r in responses if r["respondent_id"]]
            ).values_list("pk", "display_name")
        )
        result["responses"] = [
            {
                "respondent_id": r["respondent_id"],
                "respondent": names.get(r["respondent_id"], ""),
                "submitted_on": r["submitted_on"],
                "answers": r["answers"],
            }
            for r in sorted(responses, key=lambda r: (r["submitted_on"], r["respondent_id"] or 0))
        ]
    return result


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
