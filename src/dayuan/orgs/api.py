"""Organisations and locations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page

from . import queries, services
from .choices import LocationKind, OrgKind

router = Router(tags=["orgs"])


class OrgOut(Schema):
    id: int
    name: str
    short_name: str
    code: str
    kind: str
    parent_id: int | None
    path: str
    depth: int
    is_active: bool
    working_hours: list[Any]
    version: int


class OrgIn(Schema):
    parent_id: int = Field(..., description="上级组织")
    name: str = Field(..., min_length=1, max_length=100)
    short_name: str = Field("", max_length=40)
    code: str = Field(..., min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: OrgKind
    contact_phone: str = Field("", max_length=30)


class OrgPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=100)
    short_name: str | None = Field(None, max_length=40)
    is_active: bool | None = None
    contact_phone: str | None = Field(None, max_length=30)
    working_hours: list[Any] | None = Field(
        None, description='[] office hours, ["24x7"], or [["08:30","12:00"],["13:30","17:30"]]'
    )


class LocationOut(Schema):
    id: int
    org_id: int
    parent_id: int | None
    kind: str
    name: str
    code: str
    area_m2: Decimal | None
    tags: list[str]
    path: str
    depth: int
    is_active: bool
    version: int


class LocationIn(Schema):
    org_id: int
    parent_id: int | None = None
    kind: LocationKind
    name: str = Field(..., min_length=1, max_length=100)
    code: str = Field("", max_length=40)
    area_m2: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    tags: list[str] = Field(default_factory=list, max_length=20)


class LocationPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, max_length=40)
    area_m2: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    tags: list[str] | None = Field(None, max_length=20)
    is_active: bool | None = None


def _set(patch: Schema) -> dict[str, Any]:
    return patch.dict(exclude_unset=True, exclude={"version"})


@router.get("/organizations", response=list[OrgOut])
@paginate(Page)
def list_organizations(request: HttpRequest, kind: str | None = None, within: int | None = None):
    qs = queries.organizations(request.auth)
    if kind:
        qs = qs.filter(kind=kind)
    if within is not None:
        qs = qs.filter(path__startswith=queries.organization(request.auth, within).path)
    return qs.order_by("path")


@router.get("/organizations/{org_id}", response={200: OrgOut, 404: ErrorOut})
def get_organization(request: HttpRequest, org_id: int):
    return queries.organization(request.auth, org_id)


@router.post("/organizations", response={201: OrgOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_organization(request: HttpRequest, payload: OrgIn):
    return Status(201, services.create_organization(actor=request.auth, **payload.dict()))


@router.patch(
    "/organizations/{org_id}",
    response={200: OrgOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def update_organization(request: HttpRequest, org_id: int, payload: OrgPatch):
    queries.organization(request.auth, org_id)
    return services.update_organization(
        actor=request.auth, org_id=org_id, version=payload.version, **_set(payload)
    )


@router.get("/locations", response=list[LocationOut])
@paginate(Page)
def list_locations(
    request: HttpRequest,
    org_id: int | None = None,
    within: int | None = None,
    kind: str | None = None,
    tag: str | None = None,
    q: str | None = None,
):
    return queries.locations(request.auth, org_id=org_id, within=within, kind=kind, tag=tag, q=q)


@router.get("/locations/{location_id}", response={200: LocationOut, 404: ErrorOut})
def get_location(request: HttpRequest, location_id: int):
    return queries.location(request.auth, location_id)


@router.post("/locations", response={201: LocationOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_location(request: HttpRequest, payload: LocationIn):
    return Status(201, services.create_location(actor=request.auth, **payload.dict()))


@router.patch(
    "/locations/{location_id}",
    response={200: LocationOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def update_location(request: HttpRequest, location_id: int, payload: LocationPatch):
    queries.location(request.auth, location_id)
    return services.update_location(
        actor=request.auth, location_id=location_id, version=payload.version, **_set(payload)
    )
