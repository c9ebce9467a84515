"""``Idempotency-Key`` for API POSTs.

The first request with a key inserts a claim row (committed at once, unique on
identity + key), runs, and stores its status and body. A replay within 24 hours gets
the stored reply; the same key with a different body is refused with 422; a replay
while the first is still running gets 409. A 5xx releases the key so a retry can run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Conflict, DomainError, InvalidInput
from .models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL = timedelta(hours=24)


def _identity(request: HttpRequest) -> str:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth:
        return hashlib.sha256(auth.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "anon:" + (request.session.session_key or "") if hasattr(request, "session") else "anon"


def _error(exc: DomainError) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status, json_dumps_params={"ensure_ascii": False})


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > 200:
            return _error(
                InvalidInput(
                    _("Idempotency-Key 过长（最多 200 个字符）。"), code="idempotency_key_invalid"
                )
            )
        identity = _identity(request)
        body_hash = hashlib.sha256(request.body).hexdigest()
        method_path = f"POST {request.path}"
        now = timezone.now()
        IdempotencyRecord.objects.filter(
            identity=identity, key=key, created_at__lt=now - TTL
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    identity=identity, key=key, method_path=method_path, request_hash=body_hash
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(identity=identity, key=key).first()
            if existing is None:  # released between our insert and read: ask for a retry
                return _error(
                    Conflict(
                        _("相同 Idempotency-Key 的请求正在处理，请稍后重试。"),
                        code="idempotency_in_progress",
                    )
                )
            if existing.request_hash != body_hash or existing.method_path != method_path:
                return _error(
                    InvalidInput(
                        _("该 Idempotency-Key 已用于另一个不同的请求。"),
                        code="idempotency_key_reused",
                    )
                )
            if existing.status_code is None:
                return _error(
                    Conflict(
                        _("相同 Idempotency-Key 的请求正在处理，请稍后重试。"),
                        code="idempotency_in_progress",
                    )
                )
            replay = HttpResponse(
                bytes(existing.response_body or b""),
                status=existing.status_code,
                content_type=existing.content_type or "application/json",
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = self.get_response(request)
        if response.status_code >= 500 or getattr(response, "streaming", False):
            record.delete()
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response_body=response.content,
                content_type=response.get("Content-Type", ""),
            )
        return response
