"""Request-wide middleware: the request's origin for audit, and the CSP header."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .context import origin


def client_ip(request: HttpRequest) -> str | None:
    """The client address; behind the reverse proxy, its X-Forwarded-For (first hop)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") if settings.PRODUCTION else None
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = "api" if request.path.startswith("/api/") else "web"
        with origin(source, client_ip(request)):
            return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if any(request.path.startswith(p) for p in settings.CSP_EXEMPT_PREFIXES):
            return response
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
