"""System check: warn administrators when next year's holiday arrangement is missing.

It reads the database, so like Django's own database checks it runs only when asked for
databases: in ``migrate`` and ``dayuan check --database default``, not before every
command (a command must not wait on an unreachable database).
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError


@register(Tags.database)
def check_next_year_calendar(
    app_configs: Any, databases: Any = None, **kwargs: Any
) -> list[Warning]:
    from .queries import missing_years

    if not databases or "default" not in databases:
        return []

    try:
        missing = missing_years()
    except DatabaseError:  # no database yet, or not migrated: nothing to say
        return []
    if not missing:
        return []
    years = "、".join(str(y) for y in missing)
    return [
        Warning(
            f"working calendar: no holiday arrangement entered for {years}",
            hint=(
                "Enter the State Council's holidays and adjusted working days at /calendar/, "
                "or run `dayuan seed_calendar` after upgrading chinese-calendar, "
                "or mark the year complete."
            ),
            id="dayuan.W010",
        )
    ]
