"""Writes the audit app owns: retention pruning and the record of exports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dayuan.core import policy

from .log import audited, checkpoint_mac, lock_chain, record, write_head
from .models import AuditCheckpoint, AuditEntry, AuditHead

MIN_RETENTION_DAYS = 184  # six calendar months, at least


def retention_days() -> int:
    return max(
        int(getattr(settings, "AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS)), MIN_RETENTION_DAYS
    )


def _allow_delete(on: bool) -> None:
    """Open (or close) the PostgreSQL trigger's door for this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT set_config('dayuan.audit_prune', %s, true)", ["on" if on else "off"]
            )


def prune(*, actor: Any = None, now: datetime | None = None) -> int:
    """Delete entries older than the retention period; return how many.

    System-only (the CLI and the daily job; ``actor`` is None). Deletes a prefix of
    the chain in id order: everything before the first entry still inside the period,
    so an entry inside the period is never deleted even if clocks disagreed. In the
    same transaction it appends an ``audit.prune`` entry, writes a MAC'd checkpoint
    (the hash before the first kept entry) and lowers the anchor's count, so
    ``verify`` still passes.
    """
    days = retention_days()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        lock_chain()
        first_young = (
            AuditEntry.objects.filter(at__gte=cutoff).order_by("id").values_list("id", flat=True)
        ).first()
        old = AuditEntry.objects.all()
        if first_young is not None:
            old = old.filter(id__lt=first_young)
        boundary = old.order_by("-id").values_list("id", "hash").first()
        if boundary is None:
            return 0
        last_id, last_hash = boundary
        count = old.count()
        entry = record(
            "audit.prune",
            actor=actor,
            object_type="audit.auditentry",
            changes={
                "deleted": count,
                "through_id": last_id,
                "cutoff": cutoff.isoformat(),
                "retention_days": days,
            },
        )
        _allow_delete(True)
        deleted, _by_model = AuditEntry.objects.filter(id__lte=last_id).delete()
        _allow_delete(False)
        AuditCheckpoint.objects.create(
            first_kept_id=first_young or entry.pk,
            prev_hash=last_hash,
            pruned_count=deleted,
            mac=checkpoint_mac(first_young or entry.pk, last_hash, deleted),
        )
        head = AuditHead.objects.get(pk=AuditHead.SINGLETON)
        write_head(head.last_id, head.last_hash, head.count - deleted, head.reanchored_at)
    return deleted


@audited("audit.export")
def note_export(*, actor: Any, filters: dict[str, Any], rows: int) -> None:
    """Keep a record of who exported which part of the audit log."""
    policy.require(actor, "audit.view")
    record(
        "audit.export",
        actor=actor,
        object_type="audit.auditentry",
        changes={
            "filters": {k: v for k, v in filters.items() if v not in (None, "")},
            "rows": rows,
        },
        org_id=getattr(actor, "home_org_id", None),
    )
