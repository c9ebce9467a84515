"""Inspections API: assets and plan assignments, occurrences, inspections (start, draft,
photos, submit, cancel), findings, rectification orders, the clause trace and the
dashboard.

Reads go through ``queries`` (an invisible record is a 404, never a 403); writes through
the services. Updates take the ``version`` the client read (409 ``stale_version``).
``Idempotency-Key`` on POSTs is handled by the middleware; starting an inspection is
also idempotent by its ``client_key``. Photos are served through views that check the
record is visible (never public MEDIA URLs).

No ``from __future__ import annotations`` here: paginated endpoints' query parameters
(dates, literals) are resolved by Ninja outside this module's namespace.
"""

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.files import private_file as _serve

from . import queries, rectification, reports, services
from .choices import FindingSource, InspectionKind, Verdict
from .models import (
    Asset,
    Finding,
    FindingPhoto,
    Inspection,
    InspectionPhoto,
    PlanAssignment,
    PlanOccurrence,
    Rectification,
    RectificationPhoto,
)

router = Router(tags=["inspections"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_DAYS = 366  # the longest dashboard period
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


# --- schemas: plans --------------------------------------------------------------------


class AssetOut(Schema):
    id: int
    org_id: int
    location_id: int
    location_name: str
    asset_type: str
    name: str
    code: str
    is_active: bool
    version: int

    @staticmethod
    def resolve_location_name(obj: Asset) -> str:
        return obj.location.name


class AssetIn(Schema):
    org_id: int
    location_id: int
    asset_type: str = Field(..., min_length=1, max_length=60)
    name: str = Field(..., min_length=1, max_length=100)
    code: str = Field("", max_length=40)


class AssetUpdateIn(AssetIn):
    version: int
    is_active: bool | None = Field(None, description="停用或重新启用；不传则不变")


class AssignmentOut(Schema):
    id: int
    org_id: int
    activity: str
    location_id: int | None
    team_id: int | None
    team_name: str | None
    inspector_id: int | None
    inspector_name: str | None
    vendor_id: int | None
    vendor_name: str | None
    checklist_code: str
    kind: str
    is_active: bool
    version: int

    @staticmethod
    def resolve_team_name(obj: PlanAssignment) -> str | None:
        return obj.team.name if obj.team_id else None

    @staticmethod
    def resolve_inspector_name(obj: PlanAssignment) -> str | None:
        return _name(obj.inspector) if obj.inspector_id else None

    @staticmethod
    def resolve_vendor_name(obj: PlanAssignment) -> str | None:
        return obj.vendor.name if obj.vendor_id else None


class AssignmentIn(Schema):
    org_id: int
    activity: str = Field(..., min_length=1, max_length=60)
    location_id: int | None = None
    team_id: int | None = None
    inspector_id: int | None = None
    vendor_id: int | None = None
    checklist_code: str = Field("", max_length=60)
    kind: InspectionKind = InspectionKind.PATROL


class AssignmentUpdateIn(AssignmentIn):
    version: int
    is_active: bool | None = Field(None, description="停用或重新启用；不传则不变")


class OccurrenceOut(Schema):
    id: int
    org_id: int
    activity: str
    clause_id: int
    clause_number: str
    location_id: int | None
    location_name: str | None
    asset_id: int | None
    asset_name: str | None
    period_start: datetime
    period_end: datetime
    due_at: datetime
    team_id: int | None
    team_name: str | None
    inspector_id: int | None
    inspector_name: str | None
    vendor_id: int | None
    status: str
    status_label: str
    done_at: datetime | None

    @staticmethod
    def resolve_clause_number(obj: PlanOccurrence) -> str:
        return obj.clause.number

    @staticmethod
    def resolve_location_name(obj: PlanOccurrence) -> str | None:
        return obj.location.name if obj.location_id else None

    @staticmethod
    def resolve_asset_name(obj: PlanOccurrence) -> str | None:
        return obj.asset.name if obj.asset_id else None

    @staticmethod
    def resolve_team_name(obj: PlanOccurrence) -> str | None:
        return obj.team.name if obj.team_id else None

    @staticmethod
    def resolve_inspector_name(obj: PlanOccurrence) -> str | None:
        return _name(obj.inspector) if obj.inspector_id else None

    @staticmethod
    def resolve_status_label(obj: PlanOccurrence) -> str:
        return str(obj.get_status_display())


# --- schemas: inspections --------------------------------------------------------------


class InspectionOut(Schema):
    id: int
    number: str
    org_id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    checklist_code: str
    checklist_title: str
    location_id: int
    location_name: str
    vendor_id: int | None
    vendor_name: str | None
    occurrence_id: int | None
    inspector_id: int
    inspector_name: str
    started_at: datetime
    submitted_at: datetime | None
    score: float | None
    grade: str
    grade_label: str
    passed: bool | None
    failed_by_severity: dict[str, Any]
    version: int

    @staticmethod
    def resolve_kind_label(obj: Inspection) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Inspection) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_location_name(obj: Inspection) -> str:
        return obj.location.name

    @staticmethod
    def resolve_vendor_name(obj: Inspection) -> str | None:
        return obj.vendor.name if obj.vendor_id else None

    @staticmethod
    def resolve_inspector_name(obj: Inspection) -> str:
        return _name(obj.inspector) or ""


class PhotoOut(Schema):
    id: int
    item_key: str = ""
    width: int
    height: int
    url: str
    thumbnail_url: str
    created_at: datetime


class InspectionDetailOut(InspectionOut):
    checklist: dict[str, Any]
    answers: dict[str, Any]
    notes: dict[str, Any]
    summary: str
    outcomes: dict[str, Any] = Field(description="草稿的实时判定：各检查项 pass/fail/na")
    photos: list[PhotoOut]
    finding_ids: list[int]

    @staticmethod
    def resolve_outcomes(obj: Any) -> dict[str, Any]:
        return obj.outcomes_map

    @staticmethod
    def resolve_photos(obj: Any) -> list[dict[str, Any]]:
        return obj.photos_list

    @staticmethod
    def resolve_finding_ids(obj: Any) -> list[int]:
        return obj.finding_ids_list


class StartIn(Schema):
    kind: InspectionKind
    checklist_code: str = Field(..., min_length=1, max_length=60)
    location_id: int
    vendor_id: int | None = None
    occurrence_id: int | None = None
    client_key: str = Field(
        ..., min_length=8, max_length=64, description="表单打开时生成；重复提交返回同一检查"
    )


class DraftIn(Schema):
    version: int | None = None
    answers: dict[str, Any] | None = None
    notes: dict[str, str] | None = None
    summary: str | None = Field(None, max_length=2000)


class ReasonIn(Schema):
    version: int
    reason: str = Field(..., min_length=1, max_length=500)


class PhotoIn(Schema):
    item_key: str = Field("", max_length=40)


# --- schemas: findings and rectification -----------------------------------------------


class FindingOut(Schema):
    id: int
    number: str
    org_id: int
    source: str
    source_label: str
    status: str
    status_label: str
    clause_id: int
    clause_number: str
    clause_text: str
    standard_code: str
    severity: str
    location_id: int | None
    location_name: str | None
    vendor_id: int | None
    vendor_name: str | None
    inspection_id: int | None
    item_key: str
    occurrence_id: int | None
    workorder_id: int | None
    description: str
    raised_by_id: int | None
    raised_by_name: str | None
    raised_at: datetime
    closed_at: datetime | None
    rectification_id: int | None
    rectification_status: str | None
    deadline: datetime | None
    overdue: bool
    version: int

    @staticmethod
    def resolve_source_label(obj: Finding) -> str:
        return str(obj.get_source_display())

    @staticmethod
    def resolve_status_label(obj: Finding) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_clause_number(obj: Finding) -> str:
        return obj.clause.number

    @staticmethod
    def resolve_clause_text(obj: Finding) -> str:
        return obj.clause.text

    @staticmethod
    def resolve_standard_code(obj: Finding) -> str:
        return obj.clause.version.standard.code

    @staticmethod
    def resolve_location_name(obj: Finding) -> str | None:
        return obj.location.name if obj.location_id else None

    @staticmethod
    def resolve_vendor_name(obj: Finding) -> str | None:
        return obj.vendor.name if obj.vendor_id else None

    @staticmethod
    def resolve_raised_by_name(obj: Finding) -> str | None:
        return _name(obj.raised_by) if obj.raised_by_id else None

    @staticmethod
    def resolve_rectification_id(obj: Finding) -> int | None:
        rect = queries.rect_of(obj)
        return rect.pk if rect else None

    @staticmethod
    def resolve_rectification_status(obj: Finding) -> str | None:
        rect = queries.rect_of(obj)
        return rect.status if rect else None

    @staticmethod
    def resolve_deadline(obj: Finding) -> datetime | None:
        rect = queries.rect_of(obj)
        return rect.deadline if rect else None

    @staticmethod
    def resolve_overdue(obj: Finding) -> bool:
        rect = queries.rect_of(obj)
        return bool(rect and queries.is_late(rect, timezone.now()))


class RoundOut(Schema):
    number: int
    evidence: str
    submitted_by_id: int
    submitted_by_name: str | None
    submitted_at: datetime
    verdict: str
    reason: str
    verified_by_id: int | None
    verified_by_name: str | None
    verified_at: datetime | None
    photos: list[PhotoOut]

    @staticmethod
    def resolve_submitted_by_name(obj: Any) -> str | None:
        return _name(obj.submitted_by)

    @staticmethod
    def resolve_verified_by_name(obj: Any) -> str | None:
        return _name(obj.verified_by) if obj.verified_by_id else None

    @staticmethod
    def resolve_photos(obj: Any) -> list[dict[str, Any]]:
        base = f"/api/v1/rectifications/{obj.rectification_id}/photos"
        return [_photo_row(base, p) for p in obj.photos.all()]


class RectificationOut(Schema):
    id: int
    finding_id: int
    finding_number: str
    clause_id: int
    clause_number: str
    severity: str
    org_id: int
    assignee_org_id: int
    assignee_org_name: str
    assignee_id: int | None
    assignee_name: str | None
    verifier_id: int | None
    verifier_name: str | None
    status: str
    status_label: str
    ordered_at: datetime
    deadline: datetime
    round_count: int
    escalation_level: int
    overdue: bool
    closed_at: datetime | None
    closed_on_time: bool | None
    version: int

    @staticmethod
    def resolve_finding_number(obj: Rectification) -> str:
        return obj.finding.number

    @staticmethod
    def resolve_clause_id(obj: Rectification) -> int:
        return obj.finding.clause_id

    @staticmethod
    def resolve_clause_number(obj: Rectification) -> str:
        return obj.finding.clause.number

    @staticmethod
    def resolve_severity(obj: Rectification) -> str:
        return obj.finding.severity

    @staticmethod
    def resolve_assignee_org_name(obj: Rectification) -> str:
        return obj.assignee_org.name

    @staticmethod
    def resolve_assignee_name(obj: Rectification) -> str | None:
        return _name(obj.assignee) if obj.assignee_id else None

    @staticmethod
    def resolve_verifier_name(obj: Rectification) -> str | None:
        return _name(obj.verifier) if obj.verifier_id else None

    @staticmethod
    def resolve_status_label(obj: Rectification) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_overdue(obj: Rectification) -> bool:
        return queries.is_late(obj, timezone.now())


class RectificationDetailOut(RectificationOut):
    rounds: list[RoundOut]

    @staticmethod
    def resolve_rounds(obj: Any) -> list[Any]:
        return obj.rounds_list


class EventOut(Schema):
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_actor_name(obj: Any) -> str | None:
        return _name(obj.actor) if obj.actor_id else None


class FindingDetailOut(FindingOut):
    events: list[EventOut]
    photos: list[PhotoOut] = Field(description="登记问题时的现场照片")
    rectification: RectificationDetailOut | None

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return obj.history["events"]

    @staticmethod
    def resolve_photos(obj: Any) -> list[dict[str, Any]]:
        base = f"/api/v1/findings/{obj.pk}/photos"
        return [_photo_row(base, p) for p in obj.photos.order_by("id")]

    @staticmethod
    def resolve_rectification(obj: Any) -> Any:
        return obj.history["rectification"]


class RaiseIn(Schema):
    org_id: int
    clause_id: int
    description: str = Field(..., min_length=1, max_length=1000)
    severity: str | None = Field(None, max_length=10, description="默认取条款的重要程度")
    location_id: int | None = None
    vendor_id: int | None = None
    source: FindingSource = FindingSource.OTHER
    workorder_id: int | None = None


class EvidenceIn(Schema):
    version: int
    evidence: str = Field(..., min_length=1, max_length=2000)


class VerifyIn(Schema):
    version: int
    verdict: Verdict
    reason: str = Field("", max_length=500)
    deadline: datetime | None = Field(None, description="退回时可重新设定整改期限")


class AssignIn(Schema):
    version: int
    assignee_id: int


# --- schemas: trace, clauses, dashboard ------------------------------------------------


class ClauseOut(Schema):
    id: int
    number: str
    text: str
    severity: str
    standard_code: str
    version_number: int


class ClauseChoiceOut(ClauseOut):
    binding: bool
    suggested: bool = Field(description="检查表或计划引用的条款（优先列出）")


class TraceRowOut(Schema):
    finding: FindingOut
    rectification: RectificationOut | None
    rounds: list[RoundOut]


class TraceOut(Schema):
    clause: ClauseOut
    clause_ids: list[int] = Field(description="本条款及该标准其他版本中同号条款")
    findings: list[TraceRowOut]


class DashboardOut(Schema):
    period: dict[str, str]
    coverage: list[dict[str, Any]]
    coverage_total: dict[str, Any]
    pass_by_clause: list[dict[str, Any]]
    pass_by_location: list[dict[str, Any]]
    pass_by_vendor: list[dict[str, Any]]
    pass_by_org: list[dict[str, Any]]
    pass_total: dict[str, Any]
    rectification_by_org: list[dict[str, Any]]
    rectification_total: dict[str, Any]
    supervision_by_org: list[dict[str, Any]]
    supervision_total: dict[str, Any]
    trend: list[dict[str, Any]]


# --- helpers ---------------------------------------------------------------------------


def _photo_row(base: str, photo: Any) -> dict[str, Any]:
    return {
        "id": photo.pk,
        "item_key": getattr(photo, "item_key", ""),
        "width": photo.width,
        "height": photo.height,
        "url": f"{base}/{photo.pk}",
        "thumbnail_url": f"{base}/{photo.pk}?thumb=1",
        "created_at": photo.created_at,
    }


def _inspection_detail(user: Any, pk: int) -> Inspection:
    insp = queries.inspection(user, pk)
    insp.outcomes_map = services.item_outcomes(insp)
    base = f"/api/v1/inspections/{insp.pk}/photos"
    insp.photos_list = [_photo_row(base, p) for p in insp.photos.order_by("id")]
    insp.finding_ids_list = list(insp.findings.order_by("id").values_list("id", flat=True))
    return insp


def _rect_detail(user: Any, pk: int) -> Rectification:
    rect = queries.rectification(user, pk)
    rect.rounds_list = queries.rounds(rect)
    return rect


def _finding_detail(user: Any, pk: int) -> Finding:
    history = queries.finding_history(user, pk)
    found = history["finding"]
    rect = history["rectification"]
    if rect is not None:
        rect.finding = found
        rect.rounds_list = history["rounds"]
    found.history = history
    return found


# --- assets and assignments ------------------------------------------------------------


@router.get("/inspections/assets", response=list[AssetOut])
@paginate(Page)
def list_assets(
    request: HttpRequest,
    org_id: int | None = None,
    location_id: int | None = None,
    asset_type: str | None = None,
):
    return queries.assets(
        request.auth, org_id=org_id, location_id=location_id, asset_type=asset_type
    )


@router.post("/inspections/assets", response={201: AssetOut, **ERRORS})
def create_asset(request: HttpRequest, payload: AssetIn):
    asset = services.save_asset(actor=request.auth, **payload.dict())
    return Status(201, asset)


@router.put("/inspections/assets/{asset_id}", response={200: AssetOut, **ERRORS})
def update_asset(request: HttpRequest, asset_id: int, payload: AssetUpdateIn):
    if not queries.assets(request.auth).filter(pk=asset_id).exists():
        raise NotFound()
    return services.save_asset(actor=request.auth, asset_id=asset_id, **payload.dict())


@router.get("/inspections/assignments", response=list[AssignmentOut])
@paginate(Page)
def list_assignments(request: HttpRequest, org_id: int | None = None, activity: str | None = None):
    return queries.assignments(request.auth, org_id=org_id, activity=activity)


@router.post("/inspections/assignments", response={201: AssignmentOut, **ERRORS})
def create_assignment(request: HttpRequest, payload: AssignmentIn):
    data = payload.dict() | {"kind": payload.kind.value}
    return Status(201, services.save_assignment(actor=request.auth, **data))


@router.put("/inspections/assignments/{assignment_id}", response={200: AssignmentOut, **ERRORS})
def update_assignment(request: HttpRequest, assignment_id: int, payload: AssignmentUpdateIn):
    if not queries.assignments(request.auth).filter(pk=assignment_id).exists():
        raise NotFound()
    data = payload.dict() | {"kind": payload.kind.value}
    return services.save_assignment(actor=request.auth, assignment_id=assignment_id, **data)


# --- occurrences -----------------------------------------------------------------------


@router.get("/inspections/occurrences", response=list[OccurrenceOut])
@paginate(Page)
def list_occurrences(
    request: HttpRequest,
    view: Literal["upcoming", "today", "overdue", "missed"] | None = None,
    status: str | None = None,
    org_id: int | None = None,
    activity: str | None = None,
    inspector_id: int | None = None,
    team_id: int | None = None,
    location_id: int | None = None,
):
    """``view``: upcoming / today / overdue / missed (the nearest due first)."""
    return queries.occurrence_list(
        request.auth,
        view=view,
        status=status,
        org_id=org_id,
        activity=activity,
        inspector_id=inspector_id,
        team_id=team_id,
        location_id=location_id,
    )


# --- inspections -----------------------------------------------------------------------


@router.get("/inspections", response=list[InspectionOut])
@paginate(Page)
def list_inspections(
    request: HttpRequest,
    kind: str | None = None,
    status: str | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    inspector_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
):
    return queries.inspection_list(
        request.auth,
        kind=kind,
        status=status,
        org_id=org_id,
        location_id=location_id,
        vendor_id=vendor_id,
        inspector_id=inspector_id,
        since=since,
        until=until,
    )


@router.post("/inspections", response={201: InspectionDetailOut, **ERRORS})
def start(request: HttpRequest, payload: StartIn):
    """Start (or, with the same ``client_key``, resume) an inspection."""
    insp = services.start_inspection(
        actor=request.auth,
        kind=payload.kind.value,
        checklist_code=payload.checklist_code,
        location_id=payload.location_id,
        vendor_id=payload.vendor_id,
        occurrence_id=payload.occurrence_id,
        client_key=payload.client_key,
    )
    return Status(201, _inspection_detail(request.auth, insp.pk))


@router.get("/inspections/{int:inspection_id}", response={200: InspectionDetailOut, 404: ErrorOut})
def get_inspection(request: HttpRequest, inspection_id: int):
    return _inspection_detail(request.auth, inspection_id)


@router.patch("/inspections/{int:inspection_id}", response={200: InspectionDetailOut, **ERRORS})
def save_draft(request: HttpRequest, inspection_id: int, payload: DraftIn):
    """Save the draft as the inspector goes (answers and notes merge into what is kept)."""
    queries.inspection(request.auth, inspection_id)
    services.save_draft(actor=request.auth, inspection_id=inspection_id, **payload.dict())
    return _inspection_detail(request.auth, inspection_id)


@router.post(
    "/inspections/{int:inspection_id}/photos", response={201: InspectionDetailOut, **ERRORS}
)
def add_photo(
    request: HttpRequest,
    inspection_id: int,
    payload: Form[PhotoIn],
    photo: File[UploadedFile],
):
    """A photo of the inspection or of one item (multipart/form-data)."""
    queries.inspection(request.auth, inspection_id)
    services.add_photo(
        actor=request.auth, inspection_id=inspection_id, item_key=payload.item_key, upload=photo
    )
    return Status(201, _inspection_detail(request.auth, inspection_id))


@router.post(
    "/inspections/{int:inspection_id}/submit", response={200: InspectionDetailOut, **ERRORS}
)
def submit(request: HttpRequest, inspection_id: int, payload: DraftIn):
    """Grade and submit; a second submit returns the same inspection."""
    queries.inspection(request.auth, inspection_id)
    services.submit_inspection(actor=request.auth, inspection_id=inspection_id, **payload.dict())
    return _inspection_detail(request.auth, inspection_id)


@router.post(
    "/inspections/{int:inspection_id}/cancel", response={200: InspectionDetailOut, **ERRORS}
)
def cancel_inspection(request: HttpRequest, inspection_id: int, payload: ReasonIn):
    queries.inspection(request.auth, inspection_id)
    services.cancel_inspection(actor=request.auth, inspection_id=inspection_id, **payload.dict())
    return _inspection_detail(request.auth, inspection_id)


@router.get(
    "/inspections/{int:inspection_id}/photos/{photo_id}",
    response={200: None, 404: ErrorOut},
    url_name="inspection_photo",
)
def get_inspection_photo(
    request: HttpRequest, inspection_id: int, photo_id: int, thumb: bool = False
):
    """The photo file (``?thumb=1`` for the thumbnail), if the inspection is visible."""
    insp = queries.inspection(request.auth, inspection_id)
    photo = InspectionPhoto.objects.filter(pk=photo_id, inspection=insp).first()
    if photo is None:
        raise NotFound()
    return _serve(photo.thumbnail if thumb else photo.image)


# --- findings --------------------------------------------------------------------------


@router.get("/findings", response=list[FindingOut])
@paginate(Page)
def list_findings(
    request: HttpRequest,
    status: str | None = None,
    clause_id: int | None = None,
    severity: str | None = None,
    source: str | None = None,
    vendor_id: int | None = None,
    org_id: int | None = None,
    location_id: int | None = None,
    overdue: bool | None = None,
    since: date | None = None,
    until: date | None = None,
):
    return queries.finding_list(
        request.auth,
        status=status,
        clause_id=clause_id,
        severity=severity,
        source=source,
        vendor_id=vendor_id,
        org_id=org_id,
        location_id=location_id,
        overdue=overdue,
        since=since,
        until=until,
    )


@router.post("/findings", response={201: FindingDetailOut, **ERRORS})
def raise_finding(
    request: HttpRequest,
    payload: Form[RaiseIn],
    photos: File[list[UploadedFile]] = None,  # type: ignore[assignment]
):
    """Raise a finding ad hoc (multipart/form-data; ``photos`` may repeat)."""
    found = services.raise_finding(
        actor=request.auth, **(payload.dict() | {"source": payload.source.value}),
        photos=list(photos or []),
    )  # fmt: skip
    return Status(201, _finding_detail(request.auth, found.pk))


@router.get("/findings/{finding_id}", response={200: FindingDetailOut, 404: ErrorOut})
def get_finding(request: HttpRequest, finding_id: int):
    """The finding with its whole history: events, rectification order, every round."""
    return _finding_detail(request.auth, finding_id)


@router.get(
    "/findings/{finding_id}/photos/{photo_id}",
    response={200: None, 404: ErrorOut},
    url_name="finding_photo",
)
def get_finding_photo(request: HttpRequest, finding_id: int, photo_id: int, thumb: bool = False):
    """A photo of an ad hoc finding (``?thumb=1`` for the thumbnail), if it is visible."""
    found = queries.finding(request.auth, finding_id)
    photo = FindingPhoto.objects.filter(pk=photo_id, finding=found).first()
    if photo is None:
        raise NotFound()
    return _serve(photo.thumbnail if thumb else photo.image)


@router.post("/findings/{finding_id}/cancel", response={200: FindingDetailOut, **ERRORS})
def cancel_finding(request: HttpRequest, finding_id: int, payload: ReasonIn):
    queries.finding(request.auth, finding_id)
    services.cancel_finding(actor=request.auth, finding_id=finding_id, **payload.dict())
    return _finding_detail(request.auth, finding_id)


# --- rectification ---------------------------------------------------------------------


@router.get("/rectifications", response=list[RectificationOut])
@paginate(Page)
def list_rectifications(
    request: HttpRequest,
    status: str | None = None,
    overdue: bool | None = None,
    assignee_org_id: int | None = None,
    assignee_id: int | None = None,
    org_id: int | None = None,
):
    return queries.rectification_list(
        request.auth,
        status=status,
        overdue=overdue,
        assignee_org_id=assignee_org_id,
        assignee_id=assignee_id,
        org_id=org_id,
    )


@router.get(
    "/rectifications/{rectification_id}",
    response={200: RectificationDetailOut, 404: ErrorOut},
)
def get_rectification(request: HttpRequest, rectification_id: int):
    return _rect_detail(request.auth, rectification_id)


@router.post(
    "/rectifications/{rectification_id}/evidence",
    response={200: RectificationDetailOut, **ERRORS},
)
def submit_evidence(
    request: HttpRequest,
    rectification_id: int,
    payload: Form[EvidenceIn],
    photos: File[list[UploadedFile]] = None,  # type: ignore[assignment]
):
    """Evidence of the fix (multipart/form-data; ``photos`` may repeat)."""
    queries.rectification(request.auth, rectification_id)
    rectification.submit_evidence(
        actor=request.auth,
        rectification_id=rectification_id,
        version=payload.version,
        evidence=payload.evidence,
        photos=list(photos or []),
    )
    return _rect_detail(request.auth, rectification_id)


@router.post(
    "/rectifications/{rectification_id}/verify",
    response={200: RectificationDetailOut, **ERRORS},
)
def verify(request: HttpRequest, rectification_id: int, payload: VerifyIn):
    """Accept (closes the finding) or reject with a reason (back to the party)."""
    queries.rectification(request.auth, rectification_id)
    rectification.verify(
        actor=request.auth,
        rectification_id=rectification_id,
        **(payload.dict() | {"verdict": payload.verdict.value}),
    )
    return _rect_detail(request.auth, rectification_id)


@router.post(
    "/rectifications/{rectification_id}/assign",
    response={200: RectificationDetailOut, **ERRORS},
)
def assign(request: HttpRequest, rectification_id: int, payload: AssignIn):
    queries.rectification(request.auth, rectification_id)
    rectification.assign(actor=request.auth, rectification_id=rectification_id, **payload.dict())
    return _rect_detail(request.auth, rectification_id)


@router.get(
    "/rectifications/{rectification_id}/photos/{photo_id}",
    response={200: None, 404: ErrorOut},
    url_name="rectification_photo",
)
def get_rectification_photo(
    request: HttpRequest, rectification_id: int, photo_id: int, thumb: bool = False
):
    rect = queries.rectification(request.auth, rectification_id)
    photo = RectificationPhoto.objects.filter(pk=photo_id, round__rectification=rect).first()
    if photo is None:
        raise NotFound()
    return _serve(photo.thumbnail if thumb else photo.image)


# --- clauses, trace, dashboard ---------------------------------------------------------


def _clause_row(clause: Any) -> dict[str, Any]:
    return {
        "id": clause.pk,
        "number": clause.number,
        "text": clause.text,
        "severity": clause.severity,
        "standard_code": clause.version.standard.code,
        "version_number": clause.version.number,
    }


@router.get("/inspections/clauses", response={200: list[ClauseChoiceOut], 404: ErrorOut})
def clause_choices(request: HttpRequest, org_id: int):
    """The clauses to pick for an ad hoc finding at ``org_id`` (suggested ones first)."""
    return queries.clause_choices(request.auth, org_id)


@router.get("/inspections/clauses/{clause_id}/trace", response={200: TraceOut, 404: ErrorOut})
def trace(request: HttpRequest, clause_id: int):
    """Every finding, rectification round and verdict under the clause (and its
    counterparts in the other versions of the standard) that the caller may see."""
    data = queries.trace_clause(request.auth, clause_id)
    return {**data, "clause": _clause_row(data["clause"])}


def _period(since: date | None, until: date | None) -> reports.Period:
    if since is None and until is None:
        return reports.Period.last_days(30)
    until = until or timezone.localdate()
    return reports.Period(since or until.replace(day=1), until)


def _dashboard(user: Any, period: reports.Period, org_id: int | None) -> dict[str, Any]:
    if period.since > period.until or (period.until - period.since).days > MAX_DAYS:
        raise InvalidInput(
            _("统计区间须在 %(days)d 天以内，且起始日期不晚于截止日期。") % {"days": MAX_DAYS},
            code="invalid_period",
        )
    return reports.dashboard(user, since=period.since, until=period.until, org_id=org_id)


@router.get("/inspections/dashboard", response={200: DashboardOut, 422: ErrorOut})
def dashboard(
    request: HttpRequest,
    since: date | None = None,
    until: date | None = None,
    org_id: int | None = None,
):
    """The dashboard of the orgs the caller oversees (default: the last 30 days)."""
    return _dashboard(request.auth, _period(since, until), org_id)


@router.get("/inspections/dashboard/export", response={200: None, 422: ErrorOut})
def export(request: HttpRequest, since: date, until: date, org_id: int | None = None):
    """The dashboard as an Excel workbook (the period is required)."""
    data = _dashboard(request.auth, reports.Period(since, until), org_id)
    response = HttpResponse(reports.export_xlsx(data), content_type=XLSX)
    name = f"inspections-{since.isoformat()}-{until.isoformat()}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
