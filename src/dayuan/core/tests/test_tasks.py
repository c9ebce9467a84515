from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.core.models import IdempotencyRecord
from dayuan.core.tasks import purge_idempotency_keys, refresh_sqlite_statistics

pytestmark = pytest.mark.django_db


def test_it_purges_only_expired_idempotency_keys():
    old = IdempotencyRecord.objects.create(
        identity="u", key="old", method_path="POST /x", request_hash="h"
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=26)
    )
    IdempotencyRecord.objects.create(
        identity="u", key="new", method_path="POST /x", request_hash="h"
    )
    purge_idempotency_keys.call_local()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_statistics_refresh_runs_on_any_database():
    refresh_sqlite_statistics.call_local()
