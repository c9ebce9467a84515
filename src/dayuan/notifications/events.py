"""The registry of event types: a stable dotted name and a Chinese label for each.

Apps emit events by these constants, never by literal strings, so a typo fails at import
time and webhook filters can offer the list. Another app registers its own types here
(one constant and one ``EVENT_TYPES`` entry each) or calls ``register`` at import time.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# A webhook filter entry: an exact type, or a prefix ending in ".*" ("workorders.*").
FILTER_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")

SYSTEM_ANNOUNCEMENT = "system.announcement"

EVENT_TYPES: dict[str, Any] = {
    SYSTEM_ANNOUNCEMENT: _("系统公告"),
}


def register(event_type: str, label: Any) -> str:
    """Add a type (idempotent for the same name); returns the name for use as a constant."""
    if not _NAME.match(event_type):
        raise ValueError(f"event type {event_type!r} must be dotted lower-case, e.g. app.thing")
    EVENT_TYPES.setdefault(event_type, label)
    return event_type


def label(event_type: str) -> str:
    return str(EVENT_TYPES.get(event_type, event_type))


def is_registered(event_type: str) -> bool:
    return event_type in EVENT_TYPES


def matches(filters: list[str] | None, event_type: str) -> bool:
    """An endpoint's filter: empty means every type; ``app.*`` matches a whole app."""
    if not filters:
        return True
    for entry in filters:
        if entry.endswith(".*"):
            if event_type.startswith(entry[:-1]):
                return True
        elif entry == event_type:
            return True
    return False
