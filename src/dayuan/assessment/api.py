"""Assessment API: schemes, contracts, deduction events, runs (create, assign, score,
compute, submit, publish, finalise, appeal, decide, PDF and Excel), the ranking on one
scheme (一盘棋), benefit figures and satisfaction surveys.

Reads go through ``queries`` (an invisible record is a 404, never a 403); writes through
the services (``services``, ``runs``). Updates and transitions take the ``version`` the
client read (409 ``stale_version``). ``Idempotency-Key`` on POSTs is handled by the
middleware.

No ``from __future__ import annotations`` here: query parameters (dates, literals) are
resolved by Ninja outside this module's namespace.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import NotFound

from . import benefit, queries, reports, runs, services
from .choices import ContractStatus, EventType, PeriodKind, ScorerRole, SubjectKind
from .models import Contract, DeductionEvent, Run, Scheme, Survey

router = Router(tags=["assessment"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PeriodKindParam = Literal["month", "quarter", "year"]


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


# --- schemas: schemes and contracts --------------------------------------------------------


class IndicatorOut(Schema):
    id: int
    key: str
    label: str
    sort: str
    source: str
    weight: Decimal
    target: float | None
    floor: float | None
    better: str
    max_score: Decimal | None
    scorer_role: str
    guidance: str
    position: int


class DeductionRuleOut(Schema):
    id: int
    kind: str
    match: str
    points: Decimal
    money: Decimal
    rectify_days: int


class SchemeOut(Schema):
    id: int
    org_id: int
    org_name: str
    code: str
    name: str
    subject_kind: str
    description: str
    pass_line: Decimal
    grades: list[dict[str, Any]]
    max_deduction: Decimal | None
    is_active: bool
    indicators: list[IndicatorOut]
    deduction_rules: list[DeductionRuleOut]
    version: int

    @staticmethod
    def resolve_org_name(obj: Scheme) -> str:
        return obj.org.name

    @staticmethod
    def resolve_indicators(obj: Scheme) -> list[Any]:
        return list(obj.indicators.all())

    @staticmethod
    def resolve_deduction_rules(obj: Scheme) -> list[Any]:
        return list(obj.deduction_rules.all())


class SchemeIn(Schema):
    org_id: int
    code: str = Field(..., min_length=1, max_length=60)
    name: str = Field(..., min_length=1, max_length=100)
    subject_kind: SubjectKind = SubjectKind.CONTRACT
    pass_line: Decimal = Field(Decimal("60"), ge=0, le=100)
    grades: list[dict[str, Any]] = Field(default_factory=list)
    indicators: list[dict[str, Any]] = Field(..., min_length=1)
    deduction_rules: list[dict[str, Any]] = Field(default_factory=list)
    max_deduction: Decimal | None = Field(None, ge=0)
    description: str = Field("", max_length=2000)


class SchemeUpdateIn(SchemeIn):
    version: int


class ContractOut(Schema):
    id: int
    org_id: int
    org_name: str
    vendor_org_id: int
    vendor_name: str
    number: str
    title: str
    status: str
    status_label: str
    categories: list[str]
    location_ids: list[int]
    standard_ids: list[int]
    starts_on: date
    ends_on: date
    monthly_fee: Decimal
    area_m2: Decimal | None
    headcount: int | None
    scheme_id: int
    scheme_name: str
    payment_formula: str
    version: int

    @staticmethod
    def resolve_org_name(obj: Contract) -> str:
        return obj.org.name

    @staticmethod
    def resolve_vendor_org_id(obj: Contract) -> int:
        return obj.vendor_id

    @staticmethod
    def resolve_vendor_name(obj: Contract) -> str:
        return obj.vendor.name

    @staticmethod
    def resolve_status_label(obj: Contract) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_location_ids(obj: Contract) -> list[int]:
        return [loc.pk for loc in obj.locations.all()]

    @staticmethod
    def resolve_standard_ids(obj: Contract) -> list[int]:
        return [s.pk for s in obj.standards.all()]

    @staticmethod
    def resolve_scheme_name(obj: Contract) -> str:
        return obj.scheme.name


class ContractIn(Schema):
    org_id: int
    vendor_id: int
    number: str = Field(..., min_length=1, max_length=40)
    title: str = Field(..., min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    monthly_fee: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    scheme_id: int
    payment_formula: str = Field(..., min_length=1, max_length=2000)
    categories: list[str] = Field(default_factory=list)
    location_ids: list[int] = Field(default_factory=list)
    standard_ids: list[int] = Field(default_factory=list)
    area_m2: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    headcount: int | None = Field(None, ge=0)
    status: ContractStatus = ContractStatus.DRAFT


class ContractUpdateIn(ContractIn):
    version: int


# --- schemas: deduction events -------------------------------------------------------------


class EventOut(Schema):
    id: int
    org_id: int
    subject_org_id: int
    subject_name: str
    contract_id: int | None
    event_type: str
    event_type_label: str
    occurred_at: datetime
    description: str
    rectify_deadline: datetime | None
    created_by_id: int
    created_by_name: str | None
    cancelled: bool

    @staticmethod
    def resolve_subject_name(obj: DeductionEvent) -> str:
        return obj.subject_org.name

    @staticmethod
    def resolve_event_type_label(obj: DeductionEvent) -> str:
        return str(obj.get_event_type_display())

    @staticmethod
    def resolve_created_by_name(obj: DeductionEvent) -> str | None:
        return _name(obj.created_by)


class EventIn(Schema):
    org_id: int
    subject_org_id: int
    event_type: EventType
    occurred_at: datetime
    description: str = Field(..., min_length=1, max_length=1000)
    contract_id: int | None = None
    rectify_days: int | None = Field(None, ge=0, le=365)


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


# --- schemas: runs -------------------------------------------------------------------------


class RunOut(Schema):
    id: int
    org_id: int
    scheme_id: int
    scheme_name: str
    contract_id: int | None
    contract_number: str | None
    subject_org_id: int
    subject_name: str
    period_kind: str
    period_start: date
    period_end: date
    status: str
    status_label: str
    score: Decimal | None
    grade: str
    grade_label: str
    passed: bool | None
    deduction_points: Decimal
    deduction_money: Decimal
    fee: Decimal
    payable: Decimal | None
    inputs_hash: str
    computed_at: datetime | None
    published_at: datetime | None
    finalised_at: datetime | None
    version: int

    @staticmethod
    def resolve_scheme_name(obj: Run) -> str:
        return obj.scheme.name

    @staticmethod
    def resolve_contract_number(obj: Run) -> str | None:
        return obj.contract.number if obj.contract_id else None

    @staticmethod
    def resolve_subject_name(obj: Run) -> str:
        return obj.subject_org.name

    @staticmethod
    def resolve_status_label(obj: Run) -> str:
        return str(obj.get_status_display())


class ScoreOut(Schema):
    id: int
    scorer_id: int | None = Field(description="评分人（仅管理人员与本人可见）")
    scorer_name: str | None
    score: Decimal
    comment: str
    evidence: str
    superseded: bool
    created_at: datetime


class ItemOut(Schema):
    id: int
    key: str
    label: str
    sort: str
    source: str
    scorer_role: str
    max_score: Decimal | None
    guidance: str
    weight: Decimal
    value: float | None
    points: Decimal | None
    detail: dict[str, Any]
    reopened: bool
    scores: list[ScoreOut]


class AssessorOut(Schema):
    id: int
    user_id: int
    user_name: str | None
    role: str
    assigned_at: datetime


class AppealOut(Schema):
    id: int
    item_keys: list[str]
    reason: str
    filed_by_id: int
    filed_by_name: str | None
    status: str
    decided_by_id: int | None
    decided_at: datetime | None
    decision: str
    created_at: datetime


class RunEventOut(Schema):
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    note: str


class RunDetailOut(RunOut):
    """Built by ``_detail``: the run, with what the caller may see of it in ``extra``."""

    payable_working: Any
    items: list[ItemOut]
    deductions: list[dict[str, Any]]
    assessors: list[AssessorOut]
    appeals: list[AppealOut]
    events: list[RunEventOut]
    inputs: dict[str, Any] | None = Field(description="冻结的计算依据（仅管理人员可见）")
    can_manage: bool
    can_appeal: bool
    scorable_items: list[str] = Field(description="当前用户可评分的指标")

    @staticmethod
    def resolve_payable_working(obj: Any) -> Any:
        return obj.extra["payable_working"]

    @staticmethod
    def resolve_items(obj: Any) -> Any:
        return obj.extra["items"]

    @staticmethod
    def resolve_deductions(obj: Any) -> Any:
        return obj.extra["deductions"]

    @staticmethod
    def resolve_assessors(obj: Any) -> Any:
        return obj.extra["assessors"]

    @staticmethod
    def resolve_appeals(obj: Any) -> Any:
        return obj.extra["appeals"]

    @staticmethod
    def resolve_events(obj: Any) -> Any:
        return obj.extra["events"]

    @staticmethod
    def resolve_inputs(obj: Any) -> Any:
        return obj.extra["inputs"]

    @staticmethod
    def resolve_can_manage(obj: Any) -> Any:
        return obj.extra["can_manage"]

    @staticmethod
    def resolve_can_appeal(obj: Any) -> Any:
        return obj.extra["can_appeal"]

    @staticmethod
    def resolve_scorable_items(obj: Any) -> Any:
        return obj.extra["scorable_items"]


class RunIn(Schema):
    scheme_id: int
    period_kind: PeriodKind
    period_start: date
    contract_id: int | None = None
    subject_org_id: int | None = None


class RunBatchIn(Schema):
    org_id: int
    period_kind: PeriodKind
    period_start: date


class VersionIn(Schema):
    version: int | None = None


class AssignAssessorIn(Schema):
    user_id: int
    role: ScorerRole = ScorerRole.ASSESSOR


class ScoreIn(Schema):
    item_key: str = Field(..., min_length=1, max_length=40)
    score: Decimal = Field(..., ge=0, max_digits=6, decimal_places=2)
    comment: str = Field("", max_length=1000)
    evidence: str = Field("", max_length=2000)


class AppealIn(Schema):
    item_keys: list[str] = Field(..., min_length=1)
    reason: str = Field(..., min_length=1, max_length=2000)


class DecideIn(Schema):
    upheld: bool
    decision: str = Field(..., min_length=1, max_length=2000)


class RankingRowOut(Schema):
    rank: int | None
    run_id: int
    org_id: int
    subject_org_id: int
    subject_name: str
    contract_id: int | None
    contract_number: str | None
    status: str
    score: Decimal | None
    grade: str
    grade_label: str
    passed: bool | None
    deduction_points: Decimal
    deduction_money: Decimal
    fee: Decimal
    payable: Decimal | None


# --- schemas: surveys ----------------------------------------------------------------------


class QuestionOut(Schema):
    id: int
    text: str
    kind: str
    choices: list[Any]
    required: bool
    position: int


class SurveyOut(Schema):
    id: int
    org_id: int
    title: str
    subject_org_id: int | None
    subject_name: str | None
    contract_id: int | None
    service: str
    anonymous: bool
    status: str
    status_label: str
    opens_at: datetime | None
    closes_at: datetime
    invited: bool = Field(description="当前用户是否受邀")
    responded: bool = Field(description="当前用户是否已作答")
    version: int

    @staticmethod
    def resolve_subject_name(obj: Survey) -> str | None:
        return obj.subject_org.name if obj.subject_org_id else None

    @staticmethod
    def resolve_status_label(obj: Survey) -> str:
        return str(obj.get_status_display())


class SurveyDetailOut(SurveyOut):
    questions: list[QuestionOut]

    @staticmethod
    def resolve_questions(obj: Survey) -> list[Any]:
        return list(obj.questions.all())


class SurveyIn(Schema):
    org_id: int
    title: str = Field(..., min_length=1, max_length=200)
    closes_at: datetime
    questions: list[dict[str, Any]] = Field(..., min_length=1)
    invitee_ids: list[int] = Field(..., min_length=1)
    subject_org_id: int | None = None
    contract_id: int | None = None
    service: str = Field("", max_length=100)
    anonymous: bool = True


class RespondIn(Schema):
    answers: dict[str, Any]


# --- helpers -------------------------------------------------------------------------------


def _score_row(s: Any, show_scorer: bool) -> dict[str, Any]:
    return {
        "id": s.pk,
        "scorer_id": s.scorer_id if show_scorer else None,
        "scorer_name": _name(s.scorer) if show_scorer else None,
        "score": s.score,
        "comment": s.comment,
        "evidence": s.evidence,
        "superseded": s.superseded,
        "created_at": s.created_at,
    }


HIDDEN_DETAIL = ("scorers", "scorer_ids", "scores")


def _item_row(item: Any, manager: bool, user: Any) -> dict[str, Any]:
    ind = item.indicator
    detail = item.detail or {}
    if not manager:
        detail = {k: v for k, v in detail.items() if k not in HIDDEN_DETAIL}
    return {
        "id": item.pk,
        "key": item.key,
        "label": ind.label,
        "sort": item.sort,
        "source": ind.source,
        "scorer_role": ind.scorer_role,
        "max_score": ind.max_score,
        "guidance": ind.guidance,
        "weight": item.weight,
        "value": item.value,
        "points": item.points,
        "detail": detail,
        "reopened": item.reopened,
        "scores": [_score_row(s, manager or s.scorer_id == user.pk) for s in item.score_list],
    }


SCORABLE = ("draft", "computed", "review")


def _detail(user: Any, run_id: int) -> Run:
    d = queries.run_detail(user, run_id)
    r: Run = d["run"]
    acc = d["access"]
    reopened = r.status == "appealed"
    scorable = []
    if acc.assessor_role or acc.manager:
        for item in d["items"]:
            role = item.indicator.scorer_role
            if item.sort != "scored":
                continue
            if not (r.status in SCORABLE or (reopened and item.reopened)):
                continue
            if acc.assessor_role == role or (acc.manager and role in ("", "manager")):
                scorable.append(item.key)
    r.extra = dict(
        payable_working=r.payable_working if (acc.manager or acc.subject) else None,
        items=[_item_row(i, acc.manager, user) for i in d["items"]],
        deductions=d["deductions"],
        assessors=[
            {
                "id": a.pk,
                "user_id": a.user_id,
                "user_name": _name(a.user),
                "role": a.role,
                "assigned_at": a.assigned_at,
            }
            for a in d["assessors"]
        ],
        appeals=[
            {
                "id": a.pk,
                "item_keys": list(a.item_keys or []),
                "reason": a.reason,
                "filed_by_id": a.filed_by_id,
                "filed_by_name": _name(a.filed_by),
                "status": a.status,
                "decided_by_id": a.decided_by_id,
                "decided_at": a.decided_at,
                "decision": a.decision,
                "created_at": a.created_at,
            }
            for a in d["appeals"]
        ],
        events=[
            {
                "at": e.at,
                "actor_id": e.actor_id,
                "actor_name": _name(e.actor),
                "action": e.action,
                "note": e.note,
            }
            for e in d["events"]
        ],
        inputs=r.inputs if acc.manager else None,
        can_manage=r.org_id in set(queries.managed_org_ids(user)),
        can_appeal=acc.subject and r.status == "published",
        scorable_items=scorable,
    )
    return r


def _file(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- schemes -------------------------------------------------------------------------------


@router.get("/assessment/schemes", response=list[SchemeOut])
@paginate(Page)
def list_schemes(request: HttpRequest, org_id: int | None = None, subject_kind: str | None = None):
    """The schemes of the caller's centres and of the centres above them."""
    return queries.scheme_list(request.auth, org_id=org_id, subject_kind=subject_kind)


@router.get("/assessment/schemes/{int:scheme_id}", response={200: SchemeOut, 404: ErrorOut})
def get_scheme(request: HttpRequest, scheme_id: int):
    return queries.scheme(request.auth, scheme_id)


def _scheme_data(payload: SchemeIn) -> dict[str, Any]:
    return payload.dict() | {"subject_kind": payload.subject_kind.value}


@router.post("/assessment/schemes", response={201: SchemeOut, **ERRORS})
def create_scheme(request: HttpRequest, payload: SchemeIn):
    """A scheme: indicators (weights sum to 100), deduction rules, grades, pass line."""
    s = services.save_scheme(actor=request.auth, **_scheme_data(payload))
    return Status(201, queries.scheme(request.auth, s.pk))


@router.put("/assessment/schemes/{int:scheme_id}", response={200: SchemeOut, **ERRORS})
def update_scheme(request: HttpRequest, scheme_id: int, payload: SchemeUpdateIn):
    queries.scheme(request.auth, scheme_id)
    services.save_scheme(actor=request.auth, scheme_id=scheme_id, **_scheme_data(payload))
    return queries.scheme(request.auth, scheme_id)


# --- contracts -----------------------------------------------------------------------------


@router.get("/assessment/contracts", response=list[ContractOut])
@paginate(Page)
def list_contracts(
    request: HttpRequest,
    org_id: int | None = None,
    vendor_id: int | None = None,
    status: str | None = None,
    scheme_id: int | None = None,
):
    return queries.contract_list(
        request.auth, org_id=org_id, vendor_id=vendor_id, status=status, scheme_id=scheme_id
    )


@router.get("/assessment/contracts/{int:contract_id}", response={200: ContractOut, 404: ErrorOut})
def get_contract(request: HttpRequest, contract_id: int):
    return queries.contract(request.auth, contract_id)


def _contract_data(payload: ContractIn) -> dict[str, Any]:
    return payload.dict() | {"status": payload.status.value}


@router.post("/assessment/contracts", response={201: ContractOut, **ERRORS})
def create_contract(request: HttpRequest, payload: ContractIn):
    c = services.save_contract(actor=request.auth, **_contract_data(payload))
    return Status(201, queries.contract(request.auth, c.pk))


@router.put("/assessment/contracts/{int:contract_id}", response={200: ContractOut, **ERRORS})
def update_contract(request: HttpRequest, contract_id: int, payload: ContractUpdateIn):
    queries.contract(request.auth, contract_id)
    services.save_contract(actor=request.auth, contract_id=contract_id, **_contract_data(payload))
    return queries.contract(request.auth, contract_id)


# --- deduction events ----------------------------------------------------------------------


@router.get("/assessment/events", response=list[EventOut])
@paginate(Page)
def list_events(
    request: HttpRequest,
    org_id: int | None = None,
    subject_org_id: int | None = None,
    contract_id: int | None = None,
    event_type: str | None = None,
    cancelled: bool | None = None,
):
    return queries.event_list(
        request.auth,
        org_id=org_id,
        subject_org_id=subject_org_id,
        contract_id=contract_id,
        event_type=event_type,
        cancelled=cancelled,
    )


@router.post("/assessment/events", response={201: EventOut, **ERRORS})
def record_event(request: HttpRequest, payload: EventIn):
    """Record an event that costs points or money (通报批评, 媒体曝光 …)."""
    data = payload.dict() | {"event_type": payload.event_type.value}
    ev = services.record_event(actor=request.auth, **data)
    return Status(201, queries.event(request.auth, ev.pk))


@router.post("/assessment/events/{int:event_id}/cancel", response={200: EventOut, **ERRORS})
def cancel_event(request: HttpRequest, event_id: int, payload: ReasonIn):
    queries.event(request.auth, event_id)
    services.cancel_event(actor=request.auth, event_id=event_id, reason=payload.reason)
    return queries.event(request.auth, event_id)


# --- runs ----------------------------------------------------------------------------------


@router.get("/assessment/runs", response=list[RunOut])
@paginate(Page)
def list_runs(
    request: HttpRequest,
    status: str | None = None,
    org_id: int | None = None,
    scheme_id: int | None = None,
    contract_id: int | None = None,
    subject_org_id: int | None = None,
    period_kind: PeriodKindParam | None = None,
    since: date | None = None,
    until: date | None = None,
):
    """Newest period first; ``since``/``until`` bound the period's start."""
    return queries.run_list(
        request.auth,
        status=status,
        org_id=org_id,
        scheme_id=scheme_id,
        contract_id=contract_id,
        subject_org_id=subject_org_id,
        period_kind=period_kind,
        since=since,
        until=until,
    )


@router.post("/assessment/runs", response={201: RunDetailOut, **ERRORS})
def create_run(request: HttpRequest, payload: RunIn):
    """One run: a contract's (``contract_id``) or an org's (``subject_org_id``)."""
    data = payload.dict() | {"period_kind": payload.period_kind.value}
    r = runs.create_run(actor=request.auth, **data)
    return Status(201, _detail(request.auth, r.pk))


@router.post("/assessment/runs/batch", response={201: list[RunOut], **ERRORS})
def create_runs(request: HttpRequest, payload: RunBatchIn):
    """The runs of every active contract (and assessed org) of ``org_id`` for the period
    (existing ones are returned as they are)."""
    data = payload.dict() | {"period_kind": payload.period_kind.value}
    made = runs.create_runs(actor=request.auth, **data)
    ids = [r.pk for r in made]
    return Status(201, list(queries.run_list(request.auth).filter(pk__in=ids)))


@router.get("/assessment/runs/{int:run_id}", response={200: RunDetailOut, 404: ErrorOut})
def get_run(request: HttpRequest, run_id: int):
    """The run with its items, scores, deductions, appeals and history, as far as the
    caller may see them (an assessor: the items they score and their own scores)."""
    return _detail(request.auth, run_id)


@router.post("/assessment/runs/{int:run_id}/assessors", response={201: RunDetailOut, **ERRORS})
def assign_assessor(request: HttpRequest, run_id: int, payload: AssignAssessorIn):
    queries.run(request.auth, run_id)
    runs.assign_assessor(
        actor=request.auth, run_id=run_id, user_id=payload.user_id, role=payload.role.value
    )
    return Status(201, _detail(request.auth, run_id))


@router.post("/assessment/runs/{int:run_id}/scores", response={200: RunDetailOut, **ERRORS})
def score_item(request: HttpRequest, run_id: int, payload: ScoreIn):
    """Score one scored item (again: replaces the caller's own score)."""
    queries.run(request.auth, run_id)
    runs.score_item(actor=request.auth, run_id=run_id, **payload.dict())
    return _detail(request.auth, run_id)


def _transition(fn: Any, request: HttpRequest, run_id: int, payload: VersionIn) -> Any:
    queries.run(request.auth, run_id)
    fn(actor=request.auth, run_id=run_id, version=payload.version)
    return _detail(request.auth, run_id)


@router.post("/assessment/runs/{int:run_id}/compute", response={200: RunDetailOut, **ERRORS})
def compute(request: HttpRequest, run_id: int, payload: VersionIn):
    """Collect and freeze the inputs, then score, grade and price the run."""
    return _transition(runs.compute, request, run_id, payload)


@router.post("/assessment/runs/{int:run_id}/submit", response={200: RunDetailOut, **ERRORS})
def submit(request: HttpRequest, run_id: int, payload: VersionIn):
    return _transition(runs.submit_for_review, request, run_id, payload)


@router.post("/assessment/runs/{int:run_id}/publish", response={200: RunDetailOut, **ERRORS})
def publish(request: HttpRequest, run_id: int, payload: VersionIn):
    return _transition(runs.publish, request, run_id, payload)


@router.post("/assessment/runs/{int:run_id}/finalise", response={200: RunDetailOut, **ERRORS})
def finalise(request: HttpRequest, run_id: int, payload: VersionIn):
    return _transition(runs.finalise, request, run_id, payload)


@router.post("/assessment/runs/{int:run_id}/appeals", response={201: RunDetailOut, **ERRORS})
def appeal(request: HttpRequest, run_id: int, payload: AppealIn):
    """The assessed party contests named items of a published run."""
    queries.run(request.auth, run_id)
    runs.appeal(actor=request.auth, run_id=run_id, **payload.dict())
    return Status(201, _detail(request.auth, run_id))


@router.post("/assessment/appeals/{int:appeal_id}/decide", response={200: RunDetailOut, **ERRORS})
def decide_appeal(request: HttpRequest, appeal_id: int, payload: DecideIn):
    """Uphold (reopens the named items) or dismiss (the run becomes final)."""
    from .models import Appeal

    run_id = Appeal.objects.filter(pk=appeal_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise NotFound()
    queries.run(request.auth, run_id)
    runs.decide_appeal(actor=request.auth, appeal_id=appeal_id, **payload.dict())
    return _detail(request.auth, run_id)


@router.get("/assessment/runs/{int:run_id}/pdf", response={200: None, 404: ErrorOut})
def run_pdf(request: HttpRequest, run_id: int):
    """The run's report as a PDF (Chinese, A4)."""
    detail = queries.run_detail(request.auth, run_id)
    return _file(reports.run_pdf(detail), "application/pdf", f"assessment-{run_id}.pdf")


@router.get("/assessment/runs/{int:run_id}/xlsx", response={200: None, 404: ErrorOut})
def run_xlsx(request: HttpRequest, run_id: int):
    """The run as an Excel workbook: summary, items, deductions, ranking."""
    detail = queries.run_detail(request.auth, run_id)
    r = detail["run"]
    rows = queries.ranking(request.auth, r.scheme_id, r.period_kind, r.period_start)
    return _file(reports.run_xlsx(detail, rows), XLSX, f"assessment-{run_id}.xlsx")


@router.get("/assessment/ranking", response={200: list[RankingRowOut], 404: ErrorOut})
def ranking(request: HttpRequest, scheme_id: int, period_kind: PeriodKindParam, period_start: date):
    """The subjects assessed on one scheme for one period, best first (一盘棋)."""
    return queries.ranking(request.auth, scheme_id, period_kind, period_start)


@router.get("/assessment/benefit", response={200: dict, 404: ErrorOut, 422: ErrorOut})
def benefit_comparison(
    request: HttpRequest,
    since: date | None = None,
    until: date | None = None,
    period_kind: PeriodKindParam | None = None,
    anchor: date | None = None,
    count: int = 1,
    org_id: int | None = None,
):
    """Cost per work order, per m², per person (per meal: none yet) by contract, vendor
    and county centre: for ``since``–``until``, or ``count`` periods of ``period_kind``
    ending with the one holding ``anchor`` (today); default the last three months."""
    periods = None
    if period_kind is not None:
        periods = benefit.periods(period_kind, anchor or timezone.localdate(), count)
    return benefit.comparison(
        request.auth, since=since, until=until, periods=periods, org_id=org_id
    )


# --- surveys -------------------------------------------------------------------------------


@router.get("/assessment/surveys", response=list[SurveyOut])
@paginate(Page)
def list_surveys(
    request: HttpRequest,
    status: str | None = None,
    org_id: int | None = None,
    subject_org_id: int | None = None,
):
    """Managers: their centres' surveys; everyone: the surveys they are invited to."""
    return queries.survey_list(
        request.auth, status=status, org_id=org_id, subject_org_id=subject_org_id
    )


@router.post("/assessment/surveys", response={201: SurveyDetailOut, **ERRORS})
def create_survey(request: HttpRequest, payload: SurveyIn):
    s = services.create_survey(actor=request.auth, **payload.dict())
    return Status(201, queries.survey(request.auth, s.pk))


@router.get("/assessment/surveys/{int:survey_id}", response={200: SurveyDetailOut, 404: ErrorOut})
def get_survey(request: HttpRequest, survey_id: int):
    return queries.survey(request.auth, survey_id)


@router.post("/assessment/surveys/{int:survey_id}/open", response={200: SurveyDetailOut, **ERRORS})
def open_survey(request: HttpRequest, survey_id: int, payload: VersionIn):
    queries.survey(request.auth, survey_id)
    services.open_survey(actor=request.auth, survey_id=survey_id, version=payload.version)
    return queries.survey(request.auth, survey_id)


@router.post("/assessment/surveys/{int:survey_id}/close", response={200: SurveyDetailOut, **ERRORS})
def close_survey(request: HttpRequest, survey_id: int, payload: VersionIn):
    queries.survey(request.auth, survey_id)
    services.close_survey(actor=request.auth, survey_id=survey_id, version=payload.version)
    return queries.survey(request.auth, survey_id)


@router.post(
    "/assessment/surveys/{int:survey_id}/respond", response={200: SurveyDetailOut, **ERRORS}
)
def respond(request: HttpRequest, survey_id: int, payload: RespondIn):
    """Answer once (question id → value); an anonymous answer names nobody."""
    queries.survey(request.auth, survey_id)
    services.respond(actor=request.auth, survey_id=survey_id, answers=payload.answers)
    return queries.survey(request.auth, survey_id)


@router.get(
    "/assessment/surveys/{int:survey_id}/results",
    response={200: dict, **ERRORS},
)
def survey_results(request: HttpRequest, survey_id: int):
    """Response rate and per-question results (managers of the survey's centre)."""
    queries.survey(request.auth, survey_id)
    return services.survey_results(request.auth, survey_id)
