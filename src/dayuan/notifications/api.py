"""The notification centre and group robots over HTTP."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page

from . import queries, services
from .models import WebhookKind

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    event_id: int
    type: str = Field(..., alias="event.type")
    type_label: str = Field(..., alias="event.type_label")
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


class IdsIn(Schema):
    ids: list[int] = Field(..., min_length=1, max_length=500)


class UpdatedOut(Schema):
    updated: int


class CountOut(Schema):
    count: int


class EndpointOut(Schema):
    id: int
    org_id: int
    name: str
    url: str
    kind: str
    has_secret: bool
    event_types: list[str]
    is_active: bool
    version: int
    created_at: datetime

    @staticmethod
    def resolve_has_secret(obj: object) -> bool:
        return bool(getattr(obj, "secret", ""))


class EndpointIn(Schema):
    org_id: int
    name: str = Field(..., min_length=1, max_length=100)
    url: str = Field(..., min_length=8, max_length=500)
    kind: WebhookKind = WebhookKind.WECOM
    secret: str = Field("", max_length=200)
    event_types: list[str] = Field(default_factory=list, max_length=50)
    is_active: bool = True


class EndpointPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=8, max_length=500)
    kind: WebhookKind | None = None
    secret: str | None = Field(None, max_length=200)
    event_types: list[str] | None = Field(None, max_length=50)
    is_active: bool | None = None


@router.get("/notifications", response=list[NotificationOut])
@paginate(Page)
def list_notifications(request: HttpRequest, unread: bool = False):
    return queries.inbox(request.auth, unread=unread)


@router.get("/notifications/unread-count", response=CountOut)
def unread_count(request: HttpRequest) -> dict:
    return {"count": queries.unread_count(request.auth)}


@router.post("/notifications/read", response={200: UpdatedOut, 422: ErrorOut})
def mark_read(request: HttpRequest, payload: IdsIn) -> dict:
    return {"updated": services.mark_read(actor=request.auth, notification_ids=payload.ids)}


@router.post("/notifications/read-all", response=UpdatedOut)
def mark_all_read(request: HttpRequest) -> dict:
    return {"updated": services.mark_all_read(actor=request.auth)}


@router.get("/notifications/webhooks", response=list[EndpointOut])
@paginate(Page)
def list_endpoints(request: HttpRequest, org_id: int | None = None):
    qs = queries.endpoints(request.auth)
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return qs.order_by("org__path", "name", "id")


@router.post(
    "/notifications/webhooks",
    response={201: EndpointOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    return Status(201, services.create_endpoint(actor=request.auth, **payload.dict()))


@router.get("/notifications/webhooks/{endpoint_id}", response={200: EndpointOut, 404: ErrorOut})
def get_endpoint(request: HttpRequest, endpoint_id: int):
    return queries.endpoint(request.auth, endpoint_id)


@router.patch(
    "/notifications/webhooks/{endpoint_id}",
    response={200: EndpointOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def update_endpoint(request: HttpRequest, endpoint_id: int, payload: EndpointPatch):
    fields = payload.dict(exclude_unset=True, exclude={"version"})
    return services.update_endpoint(
        actor=request.auth, endpoint_id=endpoint_id, version=payload.version, **fields
    )


@router.delete(
    "/notifications/webhooks/{endpoint_id}", response={204: None, 403: ErrorOut, 404: ErrorOut}
)
def delete_endpoint(request: HttpRequest, endpoint_id: int):
    services.delete_endpoint(actor=request.auth, endpoint_id=endpoint_id)
    return Status(204, None)


class BroadcastIn(Schema):
    org_id: int
    title: str = Field(..., min_length=1, max_length=200)
    body: str = Field("", max_length=5000)
    link: str = Field("", max_length=500)


class EventOut(Schema):
    id: int
    type: str
    org_id: int
    title: str
    created_at: datetime
    recipients: int

    @staticmethod
    def resolve_recipients(obj: object) -> int:
        return obj.notifications.count()  # type: ignore[attr-defined]


@router.post(
    "/notifications/broadcast",
    response={201: EventOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def broadcast(request: HttpRequest, payload: BroadcastIn):
    return Status(201, services.broadcast(actor=request.auth, **payload.dict()))
