"""Shared pieces of the core inspection tests: a started, answered inspection."""

from __future__ import annotations

import uuid

from .. import services
from .factories import ALL_PASS, at


def start(s, user: str = "a_inspector", *, location=None, kind: str = "patrol", **kw):
    return services.start_inspection(
        actor=s.user(user),
        kind=kind,
        checklist_code=kw.pop("checklist_code", "patrol.daily"),
        location_id=(location or s.building_a).pk,
        client_key=kw.pop("client_key", uuid.uuid4().hex),
        now=kw.pop("now", at(2025, 6, 2, 9, 0)),
        **kw,
    )


def submit(s, inspection, user: str = "a_inspector", answers=None, **kw):
    return services.submit_inspection(
        actor=s.user(user),
        inspection_id=inspection.pk,
        answers=ALL_PASS if answers is None else answers,
        now=kw.pop("now", at(2025, 6, 2, 10, 0)),
        **kw,
    )
