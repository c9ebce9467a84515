"""Work orders: submit (multipart, with photos), list, detail, every transition, photos.

Transitions take the ``version`` the client read; a stale one gets 409
``stale_version``, a move the state machine forbids 409 ``illegal_transition``.
Photos are served through a view that checks the order is visible (never public
MEDIA URLs). ``Idempotency-Key`` on POSTs is handled by the middleware.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.files import private_file

from . import queries, services
from .choices import Channel, Urgency
from .choices import Status as OrderStatus
from .models import WorkOrder, WorkOrderPhoto

router = Router(tags=["workorders"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- schemas ------------------------------------------------------------------------------


class WorkOrderOut(Schema):
    id: int
    number: str
    org_id: int
    category_id: int
    category_name: str
    location_id: int
    location_name: str
    description: str
    urgency: str
    channel: str
    requester_id: int
    requester_name: str
    contact_phone: str
    status: str
    status_label: str
    team_id: int | None
    team_name: str | None
    vendor_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    submitted_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    arrived_at: datetime | None
    resolved_at: datetime | None
    confirmed_at: datetime | None
    closed_at: datetime | None
    paused_at: datetime | None
    pause_reason: str
    close_reason: str
    reopen_count: int
    resolution: str
    materials: list[Any]
    cost: Decimal
    rating: int | None
    rating_tags: list[str]
    rating_comment: str
    overdue: bool
    version: int

    @staticmethod
    def resolve_category_name(obj: WorkOrder) -> str:
        return obj.category.name

    @staticmethod
    def resolve_location_name(obj: WorkOrder) -> str:
        return obj.location.name

    @staticmethod
    def resolve_requester_name(obj: WorkOrder) -> str:
        return obj.requester.display_name or obj.requester.username

    @staticmethod
    def resolve_status_label(obj: WorkOrder) -> str:
        return str(OrderStatus(obj.status).label)

    @staticmethod
    def resolve_team_name(obj: WorkOrder) -> str | None:
        return obj.team.name if obj.team_id else None

    @staticmethod
    def resolve_assignee_name(obj: WorkOrder) -> str | None:
        if not obj.assignee_id:
            return None
        return obj.assignee.display_name or obj.assignee.username


class TimerOut(Schema):
    name: str
    label: str
    minutes: int
    calendar: str
    anchor: str
    started_at: datetime
    due_at: datetime
    paused_minutes: int
    met_at: datetime | None
    breached: bool
    escalation_level: int
    rule_id: int
    clause_id: int


class EventOut(Schema):
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    from_status: str
    to_status: str
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_actor_name(obj: Any) -> str | None:
        if obj.actor_id is None:
            return None
        return obj.actor.display_name or obj.actor.username


class PhotoOut(Schema):
    id: int
    kind: str
    width: int
    height: int
    url: str
    thumbnail_url: str
    created_at: datetime


class WorkOrderDetailOut(WorkOrderOut):
    timers: list[TimerOut]
    events: list[EventOut]
    photos: list[PhotoOut]
    actions: list[str] = Field(description="可由当前用户执行的操作")


class SubmitIn(Schema):
    category_id: int
    location_id: int
    description: str = Field(..., min_length=1, max_length=1000)
    urgency: Urgency = Urgency.NORMAL
    channel: Channel = Channel.WEB
    org_id: int | None = None
    requester_id: int | None = Field(None, description="服务台代报：报修人")
    contact_phone: str = Field("", max_length=20)


class VersionIn(Schema):
    version: int


class OptionalVersionIn(Schema):
    version: int | None = None


class AssignIn(Schema):
    version: int
    team_id: int | None = None
    assignee_id: int | None = None


class TransferIn(AssignIn):
    reason: str = Field(..., min_length=1, max_length=500)


class ReasonIn(Schema):
    version: int
    reason: str = Field(..., min_length=1, max_length=500)


class PauseIn(Schema):
    version: int
    reason: str = Field(..., min_length=1, max_length=40, description="暂停原因（规则允许的代码）")


class ResolveIn(Schema):
    version: int
    resolution: str = Field(..., min_length=1, max_length=2000)
    materials: str = Field(
        "", description='耗材，JSON 数组：[{"name": "水龙头", "qty": 1, "unit": "个", "price": 35}]'
    )
    cost: Decimal = Field(Decimal("0"), ge=0, max_digits=10, decimal_places=2)


class RateIn(Schema):
    version: int
    rating: int = Field(..., ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=10)
    comment: str = Field("", max_length=500)


# --- helpers ------------------------------------------------------------------------------


def _photo_url(order_id: int, photo_id: int, thumb: bool) -> str:
    base = f"/api/v1/workorders/{order_id}/photos/{photo_id}"
    return f"{base}?thumb=1" if thumb else base


def detail(user: Any, order: WorkOrder) -> WorkOrder:
    """The order with its clocks, timeline, photo URLs and what ``user`` may do next."""
    order.timers_list = list(order.timers.order_by("started_at", "id"))
    order.events_list = list(queries.timeline(order))
    order.photos_list = [
        {
            "id": p.pk,
            "kind": p.kind,
            "width": p.width,
            "height": p.height,
            "url": _photo_url(order.pk, p.pk, False),
            "thumbnail_url": _photo_url(order.pk, p.pk, True),
            "created_at": p.created_at,
        }
        for p in order.photos.order_by("id")
    ]
    order.actions_list = services.actions_for(user, order)
    return order


class _Detail(WorkOrderDetailOut):
    @staticmethod
    def resolve_timers(obj: Any) -> list[Any]:
        return obj.timers_list

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return obj.events_list

    @staticmethod
    def resolve_photos(obj: Any) -> list[Any]:
        return obj.photos_list

    @staticmethod
    def resolve_actions(obj: Any) -> list[str]:
        return obj.actions_list


def _uploads(photos: list[UploadedFile] | None) -> list[UploadedFile]:
    return list(photos or [])


def _fresh(request: HttpRequest, order: WorkOrder) -> WorkOrder:
    return detail(request.auth, queries.order(request.auth, order.pk))


# --- endpoints ----------------------------------------------------------------------------


@router.post("/workorders", response={201: _Detail, **ERRORS})
def submit(
    request: HttpRequest,
    payload: Form[SubmitIn],
    photos: File[list[UploadedFile]] = None,  # type: ignore[assignment]
):
    """Submit a request (multipart/form-data; ``photos`` may repeat)."""
    order = services.submit_request(
        actor=request.auth,
        org_id=payload.org_id,
        category_id=payload.category_id,
        location_id=payload.location_id,
        description=payload.description,
        urgency=payload.urgency.value,
        channel=payload.channel.value,
        requester_id=payload.requester_id,
        contact_phone=payload.contact_phone,
        photos=_uploads(photos),
    )
    return Status(201, _fresh(request, order))


@router.get("/workorders", response=list[WorkOrderOut])
@paginate(Page)
def list_orders(
    request: HttpRequest,
    status: str | None = None,
    category_id: int | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    org_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    mine: bool = False,
    assigned: bool = False,
):
    return queries.orders(
        request.auth,
        status=status,
        category_id=category_id,
        location_id=location_id,
        vendor_id=vendor_id,
        org_id=org_id,
        overdue=overdue,
        q=q,
        mine=mine,
        assigned=assigned,
    )


@router.get("/workorders/queue", response=list[WorkOrderOut])
@paginate(Page)
def my_queue(request: HttpRequest):
    """The caller's open work, the most urgent clock first."""
    return queries.queue(request.auth)


@router.get("/workorders/{order_id}", response={200: _Detail, 404: ErrorOut})
def get_order(request: HttpRequest, order_id: int):
    return detail(request.auth, queries.order(request.auth, order_id))


def _run(request: HttpRequest, order_id: int, fn: Any, **kwargs: Any) -> WorkOrder:
    queries.order(request.auth, order_id)  # 404 before anything else
    order = fn(actor=request.auth, order_id=order_id, **kwargs)
    return _fresh(request, order)


@router.post("/workorders/{order_id}/dispatch", response={200: _Detail, **ERRORS})
def dispatch(request: HttpRequest, order_id: int, payload: AssignIn):
    return _run(request, order_id, services.dispatch, **payload.dict())


@router.post("/workorders/{order_id}/auto-dispatch", response={200: _Detail, **ERRORS})
def auto_dispatch(request: HttpRequest, order_id: int, payload: OptionalVersionIn):
    return _run(request, order_id, services.auto_dispatch, version=payload.version)


@router.post("/workorders/{order_id}/accept", response={200: _Detail, **ERRORS})
def accept(request: HttpRequest, order_id: int, payload: VersionIn):
    return _run(request, order_id, services.accept, version=payload.version)


@router.post("/workorders/{order_id}/arrive", response={200: _Detail, **ERRORS})
def arrive(request: HttpRequest, order_id: int, payload: VersionIn):
    return _run(request, order_id, services.arrive, version=payload.version)


@router.post("/workorders/{order_id}/pause", response={200: _Detail, **ERRORS})
def pause(request: HttpRequest, order_id: int, payload: PauseIn):
    return _run(request, order_id, services.pause, **payload.dict())


@router.post("/workorders/{order_id}/resume", response={200: _Detail, **ERRORS})
def resume(request: HttpRequest, order_id: int, payload: VersionIn):
    return _run(request, order_id, services.resume, version=payload.version)


@router.post("/workorders/{order_id}/resolve", response={200: _Detail, **ERRORS})
def resolve(
    request: HttpRequest,
    order_id: int,
    payload: Form[ResolveIn],
    photos: File[list[UploadedFile]] = None,  # type: ignore[assignment]
):
    """Resolve (multipart/form-data: ``materials`` as a JSON array, ``photos`` may repeat)."""
    try:
        materials = json.loads(payload.materials) if payload.materials.strip() else []
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            _("耗材须为 JSON 数组。"), code="invalid_materials", field="materials"
        ) from exc
    if not isinstance(materials, list):
        raise InvalidInput(_("耗材须为 JSON 数组。"), code="invalid_materials", field="materials")
    return _run(
        request,
        order_id,
        services.resolve,
        version=payload.version,
        resolution=payload.resolution,
        materials=materials,
        cost=payload.cost,
        photos=_uploads(photos),
    )


@router.post("/workorders/{order_id}/rate", response={200: _Detail, **ERRORS})
def rate(request: HttpRequest, order_id: int, payload: RateIn):
    return _run(request, order_id, services.confirm_and_rate, **payload.dict())


@router.post("/workorders/{order_id}/cancel", response={200: _Detail, **ERRORS})
def cancel(request: HttpRequest, order_id: int, payload: ReasonIn):
    return _run(request, order_id, services.cancel, **payload.dict())


@router.post("/workorders/{order_id}/reopen", response={200: _Detail, **ERRORS})
def reopen(request: HttpRequest, order_id: int, payload: ReasonIn):
    return _run(request, order_id, services.reopen, **payload.dict())


@router.post("/workorders/{order_id}/transfer", response={200: _Detail, **ERRORS})
def transfer(request: HttpRequest, order_id: int, payload: TransferIn):
    return _run(request, order_id, services.transfer, **payload.dict())


def _photo(request: HttpRequest, order_id: int, photo_id: int, thumb: bool) -> FileResponse:
    order = queries.order(request.auth, order_id)
    photo = WorkOrderPhoto.objects.filter(pk=photo_id, workorder=order).first()
    if photo is None:
        raise NotFound()
    return private_file(photo.thumbnail if thumb else photo.image)


@router.get(
    "/workorders/{order_id}/photos/{photo_id}",
    response={200: None, 404: ErrorOut},
    url_name="workorder_photo",
)
def get_photo(request: HttpRequest, order_id: int, photo_id: int, thumb: bool = False):
    """The photo file (``?thumb=1`` for the 320 px thumbnail), if the order is visible."""
    return _photo(request, order_id, photo_id, thumb)


@router.get(
    "/workorders/{order_id}/photos/{photo_id}/thumbnail",
    response={200: None, 404: ErrorOut},
    url_name="workorder_photo_thumb",
)
def get_photo_thumbnail(request: HttpRequest, order_id: int, photo_id: int):
    return _photo(request, order_id, photo_id, True)
