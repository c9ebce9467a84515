"""The audit log, read-only: managers and administrators, within their subtree."""

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field, field_validator

from dayuan.core import policy
from dayuan.core.api import ErrorOut, Page

from . import queries
from .models import Outcome

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    org_id: int | None
    org_name: str = ""
    source: str
    ip: str | None
    request_id: str
    changes: dict[str, Any]
    outcome: str
    reason: str
    prev_hash: str
    hash: str

    @staticmethod
    def resolve_org_name(obj: Any) -> str:
        return obj.org.name if obj.org_id and obj.org else ""


class AuditFilters(Schema):
    action: str | None = Field(None, max_length=80, description="操作（前缀匹配）")
    actor: str | None = Field(None, max_length=150, description="用户 ID 或用户名")
    object_type: str | None = Field(None, max_length=80)
    object_id: str | None = Field(None, max_length=64)
    outcome: Outcome | None = None
    since: datetime | date | None = Field(None, description="起始时间（含）")
    until: datetime | date | None = Field(None, description="截止时间（含；日期含当天）")
    q: str | None = Field(None, max_length=100, description="关键字")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _plain_date(cls, value: Any) -> Any:
        """``2026-01-31`` is a whole day; anything longer is an instant."""
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
        return value


@router.get("/audit/entries", response={200: list[AuditEntryOut], 403: ErrorOut})
@paginate(Page)
def list_entries(request: HttpRequest, filters: Query[AuditFilters]):
    policy.require(request.auth, "audit.view")
    return queries.entries(request.auth, **filters.dict())
