"""Real threads against a real database, for the capacity and overlap races.

SQLite: every thread opens its own connection to the file database and the IMMEDIATE
transactions queue on the write lock, so the busy timeout is raised for the race (many
writers may wait longer than one request would). PostgreSQL: the server accepts about
100 connections, shared by whoever runs tests, so at most ``pg_pool`` threads hold one
at once, as an application's pool would; every attempt still races on the same rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connection

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.core.errors import DomainError


def people(org: Any, n: int, prefix: str) -> list[User]:
    """``n`` staff of ``org`` (bulk-created: a race needs hundreds)."""
    users = [
        User(username=f"{prefix}{i:03d}", display_name=f"{prefix}{i:03d}", home_org=org)
        for i in range(n)
    ]
    for u in users:
        u.set_unusable_password()
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__in=[u.username for u in users]).order_by("pk"))
    Grant.objects.bulk_create([Grant(user=u, org=org, role=Role.STAFF) for u in users])
    return users


def race(
    calls: Sequence[Callable[[], object]],
    *,
    pg_pool: int,
    lock_wait_ms: int,
    start_timeout: float,
    join_timeout: float,
) -> tuple[list[object], list[BaseException]]:
    """Run every call in its own thread, all released at once; what they returned and
    what they raised."""
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))
    pool = threading.BoundedSemaphore(pg_pool) if connection.vendor == "postgresql" else None

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=start_timeout)
            with pool or nullcontext():
                try:
                    if connection.vendor == "sqlite":
                        with connection.cursor() as cur:
                            cur.execute(f"PRAGMA busy_timeout={lock_wait_ms}")
                    results.append(call())
                finally:
                    connection.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=join_timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def assert_only_refused(errors: Sequence[BaseException], code: str) -> None:
    """Every failure was the clean refusal ``code``, never an error."""
    unexpected = [e for e in errors if not (isinstance(e, DomainError) and e.code == code)]
    assert not unexpected, Counter(f"{type(e).__name__}: {e}" for e in unexpected)
