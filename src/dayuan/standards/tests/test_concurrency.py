"""Real threads against a real database: adopting and publishing stay single."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dayuan.core.errors import DomainError
from dayuan.standards import services
from dayuan.standards.models import Adoption, StandardVersion

from .factories_core import build_standard

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _race(n: int, work) -> tuple[list[object], list[Exception]]:
    results: list[object] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_adoptions_of_one_standard_make_one(world):
    std, _ = build_standard(world.user("admin"), world.city)
    manager = world.user("a_manager")
    results, errors = _race(
        6, lambda: services.adopt(actor=manager, org_id=world.county_a.pk, standard_id=std.pk)
    )
    assert len(results) == 1
    assert len(errors) == 5
    assert all(isinstance(e, DomainError) and e.status == 409 for e in errors), errors
    assert Adoption.objects.filter(org=world.county_a, standard=std).count() == 1


def test_concurrent_publishes_of_one_draft_make_one_version(world):
    admin = world.user("admin")
    std, _ = build_standard(admin, world.city, publish=False)
    draft = std.versions.get()
    results, errors = _race(4, lambda: services.publish(actor=admin, version_id=draft.pk))
    assert len(results) == 1, errors
    assert all(isinstance(e, DomainError) for e in errors), errors
    assert StandardVersion.objects.filter(standard=std, status="published").count() == 1
