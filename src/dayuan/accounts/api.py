"""Sign-in for API clients, the current user, tokens, users and grants."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.core.policy import roles_of

from . import queries, services
from .choices import Role

router = Router(tags=["accounts"])


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)


class TokenOut(Schema):
    token: str
    expires_at: datetime


class GrantOut(Schema):
    id: int
    org_id: int
    org_name: str = Field(..., alias="org.name")
    role: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    home_org_id: int | None
    language: str
    roles: list[str]
    grants: list[GrantOut]


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    home_org_id: int | None
    is_active: bool


class TokenInfoOut(Schema):
    id: int
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.post("/auth/token", auth=None, response={200: TokenOut, 401: ErrorOut, 422: ErrorOut})
def obtain_token(request: HttpRequest, payload: TokenIn) -> dict:
    user = services.sign_in(request, payload.username, payload.password)
    raw, token = services.issue_token(actor=user)
    return {"token": raw, "expires_at": token.expires_at}


@router.get("/auth/me", response=MeOut)
def me(request: HttpRequest) -> dict:
    user = request.auth
    grants = list(user.grants.select_related("org"))
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "home_org_id": user.home_org_id,
        "language": user.language,
        "roles": sorted(roles_of(user)),
        "grants": grants,
    }


@router.get("/auth/tokens", response=list[TokenInfoOut])
@paginate(Page)
def my_tokens(request: HttpRequest):
    return request.auth.api_tokens.order_by("-id")


@router.delete("/auth/tokens/{token_id}", response={204: None, 404: ErrorOut})
def revoke_token(request: HttpRequest, token_id: int) -> Status:
    services.revoke_token(actor=request.auth, token_id=token_id)
    return Status(204, None)


@router.get("/users", response=list[UserOut])
@paginate(Page)
def list_users(request: HttpRequest, org_id: int | None = None, q: str | None = None):
    return queries.users(request.auth, org_id=org_id, q=q)


class UserIn(Schema):
    username: str = Field(..., min_length=2, max_length=150, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(..., min_length=1, max_length=256)
    display_name: str = Field(..., min_length=1, max_length=50)
    home_org_id: int
    phone: str = Field("", max_length=20)
    email: str = Field("", max_length=254)


class GrantIn(Schema):
    user_id: int
    org_id: int
    role: Role


class GrantFullOut(Schema):
    id: int
    user_id: int
    org_id: int
    role: str
    created_at: datetime


@router.post("/users", response={201: UserOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_user(request: HttpRequest, payload: UserIn) -> Status:
    return Status(201, services.create_user(actor=request.auth, **payload.dict()))


@router.get("/grants", response=list[GrantFullOut])
@paginate(Page)
def list_grants(request: HttpRequest, user_id: int | None = None):
    return queries.grants(request.auth, user_id=user_id)


@router.post("/grants", response={201: GrantFullOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_grant(request: HttpRequest, payload: GrantIn) -> Status:
    return Status(201, services.grant_role(actor=request.auth, **payload.dict()))


@router.delete("/grants/{grant_id}", response={204: None, 403: ErrorOut, 404: ErrorOut})
def delete_grant(request: HttpRequest, grant_id: int) -> Status:
    services.revoke_role(actor=request.auth, grant_id=grant_id)
    return Status(204, None)
