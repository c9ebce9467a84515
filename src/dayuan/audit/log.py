"""Writing audit entries: called by every service, in the service's own transaction.

``record`` appends a success entry inside the caller's transaction, so the entry
commits or rolls back with the change. ``audited`` wraps a service function: a
DomainError raised inside rolls the change back and then appends a ``refused`` entry
in a transaction of its own, so refusals are kept too.

Tamper evidence: each entry's HMAC-SM3 covers its fields and the previous entry's
hash, so altering or removing a row breaks the chain at the next one. The single-row
``AuditHead`` names the last entry (with its own MAC), so removing the tail is caught
as well; ``AuditCheckpoint`` rows (MAC'd too) say where the chain starts after
retention pruning. ``verify_chain`` checks all three.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils.ipv6 import clean_ipv6_address

from dayuan.core.context import current_origin
from dayuan.core.errors import DomainError

from .models import AuditCheckpoint, AuditEntry, AuditHead, Outcome

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
        "changes": _numbers(entry.changes),
        "outcome": entry.outcome,
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hmac_sm3(canonical(entry))


def head_mac(last_id: int, last_hash: str, count: int, reanchored_at: int | None) -> str:
    return hmac_sm3(f"head|{last_id}|{last_hash}|{count}|{reanchored_at or ''}".encode())


def checkpoint_mac(first_kept_id: int, prev_hash: str, pruned_count: int) -> str:
    return hmac_sm3(f"checkpoint|{first_kept_id}|{prev_hash}|{pruned_count}".encode())


def _numbers(value: Any) -> Any:
    """JSON numbers in one form whichever way they came back from the database.

    PostgreSQL's jsonb keeps numbers as decimals: ``1e16`` returns as the integer
    10000000000000000 and ``-0.0`` as 0. Integral floats therefore become integers
    (by their shortest decimal form), and NaN/infinity, which JSON lacks, strings.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return int(Decimal(repr(value)))
        return value
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    return _numbers(json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)))


def _clean_ip(value: str | None) -> str | None:
    """The address in the form the database keeps it (the hash covers that form);
    None for something that is not an address, rather than failing the write."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(str(value).split("%", 1)[0].strip())
    except ValueError:
        return None
    # Django's (and PostgreSQL's) IPv6 text form, e.g. "::ffff:10.0.0.1".
    return clean_ipv6_address(str(address)) if address.version == 6 else str(address)


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


def lock_chain() -> None:
    """Serialise appends to the chain until the current transaction ends.

    PostgreSQL: a transaction-scoped advisory lock (re-entrant within a session).
    SQLite: the surrounding ``BEGIN IMMEDIATE`` transaction already holds the write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def _state_without_head() -> tuple[str, int, bool]:
    """(prev hash, live count, anchor lost) when the head row is missing (rare path).

    Missing with an empty log is normal (a fresh or flushed database). Missing while
    entries or checkpoints exist means someone deleted it: the chain goes on, but the
    new head records where the anchor was lost so ``verify`` keeps reporting it.
    """
    last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    checkpoint = AuditCheckpoint.objects.order_by("-id").values_list("prev_hash", flat=True).first()
    if last is None and checkpoint is None:
        return GENESIS, 0, False
    return last or checkpoint or GENESIS, AuditEntry.objects.count(), True


def write_head(entry_id: int, entry_hash_: str, count: int, reanchored_at: int | None) -> None:
    """Point the anchor at ``entry_id`` (caller holds the chain lock)."""
    mac = head_mac(entry_id, entry_hash_, count, reanchored_at)
    updated = AuditHead.objects.filter(pk=AuditHead.SINGLETON).update(
        last_id=entry_id, last_hash=entry_hash_, count=count, reanchored_at=reanchored_at, mac=mac
    )
    if not updated:
        AuditHead.objects.create(
            pk=AuditHead.SINGLETON,
            last_id=entry_id,
            last_hash=entry_hash_,
            count=count,
            reanchored_at=reanchored_at,
            mac=mac,
        )


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
    org_id: int | None = None,
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction.

    Five statements on PostgreSQL (lock, read head, insert, set hash, move head), four
    on SQLite; no savepoint, since a failure here must fail the caller's write anyway.
    """
    origin = current_origin()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
        if org is None and org_id is None and getattr(obj, "scope_org_field", None) is not None:
            field = obj.scope_org_field
            org = obj if field == "" else getattr(obj, field, None)
    if org is not None:
        org_id = org.pk
    with transaction.atomic(savepoint=False):
        lock_chain()
        head = (
            AuditHead.objects.filter(pk=AuditHead.SINGLETON)
            .values_list("last_hash", "count", "reanchored_at")
            .first()
        )
        if head is not None:
            prev_hash, count, reanchored_at = head
            lost = False
        else:
            prev_hash, count, lost = _state_without_head()
            reanchored_at = None
        entry = AuditEntry(
            at=datetime.now(UTC),
            actor_id=getattr(actor, "pk", None),
            actor_name=(getattr(actor, "username", "") or "")[:150],
            action=action,
            object_type=(object_type or "")[:80],
            object_id="" if object_id is None else str(object_id)[:64],
            object_repr=str(obj)[:200] if obj is not None else "",
            org_id=org_id,
            source=origin.source,
            ip=_clean_ip(origin.ip),
            request_id=origin.request_id,
            changes=_jsonable(changes or {}),
            outcome=outcome,
            reason=str(reason)[:300],
            prev_hash=prev_hash,
            hash="pending",
        )
        entry.save(force_insert=True)
        entry.hash = entry_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(hash=entry.hash)
        write_head(entry.pk, entry.hash, count + 1, entry.pk if lost else reanchored_at)
    return entry


def _attempted(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ids a refused call aimed at (``org_id``, ``location_id`` …); never free text,
    which could hold a password or personal data."""
    return {
        k: v
        for k, v in kwargs.items()
        if k.endswith("_id") and (v is None or isinstance(v, int | str)) and len(str(v)) <= 64
    }


def audited(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a service in one transaction; on a DomainError, keep a ``refused`` entry.

    The service itself calls ``record`` for its success entry (it knows the object and
    the before/after); this decorator only owns the transaction and refusals. A refusal
    is filed under the actor's home organisation, so the managers of whoever tried can
    see it; the ids the call aimed at are kept in ``changes["target"]``.
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
                actor = kwargs.get("actor")
                changes: dict[str, Any] = {}
                if exc.details:
                    changes["details"] = exc.details
                target = _attempted(kwargs)
                if target:
                    changes["target"] = target
                record(
                    action,
                    actor=actor,
                    outcome=Outcome.REFUSED,
                    reason=f"{exc.code}: {exc.message}",
                    changes=changes,
                    org_id=getattr(actor, "home_org_id", None),
                )
                raise

        return wrapper

    return decorator


@dataclass(frozen=True)
class ChainStatus:
    """The result of ``verify_chain``: ``bad_id`` names the first entry that fails."""

    intact: bool
    bad_id: int | None
    checked: int
    reason: str = ""


def _walk(checkpoint: AuditCheckpoint | None, head: AuditHead | None) -> ChainStatus:
    if checkpoint is not None and not hmac.compare_digest(
        checkpoint.mac,
        checkpoint_mac(checkpoint.first_kept_id, checkpoint.prev_hash, checkpoint.pruned_count),
    ):
        return ChainStatus(False, checkpoint.first_kept_id, 0, "checkpoint_forged")
    if head is not None:
        if not hmac.compare_digest(
            head.mac, head_mac(head.last_id, head.last_hash, head.count, head.reanchored_at)
        ):
            return ChainStatus(False, head.last_id, 0, "anchor_altered")
        if head.reanchored_at is not None:
            return ChainStatus(False, head.reanchored_at, 0, "anchor_lost")
    prev = checkpoint.prev_hash if checkpoint else GENESIS
    count = 0
    upto_head = 0  # entries at or before the anchor; later ones were appended meanwhile
    last: AuditEntry | None = None
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if count == 1 and checkpoint is not None and entry.id != checkpoint.first_kept_id:
            return ChainStatus(False, entry.id, count, "chain_start")
        if entry.prev_hash != prev:
            return ChainStatus(False, entry.id, count, "link_broken")
        if not hmac.compare_digest(entry.hash, entry_hash(entry)):
            return ChainStatus(False, entry.id, count, "entry_altered")
        if head is None:
            # Entries but no anchor: the anchor row was deleted.
            return ChainStatus(False, entry.id, count, "anchor_missing")
        if entry.id <= head.last_id:
            upto_head += 1
            last = entry
        prev = entry.hash
    if head is None:
        if checkpoint is not None:
            return ChainStatus(False, checkpoint.first_kept_id, count, "anchor_missing")
        return ChainStatus(True, None, count)
    if last is None or last.id != head.last_id or last.hash != head.last_hash:
        # The entry the anchor names is gone: the tail of the chain was deleted.
        return ChainStatus(False, head.last_id, count, "tail_missing")
    if upto_head != head.count:
        return ChainStatus(False, head.last_id, count, "count_mismatch")
    return ChainStatus(True, None, count)


def verify_chain() -> ChainStatus:
    """Walk the chain in id order, then check it ends where the anchor says.

    Reads without locks, so appends carry on; entries appended after the anchor was
    read are still checked link by link. A pass that fails while a prune committed
    in between is run again, so a concurrent prune is not reported as tampering.
    """
    for _attempt in range(3):
        checkpoint = AuditCheckpoint.objects.order_by("-id").first()
        head = AuditHead.objects.filter(pk=AuditHead.SINGLETON).first()
        status = _walk(checkpoint, head)
        if status.intact:
            return status
        latest = AuditCheckpoint.objects.order_by("-id").values_list("id", flat=True).first()
        if latest == (checkpoint.id if checkpoint else None):
            return status
    return status
