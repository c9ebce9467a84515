"""Human-readable daily serial numbers (WO-20261125-00001, ZG-…, DB-…).

On PostgreSQL concurrent writers take turns for a prefix with a transaction-level
advisory lock held until commit, so they never race for the same number; SQLite's
IMMEDIATE transactions already serialise writers. Callers still create inside a
savepoint and retry on IntegrityError (a unique column is the last word).
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, models
from django.utils import timezone


def next_number(model: type[models.Model], kind: str, at: datetime, *, width: int = 5) -> str:
    """The day's next ``<kind>-YYYYMMDD-NNNNN`` for ``model.number``."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"number:{kind}"])
    prefix = f"{kind}-{timezone.localtime(at).strftime('%Y%m%d')}-"
    last = (
        model._default_manager.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    n = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{n:0{width}d}"
