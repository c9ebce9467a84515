"""Scoped reads of schemes, contracts, deduction events, runs and surveys.

Who sees what (one condition per model, used by every list, page, report and API):

- managers — holders of ``assessment.view`` at the record's org or an ancestor — see
  it all (schemes: also the schemes of the centres above them, which they may use);
- a vendor's (or an assessed unit's) own people — holders of ``assessment.appeal`` at
  the subject org — see their contracts, the deduction events against them and their
  runs once published (published, appealed, final), never a draft or one under review;
- a third-party assessor sees only the runs they are assigned to (``RunAssessor``)
  and, of those, the items they may score and their own scores;
- an invited user sees the surveys they are invited to once opened.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns plus, for assignments and invitations, an
``EXISTS`` on one indexed row: no joins, no DISTINCT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scope_paths, scoped_org_ids
from dayuan.core.tree import subtree_ids
from dayuan.orgs.models import Organization

from .choices import IndicatorSort, RunStatus, SurveyStatus
from .models import (
    Appeal,
    Contract,
    DeductionEvent,
    ItemScore,
    Run,
    RunAssessor,
    RunEvent,
    RunItem,
    Scheme,
    Survey,
    SurveyInvite,
)

#: the states in which the assessed party sees its run
SUBJECT_VISIBLE = (RunStatus.PUBLISHED, RunStatus.APPEALED, RunStatus.FINAL)
RANKING_MAX = 1000


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def manager_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` sees every assessment record (``assessment.view``)."""
    return scoped_org_ids(user, ACTIONS["assessment.view"]) if _active(user) else []


def managed_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` manages schemes, contracts and runs (``assessment.manage``)."""
    return scoped_org_ids(user, ACTIONS["assessment.manage"]) if _active(user) else []


def subject_org_ids(user: Any) -> list[int]:
    """Orgs for which ``user`` answers as the assessed party (``assessment.appeal``)."""
    return scoped_org_ids(user, ACTIONS["assessment.appeal"]) if _active(user) else []


def _ancestor_ids(user: Any, action: str) -> list[int]:
    """The orgs above the user's ``action`` grants (their schemes are usable below)."""
    paths = scope_paths(user, ACTIONS[action]) if _active(user) else []
    prefixes = {p[:i] for p in paths for i in range(len(p)) if p[i - 1 : i] == "."}
    if not prefixes:
        return []
    return list(Organization.objects.filter(path__in=prefixes).values_list("pk", flat=True))


# --- visibility conditions ---------------------------------------------------------------


def scheme_visibility(user: Any) -> Q:
    ids = manager_org_ids(user)
    if not ids:
        return Q(pk__in=[])
    return Q(org_id__in=ids + _ancestor_ids(user, "assessment.view"))


def contract_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(Exists(RunAssessor.objects.filter(user=user, run__contract_id=OuterRef("pk"))))
    if ids := manager_org_ids(user):
        cond |= Q(org_id__in=ids)
    if ids := subject_org_ids(user):
        cond |= Q(vendor_id__in=ids)
    return cond


def event_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(pk__in=[])
    if ids := manager_org_ids(user):
        cond |= Q(org_id__in=ids)
    if ids := subject_org_ids(user):
        cond |= Q(subject_org_id__in=ids)
    return cond


def _assigned(user: Any) -> Q:
    return Q(Exists(RunAssessor.objects.filter(user=user, run_id=OuterRef("pk"))))


def run_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = _assigned(user)
    if ids := manager_org_ids(user):
        cond |= Q(org_id__in=ids)
    if ids := subject_org_ids(user):
        cond |= Q(subject_org_id__in=ids, status__in=SUBJECT_VISIBLE)
    return cond


def survey_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    invited = SurveyInvite.objects.filter(user=user, survey_id=OuterRef("pk"))
    cond = Q(Exists(invited)) & ~Q(status=SurveyStatus.DRAFT)
    if ids := manager_org_ids(user):
        cond |= Q(org_id__in=ids)
    return cond


def schemes(user: Any) -> QuerySet[Scheme]:
    return Scheme.objects.filter(scheme_visibility(user))


def contracts(user: Any) -> QuerySet[Contract]:
    return Contract.objects.filter(contract_visibility(user))


def events(user: Any) -> QuerySet[DeductionEvent]:
    return DeductionEvent.objects.filter(event_visibility(user))


def runs(user: Any) -> QuerySet[Run]:
    return Run.objects.filter(run_visibility(user))


def surveys(user: Any) -> QuerySet[Survey]:
    return Survey.objects.filter(survey_visibility(user))


# --- lists -------------------------------------------------------------------------------


def _in_subtree(qs: QuerySet, field: str, pk: int) -> QuerySet:
    ids = subtree_ids(Organization, pk)
    return qs.none() if ids is None else qs.filter(**{f"{field}__in": ids})


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def scheme_list(
    user: Any, *, org_id: int | None = None, subject_kind: str | None = None
) -> QuerySet[Scheme]:
    qs = schemes(user)
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    if subject_kind:
        qs = qs.filter(subject_kind=subject_kind)
    return (
        qs.select_related("org")
        .prefetch_related("indicators", "deduction_rules")
        .order_by("code", "id")
    )


def scheme(user: Any, pk: int) -> Scheme:
    return _one(
        schemes(user).select_related("org").prefetch_related("indicators", "deduction_rules"), pk
    )


CONTRACT_RELATED = ("org", "vendor", "scheme")


def contract_list(
    user: Any,
    *,
    org_id: int | None = None,
    vendor_id: int | None = None,
    status: str | None = None,
    scheme_id: int | None = None,
) -> QuerySet[Contract]:
    qs = contracts(user)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", org_id)
    if vendor_id is not None:
        qs = qs.filter(vendor_id=vendor_id)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if scheme_id is not None:
        qs = qs.filter(scheme_id=scheme_id)
    return (
        qs.select_related(*CONTRACT_RELATED)
        .prefetch_related("locations", "standards")
        .order_by("-starts_on", "number", "id")
    )


def contract(user: Any, pk: int) -> Contract:
    return _one(
        contracts(user)
        .select_related(*CONTRACT_RELATED)
        .prefetch_related("locations", "standards"),
        pk,
    )


EVENT_RELATED = ("org", "subject_org", "contract", "created_by")


def event_list(
    user: Any,
    *,
    org_id: int | None = None,
    subject_org_id: int | None = None,
    contract_id: int | None = None,
    event_type: str | None = None,
    cancelled: bool | None = None,
) -> QuerySet[DeductionEvent]:
    qs = events(user)
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", org_id)
    if subject_org_id is not None:
        qs = qs.filter(subject_org_id=subject_org_id)
    if contract_id is not None:
        qs = qs.filter(contract_id=contract_id)
    if event_type:
        qs = qs.filter(event_type__in=event_type.split(","))
    if cancelled is not None:
        qs = qs.filter(cancelled=cancelled)
    return qs.select_related(*EVENT_RELATED).order_by("-occurred_at", "-id")


def event(user: Any, pk: int) -> DeductionEvent:
    return _one(events(user).select_related(*EVENT_RELATED), pk)


RUN_RELATED = ("org", "scheme", "contract", "subject_org")


def run_list(
    user: Any,
    *,
    status: str | None = None,
    org_id: int | None = None,
    scheme_id: int | None = None,
    contract_id: int | None = None,
    subject_org_id: int | None = None,
    period_kind: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[Run]:
    """Newest period first; ``since``/``until`` bound the period's start."""
    qs = runs(user)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", org_id)
    if scheme_id is not None:
        qs = qs.filter(scheme_id=scheme_id)
    if contract_id is not None:
        qs = qs.filter(contract_id=contract_id)
    if subject_org_id is not None:
        qs = qs.filter(subject_org_id=subject_org_id)
    if period_kind:
        qs = qs.filter(period_kind=period_kind)
    if since is not None:
        qs = qs.filter(period_start__gte=since)
    if until is not None:
        qs = qs.filter(period_start__lte=until)
    return qs.select_related(*RUN_RELATED).order_by("-period_start", "subject_org_id", "id")


def run(user: Any, pk: int) -> Run:
    return _one(runs(user).select_related(*RUN_RELATED), pk)


# --- run detail ----------------------------------------------------------------------------


@dataclass
class Access:
    """How the user stands to one run."""

    manager: bool  # assessment.view at the run's org
    subject: bool  # answers for the assessed party (and the run is published)
    assessor_role: str | None  # the role of the user's assignment, if any

    @property
    def assessor_only(self) -> bool:
        return not self.manager and not self.subject and self.assessor_role is not None


def access(user: Any, r: Run) -> Access:
    assigned = (
        RunAssessor.objects.filter(run=r, user=user).values_list("role", flat=True).first()
        if _active(user)
        else None
    )
    return Access(
        manager=r.org_id in set(manager_org_ids(user)),
        subject=r.status in SUBJECT_VISIBLE and r.subject_org_id in set(subject_org_ids(user)),
        assessor_role=assigned,
    )


def run_detail(user: Any, pk: int) -> dict[str, Any]:
    """A run with its items, scores, deductions, assessors, appeals and events, as far as
    the user may see them (a fixed number of queries):

    - managers see everything;
    - the assessed party sees the items and the scores (not who gave them), the
      deductions, its appeals and the events;
    - an assessor sees the scored items of their role and their own scores only.
    """
    r = run(user, pk)
    acc = access(user, r)
    items = list(
        RunItem.objects.filter(run=r)
        .select_related("indicator")
        .order_by("indicator__position", "id")
    )
    scores = (
        ItemScore.objects.filter(item__run=r)
        .select_related("scorer")
        .order_by("item_id", "created_at", "id")
    )
    if acc.assessor_only:
        items = [
            i
            for i in items
            if i.sort == IndicatorSort.SCORED and i.indicator.scorer_role == acc.assessor_role
        ]
        scores = scores.filter(scorer=user)
    by_item: dict[int, list[ItemScore]] = {}
    for s in scores:
        by_item.setdefault(s.item_id, []).append(s)
    for i in items:
        i.score_list = by_item.get(i.pk, [])
    full = acc.manager or acc.subject
    return {
        "run": r,
        "access": acc,
        "items": items,
        "deductions": deductions_of(r) if full else [],
        "assessors": (
            list(RunAssessor.objects.filter(run=r).select_related("user").order_by("id"))
            if acc.manager
            else []
        ),
        "appeals": (
            list(Appeal.objects.filter(run=r).select_related("filed_by", "decided_by"))
            if full
            else []
        ),
        "events": (
            list(RunEvent.objects.filter(run=r).select_related("actor").order_by("at", "id"))
            if full
            else []
        ),
    }


def deductions_of(r: Run) -> list[dict[str, Any]]:
    """The deductions frozen in the run's inputs (each matched finding or event with the
    rule's points and money), as the engine recorded them."""
    raw = (r.inputs or {}).get("deductions") or []
    if isinstance(raw, dict):  # keyed by rule or match
        raw = raw.get("matches") or raw.get("items") or list(raw.values())
    out = []
    for d in raw:
        if isinstance(d, dict):
            out.append(d)
    return out


# --- surveys -------------------------------------------------------------------------------


def survey_list(
    user: Any,
    *,
    status: str | None = None,
    org_id: int | None = None,
    subject_org_id: int | None = None,
) -> QuerySet[Survey]:
    qs = surveys(user)
    if status:
        qs = qs.filter(status__in=status.split(","))
    if org_id is not None:
        qs = _in_subtree(qs, "org_id", org_id)
    if subject_org_id is not None:
        qs = qs.filter(subject_org_id=subject_org_id)
    invite = SurveyInvite.objects.filter(survey_id=OuterRef("pk"), user=user)
    return (
        qs.select_related("org", "subject_org", "contract")
        .annotate(
            invited=Exists(invite),
            responded=Exists(invite.filter(responded=True)),
        )
        .order_by("-closes_at", "-id")
    )


def survey(user: Any, pk: int) -> Survey:
    return _one(survey_list(user).prefetch_related("questions"), pk)


def is_survey_manager(user: Any, s: Survey) -> bool:
    return s.org_id in set(manager_org_ids(user))


# --- ranking (一盘棋) --------------------------------------------------------------------


def ranking(
    user: Any, scheme_id: int, period_kind: str, period_start: date
) -> list[dict[str, Any]]:
    """The subjects assessed on one scheme for one period, best first (those not yet
    computed last), among the runs the user may see: one query whatever the number.

    Ties share a rank (1, 2, 2, 4)."""
    qs = (
        runs(user)
        .filter(scheme_id=scheme_id, period_kind=period_kind, period_start=period_start)
        .select_related("subject_org", "contract", "org")
        .order_by(F("score").desc(nulls_last=True), "subject_org__name", "id")
    )
    rows: list[dict[str, Any]] = []
    rank = 0
    previous: Any = object()
    for i, r in enumerate(qs[:RANKING_MAX], start=1):
        if r.score is None:
            position = None
        else:
            if r.score != previous:
                rank = i
                previous = r.score
            position = rank
        rows.append(
            {
                "rank": position,
                "run_id": r.pk,
                "org_id": r.org_id,
                "subject_org_id": r.subject_org_id,
                "subject_name": r.subject_org.name,
                "contract_id": r.contract_id,
                "contract_number": r.contract.number if r.contract_id else None,
                "status": r.status,
                "score": r.score,
                "grade": r.grade,
                "grade_label": r.grade_label,
                "passed": r.passed,
                "deduction_points": r.deduction_points,
                "deduction_money": r.deduction_money,
                "fee": r.fee,
                "payable": r.payable,
            }
        )
    return rows
