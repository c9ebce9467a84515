"""Writing audit entries: called by every service, in the service's own transaction.

``record`` appends a success entry inside the caller's transaction, so the entry
commits or rolls back with the change. ``audited`` wraps a service function: a
DomainError raised inside rolls the change back and then appends a ``refused`` entry
in a transaction of its own, so refusals are kept too.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from dayuan.core.context import current_origin
from dayuan.core.errors import DomainError

from .models import AuditCheckpoint, AuditEntry, Outcome

GENESIS = "0" * 64
_ADVISORY_LOCK_KEY = 0x44415955  # "DAYU": serialises appends to the chain on PostgreSQL

P = ParamSpec("P")
R = TypeVar("R")


def hmac_sm3(data: bytes, key: bytes | None = None) -> str:
    mac = crypto_hmac.HMAC(key or settings.AUDIT_HMAC_KEY.encode(), hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


def canonical(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every field but the hash, in a fixed form."""
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "id": entry.id,
        "at": at,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "org_id": entry.org_id,
        "source": entry.source,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "changes": entry.changes,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hmac_sm3(canonical(entry))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields that changed."""
    return {
        k: [before.get(k), after.get(k)]
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A model's concrete field values (FKs as ids), for before/after comparisons."""
    names = fields or [f.attname for f in obj._meta.concrete_fields]
    return _jsonable({name: getattr(obj, name) for name in names})


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    # SQLite: the surrounding IMMEDIATE transaction already holds the write lock.


def _last_hash() -> str:
    last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    if last:
        return last
    checkpoint = AuditCheckpoint.objects.order_by("-id").values_list("prev_hash", flat=True).first()
    return checkpoint or GENESIS


def record(
    action: str,
    *,
    actor: Any,
    obj: models.Model | None = None,
    org: Any = None,
    changes: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    object_type: str | None = None,
    object_id: Any = None,
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction."""
    origin = current_origin()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
        if org is None and getattr(obj, "scope_org_field", None) is not None:
            field = obj.scope_org_field
            org = obj if field == "" else getattr(obj, field, None)
    with transaction.atomic():
        _lock_chain()
        entry = AuditEntry(
            at=datetime.now(UTC),
            actor_id=getattr(actor, "pk", None),
            actor_name=(getattr(actor, "username", "") or "")[:150],
            action=action,
            object_type=object_type or "",
            object_id="" if object_id is None else str(object_id),
            object_repr=str(obj)[:200] if obj is not None else "",
            org_id=getattr(org, "pk", None),
            source=origin.source,
            ip=origin.ip,
            request_id=origin.request_id,
            changes=_jsonable(changes or {}),
            outcome=outcome,
            reason=str(reason)[:300],
            prev_hash=_last_hash(),
            hash="pending",
        )
        entry.save(force_insert=True)
        entry.hash = entry_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(hash=entry.hash)
    return entry


def audited(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a service in one transaction; on a DomainError, keep a ``refused`` entry.

    The service itself calls ``record`` for its success entry (it knows the object and
    the before/after); this decorator only owns the transaction and refusals.
    """

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except DomainError as exc:
                # The change is rolled back; the refusal is kept (unless an outer
                # transaction of the caller rolls back as well).
                record(
                    action,
                    actor=kwargs.get("actor"),
                    outcome=Outcome.REFUSED,
                    reason=f"{exc.code}: {exc.message}",
                    changes={"details": exc.details} if exc.details else None,
                )
                raise

        return wrapper

    return decorator


def verify_chain() -> tuple[bool, int | None, int]:
    """Walk the chain in order. Returns (intact, first bad entry id, entries checked)."""
    checkpoint = AuditCheckpoint.objects.order_by("-id").first()
    prev = checkpoint.prev_hash if checkpoint else GENESIS
    expected_id = checkpoint.first_kept_id if checkpoint else None
    count = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if expected_id is not None and entry.id != expected_id and count == 1:
            return False, entry.id, count
        if entry.prev_hash != prev or not hmac.compare_digest(entry.hash, entry_hash(entry)):
            return False, entry.id, count
        prev = entry.hash
    return True, None, count
