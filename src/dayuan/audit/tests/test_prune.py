"""Retention: pruning keeps at least 184 days, leaves a checkpoint, and is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dayuan.audit import log, services
from dayuan.audit.log import verify_chain
from dayuan.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from dayuan.audit.tasks import prune_audit_log

from .helpers import raw, run_verify, write_entries

pytestmark = pytest.mark.django_db


def _written_at(monkeypatch, when: datetime):
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return when

    monkeypatch.setattr(log, "datetime", Clock)


@pytest.fixture
def aged(world, monkeypatch):
    """3 entries 200 days old, 2 entries 100 days old, 2 from today."""
    now = timezone.now()
    actor, org = world.user("a_manager"), world.county_a
    _written_at(monkeypatch, (now - timedelta(days=200)).astimezone(UTC))
    old = write_entries(3, actor=actor, org=org)
    _written_at(monkeypatch, (now - timedelta(days=100)).astimezone(UTC))
    middle = write_entries(2, actor=actor, org=org)
    monkeypatch.undo()
    young = write_entries(2, actor=actor, org=org)
    return old, middle, young


def test_it_prunes_past_retention_and_the_chain_still_verifies(aged, settings):
    old, middle, young = aged
    settings.AUDIT_RETENTION_DAYS = 184
    assert services.prune() == 3
    assert not AuditEntry.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEntry.objects.filter(pk__in=[e.pk for e in middle + young]).count() == 4
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.first_kept_id == middle[0].pk
    assert checkpoint.prev_hash == old[-1].hash
    assert checkpoint.pruned_count == 3
    pruning = AuditEntry.objects.get(action="audit.prune")
    assert pruning.changes["deleted"] == 3 and pruning.changes["retention_days"] == 184
    assert AuditHead.objects.get().count == 5  # 4 kept + the prune entry
    code, out = run_verify()
    assert code == 0, out
    assert verify_chain().checked == 5
    # Idempotent: nothing more to do, nothing more written.
    assert services.prune() == 0
    assert AuditEntry.objects.count() == 5


def test_it_never_keeps_less_than_184_days(aged, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    assert services.retention_days() == 184
    assert services.prune() == 3  # the 100-day-old entries stay
    settings.AUDIT_RETENTION_DAYS = 90
    assert services.prune() == 0


def test_it_honours_a_longer_retention(aged, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    assert services.prune() == 0
    assert AuditCheckpoint.objects.count() == 0


def test_it_prunes_everything_old_and_keeps_only_its_own_entry(world):
    write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    assert services.prune(now=timezone.now() + timedelta(days=400)) == 4
    remaining = list(AuditEntry.objects.all())
    assert [e.action for e in remaining] == ["audit.prune"]
    assert AuditCheckpoint.objects.get().first_kept_id == remaining[0].pk
    assert run_verify()[0] == 0
    write_entries(2, actor=world.user("a_manager"), org=world.county_a)
    assert run_verify()[0] == 0


def test_prune_twice_leaves_a_verifiable_chain(aged):
    assert services.prune() == 3
    assert services.prune(now=timezone.now() + timedelta(days=100)) == 2  # the 100-day-old
    assert AuditCheckpoint.objects.count() == 2
    assert run_verify()[0] == 0


def test_the_command_and_the_daily_job_prune(aged):
    out = StringIO()
    call_command("audit", "prune", stdout=out)
    assert "3" in out.getvalue()
    entry = AuditEntry.objects.get(action="audit.prune")
    assert entry.source == "cli" and entry.actor_id is None and entry.org_id is None
    assert prune_audit_log.call_local() == 0
    assert run_verify()[0] == 0


def test_the_guard_is_closed_again_after_pruning(aged):
    services.prune()
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no delete guard")
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("DELETE FROM {entries}")
    assert AuditEntry.objects.count() == 5
