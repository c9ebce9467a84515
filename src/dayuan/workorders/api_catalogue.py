"""The service catalogue API: categories, teams, members and responsibilities."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.errors import NotFound

from . import catalogue
from .choices import Tier

router = Router(tags=["workorders"])

CODE_PATTERN = r"^[a-z][a-z0-9_.:-]*$"
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- schemas -----------------------------------------------------------------------------


class CategoryOut(Schema):
    id: int
    org_id: int
    parent_id: int | None
    code: str
    name: str
    tier: str
    sla_category: str
    skill: str
    icon: str
    position: int
    is_active: bool
    version: int


class CategoryNodeOut(CategoryOut):
    org_name: str
    inherited: bool = Field(..., description="由上级单位定义")
    children: list[CategoryNodeOut] = Field(default_factory=list)


class TierOut(Schema):
    tier: str
    label: str
    categories: list[CategoryNodeOut]


class CatalogueOut(Schema):
    org_id: int
    tiers: list[TierOut]


class CategoryIn(Schema):
    org_id: int
    code: str = Field(..., min_length=1, max_length=60, pattern=CODE_PATTERN)
    name: str = Field(..., min_length=1, max_length=60)
    sla_category: str = Field(..., min_length=1, max_length=60, pattern=CODE_PATTERN)
    parent_id: int | None = None
    tier: Tier = Tier.BASIC
    skill: str = Field("", max_length=40)
    icon: str = Field("", max_length=30)
    position: int = Field(0, ge=0, le=100000)


class CategoryPatch(Schema):
    version: int
    code: str | None = Field(None, min_length=1, max_length=60, pattern=CODE_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=60)
    sla_category: str | None = Field(None, min_length=1, max_length=60, pattern=CODE_PATTERN)
    parent_id: int | None = None
    tier: Tier | None = None
    skill: str | None = Field(None, max_length=40)
    icon: str | None = Field(None, max_length=30)
    position: int | None = Field(None, ge=0, le=100000)
    is_active: bool | None = None


class TeamOut(Schema):
    id: int
    org_id: int
    name: str
    vendor_id: int | None
    is_active: bool
    version: int


class TeamIn(Schema):
    org_id: int
    name: str = Field(..., min_length=1, max_length=60)
    vendor_id: int | None = None


class TeamPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=60)
    vendor_id: int | None = None
    is_active: bool | None = None


class MemberOut(Schema):
    id: int
    team_id: int
    user_id: int
    username: str
    display_name: str
    skills: list[str]
    on_duty: bool

    @staticmethod
    def resolve_username(obj: Any) -> str:
        return obj.user.username

    @staticmethod
    def resolve_display_name(obj: Any) -> str:
        return getattr(obj.user, "display_name", "") or obj.user.username


class MemberIn(Schema):
    user_id: int
    skills: list[str] = Field(default_factory=list, max_length=20)
    on_duty: bool = True


class MemberPatch(Schema):
    skills: list[str] | None = Field(None, max_length=20)
    on_duty: bool | None = None


class ResponsibilityOut(Schema):
    id: int
    org_id: int
    category_id: int
    category_name: str
    location_id: int | None
    location_name: str | None
    team_id: int
    team_name: str

    @staticmethod
    def resolve_category_name(obj: Any) -> str:
        return obj.category.name

    @staticmethod
    def resolve_location_name(obj: Any) -> str | None:
        return obj.location.name if obj.location is not None else None

    @staticmethod
    def resolve_team_name(obj: Any) -> str:
        return obj.team.name


class ResponsibilityIn(Schema):
    org_id: int
    category_id: int
    team_id: int
    location_id: int | None = Field(None, description="场所子树的根；为空表示全单位")


def _set(patch: Schema) -> dict[str, Any]:
    return patch.dict(exclude_unset=True, exclude={"version"})


# --- categories --------------------------------------------------------------------------


def _node(node: catalogue.CategoryNode, org_id: int) -> dict[str, Any]:
    c = node.category
    return {
        **CategoryOut.model_validate(c).model_dump(),
        "org_name": c.org.name,
        "inherited": c.org_id != org_id,
        "children": [_node(child, org_id) for child in node.children],
    }


@router.get("/workorders/categories", response={200: CatalogueOut, 404: ErrorOut})
def get_catalogue(request: HttpRequest, org_id: int | None = None, include_inactive: bool = False):
    """The catalogue offered at an organisation (default: the caller's home unit), as a
    tree grouped by tier; categories of ancestor centres are included (nearest wins)."""
    user = request.auth
    org_id = org_id if org_id is not None else getattr(user, "home_org_id", None)
    if org_id is None:
        raise NotFound()
    roots = catalogue.catalogue_tree(user, org_id, include_inactive=include_inactive)
    tiers = []
    for value, label in Tier.choices:
        nodes = [_node(n, org_id) for n in roots if n.category.tier == value]
        tiers.append({"tier": value, "label": str(label), "categories": nodes})
    return {"org_id": org_id, "tiers": tiers}


@router.get("/workorders/categories/{category_id}", response={200: CategoryOut, 404: ErrorOut})
def get_category(request: HttpRequest, category_id: int):
    return catalogue.category(request.auth, category_id)


@router.post("/workorders/categories", response={201: CategoryOut, **ERRORS})
def create_category(request: HttpRequest, payload: CategoryIn):
    data = payload.dict()
    data["tier"] = str(data["tier"])
    return Status(201, catalogue.create_category(actor=request.auth, **data))


@router.patch("/workorders/categories/{category_id}", response={200: CategoryOut, **ERRORS})
def update_category(request: HttpRequest, category_id: int, payload: CategoryPatch):
    fields = _set(payload)
    if "tier" in fields and fields["tier"] is not None:
        fields["tier"] = str(fields["tier"])
    fields = {k: v for k, v in fields.items() if v is not None or k == "parent_id"}
    return catalogue.update_category(
        actor=request.auth, category_id=category_id, version=payload.version, **fields
    )


# --- teams -------------------------------------------------------------------------------


@router.get("/workorders/teams", response=list[TeamOut])
@paginate(Page)
def list_teams(request: HttpRequest, org_id: int | None = None):
    return catalogue.teams(request.auth, org_id=org_id)


@router.get("/workorders/teams/{team_id}", response={200: TeamOut, 404: ErrorOut})
def get_team(request: HttpRequest, team_id: int):
    return catalogue.team(request.auth, team_id)


@router.post("/workorders/teams", response={201: TeamOut, **ERRORS})
def create_team(request: HttpRequest, payload: TeamIn):
    return Status(201, catalogue.create_team(actor=request.auth, **payload.dict()))


@router.patch("/workorders/teams/{team_id}", response={200: TeamOut, **ERRORS})
def update_team(request: HttpRequest, team_id: int, payload: TeamPatch):
    fields = {k: v for k, v in _set(payload).items() if v is not None or k == "vendor_id"}
    return catalogue.update_team(
        actor=request.auth, team_id=team_id, version=payload.version, **fields
    )


@router.delete("/workorders/teams/{team_id}", response={204: None, **ERRORS})
def deactivate_team(request: HttpRequest, team_id: int):
    """Retire a team (its orders keep pointing at it, so it is deactivated, not deleted)."""
    catalogue.deactivate_team(actor=request.auth, team_id=team_id)
    return Status(204, None)


# --- members -----------------------------------------------------------------------------


@router.get("/workorders/teams/{team_id}/members", response={200: list[MemberOut], 404: ErrorOut})
def list_members(request: HttpRequest, team_id: int):
    return list(catalogue.members(request.auth, team_id))


@router.post("/workorders/teams/{team_id}/members", response={201: MemberOut, **ERRORS})
def add_member(request: HttpRequest, team_id: int, payload: MemberIn):
    return Status(201, catalogue.add_member(actor=request.auth, team_id=team_id, **payload.dict()))


@router.patch(
    "/workorders/teams/{team_id}/members/{member_id}", response={200: MemberOut, **ERRORS}
)
def update_member(request: HttpRequest, team_id: int, member_id: int, payload: MemberPatch):
    return catalogue.update_member(
        actor=request.auth, member_id=member_id, team_id=team_id, **payload.dict()
    )


@router.delete("/workorders/teams/{team_id}/members/{member_id}", response={204: None, **ERRORS})
def remove_member(request: HttpRequest, team_id: int, member_id: int):
    catalogue.remove_member(actor=request.auth, member_id=member_id, team_id=team_id)
    return Status(204, None)


# --- responsibilities --------------------------------------------------------------------


@router.get("/workorders/responsibilities", response=list[ResponsibilityOut])
@paginate(Page)
def list_responsibilities(
    request: HttpRequest, org_id: int | None = None, category_id: int | None = None
):
    return catalogue.responsibilities(request.auth, org_id=org_id, category_id=category_id)


@router.post("/workorders/responsibilities", response={201: ResponsibilityOut, **ERRORS})
def set_responsibility(request: HttpRequest, payload: ResponsibilityIn):
    """Set (or move to another team) the responsibility for a category and location."""
    return Status(201, catalogue.set_responsibility(actor=request.auth, **payload.dict()))


@router.delete("/workorders/responsibilities/{responsibility_id}", response={204: None, **ERRORS})
def remove_responsibility(request: HttpRequest, responsibility_id: int):
    catalogue.remove_responsibility(actor=request.auth, responsibility_id=responsibility_id)
    return Status(204, None)
