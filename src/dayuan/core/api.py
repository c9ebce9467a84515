"""The API's shared parts: the NinjaAPI instance, authentication, errors, pagination.

Every 4xx has one shape: ``{"code", "message", "details"}``; the message follows the
request's language (``Accept-Language``), Chinese by default.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import PaginationBase
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import Field

from dayuan import __version__

from .errors import DomainError


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from dayuan.accounts.services import user_for_token

        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionCookie(APIKeyCookie):
    """The browser's session; CSRF is checked for unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details}, status=status
    )


class ChineseJSONRenderer(JSONRenderer):
    """UTF-8 JSON without \\u escapes: Chinese stays readable in logs and curl."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Dayuan 智慧大院 API",
    version=__version__,
    urls_namespace="api",
    auth=[BearerToken(), SessionCookie()],
    docs_url="/docs",
    openapi_url="/openapi.json",
    renderer=ChineseJSONRenderer(),
)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, str(exc.message), exc.details or None)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or None,
            "type": err.get("type"),
            "message": err.get("msg"),
        }
        for err in exc.errors
    ]
    return error_response(request, 422, "validation_error", _("提交的数据格式不正确。"), details)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "not_authenticated", _("请先登录或提供有效的访问令牌。"))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("对象不存在或无权访问。"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {
        400: "bad_request",
        403: "permission_denied",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
    }
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


def _unique_first(model: Any, ordering: list[Any]) -> bool:
    """A unique, non-null first sort key already makes the order total."""
    if not ordering or not isinstance(ordering[0], str):
        return False
    try:
        field = model._meta.get_field(ordering[0].lstrip("-"))
    except FieldDoesNotExist:
        return False
    return bool(getattr(field, "unique", False)) and not getattr(field, "null", True)


class Page(PaginationBase):
    """Page-number pagination with a stable order: the primary key always breaks ties."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=100000)
        page_size: int = Field(20, ge=1, le=200)

    class Output(Schema):
        items: list[Any]
        count: int
        page: int
        page_size: int
        has_next: bool

    items_attribute = "items"

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, **params: Any
    ) -> dict[str, Any]:
        ordering = list(queryset.query.order_by or queryset.model._meta.ordering or [])
        has_pk = any(str(o).lstrip("-") in {"pk", "id"} for o in ordering)
        if not has_pk and not _unique_first(queryset.model, ordering):
            ordering.append("pk")
        queryset = queryset.order_by(*ordering)
        offset = (pagination.page - 1) * pagination.page_size
        rows = list(queryset[offset : offset + pagination.page_size + 1])
        return {
            "items": rows[: pagination.page_size],
            "count": queryset.count(),
            "page": pagination.page,
            "page_size": pagination.page_size,
            "has_next": len(rows) > pagination.page_size,
        }
