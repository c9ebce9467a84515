"""Fixtures of the calendar tests: a seeded table and a clean per-process cache."""

from __future__ import annotations

import pytest

from dayuan.workcalendar import calendar


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    # The stamp check already makes the cache safe; clearing keeps each test independent
    # of what an earlier one loaded.
    calendar.clear_cache()
    yield
    calendar.clear_cache()


@pytest.fixture
def seeded(db):
    """The table as the data migration leaves it (a flushing test elsewhere may empty it)."""
    from dayuan.workcalendar import services
    from dayuan.workcalendar.models import SpecialDay

    if not SpecialDay.objects.exists():
        services.seed_from_library(actor=None)
    return SpecialDay.objects.count()
